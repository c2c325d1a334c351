"""Extract every message of jupyter_modelarts and check the catalogues against them.

Messages come from three places, into one catalogue per language
(jupyter_modelarts/locale/<lang>/LC_MESSAGES/jupyter_modelarts.json, Jed JSON):
- the frontend: ``trans.__('…')``, ``trans._n('…', '…', n)``, ``trans._p('ctx', '…')`` in
  src/**/*.ts (tests left out); placeholders ``%1``, ``%2``;
- the server's errors and checks: the message given to a ModelArtsError subclass anywhere in
  jupyter_modelarts/ but kernel/, the ``title``, ``detail`` and ``fix`` given to a Check or to
  a function of the package taking them (by position or keyword), and strings marked
  ``N_('…')`` (parts built elsewhere); an f-string becomes a template
  whose placeholders are named after plain variables (``{name}``, ``{spec.name}``) and numbered
  otherwise (``{0}``, ``{1}``: their position in the message); the server fills them back by
  matching the raised message (jupyter_modelarts/i18n.py);
- the kernel's messages: literals given to ``_('…')`` or ``N_('…')`` in jupyter_modelarts/kernel/.

Usage: python scripts/i18n.py check          exit 1 listing missing, stale or broken entries
       python scripts/i18n.py extract        print the messages as JSON (msgid → where)
       python scripts/i18n.py update LANG    add missing msgids (empty) and drop stale ones
"""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "jupyter_modelarts"
LOCALE = PACKAGE / "locale"
DOMAIN = "jupyter_modelarts"
#: The error classes whose messages reach the user (models.py and the few defined elsewhere).
ERRORS = {
    "ModelArtsError",
    "InvalidRequest",
    "PayloadTooLarge",
    "PermissionDenied",
    "NotFound",
    "Conflict",
    "UpstreamError",
    "BackendUnavailable",
    "StoreInUse",
}
#: The parameters (and Check fields) whose arguments are a check's user-facing text.
CHECK_FIELDS = ("title", "detail", "fix")
_CALL = re.compile(r"\b(?:[A-Za-z_$][\w$]*\.)*_?trans\.(__|_n|_p)\(")
_PLACEHOLDERS = re.compile(r"%\d+|\{[A-Za-z_][A-Za-z0-9_.]*\}|\{[0-9]+\}")
_NUMBERED = re.compile(r"\{([0-9]+)\}")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "b": "\b", "f": "\f", "v": "\v"}


class ExtractError(Exception):
    pass


# --- frontend ----------------------------------------------------------------------------------


def _skip_space(text: str, i: int) -> int:
    while i < len(text):
        if text[i].isspace():
            i += 1
        elif text.startswith("//", i):
            i = text.index("\n", i)
        elif text.startswith("/*", i):
            i = text.index("*/", i) + 2
        else:
            break
    return i


def _js_string(text: str, i: int) -> tuple[str | None, int]:
    """The JS string literal (or concatenation of literals) at ``i``, and where it ends; None
    when the argument is not a literal."""
    parts = []
    while True:
        i = _skip_space(text, i)
        quote = text[i] if i < len(text) else ""
        if quote not in "'\"`":
            return None, i
        i += 1
        out = []
        while text[i] != quote:
            char = text[i]
            if char == "\\":
                nxt = text[i + 1]
                if nxt == "u":
                    if text[i + 2] == "{":
                        end = text.index("}", i)
                        out.append(chr(int(text[i + 3 : end], 16)))
                        i = end + 1
                    else:
                        out.append(chr(int(text[i + 2 : i + 6], 16)))
                        i += 6
                    continue
                if nxt == "\n":
                    i += 2
                    continue
                out.append(_ESCAPES.get(nxt, nxt))
                i += 2
                continue
            if quote == "`" and text.startswith("${", i):
                return None, i
            out.append(char)
            i += 1
        parts.append("".join(out))
        i = _skip_space(text, i + 1)
        if i < len(text) and text[i] == "+":
            after = _skip_space(text, i + 1)
            if after < len(text) and text[after] in "'\"`":
                i = after
                continue
        return "".join(parts), i


def frontend_messages() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in sorted((ROOT / "src").rglob("*.ts")):
        if "__tests__" in path.parts or path.name.endswith((".spec.ts", ".d.ts")):
            continue
        text = path.read_text(encoding="utf-8")
        for call in _CALL.finditer(text):
            where = f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, call.start()) + 1}"
            first, end = _js_string(text, call.end())
            if first is None:
                raise ExtractError(f"{where}: trans.{call.group(1)} needs a literal message")
            if call.group(1) == "_p":
                end = _skip_space(text, end)
                second, _ = _js_string(text, end + 1)
                if second is None:
                    raise ExtractError(f"{where}: trans._p needs a literal message")
                first = f"{first}\u0004{second}"
            found.setdefault(first, where)
    return found


# --- server and kernel -------------------------------------------------------------------------


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else None
    return None


def _template(node: ast.expr) -> list[str] | None:
    """The message(s) an expression can be: literals, f-strings (as templates), both branches
    of ``a if c else b`` and ``x or 'literal'``; None when it is none of these."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        out, index = [], 0
        for value in node.values:
            if isinstance(value, ast.Constant):
                out.append(value.value.replace("{", "{{").replace("}", "}}"))
            else:
                name = _dotted(value.value)
                out.append("{" + (name or str(index)) + "}")
                index += 1
        return ["".join(out).replace("{{", "{").replace("}}", "}")]
    if isinstance(node, ast.IfExp):
        a, b = _template(node.body), _template(node.orelse)
        return (a or []) + (b or []) if a is not None or b is not None else None
    if isinstance(node, ast.BoolOp):
        found = [t for value in node.values for t in (_template(value) or [])]
        return found or None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _template(node.left), _template(node.right)
        if left is None and right is None:
            return None
        # A part that is not text we know is a placeholder, numbered after the left's.
        left = left if left and len(left) == 1 else ["{0}"]
        count = len(_NUMBERED.findall(left[0]))
        right = right if right and len(right) == 1 else ["{0}"]
        right = [_NUMBERED.sub(lambda m: f"{{{int(m.group(1)) + count}}}", right[0])]
        return [left[0] + right[0]]
    return None


def _callee(node: ast.Call) -> str:
    func = node.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")


def _check_fields(trees: list[ast.Module], errors: list[str]) -> dict[str, dict[str, int]]:
    """``callee → {field: position}`` of what takes a check's user-facing text: the Check
    dataclass (its fields) and every function with a ``title``, ``detail`` or ``fix``
    parameter; one name must take them at the same positions wherever it is defined."""
    found: dict[str, dict[str, int]] = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                params = [a.arg for a in (*node.args.posonlyargs, *node.args.args)]
                params = params[1:] if params[:1] in (["self"], ["cls"]) else params
            elif isinstance(node, ast.ClassDef) and node.name == "Check":
                params = [
                    item.target.id
                    for item in node.body
                    if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)
                ]
            else:
                continue
            fields = {name: i for i, name in enumerate(params) if name in CHECK_FIELDS}
            if not fields:
                continue
            if found.setdefault(node.name, fields) != fields:
                errors.append(f"{node.name}: takes {', '.join(CHECK_FIELDS)} at other places")
    return found


def _arguments(node: ast.Call, name: str, checks: dict[str, dict[str, int]]) -> list[ast.expr]:
    """The arguments of a call that are user-facing messages."""
    if name in ERRORS or name in ("_", "N_"):
        return node.args[:1]
    fields = checks.get(name)
    if not fields:
        return []
    positions = set(fields.values())
    return [a for i, a in enumerate(node.args) if i in positions] + [
        k.value for k in node.keywords if k.arg in fields
    ]


def python_messages(kernel: bool, errors: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    folder = PACKAGE / "kernel"
    paths = folder.rglob("*.py") if kernel else PACKAGE.rglob("*.py")
    paths = [p for p in sorted(paths) if kernel or folder not in p.parents]
    trees = [ast.parse(path.read_text(encoding="utf-8"), str(path)) for path in paths]
    checks = {} if kernel else _check_fields(trees, errors)
    for path, tree in zip(paths, trees):
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = _callee(node)
            if kernel and name not in ("_", "N_"):
                continue
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            for argument in _arguments(node, name, checks):
                messages = _template(argument)
                if messages is None:
                    if isinstance(argument, (ast.Name, ast.Attribute, ast.Subscript, ast.Call)):
                        # A constant, or a function's result: marked N_ where it is written.
                        continue
                    if kernel or name == "N_":
                        errors.append(f"{where}: {name}() needs a literal message")
                    else:
                        errors.append(f"{where}: mark the message of {name}() with N_()")
                    continue
                for message in messages:
                    if _PLACEHOLDERS.sub("", message).strip():
                        found.setdefault(message, where)
    return found


def extract() -> dict[str, str]:
    """Every msgid, with the first place it is used."""
    found = frontend_messages()
    errors: list[str] = []
    for kernel in (False, True):
        for msgid, where in python_messages(kernel, errors).items():
            found.setdefault(msgid, where)
    if errors:
        raise ExtractError("\n".join(errors))
    return found


# --- catalogues --------------------------------------------------------------------------------


def catalogue_path(lang: str) -> Path:
    return LOCALE / lang / "LC_MESSAGES" / f"{DOMAIN}.json"


def load(lang: str) -> dict:
    return json.loads(catalogue_path(lang).read_text(encoding="utf-8"))


def problems(lang: str, messages: dict[str, str] | None = None) -> list[str]:
    """What is wrong with a catalogue: header, missing, stale, empty or placeholder mismatch."""
    messages = extract() if messages is None else messages
    data = load(lang)
    out = []
    header = data.get("", {})
    if header.get("domain") != DOMAIN or header.get("language") != lang.replace("_", "-"):
        out.append(f"header: domain must be {DOMAIN}, language {lang.replace('_', '-')}")
    for msgid, where in messages.items():
        if msgid not in data:
            out.append(f"missing: {msgid!r} ({where})")
            continue
        value = data[msgid]
        if not (isinstance(value, list) and value and all(isinstance(v, str) for v in value)):
            out.append(f"not a list of strings: {msgid!r}")
        elif not value[0]:
            out.append(f"untranslated: {msgid!r} ({where})")
        else:
            source = msgid.split("\u0004")[-1]
            for translation in value:
                if sorted(_PLACEHOLDERS.findall(source)) != sorted(
                    _PLACEHOLDERS.findall(translation)
                ):
                    out.append(f"placeholders differ: {msgid!r} → {translation!r}")
    for msgid in data:
        if msgid and msgid not in messages:
            out.append(f"stale: {msgid!r}")
    return out


def update(lang: str) -> None:
    messages = extract()
    path = catalogue_path(lang)
    data = load(lang) if path.exists() else {}
    header = data.get("") or {
        "domain": DOMAIN,
        "language": lang.replace("_", "-"),
        "plural_forms": "nplurals=1; plural=0;",
        "version": "1",
    }
    out = {"": header}
    for msgid in messages:
        out[msgid] = data.get(msgid) or [""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    try:
        if command == "extract":
            print(json.dumps(extract(), ensure_ascii=False, indent=1))
            return 0
        if command == "update" and len(argv) == 2:
            update(argv[1])
            return 0
        if command == "check":
            messages = extract()
            failed = False
            for folder in sorted(LOCALE.iterdir()):
                for line in problems(folder.name, messages):
                    print(f"{folder.name}: {line}")
                    failed = True
            return 1 if failed else 0
    except ExtractError as error:
        print(error, file=sys.stderr)
        return 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

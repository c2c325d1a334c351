"""The user's language on the server: its errors, and what kernels ask for (``GET /i18n``).

One catalogue (``locale/<lang>/LC_MESSAGES/jupyter_modelarts.json``, Jed JSON as JupyterLab
serves it to the browser) holds the frontend's, the server's and the kernels' messages. An
error's message is an f-string filled in where it is raised; it is translated where it is
serialised by matching it against the catalogue's templates (``{name}`` placeholders, extracted
by scripts/i18n.py), so no raise site needs to change. Text a template's placeholder matched
(names, upstream messages) is kept as it was. The checks report is translated the same way,
check by check, where it is served (``/doctor``, the pushed ``doctor/v1`` event).
"""

from __future__ import annotations

import functools
import json
import os
import re
from typing import Any

DOMAIN = "jupyter_modelarts"
#: The request header the frontend sends with its language (``translator.languageCode``).
HEADER = "X-ModelArts-Language"
#: The store record keeping the last language the frontend sent, for kernels and other callers.
_RECORD = ("setting", "language")
_LOCALE_DIR = os.path.join(os.path.dirname(__file__), "locale")
#: A language, its script and region at most (zh-Hans-CN): what Lab's locales need, and short
#: enough to be kept in the store.
_CODE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8}){0,2}", re.ASCII)
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*|[0-9]+)\}")
#: How deep parts of parts are translated (a check's detail → its OBS summary → a step's result).
_MAX_DEPTH = 3
#: The text of a check (DoctorReport.checks) the user reads; the rest is data.
CHECK_TEXT = ("title", "detail", "fix")


def N_(message: str) -> str:
    """Mark a message that is not written where it is given to an error or a check (a part,
    a constant), so that scripts/i18n.py extracts it; returns it unchanged (it is translated
    where the error or the report is served)."""
    return message


def parse_language(value: str | None) -> str | None:
    """A language code as JupyterLab spells locales (``zh-CN`` → ``zh_CN``; ``en``), or None
    for no value; anything that is not a language code raises ValueError."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if not _CODE.fullmatch(value):
        raise ValueError(value)
    language, _, region = value.replace("-", "_").partition("_")
    return f"{language.lower()}_{region.upper()}" if region else language.lower()


def catalogue_locale(language: str | None) -> str | None:
    """The locale of the catalogue that serves ``language`` (Chinese in any script or region
    we have: zh_CN), or None (English, the messages as written)."""
    if not language:
        return None
    if language in _locales():
        return language
    if language.split("_")[0] == "zh" and "zh_CN" in _locales():
        # zh, zh_Hans, zh_SG read Simplified Chinese; zh_TW/zh_HK would want their own.
        return None if language in ("zh_TW", "zh_HK", "zh_MO", "zh_Hant") else "zh_CN"
    return None


@functools.cache
def _locales() -> frozenset[str]:
    try:
        return frozenset(
            name
            for name in os.listdir(_LOCALE_DIR)
            if os.path.isfile(os.path.join(_LOCALE_DIR, name, "LC_MESSAGES", DOMAIN + ".json"))
        )
    except OSError:
        return frozenset()


@functools.cache
def messages(locale: str) -> dict[str, str]:
    """``msgid → translation`` of a locale's catalogue (read once; plural and context entries
    keep their Jed keys)."""
    path = os.path.join(_LOCALE_DIR, locale, "LC_MESSAGES", DOMAIN + ".json")
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    return {
        key: value[0]
        for key, value in data.items()
        if key and isinstance(value, list) and value and value[0]
    }


@functools.cache
def _templates(locale: str) -> list[tuple[re.Pattern[str], list[str], str]]:
    """(pattern, placeholder names, translation) of each message with placeholders, the ones
    with most fixed text first, so that the most specific template wins."""
    found = []
    for msgid, translation in messages(locale).items():
        parts = _PLACEHOLDER.split(msgid)
        if len(parts) == 1 or not "".join(parts[0::2]).strip():
            continue  # no placeholder (looked up as is), or nothing but placeholders
        pattern, names = [], []
        for index, part in enumerate(parts):
            if index % 2 == 0:
                pattern.append(re.escape(part))
            elif part in names:
                pattern.append(f"(?P=g{names.index(part)})")
            else:
                pattern.append(f"(?P<g{len(names)}>.*?)")
                names.append(part)
        fixed = sum(len(part) for part in parts[0::2])
        found.append((fixed, re.compile("".join(pattern), re.DOTALL), names, translation))
    found.sort(key=lambda item: -item[0])
    return [item[1:] for item in found]


def translate(message: str, language: str | None, _depth: int = 0) -> str:
    """``message`` (English, as raised) in ``language``; as it is where no translation fits.
    What a placeholder matched is translated too when it is a message of ours (a part a
    message was built from), else kept (names, paths, upstream text)."""
    locale = catalogue_locale(language)
    if locale is None or not message:
        return message
    table = messages(locale)
    if message in table:
        return table[message]
    for pattern, names, translation in _templates(locale):
        found = pattern.fullmatch(message)
        if found:
            values = {name: found.group(f"g{i}") for i, name in enumerate(names)}
            if _depth < _MAX_DEPTH:
                values = {k: translate(v, language, _depth + 1) for k, v in values.items()}
            return _fill(translation, values)
    return message


def _fill(text: str, values: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def translate_report(report: dict[str, Any], language: str | None) -> dict[str, Any]:
    """A DoctorReport's JSON with each check's title, detail and fix in ``language`` (its ids,
    IAM actions and the data a message names stay as they are)."""
    if catalogue_locale(language) is None:
        return report
    checks = [
        {**check, **{key: translate(check[key], language) for key in CHECK_TEXT if check.get(key)}}
        for check in report.get("checks") or []
    ]
    return {**report, "checks": checks}


def kernel_messages(language: str | None) -> dict[str, Any]:
    """What ``GET /i18n`` answers: the language and its messages (none for English)."""
    locale = catalogue_locale(language)
    return {"language": language or "en", "messages": messages(locale) if locale else {}}


class LanguageChoice:
    """The last language the frontend sent, kept in the store so that kernels (which send none)
    speak it after a restart too."""

    def __init__(self, store: Any):
        self._store = store
        record = store.get(*_RECORD) if store is not None else None
        self.language: str | None = record.get("language") if record else None

    def seen(self, language: str) -> None:
        if language != self.language:
            self.language = language
            if self._store is not None:
                self._store.put(*_RECORD, {"language": language, "created_at": 0})

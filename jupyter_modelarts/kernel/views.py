"""How a cell shows a job, the lease and an image save: a MIME bundle per display.

Each bundle carries our own MIME type (JupyterLab and Notebook 7 draw it live from the
extension's shared model), ``text/html`` (a snapshot: nbconvert, GitHub, any frontend without
our extension) and ``text/plain``. Standard library only: this runs in any kernel's Python.
"""

from __future__ import annotations

import datetime
import html
import re
import time
from typing import Any

from .i18n import N_, _

FINAL_PHASES = ("Completed", "Failed", "Terminated", "Abnormal")
JOB_MIME = "application/vnd.jupyter-modelarts.job+json"
LEASE_MIME = "application/vnd.jupyter-modelarts.lease+json"
IMAGE_MIME = "application/vnd.jupyter-modelarts.image+json"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
#: The workspace every project has, as jupyter_modelarts.models names it (not imported: this
#: module runs on the kernel's Python, which may be older than the server's).
DEFAULT_WORKSPACE = "0"
#: Log lines a snapshot shows (of worker-0), and the bytes of log read to find them.
TAIL_LINES = 10
TAIL_BYTES = 64 * 1024
IMAGE_ENDED = ("ACTIVE", "CREATE_FAILED")

_PHASE_COLOURS = {
    "Running": ("--jp-brand-color1", "#1976d2"),
    "Completed": ("--jp-success-color1", "#388e3c"),
    "Failed": ("--jp-error-color1", "#d32f2f"),
    "Abnormal": ("--jp-error-color1", "#d32f2f"),
    "Terminating": ("--jp-warn-color1", "#f57c00"),
    "Terminated": ("--jp-warn-color1", "#f57c00"),
}
_GREY = ("--jp-layout-color3", "#757575")
# CSI sequences (colours, cursor moves) and the two-byte escapes: a snapshot shows plain text.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
_UNITS = {
    "d": (N_("{n} d"), 86400),
    "h": (N_("{n} h"), 3600),
    "m": (N_("{n} min"), 60),
    "s": (N_("{n} s"), 1),
}


def widgets_available() -> bool:
    """Whether this kernel can show live views where our extension is absent (anywidget)."""
    try:
        import anywidget  # noqa: F401
    except ImportError:
        return False
    return True


def widget_view(widget: Any) -> dict[str, Any]:
    """The widget-view part of an ipywidgets widget's MIME bundle."""
    data = widget._repr_mimebundle_()
    return (data[0] if isinstance(data, tuple) else data)[WIDGET_MIME]


def clock(epoch_ms: int | None) -> str:
    """A moment as the user reads it: ``14:05`` today, ``2025-06-01 14:05`` on another day."""
    if not epoch_ms:
        return "-"
    moment = datetime.datetime.fromtimestamp(epoch_ms / 1000)
    if moment.date() == datetime.date.today():
        return moment.strftime("%H:%M")
    return moment.strftime("%Y-%m-%d %H:%M")


def when(epoch_ms: int | None) -> str:
    """A moment to the second, for tables."""
    if not epoch_ms:
        return "-"
    return datetime.datetime.fromtimestamp(epoch_ms / 1000).strftime("%Y-%m-%d %H:%M:%S")


def stopwatch(seconds: float) -> str:
    """``h:mm:ss`` from an hour on, ``m:ss`` below."""
    seconds = int(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def in_words(seconds: float) -> str:
    """A span in the largest units that matter: ``3 h 59 min``, ``12 min``, ``40 s``."""
    seconds = int(max(seconds, 0))
    if seconds < 60:
        return _("{n} s", n=seconds)
    hours, minutes = divmod(seconds // 60, 60)
    if not hours:
        return _("{n} min", n=minutes)
    if minutes:
        return _("{hours} h {minutes} min", hours=hours, minutes=minutes)
    return _("{n} h", n=hours)


def in_unit(seconds: float, unit: str) -> str:
    """A span in one unit (``d``, ``h``, ``m`` or ``s``): ``100 h``, ``1.5 h``, ``90 min``."""
    label, size = _UNITS[unit]
    return _(label, n=f"{round(seconds / size, 2):g}")


def elapsed_s(job: dict[str, Any]) -> float:
    started = job.get("started_at")
    return ((job.get("ended_at") or time.time() * 1000) - started) / 1000 if started else 0.0


def last_lines(text: str, start: int, count: int = TAIL_LINES) -> list[str]:
    """The last ``count`` lines of a log's tail read from byte ``start``, as a terminal shows
    them: a line rewritten with carriage returns (a progress bar) is its last state, and
    colour codes are gone."""
    lines = text.split("\n")
    if start > 0:
        lines = lines[1:]  # the tail began inside this line
    if lines and not lines[-1]:
        lines.pop()
    shown = [next((s for s in reversed(line.split("\r")) if s), "") for line in lines[-count:]]
    return [_ANSI.sub("", line) for line in shown]


def _badge(phase: str) -> str:
    variable, fallback = _PHASE_COLOURS.get(phase, _GREY)
    return (
        f'<span style="background:var({variable},{fallback});color:#fff;border-radius:8px;'
        f'padding:1px 8px;font-size:90%">{html.escape(phase)}</span>'
    )


def _box(colour: tuple[str, str], body: str) -> str:
    variable, fallback = colour
    return (
        f'<div style="border-left:4px solid var({variable},{fallback});padding:4px 8px;'
        f'line-height:1.6">{body}</div>'
    )


def job_workspace(job: dict[str, Any]) -> str:
    """The workspace of a job (a whole job or a summary); "0" for a server that has none."""
    spec = job.get("spec") or {}
    return spec.get("workspace_id") or job.get("workspace_id") or DEFAULT_WORKSPACE


def in_workspace(workspace_id: str | None) -> str:
    """`` in workspace X``, or nothing for the default one (most users never leave it)."""
    if not workspace_id or workspace_id == DEFAULT_WORKSPACE:
        return ""
    return _(" in workspace {id}", id=workspace_id)


def job_text(job: dict[str, Any]) -> str:
    """One or two lines: the job, its phase and time; then its message or how to follow it."""
    where = in_workspace(job_workspace(job))
    first = _(
        "Job {name} ({id}){where}: {phase}",
        name=job["name"],
        id=job["id"],
        where=where,
        phase=job["phase"],
    )
    if job.get("started_at"):
        first += f", {stopwatch(elapsed_s(job))}"
    if job["phase"] not in FINAL_PHASES:
        return first + "\n" + _("Follow it with: %ma_train logs {id} --follow", id=job["id"])
    return f"{first}\n{job['message']}" if job.get("message") else first


def job_html(job: dict[str, Any], lines: list[str]) -> str:
    """The job as self-contained HTML (no script): what a saved notebook shows."""
    head = (
        f"<b>{html.escape(job['name'])}</b> <code>{html.escape(job['id'])}</code> "
        f"{_badge(job['phase'])}"
    )
    where = in_workspace(job_workspace(job))
    if where:
        head += f" <span>{html.escape(where.strip())}</span>"
    if job.get("started_at"):
        head += f" <span>{stopwatch(elapsed_s(job))}</span>"
    rows = [head]
    tasks = job.get("tasks") or []
    if len(tasks) > 1:
        rows.append(" · ".join(html.escape(f"{t['name']}: {t['phase']}") for t in tasks))
    if job.get("message"):
        rows.append(html.escape(job["message"]))
    log = ""
    if lines:
        log = (
            '<pre style="margin:4px 0 0;max-height:16em;overflow:auto;font-size:90%">'
            f"{html.escape(chr(10).join(lines), quote=False)}</pre>"
        )
    return _box(_PHASE_COLOURS.get(job["phase"], _GREY), "<br>".join(rows) + log)


def job_bundle(job: dict[str, Any], lines: list[str]) -> dict[str, Any]:
    return {
        JOB_MIME: {"job_id": job["id"]},
        "text/plain": job_text(job),
        "text/html": job_html(job, lines),
    }


def lease_text(lease: dict[str, Any]) -> str:
    if not lease["enabled"]:
        return _("Auto-stop is off on this instance.")
    if lease.get("type") != "IDLE":
        return _(
            "Auto-stop in {span}, at {time} (fixed time); renew with %ma_lease renew 4h",
            span=in_words(lease["remaining_s"] or 0),
            time=clock(lease["stop_at"]),
        )
    period = in_words(lease["duration_s"] or 0)
    if lease.get("busy"):
        return _(
            "Idle auto-stop after {period} idle; busy ({reasons}): will not stop meanwhile",
            period=period,
            reasons=", ".join(lease["busy"]),
        )
    if lease["stop_at"] is None:
        return _(
            "Idle auto-stop after {period} idle; ModelArts measures idleness itself "
            "(CPU, GPU, network), so when it would stop is unknown",
            period=period,
        )
    idle = in_words(max(0, time.time() - lease["idle_since"] / 1000))
    return _(
        "Idle auto-stop after {period} idle: idle {idle}, stops at {time} if nothing happens",
        period=period,
        idle=idle,
        time=clock(lease["stop_at"]),
    )


def lease_bundle(lease: dict[str, Any]) -> dict[str, Any]:
    text = lease_text(lease)
    colour = ("--jp-brand-color1", "#1976d2")
    if lease["enabled"] and lease["remaining_s"] is not None and lease["remaining_s"] < 600:
        colour = ("--jp-warn-color1", "#f57c00")
    return {LEASE_MIME: {}, "text/plain": text, "text/html": _box(colour, html.escape(text))}


def image_text(image: dict[str, Any]) -> str:
    ref = f"{image['namespace']}/{image['name']}:{image['tag']}"
    progress = ""
    if image["status"] not in IMAGE_ENDED and image["bytes_total"]:
        progress = f" {100 * image['bytes_done'] // image['bytes_total']}%"
    where = in_workspace(image.get("workspace_id"))
    text = _(
        "Image {ref}{where}: {status}{progress}",
        ref=ref,
        where=where,
        status=image["status"],
        progress=progress,
    )
    if image["status_message"]:
        text += f" ({image['status_message']})"
    if image["status"] not in IMAGE_ENDED:
        text += "\n" + _("See it again with: %ma_image status {id}", id=image["id"])
    return text


def image_bundle(image: dict[str, Any]) -> dict[str, Any]:
    text = image_text(image)
    colour = {"ACTIVE": _PHASE_COLOURS["Completed"], "CREATE_FAILED": _PHASE_COLOURS["Failed"]}
    body = "<br>".join(html.escape(line) for line in text.split("\n"))
    return {
        IMAGE_MIME: {"image_id": image["id"]},
        "text/plain": text,
        "text/html": _box(colour.get(image["status"], _PHASE_COLOURS["Running"]), body),
    }


_MARKS = {
    "pass": ("✓", _PHASE_COLOURS["Completed"]),
    "fail": ("✗", _PHASE_COLOURS["Failed"]),
    "skipped": ("–", _GREY),
}


def checks_summary(report: dict[str, Any]) -> str:
    """``2 of 14 checks fail: agency, obs:bucket``, or how many pass."""
    checks = report["checks"]
    failing = [c["id"] for c in checks if c["status"] == "fail"]
    skipped = sum(c["status"] == "skipped" for c in checks)
    if failing:
        ids = ", ".join(failing)
        if len(checks) == 1:
            return _("1 of 1 check fails: {ids}", ids=ids)
        if len(failing) == 1:
            return _("1 of {total} checks fails: {ids}", total=len(checks), ids=ids)
        return _(
            "{count} of {total} checks fail: {ids}", count=len(failing), total=len(checks), ids=ids
        )
    if not checks:
        return _("No checks apply")
    passed = len(checks) - skipped
    if not skipped:
        if passed > 1:
            return _("All {count} checks pass", count=passed)
        return _("The one check passes")
    if passed == 1:
        return _("1 check passes, {skipped} skipped", skipped=skipped)
    return _("{count} checks pass, {skipped} skipped", count=passed, skipped=skipped)


def _report_context(report: dict[str, Any]) -> str:
    """Which backend and workspace were checked, and when."""
    text = _(
        "{backend} backend, workspace {id}", backend=report["backend"], id=report["workspace_id"]
    )
    if report.get("checked_at"):
        text += _(", checked at {time}", time=clock(report["checked_at"]))
    if report.get("running"):
        text += _("; a new run is under way, %ma_doctor --refresh waits for it")
    return text


def check_label(check: dict[str, Any]) -> str:
    """A check's id, as the summary names it, where its title does not say it already
    (``IAM action modelarts:trainJob:get`` is ``action:modelarts:trainJob:get``)."""
    named = check["id"].split(":", 1)[-1].lower()
    return "" if named in check["title"].lower() else check["id"]


def doctor_text(report: dict[str, Any]) -> str:
    """The summary, then a line per check in the report's order; a failing one's fix below."""
    lines = [f"{checks_summary(report)} — {_report_context(report)}"]
    for check in report["checks"]:
        mark = _MARKS.get(check["status"], _MARKS["skipped"])[0]
        label = check_label(check)
        line = f"{mark} {check['title']}" + (f" [{label}]" if label else "")
        lines.append(f"{line}: {check['detail']}" if check["detail"] else line)
        if check["status"] == "fail" and check.get("fix"):
            lines.append("    " + _("Fix: {fix}", fix=check["fix"]))
    return "\n".join(lines)


def _lines_html(text: str) -> str:
    return "<br>".join(html.escape(line) for line in text.split("\n"))


def doctor_html(report: dict[str, Any]) -> str:
    """The report as self-contained HTML; colours only from the theme (with light fallbacks),
    so it reads in dark themes too."""
    rows = [
        f"<b>{html.escape(checks_summary(report))}</b> "
        f'<span style="opacity:0.75">— {html.escape(_report_context(report))}</span>'
    ]
    for check in report["checks"]:
        mark, (variable, fallback) = _MARKS.get(check["status"], _MARKS["skipped"])
        body = html.escape(check["title"])
        label = check_label(check)
        if label:
            body += f' <code style="opacity:0.75">{html.escape(label)}</code>'
        if check["detail"]:
            body += f"<br>{_lines_html(check['detail'])}"
        if check["status"] == "fail" and check.get("fix"):
            body += f"<br><b>{html.escape(_('Fix:'))}</b> {_lines_html(check['fix'])}"
        rows.append(
            '<div style="display:flex;gap:8px;margin-top:4px">'
            f'<span style="flex:none;width:1em;font-weight:bold;color:var({variable},{fallback})"'
            f' title="{html.escape(check["status"])}">{mark}</span>'
            f"<div>{body}</div></div>"
        )
    failing = any(c["status"] == "fail" for c in report["checks"])
    colour = _PHASE_COLOURS["Failed"] if failing else _PHASE_COLOURS["Completed"]
    return _box(colour, "".join(rows))


class DoctorReport:
    """What ``%ma_doctor`` answers: shown as the list of checks; ``.report`` is the server's
    JSON report and ``.failing`` its failing checks."""

    def __init__(self, report: dict[str, Any]):
        self.report = report

    @property
    def failing(self) -> list[dict[str, Any]]:
        return [c for c in self.report["checks"] if c["status"] == "fail"]

    def __repr__(self) -> str:
        return f"<ModelArts checks: {checks_summary(self.report)}>"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return {"text/plain": doctor_text(self.report), "text/html": doctor_html(self.report)}

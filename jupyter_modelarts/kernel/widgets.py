"""The job widget, the image progress bar and the auto-stop countdown widget (ipywidgets 8)."""

from __future__ import annotations

import html
import threading
import time
from collections import deque
from typing import Any

import ipywidgets as w
from traitlets import Bool, Int, Unicode

from .._version import __version__
from .client import Client, ModelArtsError
from .views import FINAL_PHASES, duration, elapsed_s

_PHASE_COLOURS = {
    "Running": "var(--jp-brand-color1)",
    "Completed": "var(--jp-success-color1)",
    "Failed": "var(--jp-error-color1)",
    "Abnormal": "var(--jp-error-color1)",
    "Terminating": "var(--jp-warn-color1)",
    "Terminated": "var(--jp-warn-color1)",
}
#: The npm package that registers LeaseCountdownView (src/widgets/).
MODULE_NAME = "jupyter-modelarts"
MODULE_VERSION = f"^{__version__}"
TAIL_LINES = 200
VISIBLE_LINES = 12  # log lines the widget shows per task
TAIL_BYTES = 64 * 1024


def phase_badge(phase: str) -> str:
    colour = _PHASE_COLOURS.get(phase, "var(--jp-layout-color3)")
    return (
        f'<span class="jp-ModelArts-jobPhase" style="background:{colour};color:white;'
        f'border-radius:8px;padding:1px 8px;font-size:90%">{html.escape(phase)}</span>'
    )


def sparkline(points: list[list[float]], label: str, unit: str) -> str:
    """A small bar chart of the latest [time, value] points (plain HTML, no script), and the
    latest value."""
    values = [p[1] for p in points][-60:]
    if not values:
        return ""
    top = max(max(values), 1e-9)
    bars = "".join(
        f'<span style="width:2px;height:{max(1, round(v / top * 30))}px;'
        'background:var(--jp-brand-color1)"></span>'
        for v in values
    )
    return (
        '<span style="display:inline-flex;align-items:center;gap:6px;margin-right:12px">'
        '<span class="jp-ModelArts-jobChart" style="display:inline-flex;align-items:flex-end;'
        f'gap:1px;width:180px;height:32px;background:var(--jp-layout-color2)">{bars}</span>'
        f"{html.escape(label)} {values[-1]:.1f} {html.escape(unit)}</span>"
    )


class _LogTail:
    """The last TAIL_LINES lines of one task's log, read from where the last read ended."""

    def __init__(self) -> None:
        self.offset = 0
        self.lines: deque[str] = deque(maxlen=TAIL_LINES)
        self.partial = ""
        self.complete = False

    def read(self, client: Client, job_id: str, task: str) -> bool:
        """Fetch what is new; True when the text changed."""
        chunk = client.logs(job_id, task, self.offset, TAIL_BYTES)
        if chunk["size"] - chunk["next_offset"] > TAIL_BYTES:
            # Far behind (a long log): skip to its tail rather than page through all of it.
            self.offset, self.partial = chunk["size"] - TAIL_BYTES, ""
            self.lines.append(f"[… earlier output skipped, {self.offset} bytes …]")
            chunk = client.logs(job_id, task, self.offset, TAIL_BYTES)
        self.offset = chunk["next_offset"]
        self.complete = chunk["complete"]
        if not chunk["content"]:
            return False
        *done, self.partial = (self.partial + chunk["content"]).split("\n")
        self.lines.extend(done)
        return True

    @property
    def text(self) -> str:
        return "\n".join([*self.lines, self.partial] if self.partial else self.lines)


class JobWidget(w.VBox):
    """A live view of one job: phase, elapsed time, tasks, log tails, metrics and a stop button.

    The kernel updates it from a background thread, so cells keep running meanwhile.
    """

    def __init__(self, client: Client, job: dict[str, Any], interval: float = 1.0, **kwargs):
        self._client = client
        self._job = job
        self._interval = interval
        self._tails: dict[str, _LogTail] = {}
        self._closed = threading.Event()
        self._header = w.HTML(layout=w.Layout(flex="1 1 auto"))
        self._logs = w.Tab()
        self._chart = w.HTML()
        self._status = w.HTML()
        self._stop = w.Button(description="Stop", icon="stop", button_style="danger")
        self._stop.on_click(lambda _: self._on_stop())
        super().__init__(
            [w.HBox([self._header, self._stop]), self._logs, self._chart, self._status],
            **kwargs,
        )
        self.add_class("jp-ModelArts-jobWidget")
        self._render()
        self._thread = threading.Thread(target=self._follow, daemon=True, name=f"ma-{job['id']}")
        self._thread.start()

    @property
    def job(self) -> dict[str, Any]:
        return self._job

    def close(self) -> None:
        self._closed.set()
        super().close()

    def _on_stop(self) -> None:
        self._stop.disabled = True
        try:
            self._job = self._client.stop(self._job["id"])
        except ModelArtsError as error:
            self._status.value = f'<span style="color:var(--jp-error-color1)">{error}</span>'
        self._render()

    def _follow(self) -> None:
        client = self._client.clone()
        tick = 0
        try:
            while not self._closed.is_set():
                self._job = client.job(self._job["id"])
                final = self._job["phase"] in FINAL_PHASES
                for task in self._job["tasks"]:
                    tail = self._tails.setdefault(task["name"], _LogTail())
                    if not tail.complete:
                        tail.read(client, self._job["id"], task["name"])
                if tick % 2 == 0 or final:
                    self._render_metrics(client.metrics(self._job["id"]))
                self._render()
                if final and all(t.complete for t in self._tails.values()):
                    return
                tick += 1
                self._closed.wait(self._interval)
        except ModelArtsError as error:
            self._status.value = f'<span style="color:var(--jp-error-color1)">{error}</span>'
        finally:
            client.close()

    def _render(self) -> None:
        job = self._job
        elapsed = elapsed_s(job, time.time() * 1000)
        self._header.value = (
            f"<b>{html.escape(job['name'])}</b> <code>{html.escape(job['id'])}</code> "
            f"{phase_badge(job['phase'])} <span>elapsed {duration(elapsed)}</span><br>"
            + " · ".join(f"{html.escape(t['name'])}: {t['phase']}" for t in job["tasks"])
        )
        self._stop.disabled = job["phase"] in (*FINAL_PHASES, "Terminating")
        names = [t["name"] for t in job["tasks"]]
        if list(self._logs.titles) != names:
            self._logs.children = [w.HTML(layout=w.Layout(width="100%")) for _ in names]
            self._logs.titles = names
        for name, area in zip(names, self._logs.children):
            text = self._tails[name].text if name in self._tails else ""
            # The newest lines, always in view: the sanitizer drops the CSS that would pin a
            # scrolled box to its bottom, so the widget shows the tail itself.
            shown = "\n".join(text.split("\n")[-VISIBLE_LINES:])
            value = (
                '<pre class="jp-ModelArts-jobLog" style="margin:0;min-height:10em">'
                f"{html.escape(shown, quote=False)}</pre>"
            )
            if area.value != value:
                area.value = value
        if job["phase"] in ("Failed", "Abnormal") and job.get("message"):
            self._status.value = html.escape(job["message"])

    def _render_metrics(self, metrics: dict[str, Any]) -> None:
        labels = {
            "cpuUsage": "CPU",
            "memUsage": "memory",
            "gpuUtil": "GPU",
            "gpuMemUsage": "GPU memory",
            "npuUtil": "NPU",
            "npuMemUsage": "NPU memory",
        }
        self._chart.value = "".join(
            sparkline(s["points"], f"{s['task']} {labels.get(s['metric'], s['metric'])}", s["unit"])
            for s in metrics["series"]
        )


class ImageProgress(w.HBox):
    """A progress bar of an image being saved, until it is ACTIVE or failed."""

    def __init__(self, client: Client, image: dict[str, Any], interval: float = 1.0, **kwargs):
        self._client = client
        self._image = image
        self._interval = interval
        self._bar = w.FloatProgress(min=0.0, max=1.0, description="Saving")
        self._label = w.HTML()
        super().__init__([self._bar, self._label], **kwargs)
        self._render()
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        client = self._client.clone()
        try:
            while self._image["status"] not in ("ACTIVE", "CREATE_FAILED"):
                time.sleep(self._interval)
                self._image = client.image(self._image["id"])
                self._render()
        except ModelArtsError as error:
            self._label.value = html.escape(str(error))
        finally:
            client.close()

    def _render(self) -> None:
        image = self._image
        total = image["bytes_total"]
        self._bar.value = (
            1.0 if image["status"] == "ACTIVE" else image["bytes_done"] / total if total else 0.0
        )
        self._bar.bar_style = {"ACTIVE": "success", "CREATE_FAILED": "danger"}.get(
            image["status"], ""
        )
        ref = html.escape(f"{image['namespace']}/{image['name']}:{image['tag']}")
        message = html.escape(image["status_message"])
        self._label.value = f"<code>{ref}</code> {image['status']} {message}"


class LeaseCountdown(w.DOMWidget):
    """Time left before the instance stops, ticking in the browser, with a renew control.

    The view (``LeaseCountdownView`` in the jupyter-modelarts labextension) re-renders every
    second and re-reads the lease from the server every few seconds, so a renewal made elsewhere
    shows without any kernel message.

    Parameters
    ----------
    enabled : bool
        Whether auto-stop is on.
    stop_at : int or None
        When the instance stops, epoch milliseconds.
    """

    _model_name = Unicode("LeaseCountdownModel").tag(sync=True)
    _view_name = Unicode("LeaseCountdownView").tag(sync=True)
    _model_module = Unicode(MODULE_NAME).tag(sync=True)
    _view_module = Unicode(MODULE_NAME).tag(sync=True)
    _model_module_version = Unicode(MODULE_VERSION).tag(sync=True)
    _view_module_version = Unicode(MODULE_VERSION).tag(sync=True)

    enabled = Bool(False, help="Whether auto-stop is on.").tag(sync=True)
    stop_at = Int(None, allow_none=True, help="When the instance stops (epoch ms).").tag(sync=True)

    @classmethod
    def from_lease(cls, lease: dict[str, Any]) -> LeaseCountdown:
        return cls(enabled=lease["enabled"], stop_at=lease["stop_at"])

"""Live cell views for frontends that run widgets but lack our extension (VS Code): anywidget
models drawn by ``widget.js``, which ships in this package (nothing to publish on npm).

A job's widgets are set by the job's one follower in this kernel: a task on the kernel's own
event loop (its HTTP calls run in the loop's executor, so no thread touches a widget), running
while a view of the job is shown and the job has not ended.
"""

from __future__ import annotations

import asyncio
import pathlib
from typing import Any

import anywidget
from traitlets import Bool, Dict, Int, List, Unicode

from .client import Client, ModelArtsError
from .i18n import _
from .views import FINAL_PHASES, TAIL_BYTES, job_workspace, last_lines

_ESM = pathlib.Path(__file__).with_name("widget.js")
#: Seconds between two reads of a followed job.
FOLLOW_INTERVAL = 1.0


def _state(job: dict[str, Any]) -> dict[str, Any]:
    """What a view draws of a job."""
    keys = ("id", "name", "phase", "message", "started_at", "ended_at")
    tasks = [{"name": t["name"], "phase": t["phase"]} for t in job.get("tasks") or []]
    return {**{k: job.get(k) for k in keys}, "tasks": tasks, "workspace_id": job_workspace(job)}


class Follower:
    """The one follower of a job in this kernel, shared by all the job's widgets."""

    def __init__(self, client: Client, job_id: str):
        self.client = client
        self.job_id = job_id
        self.widgets: set[JobWidget] = set()
        self.task: asyncio.Task | None = None
        self.final = False
        #: Why it last stopped (for whoever wonders why a view stands still).
        self.stopped = ""

    def shown(self) -> bool:
        return any(widget.views > 0 for widget in self.widgets)

    def start(self) -> None:
        if self.task is None and not self.final and self.shown():
            self.task = asyncio.get_running_loop().create_task(self._run())

    def stop(self, reason: str) -> None:
        if self.task is not None:
            self.task.cancel()
            self.task = None
            self.stopped = reason

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        me = asyncio.current_task()
        try:
            while True:
                job = await loop.run_in_executor(None, self.client.job, self.job_id)
                text, start, _ = await loop.run_in_executor(
                    None, self.client.log_tail, self.job_id, "worker-0", TAIL_BYTES
                )
                for widget in self.widgets:
                    widget.show(job, last_lines(text, start))
                if job["phase"] in FINAL_PHASES:
                    self.final = True
                    self.stopped = f"the job ended ({job['phase']})"
                    return
                await asyncio.sleep(FOLLOW_INTERVAL)
        except Exception as error:  # whatever it is, the views say why they stand still
            reason = str(error) if isinstance(error, ModelArtsError) else repr(error)
            for widget in self.widgets:
                widget.error = reason
            self.stopped = f"reading the job failed: {reason}"
        finally:
            if self.task is me:
                self.task = None


#: The follower of each job that has a widget in this kernel, by job id.
FOLLOWERS: dict[str, Follower] = {}


class JobWidget(anywidget.AnyWidget):
    """A job: phase, time, tasks, the last lines of worker-0's log and a Stop button."""

    _esm = _ESM
    kind = Unicode("job").tag(sync=True)
    job = Dict().tag(sync=True)
    lines = List(Unicode()).tag(sync=True)
    error = Unicode("").tag(sync=True)
    #: The view's own words, in the kernel's language (the view has no translator of its own).
    labels = Dict().tag(sync=True)

    def __init__(self, client: Client, job: dict[str, Any], lines: list[str]):
        labels = {"stop": _("Stop"), "workspace": _("workspace {id}")}
        super().__init__(job=_state(job), lines=lines, labels=labels)
        #: Views of this widget now shown (they report when they render and go).
        self.views = 0
        self._client = client
        self._stopping: asyncio.Task | None = None
        self.follower = FOLLOWERS.get(job["id"]) or Follower(client, job["id"])
        FOLLOWERS[job["id"]] = self.follower
        self.follower.widgets.add(self)
        self.follower.final = job["phase"] in FINAL_PHASES
        self.on_msg(self._on_message)
        self.comm.on_close(lambda _message: self._forget())  # closed by the frontend

    def show(self, job: dict[str, Any], lines: list[str]) -> None:
        with self.hold_sync():
            self.job = _state(job)
            self.lines = lines

    def close(self) -> None:
        self._forget()
        super().close()

    def _forget(self) -> None:
        follower = self.follower
        follower.widgets.discard(self)
        if not follower.widgets:
            follower.stop("every widget of the job was closed")
            if FOLLOWERS.get(follower.job_id) is follower:
                del FOLLOWERS[follower.job_id]
        elif not follower.shown():
            follower.stop("no view of the job is shown")

    def _on_message(self, _widget: Any, content: dict[str, Any], _buffers: Any) -> None:
        event = content.get("event")
        if event == "rendered":
            self.views += 1
            self.follower.start()
        elif event == "removed":
            self.views = max(self.views - 1, 0)
            if not self.follower.shown():
                self.follower.stop("no view of the job is shown")
        elif event == "stop" and self._stopping is None:
            self._stopping = asyncio.get_running_loop().create_task(self._stop_job())

    async def _stop_job(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            job = await loop.run_in_executor(None, self._client.stop, self.job["id"])
        except ModelArtsError as error:
            self.error = str(error)
        else:
            self.job = _state(job)
        finally:
            self._stopping = None


class LeaseWidget(anywidget.AnyWidget):
    """The time left before auto-stop, ticking in the browser from the stop time."""

    _esm = _ESM
    kind = Unicode("lease").tag(sync=True)
    enabled = Bool(False).tag(sync=True)
    stop_at = Int(None, allow_none=True).tag(sync=True)
    lease_type = Unicode("TIMING").tag(sync=True)
    # Shown instead of a countdown when there is no stop time (an IDLE lease while busy).
    note = Unicode("").tag(sync=True)

"""A job handle as cells use it, and the one-line ends of a cell that waited on a job."""

from __future__ import annotations

import sys
import time
import uuid
from typing import Any

from IPython import get_ipython
from IPython.display import display, update_display

from .client import Client, ModelArtsError
from .i18n import _
from .views import (
    FINAL_PHASES,
    TAIL_BYTES,
    WIDGET_MIME,
    job_bundle,
    last_lines,
    widget_view,
    widgets_available,
)

#: The display ids of each job's displays in this kernel: a cell waiting on the job updates
#: them all, so a saved notebook shows how the job ended.
_DISPLAYS: dict[str, list[str]] = {}


class JobFailed(Exception):
    """A waited-on job ended Failed, Abnormal or Terminated (``.job`` is its handle)."""

    def __init__(self, job: Job):
        info = job._job
        if info.get("message"):
            text = _(
                "job {id} ({name}) ended {phase}: {message}; its log: %ma_train logs {id}",
                message=info["message"],
                id=job.id,
                name=info["name"],
                phase=info["phase"],
            )
        else:
            text = _(
                "job {id} ({name}) ended {phase}; its log: %ma_train logs {id}",
                id=job.id,
                name=info["name"],
                phase=info["phase"],
            )
        super().__init__(text)
        self.job = job


class FollowInterrupted(KeyboardInterrupt):
    """Ctrl-C while a cell followed or waited on a job: the cell stops, the job goes on."""

    def __init__(self, job: Job):
        super().__init__(
            _(
                "stopped waiting; job {id} goes on ({phase}). Stop it with: %ma_train stop {id}",
                id=job.id,
                phase=job._job["phase"],
            )
        )
        self.job = job


class WaitTimeout(TimeoutError):
    """``.wait(timeout)`` ran out before the job ended."""

    def __init__(self, job: Job, timeout: float):
        super().__init__(
            _(
                "job {id} is still {phase} after {seconds} s; wait again, or stop it with: "
                "%ma_train stop {id}",
                id=job.id,
                phase=job._job["phase"],
                seconds=f"{timeout:g}",
            )
        )
        self.job = job


#: What a cell shows as one line instead of a traceback.
ONE_LINE = (JobFailed, FollowInterrupted, WaitTimeout)
# By name: a %reload_ext brings new classes, whose old selves go.
_NAMES = {e.__name__ for e in ONE_LINE}


def install_one_line_errors(shell: Any) -> None:
    """Show ONE_LINE exceptions as one line (the cell still ends in error, so Run All and
    papermill stop there); any custom handler already installed keeps its own exceptions."""
    theirs = tuple(e for e in shell.custom_exceptions if e.__name__ not in _NAMES)
    their_handler = shell.CustomTB

    def handler(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset=None):
        if not isinstance(value, ONE_LINE):
            return their_handler(etype, value, tb, tb_offset=tb_offset)
        stb = [f"\x1b[0;31m{etype.__name__}\x1b[0m: {value}"]
        shell._showtraceback(etype, value, stb)
        return stb

    shell.set_custom_exc(theirs + ONE_LINE, handler)


class Job:
    """A handle on one training job: ``.status() .info() .logs(task=…) .wait() .stop()``.

    Shown in a cell (the last expression, or ``display(job)``), it is the job's live display.
    """

    def __init__(self, client: Client, job: dict[str, Any]):
        self._client = client
        self._job = job
        self._widget: Any = None
        self._shown_in: int | None = None
        self.id: str = job["id"]

    def __repr__(self) -> str:
        return f"<ModelArts job {self.id} {self._job['name']!r}: {self._job['phase']}>"

    def info(self) -> dict[str, Any]:
        """The job as the server reports it now."""
        self._job = self._client.job(self.id)
        return self._job

    def status(self) -> str:
        """The job's phase now (Pending, Running, Completed, Failed, Terminated, …)."""
        return self.info()["phase"]

    def logs(self, task: str = "worker-0") -> str:
        """The whole log of one task so far."""
        chunks, offset = [], 0
        while True:
            chunk = self._client.logs(self.id, task, offset, 1024 * 1024)
            chunks.append(chunk["content"])
            if chunk["next_offset"] >= chunk["size"]:
                return "".join(chunks)
            offset = chunk["next_offset"]

    def stop(self) -> str:
        """Ask the job to stop; its phase (Terminating, or Terminated at once)."""
        self._job = self._client.stop(self.id)
        return self._job["phase"]

    def wait(self, timeout: float | None = None, interval: float = 0.5) -> Job:
        """Block until the job ends; this handle once it Completed, else JobFailed (WaitTimeout
        after ``timeout`` seconds). The job's displays follow its phase."""
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                before = self._job["phase"]
                self.info()
                if self._job["phase"] in FINAL_PHASES:
                    break
                if self._job["phase"] != before:
                    self._update_displays()
                if deadline is not None and time.monotonic() > deadline:
                    raise WaitTimeout(self, timeout)
                time.sleep(interval)
        except KeyboardInterrupt:
            raise FollowInterrupted(self) from None
        self._update_displays()
        if self._job["phase"] != "Completed":
            raise JobFailed(self)
        return self

    def follow(self, task: str = "worker-0", interval: float = 0.5) -> Job:
        """Print the task's log as it grows until the job ends; then as ``wait()``."""
        offset = 0
        try:
            while True:
                chunk = self._client.logs(self.id, task, offset)
                if chunk["content"]:
                    sys.stdout.write(chunk["content"])
                    sys.stdout.flush()
                offset = chunk["next_offset"]
                if chunk["complete"]:
                    break
                if not chunk["content"]:
                    before = self._job["phase"]
                    if self.info()["phase"] != before:
                        self._update_displays()
                    time.sleep(interval)
        except KeyboardInterrupt:
            raise FollowInterrupted(self) from None
        self.wait(interval=interval)
        print(f"[{self.id}] {self._job['phase']}")
        return self

    def _ipython_display_(self) -> None:
        """The job's display, once per cell (a following cell shows it before the log)."""
        shell = get_ipython()
        count = shell.execution_count if shell is not None else None
        if count is not None and count == self._shown_in:
            return
        self._shown_in = count
        display_id = uuid.uuid4().hex
        _DISPLAYS.setdefault(self.id, []).append(display_id)
        display(self._bundle(), raw=True, display_id=display_id)

    def _bundle(self) -> dict[str, Any]:
        """The job's MIME bundle now, with the last lines of worker-0's log."""
        try:
            text, start, _ = self._client.log_tail(self.id, "worker-0", TAIL_BYTES)
        except ModelArtsError:  # no log yet (or not now): the job is shown all the same
            text, start = "", 0
        lines = last_lines(text, start)
        bundle = job_bundle(self._job, lines)
        if widgets_available():
            bundle[WIDGET_MIME] = self._live_widget(lines)
        return bundle

    def _live_widget(self, lines: list[str]) -> dict[str, Any]:
        """The widget view of this handle's widget (made once, while it stays open)."""
        from .widgets import JobWidget

        if self._widget is None or self._widget.comm is None:
            self._widget = JobWidget(self._client, self._job, lines)
        else:
            self._widget.show(self._job, lines)
        return widget_view(self._widget)

    def _update_displays(self) -> None:
        """Every display of this job in this kernel, redrawn as the job is now."""
        displays = _DISPLAYS.get(self.id)
        if displays:
            bundle = self._bundle()
            for display_id in displays:
                update_display(bundle, raw=True, display_id=display_id)

"""The doctor: runs the backend's checks before work starts, keeps the last report, tells browsers.

One per server. The first run starts in the background when the server starts (it never delays
start-up); ``GET /doctor`` waits for it, ``POST /doctor`` runs the checks again (joining a run
already going), and a change of the current workspace runs them again, since the workspace and
quota checks depend on it. Whatever a run meets (an error, a timeout, the server stopping), it
ends in a report, logged; the checks that could not be made show as one failing check.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import Any

from .backends.base import Backend
from .i18n import N_
from .models import Check, CheckStatus, DoctorReport, ModelArtsError, now_ms


def _broken(detail: str) -> Check:
    return Check(
        id="doctor",
        area="local",
        title="Running the checks",
        status=CheckStatus.FAIL,
        detail=detail,
        fix="See the server log; run the checks again (POST /doctor, or %ma_doctor).",
    )


class Doctor:
    """Runs ``backend.run_checks`` for the current workspace, at most one run at a time, each
    bounded by ``timeout_s``; ``publish`` is told each report as a run starts and ends."""

    def __init__(
        self,
        backend: Backend,
        publish: Callable[[DoctorReport], Any],
        log: Any,
        timeout_s: float,
    ):
        self.backend = backend
        self.publish = publish
        self.log = log
        self.timeout_s = timeout_s
        self._report = DoctorReport(
            backend=backend.name,
            workspace_id=backend.current_workspace,
            checked_at=None,
            running=False,
        )
        self._run_task: asyncio.Future | None = None
        self._tasks: set[asyncio.Future] = set()
        self._stopping = False

    def report(self) -> DoctorReport:
        """The last report; ``running`` when a run is going (its checks are the last run's)."""
        return self._report

    def start(self) -> None:
        """Start the first run in the background."""
        self._background(self.run())

    def workspace_changed(self) -> None:
        """Run again for the new current workspace, in the background."""
        self._background(self.run())

    async def first(self) -> DoctorReport:
        """The last report, once a run has ended (waiting for the first)."""
        if self._report.checked_at is not None:
            return self._report
        return await self.run()

    async def run(self) -> DoctorReport:
        """Run the checks now, or join the run going if it is of the current workspace; the
        report of the run that ends. A caller that goes away does not stop the run."""
        while True:
            if self._stopping:
                return self._report
            if self._run_task is None:
                self._run_task = asyncio.ensure_future(self._run(self.backend.current_workspace))
            report = await asyncio.shield(self._run_task)
            if report.workspace_id == self.backend.current_workspace:
                return report

    async def stop(self) -> None:
        self._stopping = True  # no run starts after this one's list of tasks is taken
        tasks = [*self._tasks, *([self._run_task] if self._run_task else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _background(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _tell(self, report: DoctorReport) -> None:
        self._report = report
        self.publish(report)

    async def _run(self, workspace_id: str) -> DoctorReport:
        self._tell(dataclasses.replace(self._report, running=True))
        try:
            checks = await asyncio.wait_for(self.backend.run_checks(workspace_id), self.timeout_s)
        except asyncio.TimeoutError:
            reason = N_(
                f"the checks did not end within {self.timeout_s:g} s "
                "(c.ModelArtsApp.doctor_timeout_s)"
            )
            self.log.warning("jupyter_modelarts: %s", reason)
            checks = [_broken(reason)]
        except asyncio.CancelledError:
            reason = N_("the server stopped during the checks")
            self.log.info("jupyter_modelarts: %s", reason)
            self._end(workspace_id, [_broken(reason)])
            raise
        except ModelArtsError as err:
            self.log.warning("jupyter_modelarts: the checks could not run: %s", err.message)
            checks = [_broken(f"the checks could not run: {err.message}")]
        except Exception as err:  # unforeseen: still a report, and the traceback logged
            self.log.exception("jupyter_modelarts: the checks could not run")
            reason = N_(f"internal error: {type(err).__name__}: {err}")
            checks = [_broken(f"the checks could not run: {reason}")]
        return self._end(workspace_id, checks)

    def _end(self, workspace_id: str, checks: list[Check]) -> DoctorReport:
        self._run_task = None
        report = DoctorReport(
            backend=self.backend.name,
            workspace_id=workspace_id,
            checked_at=now_ms(),
            running=False,
            checks=checks,
        )
        failing = [c for c in checks if c.status is CheckStatus.FAIL]
        for check in failing:
            self.log.warning("jupyter_modelarts: check %s failed: %s", check.id, check.detail)
        self.log.info(
            "jupyter_modelarts: checks of workspace %s: %d passed, %d failed, %d skipped",
            workspace_id,
            sum(c.status is CheckStatus.PASS for c in checks),
            len(failing),
            sum(c.status is CheckStatus.SKIPPED for c in checks),
        )
        self._tell(report)
        return report

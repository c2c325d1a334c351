"""The backend contract: everything the REST handlers may ask of a local or cloud backend."""

from __future__ import annotations

import abc
import os
from collections.abc import Callable

from traitlets import MetaHasTraits, TraitError, Unicode, default, validate
from traitlets.config import LoggingConfigurable

from ..models import (
    DEFAULT_WORKSPACE,
    SUMMARY_FIELDS,
    Check,
    Engine,
    Flavor,
    ImageRequest,
    ImageSnapshot,
    Instance,
    InvalidRequest,
    Job,
    JobPage,
    JobPhase,
    JobSpec,
    JobSummary,
    Lease,
    LogChunk,
    Metrics,
    Mount,
    NotFound,
    Workspace,
    now_ms,
    parse_workspace_id,
)
from ..store import Store


def read_job_page(
    store: Store,
    *,
    phase: JobPhase | None,
    offset: int,
    limit: int,
    sort: str,
    order: str,
    workspace_id: str | None = None,
    exclude: tuple[str, ...] = (),
) -> JobPage:
    """A page of the stored jobs' summaries (blocking: a sort other than by creation reads
    every record, so callers run it in a worker thread)."""
    rows, total = store.page(
        "job",
        SUMMARY_FIELDS,
        phases=(phase.value,) if phase else (),
        workspace=workspace_id,
        exclude=exclude,
        sort=sort,
        descending=order == "desc",
        offset=offset,
        limit=limit,
        now=now_ms(),
    )
    return JobPage([JobSummary.from_fields(r) for r in rows], total)


class LogFile:
    """A task's log opened for streaming: ``size`` bytes when opened, and whether that is all
    there will ever be. Reads stop at ``size`` however the file grows, and keep working after
    the file is deleted (the descriptor holds it). Reads block: call them off the event loop."""

    def __init__(self, fd: int | None, size: int, complete: bool):
        self._fd = fd
        self.size = size
        self.complete = complete

    @classmethod
    def open(cls, path: str, complete: bool) -> LogFile:
        """The file at ``path`` (blocking); a log not yet written is empty."""
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            return cls(None, 0, complete)
        return cls(fd, os.fstat(fd).st_size, complete)

    def read(self, offset: int, length: int) -> bytes:
        """At most ``length`` bytes from ``offset``, never past ``size``."""
        length = min(length, self.size - offset)
        if self._fd is None or length <= 0:
            return b""
        return os.pread(self._fd, length, offset)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class _BackendMeta(MetaHasTraits, abc.ABCMeta):
    """Traitlets' metaclass plus ABCMeta, so a backend missing a method cannot be built."""


class Backend(LoggingConfigurable, metaclass=_BackendMeta):
    """One implementation per place jobs and instances live.

    Methods raise the errors of :mod:`jupyter_modelarts.models`; the handlers turn them into HTTP
    statuses. A backend never sees tornado or HTTP requests.
    """

    #: Short name shown to users and recorded on jobs ("local", "modelarts").
    name = "abstract"

    code_root = Unicode(
        config=True,
        help="""Folder a job's code_dir must lie in, symlinks resolved: a job never takes code
        from elsewhere (the home folder, /etc). Default: the server's root_dir.""",
    )

    workspace_id = Unicode(
        DEFAULT_WORKSPACE,
        config=True,
        help="""Workspace jobs and images go to until the user picks another (the pick is kept
        across restarts). Default: 0, the default workspace.""",
    )

    @default("code_root")
    def _default_code_root(self) -> str:
        return self.root_dir

    @validate("workspace_id")
    def _valid_workspace_id(self, proposal):
        try:
            parse_workspace_id(proposal["value"])
        except InvalidRequest as err:
            raise TraitError(err.message) from None
        return proposal["value"]

    def __init__(
        self,
        *,
        store: Store,
        state_dir: str,
        root_dir: str,
        request_shutdown: Callable[[str], None],
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.store = store
        self.state_dir = state_dir
        self.root_dir = root_dir
        # Called with a reason when the instance must stop (lease expiry).
        self.request_shutdown = request_shutdown
        self._picked_workspace: str | None = None  # "" when the user picked none

    async def start(self) -> None:
        """Resume what was going on before a restart (jobs, timers)."""

    async def close(self) -> None:
        """Release timers, watchers and clients; running jobs keep running."""

    @property
    def current_workspace(self) -> str:
        """The workspace a request that names none goes to: the user's pick, else the
        configured one."""
        if self._picked_workspace is None:  # read once: every list and submit asks
            picked = self.store.get("setting", "workspace")
            self._picked_workspace = picked["id"] if picked else ""
        return self._picked_workspace or self.workspace_id

    async def get_current_workspace(self) -> Workspace:
        """The current workspace; one no longer among ``list_workspaces()`` (configured, or
        picked before it went) is UNAVAILABLE, rather than hidden."""
        current = self.current_workspace
        for workspace in await self.list_workspaces():
            if workspace.id == current:
                return workspace
        return Workspace(
            current,
            current,
            status="UNAVAILABLE",
            description="not one of the workspaces you may use: pick another",
        )

    async def use_workspace(self, workspace_id: str) -> Workspace:
        """Make ``workspace_id`` current, if it is one of ``list_workspaces()``."""
        for workspace in await self.list_workspaces():
            if workspace.id == workspace_id:
                self.store.put("setting", "workspace", {"id": workspace_id, "created_at": 0})
                self._picked_workspace = workspace_id
                return workspace
        raise NotFound(f"no workspace {workspace_id!r} you may use", field="id")

    @abc.abstractmethod
    async def list_workspaces(self) -> list[Workspace]:
        """The workspaces the user may use, the default one first."""

    @abc.abstractmethod
    async def run_checks(self, workspace_id: str) -> list[Check]:
        """Every check of what work on this backend needs, in the order shown. Never raises:
        a check that cannot be made says so (status fail or skipped, with why)."""

    @abc.abstractmethod
    async def get_instance(self) -> Instance: ...

    @abc.abstractmethod
    async def get_lease(self) -> Lease: ...

    @abc.abstractmethod
    async def renew_lease(self, duration_s: int, kind: str | None = None) -> Lease:
        """Renew from now; ``kind`` (TIMING or IDLE) switches the kind, None keeps it."""

    async def note_activity(self) -> None:
        """The user acted in a browser (``POST /activity``); a backend that measures idleness
        itself ignores it."""

    @abc.abstractmethod
    async def list_mounts(self) -> list[Mount]: ...

    @abc.abstractmethod
    async def create_mount(self, uri: str, mount_path: str) -> Mount: ...

    @abc.abstractmethod
    async def get_mount(self, mount_id: str) -> Mount: ...

    @abc.abstractmethod
    async def delete_mount(self, mount_id: str) -> Mount: ...

    @abc.abstractmethod
    async def save_image(self, request: ImageRequest) -> ImageSnapshot: ...

    @abc.abstractmethod
    async def list_images(self, workspace_id: str | None = None) -> list[ImageSnapshot]:
        """The images of a workspace, or of all of them when None."""

    @abc.abstractmethod
    async def get_image(self, image_id: str) -> ImageSnapshot: ...

    @abc.abstractmethod
    async def list_flavors(self) -> list[Flavor]: ...

    @abc.abstractmethod
    async def list_engines(self) -> list[Engine]: ...

    @abc.abstractmethod
    async def submit_job(self, spec: JobSpec) -> Job: ...

    @abc.abstractmethod
    async def list_jobs(
        self,
        *,
        phase: JobPhase | None = None,
        offset: int = 0,
        limit: int = 50,
        sort: str = "created",
        order: str = "desc",
        workspace_id: str | None = None,
    ) -> JobPage:
        """A page of job summaries ordered by ``sort`` (one of JOB_SORTS) and ``order`` ("desc"
        or "asc"), ties broken by creation time and id, and how many jobs there are in all; of
        one workspace, or of all when ``workspace_id`` is None."""

    @abc.abstractmethod
    async def live_jobs(self) -> list[Job]:
        """Every job of this backend not yet in a final phase: the server's watcher follows
        them."""

    @abc.abstractmethod
    async def get_job(self, job_id: str) -> Job: ...

    @abc.abstractmethod
    async def stop_job(self, job_id: str) -> Job: ...

    @abc.abstractmethod
    async def delete_job(self, job_id: str) -> None: ...

    @abc.abstractmethod
    async def read_logs(self, job_id: str, task: str, offset: int, limit: int) -> LogChunk: ...

    @abc.abstractmethod
    async def log_sizes(self, job_id: str) -> dict[str, int]:
        """Each task's log size in bytes now, by task name."""

    @abc.abstractmethod
    async def open_log(self, job_id: str, task: str) -> LogFile:
        """The task's log as it is now, to stream; the caller closes it."""

    @abc.abstractmethod
    async def get_metrics(self, job_id: str) -> Metrics: ...

"""Server push: the event schemas, and the one watcher that puts every change on Jupyter's bus.

Browsers subscribe to the server's own events websocket (``/api/events/subscribe``); each
message is ``{"schema_id": …, **data}``. The payload schemas are openapi.yaml's components,
inlined at registration, so the contract is written once. One watcher per server asks the
backend for what can change, however many tabs listen, and emits each difference; REST handlers
publish the result of every change they make at once, through the same watcher, so it is not
emitted twice. Events are emitted on the event loop only (jupyter_events schedules listeners as
tasks of the running loop).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from .backends.base import Backend
from .i18n import translate_report
from .models import (
    DoctorReport,
    ImageSnapshot,
    ImageStatus,
    Job,
    JobPhase,
    JobSummary,
    Lease,
    ModelArtsError,
    Mount,
    MountStatus,
    NotFound,
    Workspace,
    now_ms,
)

_ROOT = "https://jupyter-modelarts.github.io/events/"
LEASE_EVENT = _ROOT + "lease/v1"
MOUNT_EVENT = _ROOT + "mount/v1"
IMAGE_EVENT = _ROOT + "image/v1"
JOB_EVENT = _ROOT + "job/v1"
LOG_EVENT = _ROOT + "log/v1"
HEARTBEAT_EVENT = _ROOT + "heartbeat/v1"
DOCTOR_EVENT = _ROOT + "doctor/v1"
WORKSPACE_EVENT = _ROOT + "workspace/v1"


def _component(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


#: Each event: its title, what it says, and its properties (openapi.yaml $refs are inlined).
_EVENTS: dict[str, tuple[str, str, dict[str, Any]]] = {
    LEASE_EVENT: (
        "Lease",
        "The auto-stop lease changed (renewed, or changed outside this server).",
        {"lease": _component("Lease")},
    ),
    MOUNT_EVENT: (
        "Mount",
        "A mount changed state; UNMOUNTED: it is gone.",
        {"mount": _component("Mount")},
    ),
    IMAGE_EVENT: (
        "Image",
        "An image save started, progressed or ended.",
        {"image": _component("ImageSnapshot")},
    ),
    JOB_EVENT: (
        "Job",
        "A job changed (phase, tasks, message), or was deleted.",
        {
            "action": {"type": "string", "enum": ["changed", "deleted"]},
            "job": _component("JobSummary"),
            "tasks": {"type": "array", "items": _component("Task")},
        },
    ),
    LOG_EVENT: (
        "Log",
        "A running task's log grew to size bytes (at most about twice a second per task).",
        {
            "job_id": {"type": "string"},
            "task": {"type": "string"},
            "size": {"type": "integer", "minimum": 0},
        },
    ),
    HEARTBEAT_EVENT: (
        "Heartbeat",
        "The stream is alive: sent every heartbeat_s seconds (30 by default).",
        {"at": _component("EpochMs")},
    ),
    DOCTOR_EVENT: (
        "Doctor",
        "A run of the checks started (running: true) or ended with this report.",
        {"report": _component("DoctorReport")},
    ),
    WORKSPACE_EVENT: (
        "Workspace",
        "The current workspace changed.",
        {"workspace": _component("Workspace")},
    ),
}
# Keywords that only annotate: beside a $ref they are merged into what it names.
_ANNOTATIONS = {"title", "description", "examples", "default"}


def _inline(doc: dict[str, Any], node: Any) -> Any:
    """``node`` with every local $ref of ``doc`` replaced by what it names, recursively (the
    event schemas are JSON Schema draft 7, where a $ref hides its siblings)."""
    if isinstance(node, list):
        return [_inline(doc, item) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" not in node:
        return {key: _inline(doc, value) for key, value in node.items()}
    target: Any = doc
    for part in node["$ref"].removeprefix("#/").split("/"):
        target = target[part]
    named = _inline(doc, target)
    rest = {key: _inline(doc, value) for key, value in node.items() if key != "$ref"}
    if set(rest) <= _ANNOTATIONS:
        return {**named, **rest}
    return {"allOf": [named, rest]}


def event_schemas(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The schema of each event, its payloads taken from the OpenAPI document ``doc``."""
    for schema_id, (title, description, properties) in _EVENTS.items():
        yield {
            "$id": schema_id,
            "version": "1",
            "title": f"jupyter_modelarts {title}",
            "description": description,
            "type": "object",
            "required": list(properties),
            "additionalProperties": False,
            "properties": _inline(doc, properties),
        }


#: Seconds between looks at a part with something in progress, and at one at rest.
BUSY_S = 0.5
IDLE_S = 5.0
_ENDED_KEPT = 1024  # ids of ended jobs remembered against stale answers
_MOUNTS_MOVING = (MountStatus.MOUNTING, MountStatus.UNMOUNTING)
_IMAGES_MOVING = (ImageStatus.INIT, ImageStatus.CREATING)
_WRITING = (JobPhase.RUNNING, JobPhase.TERMINATING)


def _lease_state(lease: Lease) -> dict[str, Any]:
    """What of a lease can change (remaining_s changes at every read)."""
    return {k: v for k, v in lease.to_json().items() if k != "remaining_s"}


#: How far an IDLE lease's projected stop may move before subscribers are told again.
IDLE_MOVE_MS = 60_000


def _lease_moved(told: dict[str, Any] | None, state: dict[str, Any]) -> bool:
    """Whether subscribers must hear of ``state``: any change, except that an IDLE lease's stop
    moves with every bit of activity, so it counts once it moved by more than a minute (or
    appeared or went: busy to idle and back)."""
    if told is None or told.get("type") != "IDLE" or state["type"] != "IDLE":
        return told != state
    moving = ("stop_at", "idle_since")
    if {k: v for k, v in told.items() if k not in moving} != {
        k: v for k, v in state.items() if k not in moving
    }:
        return True
    before, after = told["stop_at"], state["stop_at"]
    if before is None or after is None:
        return before != after
    return abs(after - before) > IDLE_MOVE_MS


class Watcher:
    """Watches the backend for everybody and emits each change it finds as an event.

    Each part (lease, mounts, images, jobs, the logs of running jobs) is followed by a task of
    its own, so a slow or failing one holds up none of the others: it looks every BUSY_S seconds
    while something of it is in progress (a mount MOUNTING or UNMOUNTING, an image INIT or
    CREATING, a job not ended, a job running), else every IDLE_S seconds. A heartbeat goes out
    every ``heartbeat_s`` seconds. A failure is logged when it starts or changes, and when it is
    over, not at every look.
    """

    def __init__(self, backend: Backend, emit: Callable[..., Any], log: Any, heartbeat_s: float):
        self.backend = backend
        self._emit_event = emit
        self.log = log
        self.heartbeat_s = heartbeat_s
        self._looks: dict[str, Callable[[], Awaitable[bool]]] = {
            "lease": self._look_at_lease,
            "mounts": self._look_at_mounts,
            "images": self._look_at_images,
            "jobs": self._look_at_jobs,
            "logs": self._look_at_logs,
        }
        # What subscribers were last told: the lease, mounts and images by id, the live jobs.
        self._lease: dict[str, Any] | None = None
        self._mounts: dict[str, dict[str, Any]] = {}
        self._images: dict[str, dict[str, Any]] = {}
        self._jobs: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
        # The jobs told ended lately, oldest first: a stop's answer read before the end is stale.
        self._ended: dict[str, None] = {}
        self._log_sizes: dict[tuple[str, str], int] = {}
        self._writing: list[str] = []  # the jobs whose logs may grow, as the last look saw them
        # Per part, the ids a handler published since its look began: that look's answer about
        # them may be older, so it is left out.
        self._published: dict[str, set[str]] = {part: set() for part in self._looks}
        self._wake: dict[str, asyncio.Event] = {}  # made on the loop (Python 3.9)
        self._failing: dict[str, str] = {}
        self._tasks: list[asyncio.Future] = []
        self._stopping = False

    # -- running -----------------------------------------------------------------------------

    def start(self) -> None:
        self._wake = {part: asyncio.Event() for part in self._looks}
        self._tasks = [asyncio.ensure_future(self._follow(part)) for part in self._looks]
        self._tasks.append(asyncio.ensure_future(self._beat()))
        self.log.info("jupyter_modelarts: watching for changes to push to browsers")

    async def stop(self) -> None:
        # Up to 3.11, a cancel that meets a wait_for whose event was just set is swallowed and
        # the loop would go on (a hung shutdown): the loops also end on this flag.
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._tasks:
            self.log.info("jupyter_modelarts: stopped watching for changes")
        self._tasks = []

    async def _follow(self, part: str) -> None:
        busy = False
        wake = self._wake[part]
        while not self._stopping:
            wake.clear()
            self._published[part] = set()
            try:
                busy = await self._looks[part]()
            except Exception as err:  # logged; the next look tries again
                self._failed(part, err)
            else:
                self._recovered(part)
            try:
                await asyncio.wait_for(wake.wait(), BUSY_S if busy else IDLE_S)
            except asyncio.TimeoutError:
                pass

    async def _beat(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self.heartbeat_s)
            self._emit(HEARTBEAT_EVENT, {"at": now_ms()})

    def _recovered(self, what: str) -> None:
        if self._failing.pop(what, None) is not None:
            self.log.info("jupyter_modelarts: watching %s works again", what)

    def _failed(self, what: str, err: Exception) -> None:
        reason = f"{type(err).__name__}: {err}"
        if self._failing.get(what) == reason:
            return
        self._failing[what] = reason
        if isinstance(err, ModelArtsError):
            self.log.warning("jupyter_modelarts: watching %s failed: %s", what, err.message)
        else:
            self.log.exception("jupyter_modelarts: watching %s failed", what)

    def _emit(self, schema_id: str, data: dict[str, Any]) -> None:
        """Emit on the loop; a payload the schema refuses is a bug, logged, never raised into
        the REST call that published it."""
        try:
            self._emit_event(schema_id=schema_id, data=data)
        except Exception as err:
            self._failed(f"event {schema_id}", err)

    def _publish(self, part: str, item_id: str) -> None:
        """Note what a handler publishes, and look at its part at once (it is in progress)."""
        self._published[part].add(item_id)
        if part in self._wake:
            self._wake[part].set()

    # -- what handlers publish: told at once ---------------------------------------------------

    def lease_changed(self, lease: Lease) -> None:
        self._published["lease"].add("")
        self._tell_lease(lease)

    def lease_touched(self) -> None:
        """Activity may have moved an IDLE lease's stop: look at the lease at once."""
        if "lease" in self._wake:
            self._wake["lease"].set()

    def mount_changed(self, mount: Mount) -> None:
        self._publish("mounts", mount.id)
        self._tell_mount(mount.to_json())

    def image_changed(self, image: ImageSnapshot) -> None:
        self._publish("images", image.id)
        self._tell_image(image.to_json())

    def job_changed(self, job: Job) -> None:
        if job.id in self._ended and not job.phase.is_final:
            return  # read before the end subscribers were already told
        self._publish("jobs", job.id)
        self._tell_job(job)

    def job_deleted(self, job: Job) -> None:
        self._published["jobs"].add(job.id)
        self._jobs.pop(job.id, None)
        self._tell_deleted(JobSummary.of(job).to_json(), [t.to_json() for t in job.tasks])

    def doctor_changed(self, report: DoctorReport, language: str | None = None) -> None:
        """Tell the report, its checks' text in ``language`` (the frontend's last one)."""
        self._emit(DOCTOR_EVENT, {"report": translate_report(report.to_json(), language)})

    def workspace_changed(self, workspace: Workspace) -> None:
        self._emit(WORKSPACE_EVENT, {"workspace": workspace.to_json()})

    # -- telling subscribers -----------------------------------------------------------------

    def _tell_lease(self, lease: Lease) -> None:
        self._lease = _lease_state(lease)
        self._emit(LEASE_EVENT, {"lease": lease.to_json()})

    def _tell_mount(self, data: dict[str, Any]) -> None:
        if data["status"] == MountStatus.UNMOUNTED.value:
            self._mounts.pop(data["id"], None)
        else:
            self._mounts[data["id"]] = data
        self._emit(MOUNT_EVENT, {"mount": data})

    def _tell_image(self, data: dict[str, Any]) -> None:
        self._images[data["id"]] = data
        self._emit(IMAGE_EVENT, {"image": data})

    def _tell_job(self, job: Job) -> None:
        """Emit the job if it changed; follow it while it is not ended."""
        state = (JobSummary.of(job).to_json(), [t.to_json() for t in job.tasks])
        if self._jobs.get(job.id) != state:
            self._emit(JOB_EVENT, {"action": "changed", "job": state[0], "tasks": state[1]})
        if job.phase.is_final:
            self._jobs.pop(job.id, None)
            self._ended[job.id] = None
            if len(self._ended) > _ENDED_KEPT:
                del self._ended[next(iter(self._ended))]
        else:
            self._jobs[job.id] = state

    def _tell_deleted(self, summary: dict[str, Any], tasks: list[dict[str, Any]]) -> None:
        self._forget_logs(summary["id"])
        self._emit(JOB_EVENT, {"action": "deleted", "job": summary, "tasks": tasks})

    def _forget_logs(self, job_id: str) -> None:
        for key in [key for key in self._log_sizes if key[0] == job_id]:
            del self._log_sizes[key]

    # -- looking -----------------------------------------------------------------------------

    async def _look_at_lease(self) -> bool:
        lease = await self.backend.get_lease()
        if "" not in self._published["lease"] and _lease_moved(self._lease, _lease_state(lease)):
            self._tell_lease(lease)
        return False

    async def _look_at_mounts(self) -> bool:
        mounts = await self.backend.list_mounts()
        published = self._published["mounts"]
        current = {m.id: m.to_json() for m in mounts}
        for mount_id, data in current.items():
            if mount_id not in published and self._mounts.get(mount_id) != data:
                self._tell_mount(data)
        for mount_id in [i for i in self._mounts if i not in current and i not in published]:
            self._tell_mount({**self._mounts[mount_id], "status": MountStatus.UNMOUNTED.value})
        return any(m.status in _MOUNTS_MOVING for m in mounts)

    async def _look_at_images(self) -> bool:
        images = await self.backend.list_images()
        for image in images:
            data = image.to_json()
            if image.id not in self._published["images"] and self._images.get(image.id) != data:
                self._tell_image(data)
        return any(i.status in _IMAGES_MOVING for i in images)

    async def _look_at_jobs(self) -> bool:
        """The live jobs, and those live at the last look (to see them end or go)."""
        live = await self.backend.live_jobs()
        published = self._published["jobs"]
        seen = {job.id for job in live}
        # Those that ended first: a job that ends lets a Pending one start.
        for job_id in [i for i in self._jobs if i not in seen]:
            try:
                job = await self.backend.get_job(job_id)
            except NotFound:  # gone another way than DELETE /jobs/{job_id}
                last = self._jobs.pop(job_id, None)
                if last is not None and job_id not in published:
                    self._tell_deleted(*last)
                continue
            if job_id not in published:
                self._tell_job(job)
        for job in live:
            if job.id not in published:
                self._tell_job(job)
        writing = [job.id for job in live if job.phase in _WRITING]
        if writing != self._writing:
            self._writing = writing
            self._wake["logs"].set()
        return bool(live)

    async def _look_at_logs(self) -> bool:
        """A log event for each task of a running job whose log grew since the last look (a
        part of its own: catching up with a long cloud log holds up no phase change)."""
        writing = self._writing
        for job_id in {key[0] for key in self._log_sizes} - set(writing):
            self._forget_logs(job_id)
        sizes = await asyncio.gather(
            *(self.backend.log_sizes(job_id) for job_id in writing), return_exceptions=True
        )
        for job_id, found in zip(writing, sizes):
            if isinstance(found, NotFound):
                continue  # deleted meanwhile
            if isinstance(found, Exception):
                raise found
            for task, size in found.items():
                if size > self._log_sizes.get((job_id, task), 0):
                    self._log_sizes[job_id, task] = size
                    self._emit(LOG_EVENT, {"job_id": job_id, "task": task, "size": size})
        return bool(writing)

"""The local backend: this server is the instance; jobs, mounts, images, auto-stop are real."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import glob
import inspect
import os
import platform
import socket
import sys
import threading
import time
import uuid
import warnings
from concurrent.futures import ThreadPoolExecutor

import psutil
from jupyter_core.paths import jupyter_data_dir
from traitlets import Bool, Dict, Enum, Float, Int, List, TraitError, Unicode, default, validate

from ...activity import Activity
from ...i18n import N_
from ...models import (
    DEFAULT_WORKSPACE,
    LEASE_TYPES,
    MAX_NODES,
    Check,
    CheckStatus,
    Conflict,
    Engine,
    Flavor,
    ImageRequest,
    ImageSnapshot,
    ImageStatus,
    Instance,
    InvalidRequest,
    Job,
    JobPage,
    JobPhase,
    JobSpec,
    Lease,
    LogChunk,
    Metrics,
    Mount,
    MountStatus,
    NotFound,
    Workspace,
    now_ms,
    parse_mount_path,
    parse_obs_uri,
    parse_workspace_id,
)
from ..base import Backend, LogFile, read_job_page
from . import checks
from .engines import KernelEngines, kernel_interpreter
from .lease import LeaseTimer
from .objects import DataRoot, ObjectStore
from .runner import JobRunner


def _machine_flavor() -> Flavor:
    """The flavor of this machine: CPUs, memory and NVIDIA GPUs if the driver lists any."""
    gpus = sorted(glob.glob("/proc/driver/nvidia/gpus/*/information"))
    gpu_name = None
    if gpus:
        with open(gpus[0]) as f:
            gpu_name = next(
                (line.split(":", 1)[1].strip() for line in f if line.startswith("Model:")), None
            )
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    memory_mb = psutil.virtual_memory().total // 2**20
    kind = "GPU" if gpus else "CPU"
    return Flavor(
        id=f"local.{kind.lower()}",
        name=f"This machine: {cpus} vCPUs | {memory_mb // 1024} GiB"
        + (f" | {len(gpus)}*{gpu_name}" if gpus else ""),
        type=kind,
        cpu_count=cpus or 1,
        memory_mb=memory_mb,
        gpu_count=len(gpus),
        gpu_name=gpu_name,
        max_nodes=MAX_NODES,
    )


def _reason(err: Exception) -> str:
    """What a record says of an unforeseen error (the log has its traceback)."""
    return f"internal error: {type(err).__name__}: {err}"


#: Settings that were ModelArtsApp's before the local backend had its own (old names still work).
MOVED_TO_LOCAL_BACKEND = (
    "object_store_root",
    "data_root",
    "auto_stop_enabled",
    "auto_stop_duration",
    "max_concurrent_jobs",
    "job_stop_grace",
    "metrics_interval",
    "image_paths",
    "image_size_limit",
)
#: Image saves listing and writing at once; later ones wait in INIT, saying they are queued.
IMAGE_SAVES_AT_ONCE = 2
_SERVER_STOPPED = "the server stopped while the image was being written"


class LocalBackend(Backend):
    """The embedded default: no cloud account, no Docker, every operation has a real effect.

    Configured by ``c.LocalBackend.*``; its parent is the extension app.
    """

    name = "local"

    object_store_root = Unicode(
        config=True,
        help="""Folder that stands for OBS. Each sub-folder is a bucket, so
        obs://bucket/path/ is <object_store_root>/bucket/path/. Default:
        <jupyter data dir>/modelarts/objects, shared by every server of this user, as OBS is.""",
    )

    data_root = Unicode(
        config=True,
        help="""Folder that stands for /data/, where OBS paths are mounted
        (/data/name/ is <data_root>/name). Default: /data when it exists and is writable, else
        <root_dir>/data so that mounts show in the file browser.""",
    )

    auto_stop_enabled = Bool(
        False,
        config=True,
        help="""Stop this Jupyter server when its lease runs out, as ModelArts
        stops an instance. Default: False (no lease; renew answers 409).""",
    )

    auto_stop_duration = Float(
        3600.0,
        config=True,
        help="""Seconds from start-up until auto-stop, when auto_stop_enabled is
        set and no earlier lease is still running; with auto_stop_type IDLE, the idle
        period. Renewals via the API take 1 h to 72 h. Default: 3600 (1 hour).""",
    )

    auto_stop_type = Enum(
        list(LEASE_TYPES),
        "TIMING",
        config=True,
        help="""The kind of lease: TIMING stops the server auto_stop_duration after
        start-up or the last renewal; IDLE stops it once it has been idle that long (no
        kernel running, no job pending or running, no terminal or browser activity). A kind
        chosen through the API (PATCH /lease) is kept across restarts until this setting
        changes. Default: TIMING.""",
    )

    max_concurrent_jobs = Int(
        4,
        config=True,
        help="""Jobs that may run at once; later ones wait in the Pending phase.
        Default: 4.""",
    )

    job_stop_grace = Float(
        10.0,
        config=True,
        help="""Seconds between SIGTERM and SIGKILL when a job is stopped.
        Default: 10.""",
    )

    metrics_interval = Float(
        2.0,
        config=True,
        help="""Seconds between CPU/memory samples of running jobs. Default: 2.""",
    )

    image_paths = List(
        Unicode(),
        config=True,
        help="""Absolute paths written into a saved image. Default: the Python
        environment of this server and its kernels (sys.prefix); like ModelArts, the work
        folder is not part of the image.""",
    )

    image_size_limit = Int(
        35 * 10**9,
        config=True,
        help="""Largest image, in bytes, checked before writing (ModelArts
        refuses to save images over 35 GB). Default: 35000000000.""",
    )

    workspaces = List(
        Dict(),
        default_value=[{"id": DEFAULT_WORKSPACE, "name": "default"}],
        config=True,
        help="""Workspaces jobs and images may be kept in, each {"id": ..., "name": ...} (ids of
        letters, digits, '-' and '_'), as ModelArts keeps them apart. The default workspace "0"
        is always there, first. Default: [{"id": "0", "name": "default"}].""",
    )

    @default("object_store_root")
    def _default_object_store_root(self) -> str:
        return os.path.join(jupyter_data_dir(), "modelarts", "objects")

    @default("data_root")
    def _default_data_root(self) -> str:
        if os.path.isdir("/data") and os.access("/data", os.W_OK):
            return "/data"
        return os.path.join(self.root_dir, "data")

    @default("image_paths")
    def _default_image_paths(self) -> list[str]:
        return [sys.prefix]

    @validate("auto_stop_duration", "job_stop_grace", "metrics_interval")
    def _positive(self, proposal):
        if proposal["value"] <= 0:
            raise TraitError(f"{proposal['trait'].name} must be positive")
        return proposal["value"]

    @validate("max_concurrent_jobs")
    def _at_least_one(self, proposal):
        if proposal["value"] < 1:
            raise TraitError("max_concurrent_jobs must be at least 1")
        return proposal["value"]

    @validate("image_paths")
    def _absolute_paths(self, proposal):
        for path in proposal["value"]:
            if not os.path.isabs(path):
                raise TraitError(f"image_paths must be absolute, got {path!r}")
        return proposal["value"]

    @validate("workspaces")
    def _valid_workspaces(self, proposal):
        workspaces, seen = [], set()
        for entry in proposal["value"]:
            unknown = set(entry) - {"id", "name", "description"}
            if unknown:
                raise TraitError(f"workspaces: unknown keys {sorted(unknown)} in {entry!r}")
            try:
                workspace_id = parse_workspace_id(entry.get("id"), "id")
            except InvalidRequest as err:
                raise TraitError(f"workspaces: {entry!r}: {err.message}") from None
            if workspace_id is None or workspace_id in seen:
                raise TraitError(f"workspaces: {entry!r} needs an id of its own")
            if not isinstance(entry.get("name", ""), str) or not isinstance(
                entry.get("description", ""), str
            ):
                raise TraitError(f"workspaces: {entry!r}: name and description must be strings")
            seen.add(workspace_id)
            workspaces.append(entry)
        if DEFAULT_WORKSPACE not in seen:
            workspaces.insert(0, {"id": DEFAULT_WORKSPACE, "name": "default"})
        workspaces.sort(key=lambda w: w["id"] != DEFAULT_WORKSPACE)
        return workspaces

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._take_moved_settings()
        self.objects = ObjectStore(self.object_store_root)
        self.data = DataRoot(self.data_root)
        self.images_dir = os.path.join(self.state_dir, "images")
        self.flavor = _machine_flavor()
        self.engines = KernelEngines(self.parent.serverapp, self.log)
        self.lease = LeaseTimer(
            self.store,
            enabled=self.auto_stop_enabled,
            duration_s=self.auto_stop_duration,
            kind=self.auto_stop_type,
            on_expire=self.request_shutdown,
            activity=Activity(self.parent.serverapp),
            live_jobs=self._jobs_live,
            log=self.log,
        )
        self.jobs = JobRunner(
            store=self.store,
            objects=self.objects,
            jobs_dir=os.path.join(self.state_dir, "jobs"),
            max_concurrent=self.max_concurrent_jobs,
            stop_grace_s=self.job_stop_grace,
            metrics_interval_s=self.metrics_interval,
            log=self.log,
        )
        self._tasks: set[asyncio.Task] = set()
        self._image_progress: dict[str, tuple[int, int]] = {}
        # Image saves get threads of their own, never the loop's default executor, so a submit
        # or a mount never queues behind them: each save lists and writes in one of
        # _image_threads, compresses in _deflate_threads; a slot bounds the saves at work.
        self._image_threads = ThreadPoolExecutor(
            IMAGE_SAVES_AT_ONCE, thread_name_prefix="image-save"
        )
        self._deflate_threads = ThreadPoolExecutor(
            os.cpu_count() or 1, thread_name_prefix="image-deflate"
        )
        self._image_slots: asyncio.Semaphore | None = None  # made on the loop (Python 3.9)
        self._closing = threading.Event()

    def _take_moved_settings(self) -> None:
        """Honour the settings' old ``c.ModelArtsApp.*`` names, with a deprecation warning; a
        value given under the new name wins."""
        configured = self.config.get(type(self).__name__, {})
        for name in MOVED_TO_LOCAL_BACKEND:
            value = getattr(self.parent, name, None)
            if value is None:
                continue
            message = f"c.ModelArtsApp.{name} is deprecated: set c.LocalBackend.{name} instead" + (
                " (ignored: both are set)" if name in configured else ""
            )
            warnings.warn(message, DeprecationWarning, stacklevel=2)
            self.log.warning("jupyter_modelarts: %s", message)
            if name not in configured:
                setattr(self, name, value)

    def _background(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def start(self) -> None:
        self.lease.start()
        await self._resume_mounts()
        self._fail_interrupted_images()
        await asyncio.to_thread(self._remove_partial_image_files)
        await self.jobs.start()

    async def close(self) -> None:
        self.lease.close()
        self._closing.set()  # a save still writing stops at its next progress report
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        # Cancelled saves record their final state before the store closes.
        await asyncio.gather(*tasks, return_exceptions=True)
        for pool in (self._image_threads, self._deflate_threads):
            pool.shutdown(wait=False, cancel_futures=True)
        await self.jobs.close()

    # -- workspaces and checks ---------------------------------------------------------------

    async def list_workspaces(self) -> list[Workspace]:
        return [
            Workspace(w["id"], w.get("name") or w["id"], description=w.get("description", ""))
            for w in self.workspaces
        ]

    def _workspace_for(self, workspace_id: str | None) -> str:
        """The workspace a submit or save goes to: the one asked, which must be configured, else
        the current one."""
        workspace_id = workspace_id or self.current_workspace
        if workspace_id not in {w["id"] for w in self.workspaces}:
            known = ", ".join(w["id"] for w in self.workspaces)
            raise InvalidRequest(
                f"no workspace {workspace_id!r}: this server's are {known} "
                "(c.LocalBackend.workspaces)",
                field="workspace_id",
            )
        return workspace_id

    async def run_checks(self, workspace_id: str) -> list[Check]:
        def folder_fix(name: str) -> str:
            return N_(f"Create the folder, or point c.LocalBackend.{name} at a writable folder.")

        found = await asyncio.gather(
            self._guarded("workspace", "workspace", self._check_workspace(workspace_id)),
            self._guarded("quota:training", "quota", self._check_slots()),
            self._guarded(
                "local:state_dir",
                "local",
                asyncio.to_thread(
                    checks.writable_folder,
                    "local:state_dir",
                    N_("State folder (jobs, logs, images)"),
                    self.state_dir,
                    N_("Point c.ModelArtsApp.state_dir at a folder this server may write."),
                ),
            ),
            self._guarded(
                "local:disk",
                "local",
                asyncio.to_thread(checks.disk, self.images_dir, self.image_size_limit),
            ),
            self._guarded(
                "local:objects",
                "local",
                asyncio.to_thread(
                    checks.writable_folder,
                    "local:objects",
                    N_("Object store (stands for OBS)"),
                    self.objects.root,
                    folder_fix("object_store_root"),
                ),
            ),
            self._guarded(
                "local:data_root",
                "local",
                asyncio.to_thread(
                    checks.writable_folder,
                    "local:data_root",
                    N_("Data root (stands for /data/, where mounts go)"),
                    self.data.root,
                    folder_fix("data_root"),
                ),
            ),
            self._guarded("local:kernelspecs", "local", self._check_kernelspecs()),
        )
        return list(found)

    async def _guarded(self, check_id: str, area: str, work) -> Check:
        """The check ``work`` makes; one that breaks fails, saying how (and the log has why)."""
        try:
            return await work
        except Exception as err:
            self.log.exception("check %s could not be made", check_id)
            return Check(
                id=check_id,
                area=area,
                title=check_id,
                status=CheckStatus.FAIL,
                detail=f"the check could not be made: {_reason(err)}",
            )

    async def _check_workspace(self, workspace_id: str) -> Check:
        title = N_("Current workspace")
        for workspace in await self.list_workspaces():
            if workspace.id == workspace_id:
                return Check(
                    id="workspace",
                    area="workspace",
                    title=title,
                    status=CheckStatus.PASS,
                    detail=f"{workspace.name} ({workspace.id}) is one of this server's workspaces",
                )
        known = ", ".join(w["id"] for w in self.workspaces)
        return Check(
            id="workspace",
            area="workspace",
            title=title,
            status=CheckStatus.FAIL,
            detail=f"workspace {workspace_id!r} is not one of this server's ({known}): "
            "submits and image saves to it are refused",
            fix="Pick one of them (the panel's workspace picker, or PUT /workspaces/current), or "
            "add it to c.LocalBackend.workspaces.",
        )

    async def _check_slots(self) -> Check:
        def count() -> tuple[int, int]:
            local = self.jobs.local_jobs(JobPhase.RUNNING, JobPhase.TERMINATING, JobPhase.PENDING)
            running = sum(d["phase"] != JobPhase.PENDING.value for d in local)
            return running, len(local) - running

        running, pending = await asyncio.to_thread(count)
        limit = self.max_concurrent_jobs
        free = max(limit - running, 0)
        if free:
            detail = N_(f"{free} of {limit} job slots free (c.LocalBackend.max_concurrent_jobs)")
        else:
            # Not a failure here: a submit is accepted and waits its turn.
            detail = N_(
                f"all {limit} job slots are taken ({pending} waiting): a job submitted now "
                "waits in Pending until one ends, it is not refused"
            )
        return Check(
            id="quota:training",
            area="quota",
            title="Training job slots",
            status=CheckStatus.PASS,
            detail=detail,
        )

    async def _check_kernelspecs(self) -> Check:
        specs = await asyncio.to_thread(self.parent.serverapp.kernel_spec_manager.get_all_specs)
        if inspect.isawaitable(specs):  # e.g. a gateway's kernelspec manager
            specs = await specs
        return await asyncio.to_thread(checks.kernelspecs, specs, kernel_interpreter)

    # -- instance ----------------------------------------------------------------------------

    def _instance_id(self) -> str:
        record = self.store.get("setting", "instance")
        if record is None:
            record = {"created_at": now_ms(), "id": str(uuid.uuid4())}
            self.store.put("setting", "instance", record)
        return record["id"]

    async def get_instance(self) -> Instance:
        return Instance(
            backend=self.name,
            id=self._instance_id(),
            name=socket.gethostname(),
            status="RUNNING",
            flavor=self.flavor,
            image=f"python {platform.python_version()} at {sys.prefix}",
            lease=self.lease.get(),
            object_store_root=self.objects.root,
        )

    async def get_lease(self) -> Lease:
        return self.lease.get()

    async def renew_lease(self, duration_s: int, kind: str | None = None) -> Lease:
        lease = self.lease.renew(duration_s, kind)
        if lease.type == "IDLE":
            self.log.info("auto-stop renewed: stops after %d s idle", duration_s)
        else:
            self.log.info(
                "auto-stop renewed for %d s (stops at %s)",
                duration_s,
                time.strftime("%H:%M:%S", time.localtime(lease.stop_at / 1000)),
            )
        return lease

    async def note_activity(self) -> None:
        self.lease.activity_seen()

    def _jobs_live(self) -> bool:
        """Whether a job of this server is pending or running (a store query: off the loop)."""
        return bool(self.jobs.local_jobs(JobPhase.PENDING, JobPhase.RUNNING, JobPhase.TERMINATING))

    async def list_flavors(self) -> list[Flavor]:
        return [self.flavor]

    async def list_engines(self) -> list[Engine]:
        return await self.engines.engines()

    # -- mounts ------------------------------------------------------------------------------

    # A mount's store record is its wire form plus, under "link", where its link goes
    # ("location"), what it points at ("target") and what it replaced ("replaced": an empty
    # folder's mode, or None; recorded before attaching, so a crash can't lose it).

    def _record(self, data: dict) -> tuple[Mount, dict]:
        data = dict(data)
        link = dict(data.pop("link", None) or {})
        mount = self._with_local_path(Mount.from_record(data))
        if "location" not in link:  # recorded before locations were
            link["location"] = self.data.locate(mount.mount_path)
        return mount, link

    def _mount(self, mount_id: str) -> tuple[Mount, dict]:
        data = self.store.get("mount", mount_id)
        if data is None:
            raise NotFound(f"no mount {mount_id}", field="mount_id")
        return self._record(data)

    def _with_local_path(self, mount: Mount) -> Mount:
        mount.local_path = self.data.local_path(mount.mount_path)
        return mount

    def _save_mount(self, mount: Mount, link: dict) -> None:
        mount.updated_at = now_ms()
        self.store.put("mount", mount.id, {**mount.to_json(), "link": link})

    def _broken(self, mount: Mount, link: dict) -> str | None:
        """Why a MOUNTED mount no longer shows its folder (its link was deleted or replaced in the
        file browser, say), or None: a few lstat calls."""
        if mount.status is not MountStatus.MOUNTED:
            return None
        problem = self.data.problem(link["location"], link.get("target"))
        return None if problem is None else f"{mount.mount_path} {problem}"

    def _checked(self, records: list[tuple[Mount, dict]]) -> list[Mount]:
        """The mounts as the API shows them: a broken one is BROKEN, saying what was found."""
        for mount, link in records:
            reason = self._broken(mount, link)
            if reason is not None:
                mount.status, mount.failure_reason = MountStatus.BROKEN, reason
        return [mount for mount, _ in records]

    async def list_mounts(self) -> list[Mount]:
        records = [self._record(d) for d in self.store.list("mount")]
        return await asyncio.to_thread(self._checked, records)

    async def get_mount(self, mount_id: str) -> Mount:
        (mount,) = await asyncio.to_thread(self._checked, [self._mount(mount_id)])
        return mount

    async def create_mount(self, uri: str, mount_path: str) -> Mount:
        obs = parse_obs_uri(uri)
        mount_path = parse_mount_path(mount_path)
        location = await asyncio.to_thread(self.data.locate, mount_path)
        for data in self.store.list("mount"):
            other, link = self._record(data)
            if other.status is MountStatus.MOUNT_FAILED:
                continue
            # Compared as spelled and as resolved: a link in the data root is another spelling.
            for a, b in (
                sorted([other.mount_path, mount_path], key=len),
                sorted([link["location"] + "/", location + "/"], key=len),
            ):
                if b.startswith(a):
                    # Parts of the message: the server translates each (jupyter_modelarts/i18n.py).
                    what = (
                        N_("is already mounted")
                        if a == b
                        else N_(f"overlaps the mount at {other.mount_path}")
                    )
                    raise InvalidRequest(f"{mount_path} {what} ({other.uri})", field="mount_path")
        if not self.data.contains(location):
            raise InvalidRequest(
                f"{mount_path} leads to {location} through a symbolic link: not a folder inside "
                "the data root",
                field="mount_path",
            )
        self.objects.bucket_dir(obs.bucket)  # 404 before anything is recorded
        mount = self._with_local_path(
            Mount(
                id=str(uuid.uuid4()),
                uri=str(obs),
                mount_path=mount_path,
                status=MountStatus.MOUNTING,
            )
        )
        self._save_mount(mount, {"location": location})
        self._background(self._attach(mount.id))
        return mount

    async def _attach(self, mount_id: str) -> None:
        mount, link = self._mount(mount_id)
        try:
            link["target"] = self.objects.path_for(parse_obs_uri(mount.uri), create=True)
            if "replaced" not in link:  # a retry after a crash keeps the first survey
                link["replaced"] = await asyncio.to_thread(self.data.survey, link["location"])
                self._save_mount(mount, link)
            await asyncio.to_thread(self.data.attach, link["location"], link["target"])
            mount.status, mount.failure_reason = MountStatus.MOUNTED, None
        except (OSError, NotFound, InvalidRequest) as err:
            mount.status, mount.failure_reason = MountStatus.MOUNT_FAILED, str(err)
            self.log.warning("mount %s at %s failed: %s", mount.uri, mount.mount_path, err)
        except Exception as err:  # unforeseen: still a final state, and the traceback logged
            mount.status, mount.failure_reason = MountStatus.MOUNT_FAILED, _reason(err)
            self.log.exception("mount %s at %s failed", mount.uri, mount.mount_path)
        self._save_mount(mount, link)

    async def delete_mount(self, mount_id: str) -> Mount:
        mount, link = self._mount(mount_id)
        if mount.status is MountStatus.MOUNT_FAILED:
            self.store.delete("mount", mount_id)
            mount.status = MountStatus.UNMOUNTED
            return mount
        if mount.status in (MountStatus.MOUNTING, MountStatus.UNMOUNTING):
            raise Conflict(
                f"mount {mount_id} is {mount.status.value}; wait until it settles", field="mount_id"
            )
        # On the loop (a few syscalls), so no other request on this mount can interleave.
        found = self.data.link_problem(link["location"], link.get("target"))
        if mount.status is MountStatus.MOUNTED and found is not None:
            # Broken, and no link of ours is left to remove: forget it at once, touching nothing
            # found there (an empty folder the mount had replaced comes back if the place is free).
            reason = f"{mount.mount_path} {found}"
            try:
                self.data.detach(link["location"], link.get("target"), link.get("replaced"))
            except OSError as err:
                self.log.warning(
                    "could not put back the empty folder at %s: %s", mount.mount_path, err
                )
            self.store.delete("mount", mount_id)
            self.log.warning("forgot the broken mount of %s: %s", mount.uri, reason)
            mount.status = MountStatus.UNMOUNTED
            mount.failure_reason = (
                f"{reason}; the mount was forgotten, what is there was left as is"
            )
            return mount
        mount.status = MountStatus.UNMOUNTING
        self._save_mount(mount, link)
        self._background(self._detach(mount_id))
        return mount

    async def _detach(self, mount_id: str) -> None:
        mount, link = self._mount(mount_id)
        try:
            found = await asyncio.to_thread(
                self.data.detach, link["location"], link.get("target"), link.get("replaced")
            )
        except OSError as err:
            mount.status, mount.failure_reason = MountStatus.UNMOUNT_FAILED, str(err)
            self._save_mount(mount, link)
            return
        except Exception as err:  # unforeseen: still a final state, and the traceback logged
            self.log.exception("unmounting %s failed", mount.mount_path)
            mount.status, mount.failure_reason = MountStatus.UNMOUNT_FAILED, _reason(err)
            self._save_mount(mount, link)
            return
        if found is not None and found != self.data.GONE:
            self.log.warning("unmounted %s without touching it: it %s", mount.mount_path, found)
        self.store.delete("mount", mount_id)

    async def _resume_mounts(self) -> None:
        """Finish what a restart interrupted, and re-link mounts whose link went missing (a data
        root that did not outlive the restart); each record on its own, so one that can't be
        read stops none of the others."""
        for data in self.store.list("mount"):
            try:
                mount, link = self._record(data)
                if mount.status is MountStatus.UNMOUNTING:
                    await self._detach(mount.id)
                elif mount.status is MountStatus.MOUNTING or (
                    mount.status is MountStatus.MOUNTED and not os.path.lexists(link["location"])
                ):
                    await self._attach(mount.id)
            except Exception:
                self.log.exception("could not recover mount record %s", data.get("id"))

    # -- images ------------------------------------------------------------------------------

    def _image(self, image_id: str) -> ImageSnapshot:
        data = self.store.get("image", image_id)
        if data is None:
            raise NotFound(f"no image {image_id}", field="image_id")
        image = ImageSnapshot.from_record(data)
        if image_id in self._image_progress:
            image.bytes_done, image.bytes_total = self._image_progress[image_id]
        return image

    def _save_image(self, image: ImageSnapshot) -> None:
        image.updated_at = now_ms()
        self.store.put("image", image.id, image.to_json())

    async def list_images(self, workspace_id: str | None = None) -> list[ImageSnapshot]:
        images = [self._image(d["id"]) for d in self.store.list("image")]
        return [i for i in images if workspace_id in (None, i.workspace_id)]

    async def get_image(self, image_id: str) -> ImageSnapshot:
        return self._image(image_id)

    async def save_image(self, request: ImageRequest) -> ImageSnapshot:
        workspace_id = self._workspace_for(request.workspace_id)
        for other in await self.list_images():
            if (other.namespace, other.name, other.tag) == (
                request.namespace,
                request.name,
                request.tag,
            ) and other.status is not ImageStatus.CREATE_FAILED:
                raise Conflict(
                    f"{request.namespace}/{request.name}:{request.tag} already exists "
                    f"({other.status.value}); choose another tag",
                    field="tag",
                )
        image = ImageSnapshot(
            id=str(uuid.uuid4()),
            name=request.name,
            tag=request.tag,
            namespace=request.namespace,
            description=request.description,
            status=ImageStatus.INIT,
            workspace_id=workspace_id,
            # One folder per name: a name can't hold '/', so no two references share a file.
            location=os.path.join(
                self.images_dir, request.namespace, request.name, f"{request.tag}.oci.tar"
            ),
        )
        self._save_image(image)
        self._background(self._build_image(image.id))
        return image

    async def _build_image(self, image_id: str) -> None:
        from . import image as oci

        image = self._image(image_id)
        loop = asyncio.get_running_loop()

        def progress(done: int, total: int) -> None:
            if self._closing.is_set():
                raise oci.ImageBuildError(_SERVER_STOPPED)
            loop.call_soon_threadsafe(self._image_progress.__setitem__, image_id, (done, total))

        if self._image_slots is None:
            self._image_slots = asyncio.Semaphore(IMAGE_SAVES_AT_ONCE)
        try:
            if self._image_slots.locked():
                image.status_message = (
                    f"queued: {IMAGE_SAVES_AT_ONCE} image saves are written at a time"
                )
                self._save_image(image)
            async with self._image_slots:
                image.status_message = "listing the files"
                self._save_image(image)
                plan = await loop.run_in_executor(
                    self._image_threads, oci.plan_layer, list(self.image_paths)
                )
                image.bytes_total = plan.total_bytes
                if plan.total_bytes > self.image_size_limit:
                    raise oci.ImageBuildError(
                        f"The container size ({plan.total_bytes / 1e9:.1f}G) is greater than the "
                        f"threshold ({self.image_size_limit / 1e9:.0f}G); remove files from "
                        f"{', '.join(self.image_paths)} or raise c.LocalBackend.image_size_limit"
                    )
                image.status = ImageStatus.CREATING
                image.status_message = "writing the OCI archive"
                self._save_image(image)
                os.makedirs(os.path.dirname(image.location), exist_ok=True)
                write = functools.partial(
                    oci.write_oci_archive,
                    plan,
                    image.location,
                    ref_name=image.tag,
                    labels={
                        "org.opencontainers.image.title": f"{image.namespace}/{image.name}",
                        "org.opencontainers.image.description": image.description,
                        "com.huaweicloud.modelarts.origin": "IMAGE_SAVE",
                    },
                    progress=progress,
                    executor=self._deflate_threads,
                )
                info = await loop.run_in_executor(self._image_threads, write)
        except asyncio.CancelledError:  # close(): the thread stops at its next progress report
            image.status, image.status_message = ImageStatus.CREATE_FAILED, _SERVER_STOPPED
            raise
        except (oci.ImageBuildError, OSError) as err:
            image.status, image.status_message = ImageStatus.CREATE_FAILED, str(err)
            self.log.warning(
                "image %s/%s:%s failed: %s", image.namespace, image.name, image.tag, err
            )
        except Exception as err:  # unforeseen: still a final state, and the traceback logged
            image.status, image.status_message = ImageStatus.CREATE_FAILED, _reason(err)
            self.log.exception("image %s/%s:%s failed", image.namespace, image.name, image.tag)
        else:
            image.status, image.status_message = ImageStatus.ACTIVE, info.manifest_digest
            image.size_bytes = info.archive_bytes
            image.bytes_done = image.bytes_total
        finally:
            self._image_progress.pop(image_id, None)
            self._save_image(image)

    def _remove_partial_image_files(self) -> None:
        """Delete what saves cut short by a crash left behind (the writer's hidden .tmp files):
        at start-up no save of this state folder is running."""
        for folder, _, files in os.walk(self.images_dir):
            for name in files:
                if name.startswith(".") and name.endswith(".tmp"):
                    path = os.path.join(folder, name)
                    try:
                        os.unlink(path)
                    except OSError as err:
                        self.log.warning("could not remove a partial image file: %s", err)
                    else:
                        self.log.info("removed a partial image file: %s", path)

    def _fail_interrupted_images(self) -> None:
        for data in self.store.list("image"):
            try:
                image = ImageSnapshot.from_record(data)
                if image.status in (ImageStatus.INIT, ImageStatus.CREATING):
                    image.status = ImageStatus.CREATE_FAILED
                    image.status_message = _SERVER_STOPPED
                    self._save_image(image)
            except Exception:
                self.log.exception("could not recover image record %s", data.get("id"))

    # -- jobs --------------------------------------------------------------------------------

    async def submit_job(self, spec: JobSpec) -> Job:
        if spec.flavor not in (None, self.flavor.id):
            raise InvalidRequest(
                f"unknown flavor {spec.flavor!r}; this backend has {self.flavor.id!r}",
                field="flavor",
            )
        engine = await self.engines.resolve(spec.engine)
        if spec.image is not None:
            raise InvalidRequest(
                "the local backend runs jobs with a Python kernelspec (engine); "
                "custom images need the ModelArts backend",
                field="image",
            )
        # The job records the flavor it runs on, so lists show it.
        spec = dataclasses.replace(
            spec, flavor=self.flavor.id, workspace_id=self._workspace_for(spec.workspace_id)
        )
        if spec.command is not None:
            # A command runs as given.
            return await self.jobs.submit(spec, self.root_dir, code_root=self.code_root)
        # The job records the kernelspec it runs on, so it shows which one ran.
        spec = dataclasses.replace(spec, engine=engine.id)
        return await self.jobs.submit(
            spec, self.root_dir, python=engine.interpreter, code_root=self.code_root
        )

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
        # A sort by name, phase or duration reads every record: off the loop.
        return await asyncio.to_thread(
            read_job_page,
            self.store,
            phase=phase,
            offset=offset,
            limit=limit,
            sort=sort,
            order=order,
            workspace_id=workspace_id,
        )

    async def live_jobs(self) -> list[Job]:
        def read() -> list[Job]:
            live = tuple(p.value for p in JobPhase if not p.is_final)
            records = self.store.list("job", phases=live)
            return [Job.from_record(d) for d in records if d.get("backend") == self.name]

        return await asyncio.to_thread(read)  # their code may be big: parsed off the loop

    async def get_job(self, job_id: str) -> Job:
        return self.jobs.get(job_id)

    async def stop_job(self, job_id: str) -> Job:
        return await self.jobs.stop(job_id)

    async def delete_job(self, job_id: str) -> None:
        await self.jobs.delete(job_id)

    async def read_logs(self, job_id: str, task: str, offset: int, limit: int) -> LogChunk:
        return await self.jobs.read_logs(job_id, task, offset, limit)

    async def log_sizes(self, job_id: str) -> dict[str, int]:
        return await self.jobs.log_sizes(job_id)

    async def open_log(self, job_id: str, task: str) -> LogFile:
        return await self.jobs.open_log(job_id, task)

    async def get_metrics(self, job_id: str) -> Metrics:
        return await self.jobs.metrics(job_id)

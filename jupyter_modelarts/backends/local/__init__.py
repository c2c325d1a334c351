"""The local backend: this server is the instance; jobs, mounts, images, auto-stop are real."""

from __future__ import annotations

import asyncio
import dataclasses
import glob
import os
import platform
import socket
import sys
import time
import uuid

import psutil

from ...models import (
    MAX_NODES,
    Conflict,
    Engine,
    Flavor,
    ImageRequest,
    ImageSnapshot,
    ImageStatus,
    Instance,
    InvalidRequest,
    Job,
    JobPhase,
    JobSpec,
    Lease,
    LogChunk,
    Metrics,
    Mount,
    MountStatus,
    NotFound,
    now_ms,
    parse_mount_path,
    parse_obs_uri,
)
from ..base import Backend
from .engines import KernelEngines
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


class LocalBackend(Backend):
    """The embedded default: no cloud account, no Docker, every operation has a real effect.

    Its settings are the ``ModelArtsApp`` traits (``self.parent``).
    """

    name = "local"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        app = self.parent
        self.objects = ObjectStore(app.object_store_root)
        self.data = DataRoot(app.data_root)
        self.images_dir = os.path.join(self.state_dir, "images")
        self.flavor = _machine_flavor()
        self.engines = KernelEngines(app.serverapp, self.log)
        self.lease = LeaseTimer(
            self.store,
            enabled=app.auto_stop_enabled,
            duration_s=app.auto_stop_duration,
            on_expire=self.request_shutdown,
        )
        self.jobs = JobRunner(
            store=self.store,
            objects=self.objects,
            jobs_dir=os.path.join(self.state_dir, "jobs"),
            max_concurrent=app.max_concurrent_jobs,
            stop_grace_s=app.job_stop_grace,
            metrics_interval_s=app.metrics_interval,
            log=self.log,
        )
        self._tasks: set[asyncio.Task] = set()
        self._image_progress: dict[str, tuple[int, int]] = {}

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
        for task in list(self._tasks):
            task.cancel()
        await self.jobs.close()

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
        )

    async def get_lease(self) -> Lease:
        return self.lease.get()

    async def renew_lease(self, duration_s: int) -> Lease:
        lease = self.lease.renew(duration_s)
        self.log.info(
            "auto-stop renewed for %d s (stops at %s)",
            duration_s,
            time.strftime("%H:%M:%S", time.localtime(lease.stop_at / 1000)),
        )
        return lease

    async def list_flavors(self) -> list[Flavor]:
        return [self.flavor]

    async def list_engines(self) -> list[Engine]:
        return await self.engines.engines()

    # -- mounts ------------------------------------------------------------------------------

    def _mount(self, mount_id: str) -> Mount:
        data = self.store.get("mount", mount_id)
        if data is None:
            raise NotFound(f"no mount {mount_id}", field="mount_id")
        return self._with_local_path(Mount.from_record(data))

    def _with_local_path(self, mount: Mount) -> Mount:
        mount.local_path = self.data.local_path(mount.mount_path)
        return mount

    def _save_mount(self, mount: Mount) -> None:
        mount.updated_at = now_ms()
        self.store.put("mount", mount.id, mount.to_json())

    async def list_mounts(self) -> list[Mount]:
        return [self._with_local_path(Mount.from_record(d)) for d in self.store.list("mount")]

    async def get_mount(self, mount_id: str) -> Mount:
        return self._mount(mount_id)

    async def create_mount(self, uri: str, mount_path: str) -> Mount:
        obs = parse_obs_uri(uri)
        mount_path = parse_mount_path(mount_path)
        for other in await self.list_mounts():
            if other.status is MountStatus.MOUNT_FAILED:
                continue
            a, b = sorted([other.mount_path, mount_path], key=len)
            if b.startswith(a):
                what = "already mounted" if a == b else f"overlaps the mount at {other.mount_path}"
                raise InvalidRequest(f"{mount_path} is {what} ({other.uri})", field="mount_path")
        self.objects.bucket_dir(obs.bucket)  # 404 before anything is recorded
        mount = self._with_local_path(
            Mount(
                id=str(uuid.uuid4()),
                uri=str(obs),
                mount_path=mount_path,
                status=MountStatus.MOUNTING,
            )
        )
        self._save_mount(mount)
        self._background(self._attach(mount.id))
        return mount

    async def _attach(self, mount_id: str) -> None:
        mount = self._mount(mount_id)
        try:
            target = self.objects.path_for(parse_obs_uri(mount.uri), create=True)
            await asyncio.to_thread(self.data.attach, mount.mount_path, target)
            mount.status, mount.failure_reason = MountStatus.MOUNTED, None
        except (OSError, NotFound, InvalidRequest) as err:
            mount.status, mount.failure_reason = MountStatus.MOUNT_FAILED, str(err)
            self.log.warning("mount %s at %s failed: %s", mount.uri, mount.mount_path, err)
        except Exception as err:  # unforeseen: still a final state, and the traceback logged
            mount.status, mount.failure_reason = MountStatus.MOUNT_FAILED, _reason(err)
            self.log.exception("mount %s at %s failed", mount.uri, mount.mount_path)
        self._save_mount(mount)

    async def delete_mount(self, mount_id: str) -> Mount:
        mount = self._mount(mount_id)
        if mount.status is MountStatus.MOUNT_FAILED:
            self.store.delete("mount", mount_id)
            mount.status = MountStatus.UNMOUNTED
            return mount
        if mount.status in (MountStatus.MOUNTING, MountStatus.UNMOUNTING):
            raise Conflict(
                f"mount {mount_id} is {mount.status.value}; wait until it settles", field="mount_id"
            )
        mount.status = MountStatus.UNMOUNTING
        self._save_mount(mount)
        self._background(self._detach(mount_id))
        return mount

    async def _detach(self, mount_id: str) -> None:
        mount = self._mount(mount_id)
        try:
            await asyncio.to_thread(self.data.detach, mount.mount_path)
        except OSError as err:
            mount.status, mount.failure_reason = MountStatus.UNMOUNT_FAILED, str(err)
            self._save_mount(mount)
            return
        except Exception as err:  # unforeseen: still a final state, and the traceback logged
            self.log.exception("unmounting %s failed", mount.mount_path)
            mount.status, mount.failure_reason = MountStatus.UNMOUNT_FAILED, _reason(err)
            self._save_mount(mount)
            return
        self.store.delete("mount", mount_id)

    async def _resume_mounts(self) -> None:
        """Finish what a restart interrupted, and re-link mounts whose link went missing; each
        record on its own, so one that can't be read stops none of the others."""
        for data in self.store.list("mount"):
            try:
                mount = Mount.from_record(data)
                link = self.data.local_path(mount.mount_path)
                if mount.status is MountStatus.UNMOUNTING:
                    await self._detach(mount.id)
                elif mount.status is MountStatus.MOUNTING or (
                    mount.status is MountStatus.MOUNTED and not os.path.islink(link)
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

    async def list_images(self) -> list[ImageSnapshot]:
        return [self._image(d["id"]) for d in self.store.list("image")]

    async def get_image(self, image_id: str) -> ImageSnapshot:
        return self._image(image_id)

    async def save_image(self, request: ImageRequest) -> ImageSnapshot:
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
            # One folder per name: a name can't hold '/', so no two references share a file.
            location=os.path.join(
                self.images_dir, request.namespace, request.name, f"{request.tag}.oci.tar"
            ),
        )
        self._save_image(image)
        self._background(self._build_image(image.id))
        return image

    async def _build_image(self, image_id: str) -> None:
        from .image import ImageBuildError, plan_layer, write_oci_archive

        image = self._image(image_id)
        app = self.parent
        loop = asyncio.get_running_loop()

        def progress(done: int, total: int) -> None:
            loop.call_soon_threadsafe(self._image_progress.__setitem__, image_id, (done, total))

        try:
            plan = await asyncio.to_thread(plan_layer, list(app.image_paths))
            image.bytes_total = plan.total_bytes
            if plan.total_bytes > app.image_size_limit:
                raise ImageBuildError(
                    f"The container size ({plan.total_bytes / 1e9:.1f}G) is greater than the "
                    f"threshold ({app.image_size_limit / 1e9:.0f}G); remove files from "
                    f"{', '.join(app.image_paths)} or raise c.ModelArtsApp.image_size_limit"
                )
            image.status, image.status_message = ImageStatus.CREATING, "writing the OCI archive"
            self._save_image(image)
            os.makedirs(os.path.dirname(image.location), exist_ok=True)
            info = await asyncio.to_thread(
                write_oci_archive,
                plan,
                image.location,
                ref_name=image.tag,
                labels={
                    "org.opencontainers.image.title": f"{image.namespace}/{image.name}",
                    "org.opencontainers.image.description": image.description,
                    "com.huaweicloud.modelarts.origin": "IMAGE_SAVE",
                },
                progress=progress,
            )
        except (ImageBuildError, OSError) as err:
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
                    image.status_message = "the server stopped while the image was being written"
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
        if spec.command is not None:
            return await self.jobs.submit(spec, self.root_dir)  # a command runs as given
        # The job records the kernelspec it runs on, so it shows which one ran.
        spec = dataclasses.replace(spec, engine=engine.id)
        return await self.jobs.submit(spec, self.root_dir, python=engine.interpreter)

    async def list_jobs(self, phase: JobPhase | None = None) -> list[Job]:
        records = self.store.list("job", phases=(phase.value,) if phase else ())
        return [Job.from_record(d) for d in records]

    async def get_job(self, job_id: str) -> Job:
        return self.jobs.get(job_id)

    async def stop_job(self, job_id: str) -> Job:
        return await self.jobs.stop(job_id)

    async def delete_job(self, job_id: str) -> None:
        await self.jobs.delete(job_id)

    async def read_logs(self, job_id: str, task: str, offset: int, limit: int) -> LogChunk:
        return self.jobs.read_logs(job_id, task, offset, limit)

    async def get_metrics(self, job_id: str) -> Metrics:
        return self.jobs.metrics(job_id)

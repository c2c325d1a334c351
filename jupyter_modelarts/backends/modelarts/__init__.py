"""The ModelArts cloud backend: the same operations against the real API, over httpx."""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from traitlets import Float, Int, Unicode, default

from ... import __version__
from ...models import (
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
    MetricSeries,
    Mount,
    MountStatus,
    NotFound,
    Task,
    log_piece,
    now_ms,
    parse_mount_path,
    parse_obs_uri,
)
from .. import in_modelarts_notebook
from ..base import Backend
from ..snapshot import INLINE_BOOT_FILE, in_snapshot_pool, resolve_code
from .auth import CredentialChain, ModelArtsAuth
from .client import ModelArtsClient, SharedPoll, UncertainOutcome
from .obs import ObsClient, upload_dir

# IAM actions named in permission errors, so a 403 says what to ask the administrator for.
_ACTIONS = {
    "notebook": "modelarts:notebook:get",
    "renew": "modelarts:notebook:updateStopPolicy",
    "mount": "modelarts:notebook:mountStorage",
    "unmount": "modelarts:notebook:umountStorage",
    "storages": "modelarts:notebook:listStorages",
    "image_create": "modelarts:image:create",
    "image_get": "modelarts:image:get",
    "image_list": "modelarts:image:list",
    "job_create": "modelarts:trainJob:create",
    "job_get": "modelarts:trainJob:get",
    "job_list": "modelarts:trainJob:list",
    "job_stop": "modelarts:trainJob:update",
    "job_delete": "modelarts:trainJob:delete",
    "job_logs": "modelarts:trainJob:getLogs",
    "job_metrics": "modelarts:trainJob:getMetrics",
    "flavors": "modelarts:trainJob:listFlavors",
    "engines": "modelarts:trainJob:listEngines",
}
_SUBMIT_ANNOTATION = "jupyter-modelarts/submit-id"
_CPU_RE = re.compile(r"(\d+)u")


def _obs_path(uri: str) -> str:
    """``obs://bucket/dir/`` → ``/bucket/dir/``, the form the training API documents."""
    return "/" + uri[len("obs://") :]


def _lease(data: dict[str, Any]) -> Lease:
    stop_at = data["create_at"] + data["duration"] if data.get("create_at") else None
    return Lease(
        enabled=bool(data.get("enable")),
        type=str(data.get("type", "TIMING")).upper(),
        duration_s=data["duration"] // 1000 if data.get("duration") is not None else None,
        renewed_at=data.get("update_at"),
        stop_at=stop_at,
        remaining_s=max(0.0, (stop_at - now_ms()) / 1000) if stop_at else None,
    )


def _notebook_flavor(name: str) -> Flavor:
    cpus = _CPU_RE.search(name or "")
    kind = "GPU" if "gpu" in (name or "") or ".p" in (name or "") else "CPU"
    return Flavor(
        id=name,
        name=name,
        type=kind,
        cpu_count=int(cpus.group(1)) if cpus else 0,
        memory_mb=0,
    )


def _mount(data: dict[str, Any], created_at: int | None) -> Mount:
    try:
        status = MountStatus(data.get("status", "MOUNTING"))
    except ValueError:
        status = MountStatus.MOUNT_FAILED
    return Mount(
        id=data["id"],
        uri=data.get("uri", ""),
        mount_path=data.get("mount_path", ""),
        # The notebook is the instance: its /data/ is where Jupyter runs.
        local_path=data.get("mount_path", ""),
        status=status,
        category=data.get("category", "OBS"),
        failure_reason=data.get("failure_reason"),
        created_at=created_at or now_ms(),
    )


_IMAGE_STATUS = {
    "INIT": ImageStatus.INIT,
    "CREATING": ImageStatus.CREATING,
    "ACTIVE": ImageStatus.ACTIVE,
    "CREATE_FAILED": ImageStatus.CREATE_FAILED,
    "ERROR": ImageStatus.CREATE_FAILED,
}


def _image(data: dict[str, Any]) -> ImageSnapshot:
    size_kb = data.get("size")
    return ImageSnapshot(
        id=data["id"],
        name=data.get("name", ""),
        tag=data.get("tag", ""),
        namespace=data.get("namespace", ""),
        status=_IMAGE_STATUS.get(str(data.get("status")), ImageStatus.CREATE_FAILED),
        description=data.get("description", "") or "",
        status_message=data.get("status_message", "") or "",
        size_bytes=int(size_kb) * 1024 if size_kb else None,
        location=data.get("swr_path"),
        created_at=data.get("create_at") or now_ms(),
        updated_at=data.get("update_at") or now_ms(),
    )


def _flavor(data: dict[str, Any]) -> Flavor:
    info = data.get("flavor_info") or {}
    memory = info.get("memory") or {}
    size = memory.get("size") or 0
    memory_mb = int(size * 1024) if str(memory.get("unit", "GiB")).upper().startswith("G") else size
    gpu = info.get("gpu") or {}
    return Flavor(
        id=data["flavor_id"],
        name=data.get("flavor_name", data["flavor_id"]),
        type=data.get("flavor_type", "CPU"),
        cpu_count=int((info.get("cpu") or {}).get("core_num") or 0),
        memory_mb=int(memory_mb),
        gpu_count=int(gpu.get("unit_num") or 0),
        gpu_name=gpu.get("product_name"),
        max_nodes=int(data.get("max_num") or info.get("max_num") or 1),
    )


class ModelArtsBackend(Backend):
    """Huawei Cloud ModelArts over its REST API, with Huawei's credential chain.

    Configure with ``c.ModelArtsBackend.*``. Inside a ModelArts notebook, ``PROJECT_ID`` and
    ``INSTANCE_ID`` come from the environment and the metadata service supplies keys.
    """

    name = "modelarts"

    region = Unicode(
        config=True,
        help="""Huawei Cloud region, e.g. cn-north-4. Default: $HUAWEICLOUD_SDK_REGION, else
        cn-north-4.""",
    )
    project_id = Unicode(
        config=True,
        help="""Project id of the region. Default: $PROJECT_ID (set in ModelArts notebooks),
        $HUAWEICLOUD_SDK_PROJECT_ID, the credentials file, or the IAM token's project.""",
    )
    instance_id = Unicode(
        config=True,
        help="""Id of the notebook instance this server runs in. Default: $INSTANCE_ID (set in
        ModelArts notebooks). Instance, lease, mounts and image saving need it.""",
    )
    workspace_id = Unicode("0", config=True, help="ModelArts workspace id. Default: 0.")
    modelarts_endpoint = Unicode(
        config=True,
        help="ModelArts API endpoint. Default: https://modelarts.<region>.myhuaweicloud.com.",
    )
    iam_endpoint = Unicode(
        config=True,
        help="""IAM endpoint for tokens and temporary keys. Default:
        $HUAWEICLOUD_SDK_IAM_ENDPOINT, else https://iam.<region>.myhuaweicloud.com.""",
    )
    obs_endpoint = Unicode(
        config=True,
        help="OBS endpoint for code uploads. Default: https://obs.<region>.myhuaweicloud.com.",
    )
    metadata_endpoint = Unicode(
        config=True,
        help="""Metadata service that hands out temporary keys. Default: http://169.254.169.254
        inside a ModelArts notebook, otherwise none (not tried).""",
    )
    credentials_file = Unicode(
        None,
        allow_none=True,
        config=True,
        help="""Credentials file in the official SDK's format. Default:
        $HUAWEICLOUD_SDK_CREDENTIALS_FILE, else ~/.huaweicloud/credentials.""",
    )
    iam_user = Unicode("", config=True, help="IAM user name for password tokens (optional).")
    iam_domain = Unicode("", config=True, help="Account (domain) name of iam_user.")
    iam_password = Unicode(
        "",
        config=True,
        help="""Password of iam_user. Prefer the environment variable
        JUPYTER_MODELARTS_IAM_PASSWORD to a config file.""",
    )
    code_uri = Unicode(
        "",
        config=True,
        help="""obs://bucket/prefix/ under which job code is uploaded (<prefix>/<job name>/code/)
        and job logs are exported. Required to submit jobs.""",
    )
    default_flavor = Unicode(
        "",
        config=True,
        help="Training flavor when a job names none. Default: the first CPU flavor listed.",
    )
    default_engine = Unicode(
        "",
        config=True,
        help="""Training engine when a job names none, as an engine_id or
        "<engine_name>:<engine_version>". Default: the first PyTorch engine listed.""",
    )
    cache_ttl = Float(
        2.0,
        config=True,
        help="""Seconds an answer about the lease, instance, jobs or logs is shared by all
        pollers before ModelArts is asked again. Default: 2.""",
    )
    request_timeout = Float(30.0, config=True, help="Seconds per HTTP request. Default: 30.")
    max_retries = Int(
        4, config=True, help="Retries of a failed call (backoff with jitter). Default: 4."
    )

    @default("region")
    def _default_region(self) -> str:
        return os.environ.get("HUAWEICLOUD_SDK_REGION", "cn-north-4")

    @default("project_id")
    def _default_project_id(self) -> str:
        return os.environ.get("PROJECT_ID") or os.environ.get("HUAWEICLOUD_SDK_PROJECT_ID", "")

    @default("instance_id")
    def _default_instance_id(self) -> str:
        return os.environ.get("INSTANCE_ID", "")

    @default("modelarts_endpoint")
    def _default_modelarts_endpoint(self) -> str:
        return f"https://modelarts.{self.region}.myhuaweicloud.com"

    @default("iam_endpoint")
    def _default_iam_endpoint(self) -> str:
        return os.environ.get(
            "HUAWEICLOUD_SDK_IAM_ENDPOINT", f"https://iam.{self.region}.myhuaweicloud.com"
        )

    @default("obs_endpoint")
    def _default_obs_endpoint(self) -> str:
        return f"https://obs.{self.region}.myhuaweicloud.com"

    @default("metadata_endpoint")
    def _default_metadata_endpoint(self) -> str:
        return "http://169.254.169.254" if in_modelarts_notebook() else ""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.credentials = CredentialChain(
            env=os.environ,
            credentials_file=self.credentials_file,
            iam_endpoint=self.iam_endpoint,
            region=self.region,
            iam_user=self.iam_user or None,
            iam_password=self.iam_password
            or os.environ.get("JUPYTER_MODELARTS_IAM_PASSWORD")
            or None,
            iam_domain=self.iam_domain or None,
            metadata_endpoint=self.metadata_endpoint or None,
            timeout=self.request_timeout,
            log=self.log,
        )
        self.api: ModelArtsClient | None = None
        self.obs = ObsClient(
            self.obs_endpoint,
            self.credentials.get_keys,
            timeout=self.request_timeout,
            retries=self.max_retries,
        )
        self.poll = SharedPoll(self.cache_ttl)
        self._project: str | None = None
        self._reconcile: asyncio.Future | None = None

    async def _client(self) -> tuple[ModelArtsClient, str]:
        """The API client and project id, made on first use (the project may need IAM)."""
        if self.api is None:
            project = self.project_id or self.credentials.project_id
            if not project:
                await self.credentials.get()
                project = self.credentials.project_id
            if not project:
                raise InvalidRequest(
                    "no project id: set c.ModelArtsBackend.project_id or "
                    "HUAWEICLOUD_SDK_PROJECT_ID",
                    field="project_id",
                )
            self._project = project
            self.api = ModelArtsClient(
                endpoint=self.modelarts_endpoint,
                auth=ModelArtsAuth(self.credentials, project),
                timeout=self.request_timeout,
                max_retries=self.max_retries,
                user_agent=f"jupyter-modelarts/{__version__}",
            )
        return self.api, self._project

    async def _call(self, method: str, path: str, action: str, **kwargs) -> Any:
        api, project = await self._client()
        return await api.call(method, path.format(p=project), action=_ACTIONS[action], **kwargs)

    def _notebook_path(self, suffix: str = "") -> str:
        if not self.instance_id:
            raise InvalidRequest(
                "no notebook instance: set c.ModelArtsBackend.instance_id (INSTANCE_ID inside "
                "ModelArts)",
                field="instance_id",
            )
        return f"/v1/{{p}}/notebooks/{self.instance_id}{suffix}"

    async def start(self) -> None:
        """Reconcile the cloud jobs recorded before a restart with what ModelArts says now."""
        live = tuple(p.value for p in JobPhase if not p.is_final)
        ids = [
            d["id"] for d in self.store.list("job", phases=live) if d.get("backend") == self.name
        ]
        if ids:
            self._reconcile = asyncio.ensure_future(
                asyncio.gather(*(self._refresh_quietly(i) for i in ids))
            )

    async def _refresh_quietly(self, job_id: str) -> None:
        try:
            await self.get_job(job_id)
        except Exception as err:  # reconciliation retries on the next read; never kill start-up
            self.log.warning("could not reconcile job %s with ModelArts: %s", job_id, err)

    async def close(self) -> None:
        if self._reconcile is not None:
            self._reconcile.cancel()
        if self.api is not None:
            await self.api.aclose()
        await self.obs.aclose()
        await self.credentials.aclose()

    # -- instance and lease ------------------------------------------------------------------

    async def _create_once(
        self,
        send: Callable[[], Awaitable[Any]],
        find: Callable[[], Awaitable[Any | None]],
    ) -> Any:
        """Send a create; if its outcome is unknown, look for what it made before sending again."""
        api, _ = await self._client()
        for attempt in range(self.max_retries + 1):
            try:
                return await send()
            except UncertainOutcome:
                found = await find()
                if found is not None:
                    return found
                if attempt == self.max_retries:
                    raise
                await asyncio.sleep(api.backoff(attempt))
        raise AssertionError("unreachable")

    async def _notebook(self) -> dict[str, Any]:
        return await self.poll.get(
            "notebook",
            lambda: self._call("GET", self._notebook_path(), "notebook", idempotent=True),
        )

    async def get_instance(self) -> Instance:
        data = await self._notebook()
        image = data.get("image") or {}
        return Instance(
            backend=self.name,
            id=data.get("id", self.instance_id),
            name=data.get("name", ""),
            status=data.get("status", "UNKNOWN"),
            flavor=_notebook_flavor(data.get("flavor", "")),
            image=image.get("swr_path")
            or ":".join(filter(None, [image.get("name"), image.get("tag")]))
            or None,
            lease=_lease(data["lease"]) if data.get("lease") else None,
        )

    async def get_lease(self) -> Lease:
        data = await self.poll.get(
            "lease",
            lambda: self._call("GET", self._notebook_path("/lease"), "notebook", idempotent=True),
        )
        return _lease(data)

    async def renew_lease(self, duration_s: int) -> Lease:
        data = await self._call(
            "PATCH",
            self._notebook_path("/lease"),
            "renew",
            idempotent=True,  # "run for this long from now": sending it twice changes nothing
            json={"duration": duration_s * 1000, "type": "TIMING"},
        )
        self.poll.invalidate("lease", "notebook")
        if not data:  # 204 is documented too
            return await self.get_lease()
        return _lease(data)

    # -- mounts ------------------------------------------------------------------------------

    def _mount_created(self, mount_id: str) -> int | None:
        record = self.store.get("mount", mount_id)
        return record["created_at"] if record else None

    async def _storages(self) -> list[dict[str, Any]]:
        data = await self.poll.get(
            "storages",
            lambda: self._call("GET", self._notebook_path("/storage"), "storages", idempotent=True),
        )
        return (data or {}).get("data", [])

    async def list_mounts(self) -> list[Mount]:
        return [_mount(d, self._mount_created(d["id"])) for d in await self._storages()]

    async def get_mount(self, mount_id: str) -> Mount:
        data = await self.poll.get(
            ("storage", mount_id),
            lambda: self._call(
                "GET", self._notebook_path(f"/storage/{mount_id}"), "storages", idempotent=True
            ),
        )
        return _mount(data, self._mount_created(mount_id))

    async def create_mount(self, uri: str, mount_path: str) -> Mount:
        uri = str(parse_obs_uri(uri))
        mount_path = parse_mount_path(mount_path)
        body = {"category": "OBS", "mount_path": mount_path, "uri": uri}

        async def find() -> dict[str, Any] | None:
            self.poll.invalidate("storages")
            same = [d for d in await self._storages() if d.get("mount_path") == mount_path]
            return same[0] if same else None

        data = await self._create_once(
            lambda: self._call(
                "POST", self._notebook_path("/storage"), "mount", idempotent=False, json=body
            ),
            find,
        )
        self.poll.invalidate("storages")
        created = now_ms()
        self.store.put("mount", data["id"], {"id": data["id"], "created_at": created})
        return _mount(data, created)

    async def delete_mount(self, mount_id: str) -> Mount:
        mount = await self.get_mount(mount_id)
        data = await self._call(
            "DELETE", self._notebook_path(f"/storage/{mount_id}"), "unmount", idempotent=True
        )
        self.poll.invalidate("storages", ("storage", mount_id))
        self.store.delete("mount", mount_id)
        if data:
            return _mount(data, mount.created_at)
        mount.status = MountStatus.UNMOUNTING
        return mount

    # -- images ------------------------------------------------------------------------------

    async def list_images(self) -> list[ImageSnapshot]:
        data = await self.poll.get(
            "images",
            lambda: self._call(
                "GET",
                "/v1/{p}/images",
                "image_list",
                idempotent=True,
                params={"type": "DEDICATED", "limit": 200, "workspace_id": self.workspace_id},
            ),
        )
        return [_image(d) for d in (data or {}).get("data", [])]

    async def get_image(self, image_id: str) -> ImageSnapshot:
        data = await self.poll.get(
            ("image", image_id),
            lambda: self._call("GET", f"/v1/{{p}}/images/{image_id}", "image_get", idempotent=True),
        )
        return _image(data)

    async def save_image(self, request: ImageRequest) -> ImageSnapshot:
        body = {
            "name": request.name,
            "namespace": request.namespace,
            "tag": request.tag,
            "description": request.description,
            "workspace_id": self.workspace_id,
        }

        async def find() -> dict[str, Any] | None:
            self.poll.invalidate("images")
            data = await self._call(
                "GET",
                "/v1/{p}/images",
                "image_list",
                idempotent=True,
                params={
                    "type": "DEDICATED",
                    "name": request.name,
                    "namespace": request.namespace,
                    "name_fuzzy_match": "false",
                    "workspace_id": self.workspace_id,
                },
            )
            same = [d for d in (data or {}).get("data", []) if d.get("tag") == request.tag]
            return same[0] if same else None

        data = await self._create_once(
            lambda: self._call(
                "POST",
                self._notebook_path("/create-image"),
                "image_create",
                idempotent=False,
                json=body,
            ),
            find,
        )
        self.poll.invalidate("images", "notebook")
        return _image(data)

    # -- flavors and engines -----------------------------------------------------------------

    async def list_flavors(self) -> list[Flavor]:
        data = await self.poll.get(
            "flavors",
            lambda: self._call("GET", "/v2/{p}/training-job-flavors", "flavors", idempotent=True),
        )
        return [_flavor(f) for f in (data or {}).get("flavors", [])]

    async def list_engines(self) -> list[Engine]:
        data = await self.poll.get(
            "engines",
            lambda: self._call("GET", "/v2/{p}/training-job-engines", "engines", idempotent=True),
        )
        return [
            Engine(
                id=e.get("engine_id", ""),
                name=e.get("engine_name", ""),
                version=e.get("engine_version", ""),
                image=(e.get("image_info") or {}).get("cpu_image_url"),
                interpreter=None,
            )
            for e in (data or {}).get("items", [])
        ]

    # -- jobs --------------------------------------------------------------------------------

    async def _engine_body(self, spec: JobSpec) -> dict[str, Any]:
        if spec.image:
            return {"image_url": spec.image}
        wanted = spec.engine or self.default_engine
        engines = await self.list_engines()
        for engine in engines:
            if wanted in (engine.id, f"{engine.name}:{engine.version}") or (
                not wanted and engine.name.lower().startswith("pytorch")
            ):
                return (
                    {"engine_id": engine.id}
                    if engine.id
                    else {
                        "engine_name": engine.name,
                        "engine_version": engine.version,
                    }
                )
        known = ", ".join(e.id or f"{e.name}:{e.version}" for e in engines) or "none"
        raise InvalidRequest(f"unknown engine {wanted!r}; ModelArts offers {known}", field="engine")

    async def _flavor_id(self, spec: JobSpec) -> str:
        flavors = await self.list_flavors()
        wanted = spec.flavor or self.default_flavor
        for flavor in flavors:
            if flavor.id == wanted or (not wanted and flavor.type == "CPU"):
                if spec.nodes > flavor.max_nodes:
                    raise InvalidRequest(
                        f"flavor {flavor.id} allows at most {flavor.max_nodes} nodes",
                        field="nodes",
                    )
                return flavor.id
        known = ", ".join(f.id for f in flavors) or "none"
        raise InvalidRequest(f"unknown flavor {wanted!r}; ModelArts offers {known}", field="flavor")

    def _code_prefix(self, job_name: str) -> tuple[str, str]:
        if not self.code_uri:
            raise InvalidRequest(
                "set c.ModelArtsBackend.code_uri = 'obs://bucket/prefix/' to submit jobs: the "
                "code is uploaded there",
                field="code_uri",
            )
        base = parse_obs_uri(self.code_uri, "code_uri")
        return base.bucket, f"{base.key}{job_name}/"

    async def _upload_code(self, spec: JobSpec, bucket: str, prefix: str) -> str | None:
        """Upload the code dir snapshot (and the inline boot file); returns the boot file name."""
        code_dir, plan = await in_snapshot_pool(resolve_code, spec, self.root_dir, self.code_root)
        code = parse_obs_uri(f"obs://{bucket}/{prefix}code/")
        if code_dir:
            started = time.monotonic()

            def progress(done: int, total: int, sent: int, size: int) -> None:
                if done == total or time.monotonic() - started > 2:
                    self.log.info(
                        "uploading %s: %d/%d files, %d/%d bytes", spec.name, done, total, sent, size
                    )

            # OBS has no links: one inside the code dir arrives as the content it points to.
            result = await upload_dir(
                self.obs,
                code_dir,
                list(plan.uploads),
                code,
                sources=plan.uploads,
                progress=progress,
            )
            self.log.info(
                "code of %s: %d files uploaded, %d unchanged",
                spec.name,
                result.uploaded,
                result.skipped,
            )
        if spec.code is not None:
            await self.obs.put_object(
                bucket,
                f"{code.key}{INLINE_BOOT_FILE}",
                spec.code.encode(),
                content_type="text/x-python",
            )
            return INLINE_BOOT_FILE
        return spec.boot_file

    async def submit_job(self, spec: JobSpec) -> Job:
        if spec.command and not spec.image:
            raise InvalidRequest("a command job runs in a custom image: give image", field="image")
        if spec.command and (spec.code is not None or spec.code_dir):
            raise InvalidRequest("a command job takes no code here", field="command")
        bucket, prefix = self._code_prefix(spec.name)
        flavor_id = await self._flavor_id(spec)
        engine = await self._engine_body(spec)
        algorithm: dict[str, Any] = {
            "engine": engine,
            "parameters": [{"name": k, "value": v} for k, v in spec.parameters.items()],
            "inputs": [
                {"name": k, "remote": {"obs": {"obs_url": _obs_path(v)}}}
                for k, v in spec.inputs.items()
            ],
            "outputs": [
                {"name": k, "remote": {"obs": {"obs_url": _obs_path(v)}}}
                for k, v in spec.outputs.items()
            ],
            "environments": dict(spec.env),
        }
        if spec.command:
            algorithm["command"] = shlex.join(spec.command)
        else:
            boot = await self._upload_code(spec, bucket, prefix)
            algorithm["code_dir"] = f"/{bucket}/{prefix}code/"
            algorithm["boot_file"] = f"/{bucket}/{prefix}code/{boot}"
        submit_id = str(uuid.uuid4())
        body = {
            "kind": "job",
            "metadata": {
                "name": spec.name,
                "description": spec.description,
                "workspace_id": self.workspace_id,
                "annotations": {_SUBMIT_ANNOTATION: submit_id},
            },
            "algorithm": algorithm,
            "spec": {
                "resource": {"flavor_id": flavor_id, "node_count": spec.nodes},
                "log_export_path": {"obs_url": f"/{bucket}/{prefix}logs/"},
            },
        }
        # Never send a create twice blindly: a lost answer is looked up by its submit id first.
        data = await self._create_once(
            lambda: self._call(
                "POST", "/v2/{p}/training-jobs", "job_create", idempotent=False, json=body
            ),
            lambda: self._find_submitted(spec.name, submit_id),
        )
        job = self._job(data, spec)
        self._record(job)
        return job

    async def _find_submitted(self, name: str, submit_id: str) -> dict[str, Any] | None:
        data = await self._call(
            "POST",
            "/v2/{p}/training-job-searches",
            "job_list",
            idempotent=True,  # a search changes nothing
            json={
                "offset": 0,
                "limit": 50,
                "filters": [{"key": "name", "operator": "like", "value": [name]}],
            },
        )
        for item in (data or {}).get("items", []):
            annotations = (item.get("metadata") or {}).get("annotations") or {}
            if annotations.get(_SUBMIT_ANNOTATION) == submit_id:
                return item
        return None

    def _job(self, data: dict[str, Any], spec: JobSpec) -> Job:
        meta = data.get("metadata") or {}
        status = data.get("status") or {}
        try:
            phase = JobPhase(status.get("phase", "Creating"))
        except ValueError:
            phase = JobPhase.ABNORMAL
        exits = {t.get("task"): t for t in status.get("task_statuses") or []}
        start = status.get("start_time") or None
        ended = (
            start + status["duration"]
            if start and phase.is_final and status.get("duration")
            else None
        )
        tasks = []
        for name in status.get("tasks") or [f"worker-{i}" for i in range(spec.nodes)]:
            info = exits.get(name, {})
            tasks.append(
                Task(
                    name=name,
                    phase=phase,
                    exit_code=info.get("exit_code"),
                    started_at=start,
                    ended_at=ended,
                )
            )
        codes = [t.exit_code for t in tasks if t.exit_code not in (None, 0)]
        exit_code = codes[0] if codes else (0 if phase is JobPhase.COMPLETED else None)
        messages = [t.get("message") for t in exits.values() if t.get("message")]
        return Job(
            id=meta["id"],
            name=meta.get("name", spec.name),
            backend=self.name,
            phase=phase,
            spec=spec,
            tasks=tasks,
            exit_code=exit_code,
            message="; ".join(messages),
            created_at=meta.get("create_time") or now_ms(),
            started_at=start,
            ended_at=ended,
        )

    def _record(self, job: Job) -> None:
        self.store.put("job", job.id, job.to_json())

    def _stored(self, job_id: str) -> Job:
        data = self.store.get("job", job_id)
        if data is None:
            raise NotFound(f"no job {job_id}", field="job_id")
        return Job.from_record(data)

    def _cloud_job(self, job_id: str) -> Job:
        job = self._stored(job_id)
        if job.backend != self.name:
            raise Conflict(
                f"job {job_id} ran on the {job.backend} backend; this server uses ModelArts",
                field="job_id",
            )
        return job

    async def get_job(self, job_id: str) -> Job:
        stored = self._cloud_job(job_id)
        if stored.phase.is_final:
            return stored
        data = await self.poll.get(
            ("job", job_id),
            lambda: self._call(
                "GET", f"/v2/{{p}}/training-jobs/{job_id}", "job_get", idempotent=True
            ),
        )
        job = self._job(data, stored.spec)
        job.created_at = stored.created_at
        if job.to_json() != stored.to_json():
            self._record(job)
        return job

    async def list_jobs(self, phase: JobPhase | None = None) -> list[Job]:
        """Every job this server knows, cloud and local, with cloud ones brought up to date."""
        jobs = [Job.from_record(d) for d in self.store.list("job")]
        live = [j for j in jobs if j.backend == self.name and not j.phase.is_final]
        fresh = await asyncio.gather(*(self.get_job(j.id) for j in live), return_exceptions=True)
        updated = {j.id: j for j in fresh if isinstance(j, Job)}
        jobs = [updated.get(j.id, j) for j in jobs]
        return [j for j in jobs if phase is None or j.phase is phase]

    async def stop_job(self, job_id: str) -> Job:
        stored = self._cloud_job(job_id)
        if stored.phase.is_final:
            raise Conflict(f"job {job_id} has already ended ({stored.phase.value})", field="job_id")
        data = await self._call(
            "POST",
            f"/v2/{{p}}/training-jobs/{job_id}/actions",
            "job_stop",
            idempotent=True,  # terminating twice is still one termination
            json={"action_type": "terminate"},
        )
        self.poll.invalidate(("job", job_id))
        job = self._job(data, stored.spec)
        job.created_at = stored.created_at
        self._record(job)
        return job

    async def delete_job(self, job_id: str) -> None:
        job = await self.get_job(job_id)
        if not job.phase.is_final:
            raise Conflict(
                f"job {job_id} is {job.phase.value}; stop it before deleting it", field="job_id"
            )
        try:
            await self._call(
                "DELETE", f"/v2/{{p}}/training-jobs/{job_id}", "job_delete", idempotent=True
            )
        except NotFound:
            pass  # already gone upstream: forgetting it here is all that is left
        self.store.delete("job", job_id)

    async def read_logs(self, job_id: str, task: str, offset: int, limit: int) -> LogChunk:
        job = await self.get_job(job_id)
        if task not in [t.name for t in job.tasks]:
            names = ", ".join(t.name for t in job.tasks)
            raise NotFound(f"job {job_id} has no task {task!r} (tasks: {names})", field="task")
        data = await self.poll.get(
            ("logs", job_id, task),
            lambda: self._call(
                "GET",
                f"/v2/{{p}}/training-jobs/{job_id}/tasks/{task}/logs/preview",
                "job_logs",
                idempotent=True,
            ),
        )
        text = (data or {}).get("content", (data or {}).get("context", "")) or ""
        blob = text.encode()
        full = int((data or {}).get("full_size") or len(blob))
        # The preview holds the log's last bytes: [first, full).
        first = full - len(blob)
        start = max(offset, first)
        piece = log_piece(blob[start - first :], limit, job.phase.is_final)
        end = start + len(piece)
        return LogChunk(
            task=task,
            offset=start,
            next_offset=end,
            size=full,
            content=piece.decode("utf-8", errors="replace"),
            complete=job.phase.is_final and end >= full,
        )

    async def get_metrics(self, job_id: str) -> Metrics:
        job = await self.get_job(job_id)
        series: list[MetricSeries] = []
        units = {"cpuUsage": "%", "memUsage": "MiB"}
        for task in job.tasks:
            data = await self.poll.get(
                ("metrics", job_id, task.name),
                lambda task=task: self._call(
                    "GET",
                    f"/v2/{{p}}/training-jobs/{job_id}/metrics/{task.name}",
                    "job_metrics",
                    idempotent=True,
                ),
            )
            now = now_ms()
            for metric in (data or {}).get("metrics", []):
                values = metric.get("value") or []
                # One value per minute, the last one now.
                points = [
                    [now - (len(values) - 1 - i) * 60_000, float(v)]
                    for i, v in enumerate(values)
                    if v is not None
                ]
                name = metric.get("metric", "")
                series.append(MetricSeries(task.name, name, units.get(name, ""), points))
        return Metrics(job_id=job_id, series=series)

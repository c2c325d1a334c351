"""The ModelArts cloud backend: the same operations against the real API, over httpx.

One module per upstream area: :mod:`.notebook` (instance and lease), :mod:`.storage` (mounts),
:mod:`.images`, :mod:`.training` (jobs and logs), :mod:`.metrics`, :mod:`.obs` and :mod:`.auth`
(credentials); :mod:`.client` and :mod:`.retry` carry the calls. This class holds the settings and
the clients, and hands each operation to its area.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import Any

from traitlets import Float, Int, List, Unicode, default

from ... import __version__
from ...models import (
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
    Lease,
    LogChunk,
    Metrics,
    ModelArtsError,
    Mount,
    Workspace,
)
from .. import in_modelarts_notebook
from ..base import Backend, LogFile
from .auth import CredentialChain, ModelArtsAuth
from .client import ModelArtsClient, SharedPoll, UncertainOutcome
from .code import CodeFolders
from .doctor import Doctor
from .images import Images
from .metrics import JobMetrics
from .notebook import Notebook
from .obs import ObsClient
from .retry import RetryPolicy
from .storage import Storage
from .training import Training
from .workspaces import Workspaces

# IAM actions named in permission errors, so a 403 says what to ask the administrator for: the
# documented ones (the OTC docs' permissions_policies_and_supported_actions); those marked
# "assumed" are not documented and follow the documented names' pattern.
_ACTIONS = {
    "notebook": "modelarts:notebook:get",
    "renew": "modelarts:notebook:updateStopPolicy",
    "mount": "modelarts:notebook:mountStorage",
    "unmount": "modelarts:notebook:umountStorage",
    "storages": "modelarts:notebook:listMountedStorages",
    "storage": "modelarts:notebook:getMountedStorage",
    "image_create": "modelarts:image:create",
    "image_get": "modelarts:image:get",
    "image_list": "modelarts:image:list",
    "job_create": "modelarts:trainJob:create",
    "job_get": "modelarts:trainJob:get",
    "job_list": "modelarts:trainJob:list",
    "job_stop": "modelarts:trainJob:update",
    "job_delete": "modelarts:trainJob:delete",
    "job_logs": "modelarts:trainJob:previewLog",
    "job_metrics": "modelarts:trainJob:getMetrics",  # assumed
    "flavors": "modelarts:trainJob:listFlavors",  # assumed
    "engines": "modelarts:trainJob:listEngines",  # assumed
    "authorizations": "modelarts:authorization:list",  # assumed
    "training_quotas": "modelarts:trainJob:getQuotas",  # assumed
    "validate": "modelarts:authorization:validate",  # assumed
    "workspace_list": "modelarts:workspace:list",
    "workspace_get": "modelarts:workspace:get",
    "workspace_quotas": "modelarts:workspace:getQuotas",
}


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
        help="""obs://bucket/prefix/ under which job code is uploaded, one folder per submission
        (<prefix>/<job name>/<submission id>/code/), and job logs are exported
        (<prefix>/<job name>/logs/). Required to submit jobs.""",
    )
    check_obs_uris = List(
        Unicode(),
        config=True,
        help="""obs://bucket/prefix/ folders the checks (GET /doctor, %ma_doctor) also probe
        (list, write, read and delete a probe object), e.g. training inputs and outputs; code_uri
        and the mounted buckets are always probed. Default: none.""",
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
    log_cache_mb = Int(
        512,
        config=True,
        help="""MiB of job logs kept on this machine (under the state dir), least recently read
        dropped first, so a followed log is never downloaded twice. Default: 512.""",
    )
    log_cache_ttl_s = Float(
        24 * 3600.0,
        config=True,
        help="Seconds a job's log copy is kept after its last read. Default: 86400.",
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
        self.retry = RetryPolicy(max_retries=self.max_retries)
        self.obs = ObsClient(
            self.obs_endpoint,
            self.credentials.get_keys,
            timeout=self.request_timeout,
            retry=self.retry,
        )
        self.poll = SharedPoll(self.cache_ttl)
        self._project: str | None = None
        self._reconcile: asyncio.Future | None = None
        self.notebook = Notebook(self)
        self.storage = Storage(self)
        self.images = Images(self)
        self.code = CodeFolders(self)
        self.training = Training(self)
        self.metrics = JobMetrics(self)
        self.workspaces = Workspaces(self)
        self.doctor = Doctor(self)

    async def client(self) -> tuple[ModelArtsClient, str]:
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
                retry=self.retry,
                user_agent=f"jupyter-modelarts/{__version__}",
            )
        return self.api, self._project

    async def call(self, method: str, path: str, action: str, **kwargs) -> Any:
        api, project = await self.client()
        return await api.call(method, path.format(p=project), action=_ACTIONS[action], **kwargs)

    async def list_all(
        self, path: str, action: str, key: str, params: dict[str, Any], page: int = 100
    ) -> list[dict[str, Any]]:
        """Every item of an offset-paged GET list, whose items are under ``key`` (100 a page:
        the largest these APIs give)."""
        items: list[dict[str, Any]] = []
        while True:
            data = await self.call(
                "GET",
                path,
                action,
                idempotent=True,
                params={**params, "limit": page, "offset": len(items)},
            )
            batch = (data or {}).get(key) or []
            items.extend(batch)
            total = (data or {}).get("total_count")
            if len(batch) < page or (isinstance(total, (int, float)) and len(items) >= total):
                return items

    def notebook_path(self, suffix: str = "") -> str:
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
            await self.training.get_job(job_id)
        except Exception as err:  # reconciliation retries on the next read; never kill start-up
            self.log.warning("could not reconcile job %s with ModelArts: %s", job_id, err)

    async def close(self) -> None:
        if self._reconcile is not None:
            self._reconcile.cancel()
        if self.api is not None:
            await self.api.aclose()
        await self.obs.aclose()
        await self.credentials.aclose()

    async def create_once(
        self,
        send: Callable[[], Awaitable[Any]],
        find: Callable[[ModelArtsError], Awaitable[Any | None]],
        *,
        may_have_landed: Callable[[ModelArtsError], bool] = lambda err: False,
    ) -> Any:
        """Send a create; after an answer that leaves open whether it was carried out (an
        uncertain outcome, or an error ``may_have_landed`` says an earlier try of ours can
        cause), ``find(that error)`` looks for what it made before anything is sent again. The
        last such error is raised when nothing is found; ``find`` may raise a better one."""
        for attempt in range(self.max_retries + 1):
            try:
                return await send()
            except ModelArtsError as err:
                if not isinstance(err, UncertainOutcome) and not may_have_landed(err):
                    raise
                failure = err
            found = await find(failure)
            if found is not None:
                return found
            if attempt == self.max_retries:
                raise failure
            await asyncio.sleep(self.retry.backoff(attempt))
        raise AssertionError("unreachable")

    # -- the operations, each carried out by its area --------------------------------------

    async def list_workspaces(self) -> list[Workspace]:
        return await self.workspaces.list_workspaces()

    async def run_checks(self, workspace_id: str) -> list[Check]:
        return await self.doctor.run(workspace_id)

    async def get_instance(self) -> Instance:
        return await self.notebook.get_instance()

    async def get_lease(self) -> Lease:
        return await self.notebook.get_lease()

    async def renew_lease(self, duration_s: int, kind: str | None = None) -> Lease:
        return await self.notebook.renew_lease(duration_s, kind)

    async def list_mounts(self) -> list[Mount]:
        return await self.storage.list_mounts()

    async def create_mount(self, uri: str, mount_path: str) -> Mount:
        return await self.storage.create_mount(uri, mount_path)

    async def get_mount(self, mount_id: str) -> Mount:
        return await self.storage.get_mount(mount_id)

    async def delete_mount(self, mount_id: str) -> Mount:
        return await self.storage.delete_mount(mount_id)

    async def save_image(self, request: ImageRequest) -> ImageSnapshot:
        return await self.images.save_image(request)

    async def list_images(self, workspace_id: str | None = None) -> list[ImageSnapshot]:
        return await self.images.list_images(workspace_id)

    async def get_image(self, image_id: str) -> ImageSnapshot:
        return await self.images.get_image(image_id)

    async def list_flavors(self) -> list[Flavor]:
        return await self.training.list_flavors()

    async def list_engines(self) -> list[Engine]:
        return await self.training.list_engines()

    async def submit_job(self, spec: JobSpec) -> Job:
        return await self.training.submit_job(spec)

    async def list_jobs(self, **query) -> JobPage:
        return await self.training.list_jobs(**query)

    async def live_jobs(self) -> list[Job]:
        return await self.training.live_jobs()

    async def get_job(self, job_id: str) -> Job:
        return await self.training.get_job(job_id)

    async def stop_job(self, job_id: str) -> Job:
        return await self.training.stop_job(job_id)

    async def delete_job(self, job_id: str) -> None:
        await self.training.delete_job(job_id)

    async def read_logs(self, job_id: str, task: str, offset: int, limit: int) -> LogChunk:
        return await self.training.read_logs(job_id, task, offset, limit)

    async def log_sizes(self, job_id: str) -> dict[str, int]:
        return await self.training.log_sizes(job_id)

    async def open_log(self, job_id: str, task: str) -> LogFile:
        return await self.training.open_log(job_id, task)

    async def get_metrics(self, job_id: str) -> Metrics:
        return await self.metrics.get_metrics(job_id)

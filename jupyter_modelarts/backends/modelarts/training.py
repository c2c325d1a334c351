"""Training jobs: flavors and engines, submit, follow, stop, delete, logs.

Every job the user has on ModelArts is listed, whoever started it (this server, the console,
ma-cli, another notebook), from the search API: one search per workspace and interval however
many jobs and viewers, paged by 50. The search asks only for the jobs that can have changed:
those created since the oldest job of the workspace still live, and since shortly before the
newest job seen there (a search index may show a new job late). Everything older has ended and
was recorded once. The first search of a workspace pages through everything.

Creates are exactly-once: after any answer that leaves the outcome open (a timeout, a broken
connection, a 5xx, or ModelArts refusing the name because a job holds it) the job is looked up
by the submission id sent in its annotations before anything else happens.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shlex
import time
import uuid
from typing import TYPE_CHECKING, Any

from ...models import (
    DEFAULT_WORKSPACE,
    Conflict,
    Engine,
    Flavor,
    InvalidRequest,
    Job,
    JobPage,
    JobPhase,
    JobSpec,
    LogChunk,
    ModelArtsError,
    NotFound,
    Task,
    now_ms,
)
from ..base import LogFile, read_job_page
from .logs import PAGE_LINES, Export, Page, TaskLogs

if TYPE_CHECKING:
    from . import ModelArtsBackend

SUBMIT_ANNOTATION = "jupyter-modelarts/submit-id"
#: ModelArts' refusal of a create whose name an existing job holds.
DUPLICATE_NAME = "ModelArts.2751"
#: The most jobs a search answers at once.
SEARCH_PAGE = 50
#: Jobs created this long before the newest one seen are searched again (late indexing).
WINDOW_MARGIN_MS = 10 * 60 * 1000
#: How long a job deleted here is kept out of searches that may still show it.
DELETED_KEPT_MS = 24 * 3600 * 1000
_FAR_FUTURE_MS = 4102444800000  # 2100-01-01: the open end of a create_time range
_LIVE = tuple(p.value for p in JobPhase if not p.is_final)
_SYNC_RECORD = "modelarts.jobs"  # setting: the newest create_time seen, jobs deleted here


def _sync_record(workspace_id: str) -> str:
    """The sync state of a workspace's search (the default one's kept its older name)."""
    return _SYNC_RECORD if workspace_id == DEFAULT_WORKSPACE else f"{_SYNC_RECORD}@{workspace_id}"


def _workspace_of(record: dict[str, Any]) -> str:
    return (record.get("spec") or {}).get("workspace_id") or DEFAULT_WORKSPACE


def _obs_path(uri: str) -> str:
    """``obs://bucket/dir/`` → ``/bucket/dir/``, the form the training API documents."""
    return "/" + uri[len("obs://") :]


def _obs_uri(path: str) -> str:
    """``/bucket/key`` or ``obs://bucket/key`` (as ModelArts records it) → ``obs://bucket/key``."""
    return "obs://" + (path[len("obs://") :] if path.startswith("obs://") else path.lstrip("/"))


def _channel(item: dict[str, Any]) -> str | None:
    """Where an input or output of an upstream job lives: OBS, or a ModelArts dataset."""
    remote = item.get("remote") or {}
    url = (remote.get("obs") or {}).get("obs_url") or (remote.get("dataset") or {}).get("obs_url")
    if url:
        return _obs_uri(url)
    dataset = remote.get("dataset") or {}
    if dataset.get("id"):
        return f"modelarts-dataset://{dataset['id']}/{dataset.get('version_id') or ''}"
    return None


def upstream_spec(item: dict[str, Any]) -> JobSpec:
    """The JobSpec of a job this server did not submit, read back from its ModelArts record:
    code_dir is the OBS folder it runs from (boot_file relative to it where it lies inside),
    a command runs by /bin/sh -c as ModelArts runs it, channels are OBS or dataset URIs."""
    meta = item.get("metadata") or {}
    algorithm = item.get("algorithm") or {}
    resource = (item.get("spec") or {}).get("resource") or {}
    engine = algorithm.get("engine") or {}
    code_dir = _obs_uri(algorithm["code_dir"]) if algorithm.get("code_dir") else None
    if code_dir and not code_dir.endswith("/"):
        code_dir += "/"
    boot_file = _obs_uri(algorithm["boot_file"]) if algorithm.get("boot_file") else None
    if boot_file and code_dir and boot_file.startswith(code_dir) and boot_file != code_dir:
        boot_file = boot_file[len(code_dir) :]
    environments = algorithm.get("environments") or {}
    if isinstance(environments, list):  # the response model lists maps
        environments = {k: v for entry in environments for k, v in (entry or {}).items()}
    channels: dict[str, dict[str, str]] = {"inputs": {}, "outputs": {}}
    for kind, found in channels.items():
        for channel in algorithm.get(kind) or []:
            uri = _channel(channel)
            if channel.get("name") and uri:
                found[channel["name"]] = uri
    engine_name = engine.get("engine_id") or (
        f"{engine['engine_name']}:{engine['engine_version']}"
        if engine.get("engine_name") and engine.get("engine_version")
        else None
    )
    nodes = resource.get("node_count")
    if not isinstance(nodes, int) or nodes < 1:
        nodes = max(1, len((item.get("status") or {}).get("tasks") or []))
    return JobSpec(
        name=meta.get("name") or meta.get("id", ""),
        code_dir=code_dir,
        boot_file=boot_file,
        command=["/bin/sh", "-c", algorithm["command"]] if algorithm.get("command") else None,
        parameters={
            p["name"]: str(p.get("value") if p.get("value") is not None else "")
            for p in algorithm.get("parameters") or []
            if p.get("name")
        },
        inputs=channels["inputs"],
        outputs=channels["outputs"],
        env={str(k): str(v) for k, v in environments.items()},
        nodes=nodes,
        flavor=resource.get("flavor_id"),
        engine=engine_name,
        image=engine.get("image_url"),
        description=meta.get("description") or "",
        workspace_id=meta.get("workspace_id") or None,
    )


def _name_taken(name: str, refusal: ModelArtsError, holder: dict[str, Any] | None) -> Conflict:
    which = f" (id {holder['metadata']['id']})" if holder else ""
    return Conflict(
        f"a job named {name!r} already exists on ModelArts{which}, which refuses a second one: "
        "choose another name, or delete that job (stop it first if it is running) and submit "
        "again",
        field="name",
        code=refusal.code,
        request_id=refusal.request_id,
    )


def _log_export(item: dict[str, Any]) -> str | None:
    return ((item.get("spec") or {}).get("log_export_path") or {}).get("obs_url") or None


#: The contract's flavor kinds by ModelArts' spellings (training ``flavor_type`` says ``Ascend``,
#: a notebook's ``category`` ``ASCEND``), upper-cased.
_FLAVOR_KINDS = {"CPU": "CPU", "GPU": "GPU", "NPU": "NPU", "ASCEND": "NPU"}


def flavor_kind(spelled: str) -> str:
    return _FLAVOR_KINDS.get(spelled.upper(), spelled)


def _flavor(data: dict[str, Any]) -> Flavor:
    info = data.get("flavor_info") or {}
    memory = info.get("memory") or {}
    size = memory.get("size") or 0
    memory_mb = int(size * 1024) if str(memory.get("unit", "GiB")).upper().startswith("G") else size
    cards = info.get("gpu") or info.get("npu") or {}  # the contract counts either as gpu_count
    return Flavor(
        id=data["flavor_id"],
        name=data.get("flavor_name", data["flavor_id"]),
        type=flavor_kind(str(data.get("flavor_type") or "CPU")),
        cpu_count=int((info.get("cpu") or {}).get("core_num") or 0),
        memory_mb=int(memory_mb),
        gpu_count=int(cards.get("unit_num") or 0),
        gpu_name=cards.get("product_name"),
        max_nodes=int(data.get("max_num") or info.get("max_num") or 1),
    )


class Training:
    """The v2 training-job API and the OBS code folder jobs run from."""

    def __init__(self, cloud: ModelArtsBackend):
        self.cloud = cloud
        self.logs = TaskLogs(
            os.path.join(cloud.state_dir, "modelarts-logs"),
            max_bytes=cloud.log_cache_mb * 1024**2,
            ttl_s=cloud.log_cache_ttl_s,
            interval_s=cloud.cache_ttl,
            log=cloud.log,
        )

    async def list_flavors(self) -> list[Flavor]:
        data = await self.cloud.poll.get(
            "flavors",
            lambda: self.cloud.call(
                "GET", "/v2/{p}/training-job-flavors", "flavors", idempotent=True
            ),
        )
        return [_flavor(f) for f in (data or {}).get("flavors", [])]

    async def list_engines(self) -> list[Engine]:
        data = await self.cloud.poll.get(
            "engines",
            lambda: self.cloud.call(
                "GET", "/v2/{p}/training-job-engines", "engines", idempotent=True
            ),
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

    async def _engine_body(self, spec: JobSpec) -> dict[str, Any]:
        if spec.image:
            return {"image_url": spec.image}
        wanted = spec.engine or self.cloud.default_engine
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
        wanted = spec.flavor or self.cloud.default_flavor
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

    async def submit_job(self, spec: JobSpec) -> Job:
        if spec.command and not spec.image:
            raise InvalidRequest("a command job runs in a custom image: give image", field="image")
        if spec.command and (spec.code is not None or spec.code_dir):
            raise InvalidRequest("a command job takes no code here", field="command")
        self.cloud.code.base()  # no code_uri: refused before any upstream call
        workspace_id = spec.workspace_id or self.cloud.current_workspace
        spec = dataclasses.replace(spec, workspace_id=workspace_id)
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
        submit_id = str(uuid.uuid4())
        place = await self.cloud.code.prepare(spec, submit_id)
        if spec.command:
            algorithm["command"] = shlex.join(spec.command)
        else:
            algorithm["code_dir"] = place.code_dir
            algorithm["boot_file"] = place.boot_file
        body = {
            "kind": "job",
            "metadata": {
                "name": spec.name,
                "description": spec.description,
                "workspace_id": workspace_id,
                "annotations": {SUBMIT_ANNOTATION: submit_id},
            },
            "algorithm": algorithm,
            "spec": {
                "resource": {"flavor_id": flavor_id, "node_count": spec.nodes},
                "log_export_path": {"obs_url": place.log_dir},
            },
        }
        data = await self._create_once(body, spec.name, submit_id, workspace_id)
        # The job records the flavor it runs on (the default resolved), so lists show it.
        job = self._job(data, dataclasses.replace(spec, flavor=flavor_id))
        self._put(job, {"submit_id": submit_id, "log_export": _log_export(data) or place.log_dir})
        return job

    async def _create_once(
        self, body: dict[str, Any], name: str, submit_id: str, workspace_id: str
    ) -> Any:
        """POST the create; after any answer that leaves its outcome open, including a refusal
        of the name (our own earlier try may hold it, landed late), the job it made is the
        answer, looked up by submission id before sending again."""

        def refused(err: ModelArtsError) -> bool:
            return isinstance(err, InvalidRequest) and err.code == DUPLICATE_NAME

        async def find(failure: ModelArtsError) -> dict[str, Any] | None:
            found, holder = await self._find_submitted(name, submit_id, workspace_id)
            if found is None and holder is not None and refused(failure):
                raise _name_taken(name, failure, holder)
            return found

        try:
            return await self.cloud.create_once(
                lambda: self.cloud.call(
                    "POST", "/v2/{p}/training-jobs", "job_create", idempotent=False, json=body
                ),
                find,
                may_have_landed=refused,
            )
        except InvalidRequest as err:
            if refused(err):  # still refused, and the job holding the name is not listed yet
                raise _name_taken(name, err, None) from None
            raise

    async def _find_submitted(
        self, name: str, submit_id: str, workspace_id: str
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """(the job this submission made, another job holding its name), each None if none."""
        # "in" matches the name exactly ("like" would page through every job containing it).
        items = await self.search(
            [{"key": "name", "operator": "in", "value": [name]}], workspace_id
        )
        holder = None
        for item in items:
            meta = item.get("metadata") or {}
            if (meta.get("annotations") or {}).get(SUBMIT_ANNOTATION) == submit_id:
                return item, None
            if meta.get("name") == name and holder is None:
                holder = item
        return None, holder

    # -- the list of jobs ------------------------------------------------------------------

    async def search(
        self, filters: list[dict[str, Any]], workspace_id: str
    ) -> list[dict[str, Any]]:
        """Every job of a workspace the search finds with ``filters``, newest first, a page of
        50 per call."""
        items: list[dict[str, Any]] = []
        page = 0
        while True:
            body: dict[str, Any] = {
                "offset": page,  # a page number, not an item count
                "limit": SEARCH_PAGE,
                "workspace_id": workspace_id,
                "sort_by": "create_time",
                "order": "desc",
            }
            if filters:
                body["filters"] = filters
            data = await self.cloud.call(
                "POST",
                "/v2/{p}/training-job-searches",
                "job_list",
                idempotent=True,  # a search changes nothing
                json=body,
            )
            batch = (data or {}).get("items") or []
            items.extend(batch)
            page += 1
            total = (data or {}).get("total")
            if len(batch) < SEARCH_PAGE or (isinstance(total, int) and page * SEARCH_PAGE >= total):
                return items

    def _sync_state(self, workspace_id: str) -> dict[str, Any]:
        state = self.cloud.store.get("setting", _sync_record(workspace_id)) or {}
        deleted = state.get("deleted") or {}
        cutoff = now_ms() - DELETED_KEPT_MS
        return {
            "created_at": 0,
            "newest": state.get("newest"),
            "deleted": {k: v for k, v in deleted.items() if v > cutoff},
        }

    def _live_records(self, workspace_id: str | None = None) -> list[dict[str, Any]]:
        """The store's live cloud jobs, of one workspace or of all."""
        return [
            record
            for record in self.cloud.store.list("job", phases=_LIVE)
            if record.get("backend") == self.cloud.name
            and (workspace_id is None or _workspace_of(record) == workspace_id)
        ]

    def _window(self, state: dict[str, Any], workspace_id: str) -> int:
        """The oldest create_time a job of the workspace that can still change may have;
        0: never searched."""
        if state["newest"] is None:
            return 0
        since = state["newest"] - WINDOW_MARGIN_MS
        for record in self._live_records(workspace_id):
            since = min(since, int(record.get("created_at") or 0))
        return max(0, since)

    @staticmethod
    def _created_since(since: int) -> list[dict[str, Any]]:
        if not since:
            return []
        return [
            {
                "key": "create_time",
                "operator": "between",
                "value": [str(since), str(_FAR_FUTURE_MS)],
            }
        ]

    async def refresh(self, workspace_id: str) -> None:
        """Bring every cloud job of a workspace in the store up to date: one search per
        interval, shared."""
        await self.cloud.poll.get(("jobs", workspace_id), lambda: self._sync(workspace_id))

    async def _refresh_all(self, workspaces: set[str]) -> None:
        await asyncio.gather(*(self.refresh(w) for w in sorted(workspaces)))

    async def _sync(self, workspace_id: str) -> float:
        state = self._sync_state(workspace_id)
        since = self._window(state, workspace_id)
        items = await self.search(self._created_since(since), workspace_id)
        seen = set()
        newest = state["newest"]
        for item in items:
            meta = item.get("metadata") or {}
            if not meta.get("id") or meta["id"] in state["deleted"]:
                continue
            seen.add(meta["id"])
            self._upsert(item, workspace_id)
            created = meta.get("create_time")
            if isinstance(created, int) and (newest is None or created > newest):
                newest = created
        if newest is None:
            newest = 0  # searched once: from now on only what can change is asked
        # Live jobs the search no longer shows ended and were deleted, or are not indexed
        # (yet): each is asked for once.
        missing = [r["id"] for r in self._live_records(workspace_id) if r["id"] not in seen]
        await asyncio.gather(*(self._confirm(job_id, workspace_id) for job_id in missing))
        record = _sync_record(workspace_id)
        if newest != state["newest"] or state["deleted"] != (
            (self.cloud.store.get("setting", record) or {}).get("deleted") or {}
        ):
            self.cloud.store.put("setting", record, {**state, "newest": newest})
        return time.monotonic()

    async def _sync_phase(self, phase: JobPhase, workspace_id: str) -> tuple[int, frozenset[str]]:
        """The jobs of a workspace in ``phase`` that can have changed, searched with the filter
        upstream."""
        state = self._sync_state(workspace_id)
        since = self._window(state, workspace_id)
        filters = [{"key": "phase", "operator": "in", "value": [phase.value]}]
        items = await self.search(filters + self._created_since(since), workspace_id)
        ids = set()
        for item in items:
            job_id = (item.get("metadata") or {}).get("id")
            if (
                job_id
                and job_id not in state["deleted"]
                and self._upsert(item, workspace_id) is not None
            ):
                ids.add(job_id)
        return since, frozenset(ids)

    async def _confirm(self, job_id: str, workspace_id: str) -> None:
        try:
            data = await self.cloud.call(
                "GET", f"/v2/{{p}}/training-jobs/{job_id}", "job_get", idempotent=True
            )
        except NotFound:
            self._gone(job_id, "ModelArts no longer has it (deleted outside this server)")
            return
        self._upsert(data, workspace_id)

    def _upsert(self, item: dict[str, Any], workspace_id: str) -> Job | None:
        """Record what ModelArts says of a job of a workspace; our own submissions keep their
        JobSpec."""
        job_id = (item.get("metadata") or {}).get("id")
        record = self.cloud.store.get("job", job_id)
        runtime = (record or {}).get("runtime") or {}
        if record is not None and (record.get("backend") != self.cloud.name or runtime.get("gone")):
            return None
        if record is not None and not runtime.get("foreign"):
            spec = Job.from_record(record).spec
        else:
            spec = upstream_spec(item)
            # A search is of one workspace, whether or not its answer says which.
            spec.workspace_id = spec.workspace_id or workspace_id
            runtime = {**runtime, "foreign": True}
        job = self._job(item, spec)
        if record is not None and JobPhase(record["phase"]).is_final and not job.phase.is_final:
            return Job.from_record(record)  # a search older than what we know: never un-end
        self._put(job, {**runtime, "log_export": _log_export(item) or runtime.get("log_export")})
        return job

    def _put(self, job: Job, runtime: dict[str, Any]) -> None:
        data = {**job.to_json(), "runtime": runtime}
        if self.cloud.store.get("job", job.id) != data:
            self.cloud.store.put("job", job.id, data)

    def _gone(self, job_id: str, why: str) -> Job | None:
        """A job ModelArts no longer knows: final (Abnormal), saying why; DELETE forgets it."""
        record = self.cloud.store.get("job", job_id)
        if record is None:
            return None
        job = Job.from_record(record)
        if not job.phase.is_final:
            now = now_ms()
            job.message = f"{why}; it was {job.phase.value} when last seen"
            job.phase = JobPhase.ABNORMAL
            job.ended_at = job.ended_at or now
            for task in job.tasks:
                task.phase = JobPhase.ABNORMAL
                task.ended_at = task.ended_at or now
        self._put(job, {**(record.get("runtime") or {}), "gone": True})
        return job

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
            backend=self.cloud.name,
            phase=phase,
            spec=spec,
            tasks=tasks,
            exit_code=exit_code,
            message="; ".join(messages),
            created_at=meta.get("create_time") or now_ms(),
            started_at=start,
            ended_at=ended,
        )

    def _record(self, job_id: str) -> dict[str, Any]:
        record = self.cloud.store.get("job", job_id)
        if record is None:
            raise NotFound(f"no job {job_id}", field="job_id")
        if record.get("backend") != self.cloud.name:
            raise Conflict(
                f"job {job_id} ran on the {record.get('backend')} backend; this server uses "
                "ModelArts, so only a server on that backend can act on it",
                field="job_id",
            )
        return record

    async def get_job(self, job_id: str) -> Job:
        record = self.cloud.store.get("job", job_id)
        if record is None or (
            record.get("backend") == self.cloud.name and not JobPhase(record["phase"]).is_final
        ):
            # Shared with every other reader of this interval; a job not seen yet is looked
            # for in the current workspace.
            await self.refresh(_workspace_of(record) if record else self.cloud.current_workspace)
        return Job.from_record(self._record(job_id))

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
        """A page of the jobs of a workspace (of every workspace the user may use when None):
        all of the user's on ModelArts, and the local backend's in the store."""
        store = self.cloud.store
        exclude: tuple[str, ...] = ()
        if workspace_id is not None:
            workspaces = [workspace_id]
        else:
            workspaces = [w.id for w in await self.cloud.list_workspaces()]
        if phase is None:
            await self._refresh_all(set(workspaces))
        else:
            synced = await asyncio.gather(
                *(
                    self.cloud.poll.get(
                        ("jobs", w, phase.value), lambda w=w: self._sync_phase(phase, w)
                    )
                    for w in workspaces
                )
            )
            windows = dict(zip(workspaces, synced))
            # Cloud jobs of the search window the filtered search did not find have left the
            # phase; older ones have ended and were not asked again.
            fields = {
                "id": "$.id",
                "backend": "$.backend",
                "created_at": "$.created_at",
                "gone": "$.runtime.gone",
                "workspace": "$.spec.workspace_id",
            }
            rows, _ = await asyncio.to_thread(
                store.page, "job", fields, phases=(phase.value,), workspace=workspace_id
            )
            exclude = tuple(
                r["id"]
                for r in rows
                if r["backend"] == self.cloud.name
                and (r["workspace"] or DEFAULT_WORKSPACE) in windows
                and r["id"] not in windows[r["workspace"] or DEFAULT_WORKSPACE][1]
                and int(r["created_at"] or 0) >= windows[r["workspace"] or DEFAULT_WORKSPACE][0]
                and not r["gone"]
            )

        return await asyncio.to_thread(
            read_job_page,
            store,
            phase=phase,
            offset=offset,
            limit=limit,
            sort=sort,
            order=order,
            workspace_id=workspace_id,
            exclude=exclude,
        )

    async def live_jobs(self) -> list[Job]:
        # Shared with every other reader of this interval: the workspaces with live jobs, and
        # the current one (a job submitted elsewhere shows up there).
        live = {_workspace_of(r) for r in self._live_records()}
        await self._refresh_all(live | {self.cloud.current_workspace})

        def read() -> list[Job]:
            records = self.cloud.store.list("job", phases=_LIVE)
            return [Job.from_record(d) for d in records if d.get("backend") == self.cloud.name]

        return await asyncio.to_thread(read)  # their code may be big: parsed off the loop

    async def stop_job(self, job_id: str) -> Job:
        stored = await self.get_job(job_id)
        if stored.phase.is_final:
            raise Conflict(
                f"job {job_id} has already ended ({stored.phase.value}); there is nothing to stop "
                "(delete the job to forget it)",
                field="job_id",
            )
        try:
            data = await self.cloud.call(
                "POST",
                f"/v2/{{p}}/training-jobs/{job_id}/actions",
                "job_stop",
                idempotent=True,  # terminating twice is still one termination
                json={"action_type": "terminate"},
            )
        except NotFound:
            self._gone(job_id, "ModelArts no longer has it (deleted outside this server)")
            raise Conflict(
                f"job {job_id} no longer exists on ModelArts; delete it here to forget it",
                field="job_id",
            ) from None
        return self._upsert(data, stored.spec.workspace_id or DEFAULT_WORKSPACE) or Job.from_record(
            self._record(job_id)
        )

    async def delete_job(self, job_id: str) -> None:
        job = await self.get_job(job_id)
        if not job.phase.is_final:
            raise Conflict(
                f"job {job_id} is {job.phase.value}; stop it before deleting it", field="job_id"
            )
        if not (self._record(job_id).get("runtime") or {}).get("gone"):
            try:
                await self.cloud.call(
                    "DELETE", f"/v2/{{p}}/training-jobs/{job_id}", "job_delete", idempotent=True
                )
            except NotFound:
                pass  # already gone upstream: forgetting it here is all that is left
        # Deletion upstream is asynchronous: searches may still show the job for a while.
        workspace_id = _workspace_of(self._record(job_id))
        state = self._sync_state(workspace_id)
        state["deleted"][job_id] = now_ms()
        self.cloud.store.put("setting", _sync_record(workspace_id), state)
        self.cloud.store.delete("job", job_id)
        await self.logs.forget(job_id)

    # -- logs ------------------------------------------------------------------------------

    async def read_logs(self, job_id: str, task: str, offset: int, limit: int) -> LogChunk:
        job = await self._job_with(job_id, task)
        return await self.logs.read(job_id, task, offset, limit, **self._log_source(job, task))

    async def open_log(self, job_id: str, task: str) -> LogFile:
        job = await self._job_with(job_id, task)
        return await self.logs.open(job_id, task, **self._log_source(job, task))

    async def log_sizes(self, job_id: str) -> dict[str, int]:
        job = await self.get_job(job_id)
        names = [t.name for t in job.tasks]
        sizes = await asyncio.gather(
            *(self.logs.size(job_id, name, **self._log_source(job, name)) for name in names)
        )
        return dict(zip(names, sizes))

    async def _job_with(self, job_id: str, task: str) -> Job:
        job = await self.get_job(job_id)
        if task not in [t.name for t in job.tasks]:
            names = ", ".join(t.name for t in job.tasks)
            raise NotFound(f"job {job_id} has no task {task!r} (tasks: {names})", field="task")
        return job

    def _log_source(self, job: Job, task: str) -> dict[str, Any]:
        """Where a task's log mirror grows from (TaskLogs' keyword arguments)."""
        export_dir = (self._record(job.id).get("runtime") or {}).get("log_export")
        return {
            "ended": job.phase.is_final,
            "pages": lambda cursor: self._log_page(job.id, task, cursor),
            "newest": lambda: self._log_page(job.id, task, None, newest=True),
            "export": (lambda: self._export(job.id, task, export_dir)) if export_dir else None,
        }

    async def _log_page(
        self, job_id: str, task: str, cursor: str | None, *, newest: bool = False
    ) -> Page | None:
        """The lines after ``cursor`` (None: from the first), oldest first, or with ``newest``
        the last line; None if the job is gone."""
        params: dict[str, Any] = (
            {"lines": 1, "order": "desc"} if newest else {"lines": PAGE_LINES, "order": "asc"}
        )
        if cursor is not None:
            params["base_line"] = cursor
        try:
            data = await self.cloud.call(
                "GET",
                f"/v2/{{p}}/training-jobs/{job_id}/logs/{task}",
                "job_logs",
                idempotent=True,
                params=params,
            )
        except NotFound:
            return None
        data = data or {}
        lines = int(data.get("lines") or 0)
        content = data.get("content") or ""
        # Lines come joined by newlines; each of ours ends with one, as the task wrote it.
        text = (content + "\n").encode("utf-8", errors="replace") if lines else b""
        return Page(text, data.get("end_line"), lines)

    async def _export(self, job_id: str, task: str, log_dir: str) -> Export | None:
        """The task's log in the job's OBS log export, as ModelArts names it."""
        bucket, _, prefix = _obs_uri(log_dir)[len("obs://") :].partition("/")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        key = f"{prefix}modelarts-job-{job_id}-{task}.log"
        obs = self.cloud.obs
        size = await obs.head_object(bucket, key)
        if size is None:
            return None

        async def read(start: int, stop: int) -> bytes:
            return await obs.get_range(bucket, key, start, stop)

        return Export(int(size), read)

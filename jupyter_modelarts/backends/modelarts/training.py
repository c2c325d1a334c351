"""Training jobs: flavors and engines, submit, follow, stop, delete, logs and metrics."""

from __future__ import annotations

import asyncio
import shlex
import uuid
from typing import TYPE_CHECKING, Any

from ...models import (
    Conflict,
    Engine,
    Flavor,
    InvalidRequest,
    Job,
    JobPhase,
    JobSpec,
    LogChunk,
    NotFound,
    Task,
    log_piece,
    now_ms,
)

if TYPE_CHECKING:
    from . import ModelArtsBackend

_SUBMIT_ANNOTATION = "jupyter-modelarts/submit-id"


def _obs_path(uri: str) -> str:
    """``obs://bucket/dir/`` → ``/bucket/dir/``, the form the training API documents."""
    return "/" + uri[len("obs://") :]


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


class Training:
    """The v2 training-job API and the OBS code folder jobs run from."""

    def __init__(self, cloud: ModelArtsBackend):
        self.cloud = cloud

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
        self.cloud.code.check_configured()
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
                "workspace_id": self.cloud.workspace_id,
                "annotations": {_SUBMIT_ANNOTATION: submit_id},
            },
            "algorithm": algorithm,
            "spec": {
                "resource": {"flavor_id": flavor_id, "node_count": spec.nodes},
                "log_export_path": {"obs_url": place.log_dir},
            },
        }
        # Never send a create twice blindly: a lost answer is looked up by its submit id first.
        data = await self.cloud.create_once(
            lambda: self.cloud.call(
                "POST", "/v2/{p}/training-jobs", "job_create", idempotent=False, json=body
            ),
            lambda: self._find_submitted(spec.name, submit_id),
        )
        job = self._job(data, spec)
        self._record(job)
        return job

    async def _find_submitted(self, name: str, submit_id: str) -> dict[str, Any] | None:
        data = await self.cloud.call(
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

    def _record(self, job: Job) -> None:
        self.cloud.store.put("job", job.id, job.to_json())

    def _stored(self, job_id: str) -> Job:
        data = self.cloud.store.get("job", job_id)
        if data is None:
            raise NotFound(f"no job {job_id}", field="job_id")
        return Job.from_record(data)

    def _cloud_job(self, job_id: str) -> Job:
        job = self._stored(job_id)
        if job.backend != self.cloud.name:
            raise Conflict(
                f"job {job_id} ran on the {job.backend} backend; this server uses ModelArts",
                field="job_id",
            )
        return job

    async def get_job(self, job_id: str) -> Job:
        stored = self._cloud_job(job_id)
        if stored.phase.is_final:
            return stored
        data = await self.cloud.poll.get(
            ("job", job_id),
            lambda: self.cloud.call(
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
        jobs = [Job.from_record(d) for d in self.cloud.store.list("job")]
        live = [j for j in jobs if j.backend == self.cloud.name and not j.phase.is_final]
        fresh = await asyncio.gather(*(self.get_job(j.id) for j in live), return_exceptions=True)
        updated = {j.id: j for j in fresh if isinstance(j, Job)}
        jobs = [updated.get(j.id, j) for j in jobs]
        return [j for j in jobs if phase is None or j.phase is phase]

    async def stop_job(self, job_id: str) -> Job:
        stored = self._cloud_job(job_id)
        if stored.phase.is_final:
            raise Conflict(f"job {job_id} has already ended ({stored.phase.value})", field="job_id")
        data = await self.cloud.call(
            "POST",
            f"/v2/{{p}}/training-jobs/{job_id}/actions",
            "job_stop",
            idempotent=True,  # terminating twice is still one termination
            json={"action_type": "terminate"},
        )
        self.cloud.poll.invalidate(("job", job_id))
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
            await self.cloud.call(
                "DELETE", f"/v2/{{p}}/training-jobs/{job_id}", "job_delete", idempotent=True
            )
        except NotFound:
            pass  # already gone upstream: forgetting it here is all that is left
        self.cloud.store.delete("job", job_id)

    async def read_logs(self, job_id: str, task: str, offset: int, limit: int) -> LogChunk:
        job = await self.get_job(job_id)
        if task not in [t.name for t in job.tasks]:
            names = ", ".join(t.name for t in job.tasks)
            raise NotFound(f"job {job_id} has no task {task!r} (tasks: {names})", field="task")
        data = await self.cloud.poll.get(
            ("logs", job_id, task),
            lambda: self.cloud.call(
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

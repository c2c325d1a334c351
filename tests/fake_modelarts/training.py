"""Fake v2 training jobs that really run: one `python boot_file` subprocess per task.

Lifecycle: Creating -(step_s)-> Pending -(step_s)-> Running -> Completed | Failed. Code, inputs
and outputs move between `FakeCloud.buckets` and a per-job folder under the work dir. Processes
run in their own session so terminate/stop can kill whole process groups. When a job ends, each
task's log is exported to the job's `log_export_path` as `modelarts-job-<id>-<task>.log`.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import copy
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import psutil

from .common import ApiError, Req, Response, json_response, now_ms

if TYPE_CHECKING:
    from .server import FakeCloud

LOG_PREVIEW_MAX = 1024 * 1024
LOG_LINES_MAX = 500  # show_training_job_logs_from_aom: lines is 1 to 500, 50 by default
METRIC_PERIOD_S = 60.0
ACTIVE = ("Creating", "Pending", "Running")
FINAL = ("Completed", "Failed", "Terminated", "Abnormal")
_JOB_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OBS_PATH = re.compile(r"(?:obs:/)?/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(/[^\\]*)?")

FLAVORS = [
    {
        "flavor_id": "modelarts.vm.cpu.8u",
        "flavor_name": "Computing CPU(8U) instance",
        "flavor_type": "CPU",
        "max_num": 8,
        "billing": {"code": "modelarts.vm.cpu.8u", "unit_num": 1},
        "flavor_info": {
            "max_num": 8,
            "cpu": {"arch": "x86", "core_num": 8},
            "memory": {"size": 32, "unit": "GB"},
            "disk": {"size": 500, "unit": "GB"},
        },
        "attributes": {},
    },
    {
        "flavor_id": "modelarts.vm.gpu.t4",
        "flavor_name": "GPU: 1*NVIDIA-T4(16GB) | CPU: 8 vCPUs 32GB",
        "flavor_type": "GPU",
        "max_num": 4,
        "billing": {"code": "modelarts.vm.gpu.t4", "unit_num": 1},
        "flavor_info": {
            "max_num": 4,
            "cpu": {"arch": "x86", "core_num": 8},
            "gpu": {"unit_num": 1, "product_name": "NVIDIA-T4", "memory": "16GB"},
            "memory": {"size": 32, "unit": "GB"},
            "disk": {"size": 500, "unit": "GB"},
        },
        "attributes": {},
    },
    {
        "flavor_id": "modelarts.kat1.xlarge",
        "flavor_name": "Ascend: 1*Ascend 910(32GB) | ARM: 24 vCPUs 96GB",
        "flavor_type": "Ascend",
        "max_num": 2,
        "billing": {"code": "modelarts.kat1.xlarge", "unit_num": 1},
        "flavor_info": {
            "max_num": 2,
            "cpu": {"arch": "arm", "core_num": 24},
            "npu": {"unit_num": 1, "product_name": "Ascend-910", "memory": "32GB"},
            "memory": {"size": 96, "unit": "GB"},
            "disk": {"size": 750, "unit": "GB"},
        },
        "attributes": {},
    },
]
ENGINES = [
    {
        "engine_id": "pytorch-cp37-1.8.0-cuda10.2",
        "engine_name": "PyTorch",
        "engine_version": "pytorch_1.8.0-cuda_10.2-py_3.7-ubuntu_18.04-x86_64",
        "v1_compatible": False,
        "run_user": "1102",
        "image_info": {
            "cpu_image_url": "aip/pytorch_1_8:train",
            "gpu_image_url": "aip/pytorch_1_8:train",
            "image_version": "pytorch_1.8.0-cuda_10.2-py_3.7-ubuntu_18.04-x86_64-20220926",
        },
    }
]


class JobFailure(Exception):
    """The job cannot start (missing code, inputs, ...): it ends Failed with this message."""


def _bad(msg: str, code: str = "ModelArts.0104") -> ApiError:
    return ApiError(400, code, msg)


def parse_obs_path(url: Any, field: str) -> tuple[str, str]:
    """(bucket, key prefix) of `/bucket/key` or `obs://bucket/key`, else 400 ModelArts.2608."""
    m = _OBS_PATH.fullmatch(url) if isinstance(url, str) else None
    if not m:
        raise _bad(f"{field}: illegal OBS path {url!r}", "ModelArts.2608")
    return m.group(1), (m.group(2) or "/").lstrip("/")


class LineIndex:
    """Where each complete line of a growing log ends, scanned incrementally (a page of a 50 MiB
    log must not cost a read of the whole file)."""

    def __init__(self, path: Path):
        self.path = path
        self.ends = array.array("q")  # byte offset just past each complete line's newline
        self.scanned = 0  # everything before this is indexed; a partial line is scanned again

    def refresh(self) -> int:
        """Index what was written since; returns the file's size."""
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return 0
        if size > self.scanned:
            with open(self.path, "rb") as f:
                f.seek(self.scanned)
                data = f.read(size - self.scanned)
            start = 0
            while (cut := data.find(b"\n", start)) >= 0:
                self.ends.append(self.scanned + cut + 1)
                start = cut + 1
            self.scanned += start
        return size

    def start(self, line: int) -> int:
        return self.ends[line - 1] if line > 0 else 0


class Job:
    def __init__(self, obj: dict[str, Any], spec: dict[str, Any], root: Path):
        self.obj = obj
        self.spec = spec  # the resolved run spec (OBS paths, parameters, env)
        self.root = root
        self.lines: dict[str, LineIndex] = {}
        # AOM numbers lines with large opaque values; a client may only pass them back.
        self.line_base = obj["metadata"]["create_time"] * 1000
        self.procs: dict[str, subprocess.Popen] = {}
        self.samples: dict[str, dict[str, list[float]]] = {}
        self.ps: dict[str, psutil.Process] = {}
        self.lifecycle: asyncio.Task | None = None
        self.started = 0.0

    @property
    def id(self) -> str:
        return self.obj["metadata"]["id"]

    @property
    def status(self) -> dict[str, Any]:
        return self.obj["status"]

    def log_path(self, task: str) -> Path:
        return self.root / "logs" / f"{task}.log"

    def line_index(self, task: str) -> LineIndex:
        if task not in self.lines:
            self.lines[task] = LineIndex(self.log_path(task))
        return self.lines[task]

    def view(self) -> dict[str, Any]:
        obj = copy.deepcopy(self.obj)
        if self.started and obj["status"]["phase"] in ("Running", "Terminating"):
            obj["status"]["duration"] = int((time.time() - self.started) * 1000)
        return obj


class Training:
    def __init__(self, cloud: FakeCloud):
        self.cloud = cloud
        self.jobs: dict[str, Job] = {}
        # ModelArts refuses a create whose name an existing job holds (ModelArts.2751).
        self.unique_names = True
        self.log_bytes_served: dict[tuple[str, str], int] = {}

    # -- API ---------------------------------------------------------------------------------

    def create_training_job(self, req: Req) -> Response:
        body = req.body
        if not isinstance(body, dict):
            raise _bad("a JSON object body is required")
        if body.get("kind") != "job":
            raise _bad("kind: only 'job' is supported")
        md = body.get("metadata")
        if not isinstance(md, dict) or not isinstance(md.get("name"), str):
            raise _bad("metadata.name is required")
        if not _JOB_NAME.fullmatch(md["name"]):
            raise _bad("metadata.name: 1-64 characters of letters, digits, '-' and '_'")
        if len(md.get("description") or "") > 256:
            raise _bad("metadata.description longer than 256")
        annotations = md.get("annotations") or {}
        if not all(isinstance(v, str) for v in annotations.values()):
            raise _bad("metadata.annotations values must be strings")
        alg = body.get("algorithm")
        if not isinstance(alg, dict):
            raise _bad("algorithm is required")
        run = self._run_spec(alg)
        resource = (body.get("spec") or {}).get("resource")
        if not isinstance(resource, dict):
            raise _bad("spec.resource is required")
        flavor = next((f for f in FLAVORS if f["flavor_id"] == resource.get("flavor_id")), None)
        if flavor is None:
            raise _bad(f"spec.resource.flavor_id {resource.get('flavor_id')!r} does not exist")
        nodes = resource.get("node_count", 1)
        if isinstance(nodes, bool) or not isinstance(nodes, int) or nodes < 1:
            raise _bad("spec.resource.node_count must be a positive integer")
        if nodes > flavor["max_num"]:
            raise _bad(f"spec.resource.node_count exceeds {flavor['max_num']} for this flavor")
        if self.unique_names and any(
            job.obj["metadata"]["name"] == md["name"] for job in self.jobs.values()
        ):
            raise _bad(f"Duplicate training job name: {md['name']}.", "ModelArts.2751")

        job_id = str(uuid.uuid4())
        tasks = [f"worker-{i}" for i in range(nodes)]
        algorithm = copy.deepcopy(alg)
        for kind, items in (
            ("inputs", algorithm.get("inputs")),
            ("outputs", algorithm.get("outputs")),
        ):
            for item in items or []:
                item.setdefault("local_dir", f"/home/ma-user/modelarts/{kind}/{item['name']}_0")
                item.setdefault("access_method", "parameter")
                if kind == "outputs":
                    item.update(mode="upload_periodically", period=30)
        # The response model (JobAlgorithmResponse) lists environments as maps.
        algorithm["environments"] = [{k: v} for k, v in (alg.get("environments") or {}).items()]
        spec = copy.deepcopy(body.get("spec") or {})
        spec["resource"] = dict(
            resource,
            node_count=nodes,
            flavor_name=flavor["flavor_name"],
            flavor_detail={
                "flavor_type": flavor["flavor_type"],
                "billing": flavor["billing"],
                "flavor_info": flavor["flavor_info"],
            },
        )
        obj = {
            "kind": "job",
            "metadata": {
                "id": job_id,
                "name": md["name"],
                "description": md.get("description") or "",
                "workspace_id": md.get("workspace_id") or "0",
                "create_time": now_ms(),
                "user_name": self.cloud.iam_user,
                "annotations": dict(annotations),
            },
            "status": {
                "phase": "Creating",
                "secondary_phase": "Creating",
                "duration": 0,
                "tasks": tasks,
                "task_statuses": [],
                "running_records": [],
            },
            "algorithm": algorithm,
            "spec": spec,
            "endpoints": {},
        }
        job = Job(obj, run, self.cloud.workdir / "jobs" / job_id)
        self.jobs[job_id] = job
        job.lifecycle = asyncio.get_running_loop().create_task(self._lifecycle(job))
        return json_response(201, job.view())

    def _run_spec(self, alg: dict[str, Any]) -> dict[str, Any]:
        """Validate the runnable part of `algorithm` and resolve its OBS paths."""
        code_dir, boot_file = alg.get("code_dir"), alg.get("boot_file")
        if bool(code_dir) != bool(boot_file):
            raise _bad("algorithm.code_dir and algorithm.boot_file must be given together")
        if not code_dir and not alg.get("command"):
            raise _bad("algorithm needs code_dir + boot_file or a command")
        run: dict[str, Any] = {"command": alg.get("command"), "code": None, "boot": None}
        if code_dir:
            bucket, prefix = parse_obs_path(code_dir, "algorithm.code_dir")
            if not prefix:
                raise _bad("algorithm.code_dir must not be a bucket", "ModelArts.2606")
            prefix = prefix if prefix.endswith("/") else prefix + "/"
            boot_bucket, boot_key = parse_obs_path(boot_file, "algorithm.boot_file")
            if boot_bucket != bucket or not boot_key.startswith(prefix):
                raise _bad("algorithm.boot_file must be inside algorithm.code_dir")
            run.update(code=(bucket, prefix), boot=boot_key[len(prefix) :])
        params = []
        for p in alg.get("parameters") or []:
            if not isinstance(p.get("name"), str) or not isinstance(p.get("value", ""), str):
                raise _bad("algorithm.parameters: name and string value required")
            params.append((p["name"], p.get("value", "")))
        run["parameters"] = params
        for kind in ("inputs", "outputs"):
            channels = []
            for ch in alg.get(kind) or []:
                name = ch.get("name")
                url = ((ch.get("remote") or {}).get("obs") or {}).get("obs_url")
                if not isinstance(name, str) or not name or url is None:
                    raise _bad(f"algorithm.{kind}: name and remote.obs.obs_url are required")
                bucket, key = parse_obs_path(url, f"algorithm.{kind}.{name}")
                if not key:
                    raise _bad(f"algorithm.{kind}.{name} must not be a bucket", "ModelArts.2606")
                channels.append((name, bucket, key, ch.get("access_method") or "parameter"))
            run[kind] = channels
        envs = alg.get("environments") or {}
        for key, value in envs.items():
            if not _ENV_NAME.fullmatch(key) or key.startswith("MA_") or not isinstance(value, str):
                raise _bad(f"algorithm.environments: invalid or reserved variable {key!r}")
        run["env"] = dict(envs)
        return run

    def _job(self, req: Req) -> Job:
        job = self.jobs.get(req.params["training_job_id"])
        if job is None:
            raise ApiError(404, "ModelArts.2762", "The training job does not exist.")
        return job

    def show_training_job_details(self, req: Req) -> Response:
        return json_response(200, self._job(req).view())

    def stop_training_job(self, req: Req) -> Response:
        job = self._job(req)
        if not isinstance(req.body, dict) or req.body.get("action_type") != "terminate":
            raise _bad("action_type must be 'terminate'")
        if job.status["phase"] not in ACTIVE:
            raise _bad(f"a job in phase {job.status['phase']} cannot be terminated")
        job.status.update(phase="Terminating", secondary_phase="Terminating")
        if job.lifecycle:
            job.lifecycle.cancel()
        asyncio.get_running_loop().create_task(self._terminate(job))
        return json_response(202, job.view())

    def delete_training_job(self, req: Req) -> Response:
        job = self._job(req)
        if job.status["phase"] not in FINAL:
            raise _bad(f"a job in phase {job.status['phase']} cannot be deleted")
        del self.jobs[job.id]
        shutil.rmtree(job.root, ignore_errors=True)
        return Response(202)

    def live_count(self) -> int:
        """Jobs not ended yet: what the training quota counts."""
        final = ("Completed", "Failed", "Terminated", "Abnormal")
        return sum(1 for job in self.jobs.values() if job.status.get("phase") not in final)

    def list_training_jobs(self, req: Req) -> Response:
        body = req.body if isinstance(req.body, dict) else {}
        offset, limit = body.get("offset", 0), body.get("limit", 10)
        if not isinstance(offset, int) or offset < 0 or not isinstance(limit, int):
            raise _bad("offset must be >= 0")
        if not 1 <= limit <= 50:
            raise _bad("limit must be between 1 and 50")
        sort_by = body.get("sort_by") or "create_time"
        order = body.get("order") or "desc"
        if sort_by not in ("create_time", "name") or order not in ("asc", "desc"):
            raise _bad("sort_by/order invalid")
        workspace_id = body.get("workspace_id") or "0"
        items = [
            job.view()
            for job in self.jobs.values()
            if (job.obj["metadata"].get("workspace_id") or "0") == workspace_id
        ]
        for flt in body.get("filters") or []:
            items = [i for i in items if _matches(i, flt)]
        if sort_by == "name":
            items.sort(key=lambda i: i["metadata"]["name"], reverse=order == "desc")
        else:
            items.sort(key=lambda i: i["metadata"]["create_time"], reverse=order == "desc")
        page = items[offset * limit : (offset + 1) * limit]  # offset is a page index
        return json_response(
            200,
            {
                "total": len(items),
                "count": len(page),
                "limit": limit,
                "offset": offset,
                "sort_by": sort_by,
                "order": order,
                "group_by": "",
                "workspace_id": body.get("workspace_id") or "0",
                "items": page,
            },
        )

    def show_training_job_logs_preview(self, req: Req) -> Response:
        job = self._job(req)
        task = self._task(job, req)
        path = job.log_path(task)
        data = path.read_bytes() if path.exists() else b""
        tail = data[-LOG_PREVIEW_MAX:]
        key = (job.id, task)
        self.log_bytes_served[key] = self.log_bytes_served.get(key, 0) + len(tail)
        content = tail.decode("utf-8", errors="replace")
        return json_response(
            200, {"content": content, "current_size": len(tail), "full_size": len(data)}
        )

    def show_training_job_logs_from_aom(self, req: Req) -> Response:
        """A page of a task's log by lines, as the SDK documents it: `lines` (1-500, default 50)
        lines from `base_line` (an opaque line number from an earlier answer; absent: the
        newest lines, or the first ones when ascending), `order` asc (old to new) or desc (new
        to old, the default). A line is shipped once complete; the last, unterminated one only
        when the job has ended. `content` is the lines joined by newlines."""
        job = self._job(req)
        task = self._task(job, req)
        try:
            count = int(req.query.get("lines", "50"))
        except ValueError:
            count = 0
        if not 1 <= count <= LOG_LINES_MAX:
            raise _bad(f"lines must be an integer from 1 to {LOG_LINES_MAX}")
        order = req.query.get("order", "desc")
        if order not in ("asc", "desc"):
            raise _bad("order must be asc or desc")
        base = req.query.get("base_line")
        if base is not None and not base.isdigit():
            raise _bad("base_line must be a line number from an earlier answer")
        index = job.line_index(task)
        size = index.refresh()
        total = len(index.ends)
        if job.status["phase"] in FINAL and size > index.start(total):
            total += 1  # the unterminated last line
        here = None if base is None else int(base) - job.line_base
        if order == "asc":
            first = 0 if here is None else here + 1
            stop = first + count
        else:
            stop = total if here is None else here
            first = stop - count
        first, stop = max(0, first), min(total, stop)
        if first >= stop:
            empty = base or ""
            return json_response(
                200, {"start_line": empty, "end_line": empty, "lines": 0, "content": ""}
            )
        begin = index.start(first)
        end = index.ends[stop - 1] if stop - 1 < len(index.ends) else size
        with open(job.log_path(task), "rb") as f:
            f.seek(begin)
            data = f.read(end - begin)
        key = (job.id, task)
        self.log_bytes_served[key] = self.log_bytes_served.get(key, 0) + len(data)
        text = data.decode("utf-8", errors="replace")
        lines = (text[:-1] if text.endswith("\n") else text).split("\n")
        numbers = [job.line_base + first, job.line_base + stop - 1]
        if order == "desc":
            lines.reverse()
            numbers.reverse()
        return json_response(
            200,
            {
                "start_line": str(numbers[0]),
                "end_line": str(numbers[1]),
                "lines": len(lines),
                "content": "\n".join(lines),
            },
        )

    def show_training_job_metrics(self, req: Req) -> Response:
        job = self._job(req)
        task = self._task(job, req)
        samples = job.samples.get(task, {"cpuUsage": [], "memUsage": []})
        return json_response(
            200, {"metrics": [{"metric": k, "value": list(v)} for k, v in samples.items()]}
        )

    def show_training_job_flavors(self, req: Req) -> Response:
        wanted = req.query.get("flavor_type")
        flavors = [f for f in FLAVORS if wanted in (None, f["flavor_type"])]
        return json_response(200, {"total_count": len(flavors), "flavors": flavors})

    def show_training_job_engines(self, req: Req) -> Response:
        return json_response(200, {"total": len(ENGINES), "items": ENGINES})

    @staticmethod
    def _task(job: Job, req: Req) -> str:
        task = req.params["task_id"]
        if task not in job.status["tasks"]:
            raise ApiError(404, "ModelArts.2763", f"The task {task} does not exist.")
        return task

    # -- lifecycle ---------------------------------------------------------------------------

    async def _lifecycle(self, job: Job) -> None:
        step = self.cloud.step_s
        await asyncio.sleep(step)
        job.status.update(phase="Pending", secondary_phase="Queuing")
        await asyncio.sleep(step)
        try:
            argv, env, cwd = self._prepare(job)
        except JobFailure as exc:
            self._finish(job, "Failed", {t: (-1, str(exc)) for t in job.status["tasks"]})
            return
        self._start(job, argv, env, cwd)
        while True:
            await asyncio.sleep(0.05)
            codes = {task: proc.poll() for task, proc in job.procs.items()}
            if all(code is not None for code in codes.values()):
                break
            self._sample(job)
        # Like a container teardown: nothing the training code left behind survives the job.
        await kill_processes(job.procs.values(), grace_s=0)
        try:
            self._upload_outputs(job)
        except JobFailure as exc:
            self._finish(job, "Failed", {t: (-1, str(exc)) for t in job.status["tasks"]})
            return
        results = {
            task: (code, "" if code == 0 else f"exited with code {code}")
            for task, code in codes.items()
        }
        phase = "Completed" if all(code == 0 for code in codes.values()) else "Failed"
        self._finish(job, phase, results)

    def _download(self, bucket: str, key: str, dest: Path, what: str) -> None:
        """Copy an OBS object, or every object under a `dir/` prefix, into `dest`."""
        objects = self.cloud.buckets.get(bucket)
        if objects is None:
            raise JobFailure(f"{what}: OBS bucket {bucket} does not exist")
        dest.mkdir(parents=True, exist_ok=True)
        if not key.endswith("/") and key in objects:
            (dest / PurePosixPath(key).name).write_bytes(objects[key])
            return
        prefix = key if key.endswith("/") else key + "/"
        found = False
        for name, data in list(objects.items()):
            rel = name[len(prefix) :]
            if not name.startswith(prefix) or not rel or rel.endswith("/"):
                continue
            if any(part in ("", ".", "..") for part in rel.split("/")):
                continue
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            found = True
        if not found:
            raise JobFailure(f"{what}: obs://{bucket}/{key} does not exist or is empty")

    def _prepare(self, job: Job) -> tuple[list[str], dict[str, str], Path]:
        run = job.spec
        root = job.root
        (root / "logs").mkdir(parents=True, exist_ok=True)
        code = root / "code"
        code.mkdir(parents=True, exist_ok=True)
        if run["code"]:
            bucket, prefix = run["code"]
            self._download(bucket, prefix, code, "code_dir")
            if not (code / run["boot"]).is_file():
                raise JobFailure(f"boot_file obs://{bucket}/{prefix}{run['boot']} does not exist")
            argv = [sys.executable, str(code / run["boot"])]
        else:
            argv = ["/bin/sh", "-c", run["command"]]
        argv += [f"--{name}={value}" for name, value in run["parameters"]]
        env: dict[str, str] = {}
        for kind in ("inputs", "outputs"):
            for name, bucket, key, access in run[kind]:
                local = root / kind / f"{name}_0"
                if kind == "inputs":
                    self._download(bucket, key, local, f"input {name}")
                else:
                    if bucket not in self.cloud.buckets:
                        raise JobFailure(f"output {name}: OBS bucket {bucket} does not exist")
                    local.mkdir(parents=True, exist_ok=True)
                if access == "env":
                    env[name] = str(local)
                else:
                    argv.append(f"--{name}={local}")
        return argv, env, code

    def _start(self, job: Job, argv: list[str], channel_env: dict[str, str], cwd: Path) -> None:
        tasks = job.status["tasks"]
        n = len(tasks)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            master_port = s.getsockname()[1]
        for index, task in enumerate(tasks):
            env = dict(os.environ)
            env.update(job.spec["env"])
            env.update(channel_env)
            env.update(
                VC_TASK_INDEX=str(index),
                VC_WORKER_NUM=str(n),
                VC_WORKER_HOSTS=",".join(["127.0.0.1"] * n),
                MA_NUM_HOSTS=str(n),
                MA_TASK_NAME="worker",
                MA_CURRENT_INSTANCE_NAME=task,
                MA_JOB_DIR=str(job.root),
                RANK=str(index),
                WORLD_SIZE=str(n),
                MASTER_ADDR="127.0.0.1",
                MASTER_PORT=str(master_port),
                PYTHONUNBUFFERED="1",
            )
            with open(job.log_path(task), "ab") as log:
                proc = subprocess.Popen(
                    argv,
                    cwd=cwd,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group, killed as a whole
                )
            job.procs[task] = proc
            job.samples[task] = {"cpuUsage": [], "memUsage": []}
            with contextlib.suppress(psutil.Error):
                job.ps[task] = psutil.Process(proc.pid)
        job.started = time.time()
        job.status.update(phase="Running", secondary_phase="Running", start_time=now_ms())
        job.status["running_records"] = [{"start_at": int(job.started)}]
        self._sample(job, force=True)

    def _sample(self, job: Job, *, force: bool = False) -> None:
        """One sample per task per minute of running time, in percent as ModelArts reports them:
        cpuUsage (of the machine's CPUs), memUsage (of its memory), and on a GPU or Ascend flavor
        gpuUtil/gpuMemUsage or npuUtil/npuMemUsage. ModelArts answers -1 for "no data": the first
        CPU sample (psutil has no interval to average over yet) and every accelerator sample (the
        fake has none)."""
        elapsed = time.time() - job.started
        kind = job.obj["spec"]["resource"]["flavor_detail"]["flavor_type"]
        accelerator = {"GPU": ("gpuUtil", "gpuMemUsage"), "Ascend": ("npuUtil", "npuMemUsage")}
        for task, ps in job.ps.items():
            values = job.samples[task]
            if not force and len(values["cpuUsage"]) > elapsed // METRIC_PERIOD_S:
                continue
            try:
                cpu = ps.cpu_percent(None) / (psutil.cpu_count() or 1)
                mem = ps.memory_percent()
            except psutil.Error:
                continue
            values["cpuUsage"].append(round(cpu, 2) if values["cpuUsage"] else -1)
            values["memUsage"].append(round(mem, 2))
            for name in accelerator.get(kind, ()):
                values.setdefault(name, []).append(-1)

    def _upload_outputs(self, job: Job) -> None:
        for name, bucket, key, _ in job.spec["outputs"]:
            local = job.root / "outputs" / f"{name}_0"
            objects = self.cloud.buckets.get(bucket)
            if objects is None:
                raise JobFailure(f"output {name}: OBS bucket {bucket} does not exist")
            prefix = key if key.endswith("/") else key + "/"
            for path in sorted(local.rglob("*")):
                if path.is_file():
                    objects[prefix + path.relative_to(local).as_posix()] = path.read_bytes()

    def _export_logs(self, job: Job) -> None:
        url = ((job.obj.get("spec") or {}).get("log_export_path") or {}).get("obs_url")
        if not url:
            return
        bucket, prefix = parse_obs_path(url, "spec.log_export_path.obs_url")
        objects = self.cloud.buckets.get(bucket)
        if objects is None:
            return
        prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        for task in job.status["tasks"]:
            path = job.log_path(task)
            if path.exists():
                key = f"{prefix}modelarts-job-{job.id}-{task}.log"
                objects[key] = path.read_bytes()
                self.cloud.obs.mtimes[(bucket, key)] = time.time()

    def _finish(self, job: Job, phase: str, results: dict[str, tuple[int, str]]) -> None:
        self._export_logs(job)
        now = time.time()
        status = job.status
        status.update(phase=phase, secondary_phase=phase)
        status["task_statuses"] = [
            {"task": task, "exit_code": code, "message": msg}
            for task, (code, msg) in results.items()
        ]
        if job.started:
            status["duration"] = int((now - job.started) * 1000)
            records = status["running_records"]
            if records:
                records[-1].update(end_at=int(now), end_reason=phase)

    async def _terminate(self, job: Job) -> None:
        await kill_processes(job.procs.values())
        with contextlib.suppress(JobFailure):
            self._upload_outputs(job)
        codes = {task: proc.returncode for task, proc in job.procs.items()}
        self._finish(
            job,
            "Terminated",
            {t: (codes.get(t, -1), "terminated by user") for t in job.status["tasks"]},
        )

    async def remove(self, job_id: str) -> None:
        """Delete a job in any phase, as the console does: its processes are killed first."""
        job = self.jobs.pop(job_id)
        if job.lifecycle:
            job.lifecycle.cancel()
        await kill_processes(job.procs.values())
        shutil.rmtree(job.root, ignore_errors=True)

    async def shutdown(self) -> None:
        live = [job for job in self.jobs.values() if job.status["phase"] not in FINAL]
        for job in live:
            if job.lifecycle:
                job.lifecycle.cancel()
        await kill_processes([p for job in live for p in job.procs.values()])


async def kill_processes(procs, grace_s: float = 1.0) -> None:
    """SIGTERM each process group, then SIGKILL the groups after `grace_s`, and reap the leaders.

    The SIGKILL goes to every group even when its leader has exited, so that children the
    training code spawned do not outlive the job.
    """
    procs = list(procs)
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        for proc in procs:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, sig)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and any(p.poll() is None for p in procs):
            await asyncio.sleep(0.02)
    # Orphaned children are reaped by init a moment later; wait until the groups are empty.
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline and any(_group_alive(p.pid) for p in procs):
        await asyncio.sleep(0.02)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _matches(item: dict[str, Any], flt: dict[str, Any]) -> bool:
    key, op, values = flt.get("key"), flt.get("operator"), flt.get("value") or []
    fields = {
        "name": item["metadata"]["name"],
        "phase": item["status"]["phase"],
        "kind": item["kind"],
        "create_time": item["metadata"]["create_time"],
        "user_id": item["metadata"]["user_name"],
    }
    if key not in fields or op not in ("like", "in", "not", "between"):
        raise _bad(f"filters: unsupported key/operator {key!r}/{op!r}")
    actual = fields[key]
    if op == "like":
        return any(str(v) in str(actual) for v in values)
    if op == "in":
        return str(actual) in [str(v) for v in values]
    if op == "not":
        return str(actual) not in [str(v) for v in values]
    try:
        low, high = (int(v) for v in values)
    except (TypeError, ValueError) as exc:
        raise _bad("filters: between needs two integer values") from exc
    return low <= int(actual) <= high

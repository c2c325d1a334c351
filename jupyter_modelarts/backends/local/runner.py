"""Local training jobs: one detached process group per task, state that outlives the server.

Each task runs under a tiny ``/bin/sh`` wrapper that writes the task's exit status to a file when
it ends, so the real outcome is known even if the server was dead at that moment. The server
learns of an exit through a pidfd (no polling), and re-attaches to live tasks after a restart.
What a task leaves running in its process group dies with it, and a stop's SIGKILL deadline is
kept in the job's record, so neither depends on the server staying up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import psutil

from ...kernel_path import remove_entry
from ...models import (
    Conflict,
    Job,
    JobPhase,
    JobSpec,
    LogChunk,
    Metrics,
    MetricSeries,
    NotFound,
    Task,
    log_piece,
    now_ms,
    parse_obs_uri,
)
from ...store import Store
from ..base import LogFile
from ..snapshot import INLINE_BOOT_FILE, in_pool, in_snapshot_pool, resolve_code
from .objects import ObjectStore
from .snapshots import CodeStore, code_store

# The wrapper ignores TERM/INT/HUP only for itself (a trap with a command is reset in children), so
# a stop reaches the user's process and the wrapper still records how it ended. The file is read
# only once the wrapper is gone; one killed mid-write leaves it empty, read as "no exit code".
_WRAPPER = 'exit_file=$1; shift; trap : TERM INT HUP; "$@"; rc=$?; printf "%s" "$rc" > "$exit_file"'
# Variables of the server that a job must not inherit: its own and the hub's secrets and identity.
_PRIVATE_ENV_PREFIXES = (
    "JUPYTERHUB_",
    "JPY_",
    "JUPYTER_MODELARTS_",
    "HUAWEICLOUD_SDK_",
    "JUPYTER_PASSWORD",
)
_METRIC_POINTS_KEPT = 720
# A metrics point: epoch ms, CPU and memory in use as % of the machine's (as on ModelArts, where
# they are % of the task's flavor).
_Point = tuple[int, float, float]
# A sampler line is about 50 bytes: a tail this long holds the points kept, read in one go.
_METRIC_TAIL_BYTES = _METRIC_POINTS_KEPT * 128
# Tails kept parsed (a job view asks every few seconds; an ended job's file no longer changes).
_METRIC_TAILS_CACHED = 16
# Log sizes of up to this many tasks are taken on the loop (a stat each); more, in a thread.
_SIZES_ON_LOOP = 16

# Off the event loop, in pools of their own so they never queue behind image saves or snapshots:
# process scans, signals and metrics reads (short), and output copies (long, not to hold those up).
_SCAN_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ma-job-scan")
_COPY_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ma-job-copy")


def _private_env(name: str) -> bool:
    """A variable of the server kept from jobs: the prefixes above, and any *TOKEN* it holds."""
    upper = name.upper()
    return upper.startswith(_PRIVATE_ENV_PREFIXES) or "TOKEN" in upper


def _code_store(jobs_dir: str) -> CodeStore:
    """The state folder's store of job code (see snapshots.py)."""
    return code_store(os.path.join(os.path.dirname(jobs_dir), "code-store"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _process_alive(pid: int, create_time: float) -> bool:
    """True while the very process we started (not a reuse of its pid) has not exited."""
    try:
        proc = psutil.Process(pid)
        return (
            abs(proc.create_time() - create_time) < 0.05 and proc.status() != psutil.STATUS_ZOMBIE
        )
    except psutil.Error:
        return False


def _same_process(pid: int, create_time: float | None) -> bool:
    """True while ``pid`` is the process we started, running or a zombie not yet reaped."""
    try:
        return (
            create_time is not None and abs(psutil.Process(pid).create_time() - create_time) < 0.05
        )
    except psutil.Error:
        return False


@dataclass
class _TaskRun:
    """What the server holds for a task while it runs (rebuilt after a restart)."""

    name: str
    dir: str
    pid: int | None = None
    create_time: float | None = None
    popen: subprocess.Popen | None = None
    cpu_prev: tuple[float, float] | None = None
    # The last metrics points; a run rebuilt after a restart takes the file's tail once first
    # (history_read).
    points: deque[_Point] = field(default_factory=lambda: deque(maxlen=_METRIC_POINTS_KEPT))
    history_read: bool = False

    @property
    def exit_file(self) -> str:
        return os.path.join(self.dir, "exit_code")

    @property
    def log_file(self) -> str:
        return os.path.join(self.dir, "log")

    @property
    def metrics_file(self) -> str:
        return os.path.join(self.dir, "metrics.jsonl")

    def recorded_exit(self) -> int | None:
        try:
            with open(self.exit_file) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None


def _leftovers(run: _TaskRun) -> list[psutil.Process]:
    """The processes left in a task's group once its wrapper is gone and its pid free again. The
    group's number may belong to someone else by now, so a process counts only if it started
    after the task and carries the task's own MA_LOG_DIR."""
    found = []
    for pid in psutil.pids():
        try:
            if os.getpgid(pid) != run.pid:
                continue
            proc = psutil.Process(pid)
            if (
                proc.create_time() >= (run.create_time or 0) - 0.05
                and proc.environ().get("MA_LOG_DIR") == run.dir
            ):
                found.append(proc)
        except (OSError, psutil.Error):
            continue
    return found


def _signal_tasks(runs: list[_TaskRun], sig: int) -> None:
    """Signal every process of each task, also those left once its wrapper has exited."""
    for run in runs:
        if not run.pid:
            continue
        if _same_process(run.pid, run.create_time):
            # The wrapper, even a zombie, holds its pid: the group of that number is the task's.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(run.pid, sig)
            continue
        for proc in _leftovers(run):
            with contextlib.suppress(psutil.Error):
                proc.send_signal(sig)


def _read_log(path: str, offset: int, limit: int) -> tuple[int, bytes]:
    """A log's size, and up to ``limit`` bytes of it from ``offset`` plus the few that finish a
    character the limit cuts."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            f.seek(min(offset, size))
            return size, f.read(limit + 3)
    except FileNotFoundError:
        return 0, b""


def _file_sizes(paths: dict[str, str]) -> dict[str, int]:
    sizes = {}
    for name, path in paths.items():
        try:
            sizes[name] = os.stat(path).st_size
        except FileNotFoundError:
            sizes[name] = 0  # not started yet
    return sizes


def _tail_points(path: str) -> list[_Point]:
    """The last points of a metrics file, reading no more than its tail."""
    try:
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            start = max(0, size - _METRIC_TAIL_BYTES)
            f.seek(start)
            lines = f.read(size - start).split(b"\n")
    except FileNotFoundError:
        return []
    points = []
    for line in lines[1:] if start else lines:  # the first line of a tail may be cut
        with contextlib.suppress(ValueError, KeyError, TypeError):
            point = json.loads(line)
            points.append((point["t"], point["cpu"], point["mem"]))
    return points[-_METRIC_POINTS_KEPT:]


class JobRunner:
    """Owns local jobs: snapshot, queue, launch, follow, stop, and their records in the store."""

    def __init__(
        self,
        *,
        store: Store,
        objects: ObjectStore,
        jobs_dir: str,
        max_concurrent: int,
        stop_grace_s: float,
        metrics_interval_s: float,
        log: Any,
        on_change: Callable[[Job], None] | None = None,
    ):
        self.store = store
        self.objects = objects
        self.jobs_dir = jobs_dir
        self.max_concurrent = max_concurrent
        self.stop_grace_s = stop_grace_s
        self.metrics_interval_s = metrics_interval_s
        self.log = log
        self.on_change = on_change
        self._runs: dict[str, list[_TaskRun]] = {}
        self._lock = asyncio.Lock()
        self._sampler: asyncio.Task | None = None
        self._background: set[asyncio.Task] = set()
        self._pidfds: dict[int, int] = {}  # pid -> pidfd of each task being watched
        self._finishing: set[str] = set()  # jobs whose outputs are being copied
        # metrics file -> ((size, mtime), its last points), least recently read first
        self._tails: OrderedDict[str, tuple[tuple[int, int], list[_Point]]] = OrderedDict()
        os.makedirs(jobs_dir, exist_ok=True)

    # -- records ---------------------------------------------------------------------------

    def _load(self, job_id: str) -> tuple[Job, dict[str, Any]]:
        data = self.store.get("job", job_id)
        if data is None or data.get("backend") != "local":
            raise NotFound(f"no job {job_id}", field="job_id")
        runtime = data.get("runtime", {})
        return Job.from_record(data), runtime

    def _save(self, job: Job, runtime: dict[str, Any]) -> None:
        self.store.put("job", job.id, {**job.to_json(), "runtime": runtime})
        if self.on_change:
            self.on_change(job)

    def _job_dir(self, job_id: str) -> str:
        return os.path.join(self.jobs_dir, job_id)

    def _task_runs(self, job: Job, runtime: dict[str, Any]) -> list[_TaskRun]:
        runs = self._runs.get(job.id)
        if runs is None:
            runs = []
            for i, task in enumerate(job.tasks):
                info = runtime.get("tasks", [{}] * len(job.tasks))[i]
                runs.append(
                    _TaskRun(
                        task.name,
                        os.path.join(self._job_dir(job.id), "tasks", task.name),
                        pid=info.get("pid"),
                        create_time=info.get("create_time"),
                    )
                )
            self._runs[job.id] = runs
        return runs

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Follow again what ran before a restart; settle what ended while the server was away.

        Each record on its own: one that can't be recovered is failed with the reason (or left
        to the log when even that fails) and stops none of the others; the runner always starts.
        """
        for data in self.local_jobs(JobPhase.CREATING, JobPhase.RUNNING, JobPhase.TERMINATING):
            try:
                self._recover(data["id"])
            except Exception as err:
                self.log.exception("could not recover job record %s", data.get("id"))
                self._fail_record(data, f"could not be followed after a restart: {err!r}")
        try:
            await self._start_pending()
        finally:
            self._sampler = asyncio.create_task(self._sample_forever())

    def _recover(self, job_id: str) -> None:
        """Bring one record up to date, without waiting on anything: the API never shows a job
        as it was before the restart (the slow parts, such as an output copy, go on behind)."""
        job, runtime = self._load(job_id)
        if job.phase is JobPhase.CREATING:
            job.phase, job.ended_at = JobPhase.FAILED, now_ms()
            job.message = "the server stopped while the code was being snapshotted; submit again"
            self._save(job, runtime)
            return
        ended = []
        for task, run in zip(job.tasks, self._task_runs(job, runtime)):
            if (
                run.recorded_exit() is None
                and run.pid
                and _process_alive(run.pid, run.create_time or 0)
            ):
                self._watch(job.id, run)
            elif not task.phase.is_final:
                ended.append(run)
        if ended:  # tasks that ended while no server watched: what they left running goes now
            self._spawn(in_pool(_SCAN_POOL, _signal_tasks, ended, signal.SIGKILL))
        kill_at = runtime.get("kill_at")
        if kill_at is None and (job.phase is JobPhase.TERMINATING or runtime.get("failed_task")):
            kill_at = time.time() + self.stop_grace_s  # stopped before deadlines were recorded
        if kill_at is not None:
            self._spawn(self._kill_at(job_id, kill_at))
        # Also finishes a job whose outputs were being copied: the copy is done again.
        self._settle(job.id)

    def _fail_record(self, data: dict[str, Any], reason: str) -> None:
        """Give a record that can't be read as a Job its final state, straight in the store."""
        try:
            self.store.put(
                "job",
                data["id"],
                {**data, "phase": JobPhase.FAILED.value, "message": reason, "ended_at": now_ms()},
            )
        except Exception:
            self.log.exception("could not fail job record %s", data.get("id"))

    async def close(self) -> None:
        for task in [self._sampler, *self._background]:
            if task:
                task.cancel()
        loop = asyncio.get_running_loop()
        for fd in self._pidfds.values():
            loop.remove_reader(fd)
            os.close(fd)
        self._pidfds.clear()
        # Running jobs keep running: they are picked up again by the next start().

    # -- submit ----------------------------------------------------------------------------

    def _input_paths(self, spec: JobSpec) -> dict[str, str]:
        """Local folders of the inputs; checks that every input and output bucket exists."""
        for key, value in spec.outputs.items():
            self.objects.bucket_dir(parse_obs_uri(value, f"outputs.{key}").bucket)
        return {
            k: self.objects.path_for(parse_obs_uri(v, f"inputs.{k}"), field=f"inputs.{k}")
            for k, v in spec.inputs.items()
        }

    async def submit(
        self, spec: JobSpec, root_dir: str, python: str | None = None, code_root: str | None = None
    ) -> Job:
        """Snapshot and queue a job; ``python`` runs its ``code`` or ``boot_file``."""
        code_dir, plan = await in_snapshot_pool(resolve_code, spec, root_dir, code_root or root_dir)
        input_paths = self._input_paths(spec)
        job_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
        job = Job(
            id=job_id,
            name=spec.name,
            backend="local",
            phase=JobPhase.CREATING,
            spec=spec,
            tasks=[Task(f"worker-{i}", JobPhase.CREATING) for i in range(spec.nodes)],
        )
        # Kept with the job, so a Pending job or one relaunched later runs with the same Python.
        runtime: dict[str, Any] = {"inputs": input_paths, "python": python}
        self._save(job, runtime)
        code_dest = os.path.join(self._job_dir(job_id), "code")
        try:
            os.makedirs(code_dest)
            if code_dir:
                await _code_store(self.jobs_dir).snapshot(plan, code_dest)
            if spec.code is not None:
                with open(os.path.join(code_dest, INLINE_BOOT_FILE), "w") as f:
                    f.write(spec.code)
        except OSError as err:
            failure: str | None = f"could not snapshot the code: {err}"
        except Exception as err:  # unforeseen: still a final state, and the traceback logged
            self.log.exception("could not snapshot the code of job %s", job_id)
            failure = f"could not snapshot the code: internal error: {type(err).__name__}: {err}"
        else:
            failure = None
        # A stop, or a stop and a delete, may have come during the snapshot: they hold.
        try:
            job, runtime = self._load(job_id)
        except NotFound:
            await asyncio.to_thread(shutil.rmtree, self._job_dir(job_id), True)
            raise NotFound(
                f"job {job_id} was deleted while its code was being snapshotted", field="job_id"
            ) from None
        if job.phase is not JobPhase.CREATING:
            return job
        if failure is not None:
            job.phase, job.ended_at, job.message = JobPhase.FAILED, now_ms(), failure
            for task in job.tasks:
                task.phase = JobPhase.FAILED
            self._save(job, runtime)
            return job
        job.phase = JobPhase.PENDING
        for task in job.tasks:
            task.phase = JobPhase.PENDING
        self._save(job, runtime)
        await self._start_pending()
        return self._load(job_id)[0]

    def local_jobs(self, *phases: JobPhase) -> list[dict[str, Any]]:
        """The records of this server's jobs in ``phases`` (a store query: blocking)."""
        return [
            d
            for d in self.store.list("job", phases=tuple(p.value for p in phases))
            if d.get("backend") == "local"
        ]

    async def _start_pending(self) -> None:
        async with self._lock:
            pending = self.local_jobs(JobPhase.PENDING)
            free = self.max_concurrent - len(
                self.local_jobs(JobPhase.RUNNING, JobPhase.TERMINATING)
            )
            for data in sorted(pending, key=lambda d: d["created_at"])[: max(free, 0)]:
                job, runtime = self._load(data["id"])
                self._launch(job, runtime)

    def _task_env(self, job: Job, index: int, port: int, task_dir: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not _private_env(k)}
        # The server appends its kernels' folder to PYTHONPATH; a job gets the user's own.
        remove_entry(env)
        nodes = job.spec.nodes
        job_dir = self._job_dir(job.id)
        env.update(job.spec.env)
        env.update(
            {
                # The names ModelArts sets in a training container, so cloud code runs unchanged.
                "MA_NUM_HOSTS": str(nodes),
                "VC_TASK_INDEX": str(index),
                "VC_WORKER_NUM": str(nodes),
                "VC_WORKER_HOSTS": ",".join(["127.0.0.1"] * nodes),
                "MA_CURRENT_IP": "127.0.0.1",
                "MA_CURRENT_INSTANCE_NAME": f"{job.name}-worker-{index}",
                "MA_TASK_NAME": "worker",
                "MA_NUM_GPUS": "0",
                "MA_JOB_DIR": job_dir,
                "MA_LOG_DIR": task_dir,
                "WORKSPACE": os.path.join(job_dir, "code"),
                # torch.distributed's names, so multi-process training code runs unchanged.
                "MASTER_ADDR": "127.0.0.1",
                "MASTER_PORT": str(port),
                "WORLD_SIZE": str(nodes),
                "RANK": str(index),
                "LOCAL_RANK": "0",
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    def _argv(self, job: Job, runtime: dict[str, Any]) -> list[str]:
        spec = job.spec
        code = os.path.join(self._job_dir(job.id), "code")
        if spec.command:
            argv = list(spec.command)
        else:
            # Records from before engines were kernelspecs name no Python: the server's ran them.
            python = runtime.get("python") or sys.executable
            argv = [python, "-u", os.path.join(code, spec.boot_file or INLINE_BOOT_FILE)]
        argv += [f"--{k}={v}" for k, v in spec.parameters.items()]
        argv += [f"--{k}={v}" for k, v in runtime["inputs"].items()]
        argv += [f"--{k}={self._output_dir(job.id, k)}" for k in spec.outputs]
        return argv

    def _output_dir(self, job_id: str, name: str) -> str:
        return os.path.join(self._job_dir(job_id), "outputs", name)

    def _launch(self, job: Job, runtime: dict[str, Any]) -> None:
        port = _free_port()
        argv = self._argv(job, runtime)
        for name in job.spec.outputs:
            os.makedirs(self._output_dir(job.id, name), exist_ok=True)
        runs = [
            _TaskRun(
                t.name, os.path.join(self._job_dir(job.id), "tasks", t.name), history_read=True
            )
            for t in job.tasks
        ]
        self._runs[job.id] = runs
        runtime["tasks"] = []
        job.phase, job.started_at = JobPhase.RUNNING, now_ms()
        for index, (task, run) in enumerate(zip(job.tasks, runs)):
            os.makedirs(run.dir, exist_ok=True)
            with open(run.log_file, "ab") as log_file:
                try:
                    run.popen = subprocess.Popen(
                        ["/bin/sh", "-c", _WRAPPER, "ma-task", run.exit_file, *argv],
                        cwd=os.path.join(self._job_dir(job.id), "code"),
                        env=self._task_env(job, index, port, run.dir),
                        stdin=subprocess.DEVNULL,
                        stdout=log_file,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                except OSError as err:
                    log_file.write(f"could not start: {err}\n".encode())
                    with open(run.exit_file, "w") as f:
                        f.write("127")
                    runtime["tasks"].append({})
                    continue
            run.pid = run.popen.pid
            with contextlib.suppress(psutil.Error):
                run.create_time = psutil.Process(run.pid).create_time()
            runtime["tasks"].append({"pid": run.pid, "create_time": run.create_time})
            task.phase, task.started_at = JobPhase.RUNNING, job.started_at
        self._save(job, runtime)
        for run in runs:
            if run.pid:
                self._watch(job.id, run)
        self._settle(job.id)  # a task that could not start has ended already

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.log.error("a local job's background step failed", exc_info=task.exception())

    # -- following -------------------------------------------------------------------------

    def _watch(self, job_id: str, run: _TaskRun) -> None:
        """Call _settle when the task's process exits: a pidfd where Linux has one, else polling."""
        loop = asyncio.get_running_loop()
        pid = run.pid
        assert pid is not None
        try:
            fd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            self._spawn(self._poll_exit(job_id, run))
            return
        self._pidfds[pid] = fd

        def exited() -> None:
            loop.remove_reader(fd)
            os.close(self._pidfds.pop(pid, fd))
            self._spawn(self._ended(job_id, run))

        loop.add_reader(fd, exited)

    async def _poll_exit(self, job_id: str, run: _TaskRun) -> None:
        while _process_alive(run.pid or 0, run.create_time or 0):
            await asyncio.sleep(0.2)
        await self._ended(job_id, run)

    async def _ended(self, job_id: str, run: _TaskRun) -> None:
        """A task's wrapper exited: what the task left running ends with it, as a container
        ends with its main process on ModelArts; then the record follows."""
        await in_pool(_SCAN_POOL, _signal_tasks, [run], signal.SIGKILL)
        if run.popen is not None:
            # Reaped only now: until then its zombie keeps the pid, so the group is the task's.
            run.popen.wait()
        self._settle(job_id)

    def _settle(self, job_id: str) -> None:
        """Bring the record up to date with the processes; finish the job when all tasks ended."""
        try:
            job, runtime = self._load(job_id)
        except NotFound:
            return
        if job.phase not in (JobPhase.RUNNING, JobPhase.TERMINATING):
            return
        runs = self._task_runs(job, runtime)
        changed = False
        failed = None
        for task, run in zip(job.tasks, runs):
            if task.phase.is_final:
                continue
            if run.pid is not None and _process_alive(run.pid, run.create_time or 0):
                continue
            code = run.recorded_exit()
            task.exit_code, task.ended_at = code, now_ms()
            if runtime.get("stop_requested"):
                task.phase = JobPhase.TERMINATED
            elif code == 0:
                task.phase = JobPhase.COMPLETED
            else:
                task.phase = JobPhase.FAILED
                failed = task
            changed = True
        stop_peers = (
            failed is not None
            and not runtime.get("stop_requested")
            and not runtime.get("failed_task")
        )
        if stop_peers:
            # One failed worker fails the job: stop its peers, as ModelArts does. The deadline is
            # recorded first, so a restart still kills them in time.
            runtime["failed_task"] = failed.name
            runtime["kill_at"] = time.time() + self.stop_grace_s
        if changed:
            self._save(job, runtime)
        if stop_peers:
            self._spawn(self._signal_all(job, runs, signal.SIGTERM))
            self._spawn(self._kill_at(job_id, runtime["kill_at"]))
        if all(t.phase.is_final for t in job.tasks):
            self._finish(job_id)

    def _finish(self, job_id: str) -> None:
        """End a job whose tasks have all ended. One with outputs stays Running (or Terminating)
        while they are copied off the loop, and ends after: a restart in the middle of the copy
        does it again (_recover), so the copy can't be lost."""
        if job_id in self._finishing:
            return
        job, runtime = self._load(job_id)
        if not job.spec.outputs:
            self._conclude(job, runtime, [])
            self._end(job, runtime)
            return
        self._finishing.add(job_id)
        job.message = "copying the outputs to OBS"
        self._save(job, runtime)
        self._spawn(self._copy_outputs_then_end(job))

    async def _copy_outputs_then_end(self, job: Job) -> None:
        try:
            errors = await in_pool(_COPY_POOL, self._copy_outputs, job)
        except Exception as err:  # unforeseen: the job still ends, with the reason
            self.log.exception("could not copy the outputs of job %s", job.id)
            errors = [f"outputs: internal error: {type(err).__name__}: {err}"]
        finally:
            self._finishing.discard(job.id)
        job, runtime = self._load(job.id)  # a stop may have come meanwhile
        self._conclude(job, runtime, errors)
        self._end(job, runtime)

    def _end(self, job: Job, runtime: dict[str, Any]) -> None:
        self._save(job, runtime)
        self._runs.pop(job.id, None)
        self._spawn(self._start_pending())

    @staticmethod
    def _conclude(job: Job, runtime: dict[str, Any], errors: list[str]) -> None:
        job.ended_at = now_ms()
        codes = [t.exit_code for t in job.tasks]
        job.message = ""
        if runtime.get("stop_requested"):
            job.phase = JobPhase.TERMINATED
            job.message = "stopped on request"
        elif all(c == 0 for c in codes):
            job.phase, job.exit_code = JobPhase.COMPLETED, 0
        else:
            job.phase = JobPhase.FAILED
            culprit = next(
                (t for t in job.tasks if t.name == runtime.get("failed_task")),
                next(t for t in job.tasks if t.exit_code != 0),
            )
            job.exit_code = culprit.exit_code
            job.message = (
                f"{culprit.name} exited with code {culprit.exit_code}"
                if culprit.exit_code is not None
                else f"{culprit.name} was killed before it could record an exit code"
            )
        if errors:
            job.message = "; ".join(filter(None, [job.message, *errors]))

    def _copy_outputs(self, job: Job) -> list[str]:
        """Copy each output folder to its obs:// location, as ModelArts does at the end (on a
        copy thread); returns what went wrong."""
        errors = []
        for name, uri in job.spec.outputs.items():
            try:
                dest = self.objects.path_for(parse_obs_uri(uri), create=True)
                shutil.copytree(self._output_dir(job.id, name), dest, dirs_exist_ok=True)
            except (OSError, NotFound) as err:
                errors.append(f"output {name} → {uri}: {err}")
            except Exception as err:  # unforeseen: the job still ends, the traceback is logged
                self.log.exception("could not copy output %s of job %s", name, job.id)
                errors.append(f"output {name} → {uri}: internal error: {type(err).__name__}")
        return errors

    # -- stop / delete ---------------------------------------------------------------------

    @staticmethod
    async def _signal_all(job: Job, runs: list[_TaskRun], sig: int) -> None:
        """Signal the processes of every task still running (an ended one left none)."""
        live = [run for task, run in zip(job.tasks, runs) if not task.phase.is_final]
        await in_pool(_SCAN_POOL, _signal_tasks, live, sig)

    async def _kill_at(self, job_id: str, deadline: float) -> None:
        """SIGKILL what is left of a stopping job at the deadline its record keeps (epoch s)."""
        await asyncio.sleep(max(0.0, deadline - time.time()))
        try:
            job, runtime = self._load(job_id)
        except NotFound:
            return
        if not job.phase.is_final:
            await self._signal_all(job, self._task_runs(job, runtime), signal.SIGKILL)

    async def stop(self, job_id: str) -> Job:
        job, runtime = self._load(job_id)
        if job.phase.is_final:
            raise Conflict(
                f"job {job_id} has already ended ({job.phase.value}); there is nothing to stop "
                "(delete the job to forget it)",
                field="job_id",
            )
        runtime["stop_requested"] = True
        if job.phase in (JobPhase.CREATING, JobPhase.PENDING):
            job.phase, job.ended_at, job.message = (
                JobPhase.TERMINATED,
                now_ms(),
                "stopped on request",
            )
            for task in job.tasks:
                task.phase = JobPhase.TERMINATED
            self._save(job, runtime)
            return job
        job.phase = JobPhase.TERMINATING
        # Recorded before any signal, so the SIGKILL comes in time even after a restart.
        runtime["kill_at"] = time.time() + self.stop_grace_s
        self._save(job, runtime)
        await self._signal_all(job, self._task_runs(job, runtime), signal.SIGTERM)
        self._spawn(self._kill_at(job_id, runtime["kill_at"]))
        return job

    async def delete(self, job_id: str) -> None:
        job, _ = self._load(job_id)
        if not job.phase.is_final:
            raise Conflict(
                f"job {job_id} is {job.phase.value}; stop it before deleting it", field="job_id"
            )
        self.store.delete("job", job_id)
        await asyncio.to_thread(shutil.rmtree, self._job_dir(job_id), True)
        _code_store(self.jobs_dir).prune_soon()  # the copies only this job used go too

    # -- reads -----------------------------------------------------------------------------

    def get(self, job_id: str) -> Job:
        return self._load(job_id)[0]

    def _log_path(self, job_id: str, task: str) -> tuple[str, bool]:
        """A task's log file, and whether the task has ended (checked before any read)."""
        job, _ = self._load(job_id)
        found = next((t for t in job.tasks if t.name == task), None)
        if found is None:
            names = ", ".join(t.name for t in job.tasks)
            raise NotFound(f"job {job_id} has no task {task!r} (tasks: {names})", field="task")
        return self._log_file(job_id, task), found.phase.is_final

    def _log_file(self, job_id: str, task: str) -> str:
        return os.path.join(self._job_dir(job_id), "tasks", task, "log")

    async def read_logs(self, job_id: str, task: str, offset: int, limit: int) -> LogChunk:
        path, ended = self._log_path(job_id, task)
        size, data = await asyncio.to_thread(_read_log, path, offset, limit)
        start = min(offset, size)
        data = log_piece(data, limit, ended)
        next_offset = start + len(data)
        return LogChunk(
            task=task,
            offset=start,
            next_offset=next_offset,
            size=size,
            content=data.decode("utf-8", errors="replace"),
            complete=ended and next_offset >= size,
        )

    async def open_log(self, job_id: str, task: str) -> LogFile:
        path, ended = self._log_path(job_id, task)
        return await asyncio.to_thread(LogFile.open, path, ended)

    async def log_sizes(self, job_id: str) -> dict[str, int]:
        # The watcher asks twice a second per running job: its tasks are in memory then, so
        # the record (code included) is read only for a job that is not running here.
        runs = self._runs.get(job_id)
        names = (
            [r.name for r in runs]
            if runs is not None
            else [t.name for t in self._load(job_id)[0].tasks]
        )
        paths = {name: self._log_file(job_id, name) for name in names}
        if len(paths) > _SIZES_ON_LOOP:
            return await asyncio.to_thread(_file_sizes, paths)
        return _file_sizes(paths)

    async def metrics(self, job_id: str) -> Metrics:
        """The last points of each task: from memory while the job runs here, else from the
        tail of its file (bounded either way, and never parsed on the loop)."""
        job, _ = self._load(job_id)
        runs = self._runs.get(job_id)
        series: list[MetricSeries] = []
        for i, task in enumerate(job.tasks):
            if runs is not None:
                points = await self._recent_points(runs[i])
            else:
                path = os.path.join(self._job_dir(job_id), "tasks", task.name, "metrics.jsonl")
                points = await self._file_points(path)
            cpu = [[t, c] for t, c, _ in points]
            mem = [[t, m] for t, _, m in points]
            series.append(MetricSeries(task.name, "cpuUsage", "%", cpu))
            series.append(MetricSeries(task.name, "memUsage", "%", mem))
        return Metrics(job_id=job_id, series=series)

    async def _file_points(self, path: str) -> list[_Point]:
        """The tail of a metrics file, parsed once per version of the file."""
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return []
        version = (st.st_size, st.st_mtime_ns)
        cached = self._tails.get(path)
        if cached is not None and cached[0] == version:
            self._tails.move_to_end(path)
            return cached[1]
        points = await in_pool(_SCAN_POOL, _tail_points, path)
        self._tails[path] = (version, points)
        self._tails.move_to_end(path)
        while len(self._tails) > _METRIC_TAILS_CACHED:
            self._tails.popitem(last=False)
        return points

    @staticmethod
    async def _recent_points(run: _TaskRun) -> list[_Point]:
        if not run.history_read:
            # Rebuilt after a restart: what was sampled before it comes from the file, once.
            tail = await in_pool(_SCAN_POOL, _tail_points, run.metrics_file)
            if not run.history_read:
                newer = [p for p in run.points if not tail or p[0] > tail[-1][0]]
                run.points.clear()
                run.points.extend(tail + newer)
                run.history_read = True
        return list(run.points)

    # -- metrics sampling ------------------------------------------------------------------

    async def _sample_forever(self) -> None:
        while True:
            await asyncio.sleep(self.metrics_interval_s)
            runs = [run for runs in list(self._runs.values()) for run in runs]
            if not runs:
                continue
            try:
                # The process-tree scans are off the loop; only the points come back to it.
                points = await in_pool(_SCAN_POOL, self._sample_all, runs)
            except Exception:
                self.log.exception("could not sample the metrics of local jobs")
                continue
            for run, point in points:
                run.points.append(point)

    @classmethod
    def _sample_all(cls, runs: list[_TaskRun]) -> list[tuple[_TaskRun, _Point]]:
        affinity = getattr(os, "sched_getaffinity", None)
        cpus = len(affinity(0)) if affinity else os.cpu_count() or 1
        total = psutil.virtual_memory().total
        sampled = [(run, cls._sample(run, cpus, total)) for run in runs]
        return [(run, point) for run, point in sampled if point is not None]

    @staticmethod
    def _sample(run: _TaskRun, cpus: int, total: int) -> _Point | None:
        """One point for the task, also appended to its file: CPU time since the last sample as
        % of ``cpus`` CPUs, and RSS as % of ``total`` bytes of memory; None for a task not
        running or on its first sample."""
        if not run.pid or not _process_alive(run.pid, run.create_time or 0):
            return None
        try:
            root = psutil.Process(run.pid)
            procs = [root, *root.children(recursive=True)]
            cpu_s = rss = 0.0
            for proc in procs:
                try:
                    times, memory = proc.cpu_times(), proc.memory_info().rss
                except psutil.Error:
                    if proc is root:
                        return None  # the task ended meanwhile: no point rather than a false 0
                    continue
                cpu_s += times.user + times.system
                rss += memory
        except psutil.Error:
            return None
        now = time.time()
        if run.cpu_prev is None:
            run.cpu_prev = (now, cpu_s)
            return None
        then, cpu_then = run.cpu_prev
        run.cpu_prev = (now, cpu_s)
        cpu = max(0.0, (cpu_s - cpu_then) / max(now - then, 1e-6) / cpus * 100)
        # Four decimals: a small task on a big machine is a few thousandths of a percent.
        point = (int(now * 1000), round(cpu, 2), round(rss / total * 100, 4))
        try:
            with open(run.metrics_file, "a") as f:
                f.write(json.dumps({"t": point[0], "cpu": point[1], "mem": point[2]}) + "\n")
        except OSError:
            return None  # the job ended and was deleted meanwhile
        return point

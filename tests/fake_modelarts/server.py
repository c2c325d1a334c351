"""`FakeCloud`: ModelArts + IAM + OBS + the metadata service on one 127.0.0.1 port.

A tornado server runs in its own thread with its own event loop, so code under test (on another
loop) talks to it over real TCP, and injected latency never blocks the test's loop. Routes:

- ModelArts `/v1/{project_id}/...`, `/v2/{project_id}/...` (the SDK's resource paths, schema.py)
- IAM `POST /v3/auth/tokens`, `GET /v3/projects`, `POST /v3.0/OS-CREDENTIAL/securitytokens`,
  `GET /v3.0/OS-CREDENTIAL/credentials/{access_key}` (whose permanent key it is)
- metadata `PUT /meta-data/latest/api/token`, `GET /openstack/latest/securitykey`
- OBS path-style `/obs/{bucket}[/{key}]`, and virtual-hosted as a proxy (obs.py)

Every request is recorded in `calls`; `set_faults` makes a fraction of them fail before (or,
for "drop_after", after) being processed, or be processed late ("late", "500"). Every response
carries `X-Request-Id`. `deny` refuses IAM actions, `deny_obs` kinds of access to a bucket;
`permissions` (permissions.py) holds the agencies, workspaces and training quota. `create_job`
and `delete_job` act as the console or ma-cli would, beside the code under test.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import json
import logging
import random
import re
import secrets
import shutil
import string
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tornado.httpserver
import tornado.iostream
import tornado.netutil
import tornado.web

from . import auth, schema
from .common import ApiError, Req, Response, json_response
from .iam import Iam, IamError
from .notebook import Notebooks
from .obs import Obs, error_response
from .permissions import Permissions
from .training import Training

log = logging.getLogger(__name__)

FAULT_KINDS = ("503", "429", "latency", "drop", "drop_after", "late", "500")

# IAM action checked for each ModelArts operation (what `deny()` matches, fnmatch patterns ok):
# the documented names (see permissions_policies_and_supported_actions in the OTC docs) where
# there are some; the others are assumed, in the documented names' pattern.
ACTIONS = {
    "show_notebook": "modelarts:notebook:get",
    "show_lease": "modelarts:notebook:get",
    "renew_lease": "modelarts:notebook:updateStopPolicy",
    "attach_dynamic_storage": "modelarts:notebook:mountStorage",
    "list_dynamic_storages": "modelarts:notebook:listMountedStorages",
    "show_dynamic_storage": "modelarts:notebook:getMountedStorage",
    "detach_dynamic_storage": "modelarts:notebook:umountStorage",
    "create_image": "modelarts:image:create",
    "list_image": "modelarts:image:list",
    "show_image": "modelarts:image:get",
    "delete_image": "modelarts:image:delete",
    "create_training_job": "modelarts:trainJob:create",
    "show_training_job_details": "modelarts:trainJob:get",
    "list_training_jobs": "modelarts:trainJob:list",
    "stop_training_job": "modelarts:trainJob:update",
    "delete_training_job": "modelarts:trainJob:delete",
    "show_training_job_logs_preview": "modelarts:trainJob:previewLog",
    "show_training_job_logs_from_aom": "modelarts:trainJob:previewLog",
    "show_training_job_metrics": "modelarts:trainJob:getMetrics",  # assumed
    "show_training_job_flavors": "modelarts:trainJob:listFlavors",  # assumed
    "show_training_job_engines": "modelarts:trainJob:listEngines",  # assumed
    "get_authorizations": "modelarts:authorization:list",  # assumed
    "list_workspace": "modelarts:workspace:list",
    "show_workspace": "modelarts:workspace:get",
    "show_workspace_quotas": "modelarts:workspace:getQuotas",
    "show_training_quotas": "modelarts:trainJob:getQuotas",  # assumed
    "validate_authorization": "modelarts:authorization:validate",  # assumed
}


@dataclass
class Call:
    """One request: `status` is None while in flight and 0 when the connection was dropped.

    `query` holds the first value of each query argument; `t` is `time.monotonic()` at arrival;
    `body` is the parsed JSON body of a ModelArts request (None for others).
    """

    method: str
    path: str
    query: dict[str, str]
    status: int | None
    t: float
    body: Any = None


@dataclass
class _Faults:
    rate: float
    kinds: tuple[str, ...]
    rng: random.Random
    latency_s: float
    paths: re.Pattern
    left: int | None  # faults still to give; None: no limit


class FakeCloud:
    """The fake cloud; `start()` serves it, tests steer it through the public attributes."""

    def __init__(
        self,
        *,
        ak: str = "FAKEAK0123456789ABCD",
        sk: str = "fake-secret-key-0123456789abcdefghij",
        project_id: str = "0123456789abcdef0123456789abcdef",
        instance_id: str = "11111111-2222-3333-4444-555555555555",
        region: str = "cn-north-4",
        iam_user: str = "alice",
        iam_password: str = "fake-password-xyz",
        iam_domain: str = "alice-account",
        token_ttl_s: float = 86400,
        step_s: float = 0.3,
        workdir: str | None = None,
    ):
        self.ak, self.sk = ak, sk
        self.project_id = project_id
        self.instance_id = instance_id
        self.region = region
        self.iam_user, self.iam_password, self.iam_domain = iam_user, iam_password, iam_domain
        self.token_ttl_s = token_ttl_s
        self.step_s = step_s
        self._own_workdir = workdir is None
        # A private temp dir is only made in start(), so an unstarted fake leaves nothing behind.
        self.workdir = Path(workdir) if workdir else Path()
        alnum = string.ascii_uppercase + string.digits
        self.temp_keys: tuple[str, str, str] = (
            "FAKETMP" + "".join(secrets.choice(alnum) for _ in range(13)),
            secrets.token_urlsafe(30),
            "gQpjbi1ub3J0aC00" + secrets.token_urlsafe(180),
        )
        self.buckets: dict[str, dict[str, bytes]] = {}
        self.calls: list[Call] = []
        self.base_url = ""
        self._lock = threading.Lock()
        self._faults: _Faults | None = None
        # Requests held by a "late" or "500" fault: (fault paths, go, landed), on the fake's loop.
        self._held: list[tuple[re.Pattern, asyncio.Event, asyncio.Event]] = []
        self._background: set[asyncio.Task] = set()
        self._denied: set[str] = set()
        self._operations = schema.load_operations()
        self.iam = Iam(self)
        self.obs = Obs(self)
        self.notebooks = Notebooks(self)
        self.training = Training(self)
        self.permissions = Permissions(self)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: tornado.httpserver.HTTPServer | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> str:
        """Start serving on a free 127.0.0.1 port; returns the base URL."""
        if self._own_workdir:
            self.workdir = Path(tempfile.mkdtemp(prefix="fake-modelarts-"))
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            try:
                sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
                app = tornado.web.Application(
                    # Absolute-form targets too: OBS reached virtual-hosted, the fake its proxy.
                    [(r"(?:/|https?://).*", _Handler, {"cloud": self})],
                    log_function=lambda handler: None,  # 4xx are expected; keep test logs clean
                )
                server = tornado.httpserver.HTTPServer(app)

                async def listen() -> None:
                    server.add_sockets(sockets)

                loop.run_until_complete(listen())
                self._server = server
                self.base_url = f"http://127.0.0.1:{sockets[0].getsockname()[1]}"
            except BaseException as exc:
                errors.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name="fake-modelarts", daemon=True)
        self._thread.start()
        ready.wait(10)
        if errors:
            raise errors[0]
        return self.base_url

    def stop(self) -> None:
        """Kill running jobs' processes, close the server and stop its thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def shutdown() -> None:
            if self._server is not None:
                self._server.stop()
            await self.training.shutdown()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self._server is not None:
                await self._server.close_all_connections()

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        self._loop = self._thread = None
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # -- test controls -----------------------------------------------------------------------

    def bodies(self, method: str, path_regex: str) -> list[Any]:
        """JSON bodies of the ModelArts requests so far with this method and path."""
        pattern = re.compile(path_regex)
        with self._lock:
            calls = list(self.calls)
        return [c.body for c in calls if c.method == method.upper() and pattern.search(c.path)]

    def count(self, method: str, path_regex: str) -> int:
        """Requests so far with this method (case-insensitive) whose path re.search-es the regex."""
        pattern = re.compile(path_regex)
        with self._lock:
            calls = list(self.calls)
        return sum(1 for c in calls if c.method == method.upper() and pattern.search(c.path))

    def set_faults(
        self,
        *,
        rate: float,
        kinds=("503", "429", "latency", "drop"),
        seed: int = 0,
        latency_s: float = 0.3,
        paths: str = r".*",
        times: int | None = None,
    ) -> None:
        """Make a `rate` fraction of requests whose path re.search-es `paths` fail (the first
        `times` of them only, when given).

        Kinds: "503" (error body), "429" (Retry-After: 1), "latency" (+latency_s, then served),
        "drop" (socket closed, no response), "drop_after" (served, then the socket closed),
        "late" (held, answered only once processed: a client with a shorter timeout has given
        up by then), "500" (a gateway's 500 at once, while the request goes on). A "late" or
        "500" request is processed when the next request on `paths` arrives, just before it (a
        client's resend after its timeout finds the first one landed), or after latency_s.
        OBS paths get XML error bodies, every other path JSON.
        """
        unknown = set(kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds: {sorted(unknown)}")
        with self._lock:
            self._faults = _Faults(
                rate, tuple(kinds), random.Random(seed), latency_s, re.compile(paths), times
            )

    def clear_faults(self) -> None:
        with self._lock:
            self._faults = None

    def expire_tokens(self) -> None:
        self.iam.expire_all()

    def jobs_named(self, name: str) -> list[dict[str, Any]]:
        """Training jobs (as GET shows them) whose metadata.name is ``name``."""
        views = self._on_loop(lambda: [job.view() for job in self.training.jobs.values()])
        return [v for v in views if v["metadata"]["name"] == name]

    def create_job(
        self,
        name: str,
        code: str | None = None,
        *,
        command: str | None = None,
        nodes: int = 1,
        flavor: str = "modelarts.vm.cpu.8u",
        parameters: dict[str, str] | None = None,
        inputs: dict[str, str] | None = None,
        outputs: dict[str, str] | None = None,
        env: dict[str, str] | None = None,
        engine: dict[str, str] | None = None,
        log_export: str | None = None,
        description: str = "",
        annotations: dict[str, str] | None = None,
        workspace_id: str = "0",
    ) -> dict[str, Any]:
        """Create a training job as the console, ma-cli or another notebook would (not through
        the code under test); ``code`` is the boot file, put in the "console" bucket. Returns
        the job as ModelArts answers the create. Channels map names to ``obs://`` URLs."""
        algorithm: dict[str, Any] = {
            "engine": engine
            or {"engine_name": "PyTorch", "engine_version": "pytorch_1.8.0-cuda_10.2"},
            "parameters": [{"name": k, "value": v} for k, v in (parameters or {}).items()],
            "environments": dict(env or {}),
        }
        for kind, channels in (("inputs", inputs), ("outputs", outputs)):
            algorithm[kind] = [
                {"name": k, "remote": {"obs": {"obs_url": v}}} for k, v in (channels or {}).items()
            ]
        if command is not None:
            algorithm["command"] = command
        else:
            self.buckets.setdefault("console", {})[f"{name}/code/train.py"] = (code or "").encode()
            algorithm.update(
                code_dir=f"/console/{name}/code/", boot_file=f"/console/{name}/code/train.py"
            )
        body: dict[str, Any] = {
            "kind": "job",
            "metadata": {
                "name": name,
                "description": description,
                "workspace_id": workspace_id,
                "annotations": dict(annotations or {}),
            },
            "algorithm": algorithm,
            "spec": {"resource": {"flavor_id": flavor, "node_count": nodes}},
        }
        if log_export:
            body["spec"]["log_export_path"] = {"obs_url": log_export}

        async def create() -> Response:
            req = Req("POST", "", {}, {}, {}, b"", body=body)
            return self.training.create_training_job(req)

        assert self._loop is not None, "the fake is not running"
        response = asyncio.run_coroutine_threadsafe(create(), self._loop).result(timeout=10)
        return json.loads(response.body)

    def delete_job(self, job_id: str) -> None:
        """Delete a job as the console does, in any phase: its processes are killed first."""
        assert self._loop is not None, "the fake is not running"
        asyncio.run_coroutine_threadsafe(self.training.remove(job_id), self._loop).result(
            timeout=30
        )

    def job_view(self, job_id: str) -> dict[str, Any] | None:
        """The job as GET shows it, None once deleted."""
        return self._on_loop(
            lambda: self.training.jobs[job_id].view() if job_id in self.training.jobs else None
        )

    def log_bytes_served(self, job_id: str, task: str = "worker-0") -> int:
        """Log bytes of a task sent so far (the preview and the line API)."""
        return self._on_loop(lambda: self.training.log_bytes_served.get((job_id, task), 0))

    def issued_tokens(self) -> list[str]:
        """Every IAM token handed out so far (for the credential-leak scan)."""
        return self._on_loop(lambda: list(self.iam.tokens))

    def _on_loop(self, read: Callable[[], Any]) -> Any:
        """Run ``read`` on the fake's own loop, where its state changes, and return the result."""

        async def run() -> Any:
            return read()

        assert self._loop is not None, "the fake is not running"
        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=10)

    def deny(self, action: str) -> None:
        with self._lock:
            self._denied.add(action)

    def deny_obs(self, bucket: str, *accesses: str) -> None:
        """A bucket policy denying these kinds of access: "list", "get", "put", "delete"."""
        unknown = set(accesses) - {"list", "get", "put", "delete"}
        if unknown:
            raise ValueError(f"unknown OBS accesses: {sorted(unknown)}")
        with self._lock:
            self.obs.denied_ops.setdefault(bucket, set()).update(accesses)

    # -- shared helpers ----------------------------------------------------------------------

    def secret_for(self, access_key: str) -> tuple[str, str | None] | None:
        """(secret key, required security token or None) for an access key, None if unknown."""
        if access_key == self.ak:
            return self.sk, None
        if access_key == self.temp_keys[0]:
            return self.temp_keys[1], self.temp_keys[2]
        return None

    def _record(self, method: str, path: str, query: dict[str, str]) -> Call:
        call = Call(method, path, query, None, time.monotonic())
        with self._lock:
            self.calls.append(call)
        return call

    def _pick_fault(self, path: str) -> tuple[str | None, float, re.Pattern | None]:
        with self._lock:
            faults = self._faults
            if faults is None or not faults.paths.search(path) or faults.left == 0:
                return None, 0.0, None
            if faults.rng.random() >= faults.rate:
                return None, 0.0, None
            if faults.left is not None:
                faults.left -= 1
            return faults.rng.choice(faults.kinds), faults.latency_s, faults.paths

    async def _land_held(self, path: str) -> None:
        """Process the held requests whose fault paths match ``path``, before ``path`` is."""
        landing = [(go, landed) for paths, go, landed in self._held if paths.search(path)]
        for go, _ in landing:
            go.set()
        for _, landed in landing:
            await landed.wait()

    async def _late(self, req: Req, paths: re.Pattern, latency_s: float) -> Response:
        entry = (paths, asyncio.Event(), asyncio.Event())
        self._held.append(entry)
        try:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(entry[1].wait(), latency_s)
            return await self.handle(req)
        finally:
            self._held.remove(entry)
            entry[2].set()

    def _denied_action(self, action: str) -> bool:
        with self._lock:
            return any(fnmatch.fnmatchcase(action, pattern) for pattern in self._denied)

    # -- dispatch ----------------------------------------------------------------------------

    def fault_response(self, kind: str, path: str) -> Response:
        if self.obs.owns(path):
            status, code = (
                (503, "ServiceUnavailable") if kind == "503" else (429, "TooManyRequests")
            )
            resp = error_response(status, code)
        elif kind == "503":
            resp = json_response(
                503, {"error_code": "FAKE.0503", "error_msg": "Service temporarily unavailable"}
            )
        else:
            resp = json_response(
                429,
                {
                    "error_code": "APIGW.0308",
                    "error_msg": "The throttling threshold has been reached",
                },
            )
        if kind == "429":
            resp.headers["Retry-After"] = "1"
        return resp

    async def handle(self, req: Req) -> Response:
        path = req.path
        try:
            if self.obs.route(path, req.headers.get("Host", "")) is not None:
                return await self.obs.handle(req)
            if path.startswith("/v3"):
                return self._iam(req)
            if path == "/meta-data/latest/api/token" and req.method == "PUT":
                return self.iam.metadata_token(req)
            if path == "/openstack/latest/securitykey" and req.method == "GET":
                return self.iam.metadata_securitykey(req)
            if path.startswith(("/v1/", "/v2/")):
                return self._modelarts(req)
        except IamError as err:
            return err.response()
        return _error_response(
            ApiError(404, "APIGW.0101", "The API does not exist or has not been published."),
            "v1",
        )

    def _iam(self, req: Req) -> Response:
        if req.path == "/v3/auth/tokens" and req.method == "POST":
            req.body = _parse_json(req, iam=True)
            return self.iam.create_token(req)
        if req.path == "/v3/projects" and req.method == "GET":
            try:
                self._authenticate(req, None)
            except ApiError as err:
                return _error_response(err, "v1")
            return self.iam.list_projects(req)
        credential = re.fullmatch(r"/v3\.0/OS-CREDENTIAL/credentials/([^/]+)", req.path)
        if credential and req.method == "GET":
            try:
                self._authenticate(req, None)
            except ApiError as err:
                return _error_response(err, "v1")
            return self.iam.show_permanent_access_key(credential.group(1))
        if req.path == "/v3.0/OS-CREDENTIAL/securitytokens" and req.method == "POST":
            req.body = _parse_json(req, iam=True)
            return self.iam.create_security_token(req)
        raise IamError(404, "The resource could not be found.")

    def _modelarts(self, req: Req) -> Response:
        style = "v2" if req.path.startswith("/v2/") else "v1"
        try:
            op = self._route(req)
            if op is None:
                raise ApiError(
                    404, "APIGW.0101", "The API does not exist or has not been published."
                )
            if "/notebooks/" in op.resource_path:
                style = "v1-message"
            self._authenticate(req, self.project_id)
            if req.params.get("project_id") != self.project_id:
                raise ApiError(
                    403, "ModelArts.0108", "Not authorized for this project.", generic=True
                )
            action = ACTIONS[op.name]
            if self._denied_action(action):
                raise ApiError(
                    403,
                    "ModelArts.0108",
                    f"Request not authorized: policy doesn't allow {action} to be performed.",
                    generic=True,
                )
            if op.body_model and req.raw_body.strip():
                req.body = _parse_json(req)
                unknown = schema.unknown_field(req.body, op.body_model)
                if unknown:
                    raise ApiError(400, "ModelArts.0101", f"unknown field {unknown}", generic=True)
            self.permissions.require_agency(op.name)
            workspace_id = _workspace_of(op.name, req)
            if workspace_id is not None:
                self.permissions.require_workspace(workspace_id)
            handler = (
                getattr(self.notebooks, op.name, None)
                or getattr(self.training, op.name, None)
                or getattr(self.permissions, op.name)
            )
            return handler(req)
        except ApiError as err:
            return _error_response(err, style)

    def _route(self, req: Req) -> schema.Operation | None:
        for op in self._operations:
            m = op.regex.match(req.path)
            if m and op.method == req.method:
                req.params = m.groupdict()
                return op
        return None

    def _authenticate(self, req: Req, project_id: str | None) -> None:
        """AK/SK signature (permanent or temporary key) or a live project-scoped X-Auth-Token."""
        authorization = req.headers.get("Authorization")
        if authorization is None:
            token = req.headers.get("X-Auth-Token")
            if token is None:
                raise ApiError(401, "ModelArts.0201", "X-Auth-Token is missing.", generic=True)
            self.iam.check_modelarts_token(token, project_id)
            return

        def reject(why: str) -> ApiError:
            return ApiError(
                401,
                "APIGW.0301",
                f"Incorrect IAM authentication information: {why}",
                generic=True,
            )

        parsed = auth.parse_sdk_authorization(authorization)
        if parsed is None:
            raise reject("verify aksk signature fail")
        ak, signed_headers, signature = parsed
        secret = self.secret_for(ak)
        if secret is None:
            raise reject("ak not found")
        sk, security_token = secret
        if security_token is not None and req.headers.get("X-Security-Token") != security_token:
            raise reject("verify security token fail")
        skew = auth.sdk_date_skew(req.headers.get("X-Sdk-Date"))
        if skew is None or skew > auth.MAX_SKEW_S:
            raise reject("x-sdk-date is missing or not within 15 minutes of the server time")
        headers = {k.lower(): v for k, v in req.headers.get_all()}
        query = [(k, v) for k, values in req.raw_query.items() for v in values]
        ok = auth.sdk_signature_ok(
            ak=ak,
            sk=sk,
            method=req.method,
            path=req.path,
            query=query,
            headers=headers,
            signed_headers=signed_headers,
            signature=signature,
            body=req.raw_body,
        )
        if not ok:
            raise reject("verify aksk signature fail")


def _workspace_of(operation: str, req: Req) -> str | None:
    """The workspace a job or image operation creates in or lists, None for the others."""
    body = req.body if isinstance(req.body, dict) else {}
    if operation == "create_training_job":
        return str((body.get("metadata") or {}).get("workspace_id") or "0")
    if operation in ("list_training_jobs", "create_image"):
        return str(body.get("workspace_id") or "0")
    if operation == "list_image":
        return req.query.get("workspace_id") or "0"
    return None


def _parse_json(req: Req, *, iam: bool = False) -> Any:
    try:
        return json.loads(req.raw_body or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        if iam:
            raise IamError(400, "The request body is not valid JSON.") from exc
        raise ApiError(
            400, "ModelArts.0101", "The request body is not valid JSON.", generic=True
        ) from exc


def _error_response(err: ApiError, style: str) -> Response:
    """Render an error: "v1" error_msg, "v1-message" error_message, "v2" adds error_solution."""
    gateway = err.code.startswith("APIGW.")
    key = "error_message" if style == "v1-message" and not (err.generic or gateway) else "error_msg"
    body = {"error_code": err.code, key: err.msg}
    if style == "v2" and not gateway:
        body["error_solution"] = "Check the request parameters and try again."
    return json_response(err.status, body, err.headers)


class _Handler(tornado.web.RequestHandler):
    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "DELETE", "PATCH", "PUT")

    def initialize(self, cloud: FakeCloud) -> None:
        self.cloud = cloud

    def compute_etag(self) -> None:  # no automatic ETag / 304 handling
        return None

    async def get(self) -> None:
        await self._serve()

    head = post = delete = patch = put = get

    async def _serve(self) -> None:
        cloud = self.cloud
        request = self.request
        raw_query = {
            k: [v.decode("utf-8", "replace") for v in vs]
            for k, vs in request.query_arguments.items()
        }
        query = {k: vs[0] for k, vs in raw_query.items() if vs}
        call = cloud._record(request.method, request.path, query)
        if request.path.startswith(("/v1/", "/v2/")) and request.body:
            with contextlib.suppress(ValueError):
                call.body = json.loads(request.body)
        await cloud._land_held(request.path)
        kind, latency, paths = cloud._pick_fault(request.path)
        if kind == "drop":
            call.status = 0
            self.detach().close()
            return
        if kind == "latency":
            await asyncio.sleep(latency)
        req = Req(
            method=request.method,
            path=request.path,
            params={},
            query=query,
            headers=request.headers,
            raw_body=request.body or b"",
            raw_query=raw_query,
        )
        if kind in ("503", "429"):
            resp = cloud.fault_response(kind, request.path)
        elif kind == "500":
            # The gateway gives up; the service behind it still acts, later.
            assert paths is not None
            task = asyncio.ensure_future(cloud._late(req, paths, latency))
            cloud._background.add(task)
            task.add_done_callback(cloud._background.discard)
            resp = json_response(
                500, {"error_code": "APIGW.0205", "error_msg": "Internal server error"}
            )
        else:
            try:
                if kind == "late":
                    assert paths is not None
                    resp = await cloud._late(req, paths, latency)
                else:
                    resp = await cloud.handle(req)
            except Exception:
                log.error("fake cloud handler failed:\n%s", traceback.format_exc())
                resp = json_response(
                    500, {"error_code": "FAKE.0500", "error_msg": "internal error"}
                )
        if kind == "drop_after":
            call.status = 0
            self.detach().close()
            return
        self.set_status(resp.status)
        self.set_header("X-Request-Id", uuid.uuid4().hex)
        if "Content-Type" not in resp.headers:
            self.clear_header("Content-Type")  # tornado's text/html default
        for name, value in resp.headers.items():
            self.set_header(name, value)
        if request.method != "HEAD" and resp.body:
            self.write(resp.body)
        call.status = resp.status
        with contextlib.suppress(tornado.iostream.StreamClosedError):
            await self.finish()

"""Thin REST handlers: parse, validate, call the backend, serialise. Errors map in one place."""

from __future__ import annotations

import asyncio
import functools
import hmac
import json
import os
from typing import Any

from jupyter_server.auth import User
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from jupyter_server.utils import url_path_join
from tornado import web

from .app import KERNEL_KEY_HEADER, NAMESPACE
from .backends.base import Backend
from .models import (
    MAX_BODY_BYTES,
    BackendUnavailable,
    ImageRequest,
    InvalidRequest,
    JobPhase,
    JobSpec,
    ModelArtsError,
    PayloadTooLarge,
    check_body,
    parse_lease_duration,
)

_LOG_CHUNK_DEFAULT = 64 * 1024
_LOG_CHUNK_MAX = 1024 * 1024


#: Who a call carrying the kernel key is: code in a kernel this server started.
KERNEL_USER = User(username="jupyter-modelarts-kernel", name="Kernel")


class ModelArtsHandler(ExtensionHandlerMixin, APIHandler):
    """Base of every route: Jupyter auth on every verb, JSON in and out, domain errors → 4xx/5xx.

    A call carrying this server's kernel key (``X-Jupyter-ModelArts-Key``) comes from one of its
    kernels: the key is this extension's own secret, so it is accepted on these routes only, in
    place of Jupyter's auth, and needs no XSRF cookie (a browser page can't send the header
    cross-site). Every other call goes through Jupyter's auth and XSRF checks unchanged.
    """

    auth_resource = "modelarts"
    from_kernel = False

    async def prepare(self):
        supplied = self.request.headers.get(KERNEL_KEY_HEADER)
        if supplied is None:
            return await super().prepare()
        if not self.check_host():
            raise web.HTTPError(403)
        key = self.settings["modelarts_kernel_key"]
        if not hmac.compare_digest(supplied.encode(errors="replace"), key.encode()):
            raise web.HTTPError(403, "the kernel key is not this server's; restart the kernel")
        self.from_kernel = True
        self.current_user = self._jupyter_current_user = KERNEL_USER

    @property
    def backend(self) -> Backend:
        backend = self.settings.get("modelarts_backend")
        if backend is None:
            raise BackendUnavailable(self.extensionapp.unavailable or "the backend did not start")
        return backend

    def json_body(self) -> dict[str, Any]:
        """The body as a JSON object of safe text; anything else is a 400 naming the field."""
        if len(self.request.body) > MAX_BODY_BYTES:
            raise PayloadTooLarge(
                f"the request body is larger than {MAX_BODY_BYTES // 2**20} MiB", field="body"
            )
        try:
            body = json.loads(self.request.body or b"null")
        except (UnicodeDecodeError, ValueError):
            raise InvalidRequest("the request body is not valid JSON", field="body") from None
        except RecursionError:
            raise InvalidRequest("the request body nests too deeply", field="body") from None
        if not isinstance(body, dict):
            raise InvalidRequest("the request body must be a JSON object", field="body")
        check_body(body)
        return body

    def reply(self, payload: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(payload))

    def int_argument(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.get_query_argument(name, None)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise InvalidRequest(f"{name} must be a whole number", field=name) from None
        if not low <= value <= high:
            raise InvalidRequest(f"{name} must be between {low} and {high}", field=name)
        return value

    def log_exception(self, typ, value, tb) -> None:
        if isinstance(value, ModelArtsError):
            # The caller's mistake or an upstream failure: one line, no traceback.
            self.log.warning(
                "%s %s → %d: %s",
                self.request.method,
                self.request.path,
                value.status,
                value.message,
            )
        else:
            super().log_exception(typ, value, tb)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(error, ModelArtsError):
            self.set_status(error.status)
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps(error.to_json()))
        else:
            super().write_error(status_code, **kwargs)


def api(method):
    """Every verb: authenticated; authorized like the rest of Jupyter unless from a kernel."""
    checked = authorized(method)

    @functools.wraps(method)
    async def kernel_or_authorized(self: ModelArtsHandler, *args, **kwargs):
        return await (method if self.from_kernel else checked)(self, *args, **kwargs)

    return web.authenticated(kernel_or_authorized)


class InstanceHandler(ModelArtsHandler):
    @api
    async def get(self):
        """→ Instance."""
        self.reply((await self.backend.get_instance()).to_json())


class LeaseHandler(ModelArtsHandler):
    @api
    async def get(self):
        """→ Lease."""
        self.reply((await self.backend.get_lease()).to_json())

    @api
    async def patch(self):
        """{duration_s} → Lease, renewed from now."""
        duration_s = parse_lease_duration(self.json_body())
        self.reply((await self.backend.renew_lease(duration_s)).to_json())


class MountsHandler(ModelArtsHandler):
    @api
    async def get(self):
        """→ {mounts: [Mount]}."""
        self.reply({"mounts": [m.to_json() for m in await self.backend.list_mounts()]})

    @api
    async def post(self):
        """{uri, mount_path} → Mount (MOUNTING), 202."""
        body = self.json_body()
        mount = await self.backend.create_mount(body.get("uri"), body.get("mount_path"))
        self.reply(mount.to_json(), 202)


class MountHandler(ModelArtsHandler):
    @api
    async def get(self, mount_id: str):
        """→ Mount."""
        self.reply((await self.backend.get_mount(mount_id)).to_json())

    @api
    async def delete(self, mount_id: str):
        """→ Mount (UNMOUNTING), 202. The data stays in the store."""
        self.reply((await self.backend.delete_mount(mount_id)).to_json(), 202)


class ImagesHandler(ModelArtsHandler):
    @api
    async def get(self):
        """→ {images: [ImageSnapshot]}."""
        self.reply({"images": [i.to_json() for i in await self.backend.list_images()]})

    @api
    async def post(self):
        """{name, tag?, namespace?, description?} → ImageSnapshot (INIT), 202."""
        request = ImageRequest.from_json(self.json_body(), self.extensionapp.image_namespace)
        self.reply((await self.backend.save_image(request)).to_json(), 202)


class ImageHandler(ModelArtsHandler):
    @api
    async def get(self, image_id: str):
        """→ ImageSnapshot with bytes_done / bytes_total while it is written."""
        self.reply((await self.backend.get_image(image_id)).to_json())


class FlavorsHandler(ModelArtsHandler):
    @api
    async def get(self):
        """→ {flavors: [Flavor]}."""
        self.reply({"flavors": [f.to_json() for f in await self.backend.list_flavors()]})


class EnginesHandler(ModelArtsHandler):
    @api
    async def get(self):
        """→ {engines: [Engine]}."""
        self.reply({"engines": [e.to_json() for e in await self.backend.list_engines()]})


class JobsHandler(ModelArtsHandler):
    @api
    async def get(self):
        """?phase= → {jobs: [Job]}, newest first."""
        raw = self.get_query_argument("phase", None)
        try:
            phase = JobPhase(raw) if raw else None
        except ValueError:
            names = ", ".join(p.value for p in JobPhase)
            raise InvalidRequest(f"phase must be one of {names}", field="phase") from None
        jobs = await self.backend.list_jobs(phase)
        # Hundreds of jobs with their code are megabytes of JSON: built off the loop.
        text = await asyncio.to_thread(lambda: json.dumps({"jobs": [j.to_json() for j in jobs]}))
        self.finish(text)

    @api
    async def post(self):
        """JobSpec → Job, 201."""
        spec = JobSpec.from_json(self.json_body())
        self.reply((await self.backend.submit_job(spec)).to_json(), 201)


class JobHandler(ModelArtsHandler):
    @api
    async def get(self, job_id: str):
        """→ Job."""
        self.reply((await self.backend.get_job(job_id)).to_json())

    @api
    async def delete(self, job_id: str):
        """Forget an ended job and its logs, 204."""
        await self.backend.delete_job(job_id)
        self.set_status(204)
        self.finish()


class JobStopHandler(ModelArtsHandler):
    @api
    async def post(self, job_id: str):
        """→ Job (Terminating, or Terminated if it never started), 202."""
        self.reply((await self.backend.stop_job(job_id)).to_json(), 202)


class JobLogsHandler(ModelArtsHandler):
    @api
    async def get(self, job_id: str):
        """?task=worker-0&offset=0&limit=65536 → LogChunk; follow from its next_offset."""
        task = self.get_query_argument("task", "worker-0")
        offset = self.int_argument("offset", 0, 0, 2**62)
        limit = self.int_argument("limit", _LOG_CHUNK_DEFAULT, 1, _LOG_CHUNK_MAX)
        self.reply((await self.backend.read_logs(job_id, task, offset, limit)).to_json())


class JobMetricsHandler(ModelArtsHandler):
    @api
    async def get(self, job_id: str):
        """→ Metrics: per task, percent series (cpu, memory, gpu/npu where measured)."""
        self.reply((await self.backend.get_metrics(job_id)).to_json())


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The REST contract shipped in the package (``openapi.yaml``)."""
    import yaml

    with open(os.path.join(os.path.dirname(__file__), "openapi.yaml")) as f:
        return yaml.safe_load(f)


class OpenAPIHandler(ModelArtsHandler):
    @api
    async def get(self):
        """→ this API's OpenAPI document as JSON, its server URL under this server's base_url."""
        url = url_path_join(self.base_url, NAMESPACE)
        servers = [{"url": url, "description": "This Jupyter server's jupyter_modelarts API."}]
        self.reply({**openapi_document(), "servers": servers})


def route_table() -> list[tuple[str, type[ModelArtsHandler]]]:
    """Routes relative to the server's base_url (ExtensionApp prefixes it)."""
    # Any segment reaches the handler, so an unknown id is our JSON 404, not Tornado's HTML one.
    ident = r"(?P<{}>[^/]+)"
    job = ident.format("job_id")
    routes = [
        ("instance", InstanceHandler),
        ("lease", LeaseHandler),
        ("mounts", MountsHandler),
        (f"mounts/{ident.format('mount_id')}", MountHandler),
        ("images", ImagesHandler),
        (f"images/{ident.format('image_id')}", ImageHandler),
        ("flavors", FlavorsHandler),
        ("engines", EnginesHandler),
        ("jobs", JobsHandler),
        (f"jobs/{job}", JobHandler),
        (f"jobs/{job}/stop", JobStopHandler),
        (f"jobs/{job}/logs", JobLogsHandler),
        (f"jobs/{job}/metrics", JobMetricsHandler),
        ("openapi.json", OpenAPIHandler),
    ]
    return [(rf"/{NAMESPACE}/{path}", handler) for path, handler in routes]

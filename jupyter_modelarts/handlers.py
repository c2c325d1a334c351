"""Thin REST handlers: parse, validate, call the backend, serialise. Errors map in one place."""

from __future__ import annotations

import asyncio
import functools
import hmac
import json
import os
import re
from typing import Any

from jupyter_server.auth import User
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from jupyter_server.utils import url_path_join
from tornado import web
from tornado.iostream import StreamClosedError

from .app import KERNEL_KEY_HEADER, NAMESPACE
from .backends.base import Backend, LogFile
from .doctor import Doctor
from .events import Watcher
from .i18n import HEADER as LANGUAGE_HEADER
from .i18n import (
    N_,
    LanguageChoice,
    kernel_messages,
    parse_language,
    translate,
    translate_report,
)
from .models import (
    JOB_ORDERS,
    JOB_SORTS,
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
    parse_lease_type,
    parse_workspace_id,
)

_PAGE_DEFAULT = 50
_PAGE_MAX = 500
_MAX_OFFSET = 10**9
_LOG_CHUNK_DEFAULT = 64 * 1024
_LOG_CHUNK_MAX = 1024 * 1024
#: Bytes of a raw log read and sent at a time.
_LOG_PIECE = 1024 * 1024
_TEXT = "text/plain; charset=utf-8"
_COMPLETE = "X-ModelArts-Log-Complete"


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
            await super().prepare()
            self._note_language()
            return
        if not self.check_host():
            raise web.HTTPError(403)
        key = self.settings["modelarts_kernel_key"]
        if not hmac.compare_digest(supplied.encode(errors="replace"), key.encode()):
            raise web.HTTPError(403, "the kernel key is not this server's; restart the kernel")
        self.from_kernel = True
        self.current_user = self._jupyter_current_user = KERNEL_USER

    @property
    def languages(self) -> LanguageChoice | None:
        """The last language the frontend sent (None where the store could not open)."""
        return self.settings.get("modelarts_languages")

    def _note_language(self) -> None:
        # The frontend's language becomes the server's: kernels (which send none) follow it.
        if not self.current_user or self.languages is None:
            return  # refused later, or nowhere to keep it
        language = self.request_language()
        if language:
            self.languages.seen(language)

    def request_language(self) -> str | None:
        """The language this request asked (``X-ModelArts-Language``), else the one the
        frontend last sent, else None (English)."""
        try:
            asked = parse_language(self.request.headers.get(LANGUAGE_HEADER))
        except ValueError:
            raise InvalidRequest(
                f"{LANGUAGE_HEADER} must be a language code such as en or zh-CN",
                field=LANGUAGE_HEADER,
            ) from None
        if asked:
            return asked
        return self.languages.language if self.languages is not None else None

    @property
    def backend(self) -> Backend:
        backend = self.settings.get("modelarts_backend")
        if backend is None:
            raise BackendUnavailable(self.extensionapp.unavailable or "the backend did not start")
        return backend

    @property
    def watcher(self) -> Watcher:
        """Where a change made here is published at once (it exists with the backend)."""
        return self.settings["modelarts_watcher"]

    @property
    def doctor(self) -> Doctor:
        """The server's doctor (it exists with the backend)."""
        doctor = self.settings.get("modelarts_doctor")
        if doctor is None:
            raise BackendUnavailable(self.extensionapp.unavailable or "the backend did not start")
        return doctor

    def workspace_argument(self) -> str:
        """The ``workspace_id`` query argument, else the current workspace."""
        value = parse_workspace_id(self.get_query_argument("workspace_id", None))
        return value or self.backend.current_workspace

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

    def decode_argument(self, value: bytes, name: str | None = None) -> str:
        """A query or path argument as text; bytes that are not UTF-8 are a 400 naming it."""
        try:
            return super().decode_argument(value, name)
        except web.HTTPError:
            field = name or "path"
            raise InvalidRequest(f"{field} is not valid UTF-8", field=field) from None

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

    def choice_argument(self, name: str, choices: tuple[str, ...]) -> str:
        """A query argument that is one of ``choices``, the first by default."""
        value = self.get_query_argument(name, None)
        if value is None:
            return choices[0]
        if value not in choices:
            raise InvalidRequest(f"{name} must be one of {', '.join(choices)}", field=name)
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
            body = error.to_json()
            try:
                language = self.request_language()
            except InvalidRequest:
                language = None  # the error may be about the header itself
            # The one place errors leave the server: in the language of the request.
            body["message"] = translate(error.message, language)
            self.finish(json.dumps(body))
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
        """{duration_s, type?} → Lease, renewed from now (type TIMING or IDLE switches)."""
        body = self.json_body()
        kind = parse_lease_type(body)
        lease = await self.backend.renew_lease(parse_lease_duration(body), kind)
        self.watcher.lease_changed(lease)
        self.reply(lease.to_json())


class ActivityHandler(ModelArtsHandler):
    @api
    async def post(self):
        """The user acted in a browser → 204 (it counts for an IDLE lease)."""
        await self.backend.note_activity()
        self.watcher.lease_touched()
        self.set_status(204)
        self.finish()


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
        self.watcher.mount_changed(mount)
        self.reply(mount.to_json(), 202)


class MountHandler(ModelArtsHandler):
    @api
    async def get(self, mount_id: str):
        """→ Mount."""
        self.reply((await self.backend.get_mount(mount_id)).to_json())

    @api
    async def delete(self, mount_id: str):
        """→ Mount (UNMOUNTING), 202. The data stays in the store."""
        mount = await self.backend.delete_mount(mount_id)
        self.watcher.mount_changed(mount)
        self.reply(mount.to_json(), 202)


class ImagesHandler(ModelArtsHandler):
    @api
    async def get(self):
        """→ {images: [ImageSnapshot]}."""
        images = await self.backend.list_images(self.workspace_argument())
        self.reply({"images": [i.to_json() for i in images]})

    @api
    async def post(self):
        """{name, tag?, namespace?, description?, workspace_id?} → ImageSnapshot (INIT), 202."""
        request = ImageRequest.from_json(self.json_body(), self.extensionapp.image_namespace)
        request.workspace_id = request.workspace_id or self.backend.current_workspace
        image = await self.backend.save_image(request)
        self.watcher.image_changed(image)
        self.reply(image.to_json(), 202)


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
        """?phase=&offset=0&limit=50&sort=created&order=desc&workspace_id= → a page of
        JobSummary, and the total."""
        raw = self.get_query_argument("phase", None)
        try:
            phase = JobPhase(raw) if raw else None
        except ValueError:
            names = ", ".join(p.value for p in JobPhase)
            raise InvalidRequest(f"phase must be one of {names}", field="phase") from None
        offset = self.int_argument("offset", 0, 0, _MAX_OFFSET)
        limit = self.int_argument("limit", _PAGE_DEFAULT, 1, _PAGE_MAX)
        sort = self.choice_argument("sort", JOB_SORTS)
        order = self.choice_argument("order", JOB_ORDERS)
        page = await self.backend.list_jobs(
            phase=phase,
            offset=offset,
            limit=limit,
            sort=sort,
            order=order,
            workspace_id=self.workspace_argument(),
        )
        jobs = [summary.to_json() for summary in page.jobs]
        self.reply({"jobs": jobs, "total": page.total, "offset": offset, "limit": limit})

    @api
    async def post(self):
        """JobSpec → Job, 201."""
        spec = JobSpec.from_json(self.json_body())
        spec.workspace_id = spec.workspace_id or self.backend.current_workspace
        job = await self.backend.submit_job(spec)
        self.watcher.job_changed(job)
        self.reply(job.to_json(), 201)


class JobHandler(ModelArtsHandler):
    @api
    async def get(self, job_id: str):
        """→ Job."""
        self.reply((await self.backend.get_job(job_id)).to_json())

    @api
    async def delete(self, job_id: str):
        """Forget an ended job and its logs, 204."""
        job = await self.backend.get_job(job_id)  # what subscribers are told is gone
        await self.backend.delete_job(job_id)
        self.watcher.job_deleted(job)
        self.set_status(204)
        self.finish()


class JobStopHandler(ModelArtsHandler):
    @api
    async def post(self, job_id: str):
        """→ Job (Terminating, or Terminated if it never started), 202."""
        job = await self.backend.stop_job(job_id)
        self.watcher.job_changed(job)
        self.reply(job.to_json(), 202)


class JobLogsHandler(ModelArtsHandler):
    @api
    async def get(self, job_id: str):
        """?task=worker-0&offset=0&limit=65536 → LogChunk; follow from its next_offset."""
        task = self.get_query_argument("task", "worker-0")
        offset = self.int_argument("offset", 0, 0, 2**62)
        limit = self.int_argument("limit", _LOG_CHUNK_DEFAULT, 1, _LOG_CHUNK_MAX)
        self.reply((await self.backend.read_logs(job_id, task, offset, limit)).to_json())


class RangeNotSatisfiable(ModelArtsError):
    """The Range asked starts past the end of the log (416)."""

    status = 416
    code = "ModelArts.RangeNotSatisfiable"

    def __init__(self, size: int, complete: bool):
        super().__init__(f"the log has {size} bytes; no byte of the Range is there", field="Range")
        self.size = size
        self.complete = complete


_RANGE_SPEC = re.compile(r"(\d*)-(\d*)", re.ASCII)
_RANGE_HELP = N_("Range must be bytes=first-last, bytes=first- or bytes=-length")


def _position(digits: str) -> int:
    # Past any log's size, and never an int() of thousands of digits.
    return int(digits) if len(digits) <= 18 else 2**62


def _range_spec(text: str) -> tuple[int | None, int | None]:
    found = _RANGE_SPEC.fullmatch(text.strip())
    if found is None or found.groups() == ("", ""):
        raise InvalidRequest(_RANGE_HELP, field="Range")
    first, last = (_position(digits) if digits else None for digits in found.groups())
    if first is not None and last is not None and first > last:
        raise InvalidRequest(
            "Range must be bytes=first-last, bytes=first- or bytes=-length, first no more than "
            "last",
            field="Range",
        )
    return first, last


def byte_range(header: str | None) -> tuple[int | None, int | None] | None:
    """The (first, last) positions of the one byte range a Range header asks (first None: the
    last ``last`` bytes; last None: to the end), or None for the whole log: no header, or
    several ranges (which a server may ignore). Anything else is a 400 naming Range."""
    if header is None:
        return None
    unit, _, ranges = header.partition("=")
    if unit.strip().lower() != "bytes":
        raise InvalidRequest(_RANGE_HELP, field="Range")
    specs = [_range_spec(spec) for spec in ranges.split(",")]
    return specs[0] if len(specs) == 1 else None


def byte_span(asked: tuple[int | None, int | None], log: LogFile) -> tuple[int, int] | None:
    """``[start, stop)`` of the log that a range asks, or None for all of an empty log (the only
    answer to a suffix of it); 416 when nothing of it is there."""
    first, last = asked
    if first is None:  # a suffix: the last ``last`` bytes
        if not last:
            raise RangeNotSatisfiable(log.size, log.complete)
        return (max(0, log.size - last), log.size) if log.size else None
    if first >= log.size:
        raise RangeNotSatisfiable(log.size, log.complete)
    return first, log.size if last is None else min(log.size, last + 1)


class JobTaskLogHandler(ModelArtsHandler):
    @api
    async def get(self, job_id: str, task: str):
        """→ the task's log as text/plain bytes: all of it (200), or the one Range asked (206)."""
        asked = byte_range(self.request.headers.get("Range"))
        log = await self.backend.open_log(job_id, task)
        try:
            span = byte_span(asked, log) if asked else None
            start, stop = span or (0, log.size)
            if span is not None:
                self.set_status(206)
                self.set_header("Content-Range", f"bytes {start}-{stop - 1}/{log.size}")
            self.set_header("Accept-Ranges", "bytes")
            self.set_header("Cache-Control", "no-store")  # the log grows
            self.set_header(_COMPLETE, "true" if log.complete else "false")
            self.set_header("Content-Length", stop - start)
            self.set_header("Content-Type", _TEXT)
            if await self._send(log, start, stop):
                self.finish(set_content_type=_TEXT)
        finally:
            log.close()

    async def _send(self, log: LogFile, start: int, stop: int) -> bool:
        """Bytes ``[start, stop)`` in pieces, each read in a worker thread while the one before
        is sent; False if the client went away."""

        def read(offset: int) -> asyncio.Future:
            return asyncio.ensure_future(
                asyncio.to_thread(log.read, offset, min(_LOG_PIECE, stop - offset))
            )

        offset = start
        reading = read(offset) if offset < stop else None
        try:
            while reading is not None:
                piece, reading = await reading, None
                if not piece:
                    raise OSError(f"the log ended at byte {offset}, before {stop}")
                offset += len(piece)
                reading = read(offset) if offset < stop else None
                self.write(piece)
                await self.flush()
        except StreamClosedError:
            return False
        finally:
            if reading is not None:
                await asyncio.wait([reading])  # the file closes once no thread reads it
        return True

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(error, RangeNotSatisfiable):
            self.set_header("Content-Range", f"bytes */{error.size}")
            self.set_header(_COMPLETE, "true" if error.complete else "false")
        super().write_error(status_code, **kwargs)


class JobMetricsHandler(ModelArtsHandler):
    @api
    async def get(self, job_id: str):
        """→ Metrics: per task, percent series (cpu, memory, gpu/npu where measured)."""
        self.reply((await self.backend.get_metrics(job_id)).to_json())


class WorkspacesHandler(ModelArtsHandler):
    @api
    async def get(self):
        """→ {workspaces: [Workspace], current}."""
        workspaces = await self.backend.list_workspaces()
        current = self.backend.current_workspace
        self.reply({"workspaces": [w.to_json() for w in workspaces], "current": current})


class CurrentWorkspaceHandler(ModelArtsHandler):
    @api
    async def get(self):
        """→ Workspace: the current one."""
        self.reply((await self.backend.get_current_workspace()).to_json())

    @api
    async def put(self):
        """{id} → Workspace, now current (kept across restarts); the checks run again."""
        body = self.json_body()
        unknown = set(body) - {"id"}
        if unknown:
            field = sorted(unknown)[0]
            raise InvalidRequest(f"unknown field {field!r}", field=field)
        workspace_id = parse_workspace_id(body.get("id"), "id")
        if workspace_id is None:
            raise InvalidRequest("id is required", field="id")
        changed = workspace_id != self.backend.current_workspace
        workspace = await self.backend.use_workspace(workspace_id)
        if changed:
            self.watcher.workspace_changed(workspace)
            self.doctor.workspace_changed()
        self.reply(workspace.to_json())


class DoctorHandler(ModelArtsHandler):
    @api
    async def get(self):
        """→ DoctorReport: the last one (waiting for the first run to end)."""
        self.reply(translate_report((await self.doctor.first()).to_json(), self.request_language()))

    @api
    async def post(self):
        """→ DoctorReport of a run now (joining one in progress)."""
        self.reply(translate_report((await self.doctor.run()).to_json(), self.request_language()))


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The REST contract shipped in the package (``openapi.yaml``)."""
    import yaml

    # libyaml's parser where PyYAML has it: the event schemas need this at start-up.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(os.path.join(os.path.dirname(__file__), "openapi.yaml")) as f:
        return yaml.load(f, Loader=loader)


class I18nHandler(ModelArtsHandler):
    @api
    async def get(self):
        """→ {language, messages}: the language of the request, else the frontend's last one,
        and the catalogue's messages in it (``msgid → text``), for kernels to speak it;
        ``?known=<language>``: messages null when that is still the language."""
        answer = kernel_messages(self.request_language())
        if self.get_query_argument("known", None) == answer["language"]:
            answer["messages"] = None
        self.reply(answer)


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
        ("activity", ActivityHandler),
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
        (f"jobs/{job}/tasks/{ident.format('task')}/log", JobTaskLogHandler),
        (f"jobs/{job}/metrics", JobMetricsHandler),
        ("workspaces", WorkspacesHandler),
        ("workspaces/current", CurrentWorkspaceHandler),
        ("doctor", DoctorHandler),
        ("i18n", I18nHandler),
        ("openapi.json", OpenAPIHandler),
    ]
    return [(rf"/{NAMESPACE}/{path}", handler) for path, handler in routes]

"""The server extension: configuration, the one backend, and the REST routes."""

from __future__ import annotations

import hashlib
import os
import secrets
import urllib.parse

from jupyter_core.paths import jupyter_data_dir, jupyter_runtime_dir
from jupyter_server.extension.application import ExtensionApp
from jupyter_server.utils import url_path_join
from tornado.ioloop import IOLoop
from traitlets import Bool, Float, Int, List, TraitError, Type, Unicode, default, validate
from traitlets.utils.importstring import import_item

from . import kernel_path
from .backends import auto_backend
from .backends.base import Backend
from .doctor import Doctor
from .events import Watcher, event_schemas
from .i18n import LanguageChoice
from .store import Store, StoreInUse

#: Where kernels started by this server find its REST API, and the key they call it with: a
#: secret of this extension's own (made at each start), valid on its routes only, so kernels
#: reach the server whatever its auth (token, password, none, JupyterHub) without its token.
KERNEL_URL_VARIABLE = "JUPYTER_MODELARTS_URL"
KERNEL_KEY_VARIABLE = "JUPYTER_MODELARTS_KEY"
#: The server's own TLS certificate, for a kernel calling it over https on a loopback address.
KERNEL_CAFILE_VARIABLE = "JUPYTER_MODELARTS_CAFILE"
KERNEL_KEY_HEADER = "X-Jupyter-ModelArts-Key"
NAMESPACE = "jupyter-modelarts"
_LOOPBACK = {"": "127.0.0.1", "*": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "[::1]"}


def kernel_url(serverapp) -> str:
    """This server's REST API as a kernel on the same machine reaches it (never via a proxy)."""
    if serverapp.sock:
        root = "http+unix://" + urllib.parse.quote(serverapp.sock, safe="")
    else:
        host = _LOOPBACK.get(serverapp.ip, serverapp.ip)
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        scheme = "https" if serverapp.certfile else "http"
        root = f"{scheme}://{host}:{serverapp.port}"
    return url_path_join(root, serverapp.base_url, NAMESPACE)


def _moved(name: str) -> str:
    return f"Deprecated: use c.LocalBackend.{name} (this name still works, with a warning)."


class ModelArtsApp(ExtensionApp):
    """Drive ModelArts (or the local stand-in) from Jupyter: ``c.ModelArtsApp.*`` configures the
    extension, ``c.LocalBackend.*`` and ``c.ModelArtsBackend.*`` each backend."""

    name = "jupyter_modelarts"
    description = "Drive Huawei Cloud ModelArts (or its local stand-in) from Jupyter."
    # `jupyter modelarts` opens JupyterLab, where the extension's face is.
    extension_url = "/lab"
    load_other_extensions = True

    # Set by initialize_settings; stays None when it failed, with the reason in ``unavailable``.
    backend: Backend | None = None
    watcher: Watcher | None = None
    doctor: Doctor | None = None
    unavailable = ""
    _started = False

    backend_class = Type(
        klass=Backend,
        config=True,
        help="""The backend that carries out every operation: LocalBackend
        (jupyter_modelarts.backends.local.LocalBackend: no cloud account; jobs run as processes,
        OBS is a folder tree, images are OCI archives) or ModelArtsBackend
        (jupyter_modelarts.backends.modelarts.ModelArtsBackend, configured by
        c.ModelArtsBackend.*). Default: ModelArtsBackend inside a ModelArts notebook (PROJECT_ID
        and INSTANCE_ID set), else LocalBackend.""",
    )

    state_dir = Unicode(
        config=True,
        help="""Folder for the job store (SQLite), job snapshots and logs, and saved images.
        One server at a time uses it. Default: one folder per server root_dir under
        <jupyter data dir>/modelarts/servers/, so servers of different folders run side by
        side.""",
    )

    # Before the local backend had settings of its own, they were ModelArtsApp's: the old names
    # still work (LocalBackend takes them, with a deprecation warning).
    object_store_root = Unicode(
        None, allow_none=True, config=True, help=_moved("object_store_root")
    )
    data_root = Unicode(None, allow_none=True, config=True, help=_moved("data_root"))
    auto_stop_enabled = Bool(None, allow_none=True, config=True, help=_moved("auto_stop_enabled"))
    auto_stop_duration = Float(
        None, allow_none=True, config=True, help=_moved("auto_stop_duration")
    )
    max_concurrent_jobs = Int(
        None, allow_none=True, config=True, help=_moved("max_concurrent_jobs")
    )
    job_stop_grace = Float(None, allow_none=True, config=True, help=_moved("job_stop_grace"))
    metrics_interval = Float(None, allow_none=True, config=True, help=_moved("metrics_interval"))
    image_paths = List(
        Unicode(), default_value=None, allow_none=True, config=True, help=_moved("image_paths")
    )
    image_size_limit = Int(None, allow_none=True, config=True, help=_moved("image_size_limit"))

    image_namespace = Unicode(
        "local",
        config=True,
        help="""Namespace (SWR organisation) used when an image save names none.
        Default: "local".""",
    )

    heartbeat_s = Float(
        30.0,
        config=True,
        help="""Seconds between heartbeat events on the event stream, by which a browser tab
        knows the stream is alive (it falls back to polling after 75 s without any message).
        Default: 30.""",
    )

    doctor_timeout_s = Float(
        120.0,
        config=True,
        help="""Seconds a run of the checks (GET/POST /doctor, %ma_doctor) may take; one that
        takes longer ends with a failing check saying so. Default: 120.""",
    )

    @validate("heartbeat_s", "doctor_timeout_s")
    def _positive(self, proposal):
        if proposal["value"] <= 0:
            raise TraitError(f"{proposal['trait'].name} must be positive")
        return proposal["value"]

    @default("backend_class")
    def _default_backend_class(self) -> type[Backend]:
        return import_item(auto_backend())

    @default("state_dir")
    def _default_state_dir(self) -> str:
        root = os.path.abspath(
            os.path.expanduser(self.serverapp.root_dir if self.serverapp else ".")
        )
        digest = hashlib.sha256(root.encode("utf-8", "surrogateescape")).hexdigest()[:10]
        name = f"{os.path.basename(root) or 'root'}-{digest}"
        return os.path.join(jupyter_data_dir(), "modelarts", "servers", name)

    def initialize_settings(self) -> None:
        self.settings["modelarts_kernel_key"] = key = secrets.token_urlsafe(32)
        # Kernels inherit this process's environment; the URL follows once the port is known.
        os.environ[KERNEL_KEY_VARIABLE] = key
        self._add_kernel_path()
        state_dir = os.path.abspath(os.path.expanduser(self.state_dir))
        try:
            self.store = Store(os.path.join(state_dir, "store.sqlite"))
        except StoreInUse as err:
            # Routes stay up and answer 503 with this reason, rather than Tornado's HTML 404.
            self.unavailable = str(err)
            self.log.error("jupyter_modelarts: %s", err)
            return
        self.settings["modelarts_languages"] = LanguageChoice(self.store)
        self.backend = self.backend_class(
            parent=self,
            store=self.store,
            state_dir=state_dir,
            root_dir=os.path.abspath(os.path.expanduser(self.serverapp.root_dir)),
            request_shutdown=self._shutdown_for,
        )
        self.settings["modelarts_backend"] = self.backend
        self._register_events()
        self.watcher = Watcher(
            self.backend, self.serverapp.event_logger.emit, self.log, self.heartbeat_s
        )
        self.settings["modelarts_watcher"] = self.watcher
        languages = self.settings["modelarts_languages"]
        self.doctor = Doctor(
            self.backend,
            # Pushed to every tab: in the language the frontend last sent.
            lambda report: self.watcher.doctor_changed(report, languages.language),
            self.log,
            self.doctor_timeout_s,
        )
        self.settings["modelarts_doctor"] = self.doctor
        self.log.info("jupyter_modelarts: %s backend, state in %s", self.backend.name, state_dir)
        if not hasattr(ExtensionApp, "_start_jupyter_server_extension"):
            # jupyter_server < 2.16 has no start hook: start once the loop runs (the port is
            # known by then).
            IOLoop.current().add_callback(self._start_jupyter_server_extension, self.serverapp)

    def _register_events(self) -> None:
        """Our event schemas on the server's bus; a browser hears only those registered before
        it subscribed, so this happens at load time."""
        from .handlers import openapi_document

        for schema in event_schemas(openapi_document()):
            self.serverapp.event_logger.register_event_schema(schema)

    def _add_kernel_path(self) -> None:
        """Make ``%load_ext jupyter_modelarts`` work in kernels of any Python environment."""
        try:
            folder = kernel_path.prepare(jupyter_runtime_dir())
        except OSError as err:
            self.log.warning(
                "jupyter_modelarts: kernels of other environments won't find the magics: %s", err
            )
            return
        os.environ["PYTHONPATH"] = kernel_path.with_entry(os.environ.get("PYTHONPATH"), folder)

    def initialize_handlers(self) -> None:
        from .handlers import route_table

        self.handlers.extend(route_table())

    async def _start_jupyter_server_extension(self, serverapp) -> None:
        if self._started:
            return
        self._started = True
        # Kernels inherit this process's environment: that is how %load_ext jupyter_modelarts
        # finds this very server (and not another one on the same machine).
        os.environ[KERNEL_URL_VARIABLE] = kernel_url(serverapp)
        if serverapp.certfile:
            os.environ[KERNEL_CAFILE_VARIABLE] = os.path.abspath(serverapp.certfile)
        if self.backend:
            await self.backend.start()
            self.watcher.start()
            self.doctor.start()

    async def stop_extension(self) -> None:
        if self.backend:
            await self.doctor.stop()
            await self.watcher.stop()
            await self.backend.close()
            self.store.close()

    def _shutdown_for(self, reason: str) -> None:
        """Stop the whole server cleanly (kernels, terminals, extensions), saying why."""
        self.log.warning("jupyter_modelarts: %s. Stopping the Jupyter server.", reason)
        self.serverapp.stop()


def main(argv: list[str] | None = None) -> None:
    """``jupyter modelarts``: a server with the extension; ``--help-all`` lists every setting."""
    from .backends.local import LocalBackend
    from .backends.modelarts import ModelArtsBackend

    # The backends' settings are shown only here, so the server never imports both at start.
    ModelArtsApp.classes = [*ModelArtsApp.classes, LocalBackend, ModelArtsBackend]
    ModelArtsApp.launch_instance(argv)

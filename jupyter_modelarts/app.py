"""The server extension: configuration, the one backend, and the REST routes."""

from __future__ import annotations

import os
import sys

from jupyter_core.paths import jupyter_data_dir
from jupyter_server.extension.application import ExtensionApp
from jupyter_server.utils import url_path_join
from traitlets import Bool, Float, Int, List, Type, Unicode, default, validate
from traitlets.utils.importstring import import_item

from .backends import auto_backend
from .backends.base import Backend
from .store import Store

#: Where kernels started by this server find its REST API, and the token to call it with.
KERNEL_URL_VARIABLE = "JUPYTER_MODELARTS_URL"
KERNEL_TOKEN_VARIABLE = "JUPYTER_MODELARTS_TOKEN"
NAMESPACE = "jupyter-modelarts"


class ModelArtsApp(ExtensionApp):
    """Drive ModelArts (or the local stand-in) from Jupyter: ``c.ModelArtsApp.*`` configures it."""

    name = "jupyter_modelarts"

    # Set by initialize_settings; stays None when it failed (e.g. the state dir is taken).
    backend: Backend | None = None

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
        Default: <jupyter data dir>/modelarts, e.g. ~/.local/share/jupyter/modelarts.""",
    )

    object_store_root = Unicode(
        config=True,
        help="""Local backend: folder that stands for OBS. Each sub-folder is a bucket, so
        obs://bucket/path/ is <object_store_root>/bucket/path/. Default: <state_dir>/objects.""",
    )

    data_root = Unicode(
        config=True,
        help="""Local backend: folder that stands for /data/, where OBS paths are mounted
        (/data/name/ is <data_root>/name). Default: /data when it exists and is writable, else
        <root_dir>/data so that mounts show in the file browser.""",
    )

    auto_stop_enabled = Bool(
        False,
        config=True,
        help="""Local backend: stop this Jupyter server when its lease runs out, as ModelArts
        stops an instance. Default: False (no lease; renew answers 409).""",
    )

    auto_stop_duration = Float(
        3600.0,
        config=True,
        help="""Local backend: seconds from start-up until auto-stop, when auto_stop_enabled is
        set and no earlier lease is still running. Renewals via the API take 1 h to 72 h.
        Default: 3600 (1 hour).""",
    )

    max_concurrent_jobs = Int(
        4,
        config=True,
        help="""Local backend: jobs that may run at once; later ones wait in the Pending phase.
        Default: 4.""",
    )

    job_stop_grace = Float(
        10.0,
        config=True,
        help="""Local backend: seconds between SIGTERM and SIGKILL when a job is stopped.
        Default: 10.""",
    )

    metrics_interval = Float(
        2.0,
        config=True,
        help="""Local backend: seconds between CPU/memory samples of running jobs. Default: 2.""",
    )

    image_paths = List(
        Unicode(),
        config=True,
        help="""Local backend: absolute paths written into a saved image. Default: the Python
        environment of this server and its kernels (sys.prefix); like ModelArts, the work
        folder is not part of the image.""",
    )

    image_size_limit = Int(
        35 * 10**9,
        config=True,
        help="""Local backend: largest image, in bytes, checked before writing (ModelArts
        refuses to save images over 35 GB). Default: 35000000000.""",
    )

    image_namespace = Unicode(
        "local",
        config=True,
        help="""Namespace (SWR organisation) used when an image save names none.
        Default: "local".""",
    )

    @default("backend_class")
    def _default_backend_class(self) -> type[Backend]:
        return import_item(auto_backend())

    @default("state_dir")
    def _default_state_dir(self) -> str:
        return os.path.join(jupyter_data_dir(), "modelarts")

    @default("object_store_root")
    def _default_object_store_root(self) -> str:
        return os.path.join(self.state_dir, "objects")

    @default("data_root")
    def _default_data_root(self) -> str:
        if os.path.isdir("/data") and os.access("/data", os.W_OK):
            return "/data"
        return os.path.join(self.serverapp.root_dir if self.serverapp else os.getcwd(), "data")

    @default("image_paths")
    def _default_image_paths(self) -> list[str]:
        return [sys.prefix]

    @validate("auto_stop_duration", "job_stop_grace", "metrics_interval")
    def _positive(self, proposal):
        if proposal["value"] <= 0:
            raise ValueError(f"{proposal['trait'].name} must be positive")
        return proposal["value"]

    @validate("max_concurrent_jobs")
    def _at_least_one(self, proposal):
        if proposal["value"] < 1:
            raise ValueError("max_concurrent_jobs must be at least 1")
        return proposal["value"]

    @validate("image_paths")
    def _absolute_paths(self, proposal):
        for path in proposal["value"]:
            if not os.path.isabs(path):
                raise ValueError(f"image_paths must be absolute, got {path!r}")
        return proposal["value"]

    def initialize_settings(self) -> None:
        state_dir = os.path.abspath(os.path.expanduser(self.state_dir))
        self.store = Store(os.path.join(state_dir, "store.sqlite"))
        self.backend = self.backend_class(
            parent=self,
            store=self.store,
            state_dir=state_dir,
            root_dir=os.path.abspath(os.path.expanduser(self.serverapp.root_dir)),
            request_shutdown=self._shutdown_for,
        )
        self.settings["modelarts_backend"] = self.backend
        self.log.info("jupyter_modelarts: %s backend, state in %s", self.backend.name, state_dir)

    def initialize_handlers(self) -> None:
        from .handlers import route_table

        self.handlers.extend(route_table())

    async def _start_jupyter_server_extension(self, serverapp) -> None:
        # Kernels inherit this process's environment: that is how %load_ext jupyter_modelarts
        # finds this very server (and not another one on the same machine).
        os.environ[KERNEL_URL_VARIABLE] = url_path_join(serverapp.connection_url, NAMESPACE)
        os.environ[KERNEL_TOKEN_VARIABLE] = serverapp.identity_provider.token or ""
        if self.backend:
            await self.backend.start()

    async def stop_extension(self) -> None:
        if self.backend:
            await self.backend.close()
            self.store.close()

    def _shutdown_for(self, reason: str) -> None:
        """Stop the whole server cleanly (kernels, terminals, extensions), saying why."""
        self.log.warning("jupyter_modelarts: %s. Stopping the Jupyter server.", reason)
        self.serverapp.stop()

"""The backend is chosen automatically: the cloud inside a ModelArts notebook, else local."""

import asyncio

from jupyter_modelarts.app import ModelArtsApp
from jupyter_modelarts.backends.local import LocalBackend
from jupyter_modelarts.backends.modelarts import ModelArtsBackend
from jupyter_modelarts.store import Store


def test_inside_a_modelarts_notebook_the_cloud_backend_is_chosen(monkeypatch):
    monkeypatch.setenv("PROJECT_ID", "0123456789abcdef0123456789abcdef")
    monkeypatch.setenv("INSTANCE_ID", "11111111-2222-3333-4444-555555555555")
    assert ModelArtsApp().backend_class is ModelArtsBackend


def test_metadata_service_is_tried_only_inside_modelarts_or_when_configured(monkeypatch, tmp_path):
    def endpoint(**config):
        store = Store(str(tmp_path / "store.sqlite"))
        backend = ModelArtsBackend(
            store=store,
            state_dir=str(tmp_path),
            root_dir=str(tmp_path),
            request_shutdown=print,
            **config,
        )
        asyncio.run(backend.close())
        store.close()
        return backend.metadata_endpoint

    monkeypatch.delenv("PROJECT_ID", raising=False)
    assert endpoint() == ""
    assert endpoint(metadata_endpoint="http://127.0.0.1:9") == "http://127.0.0.1:9"
    monkeypatch.setenv("PROJECT_ID", "p")
    monkeypatch.setenv("INSTANCE_ID", "i")
    assert endpoint() == "http://169.254.169.254"


def test_elsewhere_the_local_backend_is_chosen(monkeypatch):
    monkeypatch.delenv("PROJECT_ID", raising=False)
    monkeypatch.delenv("INSTANCE_ID", raising=False)
    assert ModelArtsApp().backend_class is LocalBackend


def test_configured_backend_wins(monkeypatch):
    monkeypatch.setenv("PROJECT_ID", "p")
    monkeypatch.setenv("INSTANCE_ID", "i")
    app = ModelArtsApp(backend_class="jupyter_modelarts.backends.local.LocalBackend")
    assert app.backend_class is LocalBackend

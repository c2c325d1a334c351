"""Fixtures: a real Jupyter server with the extension on the local backend, in temp folders."""

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest
import yaml

import jupyter_modelarts
from fake_modelarts import FakeCloud
from jupyter_modelarts.backends.local import MOVED_TO_LOCAL_BACKEND

pytest_plugins = ("pytest_jupyter.jupyter_server", "kernel_envs")

#: Credentials the tests hand out (fake cloud keys, passwords, tokens). No log line, response body
#: or server log of any test may contain one: see no_secret_leaks.
SECRETS: set[str] = set()
_SEEN_OUTPUT: list[str] = []


@pytest.fixture(autouse=True)
def no_secret_leaks(caplog):
    """After every test, scan its log records, API responses and server logs for credentials."""
    caplog.set_level(logging.DEBUG)
    _SEEN_OUTPUT.clear()
    yield
    output = [caplog.text, *_SEEN_OUTPUT]
    leaked = sorted({s for s in SECRETS if s and any(s in text for text in output)})
    assert not leaked, f"{len(leaked)} credential(s) leaked into logs or responses"


@pytest.fixture
def ma_dirs(tmp_path):
    """Folders of one test's local backend: state, object store (one bucket), data root, env."""
    dirs = {name: tmp_path / name for name in ("state", "objects", "data", "env")}
    for path in dirs.values():
        path.mkdir()
    (dirs["objects"] / "bucket").mkdir()
    (dirs["env"] / "bin").mkdir()
    (dirs["env"] / "bin" / "tool").write_text("#!/bin/sh\necho tool\n")
    return dirs


@pytest.fixture
def ma_config(ma_dirs):
    return {
        "state_dir": str(ma_dirs["state"]),
        "object_store_root": str(ma_dirs["objects"]),
        "data_root": str(ma_dirs["data"]),
        "image_paths": [str(ma_dirs["env"])],
        "job_stop_grace": 2.0,
        "metrics_interval": 0.2,
    }


#: Settings of ``ma_config`` that are the local backend's.
LOCAL_SETTINGS = (*MOVED_TO_LOCAL_BACKEND, "workspaces", "workspace_id")


def extension_sections(ma_config):
    """``ma_config`` (the extension's and the local backend's settings) as config sections."""
    local = {k: v for k, v in ma_config.items() if k in LOCAL_SETTINGS}
    app = {k: v for k, v in ma_config.items() if k not in local}
    return {"ModelArtsApp": app, "LocalBackend": local}


def server_config(ma_config, **sections):
    """Jupyter server config with the extension on, auth enforced, and ModelArtsApp settings."""
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyter_modelarts": True},
            "allow_unauthenticated_access": False,
            "reraise_server_extension_failures": True,
        },
        **extension_sections(ma_config),
        **sections,
    }


DOC_FILE = os.path.join(os.path.dirname(jupyter_modelarts.__file__), "openapi.yaml")


@pytest.fixture(scope="session")
def doc():
    """openapi.yaml, the contract."""
    with open(DOC_FILE) as f:
        return yaml.safe_load(f)


@pytest.fixture
def c(api, doc):
    """``api`` with every answer checked against the contract."""
    from test_openapi import Contract

    return Contract(api, doc)


def cloud_server_config(ma_config, cloud_config):
    return server_config(
        {**ma_config, "backend_class": "jupyter_modelarts.backends.modelarts.ModelArtsBackend"},
        ModelArtsBackend=cloud_config,
    )


@pytest.fixture
def fake_keys(fake, monkeypatch):
    """The fake's key pair in the environment, where the server's credential chain finds it."""
    monkeypatch.setenv("HUAWEICLOUD_SDK_AK", fake.ak)
    monkeypatch.setenv("HUAWEICLOUD_SDK_SK", fake.sk)


@pytest.fixture
def cloud_jp_server_config(ma_config, cloud_config, fake_keys):
    """A server on the cloud backend against the fake."""
    return cloud_server_config(ma_config, cloud_config)


def fresh_backend(serverapp, **traits):
    """A second backend over the same store, as a restarted server would build it."""
    app = next(iter(serverapp.extension_manager.extension_apps["jupyter_modelarts"]))
    return app.backend_class(
        parent=app,
        store=app.store,
        state_dir=app.state_dir,
        root_dir=str(serverapp.root_dir),
        request_shutdown=lambda reason: None,
        **traits,
    )


@pytest.fixture
def jp_server_config(ma_config):
    return server_config(ma_config)


@pytest.fixture
def jp_serverapp(jp_serverapp, jp_asyncio_loop):
    """pytest-jupyter never runs the server's post-start hook; a real server does."""
    # The hook came in jupyter_server 2.16; on older servers app.py starts the backend itself.
    start = getattr(jp_serverapp.extension_manager, "start_all_extensions", None)
    if start:
        jp_asyncio_loop.run_until_complete(start())
    return jp_serverapp


class Api:
    """JSON calls to /jupyter-modelarts/ through pytest-jupyter's authenticated jp_fetch."""

    def __init__(self, jp_fetch):
        self.fetch = jp_fetch

    async def call(self, method, path, body=None, expect=None, **params):
        kwargs = {"method": method, "raise_error": False}
        if body is not None:
            kwargs["body"] = json.dumps(body)
        elif method in ("POST", "PATCH"):
            kwargs["body"] = "{}"
        if params:
            kwargs["params"] = params
        response = await self.fetch("jupyter-modelarts", *path.split("/"), **kwargs)
        _SEEN_OUTPUT.append(response.body.decode(errors="replace"))
        data = json.loads(response.body) if response.body else None
        if expect is not None:
            assert response.code == expect, (response.code, data)
        return response.code, data

    async def get(self, path, **params):
        return (await self.call("GET", path, expect=200, **params))[1]

    async def wait_for(self, path, predicate, timeout=20.0, **params):
        """Poll a GET until predicate(body) holds; returns the body."""
        import asyncio

        deadline = time.monotonic() + timeout
        while True:
            body = await self.get(path, **params)
            if predicate(body):
                return body
            assert time.monotonic() < deadline, f"timed out waiting on {path}: {body}"
            await asyncio.sleep(0.05)

    async def log_text(self, job_id, task="worker-0"):
        """A task's whole log, read chunk by chunk until the reader makes no more progress."""
        text, offset = "", 0
        while True:
            chunk = await self.get(f"jobs/{job_id}/logs", task=task, offset=str(offset))
            text += chunk["content"]
            if chunk["next_offset"] == offset:
                return text
            offset = chunk["next_offset"]


@pytest.fixture
def api(jp_fetch):
    return Api(jp_fetch)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(")")[-1].split()[0] != "Z"


TOKEN = "test-token-process"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


PASSWORD = "test-password-process"


class ServerProcess:
    """One `python -m jupyter_server` with the extension, its log in a file.

    ``auth`` is "token", "password" (no token) or "none"; ``base_url`` as on JupyterHub;
    ``sock`` serves on a Unix socket instead of a port; ``env`` adds to the server's environment
    and ``config`` sections to its configuration.
    ``self.client`` is an httpx client of ``/jupyter-modelarts/`` logged in as a browser or API
    user would be in that mode.
    """

    def __init__(
        self,
        tmp_path,
        ma_config,
        name,
        expect_extension=True,
        *,
        auth="token",
        base_url="/",
        sock=None,
        env=None,
        config=None,
    ):
        from jupyter_server.auth import passwd

        self.port = free_port()
        self.base_url = base_url
        self.sock = sock
        self.auth = auth
        self.runtime_dir = tmp_path / "runtime"
        self.log_path = tmp_path / f"{name}.log"
        server = {
            "jpserver_extensions": {"jupyter_modelarts": True},
            "ip": "127.0.0.1",
            "open_browser": False,
            "root_dir": str(tmp_path),
            "allow_root": True,
            "base_url": base_url,
        }
        server.update({"sock": str(sock)} if sock else {"port": self.port})
        config = {
            "ServerApp": server,
            "IdentityProvider": {"token": TOKEN if auth == "token" else ""},
            "PasswordIdentityProvider": {
                "hashed_password": passwd(PASSWORD) if auth == "password" else ""
            },
            **extension_sections(ma_config),
            **(config or {}),
        }
        SECRETS.update({TOKEN, PASSWORD})
        config_path = tmp_path / f"{name}_config.json"
        config_path.write_text(json.dumps(config))
        server_env = {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"),
            "JUPYTER_RUNTIME_DIR": str(self.runtime_dir),
            **(env or {}),
        }
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "jupyter_server", f"--config={config_path}"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=server_env,
                cwd=tmp_path,
            )
        if sock:
            self.root_url = f"http://localhost{base_url}"
            transport = httpx.HTTPTransport(uds=str(sock))
        else:
            self.root_url = f"http://127.0.0.1:{self.port}{base_url}"
            transport = httpx.HTTPTransport()
        headers = {"Authorization": f"token {TOKEN}"} if auth == "token" else {}
        self.http = httpx.Client(
            base_url=self.root_url, headers=headers, timeout=10, transport=transport
        )
        deadline = time.monotonic() + 30
        while True:
            assert self.proc.poll() is None, self.log()
            try:
                if self.http.get("api/status" if auth == "token" else "api").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, self.log()
            time.sleep(0.1)
        self._log_in()
        self.client = httpx.Client(
            base_url=f"{self.root_url}jupyter-modelarts/",
            headers=self.http.headers,
            cookies=self.http.cookies,
            timeout=10,
            transport=transport,
        )
        if expect_extension:
            self.call("GET", "instance")

    def _log_in(self):
        """Cookies and the XSRF header a browser would have in this auth mode."""
        if self.auth == "token":
            return
        page = self.http.get("login")
        xsrf = self.http.cookies.get("_xsrf")
        assert xsrf, (page.status_code, page.headers)
        if self.auth == "password":
            answer = self.http.post("login", data={"password": PASSWORD, "_xsrf": xsrf})
            assert answer.status_code == 302, answer.text
        self.http.headers["X-XSRFToken"] = xsrf

    def start_kernel(self, name="python3", cwd=None):
        """A kernel started by this server (POST /api/kernels), and a client connected to it."""
        from jupyter_client import BlockingKernelClient

        body = {"name": name, **({"path": str(cwd)} if cwd else {})}
        answer = self.http.post("api/kernels", json=body)
        assert answer.status_code == 201, answer.text
        kernel_id = answer.json()["id"]
        kc = BlockingKernelClient()
        kc.load_connection_file(self.runtime_dir / f"kernel-{kernel_id}.json")
        # No heartbeat: it declares a kernel of a fresh environment dead while its first imports
        # compile; kernel_info below proves it alive.
        kc.start_channels(hb=False)
        kc.wait_for_ready(timeout=60)
        kc.kernel_id = kernel_id
        return kc

    def stop_kernel(self, kc):
        kc.stop_channels()
        self.http.delete(f"api/kernels/{kc.kernel_id}")

    def log(self):
        text = self.log_path.read_text(errors="replace")
        _SEEN_OUTPUT.append(text)
        return text

    def call(self, method, path, body=None, expect=200):
        response = self.client.request(method, path, json=body)
        _SEEN_OUTPUT.append(response.text)
        assert response.status_code == expect, (response.status_code, response.text)
        return response.json() if response.content else None

    def wait_for(self, path, predicate, timeout=20):
        deadline = time.monotonic() + timeout
        while not predicate(body := self.call("GET", path)):
            assert time.monotonic() < deadline, body
            time.sleep(0.1)
        return body

    def kill(self, sig=signal.SIGKILL):
        self.proc.send_signal(sig)
        self.proc.wait(timeout=20)
        self.client.close()
        self.http.close()


@pytest.fixture
def servers(tmp_path):
    started = []

    def start(ma_config, name="server", **options):
        server = ServerProcess(tmp_path, ma_config, name, **options)
        started.append(server)
        return server

    yield start
    for server in started:
        if server.proc.poll() is None:
            server.kill()
        server.log()  # scanned for credentials by no_secret_leaks


@pytest.fixture
def fake(tmp_path):
    cloud = FakeCloud(workdir=str(tmp_path / "fake-cloud"), step_s=0.2)
    cloud.start()
    cloud.buckets["bucket"] = {}
    SECRETS.update({cloud.sk, cloud.iam_password, *cloud.temp_keys[1:]})
    yield cloud
    SECRETS.update(cloud.issued_tokens())
    cloud.stop()


@pytest.fixture
def cloud_config(fake):
    base = fake.base_url
    return {
        "project_id": fake.project_id,
        "instance_id": fake.instance_id,
        "modelarts_endpoint": base,
        "iam_endpoint": base,
        "obs_endpoint": f"{base}/obs",
        "code_uri": "obs://bucket/jobs/",
        "cache_ttl": 1.0,
        "max_retries": 8,
        "credentials_file": "/nonexistent/credentials",
    }

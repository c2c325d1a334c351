"""The magics in a kernel the server started, in every auth setup users run Jupyter with."""

import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time

import httpx
import pytest
from jupyter_client import BlockingKernelClient

from conftest import _SEEN_OUTPUT, SECRETS, free_port
from test_magics import run, value

HUB_ENV = {
    "JUPYTERHUB_API_TOKEN": "hub-token-secret-0123456789",
    "JUPYTERHUB_API_URL": "http://127.0.0.1:8081/hub/api",
    "JUPYTERHUB_SERVICE_PREFIX": "/user/alice/",
    "JUPYTERHUB_SERVICE_URL": "http://127.0.0.1:0/user/alice/",
    "JUPYTERHUB_USER": "alice",
    "JUPYTERHUB_CLIENT_ID": "jupyterhub-user-alice",
    "JPY_API_TOKEN": "jpy-token-secret-0123456789",
    "MY_SERVICE_TOKEN": "service-token-secret-0123456789",
}

SECRETS.update(v for k, v in HUB_ENV.items() if "TOKEN" in k)

SETUPS = {
    "token": {"auth": "token"},
    "password-only": {"auth": "password"},
    "auth-disabled": {"auth": "none"},
    "jupyterhub-single-user": {"auth": "token", "base_url": "/user/alice/", "env": HUB_ENV},
    "unix-socket": {"auth": "token", "sock": True},
}


@pytest.fixture
def short_tmp():
    """A short folder: a Unix socket path must fit in 108 bytes."""
    path = tempfile.mkdtemp(prefix="ma-", dir="/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def exercise_magics(kc, stop_at):
    """In a kernel a server started: load, mount and unmount, renew, a job to Completed whose
    environment holds none of the server's credentials. ``stop_at()`` reads the lease."""
    out = run(kc, "%load_ext jupyter_modelarts")
    assert out["error"] is None, out

    out = run(kc, "%ma_mount obs://bucket/data/ /data/d1/")
    assert "Mounted obs://bucket/data/ at /data/d1/" in out["stdout"], out
    assert "Unmounted /data/d1/" in run(kc, "%ma_unmount /data/d1/")["stdout"]

    before = stop_at()
    out = run(kc, "%ma_lease renew 2h")
    assert out["error"] is None, out
    assert stop_at() != before

    cell = textwrap.dedent("""\
        %%ma_train --follow --name setup-check
        import os
        secret = [k for k in os.environ if k.startswith(("JUPYTERHUB_", "JPY_"))
                  or "TOKEN" in k.upper() or k.startswith("JUPYTER_MODELARTS_")]
        print("inherited secrets:", secret)
    """)
    out = run(kc, cell, timeout=60)
    assert out["error"] is None, out
    assert "inherited secrets: []" in out["stdout"], out
    assert "] Completed" in out["stdout"], out


@pytest.mark.parametrize("setup", list(SETUPS))
def test_magics_work_in_a_kernel_the_server_started(setup, servers, ma_config, ma_dirs, short_tmp):
    options = dict(SETUPS[setup])
    if options.pop("sock", False):
        options["sock"] = f"{short_tmp}/jupyter.sock"
    (ma_dirs["objects"] / "bucket" / "data").mkdir()
    server = servers({**ma_config, "auto_stop_enabled": True}, setup, **options)
    kc = server.start_kernel()
    try:
        exercise_magics(kc, lambda: server.call("GET", "lease")["stop_at"])
    finally:
        server.stop_kernel(kc)
    log = server.log()
    assert "Traceback" not in log, log
    for name, secret in HUB_ENV.items():
        assert "TOKEN" not in name or secret not in log


@pytest.mark.parametrize("setup", ["token", "password-only", "auth-disabled"])
def test_nothing_is_weakened_for_browsers_and_strangers(setup, servers, ma_config):
    server = servers(ma_config, setup, **SETUPS[setup])
    stranger = server.client.__class__(base_url=server.client.base_url, timeout=10)
    try:
        if setup != "auth-disabled":
            assert stranger.get("instance").status_code == 403
        # A cookie-carrying browser call without the XSRF header is refused as before.
        no_xsrf = {k: v for k, v in server.client.headers.items() if k.lower() != "x-xsrftoken"}
        for name, cookie in server.client.cookies.items():
            stranger.cookies.set(name, cookie)
        if setup != "token":
            answer = stranger.patch("lease", json={"duration_s": 7200}, headers=no_xsrf)
            assert answer.status_code == 403, answer.text
        # A made-up kernel key is refused on every verb, whatever the auth mode.
        fake = {"X-Jupyter-ModelArts-Key": "not-the-key"}
        assert stranger.get("instance", headers=fake).status_code == 403
        assert stranger.post("jobs", headers=fake, json={"name": "x"}).status_code == 403
    finally:
        stranger.close()


def test_a_kernel_gets_the_url_of_its_own_server_when_two_run(servers, ma_config, tmp_path):
    first = servers(ma_config, "first")
    second = servers({**ma_config, "state_dir": str(tmp_path / "state2")}, "second")
    for server in (first, second):
        kc = server.start_kernel()
        try:
            url = value(kc, "__import__('os').environ['JUPYTER_MODELARTS_URL']")
            assert url == f"http://127.0.0.1:{server.port}/jupyter-modelarts"
        finally:
            server.stop_kernel(kc)


CHP = pathlib.Path(__file__).parent.parent / "ui-tests/node_modules/.bin/configurable-http-proxy"
HUB_SERVICE_TOKEN = "hub-service-token-0123456789abcdef"
SECRETS.add(HUB_SERVICE_TOKEN)


@pytest.fixture
def jupyterhub(tmp_path, ma_dirs):
    """A real JupyterHub (dummy login, local process spawner) serving user alice."""
    if not CHP.exists():
        message = f"no configurable-http-proxy at {CHP} (cd ui-tests && jlpm install)"
        if os.environ.get("CI", "").lower() in ("1", "true"):
            pytest.fail(message)
        pytest.skip(message)
    port, hub_port, api_port = free_port(), free_port(), free_port()
    home = tmp_path / "home"
    settings = {
        "object_store_root": ma_dirs["objects"],
        "data_root": ma_dirs["data"],
        "auto_stop_enabled": True,
    }
    spawner_args = [
        "--ServerApp.allow_root=True",
        *(f"--LocalBackend.{name}={value}" for name, value in settings.items()),
    ]
    config = textwrap.dedent(f"""\
        c.JupyterHub.ip = "127.0.0.1"
        c.JupyterHub.port = {port}
        c.JupyterHub.hub_port = {hub_port}
        c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
        c.ConfigurableHTTPProxy.command = [{str(CHP)!r}]
        c.JupyterHub.authenticator_class = "dummy"
        c.Authenticator.allow_all = True
        c.JupyterHub.spawner_class = "simple"
        c.SimpleLocalProcessSpawner.home_dir_template = {str(home)!r} + "/{{username}}"
        c.Spawner.cmd = [{sys.executable!r}, "-m", "jupyterhub.singleuser"]
        c.Spawner.args = {spawner_args!r}
        c.JupyterHub.db_url = "sqlite:///{tmp_path}/hub.sqlite"
        c.JupyterHub.cookie_secret_file = "{tmp_path}/cookie_secret"
        c.JupyterHub.pid_file = "{tmp_path}/hub.pid"
        c.JupyterHub.services = [{{"name": "tester", "api_token": {HUB_SERVICE_TOKEN!r}}}]
        c.JupyterHub.load_roles = [{{
            "name": "tester",
            "scopes": ["admin:users", "admin:servers", "access:servers"],
            "services": ["tester"],
        }}]
    """)
    (tmp_path / "hub_config.py").write_text(config)
    log_path = tmp_path / "hub.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(tmp_path / "hub_config.py")],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
            start_new_session=True,
        )
    hub = httpx.Client(
        base_url=f"http://127.0.0.1:{port}/",
        headers={"Authorization": f"token {HUB_SERVICE_TOKEN}"},
        timeout=30,
    )
    hub.home = home
    hub.log = lambda: log_path.read_text(errors="replace")
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, hub.log()
            try:
                if hub.get("hub/api/").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, hub.log()
            time.sleep(0.2)
        yield hub
    finally:
        hub.close()
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        _SEEN_OUTPUT.append(log_path.read_text(errors="replace"))


def test_magics_work_in_a_jupyterhub_single_user_server(jupyterhub, ma_dirs):
    (ma_dirs["objects"] / "bucket" / "data").mkdir()
    assert jupyterhub.post("hub/api/users/alice").status_code == 201
    assert jupyterhub.post("hub/api/users/alice/server").status_code in (201, 202)
    deadline = time.monotonic() + 60
    while not jupyterhub.get("hub/api/users/alice").json()["servers"].get("", {}).get("ready"):
        assert time.monotonic() < deadline, jupyterhub.log()
        time.sleep(0.2)
    answer = jupyterhub.post("user/alice/api/kernels", json={"name": "python3"})
    assert answer.status_code == 201, answer.text
    kernel_id = answer.json()["id"]
    runtime = jupyterhub.home / "alice/.local/share/jupyter/runtime"
    kc = BlockingKernelClient()
    kc.load_connection_file(runtime / f"kernel-{kernel_id}.json")
    kc.start_channels(hb=False)
    try:
        kc.wait_for_ready(timeout=60)
        hub_env = value(kc, "sorted(k for k in __import__('os').environ if 'JUPYTERHUB' in k)")
        assert "JUPYTERHUB_API_TOKEN" in hub_env  # a real single-user server's kernel
        url = value(kc, "__import__('os').environ['JUPYTER_MODELARTS_URL']")
        assert url.endswith("/user/alice/jupyter-modelarts")

        def stop_at():
            return jupyterhub.get("user/alice/jupyter-modelarts/lease").json()["stop_at"]

        exercise_magics(kc, stop_at)
        # The browser's way in is unchanged: the hub's token still opens the API.
        assert jupyterhub.get("user/alice/jupyter-modelarts/instance").status_code == 200
    finally:
        kc.stop_channels()
        jupyterhub.delete(f"user/alice/api/kernels/{kernel_id}")
        jupyterhub.delete("hub/api/users/alice/server")
    assert "Traceback" not in jupyterhub.log()


def test_magics_on_the_cloud_backend_submit_without_a_local_engine(
    servers, ma_config, cloud_config, fake
):
    """ModelArts engines are images, not this kernel's Python: a cell's job takes the backend's
    default engine, with no note about local interpreters. A refused call fails the cell in one
    line naming the IAM action, and whether the right is the user's or the agency's."""
    server = servers(
        {**ma_config, "backend_class": "jupyter_modelarts.backends.modelarts.ModelArtsBackend"},
        "cloud",
        env={"HUAWEICLOUD_SDK_AK": fake.ak, "HUAWEICLOUD_SDK_SK": fake.sk},
        config={"ModelArtsBackend": cloud_config},
    )
    kc = server.start_kernel()
    try:
        assert run(kc, "%load_ext jupyter_modelarts")["error"] is None
        out = run(kc, "%%ma_train --no-wait --name cloud-cell\nprint('on ModelArts')\n")
        assert out["error"] is None, out
        assert "Submitted job" in out["stdout"] and "Note:" not in out["stderr"], out
        job = server.call("GET", f"jobs/{value(kc, '_.id')}")
        assert job["backend"] == "modelarts" and job["spec"]["engine"] is None

        fake.deny("modelarts:trainJob:update")
        [line] = run(kc, f"%ma_train stop {job['id']}")["error"]["traceback"]
        assert "the IAM action modelarts:trainJob:update" in line, line
        fake.permissions.remove_agency()
        [line] = run(kc, "%%ma_train --no-wait\nprint(1)\n")["error"]["traceback"]
        assert "agency (委托)" in line and "modelarts:trainJob:create" in line, line
        assert "全局配置 (Global Configuration) → 添加授权 (Add Authorization)" in line
    finally:
        server.stop_kernel(kc)

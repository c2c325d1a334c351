"""binder/postBuild's configuration: merged into the environment's own config file (what was
there stays; the user's ~/.jupyter is never touched), and a `jupyter lab` of that environment
lands on the demo notebook with the local backend's state where postBuild put it."""

import importlib.machinery
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from conftest import TOKEN, free_port

REPO = Path(__file__).resolve().parent.parent


def post_build():
    """binder/postBuild as a module (it has no .py suffix; importing runs nothing)."""
    path = str(REPO / "binder" / "postBuild")
    loader = importlib.machinery.SourceFileLoader("binder_post_build", path)
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_post_build_merges_its_settings_into_the_environment_only(tmp_path, monkeypatch):
    home, prefix, root = tmp_path / "home", tmp_path / "prefix", tmp_path / "repo"
    monkeypatch.setenv("HOME", str(home))
    user_config = home / ".jupyter" / "jupyter_server_config.py"
    user_config.parent.mkdir(parents=True)
    user_config.write_text("c.ServerApp.port = 9999  # the user's own\n")
    etc = prefix / "etc" / "jupyter"
    (etc / "jupyter_server_config.d").mkdir(parents=True)
    extension = etc / "jupyter_server_config.d" / "other_extension.json"
    extension.write_text('{"ServerApp": {"jpserver_extensions": {"other": true}}}\n')
    theirs = {"ServerApp": {"allow_origin": "*"}, "LocalBackend": {"max_concurrent_jobs": 2}}
    (etc / "jupyter_server_config.json").write_text(json.dumps(theirs))

    module = post_build()
    for _ in range(2):  # a second build changes nothing more
        written = module.write_config(root, prefix)
    assert written == etc / "jupyter_server_config.json"
    config = json.loads(written.read_text())
    assert config["ServerApp"] == {"allow_origin": "*"}  # Lab would override its default_url
    assert config["LabApp"] == {"default_url": "/lab/tree/demo/ModelArts-demo.ipynb"}
    assert config["LocalBackend"]["max_concurrent_jobs"] == 2
    assert config["LocalBackend"]["object_store_root"] == str(root / ".jupyter-modelarts/objects")
    assert extension.read_text() == '{"ServerApp": {"jpserver_extensions": {"other": true}}}\n'
    assert user_config.read_text() == "c.ServerApp.port = 9999  # the user's own\n"
    assert sorted(p.name for p in home.rglob("*")) == [".jupyter", "jupyter_server_config.py"]
    for name in ("state", "data", "objects"):
        assert (root / ".jupyter-modelarts" / name).is_dir()


def test_post_build_leaves_a_config_it_cannot_read_alone(tmp_path):
    etc = tmp_path / "prefix" / "etc" / "jupyter"
    etc.mkdir(parents=True)
    (etc / "jupyter_server_config.json").write_text("{not json")
    with pytest.raises(SystemExit, match="is not JSON"):
        post_build().write_config(tmp_path / "repo", tmp_path / "prefix")
    assert (etc / "jupyter_server_config.json").read_text() == "{not json"


def test_jupyter_lab_of_that_environment_lands_on_the_demo(tmp_path):
    prefix, root = tmp_path / "prefix", tmp_path / "repo"
    (root / "demo").mkdir(parents=True)
    (root / "demo" / "ModelArts-demo.ipynb").write_bytes(
        (REPO / "demo" / "ModelArts-demo.ipynb").read_bytes()
    )
    post_build().write_config(root, prefix)
    port = free_port()
    env = {
        **os.environ,
        # The environment's config folder as Jupyter finds it under sys.prefix, in a scratch copy.
        "JUPYTER_CONFIG_PATH": str(prefix / "etc" / "jupyter"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "user-config"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
    }
    argv = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--allow-root",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={TOKEN}",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    with open(tmp_path / "lab.log", "wb") as log:
        proc = subprocess.Popen(argv, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/"
    headers = {"Authorization": f"token {TOKEN}"}
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "lab.log").read_text()
            try:
                if httpx.get(f"{base}api/status", headers=headers).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "lab.log").read_text()
            time.sleep(0.2)
        landing = httpx.get(base, headers=headers)
        assert landing.status_code == 302, landing.text
        location = landing.headers["location"]
        assert location.split("?")[0] == "/lab/tree/demo/ModelArts-demo.ipynb"
        assert httpx.get(f"{base}{location[1:]}", headers=headers).status_code == 200
        instance = httpx.get(f"{base}jupyter-modelarts/instance", headers=headers).json()
        objects = os.path.realpath(root / ".jupyter-modelarts" / "objects")
        assert instance["object_store_root"] == objects
        assert instance["lease"]["enabled"] is True
    finally:
        proc.terminate()
        proc.wait(timeout=30)

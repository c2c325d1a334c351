"""Fixtures: a real Jupyter server with the extension on the local backend, in temp folders."""

import json
import os
import time

import pytest

pytest_plugins = ("pytest_jupyter.jupyter_server",)


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


@pytest.fixture
def jp_server_config(ma_config):
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyter_modelarts": True},
            "allow_unauthenticated_access": False,
            "reraise_server_extension_failures": True,
        },
        "ModelArtsApp": ma_config,
    }


@pytest.fixture
def jp_serverapp(jp_serverapp, jp_asyncio_loop):
    """pytest-jupyter never runs the server's post-start hook; a real server does."""
    jp_asyncio_loop.run_until_complete(jp_serverapp.extension_manager.start_all_extensions())
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

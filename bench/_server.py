"""A Jupyter server process for the benchmarks: temp state, a token, and a wait until it answers."""

import json
import os
import socket
import subprocess
import sys
import time

import httpx

TOKEN = "bench-token"


def launch(
    tmp: str,
    *,
    extension: bool = True,
    sections: dict | None = None,
    env: dict | None = None,
    **local,
) -> tuple[subprocess.Popen, int]:
    """Start `jupyter server` (with or without jupyter_modelarts, ``local`` its c.LocalBackend
    settings, ``sections`` more settings merged per class, ``env`` more environment); returns
    it and its port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = {
        "ServerApp": {
            "port": port,
            "ip": "127.0.0.1",
            "open_browser": False,
            "root_dir": tmp,
            "allow_root": True,
            "jpserver_extensions": {"jupyter_modelarts": extension},
        },
        "IdentityProvider": {"token": TOKEN},
        "ModelArtsApp": {"state_dir": os.path.join(tmp, f"state-{port}")},
        "LocalBackend": {"data_root": os.path.join(tmp, "data"), **local},
    }
    for name, settings in (sections or {}).items():
        config[name] = {**config.get(name, {}), **settings}
    path = os.path.join(tmp, f"config-{port}.json")
    with open(path, "w") as f:
        json.dump(config, f)
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": os.path.join(tmp, "cfg"),
        "JUPYTER_RUNTIME_DIR": os.path.join(tmp, "runtime"),
        **(env or {}),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", f"--config={path}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    return server, port


def api_client(port: int, timeout: float = 120) -> httpx.Client:
    """A client of the extension's REST API on ``port``, with the bench token."""
    return httpx.Client(
        base_url=f"http://127.0.0.1:{port}/jupyter-modelarts/",
        headers={"Authorization": f"token {TOKEN}"},
        timeout=timeout,
    )


def wait_until_answering(server: subprocess.Popen, client: httpx.Client, path: str) -> None:
    """Poll GET ``path`` every 10 ms until it answers 200; exit if the server dies or stalls."""
    deadline = time.monotonic() + 60
    while True:
        try:
            if client.get(path).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            raise SystemExit("the Jupyter server did not start")
        time.sleep(0.01)

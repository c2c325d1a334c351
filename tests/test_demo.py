"""The demo notebook, executed cell by cell as JupyterLab would: a session opened through a real
server's REST API, its kernel driven over the server's websocket. Any error or stderr output
fails the test. The server has none of scripts/demo.sh's layout: an empty object store, the
notebook in a folder of its own, auto-stop off (the default) or on.
"""

import json
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import nbformat
import pytest
import websocket

from conftest import TOKEN, ServerProcess

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK = REPO / "demo" / "ModelArts-demo.ipynb"
#: A cell may wait for a job or an image save; the whole run stays near a minute.
CELL_TIMEOUT_S = 60


class Kernel:
    """A kernel of a notebook session, over ``api/kernels/<id>/channels`` as Lab talks to it."""

    def __init__(self, server, path):
        answer = server.http.post(
            "api/sessions",
            json={"path": path, "type": "notebook", "name": "", "kernel": {"name": "python3"}},
        )
        assert answer.status_code == 201, answer.text
        self.server, self.session_id = server, answer.json()["id"]
        kernel_id = answer.json()["kernel"]["id"]
        url = server.root_url.replace("http://", "ws://") + f"api/kernels/{kernel_id}/channels"
        self.ws = websocket.create_connection(
            url, header=[f"Authorization: token {TOKEN}"], timeout=CELL_TIMEOUT_S
        )
        self.client_session = uuid.uuid4().hex

    def execute(self, code):
        """Run one cell; the outputs it made (nbformat's shapes) once the kernel is idle."""
        msg_id = uuid.uuid4().hex
        self.ws.send(
            json.dumps(
                {
                    "header": {
                        "msg_id": msg_id,
                        "msg_type": "execute_request",
                        "session": self.client_session,
                        "username": "test",
                        "date": "",
                        "version": "5.3",
                    },
                    "parent_header": {},
                    "metadata": {},
                    "content": {"code": code, "silent": False, "store_history": True},
                    "buffers": [],
                    "channel": "shell",
                }
            )
        )
        outputs, reply, idle = [], None, False
        deadline = time.monotonic() + CELL_TIMEOUT_S
        while reply is None or not idle:
            assert time.monotonic() < deadline, f"the cell ran over {CELL_TIMEOUT_S} s: {code}"
            msg = json.loads(self.ws.recv())
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if msg["channel"] == "shell" and kind == "execute_reply":
                reply = content
                continue
            idle = kind == "status" and content["execution_state"] == "idle"
            if kind == "stream":
                outputs.append({"output_type": "stream", **content})
            elif kind == "error":
                outputs.append({"output_type": "error", **content})
            elif kind in ("display_data", "execute_result", "update_display_data"):
                outputs.append({"output_type": kind, "data": content["data"]})
        return reply, outputs

    def close(self):
        self.ws.close()
        self.server.http.delete(f"api/sessions/{self.session_id}")


def text_of(outputs):
    """What the outputs say in plain text, in order."""
    parts = []
    for out in outputs:
        if out["output_type"] == "stream":
            parts.append(out["text"])
        elif "data" in out:
            parts.append(out["data"].get("text/plain", "") + "\n")
    return "".join(parts)


def run_notebook(server, path, stop_before=None):
    """Execute the notebook at ``path`` (server-relative) from the top, failing on any error or
    stderr output; stops before the first cell whose source starts with ``stop_before``."""
    nb = nbformat.read(server.root / path, as_version=4)
    kernel = Kernel(server, path)
    said = []
    try:
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            if stop_before and cell.source.startswith(stop_before):
                break
            reply, outputs = kernel.execute(cell.source)
            bad = [o for o in outputs if o["output_type"] == "error" or o.get("name") == "stderr"]
            assert reply["status"] == "ok" and not bad, (index, cell.source, reply, bad)
            said.append(text_of(outputs))
    finally:
        kernel.close()
    return said


def demo_server(tmp_path, name, **settings):
    """A server whose object store is empty, with the notebook in a folder of its own."""
    root = tmp_path / name
    (root / "tour").mkdir(parents=True)
    shutil.copy(NOTEBOOK, root / "tour" / NOTEBOOK.name)
    (root / "env").mkdir()
    (root / "env" / "tool").write_text("a small image\n")
    config = {
        "state_dir": str(root / "state"),
        "object_store_root": str(root / "objects"),
        "data_root": str(root / "data"),
        # A small image, on a limit any disk passes (the checks stay green).
        "image_paths": [str(root / "env")],
        "image_size_limit": 10**8,
        **settings,
    }
    server = ServerProcess(root, config, "server")
    server.root = root
    return server


@pytest.fixture
def demo_servers(tmp_path):
    started = []

    def start(name, **settings):
        started.append(demo_server(tmp_path, name, **settings))
        return started[-1]

    yield start
    for server in started:
        server.kill()


def test_the_committed_notebook_has_no_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)


def test_the_demo_runs_top_to_bottom_on_a_fresh_server(demo_servers):
    server = demo_servers("fresh")
    said = run_notebook(server, f"tour/{NOTEBOOK.name}")
    everything = "".join(said)
    assert "Auto-stop is off on this server" in everything
    assert "Mounted obs://modelarts-demo/tour/ at /data/modelarts-demo/" in everything
    assert "['line.csv']" in everything
    assert "Completed" in everything and '"a": 3.0, "b": 1.0' in everything
    assert "worker 1 of 2" in everything and "rank 0 sums its shard [0, 2, 4, 6, 8]: 20" in (
        everything
    )
    assert "Unmounted /data/modelarts-demo/" in everything

    jobs = server.call("GET", "jobs")["jobs"]
    assert sorted((j["nodes"], j["phase"]) for j in jobs) == [(1, "Completed"), (2, "Completed")]
    [image] = server.call("GET", "images")["images"]
    assert image["status"] == "ACTIVE" and image["name"] == "modelarts-demo"
    assert server.call("GET", "mounts")["mounts"] == []
    bucket = server.root / "objects" / "modelarts-demo" / "tour"
    assert (bucket / "datasets" / "line.csv").is_file()
    assert json.loads((bucket / "models" / "model.json").read_text())["a"] == 3.0
    # The notebook wrote only next to itself (the jobs' code folder), never in the repository.
    assert sorted(p.name for p in (server.root / "tour").iterdir()) == [
        "ModelArts-demo-files",
        NOTEBOOK.name,
    ]


def test_the_demo_renews_the_lease_where_auto_stop_is_on(demo_servers):
    server = demo_servers("auto-stop", auto_stop_enabled=True, auto_stop_duration=3600)
    said = run_notebook(server, f"tour/{NOTEBOOK.name}", stop_before="%%ma_train")
    assert "Lease renewed for 4 h" in "".join(said)
    assert server.call("GET", "lease")["remaining_s"] > 3 * 3600


def test_a_failed_image_save_fails_the_cell_that_waits_for_it(demo_servers):
    server = demo_servers("too-big", image_size_limit=1)
    kernel = Kernel(server, f"tour/{NOTEBOOK.name}")
    try:
        reply, _ = kernel.execute("%load_ext jupyter_modelarts")
        assert reply["status"] == "ok"
        reply, outputs = kernel.execute("%ma_image save big:1 --wait")
    finally:
        kernel.close()
    assert reply["status"] == "error"
    [error] = [o for o in outputs if o["output_type"] == "error"]
    assert error["ename"] == "ModelArtsError" and len(error["traceback"]) == 1
    assert error["evalue"].startswith("saving local/big:1 failed: The container size")
    shown = [o["data"]["text/plain"] for o in outputs if "data" in o]
    assert shown[0].startswith("Image local/big:1: INIT")
    assert shown[-1].startswith("Image local/big:1: CREATE_FAILED")


FAKE_SETUP = """\
echo ran >> setup.log
mkdir -p .venv/bin jupyter_modelarts/labextension
echo 'export PATH="$PWD/.venv/bin:$PATH"' > .venv/bin/activate
printf '#!/bin/sh\\necho "$@" > lab-args\\n' > .venv/bin/jupyter
chmod +x .venv/bin/jupyter
echo '{}' > jupyter_modelarts/labextension/package.json
"""


def test_demo_sh_sets_up_only_when_what_it_builds_from_changed(tmp_path):
    """scripts/demo.sh in a stand-in tree whose setup.sh notes each run and whose `jupyter`
    notes its arguments: a set-up once, then none until an input changes or .venv goes."""
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy(REPO / "scripts" / "demo.sh", repo / "scripts" / "demo.sh")
    (repo / "scripts" / "setup.sh").write_text(FAKE_SETUP)
    for name in ("pyproject.toml", "package.json", "yarn.lock"):
        (repo / name).write_text(f"{name}\n")
    (repo / "src").mkdir()
    (repo / "src" / "index.ts").write_text("export {};\n")

    def demo():
        done = subprocess.run(
            ["bash", "scripts/demo.sh", "--no-browser"],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert (repo / "lab-args").read_text().startswith("lab demo/ModelArts-demo.ipynb ")
        assert (repo / "lab-args").read_text().split()[-1] == "--no-browser"
        return (repo / "setup.log").read_text().count("ran")

    assert demo() == 1
    assert demo() == 1  # set up already: no set-up, no network
    (repo / "src" / "index.ts").write_text("export const changed = 1;\n")
    assert demo() == 2
    assert demo() == 2
    (repo / "yarn.lock").write_text("yarn.lock, upgraded\n")
    assert demo() == 3
    shutil.rmtree(repo / "jupyter_modelarts" / "labextension")
    assert demo() == 4
    shutil.rmtree(repo / ".venv")
    assert demo() == 5

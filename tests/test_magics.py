"""The magics in a real kernel, attached to a real server with the extension (local backend)."""

import json
import os
import textwrap
import time

import httpx
import pytest
from jupyter_client import KernelManager

from conftest import SECRETS, ServerProcess
from jupyter_modelarts import app
from jupyter_modelarts.kernel import client as kernel_client

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("magics")
    dirs = {name: tmp / name for name in ("state", "objects", "data", "notebooks")}
    for path in dirs.values():
        path.mkdir()
    (dirs["objects"] / "bucket" / "data").mkdir(parents=True)
    (dirs["notebooks"] / "helper.py").write_text("VALUE = 42\n")
    config = {
        "state_dir": str(dirs["state"]),
        "object_store_root": str(dirs["objects"]),
        "data_root": str(dirs["data"]),
        "job_stop_grace": 2.0,
        "metrics_interval": 0.2,
        "auto_stop_enabled": True,
    }
    proc = ServerProcess(tmp, config, "server")
    proc.tmp, proc.notebooks = tmp, dirs["notebooks"]
    yield proc
    proc.kill()


def start_kernel(cwd, **env):
    manager = KernelManager(kernel_name="python3")
    base = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_MODELARTS_")}
    manager.start_kernel(cwd=str(cwd), env={**base, **env})
    kc = manager.blocking_client()
    kc.start_channels()
    kc.wait_for_ready(timeout=30)
    return manager, kc


@pytest.fixture(scope="module")
def kernel(server):
    kc = server.start_kernel(cwd="notebooks")
    reply = run(kc, "%load_ext jupyter_modelarts")
    assert reply["error"] is None, reply
    yield kc
    server.stop_kernel(kc)


def run(kc, code, timeout=30):
    """Execute code; its stdout, stderr, error and rich outputs, once the kernel is idle."""
    msg_id = kc.execute(code)
    out = {"stdout": "", "stderr": "", "error": None, "data": []}
    deadline = time.monotonic() + timeout
    while True:
        msg = kc.get_iopub_msg(timeout=max(deadline - time.monotonic(), 0.1))
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            out[content["name"]] += content["text"]
        elif kind == "error":
            out["error"] = content
        elif kind in ("display_data", "execute_result"):
            out["data"].append(content["data"])
        elif kind == "status" and content["execution_state"] == "idle":
            return out


def value(kc, expression):
    """A Python value from the kernel, through JSON."""
    out = run(kc, f"import json as _j; print(_j.dumps({expression}))")
    assert out["error"] is None, out["error"]
    return json.loads(out["stdout"])


def test_variables_match_what_the_server_publishes():
    assert kernel_client.URL_VARIABLE == app.KERNEL_URL_VARIABLE
    assert kernel_client.KEY_VARIABLE == app.KERNEL_KEY_VARIABLE
    assert kernel_client.CAFILE_VARIABLE == app.KERNEL_CAFILE_VARIABLE
    assert kernel_client.KEY_HEADER == app.KERNEL_KEY_HEADER


def test_load_ext_without_a_server_fails_fast_with_one_line(tmp_path):
    manager, kc = start_kernel(tmp_path)
    try:
        out = run(kc, "%load_ext jupyter_modelarts")
        assert out["error"]["ename"] == "ModelArtsError"
        assert len(out["error"]["traceback"]) == 1
        assert "JUPYTER_MODELARTS_URL is not set" in out["error"]["evalue"]

        dead = f"http://127.0.0.1:{kernel_client_port()}/jupyter-modelarts"
        started = time.monotonic()
        out = run(kc, f"%env JUPYTER_MODELARTS_URL={dead}\n%load_ext jupyter_modelarts")
        assert time.monotonic() - started < 3
        assert "cannot reach the Jupyter server" in out["error"]["evalue"]
        assert len(out["error"]["traceback"]) == 1
    finally:
        kc.stop_channels()
        manager.shutdown_kernel(now=True)


def kernel_client_port():
    from conftest import free_port

    return free_port()


def test_kernel_started_by_the_server_finds_it(server):
    """POST /api/kernels: the kernel inherits the server's URL and key and can call it."""
    kc = server.start_kernel()
    try:
        url = value(kc, "__import__('os').environ['JUPYTER_MODELARTS_URL']")
        assert url == f"http://127.0.0.1:{server.port}/jupyter-modelarts"
        key = value(kc, "__import__('os').environ['JUPYTER_MODELARTS_KEY']")
        SECRETS.add(key)
        assert len(key) >= 40
        out = run(kc, "%load_ext jupyter_modelarts\n%ma_lease")
        assert out["error"] is None, out
        assert WIDGET_VIEW in out["data"][-1]
        # The kernel's own child processes get neither the key nor our path entry.
        env = value(kc, "{k: v for k, v in __import__('os').environ.items()}")
        assert "JUPYTER_MODELARTS_KEY" not in env
        assert "kernel-path" not in env.get("PYTHONPATH", "")
        # The key works on this extension's routes only, and a wrong one is refused.
        headers = {app.KERNEL_KEY_HEADER: key}
        assert httpx.get(f"{url}/instance", headers=headers).status_code == 200
        assert httpx.get(f"{server.root_url}api/contents", headers=headers).status_code == 403
        wrong = {app.KERNEL_KEY_HEADER: key[:-1] + ("x" if key[-1] != "x" else "y")}
        answer = httpx.patch(f"{url}/lease", headers=wrong, json={"duration_s": 7200})
        assert answer.status_code == 403
        assert key not in server.log()
    finally:
        server.stop_kernel(kc)


def test_train_cell_completes_with_its_output_in_the_logs(kernel):
    cell = "%%ma_train --follow --name cell-job\nimport helper\nprint('hello', helper.VALUE)\n"
    out = run(kernel, cell)
    assert out["error"] is None, out
    assert "hello 42" in out["stdout"]
    assert "] Completed" in out["stdout"]
    assert "Completed" in out["data"][-1]["text/plain"]
    job = value(kernel, "_.info()")
    assert job["phase"] == "Completed"
    assert job["spec"]["code_dir"] == os.path.realpath(job["spec"]["code_dir"])


def test_two_nodes_and_a_parameter_reach_the_script_and_the_widget(kernel):
    cell = textwrap.dedent("""\
        %%ma_train --nodes 2 --param lr=0.1 --name two-nodes
        import os, sys
        print("worker", os.environ["VC_TASK_INDEX"], "args", sys.argv[1:])
    """)
    out = run(kernel, cell)
    assert out["error"] is None, out
    assert WIDGET_VIEW in out["data"][0]  # the live widget, shown at once
    run(kernel, "job = _")
    assert value(kernel, "job.wait(30)") == "Completed"
    assert [t["name"] for t in value(kernel, "job.info()['tasks']")] == ["worker-0", "worker-1"]
    assert "worker 1 args ['--lr=0.1']" in value(kernel, "job.logs(task='worker-1')")
    # The widget's background thread fills its log tails without any cell running.
    tails = "[a.value for a in job.widget()._logs.children]"
    deadline = time.monotonic() + 10
    while "worker 1 args" not in (texts := value(kernel, tails))[1]:
        assert time.monotonic() < deadline, texts
        time.sleep(0.2)
    assert "worker 0 args ['--lr=0.1']" in texts[0]


def test_stop_terminates_a_running_job(kernel, server):
    out = run(
        kernel, "%%ma_train --name sleeper\nimport time\nprint('up', flush=True)\ntime.sleep(60)\n"
    )
    assert out["error"] is None, out
    job_id = value(kernel, "_.id")
    server.wait_for(f"jobs/{job_id}", lambda j: j["phase"] == "Running")
    out = run(kernel, f"%ma_train stop {job_id}")
    assert f"Job {job_id}: Terminat" in out["stdout"], out
    job = server.wait_for(f"jobs/{job_id}", lambda j: j["phase"] == "Terminated", timeout=15)
    assert job["phase"] == "Terminated"
    assert job_id in run(kernel, "%ma_train list")["stdout"]


def test_mount_and_unmount_round_trip(kernel, server):
    out = run(kernel, "%ma_mount obs://bucket/data/ /data/d1/")
    assert out["error"] is None, out
    [mount] = server.call("GET", "mounts")["mounts"]
    assert mount["status"] == "MOUNTED"
    # This backend can't use /data/ itself: the cell says where the mount really is, and that
    # is where code in the kernel reads and writes it.
    local = str(server.tmp / "data" / "d1")
    assert mount["local_path"] == local
    assert f"Mounted obs://bucket/data/ at /data/d1/ (on this machine: {local})" in out["stdout"]
    run(kernel, f"open({local + '/written.txt'!r}, 'w').write('through the mount')")
    written = server.tmp / "objects" / "bucket" / "data" / "written.txt"
    assert written.read_text() == "through the mount"
    listing = run(kernel, "%ma_mount list")["stdout"]
    assert "/data/d1/" in listing and f"(on this machine: {local})" in listing
    out = run(kernel, "%ma_unmount /data/d1/")
    assert "Unmounted /data/d1/" in out["stdout"], out
    assert server.call("GET", "mounts")["mounts"] == []


def test_lease_renew_changes_the_stop_time(kernel, server):
    before = server.call("GET", "lease")
    out = run(kernel, "%ma_lease renew 2h")
    assert out["error"] is None, out
    after = server.call("GET", "lease")
    assert after["stop_at"] != before["stop_at"]
    assert abs(after["stop_at"] - (time.time() + 7200) * 1000) < 10_000
    out = run(kernel, "%ma_lease")
    assert WIDGET_VIEW in out["data"][-1]
    assert value(kernel, "_.stop_at") == after["stop_at"]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("%%ma_train --nodes x\nprint(1)", "%%ma_train: error: argument --nodes: invalid int"),
        ("%%ma_train --param lr\nprint(1)", "argument --param: expected NAME=VALUE, got 'lr'"),
        ("%%ma_train --engine a --image b\nprint(1)", "not allowed with argument --engine"),
        ("%ma_train frobnicate", "%ma_train: error: argument COMMAND: invalid choice"),
        ("%ma_lease renew 2weeks", "cannot read '2weeks' as a duration"),
    ],
)
def test_bad_options_get_a_usage_message(kernel, line, expected):
    out = run(kernel, line)
    assert out["stderr"].startswith("UsageError: usage: "), out
    assert expected in out["stderr"]
    assert "Traceback" not in out["stderr"]


def test_server_errors_are_one_line_with_what_to_do(kernel):
    out = run(kernel, "%%ma_train --flavor no-such-flavor\nprint(1)")
    assert out["error"]["ename"] == "ModelArtsError"
    assert len(out["error"]["traceback"]) == 1
    assert "no-such-flavor" in out["error"]["traceback"][0]
    out = run(kernel, "%ma_lease renew 100h")
    assert len(out["error"]["traceback"]) == 1
    out = run(kernel, "%ma_train stop no-such-job")
    assert out["error"]["ename"] == "ModelArtsError"

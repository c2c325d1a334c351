"""The magics in a real kernel, attached to a real server with the extension (local backend)."""

import json
import os
import textwrap
import time

import httpx
import pytest
from jupyter_client import KernelManager

from conftest import SECRETS, ServerProcess, extension_sections
from jupyter_modelarts import app
from jupyter_modelarts.kernel import client as kernel_client

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
JOB_MIME = "application/vnd.jupyter-modelarts.job+json"
LEASE_MIME = "application/vnd.jupyter-modelarts.lease+json"
SLEEPER = "import time\nprint('up', flush=True)\ntime.sleep(60)\n"
FOLLOWERS = "__import__('jupyter_modelarts.kernel.widgets').kernel.widgets.FOLLOWERS"
WORKSPACES = [{"id": "0", "name": "default"}, {"id": "ws-a", "name": "team a"}]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("magics")
    dirs = {name: tmp / name for name in ("state", "objects", "data", "notebooks", "env")}
    for path in dirs.values():
        path.mkdir()
    (dirs["objects"] / "bucket" / "data").mkdir(parents=True)
    (dirs["notebooks"] / "helper.py").write_text("VALUE = 42\n")
    (dirs["env"] / "tool").write_text("a small image\n")
    config = {
        "state_dir": str(dirs["state"]),
        "object_store_root": str(dirs["objects"]),
        "data_root": str(dirs["data"]),
        "image_paths": [str(dirs["env"])],
        # Passes on any disk: the checks' report is all green until a test breaks one.
        "image_size_limit": 10**8,
        "job_stop_grace": 2.0,
        "metrics_interval": 0.2,
        "auto_stop_enabled": True,
    }
    local = {**extension_sections(config)["LocalBackend"], "workspaces": WORKSPACES}
    proc = ServerProcess(tmp, config, "server", config={"LocalBackend": local})
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


def run(kc, code, timeout=30, until=None, then=None):
    """Execute code; its stdout, stderr, error, rich outputs and display updates, once the
    kernel is idle. ``then()`` is called once ``until(out)`` first holds."""
    msg_id = kc.execute(code)
    out = {"stdout": "", "stderr": "", "error": None, "data": [], "updates": []}
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
        elif kind == "update_display_data":
            out["updates"].append(content["data"])
        elif kind == "status" and content["execution_state"] == "idle":
            return out
        if until is not None and until(out):
            until = None
            then()


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
        assert LEASE_MIME in out["data"][-1]
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


def comm(kc, kind, model_id, **data):
    """What a frontend sends a widget: a custom message, or the close of its comm."""
    if kind == "comm_msg":
        data = {"method": "custom", "content": data}
    kc.shell_channel.send(kc.session.msg(kind, {"comm_id": model_id, "data": data}))


def test_train_cell_completes_with_its_output_in_the_logs(kernel):
    cell = "%%ma_train --follow --name cell-job\nimport helper\nprint('hello', helper.VALUE)\n"
    out = run(kernel, cell)
    assert out["error"] is None, out
    assert "hello 42" in out["stdout"]
    assert "] Completed" in out["stdout"]
    # One display, above the log, then redrawn as the job ended: what a saved notebook keeps.
    [shown] = out["data"]
    job_id = shown[JOB_MIME]["job_id"]
    assert shown["text/plain"].startswith(f"Job cell-job ({job_id}): ")
    assert "<script" not in shown["text/html"]
    final = out["updates"][-1]
    assert final["text/plain"].startswith(f"Job cell-job ({job_id}): Completed, ")
    assert "hello 42" in final["text/html"] and ">Completed</span>" in final["text/html"]
    assert final[WIDGET_VIEW]["model_id"] == shown[WIDGET_VIEW]["model_id"]
    job = value(kernel, "_.info()")
    assert job["phase"] == "Completed"
    assert job["spec"]["code_dir"] == os.path.realpath(job["spec"]["code_dir"])


def test_two_nodes_and_a_parameter_reach_the_script(kernel):
    cell = textwrap.dedent("""\
        %%ma_train --nodes 2 --param lr=0.1 --name two-nodes --as two
        import os, sys
        print("worker", os.environ["VC_TASK_INDEX"], "args", sys.argv[1:])
    """)
    out = run(kernel, cell)
    assert out["error"] is None, out
    [shown] = out["data"]  # the handle, shown at once
    assert shown[JOB_MIME] == {"job_id": value(kernel, "two.id")}
    assert value(kernel, "two.wait(30) is two")
    assert value(kernel, "two.status()") == "Completed"
    assert [t["name"] for t in value(kernel, "two.info()['tasks']")] == ["worker-0", "worker-1"]
    assert "worker 1 args ['--lr=0.1']" in value(kernel, "two.logs(task='worker-1')")


def test_a_failing_job_fails_the_waiting_cell_in_one_line(kernel):
    cell = "%%ma_train --follow --name failing --as failing\nprint('boom')\nraise SystemExit(3)\n"
    out = run(kernel, cell)
    assert "boom" in out["stdout"] and "] Completed" not in out["stdout"]
    error = out["error"]
    assert error["ename"] == "JobFailed"
    [line] = error["traceback"]
    job_id = value(kernel, "failing.id")
    assert f"job {job_id} (failing) ended Failed" in line
    assert f"%ma_train logs {job_id}" in line
    # The failure is shown before the cell ends: the display, with the log's last lines.
    assert ">Failed</span>" in out["updates"][-1]["text/html"]
    assert "boom" in out["updates"][-1]["text/html"]
    # .wait() raises the same way, and the handle is bound whatever happened.
    out = run(kernel, "failing.wait()")
    assert out["error"]["ename"] == "JobFailed" and len(out["error"]["traceback"]) == 1


def test_ctrl_c_stops_following_and_the_job_goes_on(kernel, server):
    cell = f"%%ma_train --follow --name sleeper --as sleeper\n{SLEEPER}"

    def interrupt():
        server.http.post(f"api/kernels/{kernel.kernel_id}/interrupt")

    out = run(kernel, cell, until=lambda out: "up" in out["stdout"], then=interrupt)
    error = out["error"]
    assert error["ename"] == "FollowInterrupted", out
    job_id = value(kernel, "sleeper.id")
    [line] = error["traceback"]
    assert f"job {job_id} goes on (Running)" in line
    assert f"Stop it with: %ma_train stop {job_id}" in line
    assert server.call("GET", f"jobs/{job_id}")["phase"] == "Running"

    out = run(kernel, f"%ma_train stop {job_id}")
    assert f"Job {job_id}: Terminat" in out["stdout"], out
    server.wait_for(f"jobs/{job_id}", lambda j: j["phase"] == "Terminated", timeout=15)
    # What to do instead, never "retry".
    out = run(kernel, f"%ma_train stop {job_id}")
    [line] = out["error"]["traceback"]
    assert f"job {job_id} already ended (Terminated); nothing to stop. " in line
    assert f"Delete it with: %ma_train delete {job_id}" in line
    assert f"Deleted job {job_id}" in run(kernel, f"%ma_train delete {job_id}")["stdout"]


def test_one_follower_per_job_on_the_kernels_loop(kernel, server):
    cell = f"%%ma_train --name watched --as watched\n{SLEEPER}"
    first = run(kernel, cell)["data"][0][WIDGET_VIEW]["model_id"]
    job_id = value(kernel, "watched.id")
    second = run(kernel, f"%ma_train status {job_id}")["data"][0][WIDGET_VIEW]["model_id"]
    assert first != second
    follower = f"{FOLLOWERS}.get({job_id!r})"
    following = f"{follower} and [len({follower}.widgets), {follower}.task is not None]"
    assert value(kernel, following) == [2, False]  # no view shown yet
    # Two views report they rendered: one follower, which fills both widgets.
    comm(kernel, "comm_msg", first, event="rendered")
    comm(kernel, "comm_msg", second, event="rendered")
    assert value(kernel, following) == [2, True]
    lines = f"[w.lines for w in {FOLLOWERS}[{job_id!r}].widgets]"
    deadline = time.monotonic() + 10
    while value(kernel, lines) != [["up"], ["up"]]:
        assert time.monotonic() < deadline, value(kernel, lines)
        time.sleep(0.2)
    # It runs while one widget is left, and stops when the last one closes (in the kernel or
    # in the frontend).
    run(kernel, "watched._widget.close()")
    assert value(kernel, following) == [1, True]
    comm(kernel, "comm_close", second)
    assert value(kernel, following) is None
    server.call("POST", f"jobs/{job_id}/stop", {}, expect=202)


def test_the_follower_stops_when_the_job_ends(kernel):
    out = run(kernel, "%%ma_train --name brief --as brief\nprint('done')\n")
    comm(kernel, "comm_msg", out["data"][0][WIDGET_VIEW]["model_id"], event="rendered")
    job_id = value(kernel, "brief.id")
    follower = f"{FOLLOWERS}[{job_id!r}]"
    deadline = time.monotonic() + 20
    while value(kernel, f"{follower}.task is not None or not {follower}.final"):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert value(kernel, f"{follower}.stopped") == "the job ended (Completed)"
    assert value(kernel, "brief._widget.job['phase']") == "Completed"
    assert value(kernel, "brief._widget.lines") == ["done"]


def test_list_shows_the_newest_and_says_how_many_more(kernel, server):
    total = server.call("GET", "jobs")["total"]
    out = run(kernel, "%ma_train list --limit 1")
    assert out["error"] is None, out
    lines = out["stdout"].splitlines()
    assert lines[0].split() == ["ID", "NAME", "PHASE", "NODES", "CREATED"]
    assert len(lines) == 3 and lines[2].startswith(f"… and {total - 1} older")


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


def test_lease_renewals_are_answered_in_the_users_units(kernel, server):
    out = run(kernel, "%ma_lease")
    [shown] = out["data"]
    assert shown[LEASE_MIME] == {}
    assert shown["text/plain"].startswith("Auto-stop in ")
    countdown = shown[WIDGET_VIEW]["model_id"]
    out = run(kernel, "%ma_lease renew 2h")
    after = server.call("GET", "lease")
    assert abs(after["stop_at"] - (time.time() + 7200) * 1000) < 10_000
    stops = time.strftime("%H:%M", time.localtime(after["stop_at"] / 1000))
    assert out["stdout"].startswith("Lease renewed for 2 h: the instance stops at ")
    assert out["stdout"].endswith(f"{stops}\n")  # the date too when that is not today
    # The countdown shown above is redrawn, and its widget knows the new stop time.
    assert out["updates"][-1][WIDGET_VIEW]["model_id"] == countdown
    assert (
        value(kernel, "get_ipython().find_magic('ma_lease').__self__._lease_widget.stop_at")
        == after["stop_at"]
    )
    assert "Lease renewed for 90 min: " in run(kernel, "%ma_lease renew 90m")["stdout"]
    out = run(kernel, "%ma_lease renew 100h")
    too_long = "a lease lasts at most 72 h; 100 h is too long"
    assert out["stderr"] == f"UsageError: %ma_lease: {too_long} (see %ma_lease -h)\n"
    out = run(kernel, "%ma_lease renew 30m")
    assert "a lease lasts at least 60 min; 30 min is too short" in out["stderr"]


def test_lease_kind_is_shown_and_switched(kernel, server):
    out = run(kernel, "%ma_lease renew 2h --idle")
    assert out["stdout"] == "Lease renewed: the instance stops after 2 h idle\n", out
    assert server.call("GET", "lease")["type"] == "IDLE"
    [shown] = run(kernel, "%ma_lease")["data"]
    # The kernel asking may itself be seen busy.
    assert shown["text/plain"].startswith("Idle auto-stop after 2 h idle"), shown
    assert "if nothing happens" in shown["text/plain"] or "busy (kernel)" in shown["text/plain"]
    out = run(kernel, "%ma_lease renew 1h --timing")
    assert out["stdout"].startswith("Lease renewed for 1 h: the instance stops at "), out
    assert server.call("GET", "lease")["type"] == "TIMING"
    assert "(fixed time)" in run(kernel, "%ma_lease")["data"][-1]["text/plain"]
    assert "go with renew" in run(kernel, "%ma_lease --idle")["stderr"]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("%%ma_train --nodes x\nprint(1)", "%%ma_train: argument --nodes: invalid int value: 'x'"),
        ("%%ma_train --param lr\nprint(1)", "argument --param: expected NAME=VALUE, got 'lr'"),
        ("%%ma_train --engine a --image b\nprint(1)", "not allowed with argument --engine"),
        ("%%ma_train --as 2x\nprint(1)", "argument --as: '2x' is not a Python name"),
        ("%ma_train frobnicate", "%ma_train: argument COMMAND: invalid choice"),
        ("%ma_train list --limit 501", "expected a number from 1 to 500, got '501'"),
        ("%ma_lease renew 2weeks", "cannot read '2weeks' as a duration"),
    ],
)
def test_bad_options_get_one_line(kernel, line, expected):
    out = run(kernel, line)
    assert out["stderr"].startswith("UsageError: "), out
    assert expected in out["stderr"]
    assert out["stderr"].count("\n") == 1, out["stderr"]


def test_server_errors_are_one_line_with_what_to_do(kernel):
    out = run(kernel, "%%ma_train --flavor no-such-flavor\nprint(1)")
    assert out["error"]["ename"] == "ModelArtsError"
    assert len(out["error"]["traceback"]) == 1
    assert "no-such-flavor" in out["error"]["traceback"][0]
    out = run(kernel, "%ma_train stop no-such-job")
    assert out["error"]["ename"] == "ModelArtsError"


def shown_text(out):
    """The text/plain of a cell's one rich output."""
    assert out["error"] is None, out
    [shown] = out["data"]
    return shown["text/plain"], shown["text/html"]


def test_doctor_shows_each_check_and_load_ext_says_none_fails(kernel, server):
    report = server.call("GET", "doctor")
    assert report["checks"] and not [c for c in report["checks"] if c["status"] == "fail"]
    text, page = shown_text(run(kernel, "%ma_doctor"))
    lines = text.splitlines()
    passed = sum(c["status"] == "pass" for c in report["checks"])
    assert lines[0].startswith(f"All {passed} checks pass — local backend, workspace 0, checked")
    assert len(lines) == 1 + len(report["checks"])  # one a check; no fix when none fails
    for line, check in zip(lines[1:], report["checks"]):
        assert line.startswith(f"✓ {check['title']}") and line.endswith(f": {check['detail']}")
    assert page.count(">✓</span>") == passed and "<script" not in page
    # The value is the report, for code that wants it.
    assert value(kernel, "_.report") == server.call("GET", "doctor")
    assert value(kernel, "_.failing") == []
    out = run(kernel, "%reload_ext jupyter_modelarts")
    assert out["stdout"] == "jupyter_modelarts: local backend · %ma_help lists the magics\n"


def test_a_failing_check_shows_its_fix_and_load_ext_names_it(kernel, server):
    objects, aside = server.tmp / "objects", server.tmp / "objects-aside"
    objects.rename(aside)
    objects.write_text("not a folder")
    try:
        text, page = shown_text(run(kernel, "%ma_doctor --refresh"))
        total = len(server.call("GET", "doctor")["checks"])
        lines = text.splitlines()
        assert lines[0].startswith(f"1 of {total} checks fails: local:objects — local backend, ")
        mark = "✗ Object store (stands for OBS) [local:objects]"
        at = lines.index(f"{mark}: {objects} is not a folder")
        assert lines[at + 1] == (
            "    Fix: Create the folder, or point c.LocalBackend.object_store_root at a writable "
            "folder."
        )
        assert ">✗</span>" in page and "<b>Fix:</b> Create the folder" in page
        out = run(kernel, "%reload_ext jupyter_modelarts")
        assert out["error"] is None, out
        assert out["stdout"] == (
            "jupyter_modelarts: local backend · 1 check fails: local:objects — run %ma_doctor\n"
        )
    finally:
        objects.unlink()
        aside.rename(objects)
        checks = server.call("POST", "doctor")["checks"]
        assert [c["id"] for c in checks if c["status"] == "fail"] == []


def test_workspaces_are_listed_picked_and_carried(kernel, server):
    out = run(kernel, "%ma_workspace")
    assert out["error"] is None, out
    assert [line.split()[:2] for line in out["stdout"].splitlines()[1:3]] == [
        ["0", "*"],
        ["ws-a", "team"],
    ]
    [line] = run(kernel, "%ma_workspace use nope")["error"]["traceback"]
    assert "cannot use workspace 'nope' (field id): " in line
    assert line.endswith("; %ma_workspace lists the ones you may use")
    refused = run(kernel, "%ma_workspace use a/b")["stderr"]
    assert "argument ID: expected a workspace id (1-64 letters, digits, - or _), got 'a/b'" in (
        refused
    )

    # --workspace: for one submit, list or save; the current workspace stays.
    text, page = shown_text(run(kernel, "%%ma_train --workspace ws-a --name in-a --as in_a\n1\n"))
    job_id = value(kernel, "in_a.id")
    assert text.startswith(f"Job in-a ({job_id}) in workspace ws-a: ")
    assert "workspace ws-a</span>" in page
    assert value(kernel, "in_a._widget.job['workspace_id']") == "ws-a"
    assert server.call("GET", f"jobs/{job_id}")["spec"]["workspace_id"] == "ws-a"
    listed = run(kernel, "%ma_train list --workspace ws-a")["stdout"]
    assert listed.startswith("Jobs in workspace ws-a:\nID ") and job_id in listed
    assert job_id not in run(kernel, "%ma_train list")["stdout"]
    text, _ = shown_text(run(kernel, "%ma_image save tool:1 --workspace ws-a"))
    assert text.startswith("Image ") and " in workspace ws-a: " in text.splitlines()[0]
    [image] = server.call("GET", "images?workspace_id=ws-a")["images"]
    assert run(kernel, "%ma_image list")["stdout"] == "No images yet.\n"

    # The current workspace, as the server keeps it: lists and %load_ext's line follow it.
    try:
        out = run(kernel, "%ma_workspace use ws-a")
        assert out["stdout"] == (
            "Current workspace: ws-a (team a); jobs and images go there unless --workspace "
            "names another\n"
        )
        assert server.call("GET", "workspaces")["current"] == "ws-a"
        listed = run(kernel, "%ma_image list")["stdout"]
        assert listed.startswith("Images in workspace ws-a:\nID ") and image["id"] in listed
        assert job_id in run(kernel, "%ma_train list")["stdout"]
        assert "ws-a *" in run(kernel, "%ma_workspace list")["stdout"]
        server.wait_for("doctor", lambda r: r["workspace_id"] == "ws-a" and not r["running"])
        line = run(kernel, "%reload_ext jupyter_modelarts")["stdout"]
        assert line.startswith("jupyter_modelarts: local backend · workspace ws-a · ")
    finally:
        run(kernel, "%ma_workspace use 0")
    assert server.call("GET", "workspaces")["current"] == "0"

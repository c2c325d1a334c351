"""A real `jupyter server` process: kill -9 mid-job and restart; auto-stop shutting it down."""

import signal
import subprocess
import sys
import textwrap
import time

from conftest import ServerProcess, pid_alive


def full_log(server, job_id, task="worker-0"):
    offset, text = 0, ""
    while True:
        chunk = server.call("GET", f"jobs/{job_id}/logs?task={task}&offset={offset}")
        text += chunk["content"]
        if chunk["next_offset"] == offset:
            return text
        offset = chunk["next_offset"]


def test_kill_9_mid_job_then_restart_keeps_every_job_and_log(servers, ma_config):
    first = servers(ma_config, "first")

    def submit(name, code):
        return first.call("POST", "jobs", {"name": name, "code": code}, expect=201)

    finishes = submit(
        "finishes",
        textwrap.dedent("""
        import time
        for i in range(30): print("line", i, flush=True)
        time.sleep(2.0)
        for i in range(30, 60): print("line", i, flush=True)
    """),
    )
    fails = submit(
        "fails",
        "import sys, time\nprint('x', flush=True)\ntime.sleep(2.0)\n"
        "print('bye', flush=True)\nsys.exit(5)\n",
    )
    outlives = submit(
        "outlives",
        "import time\nprint('up', flush=True)\ntime.sleep(15)\nprint('done', flush=True)\n",
    )
    stopped = submit(
        "stopped", "import os, time\nprint('pid', os.getpid(), flush=True)\ntime.sleep(120)\n"
    )
    first.wait_for(f"jobs/{stopped['id']}/logs", lambda c: "pid" in c["content"])
    pid = int(first.call("GET", f"jobs/{stopped['id']}/logs")["content"].split()[1])
    first.kill(signal.SIGKILL)
    time.sleep(3)  # "finishes" and "fails" end while no server is watching

    second = servers(ma_config, "second")
    jobs = {j["name"]: j for j in second.call("GET", "jobs")["jobs"]}
    assert set(jobs) == {"finishes", "fails", "outlives", "stopped"}
    assert jobs["finishes"]["phase"] == "Completed" and jobs["finishes"]["exit_code"] == 0
    assert full_log(second, finishes["id"]) == "".join(f"line {i}\n" for i in range(60))
    assert jobs["fails"]["phase"] == "Failed" and jobs["fails"]["exit_code"] == 5
    assert full_log(second, fails["id"]) == "x\nbye\n"
    # Still running: followed again, its end seen without any call from us.
    assert jobs["outlives"]["phase"] == "Running"
    done = second.wait_for(f"jobs/{outlives['id']}", lambda j: j["phase"] == "Completed")
    assert done["exit_code"] == 0 and full_log(second, outlives["id"]) == "up\ndone\n"
    # A job adopted after the restart can still be stopped.
    assert pid_alive(pid)
    second.call("POST", f"jobs/{stopped['id']}/stop", expect=202)
    second.wait_for(f"jobs/{stopped['id']}", lambda j: j["phase"] == "Terminated")
    assert not pid_alive(pid)


def test_lease_stop_time_survives_restart_and_renew(servers, ma_config):
    config = {**ma_config, "auto_stop_enabled": True, "auto_stop_duration": 600.0}
    first = servers(config, "first")
    stop_at = first.call("GET", "lease")["stop_at"]
    first.kill(signal.SIGTERM)
    second = servers(config, "second")
    assert second.call("GET", "lease")["stop_at"] == stop_at
    renewed = second.call("PATCH", "lease", {"duration_s": 7200})
    assert renewed["stop_at"] > stop_at
    second.kill(signal.SIGKILL)
    third = servers(config, "third")
    assert third.call("GET", "lease")["stop_at"] == renewed["stop_at"]


def test_lease_expiry_shuts_the_server_down_cleanly(servers, ma_config):
    server = servers({**ma_config, "auto_stop_enabled": True, "auto_stop_duration": 3.0})
    lease = server.call("GET", "lease")
    assert 0 < lease["remaining_s"] <= 3
    assert server.proc.wait(timeout=30) == 0
    log = server.log()
    assert "auto-stop: the lease ran out" in log
    assert "Shutting down" in log


def test_a_second_server_on_the_same_state_dir_is_refused_clearly(servers, ma_config, tmp_path):
    first = servers(ma_config, "first")
    second = ServerProcess(tmp_path, ma_config, "second", expect_extension=False)
    try:
        assert "is in use by another Jupyter server" in second.log()
        for path in ("instance", "lease", "mounts", "jobs", "jobs/x/logs"):
            answer = second.client.get(path)
            assert answer.status_code == 503, (path, answer.text)
            error = answer.json()
            assert f"pid {first.proc.pid}" in error["message"]
            assert "c.ModelArtsApp.state_dir" in error["message"]
        assert second.client.get("openapi.json").status_code == 200
        first.call("GET", "instance")
    finally:
        second.kill()


def test_the_settings_command_prints_every_setting():
    """README: `jupyter modelarts --help-all` (the server's own --help-all lists no extension)."""
    done = subprocess.run(
        [sys.executable, "-m", "jupyter", "modelarts", "--help-all"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    for setting in (
        "--ModelArtsApp.state_dir",
        "--LocalBackend.data_root",
        "--ModelArtsBackend.region",
    ):
        assert setting in done.stdout, setting

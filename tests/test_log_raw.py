"""A task's log as raw bytes (GET /jobs/{id}/tasks/{task}/log, with Range) and each task's log
size (Backend.log_sizes), on the local backend and on the cloud one through the fake."""

import asyncio
import logging
import os
import socket
import time

import pytest

from jupyter_modelarts.models import NotFound

FINAL = ("Completed", "Failed", "Terminated", "Abnormal")
LINES = r"/training-jobs/[^/]+/logs/[^/]+$"
# Lines of one-, two- and three-byte characters: a range may cut any of them.
UTF8 = "printf 'ascii line\\n'; printf 'é two bytes\\n'; printf '中 three bytes\\n'"
# Waits for a file, then prints once more: a task that runs until the test says.
WAITS = "echo ready; while [ ! -e {go} ]; do sleep 0.02; done; echo done"


@pytest.fixture
def backend(jp_serverapp):
    return jp_serverapp.web_app.settings["modelarts_backend"]


async def finished(api, job_id):
    job = await api.wait_for(f"jobs/{job_id}", lambda j: j["phase"] in FINAL, 60)
    assert job["phase"] == "Completed", job
    return job


def raw(job_id, task="worker-0"):
    return f"jobs/{job_id}/tasks/{task}/log"


def log_file(ma_dirs, job_id, task="worker-0"):
    return ma_dirs["state"] / "jobs" / job_id / "tasks" / task / "log"


async def test_ranges_are_exact_bytes_and_bad_ones_are_refused(api, c, ma_dirs, backend):
    _, job = await api.call(
        "POST", "jobs", {"name": "utf8", "command": UTF8, "nodes": 2}, expect=201
    )
    await finished(api, job["id"])
    written = log_file(ma_dirs, job["id"]).read_bytes()
    size = len(written)
    assert await backend.log_sizes(job["id"]) == {"worker-0": size, "worker-1": size}

    whole = await c.text(raw(job["id"]), expect=200)
    assert whole.body == written
    assert whole.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert whole.headers["X-ModelArts-Log-Complete"] == "true"
    cut = written.index("中".encode()) + 1  # inside the three-byte character
    for asked, start, stop in (
        (f"bytes={cut}-", cut, size),
        (f"bytes=0-{cut - 1}", 0, cut),
        (f"bytes={cut}-{cut}", cut, cut + 1),
        (f"bytes=-{size - cut}", cut, size),
        (f"bytes=-{size + 100}", 0, size),  # more than there is: all of it
        (f"bytes=5-{size + 100}", 5, size),
        ("bytes=5-" + "9" * 5000, 5, size),
        ("Bytes=3-4", 3, 5),
    ):
        part = await c.text(raw(job["id"]), expect=206, Range=asked)
        assert part.body == written[start:stop], asked
        assert part.headers["Content-Range"] == f"bytes {start}-{stop - 1}/{size}", asked
        assert part.headers["Accept-Ranges"] == "bytes"
    # Several ranges: the whole log (a server may ignore them).
    assert (await c.text(raw(job["id"]), expect=200, Range="bytes=0-1,4-5")).body == written
    for asked in (
        f"bytes={size}-",
        f"bytes={size}-{size + 9}",
        "bytes=-0",
        "bytes=" + "9" * 3000 + "-",
    ):
        refused = await c.text(raw(job["id"]), expect=416, Range=asked)
        assert refused.headers["Content-Range"] == f"bytes */{size}", asked
    for asked in (
        "bytes=x",
        "bytes=5-3",
        "bytes=-",
        "bytes=1-2,x",
        "lines=0-5",
        "0-5",
        "bytes=-1-2",
    ):
        refused = await c.text(raw(job["id"]), expect=400, Range=asked)
        assert b'"field": "Range"' in refused.body, asked

    for path, field in (
        (raw("nope"), "job_id"),
        (raw(job["id"], "worker-2"), "task"),
    ):
        refused = await c.text(path, expect=404)
        assert f'"field": "{field}"'.encode() in refused.body, path
    with pytest.raises(NotFound) as missing:
        await backend.log_sizes("nope")
    assert missing.value.field == "job_id"


async def test_a_running_log_is_incomplete_until_its_task_ends(api, c, tmp_path, backend):
    go = tmp_path / "go"
    _, job = await api.call(
        "POST", "jobs", {"name": "waits", "command": WAITS.format(go=go)}, expect=201
    )
    path = raw(job["id"])
    await api.wait_for(f"jobs/{job['id']}/logs", lambda chunk: chunk["size"] == len("ready\n"))
    assert await backend.log_sizes(job["id"]) == {"worker-0": len("ready\n")}
    running = await c.text(path, expect=200)
    assert running.body == b"ready\n" and running.headers["X-ModelArts-Log-Complete"] == "false"
    # Following: nothing past the end yet, and the 416 says the log may still grow.
    refused = await c.text(path, expect=416, Range="bytes=6-")
    assert refused.headers["X-ModelArts-Log-Complete"] == "false"

    go.touch()
    await finished(api, job["id"])
    assert await backend.log_sizes(job["id"]) == {"worker-0": len("ready\ndone\n")}
    rest = await c.text(path, expect=206, Range="bytes=6-")
    assert rest.body == b"done\n" and rest.headers["X-ModelArts-Log-Complete"] == "true"
    refused = await c.text(path, expect=416, Range="bytes=11-")
    assert refused.headers["X-ModelArts-Log-Complete"] == "true"


async def until(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def open_descriptors(path):
    found = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            found += os.readlink(f"/proc/self/fd/{fd}") == str(path)
        except OSError:
            continue  # closed meanwhile
    return found


async def test_a_log_of_many_pieces_streams_whole_and_a_client_may_leave(
    api, c, ma_dirs, jp_http_port, jp_base_url, jp_auth_header, caplog
):
    # 16 MiB: more than one 1 MiB piece, and more than the socket buffers hold.
    _, job = await api.call(
        "POST",
        "jobs",
        {"name": "big", "command": "yes 0123456789abcdefghijklmnopqrstu | head -c 16777216"},
        expect=201,
    )
    await finished(api, job["id"])
    written = log_file(ma_dirs, job["id"])
    data = written.read_bytes()
    assert (await c.text(raw(job["id"]), expect=200)).body == data
    across = await c.text(raw(job["id"]), expect=206, Range="bytes=1048000-3146000")
    assert across.body == data[1048000:3146001]

    # A client that reads a little and hangs up: the server stops quietly, the file is closed.
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", jp_http_port))
    reader, writer = await asyncio.open_connection(sock=sock)
    auth = "".join(f"{k}: {v}\r\n" for k, v in jp_auth_header.items())
    writer.write(f"GET {jp_base_url}jupyter-modelarts/{raw(job['id'])} HTTP/1.1\r\n".encode())
    writer.write(f"Host: 127.0.0.1\r\n{auth}\r\n".encode())
    assert (await reader.readexactly(4096)).startswith(b"HTTP/1.1 200 OK")
    await until(lambda: open_descriptors(written) == 1)  # being sent
    writer.close()
    await until(lambda: open_descriptors(written) == 0)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert (await c.text(raw(job["id"]), expect=206, Range="bytes=-4")).body == data[-4:]


class TestCloud:
    @pytest.fixture
    def jp_server_config(self, cloud_jp_server_config):
        return cloud_jp_server_config

    async def test_the_log_is_the_mirrors_and_outlives_its_eviction(self, api, c, fake, backend):
        code = "for i in range(2000):\n    print('line', i, 'é中' * (i % 3))\n"
        job_id = fake.create_job("ended", code)["metadata"]["id"]
        await api.wait_for(f"jobs/{job_id}", lambda j: j["phase"] in FINAL, 60)
        written = fake.training.jobs[job_id].log_path("worker-0").read_bytes()
        assert await backend.log_sizes(job_id) == {"worker-0": len(written)}
        whole = await c.text(raw(job_id), expect=200)
        assert whole.body == written and whole.headers["X-ModelArts-Log-Complete"] == "true"
        end = await c.text(raw(job_id), expect=206, Range="bytes=-100")
        assert end.body == written[-100:]
        assert fake.log_bytes_served(job_id) == len(written)  # fetched once, for all of these
        refused = await c.text(raw(job_id, "worker-1"), expect=404)
        assert b'"field": "task"' in refused.body

        log = await backend.open_log(job_id, "worker-0")
        try:
            await backend.training.logs.forget(job_id)  # the mirror's file is deleted
            assert log.complete and log.read(0, log.size) == written
        finally:
            log.close()

    async def test_log_sizes_ask_upstream_once_per_interval_for_all_callers(
        self, api, c, fake, backend, tmp_path
    ):
        go = tmp_path / "go"
        code = (
            "import os, time\n"
            "print('up', flush=True)\n"
            f"while not os.path.exists({str(go)!r}):\n"
            "    time.sleep(0.02)\n"
            "print('more', flush=True)\n"
        )
        job_id = fake.create_job("running", code)["metadata"]["id"]
        upstream = fake.training.jobs[job_id].log_path("worker-0")
        await until(lambda: upstream.exists() and upstream.read_bytes() == b"up\n")
        backend.training.logs.interval_s = 3600.0  # no second ask within the test
        before = fake.count("GET", LINES)
        sizes = await asyncio.gather(*(backend.log_sizes(job_id) for _ in range(5)))
        assert sizes == [{"worker-0": len("up\n")}] * 5
        assert fake.count("GET", LINES) == before + 1  # one page, for the five callers
        running = await c.text(raw(job_id), expect=200)
        assert running.body == b"up\n" and running.headers["X-ModelArts-Log-Complete"] == "false"

        go.touch()
        await until(lambda: fake.job_view(job_id)["status"]["phase"] in FINAL)
        backend.training.logs.interval_s = 0.0  # the next ask is due
        assert await backend.log_sizes(job_id) == {"worker-0": len("up\nmore\n")}
        rest = await c.text(raw(job_id), expect=206, Range="bytes=3-")
        assert rest.body == b"more\n"

"""The IDLE lease: a real server stops once idle for the period, and busy kernels, jobs and the
browser's activity each keep it up; the kind survives a kill -9; the cloud maps IDLE both ways."""

import signal
import time

import pytest

from conftest import extension_sections

PERIOD_S = 2.0


def idle_server(servers, ma_config, name="server", **local):
    """A server whose lease is IDLE with a period of PERIOD_S (``local`` overrides)."""
    sections = extension_sections(ma_config)
    sections["LocalBackend"].update(
        {
            "auto_stop_enabled": True,
            "auto_stop_duration": PERIOD_S,
            "auto_stop_type": "IDLE",
            **local,
        }
    )
    return servers(ma_config, name, config=sections)


def alive_while(server, seconds, poke=None):
    """Check the server stays up for ``seconds`` (``poke`` called about every second);
    → the leases seen meanwhile."""
    seen = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert server.proc.poll() is None, server.log()
        if poke:
            poke()
        seen.append(server.call("GET", "lease"))
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
    assert server.proc.poll() is None, server.log()
    return seen


def test_an_idle_server_stops_by_itself_and_says_why(servers, ma_config):
    server = idle_server(servers, ma_config)
    lease = server.call("GET", "lease")
    assert lease["type"] == "IDLE" and lease["busy"] == [] and lease["duration_s"] == PERIOD_S
    assert lease["stop_at"] == lease["idle_since"] + PERIOD_S * 1000
    assert server.proc.wait(timeout=20) == 0
    assert time.time() * 1000 >= lease["stop_at"]
    log = server.log()
    assert f"auto-stop: idle for {PERIOD_S:g} s, since" in log, log
    assert "Shutting down" in log


def test_a_busy_kernel_a_job_and_browser_activity_each_keep_it_up(servers, ma_config):
    server = idle_server(servers, ma_config)
    kc = server.start_kernel()
    try:
        # A kernel that runs longer than the period (its messages stop once it sleeps).
        kc.execute("import time; time.sleep(3.5)")
        leases = alive_while(server, 3.0)
    finally:
        kc.stop_channels()  # left open, its threads hold up the next test's set-up
    assert ["kernel"] in [lease["busy"] for lease in leases], leases
    assert leases[-1]["stop_at"] is None and leases[-1]["idle_since"] is None
    # A job running longer than the period.
    job = server.call(
        "POST", "jobs", {"name": "sleeps", "code": "import time; time.sleep(3.5)"}, 201
    )
    leases = alive_while(server, 3.0)
    assert ["job"] in [lease["busy"] for lease in leases], leases
    server.wait_for(f"jobs/{job['id']}", lambda j: j["phase"] == "Completed")
    # The browser: activity about every second, past the period.
    leases = alive_while(server, 3.0, poke=lambda: server.call("POST", "activity", expect=204))
    assert leases[-1]["busy"] == [] and leases[-1]["stop_at"] > time.time() * 1000
    # Then nothing: it stops.
    assert server.proc.wait(timeout=20) == 0
    assert "auto-stop: idle for" in server.log()


def test_the_kind_survives_kill_9_and_renewals_switch_it(servers, ma_config):
    # TIMING configured; the kind the API chose wins over it until the setting changes.
    first = idle_server(
        servers, ma_config, "first", auto_stop_type="TIMING", auto_stop_duration=600
    )
    assert first.call("GET", "lease")["type"] == "TIMING"
    before = time.time() * 1000
    idle = first.call("PATCH", "lease", {"duration_s": 7200, "type": "IDLE"})
    assert idle["type"] == "IDLE" and idle["duration_s"] == 7200 and idle["busy"] == []
    assert idle["idle_since"] >= before and idle["stop_at"] == idle["idle_since"] + 7200_000
    for bad in ("idle", "SOMETIMES", 1, ["IDLE"]):
        error = first.call("PATCH", "lease", {"duration_s": 3600, "type": bad}, expect=400)
        assert error["field"] == "type", error
    kept = first.call("PATCH", "lease", {"duration_s": 3600})  # no type: the kind is kept
    assert kept["type"] == "IDLE" and kept["duration_s"] == 3600
    first.kill(signal.SIGKILL)

    second = idle_server(
        servers, ma_config, "second", auto_stop_type="TIMING", auto_stop_duration=600
    )
    lease = second.call("GET", "lease")
    assert lease["type"] == "IDLE" and lease["duration_s"] == 3600
    assert lease["idle_since"] >= kept["idle_since"]
    timing = second.call("PATCH", "lease", {"duration_s": 3600, "type": "TIMING"})
    assert timing["type"] == "TIMING" and timing["busy"] is None and timing["idle_since"] is None
    assert timing["stop_at"] == timing["renewed_at"] + 3600_000


class TestCloud:
    @pytest.fixture
    def jp_server_config(self, cloud_jp_server_config):
        return cloud_jp_server_config

    async def test_idle_renews_and_shows_with_its_stop_unknown(self, c, fake):
        idle = await c.call("PATCH", "lease", {"duration_s": 7200, "type": "IDLE"}, expect=200)
        assert fake.notebooks.notebook["lease"]["type"] == "IDLE"
        assert fake.notebooks.notebook["lease"]["duration"] == 7200_000
        assert idle["type"] == "IDLE" and idle["duration_s"] == 7200
        # ModelArts measures idleness itself: when it would stop is unknown.
        unknown = ("stop_at", "remaining_s", "idle_since", "busy")
        assert [idle[k] for k in unknown] == [None] * 4, idle
        assert await c.call("GET", "lease", expect=200) == idle
        kept = await c.call("PATCH", "lease", {"duration_s": 3600}, expect=200)
        assert kept["type"] == "IDLE" and fake.notebooks.notebook["lease"]["type"] == "IDLE"
        timing = await c.call("PATCH", "lease", {"duration_s": 3600, "type": "TIMING"}, expect=200)
        assert timing["type"] == "TIMING" and timing["stop_at"] > time.time() * 1000
        await c.call("POST", "activity", expect=204)  # ModelArts decides: nothing to do


def test_an_idle_lease_is_pushed_again_only_when_its_stop_moves_over_a_minute():
    from jupyter_modelarts.events import _lease_moved

    idle = {"enabled": True, "type": "IDLE", "duration_s": 3600, "renewed_at": 0, "busy": []}
    told = {**idle, "idle_since": 1_000_000, "stop_at": 4_600_000}
    # Activity now and then: the stop moves by under a minute, not worth telling everybody.
    assert not _lease_moved(told, {**told, "idle_since": 1_030_000, "stop_at": 4_630_000})
    assert _lease_moved(told, {**told, "idle_since": 1_061_000, "stop_at": 4_661_000})
    # Idle to busy and back, and a change of kind, are always told.
    busy = {**idle, "busy": ["kernel"], "idle_since": None, "stop_at": None}
    assert _lease_moved(told, busy) and _lease_moved(busy, told)
    timing = {**told, "type": "TIMING", "busy": None, "idle_since": None}
    assert _lease_moved(told, timing)
    # A fixed-time lease is told of any change, as before.
    assert _lease_moved(timing, {**timing, "stop_at": 4_600_001})

"""The local lease through the REST API (expiry against a real server is in test_server_process)."""

import time

import pytest


@pytest.fixture
def ma_config(ma_config):
    return {**ma_config, "auto_stop_enabled": True, "auto_stop_duration": 600.0}


async def test_lease_renew_counts_from_now(api):
    lease = await api.get("lease")
    assert lease["enabled"] is True and lease["type"] == "TIMING"
    assert 590 < lease["remaining_s"] <= 600
    before = time.time() * 1000
    _, renewed = await api.call("PATCH", "lease", {"duration_s": 7200}, expect=200)
    assert before + 7200_000 <= renewed["stop_at"] <= time.time() * 1000 + 7200_000
    assert (await api.get("lease"))["stop_at"] == renewed["stop_at"]
    assert (await api.get("instance"))["lease"]["stop_at"] == renewed["stop_at"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"duration_s": 3599},
        {"duration_s": 72 * 3600 + 1},
        {"duration_s": "2h"},
        {"duration_s": True},
    ],
)
async def test_renew_outside_1h_to_72h_is_400_naming_duration(api, body):
    stop_at = (await api.get("lease"))["stop_at"]
    code, error = await api.call("PATCH", "lease", body)
    assert code == 400 and error["field"] == "duration_s", error
    assert (await api.get("lease"))["stop_at"] == stop_at


async def test_bad_json_is_400(api):
    response = await api.fetch(
        "jupyter-modelarts", "lease", method="PATCH", body="{not json", raise_error=False
    )
    assert response.code == 400

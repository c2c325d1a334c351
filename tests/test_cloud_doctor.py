"""The cloud backend's checks (GET/POST /doctor) against the fake cloud over real HTTP: each
check passes when the work will succeed and fails, saying why and the fix, when it will not.

Every call goes through ``test_openapi.Contract``; no_secret_leaks scans every report.
"""

import pytest

from conftest import cloud_server_config, fresh_backend

ACTIONS = (
    "modelarts:notebook:get",
    "modelarts:notebook:updateStopPolicy",
    "modelarts:notebook:listMountedStorages",
    "modelarts:notebook:mountStorage",
    "modelarts:notebook:umountStorage",
    "modelarts:image:list",
    "modelarts:image:create",
    "modelarts:trainJob:create",
    "modelarts:trainJob:get",
    "modelarts:trainJob:list",
    "modelarts:trainJob:delete",
)


@pytest.fixture
def jp_server_config(ma_config, cloud_config, fake, fake_keys):
    fake.buckets["inputs"] = {"train/a.csv": b"1"}
    cloud_config = {**cloud_config, "check_obs_uris": ["obs://inputs/train/"]}
    return cloud_server_config(ma_config, cloud_config)


async def checks(c):
    """The checks of a run made now, by id."""
    report = await c.call("POST", "doctor", expect=200)
    assert report["backend"] == "modelarts" and not report["running"], report
    return {check["id"]: check for check in report["checks"]}


async def test_everything_in_place_passes_and_the_probe_object_is_removed(c, fake):
    report = await c.call("POST", "doctor", expect=200)
    ids = [check["id"] for check in report["checks"]]
    assert ids == [
        "credentials",
        "instance",
        "agency",
        "obs:bucket",
        "obs:inputs",
        *(f"action:{a}" for a in ACTIONS),
        "workspace",
        "quota:training",
    ]
    failing = [check for check in report["checks"] if check["status"] != "pass"]
    assert not failing, failing
    by_id = {check["id"]: check for check in report["checks"]}
    credentials = by_id["credentials"]["detail"]
    assert "HUAWEICLOUD_SDK_AK" in credentials and fake.project_id in credentials
    assert fake.region in credentials and fake.ak not in credentials
    assert "modelarts_agency_alice_" in by_id["agency"]["detail"]
    assert "list ok, write ok, read ok, delete ok" in by_id["obs:bucket"]["detail"]
    assert fake.buckets["bucket"] == {}  # the probes are gone
    assert fake.buckets["inputs"] == {"train/a.csv": b"1"}
    assert "check_obs_uris" in by_id["obs:inputs"]["detail"]
    assert "no limit" in by_id["quota:training"]["detail"]
    # GET answers the last report without running again.
    before = fake.count("POST", r"/auth$")
    assert (await c.call("GET", "doctor", expect=200))["checks"] == report["checks"]
    assert fake.count("POST", r"/auth$") == before


async def test_an_instance_that_cannot_be_read_fails_and_the_user_is_found_by_key(c, fake):
    fake.deny("modelarts:notebook:get")
    found = await checks(c)
    instance = found["instance"]
    assert instance["status"] == "fail" and instance["iam_action"] == "modelarts:notebook:get"
    assert "modelarts:notebook:get" in instance["fix"], instance
    # Who the user is comes from IAM (the access key's owner) when the notebook cannot tell.
    assert found["agency"]["status"] == "pass", found["agency"]
    assert fake.count("GET", r"^/v3.0/OS-CREDENTIAL/credentials/") >= 1


async def test_a_missing_agency_fails_with_the_console_fix_and_submit_says_agency(c, fake):
    fake.permissions.remove_agency()
    agency = (await checks(c))["agency"]
    assert agency["status"] == "fail" and agency["agency"] is True, agency
    assert "全局配置" in agency["fix"] and "添加授权" in agency["fix"]
    assert "alice" in agency["fix"] and fake.region in agency["fix"]
    error = await c.call("POST", "jobs", {"name": "no-agency", "code": "print(1)"}, expect=403)
    assert error["reason"] == "PermissionDenied", error
    assert error["iam_action"] == "modelarts:trainJob:create" and error["agency"] is True
    assert "全局配置" in error["message"]


async def test_an_agency_for_all_users_passes(c, fake):
    fake.permissions.agency_for_all_users()
    agency = (await checks(c))["agency"]
    assert agency["status"] == "pass" and "all users" in agency["detail"], agency


async def test_authorizations_only_an_administrator_may_list_skip_the_agency_check(c, fake):
    fake.deny("modelarts:authorization:list")
    agency = (await checks(c))["agency"]
    assert agency["status"] == "skipped" and "administrator" in agency["detail"], agency
    assert "全局配置" in agency["fix"]


async def test_a_denied_action_fails_and_explains_strict_mode(c, fake):
    fake.deny("modelarts:trainJob:create")
    found = await checks(c)
    create = found["action:modelarts:trainJob:create"]
    assert create["status"] == "fail" and create["iam_action"] == "modelarts:trainJob:create"
    assert "严格授权模式" in create["detail"] and "modelarts:trainJob:create" in create["fix"]
    assert found["action:modelarts:trainJob:list"]["status"] == "pass"
    error = await c.call("POST", "jobs", {"name": "denied", "code": "print(1)"}, expect=403)
    assert error["iam_action"] == "modelarts:trainJob:create" and error["agency"] is False


async def test_without_the_validation_api_reads_show_actions_and_writes_are_skipped(c, fake):
    fake.deny("modelarts:authorization:validate")
    fake.deny("modelarts:trainJob:list")
    found = await checks(c)
    listing = found["action:modelarts:trainJob:list"]
    assert listing["status"] == "fail" and "refused" in listing["detail"], listing
    assert found["action:modelarts:notebook:listMountedStorages"]["status"] == "pass"
    create = found["action:modelarts:trainJob:create"]
    assert create["status"] == "skipped" and "first time" in create["detail"], create


async def test_a_bucket_without_put_rights_fails_naming_the_obs_action(c, fake):
    fake.deny_obs("bucket", "put")
    bucket = (await checks(c))["obs:bucket"]
    assert bucket["status"] == "fail" and bucket["iam_action"] == "obs:object:PutObject"
    assert "write denied" in bucket["detail"] and "list ok" in bucket["detail"], bucket
    assert "obs:object:PutObject" in bucket["fix"]


async def test_a_bucket_without_delete_rights_says_the_probe_is_left(c, fake):
    fake.deny_obs("bucket", "delete")
    bucket = (await checks(c))["obs:bucket"]
    assert bucket["status"] == "fail" and bucket["iam_action"] == "obs:object:DeleteObject"
    assert "left behind" in bucket["detail"], bucket
    assert len(fake.buckets["bucket"]) == 1
    # Once deletes are allowed, the next run removes the probe it left (as after a kill -9).
    fake.obs.denied_ops.pop("bucket")
    report = await c.call("POST", "doctor", expect=200)
    bucket = next(check for check in report["checks"] if check["id"] == "obs:bucket")
    assert bucket["status"] == "pass" and "1 left by an earlier check" in bucket["detail"]
    assert fake.buckets["bucket"] == {}


async def test_every_mounted_bucket_is_checked(c, fake):
    fake.buckets["data"] = {}
    fake.deny_obs("data", "list")
    mount = await c.call(
        "POST", "mounts", {"uri": "obs://data/in/", "mount_path": "/data/in/"}, expect=202
    )
    await c.poll(f"mounts/{mount['id']}", lambda code, m: m["status"] == "MOUNTED")
    found = await checks(c)
    assert found["obs:bucket"]["status"] == "pass"
    data = found["obs:data"]
    assert data["status"] == "fail" and data["iam_action"] == "obs:bucket:ListBucket", data
    assert "/data/in/" in data["detail"]


async def test_a_workspace_no_longer_granted_fails(c, fake):
    team = fake.permissions.add_workspace("team")
    await c.call("PUT", "workspaces/current", {"id": team}, expect=200)
    assert (await checks(c))["workspace"]["status"] == "pass"
    fake.permissions.revoke(team)
    report = await c.call("POST", "doctor", expect=200)
    assert report["workspace_id"] == team
    workspace = {check["id"]: check for check in report["checks"]}["workspace"]
    assert workspace["status"] == "fail" and "not granted" in workspace["detail"], workspace


async def test_without_workspaces_for_the_account_the_default_one_passes(c, fake):
    fake.permissions.workspaces_enabled = False
    workspace = (await checks(c))["workspace"]
    assert workspace["status"] == "pass" and "not enabled" in workspace["detail"], workspace


async def test_an_exhausted_training_quota_fails_and_one_with_room_passes(c, fake):
    fake.permissions.set_training_quota(2, used=2)
    quota = (await checks(c))["quota:training"]
    assert quota["status"] == "fail" and "all 2" in quota["detail"], quota
    fake.permissions.set_training_quota(3, used=2)
    quota = (await checks(c))["quota:training"]
    assert quota["status"] == "pass" and "1 of 3" in quota["detail"], quota


async def test_credentials_not_accepted_fail_naming_the_source(c, fake, jp_serverapp, monkeypatch):
    monkeypatch.setenv("HUAWEICLOUD_SDK_SK", "not-the-secret-key-0123456789")
    backend = fresh_backend(jp_serverapp)
    try:
        found = {check.id: check for check in await backend.run_checks("0")}
    finally:
        await backend.close()
    credentials = found["credentials"]
    assert credentials.status == "fail" and "not accept" in credentials.detail
    assert "HUAWEICLOUD_SDK_AK" in credentials.detail


async def test_a_slow_upstream_fails_its_check_only(c, fake, jp_serverapp, monkeypatch):
    from jupyter_modelarts.backends.modelarts import doctor

    monkeypatch.setattr(doctor, "CHECK_TIMEOUT_S", 0.5)
    fake.set_faults(rate=1.0, kinds=("latency",), latency_s=2.0, paths=r"/authorizations$")
    backend = fresh_backend(jp_serverapp)
    backend.instance_id = ""
    try:
        found = {check.id: check for check in await backend.run_checks("0")}
    finally:
        await backend.close()
    assert found["agency"].status == "fail" and "no answer" in found["agency"].detail
    assert found["instance"].status == "skipped"  # no instance: nothing to reach
    assert found["action:modelarts:image:create"].status == "skipped"
    assert found["workspace"].status == "pass" and found["credentials"].status == "pass"

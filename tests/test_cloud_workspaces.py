"""Workspaces on the cloud backend against the fake cloud over real HTTP: the ones the user may
use, the current one, and jobs and images kept to the workspace they were made in.

Every call goes through ``test_openapi.Contract``.
"""

import pytest

from conftest import cloud_server_config


@pytest.fixture
def jp_server_config(ma_config, cloud_config, fake, monkeypatch):
    monkeypatch.setenv("HUAWEICLOUD_SDK_AK", fake.ak)
    monkeypatch.setenv("HUAWEICLOUD_SDK_SK", fake.sk)
    return cloud_server_config(ma_config, cloud_config)


async def job_names(c, **query):
    page = await c.call("GET", "jobs", expect=200, **query)
    return [(j["name"], j["workspace_id"]) for j in page["jobs"]]


async def test_the_accessible_workspaces_are_listed_default_first(c, fake):
    team = fake.permissions.add_workspace("team")
    fake.permissions.add_workspace("hidden", granted=False)
    listed = await c.call("GET", "workspaces", expect=200)
    assert [(w["id"], w["name"]) for w in listed["workspaces"]] == [
        ("0", "default"),
        (team, "team"),
    ]
    assert listed["current"] == "0"


async def test_without_workspaces_for_the_account_only_the_default_one_is_there(c, fake):
    fake.permissions.workspaces_enabled = False
    listed = await c.call("GET", "workspaces", expect=200)
    assert [w["id"] for w in listed["workspaces"]] == ["0"]
    error = await c.call("PUT", "workspaces/current", {"id": "team"}, expect=404)
    assert error["field"] == "id"


async def test_a_job_submitted_in_a_workspace_is_listed_only_there(c, fake):
    team = fake.permissions.add_workspace("team")
    spec = {"name": "in-team", "code": "print(1)", "workspace_id": team}
    job = await c.call("POST", "jobs", spec, expect=201)
    assert job["spec"]["workspace_id"] == team
    assert fake.job_view(job["id"])["metadata"]["workspace_id"] == team
    assert await job_names(c, workspace_id=team) == [("in-team", team)]
    assert await job_names(c) == []  # the current workspace is the default one
    # Picked as current, it is where a job naming no workspace goes and what lists show.
    await c.call("PUT", "workspaces/current", {"id": team}, expect=200)
    job = await c.call("POST", "jobs", {"name": "current", "code": "print(2)"}, expect=201)
    assert fake.job_view(job["id"])["metadata"]["workspace_id"] == team
    assert sorted(await job_names(c)) == [("current", team), ("in-team", team)]
    assert await job_names(c, workspace_id="0") == []


async def test_jobs_made_elsewhere_show_in_their_own_workspace(c, fake):
    team = fake.permissions.add_workspace("team")
    fake.create_job("console-job", "print(1)", workspace_id=team)
    assert await job_names(c, workspace_id=team) == [("console-job", team)]
    assert await job_names(c) == []


async def test_an_image_saved_in_a_workspace_is_listed_only_there(c, fake):
    team = fake.permissions.add_workspace("team")
    body = {"name": "env", "tag": "v1", "workspace_id": team}
    image = await c.call("POST", "images", body, expect=202)
    assert image["workspace_id"] == team
    team_images = await c.call("GET", "images", expect=200, workspace_id=team)
    assert [(i["name"], i["workspace_id"]) for i in team_images["images"]] == [("env", team)]
    assert (await c.call("GET", "images", expect=200))["images"] == []


async def test_submitting_in_a_workspace_not_granted_names_the_action(c, fake):
    hidden = fake.permissions.add_workspace("hidden", granted=False)
    spec = {"name": "nope", "code": "print(1)", "workspace_id": hidden}
    error = await c.call("POST", "jobs", spec, expect=403)
    assert error["iam_action"] == "modelarts:trainJob:create" and error["agency"] is False
    assert hidden in error["message"], error

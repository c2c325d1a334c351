"""Workspaces on the local backend: listed for a picker, the current one kept across restarts,
jobs and images kept apart by workspace, and every bad workspace id refused naming its field."""

import pytest
from tornado.httpclient import AsyncHTTPClient
from traitlets import TraitError

from conftest import fresh_backend, server_config

WORKSPACES = [{"id": "team-b", "name": "Team B", "description": "the B team"}, {"id": "c_3"}]
# Each bad id, as a JSON string and as the raw bytes of a query argument.
BAD_IDS = {
    "NUL": ("a\x00b", "a%00b"),
    "lone surrogate": ("a\ud800", "a%ED%A0%80"),
    "dot dot": ("..", ".."),
    "too long": ("w" * 65, "w" * 65),
    "empty": ("", None),
    "not a string": (7, None),
}


@pytest.fixture
def jp_server_config(ma_config):
    return server_config({**ma_config, "workspaces": WORKSPACES})


async def test_workspaces_are_listed_the_default_first(api):
    listed = await api.get("workspaces")
    assert listed == {
        "workspaces": [
            {"id": "0", "name": "default", "status": "NORMAL", "description": ""},
            {"id": "team-b", "name": "Team B", "status": "NORMAL", "description": "the B team"},
            {"id": "c_3", "name": "c_3", "status": "NORMAL", "description": ""},
        ],
        "current": "0",
    }
    assert (await api.get("workspaces/current"))["name"] == "default"


def test_configured_workspaces_are_checked_at_start(jp_serverapp):
    # "0" is always there, first.
    workspaces = [{"id": "x"}, {"id": "0", "name": "zero"}]
    ids = [w["id"] for w in fresh_backend(jp_serverapp, workspaces=workspaces).workspaces]
    assert ids == ["0", "x"]
    for bad, said in (
        ([{"id": "a/b"}], "id must be 1-64 letters"),
        ([{"id": "x"}, {"id": "x"}], "needs an id of its own"),
        ([{"name": "no id"}], "needs an id of its own"),
        ([{"id": "x", "name": 3}], "must be strings"),
        ([{"id": "x", "owner": "me"}], "unknown keys ['owner']"),
    ):
        with pytest.raises(TraitError, match=said.replace("[", r"\[").replace("]", r"\]")):
            fresh_backend(jp_serverapp, workspaces=bad)
    with pytest.raises(TraitError, match="workspace_id must be 1-64 letters"):
        fresh_backend(jp_serverapp, workspace_id="../x")


async def test_jobs_and_images_are_kept_by_workspace(api):
    async def submit(name, **extra):
        body = {"name": name, "code": "print('hi')", **extra}
        return (await api.call("POST", "jobs", body, expect=201))[1]

    in_default = await submit("in-default")
    assert in_default["spec"]["workspace_id"] == "0"
    await api.call("PUT", "workspaces/current", {"id": "team-b"}, expect=200)
    in_b = await submit("in-b")
    named = await submit("named", workspace_id="c_3")  # a request may name another
    assert (in_b["spec"]["workspace_id"], named["spec"]["workspace_id"]) == ("team-b", "c_3")

    def ids(page):
        return [j["id"] for j in page["jobs"]]

    page = await api.get("jobs")  # the current workspace's
    assert ids(page) == [in_b["id"]] and page["total"] == 1
    assert page["jobs"][0]["workspace_id"] == "team-b"
    assert ids(await api.get("jobs", workspace_id="0")) == [in_default["id"]]
    assert ids(await api.get("jobs", workspace_id="c_3")) == [named["id"]]
    for job in (in_default, in_b, named):
        done = await api.wait_for(f"jobs/{job['id']}", lambda j: j["phase"] == "Completed")
        assert done["spec"]["workspace_id"] == job["spec"]["workspace_id"]

    image = (await api.call("POST", "images", {"name": "snap"}, expect=202))[1]
    assert image["workspace_id"] == "team-b"
    body = {"name": "snap", "tag": "v2", "workspace_id": "0"}
    other = (await api.call("POST", "images", body, expect=202))[1]
    assert other["workspace_id"] == "0"
    assert [i["id"] for i in (await api.get("images"))["images"]] == [image["id"]]
    assert [i["id"] for i in (await api.get("images", workspace_id="0"))["images"]] == [other["id"]]
    assert (await api.get("images", workspace_id="c_3"))["images"] == []
    for each in (image, other):
        await api.wait_for(f"images/{each['id']}", lambda i: i["status"] == "ACTIVE", timeout=60)
    assert (await api.get(f"images/{image['id']}"))["workspace_id"] == "team-b"

    # Work in a workspace this server does not have is refused, naming the field.
    code, error = await api.call("POST", "jobs", {"name": "x", "code": "1", "workspace_id": "zz"})
    assert code == 400 and error["field"] == "workspace_id" and "'zz'" in error["message"]
    code, error = await api.call("POST", "images", {"name": "x", "workspace_id": "zz"})
    assert code == 400 and error["field"] == "workspace_id"


@pytest.mark.parametrize("kind", sorted(BAD_IDS))
async def test_a_bad_workspace_id_is_refused_naming_its_field(
    api, jp_http_port, jp_base_url, jp_auth_header, kind
):
    value, query = BAD_IDS[kind]
    for method, path, body, field in (
        ("PUT", "workspaces/current", {"id": value}, "id"),
        ("POST", "jobs", {"name": "j", "code": "1", "workspace_id": value}, "workspace_id"),
        ("POST", "images", {"name": "snap", "workspace_id": value}, "workspace_id"),
    ):
        code, error = await api.call(method, path, body)
        assert code == 400 and error["field"] == field, (method, path, error)
    if query is None:
        return
    for path in ("jobs", "images"):
        url = f"http://127.0.0.1:{jp_http_port}{jp_base_url}jupyter-modelarts/{path}"
        response = await AsyncHTTPClient().fetch(
            f"{url}?workspace_id={query}", headers=jp_auth_header, raise_error=False
        )
        assert response.code == 400, (path, response.body)
        assert b'"field": "workspace_id"' in response.body, response.body
    # Nothing was changed or made.
    assert (await api.get("workspaces"))["current"] == "0"
    assert (await api.get("jobs", workspace_id="0"))["total"] == 0


async def test_an_unknown_workspace_is_not_found(api):
    code, error = await api.call("PUT", "workspaces/current", {"id": "nope"})
    assert code == 404 and error["field"] == "id" and "'nope'" in error["message"]
    assert (await api.get("workspaces"))["current"] == "0"


def test_the_current_workspace_is_kept_across_a_restart(servers, ma_config):
    config = {**ma_config, "workspaces": WORKSPACES}
    server = servers(config)
    assert server.call("GET", "workspaces")["current"] == "0"
    assert server.call("PUT", "workspaces/current", {"id": "c_3"})["id"] == "c_3"
    job = server.call("POST", "jobs", {"name": "kept", "code": "print(1)"}, expect=201)
    server.kill()

    again = servers(config, name="again")
    assert again.call("GET", "workspaces")["current"] == "c_3"
    assert again.call("GET", "workspaces/current")["name"] == "c_3"
    assert [j["id"] for j in again.call("GET", "jobs")["jobs"]] == [job["id"]]
    report = again.wait_for("doctor", lambda r: r["checked_at"] is not None)
    assert report["workspace_id"] == "c_3"

"""Bodies the OS can't take (NUL, lone surrogates) or the parser can't (deep nesting): a 400
naming the field, nothing recorded, and the next good request works (issue 9, item 2)."""

import json

import pytest

from test_jobs import submit, wait_final

BAD_TEXT = {"nul": "x\u0000y", "lone-high": "a\ud800b", "lone-low": "\udfff"}

JOB_CASES = {
    "env value": (lambda bad: {"env": {"A": bad}}, "env.A"),
    "env name": (lambda bad: {"env": {bad: "1"}}, "env"),
    "parameter": (lambda bad: {"parameters": {"lr": bad}}, "parameters.lr"),
    "command item": (lambda bad: {"code": None, "command": ["echo", bad]}, "command[1]"),
    "code": (lambda bad: {"code": f"print('{bad}')"}, "code"),
}


@pytest.mark.parametrize("bad", list(BAD_TEXT.values()), ids=list(BAD_TEXT))
@pytest.mark.parametrize("case", list(JOB_CASES))
async def test_job_fields_the_os_cant_take_are_refused_and_block_nothing(api, case, bad):
    make, field = JOB_CASES[case]
    spec = {"name": "edge", "code": "print(1)", **make(bad)}
    spec = {k: v for k, v in spec.items() if v is not None}
    code, error = await api.call("POST", "jobs", spec)
    assert code == 400 and error["field"] == field, (case, code, error)
    assert (await api.get("jobs"))["jobs"] == []
    _, job = await submit(api, code="print('still works')")
    assert (await wait_final(api, job["id"]))["phase"] == "Completed"


@pytest.mark.parametrize("bad", list(BAD_TEXT.values()), ids=list(BAD_TEXT))
async def test_a_mount_path_or_image_description_the_os_cant_take_is_refused(api, bad):
    body = {"uri": "obs://bucket/p/", "mount_path": f"/data/a{bad}/"}
    code, error = await api.call("POST", "mounts", body)
    assert code == 400 and error["field"] == "mount_path", error
    assert (await api.get("mounts"))["mounts"] == []
    code, error = await api.call("POST", "images", {"name": "env", "description": bad})
    assert code == 400 and error["field"] == "description", error
    assert (await api.get("images"))["images"] == []


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "jobs"), ("POST", "mounts"), ("POST", "images"), ("PATCH", "lease")],
)
@pytest.mark.parametrize("depth", [40, 100_000])
async def test_deeply_nested_bodies_are_a_400(api, method, path, depth):
    text = '{"a":' * depth + "1" + "}" * depth
    response = await api.fetch(
        "jupyter-modelarts", path, method=method, body=text, raise_error=False
    )
    assert response.code == 400, response.body
    # Within what the parser takes, the check names where it got too deep.
    expected = "body" if depth > 1000 else ".".join(["a"] * 33)
    assert json.loads(response.body)["field"] == expected


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "jobs"), ("POST", "mounts"), ("POST", "images"), ("PATCH", "lease")],
)
async def test_a_body_over_the_size_bound_is_a_413_and_records_nothing(api, method, path):
    body = {"name": "huge", "code": "#" * (8 * 1024**2)}
    response = await api.fetch(
        "jupyter-modelarts", path, method=method, body=json.dumps(body), raise_error=False
    )
    assert response.code == 413, response.body
    assert json.loads(response.body)["field"] == "body"
    assert (await api.get("jobs"))["jobs"] == []

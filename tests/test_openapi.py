"""The REST contract (jupyter_modelarts/openapi.yaml) and the code stay in step.

The document must be valid OpenAPI 3.1, name exactly the routes and verbs the handlers serve, and
describe every response body a real server gives: a scripted session through every operation
validates each body against the schema the document declares for its path, verb and status.
"""

import asyncio
import json
import re
import time

import jsonschema
import pytest
from jsonschema.exceptions import best_match
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from jupyter_modelarts.handlers import NAMESPACE, ModelArtsHandler, route_table

DOC_URI = "urn:jupyter-modelarts:openapi"
PREFIX = f"/{NAMESPACE}"
VERBS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
FINAL = ("Completed", "Failed", "Terminated", "Abnormal")


@pytest.fixture
def auto_stop():
    """The tests' default: no auto-stop (a test parametrizes it to True to get a lease)."""
    return False


@pytest.fixture
def ma_config(ma_config, auto_stop):
    workspaces = [{"id": "0", "name": "default"}, {"id": "team-b", "name": "Team B"}]
    return {**ma_config, "auto_stop_enabled": auto_stop, "workspaces": workspaces}


def resolve(doc, node):
    """Follow local ``$ref``s (``#/components/...``) of the document."""
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), f"only local references are expected, got {ref}"
        node = doc
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def pointer_escape(segment):
    return segment.replace("~", "~0").replace("/", "~1")


# ---------------------------------------------------------------------------------------------
# The document itself


def test_document_is_valid_openapi_3_1(doc):
    assert isinstance(doc, dict) and str(doc["openapi"]).startswith("3.1.")
    assert doc["servers"][0]["url"] == PREFIX
    assert "token" in doc["components"]["securitySchemes"]
    # Every schema is itself valid JSON Schema 2020-12 (the dialect of OpenAPI 3.1).
    jsonschema.Draft202012Validator.check_schema({"$defs": doc["components"]["schemas"]})
    try:
        from openapi_spec_validator import validate
    except ImportError:  # pragma: no cover - the test extra installs it
        structure = {
            "type": "object",
            "required": ["openapi", "info", "paths", "components"],
            "properties": {
                "info": {"type": "object", "required": ["title", "version"]},
                "paths": {
                    "type": "object",
                    "propertyNames": {"pattern": "^/"},
                    "additionalProperties": {
                        "type": "object",
                        "additionalProperties": {
                            "if": {"type": "object", "required": ["responses"]},
                            "then": {"properties": {"responses": {"minProperties": 1}}},
                        },
                    },
                },
            },
        }
        jsonschema.validate(doc, structure)
    else:
        validate(doc)


def route_operations():
    """{(verb, openapi path): handler} for every route and verb method the handlers define."""
    ops = {}
    for pattern, handler in route_table():
        assert pattern.startswith(PREFIX + "/"), pattern
        path = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", pattern[len(PREFIX) :])
        own = handler.__mro__[: handler.__mro__.index(ModelArtsHandler)]
        verbs = [v for v in VERBS if any(v in cls.__dict__ for cls in own)]
        assert verbs, f"{pattern}: {handler.__name__} defines no verb"
        for verb in verbs:
            ops[(verb, path)] = handler
    return ops


def document_operations(doc):
    return {(v, p) for p, item in doc["paths"].items() for v in VERBS if v in item}


def test_routes_and_document_name_the_same_operations(doc):
    routes = set(route_operations())
    documented = document_operations(doc)
    undocumented = sorted(routes - documented)
    phantom = sorted(documented - routes)
    assert not undocumented, f"routes missing from openapi.yaml: {undocumented}"
    assert not phantom, f"openapi.yaml documents operations no handler serves: {phantom}"


def test_path_parameters_match_the_route_patterns(doc):
    """Each {name} is a declared path parameter whose pattern is the route's own regex."""
    for pattern, _ in route_table():
        groups = dict(re.findall(r"\(\?P<(\w+)>([^)]*)\)", pattern))
        path = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", pattern[len(PREFIX) :])
        item = doc["paths"][path]
        for verb in VERBS:
            if verb not in item:
                continue
            params = [resolve(doc, p) for p in item.get("parameters", [])]
            params += [resolve(doc, p) for p in item[verb].get("parameters", [])]
            declared = {p["name"]: p for p in params if p["in"] == "path"}
            assert set(declared) == set(groups), (verb, path, sorted(declared))
            for name, regex in groups.items():
                assert declared[name]["required"] is True, (path, name)
                assert declared[name]["schema"]["pattern"] == f"^{regex}$", (path, name)


# ---------------------------------------------------------------------------------------------
# Responses of a real server against the document


class Contract:
    """Calls through the ``api`` fixture; every response is checked against the document."""

    def __init__(self, api, doc):
        self.api = api
        self.doc = doc
        self.registry = Registry().with_resource(DOC_URI, DRAFT202012.create_resource(doc))
        # Literal paths before templated ones, so /jobs/{job_id}/stop never shadows a literal.
        self.templates = sorted(doc["paths"], key=lambda p: p.count("{"))
        self.seen = set()

    def template(self, path):
        parts = ("/" + path).split("/")
        for tpl in self.templates:
            tparts = tpl.split("/")
            if len(tparts) == len(parts) and all(
                t == p or (t.startswith("{") and t.endswith("}")) for t, p in zip(tparts, parts)
            ):
                return tpl
        pytest.fail(f"/{path}: no path of openapi.yaml matches")

    def _fail_unless_valid(self, where, pointer, instance):
        validator = jsonschema.Draft202012Validator(
            {"$ref": DOC_URI + pointer}, registry=self.registry
        )
        errors = list(validator.iter_errors(instance))
        if errors:
            lines = []
            for error in errors:
                deepest = best_match(error.context) if error.context else None
                lines.append(f"  at {error.json_path}: {error.message}")
                if deepest is not None:
                    lines.append(f"    (closest: at {deepest.json_path}: {deepest.message})")
            pytest.fail(
                f"{where}: does not match openapi.yaml ({pointer}):\n"
                + "\n".join(lines)
                + f"\n  body: {json.dumps(instance)[:2000]}"
            )

    def _operation(self, method, tpl):
        op = self.doc["paths"][tpl].get(method.lower())
        if op is None:
            pytest.fail(f"{method} {tpl}: operation not in openapi.yaml")
        return op

    def check_request(self, method, path, body, valid):
        """The request body against the operation's requestBody schema: valid or refused."""
        tpl = self.template(path)
        op = self._operation(method, tpl)
        assert "requestBody" in op, f"{method} {tpl}: sent a body, none documented"
        pointer = "/".join(
            [
                "#/paths",
                pointer_escape(tpl),
                method.lower(),
                "requestBody",
                "content",
                "application~1json",
                "schema",
            ]
        )
        where = f"request {method} {tpl} {json.dumps(body)}"
        if valid:
            self._fail_unless_valid(where, pointer, body)
        else:
            validator = jsonschema.Draft202012Validator(
                {"$ref": DOC_URI + pointer}, registry=self.registry
            )
            assert not validator.is_valid(body), f"{where}: the server refuses it, the schema not"

    def check(self, method, path, code, body, params=(), media="application/json", headers=None):
        tpl = self.template(path)
        op = self._operation(method, tpl)
        where = f"{method} {tpl} → {code}"
        declared = {
            p["name"]
            for p in map(lambda p: resolve(self.doc, p), op.get("parameters", []))
            if p["in"] == "query"
        }
        assert set(params) <= declared, f"{where}: undocumented query {set(params) - declared}"
        responses = op["responses"]
        if str(code) not in responses:
            pytest.fail(f"{where}: status not documented (body {body!r})")
        self.seen.add((method.lower(), tpl, code))
        response = responses[str(code)]
        if "$ref" in response:
            base = response["$ref"]
        else:
            base = "/".join(
                ["#/paths", pointer_escape(tpl), method.lower(), "responses", str(code)]
            )
        response = resolve(self.doc, response)
        if "content" not in response:
            assert body is None, f"{where}: documented without a body, got {body!r}"
            return
        assert body is not None, f"{where}: documented with a body, got none"
        assert media in response["content"], f"{where}: {media} not documented"
        self._fail_unless_valid(where, f"{base}/content/{pointer_escape(media)}/schema", body)
        for name, header in response.get("headers", {}).items():
            header = resolve(self.doc, header)
            value = (headers or {}).get(name)
            if value is None:
                assert not (headers is not None and header.get("required")), f"{where}: no {name}"
            else:
                errors = list(jsonschema.Draft202012Validator(header["schema"]).iter_errors(value))
                assert not errors, f"{where}: {name}: {value!r}: {errors[0].message}"

    async def call(self, method, path, body=None, *, expect, body_valid=None, **params):
        """One call: status as expected, request and response as documented; → response body."""
        if body is not None:
            if body_valid is None and 200 <= expect < 300:
                body_valid = True
            if body_valid is not None:
                self.check_request(method, path, body, body_valid)
        code, data = await self.api.call(method, path, body, **params)
        assert code == expect, f"{method} /{path} {params or ''}: {code} {data}, not {expect}"
        self.check(method, path, code, data, params)
        return data

    async def text(self, path, *, expect, **headers):
        """A GET of raw bytes (a log), headers such as Range given: the status, the documented
        headers and the body (text, or a JSON error) checked; → the response."""
        response = await self.api.fetch(
            NAMESPACE, *path.split("/"), method="GET", raise_error=False, headers=headers
        )
        assert response.code == expect, (path, headers, response.code, response.body[:500])
        media = response.headers["Content-Type"].partition(";")[0]
        body = response.body.decode(errors="replace")  # a range may cut a character
        body = json.loads(body) if media == "application/json" else body
        self.check("GET", path, response.code, body, media=media, headers=response.headers)
        return response

    async def raw(self, method, path, *, expect, **kwargs):
        """A call built by hand (bad token, broken JSON); the response is still checked."""
        response = await self.api.fetch(
            NAMESPACE, *path.split("/"), method=method, raise_error=False, **kwargs
        )
        data = json.loads(response.body) if response.body else None
        assert response.code == expect, (method, path, response.code, data)
        self.check(method, path, response.code, data)
        return data

    async def poll(self, path, until, timeout=30.0, **params):
        """GET until until(code, body) holds, checking every answer; → the last body."""
        deadline = time.monotonic() + timeout
        while True:
            code, data = await self.api.call("GET", path, **params)
            self.check("GET", path, code, data, params)
            if until(code, data):
                return data
            assert time.monotonic() < deadline, f"timed out polling /{path}: {code} {data}"
            await asyncio.sleep(0.05)


def test_a_mismatch_fails_naming_the_path_and_the_schema_message(doc):
    contract = Contract(api=None, doc=doc)
    chunk = {
        "task": "worker-0",
        "offset": 0,
        "next_offset": -1,
        "size": 0,
        "content": "",
        "complete": False,
    }
    with pytest.raises(pytest.fail.Exception) as failed:
        contract.check("GET", "jobs/j1/logs", 200, chunk)
    assert "GET /jobs/{job_id}/logs → 200" in str(failed.value)
    assert "$.next_offset: -1 is less than the minimum of 0" in str(failed.value)
    with pytest.raises(pytest.fail.Exception, match="status not documented"):
        contract.check("GET", "jobs/j1/logs", 409, {})


async def test_served_document_is_the_yaml_under_this_base_url(api, doc, jp_base_url):
    contract = Contract(api, doc)
    served = await contract.call("GET", "openapi.json", expect=200)
    assert jp_base_url != "/"
    assert [s["url"] for s in served.pop("servers")] == [f"{jp_base_url}jupyter-modelarts"]
    assert served == {k: v for k, v in doc.items() if k != "servers"}


async def instance_and_lease(c):
    instance = await c.call("GET", "instance", expect=200)
    flavors = (await c.call("GET", "flavors", expect=200))["flavors"]
    assert instance["flavor"] in flavors
    engines = (await c.call("GET", "engines", expect=200))["engines"]
    assert engines
    lease = await c.call("GET", "lease", expect=200)
    assert lease["enabled"] is False and lease["stop_at"] is None
    assert instance["lease"] == lease
    # Auto-stop is off in the tests: nothing to renew.
    await c.call("PATCH", "lease", {"duration_s": 7200}, expect=409)
    for duration in (60, 259201, "3600", True):
        error = await c.call(
            "PATCH", "lease", {"duration_s": duration}, expect=400, body_valid=False
        )
        assert error["field"] == "duration_s"
    body = {"duration_s": 7200, "type": "SOMETIMES"}
    error = await c.call("PATCH", "lease", body, expect=400, body_valid=False)
    assert error["field"] == "type"
    await c.call("POST", "activity", expect=204)


async def mounts(c, ma_dirs):
    store = ma_dirs["objects"] / "bucket" / "ds"
    store.mkdir()
    (store / "a.txt").write_text("from the store")
    request = {"uri": "obs://bucket/ds/", "mount_path": "/data/ds/"}
    mount = await c.call("POST", "mounts", request, expect=202)
    assert mount["status"] == "MOUNTING"
    path = f"mounts/{mount['id']}"
    mount = await c.poll(path, lambda code, m: m["status"] != "MOUNTING")
    assert mount["status"] == "MOUNTED", mount
    assert (ma_dirs["data"] / "ds" / "a.txt").read_text() == "from the store"
    (ma_dirs["data"] / "ds" / "b.txt").write_text("through the mount")
    listed = (await c.call("GET", "mounts", expect=200))["mounts"]
    assert [m["id"] for m in listed] == [mount["id"]]

    error = await c.call(
        "POST", "mounts", {"uri": "obs://bucket/other/", "mount_path": "/data/ds/sub/"}, expect=400
    )
    assert error["field"] == "mount_path"
    for bad, field in (
        ({"uri": "obs://bucket/", "mount_path": "/data/x/"}, "uri"),
        ({"uri": "obs://bucket/x", "mount_path": "/data/x/"}, "uri"),
        ({"uri": "obs://bucket/x/", "mount_path": "/data/../etc/"}, "mount_path"),
        ({"uri": "obs://bucket/x/", "mount_path": "/tmp/x/"}, "mount_path"),
        ({"uri": "obs://bucket/x/"}, "mount_path"),
    ):
        error = await c.call("POST", "mounts", bad, expect=400, body_valid=False)
        assert error["field"] == field, (bad, error)
    error = await c.call(
        "POST", "mounts", {"uri": "obs://nobucket/x/", "mount_path": "/data/x/"}, expect=404
    )
    assert error["field"] == "uri"
    await c.raw("POST", "mounts", body="{not json", expect=400)
    await c.call("GET", "mounts/nope", expect=404)
    await c.call("DELETE", "mounts/nope", expect=404)

    unmounting = await c.call("DELETE", path, expect=202)
    assert unmounting["status"] == "UNMOUNTING"
    await c.poll(path, lambda code, m: code == 404)
    # Unmounting keeps the data.
    assert (store / "b.txt").read_text() == "through the mount"
    assert not (ma_dirs["data"] / "ds").exists()


async def images(c):
    image = await c.call(
        "POST", "images", {"name": "snap", "tag": "v1", "description": "contract test"}, expect=202
    )
    assert image["status"] == "INIT" and image["namespace"] == "local"
    image = await c.poll(
        f"images/{image['id']}",
        lambda code, i: i["status"] in ("ACTIVE", "CREATE_FAILED"),
        timeout=60,
    )
    assert image["status"] == "ACTIVE", image
    assert image["size_bytes"] > 0 and image["bytes_done"] == image["bytes_total"]
    listed = (await c.call("GET", "images", expect=200))["images"]
    assert [i["id"] for i in listed] == [image["id"]]
    assert (await c.call("GET", "images", expect=200, workspace_id="team-b"))["images"] == []
    error = await c.call("GET", "images", expect=400, workspace_id="a.b")
    assert error["field"] == "workspace_id"
    error = await c.call("POST", "images", {"name": "snap", "tag": "v1"}, expect=409)
    assert error["field"] == "tag"
    for bad, field in (
        ({"name": "Snap"}, "name"),
        ({"tag": "v1"}, "name"),
        ({"name": "snap-"}, "name"),
        ({"name": "snap", "tag": "v 1"}, "tag"),
        ({"name": "snap", "namespace": "9org"}, "namespace"),
        ({"name": "snap", "description": "x" * 513}, "description"),
    ):
        error = await c.call("POST", "images", bad, expect=400, body_valid=False)
        assert error["field"] == field, (bad, error)
    await c.call("GET", "images/nope", expect=404)


async def workspaces_and_doctor(c):
    listed = await c.call("GET", "workspaces", expect=200)
    assert [w["id"] for w in listed["workspaces"]] == ["0", "team-b"]
    assert listed["current"] == "0"
    assert (await c.call("GET", "workspaces/current", expect=200))["id"] == "0"
    report = await c.call("GET", "doctor", expect=200)
    assert report["checked_at"] and report["workspace_id"] == "0"
    picked = await c.call("PUT", "workspaces/current", {"id": "team-b"}, expect=200)
    assert picked["name"] == "Team B"
    report = await c.call("POST", "doctor", expect=200)
    assert report["workspace_id"] == "team-b" and not report["running"]
    assert {check["status"] for check in report["checks"]} == {"pass"}, report
    error = await c.call("PUT", "workspaces/current", {"id": "nope"}, expect=404)
    assert error["field"] == "id"
    for bad, field in (({"id": "a/b"}, "id"), ({}, "id"), ({"id": "0", "x": 1}, "x")):
        error = await c.call("PUT", "workspaces/current", bad, expect=400, body_valid=False)
        assert error["field"] == field, (bad, error)
    await c.call("PUT", "workspaces/current", {"id": "0"}, expect=200)


async def jobs(c, ma_dirs, root_dir):
    code_dir = root_dir / "project"
    code_dir.mkdir()
    (code_dir / "train.py").write_text("import sys\nprint('args', sys.argv[1:])\n")
    inline = await c.call(
        "POST",
        "jobs",
        {
            "name": "contract",
            "code": "print('hello contract')\n",
            "parameters": {"lr": 0.1},
            "env": {"X_FLAG": "1"},
            "inputs": {"data": "obs://bucket/ds/"},
            "outputs": {"model": "obs://bucket/out/"},
            "description": None,
        },
        expect=201,
    )
    assert inline["spec"]["parameters"] == {"lr": "0.1"}
    from_dir = await c.call(
        "POST",
        "jobs",
        {"name": "from-dir", "code_dir": str(code_dir), "boot_file": "train.py", "nodes": 2},
        expect=201,
    )
    long = await c.call(
        "POST", "jobs", {"name": "long", "command": "echo ready; sleep 30"}, expect=201
    )
    assert long["spec"]["command"] == ["/bin/sh", "-c", "echo ready; sleep 30"]

    listed = (await c.call("GET", "jobs", expect=200))["jobs"]
    assert {j["id"] for j in listed} == {inline["id"], from_dir["id"], long["id"]}
    await c.call("GET", "jobs", expect=200, phase="Running")
    error = await c.call("GET", "jobs", expect=400, phase="Bogus")
    assert error["field"] == "phase"
    assert (await c.call("GET", "jobs", expect=200, workspace_id="team-b"))["jobs"] == []
    error = await c.call("GET", "jobs", expect=400, workspace_id="a.b")
    assert error["field"] == "workspace_id"

    for job in (inline, from_dir):
        done = await c.poll(f"jobs/{job['id']}", lambda code, j: j["phase"] in FINAL)
        assert done["phase"] == "Completed", done
    chunk = await c.call(
        "GET", f"jobs/{inline['id']}/logs", expect=200, task="worker-0", offset="0", limit="4096"
    )
    assert "hello contract" in chunk["content"] and chunk["complete"] is True
    tail = await c.call(
        "GET", f"jobs/{inline['id']}/logs", expect=200, offset=str(chunk["next_offset"])
    )
    assert tail["content"] == "" and tail["next_offset"] == chunk["next_offset"]
    raw = f"jobs/{inline['id']}/tasks/worker-0/log"
    whole = await c.text(raw, expect=200)
    assert b"hello contract" in whole.body
    assert whole.headers["X-ModelArts-Log-Complete"] == "true"
    end = await c.text(raw, expect=206, Range="bytes=-3")
    assert end.body == whole.body[-3:]
    await c.text(raw, expect=416, Range=f"bytes={len(whole.body)}-")
    assert (await c.text(raw, expect=400, Range="lines=1-2")).body.count(b'"Range"') == 1
    await c.text(f"jobs/{inline['id']}/tasks/worker-9/log", expect=404)
    worker1 = await c.call("GET", f"jobs/{from_dir['id']}/logs", expect=200, task="worker-1")
    assert "args" in worker1["content"]
    for params, status, field in (
        ({"offset": "-1"}, 400, "offset"),
        ({"limit": "0"}, 400, "limit"),
        ({"limit": "abc"}, 400, "limit"),
        ({"task": "worker-9"}, 404, "task"),
    ):
        error = await c.call("GET", f"jobs/{inline['id']}/logs", expect=status, **params)
        assert error["field"] == field
    await c.call("GET", f"jobs/{inline['id']}/metrics", expect=200)

    # The long job: metrics while it runs, 409s, stop, delete.
    await c.poll(
        f"jobs/{long['id']}/metrics", lambda code, m: any(s["points"] for s in m["series"])
    )
    error = await c.call("DELETE", f"jobs/{long['id']}", expect=409)
    assert error["field"] == "job_id"
    stopped = await c.call("POST", f"jobs/{long['id']}/stop", expect=202)
    assert stopped["phase"] == "Terminating"
    done = await c.poll(f"jobs/{long['id']}", lambda code, j: j["phase"] in FINAL)
    assert done["phase"] == "Terminated"
    await c.call("POST", f"jobs/{long['id']}/stop", expect=409)
    await c.call("DELETE", f"jobs/{long['id']}", expect=204)
    await c.call("GET", f"jobs/{long['id']}", expect=404)
    for method, suffix in (
        ("GET", ""),
        ("DELETE", ""),
        ("POST", "/stop"),
        ("GET", "/logs"),
        ("GET", "/tasks/worker-0/log"),
        ("GET", "/metrics"),
    ):
        error = await c.call(method, f"jobs/nope{suffix}", expect=404)
        assert error["field"] == "job_id"

    # Specs the document refuses as the server does.
    for bad, field in (
        ({"code": "x"}, "name"),
        ({"name": "bad name!", "code": "x"}, "name"),
        ({"name": "j"}, "code"),
        ({"name": "j", "code": 5}, "code"),
        ({"name": "j", "code": "x", "command": "ls"}, "code"),
        ({"name": "j", "boot_file": "a.py"}, "code_dir"),
        ({"name": "j", "code_dir": str(code_dir), "boot_file": "../a.py"}, "boot_file"),
        ({"name": "j", "command": []}, "command"),
        ({"name": "j", "code": "x", "nodes": 0}, "nodes"),
        ({"name": "j", "code": "x", "nodes": 17}, "nodes"),
        ({"name": "j", "code": "x", "nodes": "2"}, "nodes"),
        ({"name": "j", "code": "x", "env": {"MA_X": "1"}}, "env.MA_X"),
        ({"name": "j", "code": "x", "env": {"1X": "1"}}, "env.1X"),
        ({"name": "j", "code": "x", "parameters": {"p": True}}, "parameters.p"),
        ({"name": "j", "code": "x", "inputs": {"d": "s3://b/x/"}}, "inputs.d"),
        ({"name": "j", "code": "x", "outputs": {"m": "obs://bucket"}}, "outputs.m"),
        ({"name": "j", "code": "x", "flavor": 3}, "flavor"),
        ({"name": "j", "code": "x", "colour": "red"}, "colour"),
    ):
        error = await c.call("POST", "jobs", bad, expect=400, body_valid=False)
        assert error["field"] == field, (bad, error)
    # Well-formed specs this server still refuses.
    for bad, status, field in (
        ({"name": "j", "code": "x", "flavor": "huge"}, 400, "flavor"),
        (
            {
                "name": "j",
                "code": "x",
                "parameters": {"d": "1"},
                "inputs": {"d": "obs://bucket/ds/"},
            },
            400,
            "parameters.d",
        ),
        ({"name": "j", "code": "x", "inputs": {"d": "obs://nobucket/x/"}}, 404, "uri"),
    ):
        c.check_request("POST", "jobs", bad, valid=True)
        error = await c.call("POST", "jobs", bad, expect=status)
        assert error["field"] == field, (bad, error)


# auto_stop named in the signature too: pytest < 9 parametrizes only the test's own arguments.
@pytest.mark.parametrize("auto_stop", [True])
async def test_lease_renewal_with_auto_stop(api, doc, auto_stop):
    c = Contract(api, doc)
    lease = await c.call("GET", "lease", expect=200)
    assert lease["enabled"] is True and lease["duration_s"] == 3600
    assert 3500 < lease["remaining_s"] <= 3600
    before = int(time.time() * 1000)
    renewed = await c.call("PATCH", "lease", {"duration_s": 7200}, expect=200)
    assert renewed["duration_s"] == 7200 and renewed["renewed_at"] >= before
    assert renewed["stop_at"] == renewed["renewed_at"] + 7200 * 1000
    instance = await c.call("GET", "instance", expect=200)
    assert instance["lease"]["stop_at"] == renewed["stop_at"]
    error = await c.call("PATCH", "lease", {"duration_s": 3599.5}, expect=400, body_valid=False)
    assert error["field"] == "duration_s"
    idle = await c.call("PATCH", "lease", {"duration_s": 3600, "type": "IDLE"}, expect=200)
    assert idle["type"] == "IDLE" and idle["busy"] == [] and idle["idle_since"] >= before
    assert idle["stop_at"] == idle["idle_since"] + 3600 * 1000
    assert ("patch", "/lease", 200) in c.seen


# Success statuses the session cannot reach, and the test that reaches each.
ELSEWHERE = {("patch", "/lease", 200): test_lease_renewal_with_auto_stop}


async def test_session_matches_the_contract(api, doc, ma_dirs, jp_root_dir):
    c = Contract(api, doc)
    await c.call("GET", "openapi.json", expect=200)
    # The language for kernels: its messages, then none when the caller has them already.
    assert (await c.call("GET", "i18n", expect=200))["language"] == "en"
    assert (await c.call("GET", "i18n", expect=200, known="en"))["messages"] is None
    zh = {"X-ModelArts-Language": "zh-CN"}
    await c.raw("GET", "i18n", headers={"X-ModelArts-Language": "zh CN"}, expect=400)
    assert (await c.raw("GET", "i18n", headers=zh, expect=200))["messages"]
    # Back to English: the language sticks, and the rest of the session reads English errors.
    await c.raw("GET", "i18n", headers={"X-ModelArts-Language": "en"}, expect=200)
    await instance_and_lease(c)
    await workspaces_and_doctor(c)
    await mounts(c, ma_dirs)
    await images(c)
    await jobs(c, ma_dirs, jp_root_dir)
    # Jupyter's own refusal: no valid token.
    await c.raw("GET", "instance", headers={"Authorization": "token wrong"}, expect=403)

    # Every operation was exercised, and every success status it documents was seen.
    exercised = {(verb, tpl) for verb, tpl, _ in c.seen}
    assert exercised == document_operations(doc), document_operations(doc) - exercised
    for tpl, item in doc["paths"].items():
        for verb in VERBS:
            for status in item.get(verb, {}).get("responses", {}):
                if status.startswith("2") and (verb, tpl, int(status)) not in ELSEWHERE:
                    assert (verb, tpl, int(status)) in c.seen, f"{verb} {tpl} {status} unseen"

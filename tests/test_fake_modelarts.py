"""Tests of the ModelArts/IAM/OBS/metadata fake itself (tests/fake_modelarts).

Requests are signed with the vendors' own code (huaweicloudsdkcore, esdk-obs-python) and sent
with plain httpx, so these tests pin what the fake accepts to what the official SDKs produce.
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
from datetime import datetime, timedelta, timezone
from email.utils import formatdate

import httpx
import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.region.region import Region
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkmodelarts.v1 import (
    AuthRequests,
    CreateTrainingJobRequest,
    GetAuthorizationsRequest,
    Job,
    JobAlgorithm,
    JobMetadata,
    LeaseReq,
    ListWorkspaceRequest,
    ModelArtsClient,
    RenewLeaseRequest,
    ShowTrainingJobDetailsRequest,
    ShowTrainingJobLogsPreviewRequest,
    ShowTrainingQuotasRequest,
    Spec,
    SpecResource,
    ValidateAuthorizationRequest,
    ValidateAuthorizationRequestBody,
)
from obs.auth import Authentication
from obs.convertor import Adapter

from fake_modelarts import FakeCloud
from fake_modelarts.auth import sdk_signature_ok
from fake_modelarts.schema import load_operations, unknown_field
from fake_modelarts.server import ACTIONS
from jupyter_modelarts.backends.modelarts import _ACTIONS

STEP_S = 0.05


@pytest.fixture
def fake(tmp_path):
    cloud = FakeCloud(step_s=STEP_S, workdir=str(tmp_path / "fake"))
    cloud.start()
    yield cloud
    cloud.stop()


def sdk_request(
    cloud: FakeCloud,
    method: str,
    path: str,
    *,
    json_body: bytes = b"",
    query: list[tuple[str, str]] = (),
    keys: tuple[str, str] | None = None,
    security_token: str | None = None,
    sdk_date: str | None = None,
    tamper=None,
) -> httpx.Response:
    """Sign with BasicCredentials + the SDK Signer and send the result with httpx."""
    ak, sk = keys or (cloud.ak, cloud.sk)
    url = httpx.URL(cloud.base_url)
    headers = {"Content-Type": "application/json"}
    if sdk_date:
        headers["X-Sdk-Date"] = sdk_date
    request = SdkRequest(
        method=method,
        schema="http",
        host=url.netloc.decode(),
        resource_path=path,
        query_params=list(query),
        header_params=headers,
        body=json_body,
    )
    credentials = BasicCredentials(ak, sk, cloud.project_id)
    if security_token:
        credentials.with_security_token(security_token)
    credentials.sign_request(request)
    headers, body = dict(request.header_params), json_body
    if tamper:
        headers, body = tamper(headers, body)
    return httpx.request(method, cloud.base_url + request.uri, headers=headers, content=body)


def iam_token(cloud: FakeCloud, password: str | None = None) -> httpx.Response:
    user = {
        "name": cloud.iam_user,
        "password": password or cloud.iam_password,
        "domain": {"name": cloud.iam_domain},
    }
    body = {
        "auth": {
            "identity": {"methods": ["password"], "password": {"user": user}},
            "scope": {"project": {"name": cloud.region}},
        }
    }
    return httpx.post(cloud.base_url + "/v3/auth/tokens", json=body)


def api(cloud: FakeCloud, token: str, method: str, path: str, **kwargs) -> httpx.Response:
    headers = {"X-Auth-Token": token}
    return httpx.request(method, f"{cloud.base_url}{path}", headers=headers, **kwargs)


def nb_path(cloud: FakeCloud, suffix: str = "") -> str:
    return f"/v1/{cloud.project_id}/notebooks/{cloud.instance_id}{suffix}"


def wait_for(fetch, done, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"timed out; last value {value}"
        time.sleep(0.02)


def obs_request(
    cloud: FakeCloud,
    method: str,
    bucket: str,
    key: str = "",
    *,
    body: bytes = b"",
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    keys: tuple[str, str] | None = None,
    security_token: str | None = None,
) -> httpx.Response:
    """Sign with esdk-obs-python's V2 Authentication (canonical resource /bucket/key)."""
    ak, sk = keys or (cloud.ak, cloud.sk)
    hdrs = {"Date": formatdate(usegmt=True), **(headers or {})}
    if security_token:
        hdrs["x-obs-security-token"] = security_token
    signer = Authentication(ak, sk, True, Adapter("obs"), "127.0.0.1", False)
    hdrs["Authorization"] = signer.doAuth(method, bucket, key or None, query or {}, hdrs)[
        "Authorization"
    ]
    path = f"/obs/{bucket}" + (f"/{key}" if key else "")
    url = cloud.base_url + path
    return httpx.request(method, url, params=query, headers=hdrs, content=body)


# -- authentication --------------------------------------------------------------------------


def test_sdk_signed_requests_are_accepted(fake):
    r = sdk_request(fake, "GET", nb_path(fake))
    assert r.status_code == 200, r.text
    assert r.headers["X-Request-Id"]
    assert r.json()["status"] == "RUNNING" and r.json()["lease"]["type"] == "TIMING"
    body = b'{"duration":7200000,"type":"TIMING"}'
    r = sdk_request(fake, "PATCH", nb_path(fake, "/lease"), json_body=body)
    assert r.status_code == 200, r.text
    lease = r.json()
    assert abs(lease["create_at"] + lease["duration"] - (time.time() * 1000 + 7200000)) < 5000
    query = [("type", "DEDICATED"), ("limit", "5"), ("name", "a b~c")]
    r = sdk_request(fake, "GET", f"/v1/{fake.project_id}/images", query=query)
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"current", "data", "pages", "size", "total"}
    r = sdk_request(fake, "GET", "/v3/projects", query=[("name", fake.region)])
    assert r.json()["projects"][0]["id"] == fake.project_id


def test_tampered_signature_old_date_and_missing_auth_are_rejected(fake):
    def bad_signature(headers, body):
        auth = headers["Authorization"]
        flipped = "0" if auth[-1] != "0" else "1"
        return {**headers, "Authorization": auth[:-1] + flipped}, body

    def bad_body(headers, body):
        return headers, body.replace(b"7200000", b"9200000")

    body = b'{"duration":7200000,"type":"TIMING"}'
    for tamper in (bad_signature, bad_body):
        r = sdk_request(fake, "PATCH", nb_path(fake, "/lease"), json_body=body, tamper=tamper)
        assert r.status_code == 401
        assert r.json() == {
            "error_code": "APIGW.0301",
            "error_msg": "Incorrect IAM authentication information: verify aksk signature fail",
        }
        assert r.headers["X-Request-Id"]
    old = (datetime.now(timezone.utc) - timedelta(minutes=20)).strftime("%Y%m%dT%H%M%SZ")
    r = sdk_request(fake, "GET", nb_path(fake), sdk_date=old)
    assert r.status_code == 401 and r.json()["error_code"] == "APIGW.0301"
    r = sdk_request(fake, "GET", nb_path(fake), keys=(fake.ak, "wrong-secret"))
    assert r.status_code == 401
    r = httpx.get(fake.base_url + nb_path(fake))
    assert r.status_code == 401 and r.json()["error_code"] == "ModelArts.0201"


def test_temporary_keys_from_metadata_and_token_exchange(fake):
    r = httpx.put(
        fake.base_url + "/meta-data/latest/api/token",
        headers={"X-Metadata-Token-Ttl-Seconds": "21600"},
    )
    assert r.status_code == 200
    r = httpx.get(
        fake.base_url + "/openstack/latest/securitykey", headers={"X-Metadata-Token": r.text}
    )
    cred = r.json()["credential"]
    assert (cred["access"], cred["secret"], cred["securitytoken"]) == fake.temp_keys
    assert cred["expires_at"].endswith("Z")
    access, secret, security = fake.temp_keys
    r = sdk_request(fake, "GET", nb_path(fake), keys=(access, secret), security_token=security)
    assert r.status_code == 200, r.text
    r = sdk_request(fake, "GET", nb_path(fake), keys=(access, secret))
    assert r.status_code == 401

    token = iam_token(fake).headers["X-Subject-Token"]
    exchange = {"auth": {"identity": {"methods": ["token"], "token": {"id": token}}}}
    r = httpx.post(fake.base_url + "/v3.0/OS-CREDENTIAL/securitytokens", json=exchange)
    assert r.status_code == 201
    cred = r.json()["credential"]
    assert (cred["access"], cred["secret"], cred["securitytoken"]) == fake.temp_keys


def test_iam_token_accepted_then_expired(fake):
    assert iam_token(fake, password="nope").status_code == 401
    r = iam_token(fake)
    assert r.status_code == 201
    assert r.json()["token"]["project"]["id"] == fake.project_id
    assert r.json()["token"]["expires_at"].endswith("Z")
    token = r.headers["X-Subject-Token"]
    assert api(fake, token, "GET", nb_path(fake)).status_code == 200
    r = api(fake, "not-a-token", "GET", nb_path(fake))
    assert r.status_code == 401 and r.json()["error_code"] == "ModelArts.0203"
    fake.expire_tokens()
    r = api(fake, token, "GET", nb_path(fake))
    assert r.status_code == 401 and r.json()["error_code"] == "ModelArts.0202"
    fresh = iam_token(fake).headers["X-Subject-Token"]
    assert api(fake, fresh, "GET", nb_path(fake)).status_code == 200


def test_unknown_json_keys_are_rejected_by_name(fake):
    token = iam_token(fake).headers["X-Subject-Token"]
    r = api(fake, token, "PATCH", nb_path(fake, "/lease"), json={"duration": 3600000, "ttl": 1})
    assert r.status_code == 400
    assert r.json() == {"error_code": "ModelArts.0101", "error_msg": "unknown field ttl"}
    job = {
        "kind": "job",
        "metadata": {"name": "j", "annotations": {"jupyter-lab/enable": "false"}},
        "algorithm": {
            "code_dir": "/b/code/",
            "boot_file": "/b/code/t.py",
            "parameters": [{"name": "a", "value": "1", "bogus": True}],
        },
        "spec": {"resource": {"flavor_id": "modelarts.vm.cpu.8u", "node_count": 1}},
    }
    r = api(fake, token, "POST", f"/v2/{fake.project_id}/training-jobs", json=job)
    assert r.status_code == 400
    assert r.json()["error_msg"] == "unknown field algorithm.parameters[0].bogus"


def test_denied_action_answers_403(fake):
    token = iam_token(fake).headers["X-Subject-Token"]
    fake.deny("modelarts:notebook:updateStopPolicy")
    r = api(fake, token, "PATCH", nb_path(fake, "/lease"), json={"duration": 3600000})
    assert r.status_code == 403 and r.headers["X-Request-Id"]
    assert r.json()["error_code"] == "ModelArts.0108"
    assert "not authorized" in r.json()["error_msg"]
    assert api(fake, token, "GET", nb_path(fake, "/lease")).status_code == 200


def test_documented_signing_vector_verifies():
    """The SDK-computed vector of the reference (section 6.1) passes the fake's check."""
    project = "0123456789abcdef0123456789abcdef"
    assert sdk_signature_ok(
        ak="AKEXAMPLE",
        sk="SKEXAMPLE",
        method="PATCH",
        path=f"/v1/{project}/notebooks/11111111-2222-3333-4444-555555555555/lease",
        query=[],
        headers={
            "content-type": "application/json",
            "x-sdk-date": "20250101T000000Z",
            "x-project-id": project,
            "host": "modelarts.cn-north-4.myhuaweicloud.com",
        },
        signed_headers=["content-type", "host", "x-project-id", "x-sdk-date"],
        signature="f28e988be3f60261c404dcaea6ad2caf5e84c5db556d3ae0276c81a5450e38f4",
        body=b'{"duration":7200000,"type":"TIMING"}',
    )


def test_official_sdk_client_end_to_end(fake):
    """ModelArtsClient resolves the project through IAM, then signs its own calls."""
    credentials = BasicCredentials(fake.ak, fake.sk).with_iam_endpoint(fake.base_url)
    client = (
        ModelArtsClient.new_builder()
        .with_credentials(credentials)
        .with_region(Region(fake.region, fake.base_url))
        .build()
    )
    lease = client.renew_lease(
        RenewLeaseRequest(id=fake.instance_id, body=LeaseReq(duration=7200000, type="TIMING"))
    )
    assert lease.type == "TIMING" and credentials.project_id == fake.project_id
    job = Job(
        kind="job",
        metadata=JobMetadata(name="sdk-job"),
        algorithm=JobAlgorithm(command="echo hi from sdk"),
        spec=Spec(resource=SpecResource(flavor_id="modelarts.vm.cpu.8u", node_count=1)),
    )
    created = client.create_training_job(CreateTrainingJobRequest(body=job))
    assert created.status.tasks == ["worker-0"]
    show = ShowTrainingJobDetailsRequest(training_job_id=created.metadata.id)
    wait_for(lambda: client.show_training_job_details(show).status.phase, "Completed".__eq__)
    preview = ShowTrainingJobLogsPreviewRequest(
        training_job_id=created.metadata.id, task_id="worker-0"
    )
    assert client.show_training_job_logs_preview(preview).content == "hi from sdk\n"
    assert fake.count("GET", r"^/v3/projects$") == 1


# -- notebook --------------------------------------------------------------------------------


def test_lease_range(fake):
    token = iam_token(fake).headers["X-Subject-Token"]
    for duration in (3599999, 259200001):
        r = api(fake, token, "PATCH", nb_path(fake, "/lease"), json={"duration": duration})
        assert r.status_code == 400 and r.json()["error_code"] == "ModelArts.6349"
    r = api(fake, token, "PATCH", nb_path(fake, "/lease"), json={"duration": 259200000})
    assert r.status_code == 200


def test_storage_mount_and_detach(fake):
    token = iam_token(fake).headers["X-Subject-Token"]
    fake.buckets["bucket"] = {}
    storage = nb_path(fake, "/storage")

    def attach(uri, mount_path):
        body = {"category": "OBS", "uri": uri, "mount_path": mount_path}
        return api(fake, token, "POST", storage, json=body)

    r = attach("obs://bucket/", "/data/x/")
    assert r.status_code == 400 and r.json()["error_code"] == "ModelArts.6358"
    assert attach("obs://bucket/dir/", "/home/ma-user/x/").status_code == 400
    assert attach("obs://bucket/dir/", "/data/" + "x" * 260 + "/").status_code == 400
    r = attach("obs://bucket/dir/", "/data/demo/")
    assert r.status_code == 200 and r.json()["status"] == "MOUNTING"
    sid = r.json()["id"]
    assert attach("obs://bucket/other/", "/data/demo/").status_code == 400
    show = f"{storage}/{sid}"
    mounted = wait_for(
        lambda: api(fake, token, "GET", show).json(), lambda s: s["status"] != "MOUNTING"
    )
    assert mounted["status"] == "MOUNTED"
    listing = api(fake, token, "GET", storage).json()
    assert set(listing) == {"current", "data", "pages", "size", "total"}
    assert [s["id"] for s in listing["data"]] == [sid]

    failed = attach("obs://missing-bucket/dir/", "/data/other/").json()
    failed = wait_for(
        lambda: api(fake, token, "GET", f"{storage}/{failed['id']}").json(),
        lambda s: s["status"] != "MOUNTING",
    )
    assert failed["status"] == "MOUNT_FAILED" and "missing-bucket" in failed["failure_reason"]

    r = api(fake, token, "DELETE", show)
    assert r.status_code == 200 and r.json()["status"] == "UNMOUNTING"
    gone = wait_for(lambda: api(fake, token, "GET", show), lambda r: r.status_code == 404)
    assert gone.json()["error_code"] == "ModelArts.6309"


def test_image_becomes_active(fake):
    token = iam_token(fake).headers["X-Subject-Token"]
    create = nb_path(fake, "/create-image")
    bad = {"name": "Bad_Name", "namespace": "team"}
    assert api(fake, token, "POST", create, json=bad).status_code == 400
    body = {"name": "my-image", "namespace": "team", "tag": "v1", "description": "d"}
    r = api(fake, token, "POST", create, json=body)
    assert r.status_code == 200 and r.json()["status"] == "INIT"
    image_id = r.json()["id"]
    show = f"/v1/{fake.project_id}/images/{image_id}"
    wait_for(lambda: api(fake, token, "GET", nb_path(fake)).json()["status"], "SNAPSHOTTING".__eq__)
    image = wait_for(
        lambda: api(fake, token, "GET", show).json(), lambda i: i["status"] == "ACTIVE"
    )
    assert image["swr_path"].endswith("/team/my-image:v1") and image["size"] > 0
    assert api(fake, token, "GET", nb_path(fake)).json()["status"] == "RUNNING"
    listing = api(fake, token, "GET", f"/v1/{fake.project_id}/images?type=DEDICATED").json()
    assert [i["id"] for i in listing["data"]] == [image_id] and listing["total"] == 1


# -- training jobs ---------------------------------------------------------------------------

TRAIN_PY = b"""
import argparse, os, pathlib
p = argparse.ArgumentParser()
p.add_argument("--epochs")
p.add_argument("--train_url")
a = p.parse_args()
i = os.environ["VC_TASK_INDEX"]
print(f"index={i} rank={os.environ['RANK']} world={os.environ['WORLD_SIZE']} epochs={a.epochs}")
print("master", os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"], os.environ["MY_VAR"])
pathlib.Path(a.train_url, f"out-{i}.txt").write_text(i)
"""

SLEEP_PY = b"""
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
print("pids", os.getpid(), child.pid, flush=True)
time.sleep(60)
"""


def job_body(name: str, nodes: int = 1, **algorithm) -> dict:
    return {
        "kind": "job",
        "metadata": {"name": name, "annotations": {"jupyter-lab/enable": "false"}},
        "algorithm": {
            "code_dir": "/bucket/code/",
            "boot_file": "/bucket/code/train.py",
            "engine": {"engine_name": "PyTorch", "engine_version": "pytorch_1.8.0"},
            **algorithm,
        },
        "spec": {"resource": {"flavor_id": "modelarts.vm.cpu.8u", "node_count": nodes}},
    }


def test_two_node_job_runs_the_code(fake):
    token = iam_token(fake).headers["X-Subject-Token"]
    fake.buckets["bucket"] = {"code/train.py": TRAIN_PY}
    jobs = f"/v2/{fake.project_id}/training-jobs"
    body = job_body(
        "two-nodes",
        2,
        parameters=[{"name": "epochs", "value": "3"}],
        outputs=[{"name": "train_url", "remote": {"obs": {"obs_url": "obs://bucket/out/"}}}],
        environments={"MY_VAR": "hello"},
    )
    r = api(fake, token, "POST", jobs, json=body)
    assert r.status_code == 201, r.text
    job = r.json()
    assert job["status"]["phase"] == "Creating"
    assert job["status"]["tasks"] == ["worker-0", "worker-1"]
    show = f"{jobs}/{job['metadata']['id']}"
    done = wait_for(
        lambda: api(fake, token, "GET", show).json(),
        lambda j: j["status"]["phase"] in ("Completed", "Failed"),
    )
    assert done["status"]["phase"] == "Completed", done["status"]
    for index in (0, 1):
        preview = api(fake, token, "GET", f"{show}/tasks/worker-{index}/logs/preview").json()
        assert f"index={index} rank={index} world=2 epochs=3" in preview["content"]
        assert "master 127.0.0.1" in preview["content"] and "hello" in preview["content"]
        assert preview["current_size"] == preview["full_size"] > 0
        assert fake.buckets["bucket"][f"out/out-{index}.txt"] == str(index).encode()
    metrics = api(fake, token, "GET", f"{show}/metrics/worker-0").json()["metrics"]
    assert [m["metric"] for m in metrics] == ["cpuUsage", "memUsage"]
    search = {"filters": [{"key": "name", "operator": "like", "value": ["two"]}]}
    found = api(fake, token, "POST", f"/v2/{fake.project_id}/training-job-searches", json=search)
    assert (
        found.json()["total"] == 1 and found.json()["items"][0]["metadata"]["name"] == "two-nodes"
    )
    terminate = {"action_type": "terminate"}
    assert api(fake, token, "POST", f"{show}/actions", json=terminate).status_code == 400
    r = api(fake, token, "DELETE", show)
    assert r.status_code == 202 and r.content == b""
    assert api(fake, token, "GET", show).status_code == 404


def test_terminate_kills_the_process(fake):
    token = iam_token(fake).headers["X-Subject-Token"]
    fake.buckets["bucket"] = {"code/train.py": SLEEP_PY}
    jobs = f"/v2/{fake.project_id}/training-jobs"
    job = api(fake, token, "POST", jobs, json=job_body("sleeper")).json()
    show = f"{jobs}/{job['metadata']['id']}"
    logs = wait_for(
        lambda: api(fake, token, "GET", f"{show}/tasks/worker-0/logs/preview").json()["content"],
        lambda c: c.startswith("pids "),
    )
    pids = [int(pid) for pid in logs.split()[1:3]]
    assert api(fake, token, "DELETE", show).status_code == 400  # not final yet
    r = api(fake, token, "POST", f"{show}/actions", json={"action_type": "terminate"})
    assert r.status_code == 202 and r.json()["status"]["phase"] == "Terminating"
    wait_for(lambda: api(fake, token, "GET", show).json()["status"]["phase"], "Terminated".__eq__)
    for pid in pids:  # the boot process and the child it spawned
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_job_with_missing_code_fails(fake):
    token = iam_token(fake).headers["X-Subject-Token"]
    jobs = f"/v2/{fake.project_id}/training-jobs"
    job = api(fake, token, "POST", jobs, json=job_body("no-code")).json()
    done = wait_for(
        lambda: api(fake, token, "GET", f"{jobs}/{job['metadata']['id']}").json()["status"],
        lambda s: s["phase"] == "Failed",
    )
    assert "does not exist" in done["task_statuses"][0]["message"]
    flavors = api(fake, token, "GET", f"/v2/{fake.project_id}/training-job-flavors").json()
    assert {f["flavor_type"] for f in flavors["flavors"]} == {"CPU", "GPU", "Ascend"}
    engines = api(fake, token, "GET", f"/v2/{fake.project_id}/training-job-engines").json()
    assert engines["items"][0]["engine_name"] == "PyTorch"


# -- OBS -------------------------------------------------------------------------------------


def test_obs_objects_listing_and_signatures(fake):
    fake.buckets["bucket"] = {}
    data = b"hello obs"
    md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
    r = obs_request(fake, "PUT", "bucket", "dir/a.txt", body=data, headers={"Content-MD5": md5})
    assert r.status_code == 200 and r.headers["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    bad_md5 = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    r = obs_request(fake, "PUT", "bucket", "dir/b.txt", body=data, headers={"Content-MD5": bad_md5})
    assert r.status_code == 400 and "<Code>BadDigest</Code>" in r.text
    for name in ("dir/b.txt", "dir/c.txt", "other.txt"):
        fake.buckets["bucket"][name] = b"x"
    assert obs_request(fake, "GET", "bucket", "dir/a.txt").content == data
    head = obs_request(fake, "HEAD", "bucket", "dir/a.txt")
    assert head.status_code == 200 and head.headers["Content-Length"] == str(len(data))
    assert obs_request(fake, "GET", "bucket", "dir/zzz").status_code == 404

    page = obs_request(fake, "GET", "bucket", query={"prefix": "dir/", "max-keys": "2"}).text
    assert "<Key>dir/a.txt</Key><" in page and "<Key>dir/b.txt</Key>" in page
    assert (
        "<IsTruncated>true</IsTruncated>" in page and "<NextMarker>dir/b.txt</NextMarker>" in page
    )
    query = {"prefix": "dir/", "marker": "dir/b.txt"}
    rest = obs_request(fake, "GET", "bucket", query=query).text
    assert "<Key>dir/c.txt</Key>" in rest and "dir/a.txt" not in rest
    assert "<IsTruncated>false</IsTruncated>" in rest

    r = obs_request(fake, "GET", "nobucket", "k")
    assert r.status_code == 404 and "<Code>NoSuchBucket</Code>" in r.text
    r = obs_request(fake, "GET", "bucket", "dir/a.txt", keys=(fake.ak, "wrong"))
    assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text
    access, secret, security = fake.temp_keys
    r = obs_request(fake, "GET", "bucket", "dir/a.txt", keys=(access, secret))
    assert r.status_code == 403
    r = obs_request(
        fake, "GET", "bucket", "dir/a.txt", keys=(access, secret), security_token=security
    )
    assert r.status_code == 200 and r.content == data


# -- faults and call recording ---------------------------------------------------------------


def test_faults_of_each_kind(fake):
    token = iam_token(fake).headers["X-Subject-Token"]
    lease = nb_path(fake, "/lease")

    fake.set_faults(rate=1.0, kinds=("503",))
    r = api(fake, token, "GET", lease)
    assert r.status_code == 503 and r.json()["error_code"] and r.headers["X-Request-Id"]

    fake.set_faults(rate=1.0, kinds=("429",))
    r = api(fake, token, "GET", lease)
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"

    fake.set_faults(rate=1.0, kinds=("latency",), latency_s=0.4)
    started = time.monotonic()
    assert api(fake, token, "GET", lease).status_code == 200
    assert time.monotonic() - started >= 0.4

    fake.set_faults(rate=1.0, kinds=("drop",))
    with pytest.raises(httpx.TransportError):
        api(fake, token, "PATCH", lease, json={"duration": 7200000})

    fake.set_faults(rate=1.0, kinds=("drop_after",), paths=r"/lease$")
    before = time.time() * 1000
    with pytest.raises(httpx.TransportError):
        api(fake, token, "PATCH", lease, json={"duration": 10800000})
    # Only matching paths are affected, and a "drop_after" request was processed.
    api_lease = api(fake, token, "GET", nb_path(fake)).json()["lease"]
    assert api_lease["create_at"] + api_lease["duration"] >= before + 10800000 - 1000

    fake.clear_faults()
    assert api(fake, token, "GET", lease).status_code == 200
    statuses = [c.status for c in fake.calls if c.path.endswith("/lease")]
    assert statuses == [503, 429, 200, 0, 0, 200]


def test_count_counts_requests(fake):
    token = iam_token(fake).headers["X-Subject-Token"]
    for _ in range(3):
        api(fake, token, "GET", nb_path(fake, "/lease"))
    api(fake, token, "GET", nb_path(fake))
    assert fake.count("GET", r"/notebooks/[^/]+/lease$") == 3
    assert fake.count("get", r"/notebooks/") == 4
    assert fake.count("POST", r"^/v3/auth/tokens$") == 1
    assert fake.count("DELETE", r".*") == 0
    assert all(c.t > 0 for c in fake.calls)


# -- permissions, workspaces, quotas ---------------------------------------------------------


def _modelarts(fake: FakeCloud, method: str, path: str, **kwargs) -> httpx.Response:
    token = iam_token(fake).headers["X-Subject-Token"]
    return api(fake, token, method, f"/v{path[1]}/{fake.project_id}{path[2:]}", **kwargs)


def test_permission_answers_use_only_the_sdk_response_models_fields(fake):
    """Each permission operation's answer, in every state the controls make, names only fields
    of its SDK response model (recursively), so the fake invents nothing the cloud lacks."""
    models = {op.name: op.response_model for op in load_operations()}
    workspace = fake.permissions.add_workspace("team", granted=True)
    fake.permissions.agency_for_all_users()
    fake.permissions.set_training_quota(5, used=2)
    answers = {
        "get_authorizations": _modelarts(fake, "GET", "/2/authorizations"),
        "list_workspace": _modelarts(fake, "GET", "/1/workspaces", params={"limit": 10}),
        "show_workspace": _modelarts(fake, "GET", f"/1/workspaces/{workspace}"),
        "show_workspace_quotas": _modelarts(fake, "GET", f"/1/workspaces/{workspace}/quotas"),
        "show_training_quotas": _modelarts(
            fake, "GET", "/2/training-quotas", params={"resource": "job-num"}
        ),
        "validate_authorization": _modelarts(
            fake,
            "POST",
            f"/1/workspaces/{workspace}/auth",
            json={"requests": [{"action_id": "1", "action": "modelarts:trainJob:create"}]},
        ),
    }
    for name, response in answers.items():
        assert response.status_code == 200, (name, response.text)
        assert unknown_field(response.json(), models[name]) is None, (name, response.json())
    # The check itself would see an invented field.
    invented = {**answers["show_workspace"].json(), "members": []}
    assert unknown_field(invented, models["show_workspace"]) == "members"
    assert answers["show_workspace"].json()["grants"][0]["user_name"] == fake.iam_user
    assert answers["validate_authorization"].json()["results"][0]["verdict"] == "allow"


def test_the_backend_and_the_fake_name_the_same_iam_actions():
    """The fake denies by the names the backend reports, so a denial test means something."""
    assert set(_ACTIONS.values()) <= set(ACTIONS.values()), set(_ACTIONS.values()) - set(
        ACTIONS.values()
    )


def test_the_official_sdk_reads_the_permission_answers(fake):
    credentials = BasicCredentials(fake.ak, fake.sk, fake.project_id)
    client = (
        ModelArtsClient.new_builder()
        .with_credentials(credentials)
        .with_region(Region(fake.region, fake.base_url))
        .build()
    )
    fake.deny("modelarts:trainJob:delete")
    assert client.get_authorizations(GetAuthorizationsRequest()).auth[0].user_id == (
        fake.iam.user_id
    )
    assert [w.id for w in client.list_workspace(ListWorkspaceRequest()).workspaces] == ["0"]
    quotas = client.show_training_quotas(ShowTrainingQuotasRequest(resource="job-num")).quotas
    assert (quotas[0].resource, quotas[0].quota) == ("job-num", -1)
    asked = ValidateAuthorizationRequestBody(
        requests=[
            AuthRequests(action_id="a", action="modelarts:trainJob:create"),
            AuthRequests(action_id="b", action="modelarts:trainJob:delete"),
        ]
    )
    results = client.validate_authorization(
        ValidateAuthorizationRequest(workspace_id="0", body=asked)
    ).results
    assert [(r.action_id, r.verdict) for r in results] == [("a", "allow"), ("b", "deny")]


def _command_job(name: str) -> dict:
    body = job_body(name)
    body["algorithm"] = {"command": "true", "engine": body["algorithm"]["engine"]}
    return body


def test_agency_workspaces_and_bucket_rights_gate_the_operations(fake):
    fake.buckets["data"] = {"x": b"1"}
    # Without the user's agency, what ModelArts does on the user's behalf is refused, by name.
    fake.permissions.remove_agency()
    r = _modelarts(fake, "POST", "/2/training-jobs", json=_command_job("no-agency"))
    assert r.status_code == 403 and "agency (委托) of user alice" in r.json()["error_msg"]
    fake.permissions.agency_for_all_users()
    # A workspace without a grant: neither listed as accessible nor usable.
    hidden = fake.permissions.add_workspace("hidden", granted=False)
    mine = fake.permissions.add_workspace("mine")
    listed = _modelarts(fake, "GET", "/1/workspaces", params={"filter_accessible": "true"})
    assert [w["id"] for w in listed.json()["workspaces"]] == ["0", mine]
    body = _command_job("elsewhere")
    body["metadata"]["workspace_id"] = hidden
    assert _modelarts(fake, "POST", "/2/training-jobs", json=body).status_code == 403
    # Jobs are listed only in their own workspace.
    body["metadata"]["workspace_id"] = mine
    assert _modelarts(fake, "POST", "/2/training-jobs", json=body).status_code == 201

    def names(workspace_id):
        search = {"limit": 50, "offset": 0, "workspace_id": workspace_id}
        found = _modelarts(fake, "POST", "/2/training-job-searches", json=search).json()
        return [i["metadata"]["name"] for i in found["items"]]

    assert names(mine) == ["elsewhere"] and names("0") == []
    # A bucket policy denying one kind of access denies only that one.
    fake.deny_obs("data", "put", "delete")
    assert obs_request(fake, "GET", "data").status_code == 200
    assert obs_request(fake, "GET", "data", "x").status_code == 200
    assert obs_request(fake, "PUT", "data", "y", body=b"2").status_code == 403
    assert obs_request(fake, "DELETE", "data", "x").status_code == 403
    # Workspaces not enabled for the account: the workspace API is not there for it.
    fake.permissions.workspaces_enabled = False
    assert _modelarts(fake, "GET", "/1/workspaces").status_code == 404

"""The ModelArts credential chain and request signer, checked against huaweicloudsdkcore."""

import asyncio
import datetime
import json
import logging
import threading
import time
from contextlib import asynccontextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest

from jupyter_modelarts.backends.modelarts.auth import (
    CredentialChain,
    Credentials,
    IamToken,
    ModelArtsAuth,
    sign_request,
)
from jupyter_modelarts.models import BackendUnavailable, PermissionDenied

# Every secret contains "SECRET", so one substring check covers them all; the AK does not.
AK = "AKIDEXAMPLE0123456789"
SK = "SK-SECRET-abcdefghijklmnopqrstuvwxyz"
SECURITY_TOKEN = "STS-SECRET-gQpjbi1ub3J0aC00"
PASSWORD = "PW-SECRET-correct-horse"
PROJECT = "0123456789abcdef0123456789abcdef"
DATE = "20250101T000000Z"
HOST = "https://modelarts.cn-north-4.myhuaweicloud.com"


# ---------------------------------------------------------------------------------------------
# Signer: byte-identical to huaweicloudsdkcore


def sdk_sign(request: httpx.Request, sdk_query, token, project_id):
    """Sign a copy of ``request`` with the SDK, given the same headers, path, query and body."""
    headers = {k.decode(): v.decode("utf-8") for k, v in request.headers.raw}
    headers.setdefault("X-Sdk-Date", DATE)
    sdk_request = SdkRequest(
        method=request.method,
        schema=request.url.scheme,
        host=request.url.netloc.decode(),
        resource_path=request.url.raw_path.split(b"?")[0].decode(),
        query_params=list(sdk_query),
        header_params=headers,
        body=request.content,
    )
    creds = BasicCredentials(AK, SK, project_id)
    if token:
        creds = creds.with_security_token(token)
    return creds.sign_request(sdk_request)


# (id, method, URL or path as given to httpx, path as the SDK client encodes it, httpx params,
#  SDK query_params, headers, body, security token, project id)
CASES = [
    ("get-plain", "GET", "/v1/p/notebooks", None, None, [], {}, b"", None, None),
    (
        "get-json-query-project",
        "GET",
        "/v1/p/notebooks",
        None,
        [("limit", "10"), ("offset", "0"), ("status", "RUNNING")],
        [("limit", 10), ("offset", 0), ("status", "RUNNING")],
        {"Content-Type": "application/json"},
        b"",
        None,
        PROJECT,
    ),
    (
        "post-json",
        "POST",
        f"/v2/{PROJECT}/training-jobs",
        None,
        None,
        [],
        {"Content-Type": "application/json;charset=UTF-8"},
        json.dumps({"kind": "job", "metadata": {"name": "训练"}}, ensure_ascii=False).encode(),
        None,
        PROJECT,
    ),
    (
        "patch-json",
        "PATCH",
        f"/v1/{PROJECT}/notebooks/nb-1/lease",
        None,
        None,
        [],
        {"Content-Type": "application/json"},
        b'{"duration":3600000,"type":"TIMING"}',
        None,
        PROJECT,
    ),
    (
        "delete-empty",
        "DELETE",
        f"/v1/{PROJECT}/notebooks/nb-1/storage/st-1",
        None,
        None,
        [],
        {"Content-Type": "application/json"},
        b"",
        None,
        None,
    ),
    (
        "unicode-path",
        "GET",
        "/v1/p/obs/数据集/模型 v2",
        "/v1/p/obs/%E6%95%B0%E6%8D%AE%E9%9B%86/%E6%A8%A1%E5%9E%8B%20v2",
        None,
        [],
        {},
        b"",
        None,
        None,
    ),
    (
        "percent-encoded-path",
        "GET",
        "/v1/p/obs/a%20b/c%2Bd/e~f/g%40h",
        None,
        None,
        [],
        {},
        b"",
        None,
        None,
    ),
    (
        "repeated-keys",
        "GET",
        "/v1/p/images",
        None,
        [("tag", "b"), ("x", "1"), ("tag", "a")],
        [("tag", ["b", "a"]), ("x", "1")],
        {},
        b"",
        None,
        None,
    ),
    (
        "empty-values",
        "GET",
        "/v1/p/images",
        None,
        [("empty", ""), ("k", "v"), ("also", "")],
        [("empty", ""), ("k", "v"), ("also", "")],
        {},
        b"",
        None,
        None,
    ),
    (
        "unicode-query",
        "GET",
        "/v1/p/notebooks",
        None,
        [("name", "数据 集"), ("q", "a+b/c=d&e")],
        [("name", "数据 集"), ("q", "a+b/c=d&e")],
        {},
        b"",
        None,
        None,
    ),
    (
        "tilde-and-bool",
        "GET",
        "/v1/p/notebooks",
        None,
        [("path", "~/x y"), ("sort~key", "a*b"), ("flag", "true")],
        [("path", "~/x y"), ("sort~key", "a*b"), ("flag", True)],
        {},
        b"",
        None,
        None,
    ),
    (
        "binary-octet-stream",
        "PUT",
        "/bucket/code/train.tar.gz",
        None,
        None,
        [],
        {"Content-Type": "application/octet-stream"},
        bytes(range(256)) * 4,
        None,
        None,
    ),
    (
        "text-plain-empty-body",
        "POST",
        "/v1/p/notes",
        None,
        None,
        [],
        {"Content-Type": "text/plain"},
        b"",
        None,
        None,
    ),
    (
        "bson-is-signed",
        "POST",
        "/v1/p/blobs",
        None,
        None,
        [],
        {"Content-Type": "application/bson"},
        b"\x05\x00\x00\x00\x00",
        None,
        None,
    ),
    (
        "temporary-credentials",
        "POST",
        f"/v1/{PROJECT}/notebooks/nb-1/storage",
        None,
        None,
        [],
        {"Content-Type": "application/json;charset=UTF-8"},
        b'{"uri":"obs://bucket/data/","mount_path":"/data/x/"}',
        SECURITY_TOKEN,
        PROJECT,
    ),
    (
        "underscore-header-unsigned",
        "GET",
        "/v1/p/notebooks",
        None,
        None,
        [],
        {"X_Custom_Header": "not signed", "X-Custom": "  padded value  ", "User-Agent": "ua/1"},
        b"",
        None,
        PROJECT,
    ),
    (
        "unicode-header-value-and-port",
        "GET",
        "https://api.example.com:8443/v1/p/notebooks",
        None,
        None,
        [],
        {"X-Name": "训练任务".encode()},
        b"",
        SECURITY_TOKEN,
        None,
    ),
]


@pytest.mark.parametrize(
    "method, path, sdk_path, params, sdk_query, headers, body, token, project_id",
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
@pytest.mark.parametrize("date_via", ["header", "now"])
def test_sign_request_matches_sdk(
    method, path, sdk_path, params, sdk_query, headers, body, token, project_id, date_via
):
    url = path if path.startswith("https://") else HOST + path
    request = httpx.Request(method, url, params=params, headers=headers, content=body or None)
    sdk = sdk_sign(request, sdk_query, token, project_id)
    if sdk_path:
        assert sdk.resource_path == sdk_path

    if date_via == "header":
        request.headers["X-Sdk-Date"] = DATE
        sign_request(request, Credentials(AK, SK, token), project_id=project_id)
    else:
        now = datetime.datetime(
            2025, 1, 1, 8, tzinfo=datetime.timezone(datetime.timedelta(hours=8))
        )
        sign_request(request, Credentials(AK, SK, token), project_id=project_id, now=now)

    auth = request.headers["Authorization"]
    assert auth == sdk.header_params["Authorization"]
    signed = auth.split("SignedHeaders=")[1].split(",")[0].split(";")
    sdk_headers = {k.lower(): v for k, v in sdk.header_params.items()}
    for name in signed:
        assert request.headers.raw and request.headers.get_list(name) == [
            sdk_headers[name].encode("iso-8859-1").decode("utf-8")
        ], name
    assert {k.lower() for k in sdk.header_params} == set(request.headers.keys())
    assert str(request.url) == sdk.url
    assert "x_custom_header" not in signed
    if "Content-Type" in headers and not headers["Content-Type"].startswith("application/"):
        assert request.headers["X-Sdk-Content-Sha256"] == "UNSIGNED-PAYLOAD"
    if token:
        assert request.headers["X-Security-Token"] == token
    assert ("X-Project-Id" in request.headers) == bool(project_id)


def test_reference_vector():
    request = httpx.Request(
        "PATCH",
        f"{HOST}/v1/{PROJECT}/notebooks/11111111-2222-3333-4444-555555555555/lease",
        headers={"Content-Type": "application/json", "X-Sdk-Date": DATE},
        content=b'{"duration":7200000,"type":"TIMING"}',
    )
    del request.headers["Content-Length"]  # the vector was computed without it
    sign_request(request, Credentials("AKEXAMPLE", "SKEXAMPLE"), project_id=PROJECT)
    assert request.headers["Authorization"] == (
        "SDK-HMAC-SHA256 Access=AKEXAMPLE, "
        "SignedHeaders=content-type;host;x-project-id;x-sdk-date, "
        "Signature=f28e988be3f60261c404dcaea6ad2caf5e84c5db556d3ae0276c81a5450e38f4"
    )


def test_existing_authorization_is_kept_but_token_headers_set():
    request = httpx.Request("GET", f"{HOST}/v1/p/x", headers={"Authorization": "Bearer mine"})
    sign_request(request, Credentials(AK, SK, SECURITY_TOKEN), project_id=PROJECT)
    sdk = sdk_sign(
        httpx.Request("GET", f"{HOST}/v1/p/x", headers={"Authorization": "Bearer mine"}),
        [],
        SECURITY_TOKEN,
        PROJECT,
    )
    assert request.headers["Authorization"] == sdk.header_params["Authorization"] == "Bearer mine"
    assert request.headers["X-Security-Token"] == SECURITY_TOKEN
    assert request.headers["X-Project-Id"] == PROJECT
    assert "X-Sdk-Date" not in request.headers


def test_hop_by_hop_headers_are_not_signed():
    client = httpx.Client()
    request = client.build_request("GET", f"{HOST}/v1/p/notebooks", params={"limit": 1})
    client.close()
    assert request.headers["Connection"] == "keep-alive"
    sign_request(request, Credentials(AK, SK), now=datetime.datetime(2025, 1, 1))
    signed = request.headers["Authorization"].split("SignedHeaders=")[1].split(",")[0]
    assert signed == "accept;accept-encoding;host;user-agent;x-sdk-date"


# ---------------------------------------------------------------------------------------------
# A tiny IAM / metadata / ModelArts stand-in on 127.0.0.1


def iso(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ"
    )


class FakeCloud:
    """Routes (method, path) to handlers; records every hit."""

    def __init__(self):
        self.routes = {}
        self.hits = []
        self.delay = 0.0
        self.token_ttl = 3600.0
        self.keys_ttl = 3600.0
        self.tokens_issued = 0
        self.routes[("POST", "/v3/auth/tokens")] = self.password_token
        self.routes[("POST", "/v3.0/OS-CREDENTIAL/securitytokens")] = self.exchange
        self.routes[("PUT", "/meta-data/latest/api/token")] = lambda h, b: (200, {}, b"MD-SECRET")
        self.routes[("GET", "/openstack/latest/securitykey")] = self.metadata_keys

    def count(self, method, path):
        return sum(1 for m, p, _, _ in self.hits if (m, p) == (method, path))

    def password_token(self, headers, body):
        self.tokens_issued += 1
        token = f"TOKEN-SECRET-{self.tokens_issued}"
        payload = {
            "token": {
                "expires_at": iso(time.time() + self.token_ttl),
                "project": {"id": PROJECT, "name": "cn-north-4"},
            }
        }
        return 201, {"X-Subject-Token": token}, json.dumps(payload).encode()

    def exchange(self, headers, body):
        credential = {
            "access": f"TMPAK{self.count('POST', '/v3.0/OS-CREDENTIAL/securitytokens')}XYZ",
            "secret": "TMPSK-SECRET",
            "securitytoken": "STS-SECRET-exchanged",
            "expires_at": iso(time.time() + self.keys_ttl),
        }
        return 201, {}, json.dumps({"credential": credential}).encode()

    def metadata_keys(self, headers, body):
        credential = {
            "access": "MDAKEXAMPLE",
            "secret": "MDSK-SECRET",
            "securitytoken": "STS-SECRET-metadata",
            "expires_at": iso(time.time() + self.keys_ttl),
        }
        return 200, {}, json.dumps({"credential": credential}).encode()


@pytest.fixture
def cloud():
    fake = FakeCloud()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _serve(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            fake.hits.append((self.command, self.path, dict(self.headers), body))
            time.sleep(fake.delay)
            route = fake.routes.get((self.command, self.path.split("?")[0]))
            status, headers, payload = route(self.headers, body) if route else (404, {}, b"{}")
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch, tmp_path):
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


ENV = {"HUAWEICLOUD_SDK_AK": AK, "HUAWEICLOUD_SDK_SK": SK, "HUAWEICLOUD_SDK_PROJECT_ID": "env-p"}


def write_credentials(tmp_path, text=None):
    path = tmp_path / "credentials"
    path.write_text(
        text
        or f"[basic]\nak = FILEAKEXAMPLE\nsk = {SK}\nproject_id = file-p\n"
        f"security_token = {SECURITY_TOKEN}\n"
    )
    return str(path)


@asynccontextmanager
async def chain_of(cloud, *, env=None, credentials_file=None, iam=True, metadata=True, **kw):
    chain = CredentialChain(
        env=env or {},
        credentials_file=credentials_file,
        iam_endpoint=cloud.url,
        region="cn-north-4",
        iam_user="alice" if iam else None,
        iam_password=PASSWORD if iam else None,
        iam_domain="acme" if iam else None,
        metadata_endpoint=cloud.url if metadata else None,
        **kw,
    )
    try:
        yield chain
    finally:
        await chain.aclose()


# ---------------------------------------------------------------------------------------------
# Chain order and caching


@pytest.mark.asyncio
async def test_env_beats_file_iam_and_metadata(cloud, tmp_path):
    path = write_credentials(tmp_path)
    env = {**ENV, "HUAWEICLOUD_SDK_SECURITY_TOKEN": SECURITY_TOKEN}
    async with chain_of(cloud, env=env, credentials_file=path) as chain:
        creds = await chain.get()
        assert isinstance(creds, Credentials)
        assert (creds.ak, creds.sk, creds.security_token) == (AK, SK, SECURITY_TOKEN)
        assert creds.source == "environment (HUAWEICLOUD_SDK_AK)"
        assert chain.project_id == "env-p"
        assert await chain.get_keys() is creds
    assert cloud.hits == []


@pytest.mark.asyncio
async def test_file_beats_iam_and_metadata(cloud, tmp_path):
    path = write_credentials(tmp_path)
    # An AK without its SK is skipped, as the SDK does.
    async with chain_of(cloud, env={"HUAWEICLOUD_SDK_AK": AK}, credentials_file=path) as chain:
        creds = await chain.get()
        assert (creds.ak, creds.security_token) == ("FILEAKEXAMPLE", SECURITY_TOKEN)
        assert creds.source == f"credentials file {path}"
        assert chain.project_id == "file-p"
    assert cloud.hits == []


@pytest.mark.asyncio
async def test_file_from_env_variable_and_global_section(cloud, tmp_path):
    path = write_credentials(tmp_path, f"[global]\nak = GLOBALAK\nsk = {SK}\n")
    env = {"HUAWEICLOUD_SDK_CREDENTIALS_FILE": path}
    async with chain_of(cloud, env=env, iam=False, metadata=False) as chain:
        assert (await chain.get()).ak == "GLOBALAK"
        assert chain.project_id is None


@pytest.mark.asyncio
async def test_default_file_under_home(cloud, tmp_path):
    (tmp_path / "home" / ".huaweicloud").mkdir(parents=True)
    write_credentials(tmp_path / "home" / ".huaweicloud")
    async with chain_of(cloud, iam=False, metadata=False) as chain:
        assert (await chain.get()).ak == "FILEAKEXAMPLE"


@pytest.mark.asyncio
async def test_iam_beats_metadata(cloud, tmp_path):
    async with chain_of(cloud, credentials_file=str(tmp_path / "none")) as chain:
        token = await chain.get()
        assert isinstance(token, IamToken)
        assert token.token == "TOKEN-SECRET-1" and token.project_id == PROJECT
        assert chain.project_id == PROJECT
        assert token.expires_at == pytest.approx(time.time() + 3600, abs=5)
    assert cloud.count("PUT", "/meta-data/latest/api/token") == 0
    body = json.loads(cloud.hits[0][3])
    assert body == {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": "alice", "password": PASSWORD, "domain": {"name": "acme"}}
                },
            },
            "scope": {"project": {"name": "cn-north-4"}},
        }
    }


@pytest.mark.asyncio
async def test_metadata_last(cloud, tmp_path):
    async with chain_of(cloud, credentials_file=str(tmp_path / "none"), iam=False) as chain:
        creds = await chain.get()
        assert (creds.ak, creds.sk, creds.security_token) == (
            "MDAKEXAMPLE",
            "MDSK-SECRET",
            "STS-SECRET-metadata",
        )
        assert creds.source == "metadata service"
        assert await chain.get() is creds
    assert [(m, p) for m, p, _, _ in cloud.hits] == [
        ("PUT", "/meta-data/latest/api/token"),
        ("GET", "/openstack/latest/securitykey"),
    ]
    assert cloud.hits[0][2]["X-Metadata-Token-Ttl-Seconds"] == "21600"
    assert cloud.hits[1][2]["X-Metadata-Token"] == "MD-SECRET"


@pytest.mark.asyncio
async def test_metadata_without_session_tokens(cloud, tmp_path):
    cloud.routes[("PUT", "/meta-data/latest/api/token")] = lambda h, b: (404, {}, b"{}")
    async with chain_of(cloud, credentials_file=str(tmp_path / "none"), iam=False) as chain:
        assert (await chain.get()).ak == "MDAKEXAMPLE"
    assert "X-Metadata-Token" not in cloud.hits[1][2]


@pytest.mark.asyncio
async def test_metadata_refreshed_ten_minutes_before_expiry(cloud, tmp_path):
    cloud.keys_ttl = 540
    async with chain_of(cloud, credentials_file=str(tmp_path / "none"), iam=False) as chain:
        await chain.get()
        await chain.get()
    assert cloud.count("GET", "/openstack/latest/securitykey") == 2


@pytest.mark.asyncio
async def test_token_refreshed_five_minutes_before_expiry(cloud, tmp_path):
    cloud.token_ttl = 240
    async with chain_of(cloud, credentials_file=str(tmp_path / "none")) as chain:
        first = await chain.get()
        second = await chain.get()
    assert (first.token, second.token) == ("TOKEN-SECRET-1", "TOKEN-SECRET-2")

    cloud.token_ttl = 3600
    async with chain_of(cloud, credentials_file=str(tmp_path / "none")) as chain:
        assert await chain.get() is await chain.get()
        chain.invalidate()
        assert (await chain.get()).token == "TOKEN-SECRET-4"
    assert cloud.count("POST", "/v3/auth/tokens") == 4


@pytest.mark.asyncio
async def test_one_refresh_for_concurrent_callers(cloud, tmp_path):
    cloud.delay = 0.3
    async with chain_of(cloud, credentials_file=str(tmp_path / "none")) as chain:
        results = await asyncio.gather(*(chain.get() for _ in range(20)))
        assert all(r is results[0] for r in results)
        keys = await asyncio.gather(*(chain.get_keys() for _ in range(20)))
        assert all(k is keys[0] for k in keys)
    assert cloud.count("POST", "/v3/auth/tokens") == 1
    assert cloud.count("POST", "/v3.0/OS-CREDENTIAL/securitytokens") == 1


@pytest.mark.asyncio
async def test_get_keys_exchanges_the_token(cloud, tmp_path):
    async with chain_of(cloud, credentials_file=str(tmp_path / "none")) as chain:
        keys = await chain.get_keys()
        assert (keys.ak, keys.sk, keys.security_token) == (
            "TMPAK1XYZ",
            "TMPSK-SECRET",
            "STS-SECRET-exchanged",
        )
        assert keys.source == "IAM token exchange"
        assert await chain.get_keys() is keys
        cloud.keys_ttl = 200
        chain.invalidate()
        short = await chain.get_keys()
        assert short.ak == "TMPAK2XYZ"
        assert (await chain.get_keys()).ak == "TMPAK3XYZ"
    exchange = [json.loads(b) for m, p, _, b in cloud.hits if p.startswith("/v3.0/")]
    assert exchange[0] == {
        "auth": {
            "identity": {
                "methods": ["token"],
                "token": {"id": "TOKEN-SECRET-1", "duration_seconds": 3600},
            }
        }
    }
    assert exchange[1]["auth"]["identity"]["token"]["id"] == "TOKEN-SECRET-2"


@pytest.mark.asyncio
async def test_missing_everything(cloud, tmp_path):
    async with chain_of(cloud, iam=False, metadata=False) as chain:
        assert chain.describe().startswith("not resolved yet")
        with pytest.raises(BackendUnavailable) as info:
            await chain.get()
    message = str(info.value)
    assert "HUAWEICLOUD_SDK_AK not set" in message
    assert f"{tmp_path}/home/.huaweicloud/credentials: not found" in message
    assert "IAM password: no user name and password configured" in message
    assert "metadata service: not enabled" in message
    assert "Configure one of" in message
    assert cloud.hits == []


@pytest.mark.asyncio
async def test_describe(cloud, tmp_path):
    async with chain_of(cloud, env=ENV) as chain:
        await chain.get()
        assert chain.describe() == "environment (HUAWEICLOUD_SDK_AK): AK/SK AKID…"
    async with chain_of(cloud, credentials_file=str(tmp_path / "none")) as chain:
        await chain.get()
        assert chain.describe() == "IAM password: token of IAM user 'alice'"


# ---------------------------------------------------------------------------------------------
# ModelArtsAuth


def modelarts_route(cloud, codes):
    """GET /v1/p/notebooks answers 401 with each code in turn, then 200."""
    replies = list(codes)

    def handle(headers, body):
        if replies:
            return 401, {}, json.dumps({"error_code": replies.pop(0), "error_msg": "no"}).encode()
        return 200, {}, b'{"data": []}'

    cloud.routes[("GET", "/v1/p/notebooks")] = handle


def notebook_hits(cloud):
    return [headers for m, p, headers, _ in cloud.hits if p.startswith("/v1/p/notebooks")]


@pytest.mark.asyncio
async def test_auth_retries_once_on_expired_token(cloud, tmp_path):
    modelarts_route(cloud, ["ModelArts.0202"])
    async with chain_of(cloud, credentials_file=str(tmp_path / "none")) as chain:
        async with httpx.AsyncClient(auth=ModelArtsAuth(chain, "p")) as client:
            response = await client.get(f"{cloud.url}/v1/p/notebooks")
    assert response.status_code == 200
    hits = notebook_hits(cloud)
    assert [h["X-Auth-Token"] for h in hits] == ["TOKEN-SECRET-1", "TOKEN-SECRET-2"]
    assert all(h["X-Project-Id"] == "p" for h in hits)


@pytest.mark.asyncio
async def test_auth_retries_only_once(cloud, tmp_path):
    modelarts_route(cloud, ["ModelArts.0203", "ModelArts.0202", "ModelArts.0202"])
    async with chain_of(cloud, credentials_file=str(tmp_path / "none")) as chain:
        async with httpx.AsyncClient(auth=ModelArtsAuth(chain, None)) as client:
            response = await client.get(f"{cloud.url}/v1/p/notebooks")
    assert response.status_code == 401
    hits = notebook_hits(cloud)
    assert len(hits) == 2
    assert hits[0]["X-Project-Id"] == PROJECT  # from the token when none is given


@pytest.mark.asyncio
async def test_auth_does_not_retry_other_401(cloud, tmp_path):
    modelarts_route(cloud, ["ModelArts.0201"])
    async with chain_of(cloud, credentials_file=str(tmp_path / "none")) as chain:
        async with httpx.AsyncClient(auth=ModelArtsAuth(chain, "p")) as client:
            response = await client.get(f"{cloud.url}/v1/p/notebooks")
    assert response.status_code == 401
    assert len(notebook_hits(cloud)) == 1
    assert cloud.count("POST", "/v3/auth/tokens") == 1


@pytest.mark.asyncio
async def test_auth_resigns_aksk_on_apigw_401(cloud, tmp_path):
    modelarts_route(cloud, ["APIGW.0301"])
    async with chain_of(cloud, credentials_file=str(tmp_path / "none"), iam=False) as chain:
        async with httpx.AsyncClient(auth=ModelArtsAuth(chain, "p")) as client:
            response = await client.get(f"{cloud.url}/v1/p/notebooks", params={"limit": "5 x"})
    assert response.status_code == 200
    hits = notebook_hits(cloud)
    assert len(hits) == 2
    for headers in hits:
        assert headers["Authorization"].startswith("SDK-HMAC-SHA256 Access=MDAKEXAMPLE, ")
        assert headers["X-Security-Token"] == "STS-SECRET-metadata"
        assert headers["X-Project-Id"] == "p"
    assert cloud.count("GET", "/openstack/latest/securitykey") == 2
    assert [p for m, p, _, _ in cloud.hits if p.startswith("/v1/")][
        0
    ] == "/v1/p/notebooks?limit=5%20x"


def test_sync_client_refused(cloud):
    chain = CredentialChain(env=ENV, credentials_file=None, iam_endpoint=cloud.url, region="r")
    with httpx.Client(auth=ModelArtsAuth(chain, "p")) as client:
        with pytest.raises(RuntimeError, match="use an AsyncClient"):
            client.get(f"{cloud.url}/v1/p/notebooks")


# ---------------------------------------------------------------------------------------------
# Secret hygiene


def echo(status, code="IAM.0004"):
    """An upstream error that (badly) echoes the request body and headers back."""

    def handle(headers, body):
        text = f"bad request {body.decode()} {dict(headers)}"
        return status, {}, json.dumps({"error_code": code, "error_msg": text}).encode()

    return handle


@pytest.mark.asyncio
async def test_no_secret_leaks(cloud, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    texts = []

    async def expect_error(chain, method="get", kind=Exception):
        with pytest.raises(kind) as info:
            await getattr(chain, method)()
        texts.append(str(info.value))
        texts.append(repr(info.value))
        texts.append(json.dumps(info.value.to_json()))
        return info.value

    none = str(tmp_path / "none")
    # IAM refuses, echoing the password back; IAM breaks; IAM says nothing useful.
    for status, kind in (
        (401, PermissionDenied),
        (403, PermissionDenied),
        (500, BackendUnavailable),
    ):
        cloud.routes[("POST", "/v3/auth/tokens")] = echo(status)
        async with chain_of(cloud, credentials_file=none) as chain:
            error = await expect_error(chain, kind=kind)
            assert error.code == "IAM.0004" and "***" in error.message
            texts.append(chain.describe())
    cloud.routes[("POST", "/v3/auth/tokens")] = lambda h, b: (201, {}, b'{"token": {}}')
    async with chain_of(cloud, credentials_file=none) as chain:
        await expect_error(chain, kind=BackendUnavailable)
    # The token works, the exchange fails and echoes the token.
    cloud.routes[("POST", "/v3/auth/tokens")] = cloud.password_token
    cloud.routes[("POST", "/v3.0/OS-CREDENTIAL/securitytokens")] = echo(403, "IAM.0002")
    async with chain_of(cloud, credentials_file=none) as chain:
        token = await chain.get()
        texts += [repr(token), str(token), chain.describe()]
        await expect_error(chain, "get_keys", PermissionDenied)
    # IAM unreachable.
    async with chain_of(cloud, credentials_file=none) as chain:
        chain._iam = "http://127.0.0.1:9"
        await expect_error(chain, kind=BackendUnavailable)
    # Metadata: no agency (echoing the session token), malformed, unreachable.
    cloud.routes[("GET", "/openstack/latest/securitykey")] = echo(401, "Please configure agency")
    async with chain_of(cloud, credentials_file=none, iam=False) as chain:
        await expect_error(chain, kind=BackendUnavailable)
    cloud.routes[("GET", "/openstack/latest/securitykey")] = lambda h, b: (200, {}, b"not json")
    async with chain_of(cloud, credentials_file=none, iam=False) as chain:
        await expect_error(chain, kind=BackendUnavailable)
    async with chain_of(cloud, credentials_file=none, iam=False) as chain:
        chain._metadata = "http://127.0.0.1:9"
        await expect_error(chain, kind=BackendUnavailable)
    # Broken credentials files whose bad lines hold the SK.
    for text in (f"sk = {SK}\n[basic]\nak = X\n", f"[basic]\nak = X\n{SK}\n", "[basic]\nak = X\n"):
        path = write_credentials(tmp_path, text)
        async with chain_of(cloud, credentials_file=path, iam=False, metadata=False) as chain:
            error = await expect_error(chain, kind=BackendUnavailable)
            assert f"credentials file {path}: " in error.message
    # Working sources and the auth flow with a failing retry.
    for env in (ENV, {**ENV, "HUAWEICLOUD_SDK_SECURITY_TOKEN": SECURITY_TOKEN}):
        async with chain_of(cloud, env=env) as chain:
            creds = await chain.get()
            texts += [repr(creds), str(creds), chain.describe(), repr(chain), f"{creds}"]
    modelarts_route(cloud, ["ModelArts.0202", "ModelArts.0202"])
    async with chain_of(cloud, credentials_file=none) as chain:
        async with httpx.AsyncClient(auth=ModelArtsAuth(chain, "p")) as client:
            await client.get(f"{cloud.url}/v1/p/notebooks")
        texts.append(repr(await chain.get()))

    logged = [r.getMessage() for r in caplog.records] + [r.exc_text or "" for r in caplog.records]
    assert any("Huawei Cloud credentials" in line for line in logged)
    for text in texts + logged:
        assert "SECRET" not in text, text
        assert AK[:5] not in text, text
    assert "Credentials(source='environment (HUAWEICLOUD_SDK_AK)', ak='AKID…')" in texts

"""The OBS client against esdk-obs-python: identical signatures, and a signature-checking server."""

import asyncio
import contextlib
import email.utils
import hashlib
import json
import logging
import os
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from base64 import b64encode
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx
import pytest
from obs import util as obs_util
from obs.auth import Authentication
from obs.convertor import Adapter

from jupyter_modelarts.backends.modelarts import obs as obs_module
from jupyter_modelarts.backends.modelarts import obs_files
from jupyter_modelarts.backends.modelarts.auth import Credentials
from jupyter_modelarts.backends.modelarts.obs import (
    ObsClient,
    authorization,
    canonical_resource,
    string_to_sign,
)
from jupyter_modelarts.backends.modelarts.obs_files import (
    MiB,
    UploadResult,
    digest_file,
    upload_dir,
)
from jupyter_modelarts.backends.modelarts.retry import RetryPolicy
from jupyter_modelarts.models import (
    BackendUnavailable,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    UpstreamError,
    parse_obs_uri,
)

AK, SK = "AKEXAMPLE0000000", "SKexample/secret+key0000000000000000000"
TEMP_AK, TEMP_SK, TOKEN = "TMPAK00000000000", "tmp-sk-5ecret", "gQpjbi1ub3J0aC00-t0ken-5ecret"
DATE = "Wed, 01 Jan 2025 00:00:00 GMT"
MD5 = "1B2M2Y8AsgTpgAmY7PhCfg=="
REGION_HOST = "obs.cn-north-4.myhuaweicloud.com"


def sdk_sign(method, bucket, key, query, headers, *, path_style, ak=AK, sk=SK):
    """esdk-obs-python's V2 signer, as ObsClient uses it for the native OBS signature."""
    auth = Authentication(ak, sk, path_style, Adapter("obs"), REGION_HOST, False)
    ret = auth.doAuth(method, bucket, key, query, headers)
    return ret["Authorization"], ret["CanonicalString"]


SIGN_CASES = {
    "put-md5-type": (
        "PUT",
        "bkt",
        "code/train.py",
        {},
        {"Content-MD5": MD5, "Content-Type": "text/x-python"},
    ),
    "list-prefix-marker": (
        "GET",
        "bkt",
        "",
        {"prefix": "code/", "marker": "code/a.py", "max-keys": "1000"},
        {},
    ),
    "list-empty-prefix": ("GET", "bkt", "", {"prefix": "", "marker": ""}, {}),
    "head": ("HEAD", "bkt", "code/train.py", {}, {}),
    "unicode-space-plus": (
        "PUT",
        "bkt",
        "数据/my file+v2 (1)~.py",
        {},
        {"Content-MD5": MD5, "Content-Type": "application/octet-stream"},
    ),
    "security-token": (
        "PUT",
        "bkt",
        "a/b",
        {},
        {"Content-Type": "text/plain", "x-obs-security-token": TOKEN},
    ),
    "meta-headers": (
        "PUT",
        "bkt",
        "a/b",
        {},
        {
            "X-Obs-Meta-Owner": "  alice ",
            "x-obs-meta-a": "1",
            "x-obs-acl": "private",
            "Content-MD5": MD5,
        },
    ),
    "x-obs-date": ("GET", "bkt", "k", {}, {"x-obs-date": DATE}),
    "sub-resources": ("PUT", "bkt", "big.bin", {"uploadId": "abc/=", "partNumber": "3"}, {}),
    "sub-resource-flag": (
        "POST",
        "bkt",
        "big.bin",
        {"uploads": None},
        {"Content-Type": "application/xml"},
    ),
    "copy-source": (
        "PUT",
        "bkt",
        "jobs/b/code/x.py",
        {},
        {"x-obs-copy-source": "/bkt/jobs/a/code/%E6%95%B0%20x.py", "x-obs-meta-md5": "0" * 32},
    ),
    "acl-version-and-prefix": (
        "GET",
        "bkt",
        "k",
        {"acl": None, "versionId": "v1", "prefix": "p"},
        {},
    ),
}


@pytest.mark.parametrize("path_style", [False, True], ids=["virtual-host", "path-style"])
@pytest.mark.parametrize("case", SIGN_CASES.values(), ids=SIGN_CASES.keys())
def test_signature_is_byte_identical_to_esdk(case, path_style):
    method, bucket, key, query, headers = case
    headers = {"Date": DATE, **headers}
    resource = canonical_resource(bucket, key, query.items(), path_style=path_style)
    ours_to_sign = string_to_sign(method, resource, headers)
    ours = authorization(AK, SK, ours_to_sign)
    theirs, theirs_to_sign = sdk_sign(method, bucket, key, query, headers, path_style=path_style)
    assert ours_to_sign == theirs_to_sign
    assert ours == theirs


def test_string_to_sign_layout():
    headers = {
        "Date": DATE,
        "Content-MD5": MD5,
        "Content-Type": "text/plain",
        "x-obs-acl": "private",
    }
    resource = canonical_resource("bkt", "a b", [], path_style=False)
    assert string_to_sign("PUT", resource, headers) == (
        f"PUT\n{MD5}\ntext/plain\n{DATE}\nx-obs-acl:private\n/bkt/a%20b"
    )


@pytest.mark.parametrize("key", ["code/train.py", "数据/my file+v2 (1)~.py", ""])
def test_urls_match_esdk(key):
    async def keys():
        return Credentials(AK, SK)

    virtual = ObsClient(f"https://{REGION_HOST}", keys)
    local = ObsClient("http://127.0.0.1:8123", keys)
    assert not virtual.path_style and local.path_style
    sub, path = obs_util.SubdomainFormat(), obs_util.PathFormat()
    assert virtual._url("bkt", key, "") == sub.get_full_url(
        True, REGION_HOST, 443, "bkt", key, None
    )
    assert local._url("bkt", key, "") == path.get_full_url(
        False, "127.0.0.1", 8123, "bkt", key, None
    )


# ---------------------------------------------------------------------------------------------
# A fake OBS on 127.0.0.1 that checks every signature with esdk-obs-python's signer.

NS = "http://obs.myhwclouds.com/doc/2015-06-30/"


class FakeObs(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.users = {AK: (SK, None), TEMP_AK: (TEMP_SK, TOKEN)}
        self.buckets: dict[str, dict[str, bytes]] = {"bucket-a": {}}
        self.requests: list[tuple[str, str]] = []
        self.fail: dict[str, list[int]] = {}  # method -> statuses to answer next
        self.delay: dict[str, list[float]] = {}  # method -> seconds to stall next
        self.page_size = 2
        self.next_marker = True
        self.bad_etag = False
        self.ids = 0

    def handle_error(self, request, client_address):
        pass  # a stalled request's client has gone; nothing to report

    def count(self, method):
        return sum(m == method for m, _ in self.requests)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeObs

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.answer()

    def do_PUT(self):
        self.answer()

    def reply(self, status, body=b"", headers=()):
        self.server.ids += 1
        self.send_response(status)
        self.send_header("x-obs-request-id", f"req-{self.server.ids:04d}")
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def error(self, status, code, message):
        body = (
            f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code>"
            f"<Message>{message}</Message><RequestId>err-{self.server.ids + 1:04d}</RequestId>"
            "<HostId>fake</HostId></Error>"
        ).encode()
        self.reply(status, body, [("Content-Type", "application/xml")])

    def answer(self):
        srv = self.server
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        url = urlsplit(self.path)
        bucket, _, raw_key = url.path.lstrip("/").partition("/")
        key = unquote(raw_key)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        srv.requests.append((self.command, key))
        if srv.delay.get(self.command):
            time.sleep(srv.delay[self.command].pop(0))
        if srv.fail.get(self.command):
            return self.error(srv.fail[self.command].pop(0), "ServiceUnavailable", "Busy")
        if not self.verified(bucket, key, query):
            return self.error(403, "AccessDenied", "Access Denied")
        objects = srv.buckets.get(bucket)
        if objects is None:
            return self.error(404, "NoSuchBucket", "The specified bucket does not exist")
        if self.command == "PUT":
            if self.headers["Content-MD5"] != b64encode(hashlib.md5(body).digest()).decode():
                return self.error(400, "BadDigest", "Content-MD5 does not match")
            objects[key] = body
            etag = "0" * 32 if srv.bad_etag else hashlib.md5(body).hexdigest()
            return self.reply(200, headers=[("ETag", f'"{etag}"')])
        self.reply(200, self.listing(bucket, objects, query), [("Content-Type", "application/xml")])

    def verified(self, bucket, key, query):
        ak, _, _ = (self.headers.get("Authorization") or "").removeprefix("OBS ").partition(":")
        if ak not in self.server.users:
            return False
        sk, token = self.server.users[ak]
        if self.headers.get("x-obs-security-token") != token:
            return False
        sent = email.utils.parsedate_to_datetime(self.headers["Date"]).timestamp()
        if abs(sent - time.time()) > 900:
            return False
        headers = dict(self.headers.items())
        expected, _ = sdk_sign(
            self.command, bucket, key, query, headers, path_style=True, ak=ak, sk=sk
        )
        return self.headers["Authorization"] == expected

    def listing(self, bucket, objects, query):
        prefix, marker = query.get("prefix", ""), query.get("marker", "")
        keys = sorted(k for k in objects if k.startswith(prefix) and k > marker)
        page = keys[: self.server.page_size]
        root = ET.Element("ListBucketResult", xmlns=NS)
        for name, value in (("Name", bucket), ("Prefix", prefix), ("Marker", marker)):
            ET.SubElement(root, name).text = value
        truncated = len(keys) > len(page)
        ET.SubElement(root, "IsTruncated").text = "true" if truncated else "false"
        if truncated and self.server.next_marker:
            ET.SubElement(root, "NextMarker").text = page[-1]
        for key in page:
            contents = ET.SubElement(root, "Contents")
            ET.SubElement(contents, "Key").text = key
            ET.SubElement(contents, "ETag").text = f'"{hashlib.md5(objects[key]).hexdigest()}"'
            ET.SubElement(contents, "Size").text = str(len(objects[key]))
        return ET.tostring(root, encoding="utf-8", xml_declaration=True)


@pytest.fixture
def fake_obs():
    server = FakeObs()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def client_for(server, creds=None, retries=3, **kwargs):
    creds = creds or Credentials(AK, SK, source="test")

    async def keys():
        return creds

    return ObsClient(
        f"http://127.0.0.1:{server.server_address[1]}",
        keys,
        retry=RetryPolicy(max_retries=retries, base_s=0.01),
        **kwargs,
    )


CODE = {
    "train.py": b"import pkg\nprint('train')\n",
    "pkg/__init__.py": b"",
    "pkg/mod v2+.py": b"x = 1\n" * 1000,
    "数据/说明.txt": "你好".encode(),
    "data/blob.bin": bytes(range(256)) * 300,
}


def write_tree(root, files):
    for rel, data in files.items():
        path = root.joinpath(*rel.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


@pytest.mark.asyncio
async def test_upload_dir_sends_all_then_only_changed(fake_obs, tmp_path):
    write_tree(tmp_path, CODE)
    # Neighbours outside the prefix must neither be listed nor count as uploaded.
    fake_obs.buckets["bucket-a"].update({"jobs/code-old/train.py": b"old", "other/x": b"y"})
    dest = parse_obs_uri("obs://bucket-a/jobs/code/")
    total = sum(map(len, CODE.values()))
    obs = client_for(fake_obs)
    calls = []
    result = await upload_dir(
        obs, str(tmp_path), sorted(CODE), dest, progress=lambda *a: calls.append(a)
    )
    assert result == UploadResult(uploaded=5, skipped=0, bytes_uploaded=total)
    stored = fake_obs.buckets["bucket-a"]
    assert {k: v for k, v in stored.items() if k.startswith("jobs/code/")} == {
        f"jobs/code/{rel}": data for rel, data in CODE.items()
    }
    assert calls[0] == (0, 5, 0, total) and calls[-1] == (5, 5, total, total)
    assert fake_obs.count("PUT") == 5

    fake_obs.requests.clear()
    edited = b"print('edited')\n"
    (tmp_path / "pkg" / "mod v2+.py").write_bytes(edited)
    calls.clear()
    result = await upload_dir(
        obs, str(tmp_path), sorted(CODE), dest, progress=lambda *a: calls.append(a)
    )
    new_total = total - len(CODE["pkg/mod v2+.py"]) + len(edited)
    assert result == UploadResult(uploaded=1, skipped=4, bytes_uploaded=len(edited))
    assert [r for r in fake_obs.requests if r[0] == "PUT"] == [("PUT", "jobs/code/pkg/mod v2+.py")]
    assert fake_obs.count("GET") == 3  # five keys, two per page
    assert stored["jobs/code/pkg/mod v2+.py"] == edited
    assert calls[-1] == (5, 5, new_total, new_total)
    await obs.aclose()


@pytest.mark.asyncio
@pytest.mark.parametrize("next_marker", [True, False], ids=["NextMarker", "last-key"])
async def test_list_objects_follows_pages(fake_obs, next_marker):
    fake_obs.next_marker = next_marker
    objects = {f"p/{i:02d} ü+": bytes([i]) * i for i in range(7)}
    fake_obs.buckets["bucket-a"].update({**objects, "q/other": b""})
    obs = client_for(fake_obs)
    listed = await obs.list_objects("bucket-a", "p/")
    assert listed == {k: hashlib.md5(v).hexdigest() for k, v in objects.items()}
    assert fake_obs.count("GET") == 4
    await obs.aclose()


@pytest.mark.asyncio
async def test_503_is_retried(fake_obs, tmp_path):
    write_tree(tmp_path, {"a.py": b"a"})
    fake_obs.fail["PUT"] = [503]
    fake_obs.fail["GET"] = [500]
    obs = client_for(fake_obs)
    result = await upload_dir(obs, str(tmp_path), ["a.py"], parse_obs_uri("obs://bucket-a/c/"))
    assert result.uploaded == 1 and fake_obs.buckets["bucket-a"]["c/a.py"] == b"a"
    assert fake_obs.count("PUT") == 2 and fake_obs.count("GET") == 2
    await obs.aclose()


@pytest.mark.asyncio
async def test_persistent_503_is_an_upstream_error_with_request_id(fake_obs):
    fake_obs.fail["PUT"] = [503] * 3
    obs = client_for(fake_obs, retries=2)
    with pytest.raises(UpstreamError) as info:
        await obs.put_object("bucket-a", "k", b"data")
    assert info.value.code == "OBS.ServiceUnavailable"
    assert info.value.request_id and info.value.request_id in info.value.message
    assert fake_obs.count("PUT") == 3
    await obs.aclose()


@pytest.mark.asyncio
async def test_timeout_is_retried(fake_obs):
    fake_obs.delay["GET"] = [1.0]
    obs = client_for(fake_obs, timeout=0.3)
    assert await obs.list_objects("bucket-a", "") == {}
    assert fake_obs.count("GET") == 2
    await obs.aclose()


@pytest.mark.asyncio
async def test_unreachable_obs_is_backend_unavailable(fake_obs):
    fake_obs.shutdown()
    fake_obs.server_close()
    obs = client_for(fake_obs, retries=1)
    with pytest.raises(BackendUnavailable):
        await obs.list_objects("bucket-a", "")
    await obs.aclose()


@pytest.mark.asyncio
async def test_temporary_credentials_send_the_security_token(fake_obs):
    obs = client_for(fake_obs, Credentials(TEMP_AK, TEMP_SK, security_token=TOKEN))
    assert await obs.put_object("bucket-a", "t/x", b"x") == hashlib.md5(b"x").hexdigest()
    await obs.aclose()
    obs = client_for(fake_obs, Credentials(TEMP_AK, TEMP_SK))
    with pytest.raises(PermissionDenied):
        await obs.put_object("bucket-a", "t/x", b"x")
    await obs.aclose()


@pytest.mark.asyncio
async def test_wrong_secret_is_permission_denied_without_secrets(fake_obs, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    write_tree(tmp_path, {"a.py": b"a"})
    bad_sk = "wrong-sk-5ecret-value"
    obs = client_for(fake_obs, Credentials(TEMP_AK, bad_sk, security_token=TOKEN))
    with pytest.raises(PermissionDenied) as info:
        await upload_dir(obs, str(tmp_path), ["a.py"], parse_obs_uri("obs://bucket-a/c/"))
    error = info.value
    assert "OBS AccessDenied, request id err-" in error.message
    assert error.code == "OBS.AccessDenied" and error.request_id
    exposed = " ".join([str(error), repr(error), str(error.to_json()), repr(obs), caplog.text])
    for secret in (bad_sk, TOKEN, TEMP_SK):
        assert secret not in exposed
    assert fake_obs.count("GET") == 1  # a 403 is not retried
    await obs.aclose()


@pytest.mark.asyncio
async def test_missing_bucket_is_not_found(fake_obs):
    obs = client_for(fake_obs)
    with pytest.raises(NotFound, match="NoSuchBucket"):
        await obs.list_objects("no-such-bucket", "x/")
    await obs.aclose()


@pytest.mark.asyncio
async def test_etag_mismatch_is_an_upstream_error(fake_obs):
    fake_obs.bad_etag = True
    obs = client_for(fake_obs)
    with pytest.raises(UpstreamError, match="ETag"):
        await obs.put_object("bucket-a", "k", b"data")
    await obs.aclose()


# ---------------------------------------------------------------------------------------------
# Streamed, multipart, copied and ranged transfers against the fake cloud's OBS
# (tests/fake_modelarts/obs.py), which also checks every signature with esdk-obs-python.

VIRTUAL_HOST = "obs.cn-north-4.myhuaweicloud.com"


@contextlib.asynccontextmanager
async def cloud_obs(fake, *, virtual=False, retries=3, sk=None, **kwargs):
    creds = Credentials(fake.ak, sk or fake.sk, source="test")

    async def keys():
        return creds

    # Virtual-hosted: the fake is the proxy, so the request line holds the real OBS URL.
    client = httpx.AsyncClient(proxy=fake.base_url) if virtual else None
    endpoint = f"http://{VIRTUAL_HOST}" if virtual else f"{fake.base_url}/obs"
    obs = ObsClient(
        endpoint, keys, client=client, retry=RetryPolicy(max_retries=retries, base_s=0.01), **kwargs
    )
    try:
        yield obs
    finally:
        await obs.aclose()
        if client is not None:
            await client.aclose()


def sparse(path, size):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.truncate(size)


# Uploads one file as the server would and reports, in bytes, its resident memory before the
# upload and its peak during it (the peak reset first: ru_maxrss would carry over the parent's
# across exec). The keys come on stdin, never on a command line.
MEMORY_CHILD = """
import asyncio, json, sys
from jupyter_modelarts.backends.modelarts.auth import Credentials
from jupyter_modelarts.backends.modelarts.obs import ObsClient
from jupyter_modelarts.backends.modelarts.obs_files import upload_dir
from jupyter_modelarts.models import parse_obs_uri

def status(name):
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith(name + ":"))
    return int(line.split()[1]) * 1024

async def main(endpoint, folder, name):
    creds = Credentials(sys.stdin.readline().strip(), sys.stdin.readline().strip())
    async def keys():
        return creds
    obs = ObsClient(endpoint, keys)
    await obs.list_objects("bucket", "warm-up/")  # connections and lazy imports made
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # VmHWM := VmRSS
    before = status("VmRSS")
    await upload_dir(obs, folder, [name], parse_obs_uri("obs://bucket/mem/"))
    print(json.dumps({"before": before, "peak": status("VmHWM")}))
    await obs.aclose()

asyncio.run(main(*sys.argv[1:]))
"""


def test_a_large_file_goes_up_in_bounded_memory(fake, tmp_path):
    if not os.path.exists("/proc/self/clear_refs"):
        pytest.skip("needs Linux's /proc/self/clear_refs")
    size = 200 * MiB
    sparse(tmp_path / "code" / "weights.bin", size)
    child = subprocess.run(
        [sys.executable, "-c", MEMORY_CHILD, f"{fake.base_url}/obs", str(tmp_path / "code")]
        + ["weights.bin"],
        input=f"{fake.ak}\n{fake.sk}\n",
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert child.returncode == 0, child.stderr[-2000:]
    memory = json.loads(child.stdout)
    growth = memory["peak"] - memory["before"]
    print(f"uploading {size / MiB:.0f} MiB raised the uploader's RSS by {growth / MiB:.1f} MiB")
    assert len(fake.buckets["bucket"]["mem/weights.bin"]) == size
    assert "upload_part" in {r.op for r in fake.obs.requests}
    assert growth < 64 * MiB, memory


class HashWatch:
    """The OBS modules' ``hashlib``, counting the bytes MD5 takes in on each thread."""

    def __init__(self):
        self.by_thread = {}
        self.lock = threading.Lock()

    def __getattr__(self, name):
        return getattr(hashlib, name)

    def md5(self, data=b""):
        watch, real = self, hashlib.md5()

        class Counted:
            def update(self, chunk):
                with watch.lock:
                    ident = threading.get_ident()
                    watch.by_thread[ident] = watch.by_thread.get(ident, 0) + len(chunk)
                real.update(chunk)

            def digest(self):
                return real.digest()

            def hexdigest(self):
                return real.hexdigest()

        counted = Counted()
        if data:
            counted.update(data)
        return counted


@pytest.mark.asyncio
async def test_md5_is_never_taken_on_the_event_loop(fake, tmp_path, monkeypatch):
    watch = HashWatch()
    for module in (obs_module, obs_files):
        monkeypatch.setattr(module, "hashlib", watch)
    size = 64 * MiB
    sparse(tmp_path / "weights.bin", size)
    (tmp_path / "a.py").write_bytes(b"print('a')\n")
    gaps = []

    async def tick():
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = asyncio.ensure_future(tick())
    try:
        async with cloud_obs(fake) as obs:
            result = await upload_dir(
                obs, str(tmp_path), ["weights.bin", "a.py"], parse_obs_uri("obs://bucket/h/")
            )
    finally:
        ticker.cancel()
    assert result.uploaded == 2
    on_loop = watch.by_thread.get(threading.get_ident(), 0)
    print(f"MD5 on the loop: {on_loop} bytes; longest loop stall {max(gaps) * 1000:.0f} ms")
    assert on_loop < MiB
    assert sum(watch.by_thread.values()) - on_loop >= size


@pytest.mark.asyncio
async def test_multipart_above_the_threshold_sends_parts_in_parallel(fake, tmp_path):
    fake.obs.part_delay_s = 0.2  # each part held, so parts sent together overlap at the fake
    data = os.urandom(5 * MiB + 12345)
    (tmp_path / "big.bin").write_bytes(data)
    (tmp_path / "edge.bin").write_bytes(b"e" * 2 * MiB)
    sent = []
    kwargs = {"part_size": MiB, "multipart_threshold": 2 * MiB, "part_concurrency": 3}
    async with cloud_obs(fake, **kwargs) as obs:
        etag = await obs.upload_file(
            "bucket", "mp/big.bin", str(tmp_path / "big.bin"), progress=sent.append
        )
        await obs.upload_file("bucket", "mp/edge.bin", str(tmp_path / "edge.bin"))
    ops = [(r.op, r.key) for r in fake.obs.requests]
    assert [op for op, key in ops if key == "mp/big.bin"] == (
        ["initiate"] + ["upload_part"] * 6 + ["complete"]
    )
    assert [op for op, key in ops if key == "mp/edge.bin"] == ["put"]  # at the threshold: one PUT
    assert fake.buckets["bucket"]["mp/big.bin"] == data and etag.endswith("-6")
    assert fake.obs.meta[("bucket", "mp/big.bin")] == {
        "x-obs-meta-md5": hashlib.md5(data).hexdigest()
    }
    assert 2 <= fake.obs.max_parts_in_flight <= 3
    assert sum(sent) == len(data)


@pytest.mark.asyncio
async def test_a_failing_part_is_retried_alone_and_a_failed_upload_is_aborted(fake, tmp_path):
    data = os.urandom(4 * MiB + 7)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    fake.obs.fail_parts = {2: [503]}
    async with cloud_obs(fake, retries=2, part_size=MiB, multipart_threshold=MiB) as obs:
        await obs.upload_file("bucket", "r/ok.bin", str(path))
        assert fake.buckets["bucket"]["r/ok.bin"] == data
        statuses = [r.status for r in fake.obs.requests if r.op == "upload_part"]
        assert sorted(statuses) == [200] * 5 + [503]

        fake.obs.requests.clear()
        fake.obs.fail_parts = {3: [500, 500, 500]}
        with pytest.raises(UpstreamError) as info:
            await obs.upload_file("bucket", "r/failed.bin", str(path))
    assert info.value.code == "OBS.InternalError"
    ops = [r.op for r in fake.obs.requests]
    assert ops[0] == "initiate" and ops[-1] == "abort" and "complete" not in ops
    assert fake.obs.uploads == {}
    assert "r/failed.bin" not in fake.buckets["bucket"]


@pytest.mark.asyncio
async def test_a_file_changed_after_hashing_is_refused_and_aborted(fake, tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"a" * 3 * MiB)
    async with cloud_obs(fake, part_size=MiB, multipart_threshold=MiB) as obs:
        digest = digest_file(str(path), obs.part_size_for)
        path.write_bytes(b"b" * 3 * MiB)
        with pytest.raises(InvalidRequest, match="changed while"):
            await obs.upload_file("bucket", "ch/f.bin", str(path), digest=digest)
        path.write_bytes(b"short")
        with pytest.raises(InvalidRequest, match="changed while"):
            await obs.upload_file("bucket", "ch/f.bin", str(path), digest=digest)
    assert fake.obs.uploads == {} and "ch/f.bin" not in fake.buckets["bucket"]


@pytest.mark.asyncio
async def test_virtual_hosted_requests_name_the_bucket_in_the_host(fake, tmp_path):
    big = os.urandom(3 * MiB)
    write_tree(tmp_path, {"a.py": b"print(1)\n", "big.bin": big})
    async with cloud_obs(fake, virtual=True, part_size=MiB, multipart_threshold=2 * MiB) as obs:
        assert not obs.path_style
        result = await upload_dir(
            obs, str(tmp_path), ["a.py", "big.bin"], parse_obs_uri("obs://bucket/v/")
        )
        await obs.copy_object("bucket", "v/big.bin", "bucket", "v/copy.bin")
        assert await obs.head_object("bucket", "v/copy.bin") == len(big)
        assert await obs.get_range("bucket", "v/a.py", 6, 100) == b"1)\n"
        await obs.delete_object("bucket", "v/copy.bin")
        assert set(await obs.list_objects("bucket", "v/")) == {"v/a.py", "v/big.bin"}
    assert result.uploaded == 2 and fake.buckets["bucket"]["v/big.bin"] == big
    requests = fake.obs.requests
    assert {(r.style, r.host) for r in requests} == {("virtual", f"bucket.{VIRTUAL_HOST}")}
    assert {"list", "initiate", "upload_part", "complete", "put", "copy", "head", "get"} <= {
        r.op for r in requests
    }
    assert all(r.status < 300 for r in requests)

    # The fake checks virtual-hosted signatures as it does path-style ones.
    async with cloud_obs(fake, virtual=True, sk="not-the-secret-key") as obs:
        with pytest.raises(PermissionDenied):
            await obs.head_object("bucket", "v/a.py")


@pytest.mark.asyncio
async def test_head_and_ranged_reads(fake):
    data = bytes(range(256)) * 40
    fake.buckets["bucket"]["logs/w0.log"] = data
    async with cloud_obs(fake) as obs:
        assert await obs.head_object("bucket", "logs/w0.log") == len(data)
        assert await obs.head_object("bucket", "logs/none") is None
        assert await obs.get_range("bucket", "logs/w0.log", 100, 200) == data[100:200]
        end = len(data)
        assert await obs.get_range("bucket", "logs/w0.log", end - 10, end + 500) == data[-10:]
        assert await obs.get_range("bucket", "logs/w0.log", end, end + 10) == b""
        assert await obs.get_range("bucket", "logs/w0.log", 5, 5) == b""
        with pytest.raises(NotFound):
            await obs.get_range("bucket", "logs/none", 0, 10)
    assert [r.status for r in fake.obs.requests if r.op == "get"] == [206, 206, 416, 404]


@pytest.mark.asyncio
async def test_copy_keeps_metadata_and_a_missing_source_is_not_found(fake, tmp_path):
    (tmp_path / "f").write_bytes(b"x" * 100)
    md5 = hashlib.md5(b"x" * 100).hexdigest()
    async with cloud_obs(fake) as obs:
        await obs.upload_file("bucket", "c/数据 src+1", str(tmp_path / "f"))
        assert await obs.copy_object("bucket", "c/数据 src+1", "bucket", "c/dst") == md5
        with pytest.raises(NotFound):
            await obs.copy_object("bucket", "c/gone", "bucket", "c/dst2")
    assert fake.buckets["bucket"]["c/dst"] == b"x" * 100
    assert fake.obs.meta[("bucket", "c/dst")] == {"x-obs-meta-md5": md5}
    assert [r.body_size for r in fake.obs.requests if r.op == "copy"] == [0, 0]


@pytest.mark.asyncio
async def test_upload_dir_copies_what_reuse_has_and_sends_the_rest(fake, tmp_path):
    write_tree(tmp_path, CODE)
    async with cloud_obs(fake) as obs:
        first = await upload_dir(
            obs, str(tmp_path), sorted(CODE), parse_obs_uri("obs://bucket/s1/")
        )
        reuse = {md5: f"s1/{rel}" for rel, md5 in first.md5s.items()}
        del fake.buckets["bucket"]["s1/train.py"]  # gone meanwhile: it is sent instead
        (tmp_path / "pkg" / "__init__.py").write_bytes(b"changed = True\n")
        fake.obs.requests.clear()
        second = await upload_dir(
            obs,
            str(tmp_path),
            sorted(CODE),
            parse_obs_uri("obs://bucket/s2/"),
            reuse=reuse,
            check_existing=False,
        )
    assert (second.uploaded, second.copied, second.skipped) == (2, 3, 0)
    assert sorted(r.key for r in fake.obs.requests if r.op == "put") == [
        "s2/pkg/__init__.py",
        "s2/train.py",
    ]
    assert "list" not in {r.op for r in fake.obs.requests}
    now = {**CODE, "pkg/__init__.py": b"changed = True\n"}
    stored = fake.buckets["bucket"]
    assert {k[3:]: v for k, v in stored.items() if k.startswith("s2/")} == now


@pytest.mark.asyncio
async def test_the_fake_checks_multipart_uploads_as_obs_does(fake):
    async with cloud_obs(fake) as obs:

        async def initiate(key):
            response = await obs._request("POST", "bucket", key, params=[("uploads", None)])
            return ET.fromstring(response.content).find(f"{{{NS}}}UploadId").text

        async def part(key, upload, number, data):
            params = [("partNumber", str(number)), ("uploadId", upload)]
            response = await obs._request("PUT", "bucket", key, params=params, content=data)
            return response.headers["etag"]

        async def complete(key, upload, parts, body=None):
            xml = "".join(
                f"<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>" for n, e in parts
            )
            return await obs._request(
                "POST",
                "bucket",
                key,
                params=[("uploadId", upload)],
                headers={"Content-Type": "application/xml"},
                content=body
                or f"<CompleteMultipartUpload>{xml}</CompleteMultipartUpload>".encode(),
            )

        upload = await initiate("m/x")
        first = await part("m/x", upload, 1, b"a" * 1000)
        last = await part("m/x", upload, 2, b"b" * 10)
        wrong = '"' + "0" * 32 + '"'
        for parts, code in [
            ([(1, first), (2, last)], "EntityTooSmall"),  # 1000 bytes < 100 KB
            ([(2, last), (1, first)], "InvalidPartOrder"),
            ([(1, wrong)], "InvalidPart"),
            ([(3, last)], "InvalidPart"),
        ]:
            with pytest.raises(UpstreamError) as info:
                await complete("m/x", upload, parts)
            assert info.value.code == f"OBS.{code}"
        with pytest.raises(UpstreamError, match="MalformedXML"):
            await complete("m/x", upload, [], body=b"<CompleteMultipartUpload><Part>")
        with pytest.raises(UpstreamError, match="InvalidArgument"):
            await part("m/x", upload, 10_001, b"c")
        with pytest.raises(UpstreamError, match="BadDigest"):
            await obs._request(
                "PUT",
                "bucket",
                "m/x",
                params=[("partNumber", "3"), ("uploadId", upload)],
                headers={"Content-MD5": MD5},  # the MD5 of no bytes
                content=b"c",
            )

        fake.obs.min_part_size = 1000
        response = await complete("m/x", upload, [(1, first), (2, last)])
        assert ET.fromstring(response.content).find(f"{{{NS}}}ETag").text.endswith('-2"')
        assert fake.buckets["bucket"]["m/x"] == b"a" * 1000 + b"b" * 10
        with pytest.raises(NotFound) as info:
            await complete("m/x", upload, [(1, first), (2, last)])
        assert info.value.code == "OBS.NoSuchUpload"

        other = await initiate("m/y")
        await part("m/y", other, 1, b"z")
        await obs._request("DELETE", "bucket", "m/y", params=[("uploadId", other)])
        assert other not in fake.obs.uploads and "m/y" not in fake.buckets["bucket"]

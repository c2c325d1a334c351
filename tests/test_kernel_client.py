"""The kernel side's standard-library client: against a TLS server, as a kernel of a server
started with certfile/keyfile calls it (on a loopback address, not the certificate's name), and
the one line it makes of the server's error JSON."""

import http.server
import json
import ssl
import subprocess
import threading
import time

import pytest

from jupyter_modelarts import kernel
from jupyter_modelarts.kernel.client import Client, ModelArtsError, error_from_response
from jupyter_modelarts.models import PermissionDenied


class _Instance(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        key = self.headers.get("X-Jupyter-ModelArts-Key")
        body = json.dumps({"path": self.path, "key": key}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def tls_server(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-subj", "/CN=jupyter.example", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Instance)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}/base/jupyter-modelarts", str(cert)
    server.shutdown()
    server.server_close()


def test_https_with_the_servers_own_certificate(tls_server):
    url, cert = tls_server
    answer = Client(url, "the-key", cafile=cert).ping()
    assert answer == {"path": "/base/jupyter-modelarts/instance", "key": "the-key"}


def test_https_with_an_unknown_certificate_is_refused_in_one_line(tls_server):
    url, _ = tls_server
    with pytest.raises(ModelArtsError, match="cannot reach the Jupyter server") as failed:
        Client(url, "the-key").ping()
    assert "CERTIFICATE_VERIFY_FAILED" in str(failed.value)


def denied(message="ModelArts refused the call (ModelArts.0201)", **kw):
    """A 403 as the server answers it (its error JSON, made by the server's own class)."""
    error = PermissionDenied(message, **kw)
    return error_from_response(403, "Forbidden", json.dumps(error.to_json()).encode())


def test_a_403_names_the_iam_action_and_whose_right_it_is():
    error = denied(iam_action="modelarts:trainJob:create")
    assert (error.status, error.reason, error.iam_action, error.agency) == (
        403,
        "PermissionDenied",
        "modelarts:trainJob:create",
        False,
    )
    assert str(error) == (
        "ModelArts refused the call (ModelArts.0201); your IAM user lacks "
        "modelarts:trainJob:create: ask the account's IAM administrator to grant it (in strict "
        "authorization mode every action must be granted explicitly; %ma_doctor checks the rest)"
    )
    error = denied(iam_action="obs:object:PutObject", agency=True)
    assert error.agency
    assert str(error) == (
        "ModelArts refused the call (ModelArts.0201); it is ModelArts' agency (委托) that lacks "
        "obs:object:PutObject, not your IAM user: an administrator adds or extends the agency in "
        "the ModelArts console → 全局配置 (Global Configuration) → 添加授权 (Add Authorization), "
        "or its policies in IAM (%ma_doctor checks the rest)"
    )
    # A message that says it all already (the cloud backend's do) is not said twice.
    said = "Denied (ModelArts.0201); ModelArts' agency (委托) lacks a right obs:object:PutObject …"
    assert str(denied(said, iam_action="obs:object:PutObject", agency=True)) == said
    # A 403 naming no action (the kernel key of another server, say) keeps the general hint.
    error = error_from_response(403, "Forbidden", b'{"message": "the kernel key is stale"}')
    assert str(error).startswith("the kernel key is stale; check the cloud credentials'")
    assert error.iam_action is None and not error.agency


class _NoDoctor(http.server.BaseHTTPRequestHandler):
    """A server without the doctor's route; under /slow/ its checks are still running (the
    answer waits)."""

    def do_GET(self):
        if self.path.startswith("/slow/"):
            time.sleep(1)  # the caller has given up by then: nothing to answer
            return
        body = b'{"message": "no such route"}'
        self.send_response(404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_load_ext_says_little_when_the_checks_are_slow_or_absent(monkeypatch):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NoDoctor)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setattr(kernel, "DOCTOR_WAIT_S", 0.2)
    try:
        started = time.monotonic()
        line = kernel.load_line(Client(f"{base}/slow/jupyter-modelarts"), "local")
        assert time.monotonic() - started < 0.9
        assert line == (
            "jupyter_modelarts: local backend · checks still running (%ma_doctor waits for them)"
        )
        line = kernel.load_line(Client(f"{base}/jupyter-modelarts"), "local")
        assert line == "jupyter_modelarts: local backend · %ma_help lists the magics"
    finally:
        server.shutdown()
        server.server_close()

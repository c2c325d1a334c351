"""The kernel side's standard-library client against a TLS server, as a kernel of a server
started with certfile/keyfile calls it (on a loopback address, not the certificate's name)."""

import http.server
import json
import ssl
import subprocess
import threading

import pytest

from jupyter_modelarts.kernel.client import Client, ModelArtsError


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

"""No route answers without Jupyter authentication, and none lacks the auth decorators."""

import re
import subprocess
import sys

import jupyter_server.utils
import pytest
from tornado.httpclient import HTTPClientError

from jupyter_modelarts.handlers import route_table

VERBS = ("GET", "POST", "PATCH", "PUT", "DELETE")


def concrete_routes():
    """Each route with sample path arguments and the verbs its handler defines."""
    for pattern, handler in route_table():
        path = re.sub(r"\(\?P<\w+>[^)]*\)", "some-id", pattern).strip("/")
        verbs = [v for v in VERBS if v.lower() in vars(handler)]
        assert verbs, pattern
        yield path, verbs


@pytest.mark.parametrize(("path", "verbs"), list(concrete_routes()))
async def test_every_route_refuses_unauthenticated_calls(jp_fetch, path, verbs):
    for verb in verbs:
        with pytest.raises(HTTPClientError) as info:
            await jp_fetch(
                *path.split("/"),
                method=verb,
                headers={"Authorization": ""},
                body="{}" if verb in ("POST", "PATCH", "PUT") else None,
                allow_nonstandard_methods=True,
            )
        assert info.value.code == 403, (verb, path)


CHECK_AUTH = """
import sys, warnings
from jupyter_server.serverapp import ServerApp
from jupyter_server.utils import JupyterServerAuthWarning
app = ServerApp(jpserver_extensions={"jupyter_modelarts": True},
                allow_unauthenticated_access=False, reraise_server_extension_failures=True)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    app.initialize(argv=sys.argv[1:], new_httpserver=False)
for w in caught:
    if issubclass(w.category, JupyterServerAuthWarning):
        print(w.message)
"""


@pytest.mark.skipif(
    not hasattr(jupyter_server.utils, "JupyterServerAuthWarning"),
    reason="jupyter_server < 2.13 has no check for open endpoints",
)
def test_no_handler_lacks_auth_decorators(tmp_path):
    """The extension template's check_auth.py, as a test: loading warns on any open endpoint."""
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            CHECK_AUTH,
            f"--ServerApp.root_dir={tmp_path}",
            f"--ModelArtsApp.state_dir={tmp_path / 'state'}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "jupyter_modelarts" in result.stderr  # the extension did load
    assert "jupyter-modelarts" not in result.stdout, result.stdout

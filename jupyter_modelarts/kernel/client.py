"""A small synchronous client of the jupyter_modelarts REST API, as a kernel sees it.

Standard library only, Python 3.8+: it runs in whatever environment a kernel lives in.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import ssl
import urllib.parse
from collections.abc import Mapping
from typing import Any

from .i18n import N_, _

# The same names as in jupyter_modelarts.app; importing app would pull in jupyter_server, which
# a kernel's environment may not have.
URL_VARIABLE = "JUPYTER_MODELARTS_URL"
KEY_VARIABLE = "JUPYTER_MODELARTS_KEY"
CAFILE_VARIABLE = "JUPYTER_MODELARTS_CAFILE"
KEY_HEADER = "X-Jupyter-ModelArts-Key"

#: What to do, by HTTP status, after the server's own message.
_HINTS = {
    403: N_(
        "check the cloud credentials' IAM permissions (or restart the kernel if the server "
        "was restarted)"
    ),
    502: N_("ModelArts refused or failed the call; retry, or quote the request id to support"),
    503: N_("the backend cannot serve now: check the server's ModelArts configuration and network"),
}
#: Where the agency's rights are granted, as the ModelArts console names it.
AGENCY_CONSOLE = N_(
    "ModelArts console → 全局配置 (Global Configuration) → 添加授权 (Add Authorization)"
)


class ModelArtsError(Exception):
    """A failed call, shown in a cell as one line (no traceback).

    From a server's error JSON it keeps ``reason`` (the error class), ``field`` (the request
    field at fault), and on a 403 ``iam_action`` and ``agency``.
    """

    def __init__(
        self,
        message: str,
        status: int | None = None,
        *,
        reason: str | None = None,
        field: str | None = None,
        iam_action: str | None = None,
        agency: bool = False,
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.reason = reason
        self.field = field
        self.iam_action = iam_action
        self.agency = agency

    def __str__(self) -> str:
        return self.message

    def _render_traceback_(self) -> list[str]:
        # IPython shows this instead of a traceback.
        return [f"\x1b[0;31mModelArtsError\x1b[0m: {self.message}"]


def _json(content: bytes) -> Any:
    """A body as JSON; None when it is not JSON."""
    try:
        return json.loads(content.decode("utf-8"))
    except ValueError:
        return None


def _denied_hint(iam_action: str, agency: bool) -> str:
    """Whose right a 403 lacks and how to grant it."""
    if agency:
        return _(
            "it is ModelArts' agency (委托) that lacks {action}, not your IAM user: an "
            "administrator adds or extends the agency in the {console}, or its policies "
            "in IAM (%ma_doctor checks the rest)",
            action=iam_action,
            console=_(AGENCY_CONSOLE),
        )
    return _(
        "your IAM user lacks {action}: ask the account's IAM administrator to grant it (in "
        "strict authorization mode every action must be granted explicitly; %ma_doctor checks "
        "the rest)",
        action=iam_action,
    )


def error_from_response(status: int, reason: str, content: bytes) -> ModelArtsError:
    """One line from an error response: the server's message, then what to do."""
    body = _json(content)
    if not isinstance(body, dict):
        body = {}
    message = body.get("message") or f"HTTP {status} {reason}"
    if body.get("request_id") and str(body["request_id"]) not in message:
        message += _(" (request id {id})", id=body["request_id"])
    iam_action = body.get("iam_action") if isinstance(body.get("iam_action"), str) else None
    agency = body.get("agency") is True
    hint = _(_HINTS[status]) if status in _HINTS else None
    if status == 403 and iam_action and body.get("reason") == "PermissionDenied":
        # The cloud backend's message names the action and whose right it is already.
        said = iam_action in message and (not agency or "委托" in message)
        hint = None if said else _denied_hint(iam_action, agency)
    return ModelArtsError(
        f"{message}; {hint}" if hint else message,
        status,
        reason=body.get("reason") if isinstance(body.get("reason"), str) else None,
        field=body.get("field") if isinstance(body.get("field"), str) else None,
        iam_action=iam_action,
        agency=agency,
    )


class _UnixConnection(http.client.HTTPConnection):
    """HTTP over a Unix socket, for a server started with ``--sock``."""

    def __init__(self, socket_path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = socket_path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class Client:
    """Calls ``<server>/jupyter-modelarts/…`` with the key the server gave its kernels.

    ``url`` is ``http://``, ``https://`` or ``http+unix://<percent-encoded socket path>``, with
    the server's base_url and ``/jupyter-modelarts`` as its path. Each call opens its own
    connection (loopback, cheap), so threads may share a client.
    """

    def __init__(self, url: str, key: str = "", timeout: float = 30.0, cafile: str | None = None):
        self.url = url.rstrip("/") + "/"
        self.key = key
        self.timeout = timeout
        self.cafile = cafile
        parts = urllib.parse.urlsplit(self.url)
        if parts.scheme not in ("http", "https", "http+unix"):
            raise ModelArtsError(
                _("{variable} has an unknown scheme: {url}", variable=URL_VARIABLE, url=repr(url))
            )
        self._scheme = parts.scheme
        self._netloc = parts.netloc
        self._base_path = parts.path

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> Client:
        """The server that started this kernel, as it published itself; else a clear error."""
        url = environ.get(URL_VARIABLE)
        if not url:
            raise ModelArtsError(
                _(
                    "no Jupyter server with jupyter_modelarts behind this kernel ({variable} "
                    "is not set); open the notebook in JupyterLab or Jupyter Server with the "
                    "extension enabled (jupyter server extension list)",
                    variable=URL_VARIABLE,
                )
            )
        return cls(url, environ.get(KEY_VARIABLE, ""), cafile=environ.get(CAFILE_VARIABLE))

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        if self._scheme == "http+unix":
            return _UnixConnection(urllib.parse.unquote(self._netloc), timeout)
        if self._scheme == "https":
            context = ssl.create_default_context()
            if self.cafile:
                # The server's own certificate, trusted as is (it may be self-signed).
                context.load_verify_locations(self.cafile)
                context.verify_flags |= getattr(ssl, "VERIFY_X509_PARTIAL_CHAIN", 0)
            # The kernel calls its own server on a loopback address, not the certificate's name.
            context.check_hostname = False
            return http.client.HTTPSConnection(self._netloc, timeout=timeout, context=context)
        return http.client.HTTPConnection(self._netloc, timeout=timeout)

    def _exchange(
        self,
        method: str,
        path: str,
        timeout: float | None = None,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[http.client.HTTPResponse, bytes]:
        """The answer to one call, whatever its status, and its body."""
        target = self._base_path + path
        if params:
            target += "?" + urllib.parse.urlencode(params)
        sent = {"Accept": "application/json", **(headers or {})}
        if self.key:
            sent[KEY_HEADER] = self.key
        body = None
        if json_body is not None:
            body = json.dumps(json_body).encode("utf-8")
            sent["Content-Type"] = "application/json"
        connection = self._connection(self.timeout if timeout is None else timeout)
        try:
            connection.request(method, target, body=body, headers=sent)
            response = connection.getresponse()
            return response, response.read()
        except (OSError, http.client.HTTPException) as error:
            raise ModelArtsError(
                _(
                    "cannot reach the Jupyter server at {url} ({error}); is it still running?",
                    url=self.url,
                    error=error or type(error).__name__,
                )
            ) from None
        finally:
            connection.close()

    def request(
        self,
        method: str,
        path: str,
        timeout: float | None = None,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
    ) -> Any:
        """The JSON body of a 2xx answer; a ModelArtsError otherwise."""
        response, content = self._exchange(method, path, timeout, params, json_body)
        if response.status >= 400:
            raise error_from_response(response.status, response.reason, content)
        return json.loads(content.decode("utf-8")) if content else None

    def ping(self) -> dict[str, Any]:
        """The instance, within 2 s: proves the server and its extension answer."""
        return self.request("GET", "instance", timeout=2.0)

    def instance(self) -> dict[str, Any]:
        return self.request("GET", "instance")

    def lease(self) -> dict[str, Any]:
        return self.request("GET", "lease")

    def renew_lease(self, duration_s: float, kind: str | None = None) -> dict[str, Any]:
        """Renew from now; ``kind`` TIMING or IDLE switches the kind, None keeps it."""
        body: dict[str, Any] = {"duration_s": duration_s}
        if kind:
            body["type"] = kind
        return self.request("PATCH", "lease", json_body=body)

    def jobs(
        self, limit: int = 50, offset: int = 0, workspace_id: str | None = None
    ) -> dict[str, Any]:
        """A page of job summaries, newest first: ``{jobs, total, offset, limit}``; of the
        current workspace unless one is named."""
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if workspace_id is not None:
            params["workspace_id"] = workspace_id
        return self.request("GET", "jobs", params=params)

    def job(self, job_id: str) -> dict[str, Any]:
        return self.request("GET", f"jobs/{_segment(job_id)}")

    def submit(self, spec: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", "jobs", json_body=spec)

    def stop(self, job_id: str) -> dict[str, Any]:
        return self.request("POST", f"jobs/{_segment(job_id)}/stop", json_body={})

    def delete(self, job_id: str) -> None:
        self.request("DELETE", f"jobs/{_segment(job_id)}")

    def logs(self, job_id: str, task: str, offset: int = 0, limit: int = 65536) -> dict[str, Any]:
        params = {"task": task, "offset": offset, "limit": limit}
        return self.request("GET", f"jobs/{_segment(job_id)}/logs", params=params)

    def log_tail(self, job_id: str, task: str, size: int = 65536) -> tuple[str, int, bool]:
        """The last ``size`` bytes of a task's log as text, the offset they start at, and
        whether the log is complete (the task ended and all of it is there)."""
        path = f"jobs/{_segment(job_id)}/tasks/{_segment(task)}/log"
        response, content = self._exchange("GET", path, headers={"Range": f"bytes=-{size}"})
        if response.status == 404 and not isinstance(_json(content), dict):
            # Not our JSON 404 but the server's own: a server without the raw log route.
            end = self.logs(job_id, task, 0, 1)["size"]
            chunk = self.logs(job_id, task, max(end - size, 0), size)
            return chunk["content"], chunk["offset"], chunk["complete"]
        if response.status >= 400:
            raise error_from_response(response.status, response.reason, content)
        found = re.match(r"bytes (\d+)-", response.getheader("Content-Range") or "")
        complete = response.getheader("X-ModelArts-Log-Complete") == "true"
        return content.decode("utf-8", "replace"), int(found.group(1)) if found else 0, complete

    def metrics(self, job_id: str) -> dict[str, Any]:
        return self.request("GET", f"jobs/{_segment(job_id)}/metrics")

    def engines(self) -> list[dict[str, Any]]:
        return self.request("GET", "engines")["engines"]

    def mounts(self) -> list[dict[str, Any]]:
        return self.request("GET", "mounts")["mounts"]

    def mount(self, mount_id: str) -> dict[str, Any]:
        return self.request("GET", f"mounts/{_segment(mount_id)}")

    def create_mount(self, uri: str, mount_path: str) -> dict[str, Any]:
        return self.request("POST", "mounts", json_body={"uri": uri, "mount_path": mount_path})

    def delete_mount(self, mount_id: str) -> dict[str, Any]:
        return self.request("DELETE", f"mounts/{_segment(mount_id)}")

    def image(self, image_id: str) -> dict[str, Any]:
        return self.request("GET", f"images/{_segment(image_id)}")

    def images(self, workspace_id: str | None = None) -> list[dict[str, Any]]:
        """The images saved from this instance, in the current workspace unless one is named."""
        params = {"workspace_id": workspace_id} if workspace_id is not None else None
        return self.request("GET", "images", params=params)["images"]

    def save_image(
        self, name: str, tag: str, namespace: str | None, workspace_id: str | None = None
    ) -> dict[str, Any]:
        body = {"name": name, "tag": tag, "namespace": namespace, "workspace_id": workspace_id}
        return self.request("POST", "images", json_body=body)

    def workspaces(self) -> dict[str, Any]:
        """``{workspaces: [...], current: id}``."""
        return self.request("GET", "workspaces")

    def use_workspace(self, workspace_id: str) -> dict[str, Any]:
        return self.request("PUT", "workspaces/current", json_body={"id": workspace_id})

    def i18n(self, known: str | None = None) -> dict[str, Any]:
        """``{language, messages}``: the user's language and the messages in it; ``messages``
        is null when ``known`` is that language already."""
        return self.request("GET", "i18n", params={"known": known} if known else None)

    def doctor(self, refresh: bool = False, timeout: float | None = None) -> dict[str, Any]:
        """The server's report of its checks (it waits for the first run); ``refresh`` runs
        them again first."""
        return self.request("POST" if refresh else "GET", "doctor", timeout=timeout)


def _segment(value: str) -> str:
    """An id as one path segment, whatever the user typed."""
    return urllib.parse.quote(value, safe="")

"""A small synchronous client of the jupyter_modelarts REST API, as a kernel sees it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import httpx

# The same names as jupyter_modelarts.app.KERNEL_*_VARIABLE; importing app would pull in
# jupyter_server, which a kernel does not need.
URL_VARIABLE = "JUPYTER_MODELARTS_URL"
TOKEN_VARIABLE = "JUPYTER_MODELARTS_TOKEN"

#: What to do, by HTTP status, after the server's own message.
_HINTS = {
    403: "check the kernel's Jupyter token and the cloud credentials' IAM permissions",
    409: "check the resource's current state and retry once it allows this",
    502: "ModelArts refused or failed the call; retry, or quote the request id to support",
    503: "the backend cannot serve now: check the server's ModelArts configuration and network",
}


class ModelArtsError(Exception):
    """A failed call, shown in a cell as one line (no traceback)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.status = status

    def _render_traceback_(self) -> list[str]:
        # IPython shows this instead of a traceback.
        return [f"\x1b[0;31mModelArtsError\x1b[0m: {self.message}"]


def error_from_response(response: httpx.Response) -> ModelArtsError:
    """One line from an error response: the server's message, then what to do."""
    try:
        body = response.json()
    except ValueError:
        body = None
    message = body.get("message") if isinstance(body, dict) else None
    message = message or f"HTTP {response.status_code} {response.reason_phrase}"
    if isinstance(body, dict) and body.get("request_id"):
        message += f" (request id {body['request_id']})"
    hint = _HINTS.get(response.status_code)
    return ModelArtsError(f"{message}; {hint}" if hint else message, response.status_code)


class Client:
    """Calls ``<server>/jupyter-modelarts/…`` with the server's token."""

    def __init__(self, url: str, token: str = "", timeout: float = 30.0):
        self.url = url.rstrip("/") + "/"
        self.token = token
        headers = {"Authorization": f"token {token}"} if token else {}
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> Client:
        """The server that started this kernel, as it published itself; else a clear error."""
        url = environ.get(URL_VARIABLE)
        if not url:
            raise ModelArtsError(
                f"no Jupyter server with jupyter_modelarts behind this kernel ({URL_VARIABLE} "
                "is not set); open the notebook in JupyterLab or Jupyter Server with the "
                "extension enabled (jupyter server extension list)"
            )
        return cls(url, environ.get(TOKEN_VARIABLE, ""))

    def clone(self) -> Client:
        """A client of its own for a background thread."""
        return Client(self.url, self.token, self._http.timeout.read or 30.0)

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, timeout: float | None = None, **kwargs: Any) -> Any:
        """The JSON body of a 2xx answer; a ModelArtsError otherwise."""
        if timeout is not None:
            kwargs["timeout"] = timeout
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as error:
            raise ModelArtsError(
                f"cannot reach the Jupyter server at {self.url} ({error or type(error).__name__}); "
                "is it still running?"
            ) from None
        if response.is_error:
            raise error_from_response(response)
        return response.json() if response.content else None

    def ping(self) -> dict[str, Any]:
        """The instance, within 2 s: proves the server and its extension answer."""
        return self.request("GET", "instance", timeout=2.0)

    def lease(self) -> dict[str, Any]:
        return self.request("GET", "lease")

    def renew_lease(self, duration_s: float) -> dict[str, Any]:
        return self.request("PATCH", "lease", json={"duration_s": duration_s})

    def jobs(self) -> list[dict[str, Any]]:
        return self.request("GET", "jobs")["jobs"]

    def job(self, job_id: str) -> dict[str, Any]:
        return self.request("GET", f"jobs/{job_id}")

    def submit(self, spec: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", "jobs", json=spec)

    def stop(self, job_id: str) -> dict[str, Any]:
        return self.request("POST", f"jobs/{job_id}/stop", json={})

    def logs(self, job_id: str, task: str, offset: int = 0, limit: int = 65536) -> dict[str, Any]:
        params = {"task": task, "offset": offset, "limit": limit}
        return self.request("GET", f"jobs/{job_id}/logs", params=params)

    def metrics(self, job_id: str) -> dict[str, Any]:
        return self.request("GET", f"jobs/{job_id}/metrics")

    def mounts(self) -> list[dict[str, Any]]:
        return self.request("GET", "mounts")["mounts"]

    def mount(self, mount_id: str) -> dict[str, Any]:
        return self.request("GET", f"mounts/{mount_id}")

    def create_mount(self, uri: str, mount_path: str) -> dict[str, Any]:
        return self.request("POST", "mounts", json={"uri": uri, "mount_path": mount_path})

    def delete_mount(self, mount_id: str) -> dict[str, Any]:
        return self.request("DELETE", f"mounts/{mount_id}")

    def image(self, image_id: str) -> dict[str, Any]:
        return self.request("GET", f"images/{image_id}")

    def save_image(self, name: str, tag: str, namespace: str | None) -> dict[str, Any]:
        return self.request(
            "POST", "images", json={"name": name, "tag": tag, "namespace": namespace}
        )

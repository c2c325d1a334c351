"""Kernel side: magics that call the server extension's REST API.

Standard library only (anywidget when the kernel has it), Python 3.8+: the server puts this
package on its kernels' PYTHONPATH, so it runs in kernels of any environment.
"""

from __future__ import annotations

import os

from .. import kernel_path
from .client import Client, ModelArtsError
from .i18n import _, follow
from .jobs import FollowInterrupted, Job, JobFailed, WaitTimeout
from .magics import ModelArtsMagics
from .views import DEFAULT_WORKSPACE

__all__ = [
    "Client",
    "FollowInterrupted",
    "Job",
    "JobFailed",
    "ModelArtsError",
    "ModelArtsMagics",
    "WaitTimeout",
    "connect",
    "load_ipython_extension",
]

# The server's URL and key as this kernel first saw them, for a later %reload_ext.
_published: dict[str, str] = {}
#: How long %load_ext waits for the server's checks, whose first run may still be going.
DOCTOR_WAIT_S = 2.0


def connect() -> Client:
    """A client of the server that started this kernel, as the magics use it (also after
    %load_ext took the server's URL and key out of the environment)."""
    return Client.from_environment({**_published, **os.environ})


def load_ipython_extension(ipython) -> None:
    """Register the magics, once the server that started this kernel has answered."""
    _published.update({k: v for k, v in os.environ.items() if k.startswith("JUPYTER_MODELARTS_")})
    client = Client.from_environment(_published)
    instance = client.ping()
    follow(client, force=True)  # speak the user's language from the first line on
    # The kernel's own child processes (!pip, subprocess) need neither our key nor our path.
    for name in _published:
        os.environ.pop(name, None)
    kernel_path.remove_entry(os.environ)
    ipython.register_magics(ModelArtsMagics(ipython, client=client))
    print(load_line(client, instance["backend"]))


def load_line(client: Client, backend: str) -> str:
    """What %load_ext says: the backend, a workspace other than the default, and the checks
    that fail, as the server's report has them now (never waiting long for it)."""
    line = _("jupyter_modelarts: {backend} backend", backend=backend)
    try:
        report = client.doctor(timeout=DOCTOR_WAIT_S)
    except ModelArtsError as error:
        if error.status is None:  # timed out: the first run goes on
            return line + _(" · checks still running (%ma_doctor waits for them)")
        return line + _(" · %ma_help lists the magics")
    if report["workspace_id"] != DEFAULT_WORKSPACE:
        line += _(" · workspace {id}", id=report["workspace_id"])
    failing = [c["id"] for c in report["checks"] if c["status"] == "fail"]
    if len(failing) == 1:
        return line + _(" · 1 check fails: {ids} — run %ma_doctor", ids=failing[0])
    if failing:
        return line + _(
            " · {count} checks fail: {ids} — run %ma_doctor",
            count=len(failing),
            ids=", ".join(failing),
        )
    return line + _(" · %ma_help lists the magics")

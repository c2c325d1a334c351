"""Kernel side: magics that call the server extension's REST API.

Standard library only (anywidget when the kernel has it), Python 3.8+: the server puts this
package on its kernels' PYTHONPATH, so it runs in kernels of any environment.
"""

from __future__ import annotations

import os

from .. import kernel_path
from .client import Client, ModelArtsError
from .jobs import FollowInterrupted, Job, JobFailed, WaitTimeout
from .magics import ModelArtsMagics

__all__ = [
    "Client",
    "FollowInterrupted",
    "Job",
    "JobFailed",
    "ModelArtsError",
    "ModelArtsMagics",
    "WaitTimeout",
    "load_ipython_extension",
]

# The server's URL and key as this kernel first saw them, for a later %reload_ext.
_published: dict[str, str] = {}


def load_ipython_extension(ipython) -> None:
    """Register the magics, once the server that started this kernel has answered."""
    _published.update({k: v for k, v in os.environ.items() if k.startswith("JUPYTER_MODELARTS_")})
    client = Client.from_environment(_published)
    client.ping()
    # The kernel's own child processes (!pip, subprocess) need neither our key nor our path.
    for name in _published:
        os.environ.pop(name, None)
    kernel_path.remove_entry(os.environ)
    ipython.register_magics(ModelArtsMagics(ipython, client=client))

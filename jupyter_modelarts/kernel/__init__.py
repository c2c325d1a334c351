"""Kernel side: magics and widgets that call the server extension's REST API."""

from __future__ import annotations

from .client import Client, ModelArtsError
from .magics import Job, ModelArtsMagics
from .widgets import JobWidget, LeaseCountdown

__all__ = [
    "Client",
    "Job",
    "JobWidget",
    "LeaseCountdown",
    "ModelArtsError",
    "ModelArtsMagics",
    "load_ipython_extension",
]


def load_ipython_extension(ipython) -> None:
    """Register the magics, once the server that started this kernel has answered."""
    client = Client.from_environment()
    client.ping()
    ipython.register_magics(ModelArtsMagics(ipython, client=client))

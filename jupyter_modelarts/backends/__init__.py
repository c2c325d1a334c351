"""Backends: the local embedded one and the ModelArts cloud one, behind :class:`base.Backend`."""

import os

LOCAL = "jupyter_modelarts.backends.local.LocalBackend"
MODELARTS = "jupyter_modelarts.backends.modelarts.ModelArtsBackend"


def in_modelarts_notebook() -> bool:
    """True inside a ModelArts notebook, which sets PROJECT_ID and INSTANCE_ID."""
    return bool(os.environ.get("PROJECT_ID") and os.environ.get("INSTANCE_ID"))


def auto_backend() -> str:
    """The backend to use when none is configured: the cloud inside ModelArts, else local."""
    return MODELARTS if in_modelarts_notebook() else LOCAL

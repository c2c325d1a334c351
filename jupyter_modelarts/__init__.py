"""Drive Huawei Cloud ModelArts from JupyterLab: a server extension, a labextension and magics."""

try:
    from ._version import __version__
except ImportError:  # running from a source tree that was never built
    import warnings

    warnings.warn("Importing 'jupyter_modelarts' outside a proper installation.", stacklevel=2)
    __version__ = "dev"


def _jupyter_labextension_paths():
    return [{"src": "labextension", "dest": "jupyter-modelarts"}]


def _jupyter_server_extension_points():
    import sys

    if sys.version_info < (3, 9):
        # 3.8 is supported for kernels (jupyter_modelarts.kernel) only.
        raise RuntimeError("the jupyter_modelarts server extension needs Python 3.9 or later")
    # Imported here so that `import jupyter_modelarts` stays cheap for kernels and tools.
    from .app import ModelArtsApp

    return [{"module": "jupyter_modelarts", "app": ModelArtsApp}]


def load_ipython_extension(ipython):
    """``%load_ext jupyter_modelarts``: the magics, bound to the server that started the kernel."""
    # Imported here so that the server never loads httpx and ipywidgets for nothing.
    from .kernel import load_ipython_extension

    load_ipython_extension(ipython)

"""Server configuration for the galata integration tests.

Every piece of state (notebooks, local backend records, data, object store) lives under a
temporary folder created for this run.
"""

import tempfile
from pathlib import Path

from jupyterlab.galata import configure_jupyter_server

configure_jupyter_server(c)  # noqa: F821

_tmp = Path(tempfile.mkdtemp(prefix="jupyter-modelarts-ui-tests-"))
for _name in ("root", "state", "data", "objects"):
    (_tmp / _name).mkdir()

c.ServerApp.root_dir = str(_tmp / "root")  # noqa: F821
c.ServerApp.allow_root = True  # noqa: F821
c.ServerApp.ip = "127.0.0.1"  # noqa: F821
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"  # noqa: F821
c.ModelArtsApp.state_dir = str(_tmp / "state")  # noqa: F821
c.ModelArtsApp.data_root = str(_tmp / "data")  # noqa: F821
c.ModelArtsApp.object_store_root = str(_tmp / "objects")  # noqa: F821

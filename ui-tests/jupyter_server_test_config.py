"""Server configuration for the galata integration tests.

Every piece of state (notebooks, local backend records, data, object store) lives under a
temporary folder created for this run. The data root sits inside the server root so that
mounts show in the file browser; the object store holds one bucket with a folder to mount;
an image saves a tiny folder so that it is quick (and the free disk checked for one is
small); auto-stop is on with a long lease.
"""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

from jupyterlab.galata import configure_jupyter_server

_tmp = Path(tempfile.mkdtemp(prefix="jupyter-modelarts-ui-tests-"))
atexit.register(shutil.rmtree, _tmp, ignore_errors=True)  # the image blob alone is 48 MB
# galata makes temporary folders and a shell rc file it never removes: made in ours, they go
# with it when the server stops.
tempfile.tempdir = str(_tmp)
try:
    configure_jupyter_server(c)  # noqa: F821
finally:
    tempfile.tempdir = None
# Off 8888, the demo's: see playwright.config.js for every test port.
c.ServerApp.port = 8960  # noqa: F821
for _name in ("root", "root/data", "state", "objects/bucket/datasets", "image"):
    (_tmp / _name).mkdir(parents=True, exist_ok=True)
(_tmp / "objects/bucket/datasets/train.csv").write_text("x,y\n1,2\n")
(_tmp / "image/README").write_text("a small image\n")
# Enough incompressible bytes that the save is seen in progress for about a second.
(_tmp / "image/blob.bin").write_bytes(os.urandom(48 * 2**20))
(_tmp / "root/training").mkdir()
(_tmp / "root/training/train.py").write_text(
    "import sys, time\n"
    "print('args', sys.argv[1:], flush=True)\n"
    "for step in range(600):\n"
    "    print(f'step {step} loss {1 / (step + 1):.4f}', flush=True)\n"
    "    time.sleep(0.1)\n"
)
(_tmp / "root/training/hello.py").write_text("print('hello from a job', flush=True)\n")

c.ServerApp.root_dir = str(_tmp / "root")  # noqa: F821
c.ServerApp.allow_root = True  # noqa: F821
c.ServerApp.ip = "127.0.0.1"  # noqa: F821
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"  # noqa: F821
c.ModelArtsApp.state_dir = str(_tmp / "state")  # noqa: F821
c.LocalBackend.data_root = str(_tmp / "root/data")  # noqa: F821
c.LocalBackend.object_store_root = str(_tmp / "objects")  # noqa: F821
c.LocalBackend.image_paths = [str(_tmp / "image")]  # noqa: F821
c.LocalBackend.auto_stop_enabled = True  # noqa: F821
c.LocalBackend.auto_stop_duration = 2 * 3600.0  # noqa: F821
# The images saved here are tiny: local:disk passes on any machine the tests run on.
c.LocalBackend.image_size_limit = 2**30  # noqa: F821

"""A ModelArts notebook's layout: the server in one venv, kernels in others on other Pythons with
nothing of ours installed; the magics work there and jobs run where the cell ran."""

import textwrap
from importlib.metadata import requires

import pytest
from packaging.requirements import Requirement

from test_magics import LEASE_MIME, WIDGET_VIEW, run, value


@pytest.mark.parametrize("minor", ["3.8", "3.13"])
def test_magics_in_a_kernel_env_without_our_package(
    minor, kernel_envs, servers, ma_config, ma_dirs
):
    kernel_env = kernel_envs[minor]
    (ma_dirs["objects"] / "bucket" / "data").mkdir()
    server = servers(
        {**ma_config, "auto_stop_enabled": True},
        kernel_env.key,
        env={"JUPYTER_PATH": kernel_envs.data_dir},
    )
    kc = server.start_kernel(kernel_env.kernel_name)
    try:
        assert value(kc, "__import__('sys').version.split()[0]").startswith(f"{minor}.")
        # Not installed there: lent by the server, and no ipywidgets or anywidget either.
        out = run(kc, "%load_ext jupyter_modelarts")
        assert out["error"] is None, out
        assert out["stdout"].startswith("jupyter_modelarts: local backend · "), out
        origin = value(kc, "__import__('jupyter_modelarts').__file__")
        assert "jupyter_modelarts-kernel-path" in origin
        run(kc, "import importlib.metadata as md")
        installed = value(kc, "[d.metadata['Name'] for d in md.distributions()]")
        assert "ipykernel" in installed and "jupyter_modelarts" not in installed
        assert value(kc, "__import__('importlib.util').util.find_spec('ipywidgets') is None")
        assert value(kc, "__import__('importlib.util').util.find_spec('anywidget') is None")

        # The checks, with the report as the value, on this Python too.
        out = run(kc, "%ma_doctor")
        assert out["data"][-1]["text/html"].startswith("<div "), out
        assert value(kc, "_.report['backend']") == "local"

        # Without anywidget: our MIME type and its text and HTML snapshots, no widget view.
        out = run(kc, "%ma_lease")
        assert out["data"][-1]["text/plain"].startswith("Auto-stop in "), out
        assert WIDGET_VIEW not in out["data"][-1] and LEASE_MIME in out["data"][-1]
        assert (
            "Mounted obs://bucket/data/ at /data/d1/"
            in run(kc, "%ma_mount obs://bucket/data/ /data/d1/")["stdout"]
        )
        assert "Unmounted /data/d1/" in run(kc, "%ma_unmount /data/d1/")["stdout"]
        assert run(kc, "%ma_lease renew 3h")["error"] is None

        # The job runs with this kernel's Python, so the package only this env has imports.
        cell = textwrap.dedent("""\
            %%ma_train --name env-check
            import sys, kernel_only_pkg
            print("ran on", kernel_only_pkg.WHERE, sys.version_info[:2])
        """)
        out = run(kc, cell)
        assert out["error"] is None, out
        assert out["data"][0]["text/plain"].startswith("Job env-check ("), out
        assert WIDGET_VIEW not in out["data"][0]
        assert value(kc, "_.wait(60).status()") == "Completed"
        log = value(kc, "_.logs()")
        major, minor_number = minor.split(".")
        assert f"ran on {kernel_env.key} ({major}, {minor_number})" in log
        assert value(kc, "_.info()['spec']['engine']") == kernel_env.kernel_name

        # A failing job fails a following cell in one line, on this Python's IPython too.
        out = run(kc, "%%ma_train --follow --name env-fail\nraise SystemExit(2)\n", timeout=60)
        assert out["error"]["ename"] == "JobFailed", out
        assert len(out["error"]["traceback"]) == 1
    finally:
        server.stop_kernel(kc)


def test_installing_into_a_kernel_environment_pulls_in_no_jupyter():
    """What `pip install jupyter_modelarts` brings without extras (bench/kernel_side.py measures
    its size): never jupyter_server, jupyterlab or notebook, which live in the [lab] extra."""
    base = {Requirement(r).name.lower() for r in requires("jupyter_modelarts") if "extra" not in r}
    assert base and not base & {"jupyter-server", "jupyter_server", "jupyterlab", "notebook"}
    lab = {
        Requirement(r).name.lower()
        for r in requires("jupyter_modelarts")
        if Requirement(r).marker and Requirement(r).marker.evaluate({"extra": "lab"})
    }
    assert {"jupyter_server", "jupyterlab"} <= {n.replace("-", "_") for n in lab}

"""Local engines are the server's Python kernelspecs; a job runs with its engine's interpreter,
without the server's credentials. Real server processes, kernels in venvs on other Pythons."""

import json
import platform
import sys
import textwrap

from conftest import SECRETS

FINAL = ("Completed", "Failed", "Terminated")
HUB_TOKEN = "hub-api-token-4f1c2e"
USER_PYTHONPATH = "/opt/user-lib-a:/opt/user-lib-b"


def run_job(server, expect=201, **spec):
    """Submit through REST and wait for the end; the job and worker-0's whole log."""
    job = server.call("POST", "jobs", {"name": "engine-job", **spec}, expect=expect)
    job = server.wait_for(f"jobs/{job['id']}", lambda j: j["phase"] in FINAL, timeout=60)
    log = server.call("GET", f"jobs/{job['id']}/logs?task=worker-0&limit=1048576")["content"]
    return job, log


def with_extra_kernelspecs(tmp_path):
    """A data dir with a non-Python kernelspec and a Python one whose interpreter is missing."""
    data = tmp_path / "extra-data"
    for name, spec in {
        "bash": {"argv": ["bash", "{connection_file}"], "display_name": "Bash", "language": "bash"},
        "gone": {
            "argv": ["/nonexistent/bin/python", "-m", "ipykernel_launcher"],
            "display_name": "Python (deleted env)",
            "language": "python",
        },
    }.items():
        (data / "kernels" / name).mkdir(parents=True)
        (data / "kernels" / name / "kernel.json").write_text(json.dumps(spec))
    return str(data)


def start(servers, tmp_path, ma_config, kernel_envs, **env):
    data_dirs = [kernel_envs.data_dir, with_extra_kernelspecs(tmp_path)]
    return servers(
        ma_config,
        env={
            "JUPYTER_PATH": ":".join(data_dirs),
            "JUPYTER_DATA_DIR": str(tmp_path / "user-data"),  # no kernelspecs of the home dir
            **env,
        },
    )


def test_engines_are_the_python_kernelspecs(servers, tmp_path, ma_config, kernel_envs):
    server = start(servers, tmp_path, ma_config, kernel_envs)
    engines = server.call("GET", "engines")["engines"]
    by_id = {e["id"]: e for e in engines}
    # The default kernelspec first: the server's own Python, as a kernel of it would run.
    assert engines[0] == {
        "id": "python3",
        "name": "Python 3 (ipykernel)",
        "version": platform.python_version(),
        "image": None,
        "interpreter": sys.executable,
    }
    for minor in ("3.8", "3.13"):
        env = kernel_envs[minor]
        engine = by_id[env.kernel_name]
        assert engine["name"] == env.display_name
        assert engine["version"].startswith(f"{minor}.")
        assert engine["interpreter"] == env.python  # the venv's, not the Python it links to
    assert set(by_id) == {"python3", *(kernel_envs[m].kernel_name for m in ("3.8", "3.13"))}
    assert server.call("GET", "engines")["engines"] == engines
    # A kernelspec whose Python is gone is left out, with one warning however often it is listed.
    log = server.log()
    assert "kernelspec 'gone'" in log and "not offered as an engine" in log
    assert log.count("kernelspec 'gone'") == 1


def test_jobs_run_with_their_engine_and_without_server_secrets(
    servers, tmp_path, ma_config, kernel_envs
):
    SECRETS.add(HUB_TOKEN)
    server = start(
        servers,
        tmp_path,
        ma_config,
        kernel_envs,
        JUPYTERHUB_API_TOKEN=HUB_TOKEN,
        JPY_SESSION_NAME="secret-session-name",
        MY_TOKEN="my-token-value",
        JUPYTER_MODELARTS_PROBE="server-only",
        # The server's kernels get an entry of ours appended; a job gets the user's own.
        PYTHONPATH=f"{USER_PYTHONPATH}:/tmp/0123abcd-jupyter_modelarts-kernel-path",
    )
    code = textwrap.dedent("""
        import os, sys
        print("python", sys.version.split()[0], sys.executable)
        try:
            import kernel_only_pkg
            print("where", kernel_only_pkg.WHERE)
        except ImportError:
            print("where nowhere")
        print("keys", " ".join(sorted(os.environ)))
        print("pythonpath", os.environ.get("PYTHONPATH"))
        print("mine", os.environ.get("MY_SETTING"), os.environ.get("JOB_TOKEN"))
    """)
    env = kernel_envs["3.8"]
    job, log = run_job(
        server,
        code=code,
        engine=env.kernel_name,
        env={"MY_SETTING": "on", "JOB_TOKEN": "asked-for"},
    )
    assert job["phase"] == "Completed", log
    assert job["spec"]["engine"] == env.kernel_name
    assert "python 3.8." in log and f"{env.python}\n" in log
    assert "where py38" in log
    keys = next(line for line in log.splitlines() if line.startswith("keys ")).split()[1:]
    for private in ("JUPYTERHUB_API_TOKEN", "JPY_SESSION_NAME", "MY_TOKEN"):
        assert private not in keys
    assert not [k for k in keys if k.startswith("JUPYTER_MODELARTS_")], keys
    assert HUB_TOKEN not in log
    assert f"pythonpath {USER_PYTHONPATH}\n" in log
    assert "mine on asked-for" in log

    job, log = run_job(server, code=code, engine=kernel_envs["3.13"].kernel_name)
    assert job["phase"] == "Completed", log
    assert "python 3.13." in log and "where py313" in log

    # No engine: the default kernelspec, the server's own Python, where kernel_only_pkg is not.
    job, log = run_job(server, code=code)
    assert job["phase"] == "Completed", log
    assert job["spec"]["engine"] == "python3"
    assert f"python {platform.python_version()} {sys.executable}\n" in log
    assert "where nowhere" in log

    error = server.call(
        "POST", "jobs", {"name": "j", "code": "print(1)", "engine": "gone"}, expect=400
    )
    assert error["field"] == "engine" and "kernel-env-py38" in error["message"]


def test_default_engine_is_the_default_kernel(servers, tmp_path, ma_config, kernel_envs):
    env = kernel_envs["3.13"]
    config_dir = tmp_path / "config-default-kernel"
    config_dir.mkdir()
    (config_dir / "jupyter_config.json").write_text(  # read beside --config
        json.dumps({"MappingKernelManager": {"default_kernel_name": env.kernel_name}})
    )
    server = start(
        servers,
        tmp_path,
        {**ma_config, "max_concurrent_jobs": 1},
        kernel_envs,
        JUPYTER_CONFIG_DIR=str(config_dir),
        # Only our entry on it: the job has no PYTHONPATH at all.
        PYTHONPATH="/tmp/0123abcd-jupyter_modelarts-kernel-path",
    )
    engines = server.call("GET", "engines")["engines"]
    assert engines[0]["id"] == env.kernel_name
    code = "import os, sys\nprint(sys.version_info[:2], 'PYTHONPATH' in os.environ)\n"
    job, log = run_job(server, code=code)
    assert job["phase"] == "Completed", log
    assert job["spec"]["engine"] == env.kernel_name
    assert "(3, 13) False" in log
    # A job queued as Pending starts later with the Python chosen at submit.
    busy = {"name": "busy", "code": "import time; time.sleep(1)"}
    busy = server.call("POST", "jobs", busy, expect=201)
    queued = {"name": "queued", "code": code, "engine": kernel_envs["3.8"].kernel_name}
    job = server.call("POST", "jobs", queued, expect=201)
    assert job["phase"] == "Pending"
    job = server.wait_for(f"jobs/{job['id']}", lambda j: j["phase"] in FINAL)
    log = server.call("GET", f"jobs/{job['id']}/logs?task=worker-0")["content"]
    assert job["phase"] == "Completed" and "(3, 8) False" in log, log
    assert job["started_at"] >= server.call("GET", f"jobs/{busy['id']}")["ended_at"]
    # A command runs as given, whatever the engine.
    job, log = run_job(server, command="echo command-ran", engine="python3")
    assert job["phase"] == "Completed" and "command-ran" in log

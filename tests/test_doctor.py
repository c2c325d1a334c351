"""The checks run before work starts: each local check passes on a sound server and fails, saying
why and the fix, when its folder, disk, kernelspecs or workspace is wrong; the doctor that runs
them ends every run in a report, whatever happens, and never delays start-up."""

import asyncio
import json
import logging
import shutil

import pytest

from conftest import server_config
from jupyter_modelarts.doctor import Doctor
from jupyter_modelarts.models import Check, CheckStatus, InvalidRequest

CHECK_IDS = [
    "workspace",
    "quota:training",
    "local:state_dir",
    "local:disk",
    "local:objects",
    "local:data_root",
    "local:kernelspecs",
]
GATED = "import os, sys, time\nwhile not os.path.exists(sys.argv[1].split('=', 1)[1]):\n" + (
    "    time.sleep(0.02)\n"
)


@pytest.fixture
def settings():
    """ma_config overrides of a test."""
    return {}


@pytest.fixture
def own_kernels():
    """Whether the server finds the kernelspecs of kernel_dir only (not its own Python's)."""
    return False


@pytest.fixture
def sections(own_kernels, request):
    """Further config sections of a test."""
    if not own_kernels:
        return {}
    request.getfixturevalue("kernel_dir")
    return {"KernelSpecManager": {"ensure_native_kernel": False}}


@pytest.fixture
def jp_server_config(ma_config, settings, sections):
    return server_config({**ma_config, **settings}, **sections)


def by_id(report):
    return {check["id"]: check for check in report["checks"]}


def failing(report):
    return {c["id"]: c for c in report["checks"] if c["status"] == "fail"}


def the_app(serverapp):
    return next(iter(serverapp.extension_manager.extension_apps["jupyter_modelarts"]))


async def test_a_sound_server_passes_every_check(api, ma_dirs):
    report = await api.get("doctor")
    assert report["backend"] == "local" and report["workspace_id"] == "0"
    assert report["checked_at"] and not report["running"]
    assert [c["id"] for c in report["checks"]] == CHECK_IDS
    for check in report["checks"]:
        assert check["status"] == "pass" and check["fix"] == "" and check["detail"], check
        expected = {"workspace": "workspace", "quota:training": "quota"}.get(check["id"], "local")
        assert check["area"] == expected
    checks = by_id(report)
    assert checks["local:state_dir"]["detail"] == f"{ma_dirs['state']} is writable"
    assert checks["local:objects"]["detail"] == f"{ma_dirs['objects']} is writable"
    assert checks["local:data_root"]["detail"] == f"{ma_dirs['data']} is writable"
    assert "images may reach 35.0 GB" in checks["local:disk"]["detail"]
    assert checks["quota:training"]["detail"].startswith("4 of 4 job slots free")
    assert "default (0)" in checks["workspace"]["detail"]
    # The probes leave nothing behind.
    for folder in ("state", "objects", "data"):
        assert not [p for p in ma_dirs[folder].iterdir() if p.name.startswith(".modelarts-")]


@pytest.mark.parametrize("broken", ["missing", "a file"])
async def test_state_dir_check_fails_where_no_file_can_be_written(jp_serverapp, tmp_path, broken):
    app = the_app(jp_serverapp)
    state_dir = tmp_path / "other-state"
    # A second backend over another state folder, which then goes (or becomes a file).
    backend = app.backend_class(
        parent=app,
        store=app.store,
        state_dir=str(state_dir),
        root_dir=str(jp_serverapp.root_dir),
        request_shutdown=lambda reason: None,
    )
    shutil.rmtree(state_dir)
    if broken == "a file":
        state_dir.write_text("not a folder")
    checks = {c.id: c for c in await backend.run_checks("0")}
    check = checks["local:state_dir"]
    assert check.status is CheckStatus.FAIL
    said = "does not exist" if broken == "missing" else "is not a folder"
    assert check.detail == f"{state_dir} {said}"
    assert "c.ModelArtsApp.state_dir" in check.fix
    assert [i for i, c in checks.items() if c.status is CheckStatus.FAIL] == ["local:state_dir"]


@pytest.mark.parametrize("settings", [{"image_size_limit": 10**18}])
async def test_disk_check_fails_when_an_image_as_large_as_allowed_would_not_fit(api, settings):
    report = await api.get("doctor")
    assert list(failing(report)) == ["local:disk"]
    check = failing(report)["local:disk"]
    assert "GB free at" in check["detail"] and "images may reach 1000000000.0 GB" in check["detail"]
    assert "would run out of disk" in check["detail"]
    assert "image_size_limit" in check["fix"]


async def test_object_store_check_fails_when_its_folder_is_gone(api, ma_dirs):
    assert by_id(await api.get("doctor"))["local:objects"]["status"] == "pass"
    shutil.rmtree(ma_dirs["objects"])
    report = (await api.call("POST", "doctor", expect=200))[1]
    assert list(failing(report)) == ["local:objects"]
    check = failing(report)["local:objects"]
    assert check["detail"] == f"{ma_dirs['objects']} does not exist"
    assert "c.LocalBackend.object_store_root" in check["fix"]


async def test_data_root_check_fails_when_a_file_is_in_its_place(api, ma_dirs):
    assert by_id(await api.get("doctor"))["local:data_root"]["status"] == "pass"
    shutil.rmtree(ma_dirs["data"])
    ma_dirs["data"].write_text("a file where mounts should go")
    report = (await api.call("POST", "doctor", expect=200))[1]
    assert list(failing(report)) == ["local:data_root"]
    check = failing(report)["local:data_root"]
    assert check["detail"] == f"{ma_dirs['data']} is not a folder"
    assert "c.LocalBackend.data_root" in check["fix"]


@pytest.fixture
def kernel_dir(jp_data_dir):
    """The test's kernelspec folder (pytest-jupyter's holds a kernel of another language), with
    one Python kernelspec whose interpreter is not there."""
    folder = jp_data_dir / "kernels"
    spec = {"argv": ["/nowhere/python", "-m", "ipykernel"], "language": "python"}
    (folder / "gone").mkdir(parents=True)
    (folder / "gone" / "kernel.json").write_text(json.dumps({**spec, "display_name": "Gone"}))
    return folder


@pytest.mark.parametrize("own_kernels", [True])
async def test_kernelspec_check_fails_without_a_python_kernelspec_that_runs(
    api, kernel_dir, own_kernels
):
    report = await api.get("doctor")
    assert list(failing(report)) == ["local:kernelspecs"], report
    check = failing(report)["local:kernelspecs"]
    assert "no Python kernelspec found" in check["detail"]
    assert "gone name an interpreter that is not there" in check["detail"]
    assert "python -m ipykernel install --user --name" in check["fix"]
    # One that runs makes it pass.
    spec = {"argv": ["python", "-m", "ipykernel_launcher"], "language": "python"}
    (kernel_dir / "py").mkdir()
    (kernel_dir / "py" / "kernel.json").write_text(json.dumps({**spec, "display_name": "Py"}))
    report = (await api.call("POST", "doctor", expect=200))[1]
    assert failing(report) == {}
    assert by_id(report)["local:kernelspecs"]["detail"] == (
        "found py; gone name an interpreter that is not there"
    )


@pytest.mark.parametrize(
    "settings", [{"workspace_id": "gone", "workspaces": [{"id": "team-b", "name": "Team B"}]}]
)
async def test_workspace_check_fails_when_the_current_one_is_not_configured(api, settings):
    report = await api.get("doctor")
    assert report["workspace_id"] == "gone"
    assert list(failing(report)) == ["workspace"]
    check = failing(report)["workspace"]
    assert check["detail"].startswith("workspace 'gone' is not one of this server's (0, team-b)")
    assert "c.LocalBackend.workspaces" in check["fix"]
    # As it says: work in it is refused, naming the field.
    code, error = await api.call("POST", "jobs", {"name": "j", "code": "1"})
    assert code == 400 and error["field"] == "workspace_id", error
    code, error = await api.call("POST", "images", {"name": "snap"})
    assert code == 400 and error["field"] == "workspace_id", error
    current = await api.get("workspaces/current")
    assert current["id"] == "gone" and current["status"] == "UNAVAILABLE"
    # Picking one fixes it, and the checks run again by themselves.
    await api.call("PUT", "workspaces/current", {"id": "team-b"}, expect=200)
    report = await api.wait_for(
        "doctor", lambda r: r["workspace_id"] == "team-b" and not r["running"]
    )
    assert failing(report) == {}


@pytest.mark.parametrize("settings", [{"max_concurrent_jobs": 1}])
async def test_quota_check_says_a_job_submitted_when_every_slot_is_taken_waits(
    api, tmp_path, settings
):
    gate = tmp_path / "gate"
    try:
        await check_slots_while_busy(api, gate)
    finally:
        gate.touch()  # the jobs end however the test went


async def check_slots_while_busy(api, gate):
    spec = {"name": "busy", "code": GATED, "parameters": {"gate": str(gate)}}
    busy = (await api.call("POST", "jobs", spec, expect=201))[1]
    assert busy["phase"] == "Running"
    report = (await api.call("POST", "doctor", expect=200))[1]
    check = by_id(report)["quota:training"]
    # Not a failure on this backend: the job is accepted and waits its turn.
    assert check["status"] == "pass"
    assert check["detail"] == (
        "all 1 job slots are taken (0 waiting): a job submitted now waits in Pending until one "
        "ends, it is not refused"
    )
    waiting = (await api.call("POST", "jobs", spec, expect=201))[1]
    assert waiting["phase"] == "Pending"
    report = (await api.call("POST", "doctor", expect=200))[1]
    assert "(1 waiting)" in by_id(report)["quota:training"]["detail"]
    gate.touch()
    for job in (busy, waiting):
        await api.wait_for(f"jobs/{job['id']}", lambda j: j["phase"] == "Completed")
    report = (await api.call("POST", "doctor", expect=200))[1]
    assert by_id(report)["quota:training"]["detail"].startswith("1 of 1 job slots free")


# ---------------------------------------------------------------------------------------------
# The doctor itself, over a backend whose checks the test controls


class Backend:
    name = "stub"

    def __init__(self, work=None):
        self.current_workspace = "0"
        self.calls = []
        self.gate = asyncio.Event()
        self.work = work

    async def run_checks(self, workspace_id):
        self.calls.append(workspace_id)
        await self.gate.wait()
        if self.work is not None:
            return await self.work()
        return [Check("workspace", "workspace", "t", CheckStatus.PASS, f"{workspace_id} is fine")]


def doctor_of(backend, timeout_s=30.0):
    published = []
    doctor = Doctor(backend, published.append, logging.getLogger("doctor-test"), timeout_s)
    return doctor, published


async def test_the_first_run_starts_in_the_background_and_is_waited_for():
    backend = Backend()
    doctor, published = doctor_of(backend)
    doctor.start()  # returns at once, the checks still running
    await asyncio.sleep(0.05)
    assert doctor.report().running and doctor.report().checked_at is None
    first = asyncio.ensure_future(doctor.first())
    joined = asyncio.ensure_future(doctor.run())
    await asyncio.sleep(0.05)
    assert not first.done() and backend.calls == ["0"]  # joined, not repeated
    backend.gate.set()
    report = await first
    assert report is await joined and report is doctor.report()
    assert report.checks[0].detail == "0 is fine" and not report.running and report.checked_at
    assert [r.running for r in published] == [True, False]
    assert await doctor.first() is report  # kept, not run again
    assert backend.calls == ["0"]


async def test_a_run_of_another_workspace_is_not_joined():
    backend = Backend()
    doctor, _ = doctor_of(backend)
    doctor.start()
    await asyncio.sleep(0.05)
    backend.current_workspace = "team-b"
    doctor.workspace_changed()
    backend.gate.set()
    report = await doctor.run()
    assert report.workspace_id == "team-b" and backend.calls == ["0", "team-b"]
    await doctor.stop()


async def test_a_run_that_takes_too_long_ends_in_a_failing_check(caplog):
    backend = Backend()
    doctor, published = doctor_of(backend, timeout_s=0.1)
    report = await doctor.run()
    (check,) = report.checks
    assert (check.id, check.status) == ("doctor", CheckStatus.FAIL)
    assert check.detail == "the checks did not end within 0.1 s (c.ModelArtsApp.doctor_timeout_s)"
    assert not report.running and published[-1] is report
    assert "did not end within 0.1 s" in caplog.text


async def test_a_run_that_breaks_ends_in_a_failing_check(caplog):
    async def breaks():
        raise KeyError("surprise")

    backend = Backend(breaks)
    backend.gate.set()
    doctor, _ = doctor_of(backend)
    (check,) = (await doctor.run()).checks
    assert check.status is CheckStatus.FAIL
    assert check.detail == "the checks could not run: internal error: KeyError: 'surprise'"
    assert "Traceback" in caplog.text  # the unforeseen is logged with its traceback

    async def refused():
        raise InvalidRequest("no such thing", field="x")

    backend.work = refused
    (check,) = (await doctor.run()).checks
    assert check.detail == "the checks could not run: no such thing"


async def test_a_run_cut_short_by_the_server_stopping_says_so(caplog):
    backend = Backend()
    doctor, published = doctor_of(backend)
    doctor.start()
    await asyncio.sleep(0.05)
    await doctor.stop()
    report = doctor.report()
    assert not report.running and report.checks[0].detail == "the server stopped during the checks"
    assert published[-1] is report
    assert "the server stopped during the checks" in caplog.text


@pytest.fixture
def slow_checks(monkeypatch):
    """The local backend's checks wait for the test's word."""
    from jupyter_modelarts.backends.local import LocalBackend

    gate = asyncio.Event()
    run_checks = LocalBackend.run_checks

    async def held(self, workspace_id):
        await gate.wait()
        return await run_checks(self, workspace_id)

    monkeypatch.setattr(LocalBackend, "run_checks", held)
    return gate


async def test_the_server_answers_while_the_first_run_goes(slow_checks, api):
    report = asyncio.ensure_future(api.get("doctor"))
    assert (await api.get("workspaces"))["current"] == "0"
    await asyncio.sleep(0.1)
    assert not report.done()
    slow_checks.set()
    assert [c["id"] for c in (await report)["checks"]] == CHECK_IDS

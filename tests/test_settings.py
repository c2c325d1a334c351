"""The local backend's settings live on c.LocalBackend; the old c.ModelArtsApp names still work,
with a deprecation warning, and the new name wins when both are set (issue 9, item 8)."""

import pytest

from conftest import fresh_backend, server_config


@pytest.fixture
def jp_server_config(ma_config, tmp_path):
    config = server_config(ma_config)
    # A config file from before the move: two settings under the old names only, one under both.
    config["LocalBackend"].pop("data_root")
    config["ModelArtsApp"].update(
        {"data_root": str(tmp_path / "old-data"), "max_concurrent_jobs": 3, "job_stop_grace": 7.0}
    )
    config["LocalBackend"]["job_stop_grace"] = 5.0
    return config


async def test_old_setting_names_still_work_with_a_deprecation_warning(jp_serverapp, tmp_path):
    with pytest.warns(DeprecationWarning) as warned:
        backend = fresh_backend(jp_serverapp)
    messages = sorted(str(w.message) for w in warned)
    assert messages == [
        "c.ModelArtsApp.data_root is deprecated: set c.LocalBackend.data_root instead",
        "c.ModelArtsApp.job_stop_grace is deprecated: set c.LocalBackend.job_stop_grace "
        "instead (ignored: both are set)",
        "c.ModelArtsApp.max_concurrent_jobs is deprecated: set c.LocalBackend."
        "max_concurrent_jobs instead",
    ]
    assert backend.data_root == str(tmp_path / "old-data")
    assert backend.data.root == str(tmp_path / "old-data")
    assert backend.jobs.max_concurrent == 3
    assert backend.jobs.stop_grace_s == 5.0


async def test_a_bad_value_names_the_setting(jp_serverapp):
    app = next(iter(jp_serverapp.extension_manager.extension_apps["jupyter_modelarts"]))
    with pytest.raises(Exception, match="max_concurrent_jobs must be at least 1"):
        app.backend.max_concurrent_jobs = 0

"""The cloud backend with each credential source of Huawei's chain, against the fake cloud."""

import re

import pytest

from conftest import cloud_server_config

CHAIN_VARIABLES = (
    "HUAWEICLOUD_SDK_AK",
    "HUAWEICLOUD_SDK_SK",
    "HUAWEICLOUD_SDK_SECURITY_TOKEN",
    "HUAWEICLOUD_SDK_PROJECT_ID",
    "HUAWEICLOUD_SDK_CREDENTIALS_FILE",
)


@pytest.fixture(params=["iam-password", "metadata", "credentials-file"])
def source(request):
    return request.param


@pytest.fixture
def jp_server_config(ma_config, cloud_config, fake, source, monkeypatch, tmp_path):
    for name in CHAIN_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    backend = dict(cloud_config)
    if source == "iam-password":
        backend.update(iam_user=fake.iam_user, iam_domain=fake.iam_domain)
        monkeypatch.setenv("JUPYTER_MODELARTS_IAM_PASSWORD", fake.iam_password)
    elif source == "metadata":
        backend.update(metadata_endpoint=fake.base_url)
    else:
        credentials = tmp_path / "credentials"
        credentials.write_text(f"[basic]\nak = {fake.ak}\nsk = {fake.sk}\n")
        backend.update(credentials_file=str(credentials))
    return cloud_server_config(ma_config, backend)


async def test_each_source_drives_the_api_and_uploads_code(api, fake, source):
    assert (await api.get("instance"))["backend"] == "modelarts"
    fake.expire_tokens()  # a password token is refreshed; the other sources never had one
    await api.call("PATCH", "lease", {"duration_s": 3600}, expect=200)
    _, job = await api.call(
        "POST", "jobs", {"name": f"src-{source}", "code": "print('hello')"}, expect=201
    )
    boot = re.compile(rf"jobs/src-{source}/[0-9a-f-]{{36}}/code/ma_boot\.py")
    assert any(boot.fullmatch(key) for key in fake.buckets["bucket"])
    job = await api.wait_for(f"jobs/{job['id']}", lambda j: j["phase"] == "Completed", 60)
    assert job["exit_code"] == 0

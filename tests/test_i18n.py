"""Chinese: the catalogue covers every message, Lab serves it, the server's errors and the
kernels' messages follow the frontend's language."""

import asyncio
import importlib.util
import json
import os

import pytest

from conftest import ServerProcess
from jupyter_modelarts import i18n
from test_magics import run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ZH = {"X-ModelArts-Language": "zh-CN"}
EN = {"X-ModelArts-Language": "en"}


def _extractor():
    spec = importlib.util.spec_from_file_location("i18n_script", f"{ROOT}/scripts/i18n.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_message_has_a_chinese_translation_and_no_entry_is_stale():
    script = _extractor()
    messages = script.extract()
    # The three sources are all there.
    assert "Training jobs" in messages  # frontend
    assert "no job {job_id}" in messages  # a server error's f-string, as a template
    assert "Unmounted {path}" in messages  # kernel
    assert script.problems("zh_CN", messages) == []


def test_the_check_names_a_new_message_a_stale_one_and_a_placeholder_lost():
    script = _extractor()
    messages = script.extract()
    extra = {**messages, "A message added without a translation": "src/x.ts:1"}
    assert script.problems("zh_CN", extra) == [
        "missing: 'A message added without a translation' (src/x.ts:1)"
    ]
    fewer = dict(messages)
    del fewer["Training jobs"]
    assert script.problems("zh_CN", fewer) == ["stale: 'Training jobs'"]
    data = script.load("zh_CN")
    data["no job {job_id}"] = ["没有作业"]
    original = script.load
    script.load = lambda lang: data
    try:
        assert script.problems("zh_CN", messages) == [
            "placeholders differ: 'no job {job_id}' → '没有作业'"
        ]
    finally:
        script.load = original


def test_an_error_built_from_parts_is_translated_part_by_part():
    assert i18n.translate("no job abc", "zh_CN") == "没有作业 abc"
    assert (
        i18n.translate("/data/a/ is already mounted (obs://b/x/)", "zh_CN")
        == "/data/a/ 已被挂载（obs://b/x/）"
    )
    assert (
        i18n.translate("/data/a/b/ overlaps the mount at /data/a/ (obs://b/x/)", "zh_CN")
        == "/data/a/b/ 与 /data/a/ 处的挂载重叠（obs://b/x/）"
    )
    # Unknown text (an upstream message) and English stay as they are.
    assert i18n.translate("ModelArts.0104: quota exceeded", "zh_CN") == (
        "ModelArts.0104: quota exceeded"
    )
    # An upstream error: ModelArts' text kept, our framing of its code and request translated.
    assert i18n.translate("instance gone (ModelArts ModelArts.6404, request 9f1c)", "zh_CN") == (
        "instance gone（ModelArts ModelArts.6404，请求 9f1c）"
    )
    assert i18n.translate("no job abc", "en") == "no job abc"
    assert i18n.translate("no job abc", None) == "no job abc"


def test_the_checks_text_is_extracted_where_it_is_given_or_marked():
    messages = _extractor().extract()
    # A Check's keyword, a helper's positional title/detail/fix, and parts marked N_().
    assert "Running the checks" in messages  # Check(title=…)
    assert "{folder} is writable" in messages  # _check(id, title, status, detail)
    assert "make sure {feature.action} is granted" in messages  # check(status, detail, fix)
    assert "State folder (jobs, logs, images)" in messages  # N_(), given through to_thread
    assert "list {0}, write {1}, read {2}, delete {3}" in messages  # a part of a detail
    assert "{0}: {err}" not in messages  # an unforeseen error's own text: not ours


def test_the_coverage_check_fails_when_a_check_message_lacks_its_translation(capsys):
    script = _extractor()
    assert script.main(["check"]) == 0
    data = script.load("zh_CN")
    data["{folder} is writable"] = [""]
    script.load = lambda lang: data
    assert script.main(["check"]) == 1
    assert "untranslated: '{folder} is writable' (jupyter_modelarts/backends/local/checks.py:" in (
        capsys.readouterr().out
    )


def test_a_report_is_translated_check_by_check_and_its_data_kept():
    report = {
        "backend": "modelarts",
        "workspace_id": "0",
        "checks": [
            {
                "id": "action:modelarts:notebook:get",
                "area": "actions",
                "title": "IAM action modelarts:notebook:get",
                "status": "FAIL",
                "detail": "ModelArts refused reading the instance and its lease: the user lacks "
                "modelarts:notebook:get. In strict authorization mode (严格授权模式, set in "
                "全局配置) a sub-user may use only the ModelArts actions granted explicitly",
                "fix": "",
                "iam_action": "modelarts:notebook:get",
            },
            {
                "id": "obs:my-bucket",
                "area": "obs",
                "title": "OBS bucket my-bucket",
                "status": "FAIL",
                "detail": "obs://my-bucket/code/ (job code (code_uri)): list ok, write denied, "
                "read not tried (nothing written), delete not tried (nothing written) "
                "(the probe object is left behind)",
                "fix": "grant obs:object:PutObject on bucket my-bucket to this user (an IAM "
                "policy with OBS rights, or the bucket's policy)",
            },
        ],
    }
    zh = i18n.translate_report(report, "zh_CN")
    action, bucket = zh["checks"]
    assert action["title"] == "IAM 授权项 modelarts:notebook:get"
    assert action["detail"] == (
        "ModelArts 拒绝了读取实例及其自动停止设置：用户缺少 modelarts:notebook:get。"
        "在严格授权模式下（于全局配置中设置），子用户只能使用显式授予的 ModelArts 授权项"
    )
    assert bucket["title"] == "OBS 桶 my-bucket"
    # Parts of parts: the summary, then each step's result.
    assert bucket["detail"] == (
        "obs://my-bucket/code/（作业代码（code_uri））：列举成功，写入被拒绝，"
        "读取未尝试（未写入任何内容），删除未尝试（未写入任何内容）（探测对象未能删除）"
    )
    assert bucket["fix"].startswith("请为该用户授予桶 my-bucket 上的 obs:object:PutObject")
    for key in ("id", "area", "status", "iam_action"):
        assert action.get(key) == report["checks"][0].get(key)
    assert zh["workspace_id"] == "0" and report["checks"][0]["title"].startswith("IAM action")
    assert i18n.translate_report(report, "en") == report


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("i18n")
    dirs = {name: tmp / name for name in ("state", "objects", "data", "env")}
    for folder in dirs.values():
        folder.mkdir()
    config = {
        "state_dir": str(dirs["state"]),
        "object_store_root": str(dirs["objects"]),
        "data_root": str(dirs["data"]),
        "image_paths": [str(dirs["env"])],
    }
    proc = ServerProcess(tmp, config, "server")
    yield proc
    proc.kill()


def test_lab_serves_the_catalogue_with_the_language_pack(server):
    answer = server.http.get("lab/api/translations/zh_CN")
    assert answer.status_code == 200, answer.text
    ours = answer.json()["data"]["jupyter_modelarts"]
    # The header the browser's Gettext matches (zh-CN, not zh_CN) and our domain.
    assert ours[""]["language"] == "zh-CN"
    assert ours[""]["domain"] == "jupyter_modelarts"
    assert ours["Training jobs"] == ["训练作业"]
    # The official pack is still there (our entry point must not shadow it).
    assert "jupyterlab" in answer.json()["data"]


def test_errors_come_back_in_the_language_the_frontend_asks(server):
    def error(headers=None):
        answer = server.client.get("jobs/nonexistent", headers=headers)
        assert answer.status_code == 404, answer.text
        return answer.json()["message"]

    # Nothing asked yet: English.
    assert error() == "no job nonexistent"
    assert error(ZH) == "没有作业 nonexistent"
    # The last language the frontend sent holds for callers that send none (kernels).
    assert error() == "没有作业 nonexistent"
    assert server.call("GET", "i18n")["language"] == "zh_CN"
    assert error(EN) == "no job nonexistent"
    assert error() == "no job nonexistent"
    for bad in ("zh CN;", "zh" + "-abcdefgh" * 3000):
        answer = server.client.get("jobs/x", headers={"X-ModelArts-Language": bad})
        assert answer.status_code == 400
        assert answer.json()["field"] == "X-ModelArts-Language"


def test_the_language_survives_a_restart(tmp_path):
    from jupyter_modelarts.store import Store

    store = Store(str(tmp_path / "store.sqlite"))
    i18n.LanguageChoice(store).seen("zh_CN")
    store.close()
    store = Store(str(tmp_path / "store.sqlite"))
    try:
        assert i18n.LanguageChoice(store).language == "zh_CN"
    finally:
        store.close()


def test_a_kernel_speaks_the_language_the_frontend_chose(server):
    server.client.get("instance", headers=ZH)
    kc = server.start_kernel()
    try:
        out = run(kc, "%load_ext jupyter_modelarts")
        assert out["error"] is None, out
        assert out["stdout"].startswith("jupyter_modelarts：local 后端"), out["stdout"]
        out = run(kc, "%ma_unmount /data/nothing/")
        assert out["error"]["evalue"] == "/data/nothing/ 上没有挂载；参见 %ma_mount list"
        # The checks come from the server in the same language.
        out = run(kc, "%ma_doctor")
        assert out["error"] is None, out
        assert "状态文件夹（作业、日志、镜像）" in out["data"][0]["text/plain"]
        # A magic rechecks the language: back to English once the frontend is.
        run(kc, "import jupyter_modelarts.kernel.i18n as i18n; i18n.RECHECK_S = 0")
        server.client.get("instance", headers=EN)
        out = run(kc, "%ma_unmount /data/nothing/")
        assert out["error"]["evalue"] == "nothing is mounted at /data/nothing/; see %ma_mount list"
        out = run(kc, "%ma_doctor")
        assert "State folder (jobs, logs, images)" in out["data"][0]["text/plain"]
    finally:
        server.stop_kernel(kc)


def _checks(server, method="GET", headers=None):
    answer = server.client.request(method, "doctor", headers=headers)
    assert answer.status_code == 200, answer.text
    return {check["id"]: check for check in answer.json()["checks"]}


def test_the_checks_come_back_in_the_language_the_frontend_asks(server):
    english = _checks(server, headers=EN)
    assert english["local:state_dir"]["title"] == "State folder (jobs, logs, images)"
    assert english["local:state_dir"]["detail"].endswith(" is writable")
    assert _checks(server) == english  # nothing asked: the last language, English
    chinese = _checks(server, headers=ZH)
    assert chinese.keys() == english.keys()
    state = english["local:state_dir"]["detail"][: -len(" is writable")]
    assert chinese["local:state_dir"]["title"] == "状态文件夹（作业、日志、镜像）"
    assert chinese["local:state_dir"]["detail"] == f"{state} 可写"
    assert chinese["workspace"]["title"] == "当前工作空间"
    assert chinese["workspace"]["detail"] == "default（0）是本服务器的工作空间"
    assert chinese["quota:training"]["title"] == "训练作业槽位"
    assert chinese["local:disk"]["title"] == "保存镜像的可用磁盘空间"
    assert "镜像最大可达" in chinese["local:disk"]["detail"]
    for check_id, check in chinese.items():
        assert check["status"] == english[check_id]["status"], check_id
        assert check["title"] != english[check_id]["title"], check_id
    # A run made now answers in the language of its request too.
    assert _checks(server, "POST", ZH)["local:objects"]["title"] == "对象存储（代替 OBS）"
    assert _checks(server, "POST", EN)["local:objects"]["title"] == "Object store (stands for OBS)"


async def test_the_pushed_checks_are_in_the_frontends_last_language(server):
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    from conftest import TOKEN
    from jupyter_modelarts.events import DOCTOR_EVENT

    url = server.root_url.replace("http", "ws", 1) + "api/events/subscribe"
    ws = await websocket_connect(HTTPRequest(url, headers={"Authorization": f"token {TOKEN}"}))

    async def pushed(headers):
        checked_at = server.client.post("doctor", headers=headers).json()["checked_at"]
        while True:
            message = json.loads(await asyncio.wait_for(ws.read_message(), 30))
            report = message.get("report")
            if message["schema_id"] == DOCTOR_EVENT and report["checked_at"] == checked_at:
                return {check["id"]: check for check in report["checks"]}

    try:
        assert (await pushed(ZH))["workspace"]["title"] == "当前工作空间"
        assert (await pushed(EN))["workspace"]["title"] == "Current workspace"
    finally:
        ws.close()

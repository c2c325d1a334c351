"""Schemathesis fuzzes the served OpenAPI document against a real server: no 5xx, no drift."""

import os
import shutil
import subprocess
import sys

import pytest

from conftest import TOKEN

# Only the main .venv has schemathesis (the oldest-versions venv leaves it out).
pytest.importorskip("schemathesis")


def test_fuzzing_the_api_finds_no_server_error_or_contract_break(servers, ma_config, tmp_path):
    server = servers(ma_config)
    st = shutil.which("st", path=os.path.dirname(sys.executable)) or shutil.which("st")
    assert st, "schemathesis is required (pip install '.[test]')"
    result = subprocess.run(
        [
            st,
            "run",
            f"http://127.0.0.1:{server.port}/jupyter-modelarts/openapi.json",
            "-H",
            f"Authorization: token {TOKEN}",
            "--max-examples",
            "25",
            "--seed",
            "20261122",
            "--phases",
            "examples,coverage,fuzzing",
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,"
            "response_schema_conformance,unsafe_body_refused",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        env={
            **os.environ,
            "SCHEMATHESIS_TELEMETRY": "false",
            # NUL, lone surrogates, deep nesting and huge strings in the bodies (issue 9).
            "SCHEMATHESIS_HOOKS": os.path.join(os.path.dirname(__file__), "fuzz_hooks.py"),
        },
    )
    assert result.returncode == 0, result.stdout[-6000:] + server.log()[-3000:]
    assert " passed" in result.stdout

#!/usr/bin/env bash
# Set up .venv-oldest: Python 3.9 with the oldest supported JupyterLab, jupyter_server and
# dependencies (scripts/oldest-constraints.txt), jupyter_modelarts and the test tools, so that
# pytest proves the oldest versions as .venv proves the newest.
#
# Usage: bash scripts/setup-oldest.sh      (after scripts/setup.sh)
# Then:  .venv-oldest/bin/python -m pytest -q tests/
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

fail() { echo "setup-oldest.sh: $*" >&2; exit 1; }

python39=$(printf '%s\n' ~/.pyenv/versions/3.9.*/bin/python | sort -V | tail -n 1)
[ -x "$python39" ] || fail "needs Python 3.9 at ~/.pyenv/versions/3.9.*/bin/python (pyenv install 3.9)"
# The wheel is built in .venv: the build backend's jupyter-builder needs Python 3.10+, and the
# labextension that setup.sh built is reused (skip-if-exists in pyproject.toml), so no Node.
venv="${MA_VENV:-.venv}"  # the set-up's environment (CI's own when $MA_VENV names it)
[ -x "$venv/bin/python" ] && [ -f jupyter_modelarts/labextension/static/style.js ] ||
    fail "run scripts/setup.sh first (it makes .venv and builds the labextension)"

wheels=$(mktemp -d)
trap 'rm -rf "$wheels"' EXIT
"$venv/bin/python" -m pip wheel -q --no-deps . -w "$wheels"

# The test extra less what pytest does not need: schemathesis (tests/test_fuzz.py skips
# without it), ruff (lint runs in .venv) and notebook (the browser check runs in .venv; Notebook 7
# needs JupyterLab 4.0.2+).
mapfile -t test_requirements < <("$venv/bin/python" - <<'EOF'
import re
import tomllib

with open("pyproject.toml", "rb") as f:
    requirements = tomllib.load(f)["project"]["optional-dependencies"]["test"]
for requirement in requirements:
    if re.match(r"[\w.-]+", requirement).group().lower() not in {"schemathesis", "ruff", "notebook"}:
        print(requirement)
EOF
)
[ ${#test_requirements[@]} -gt 0 ] || fail "no test requirements found in pyproject.toml"

rm -rf .venv-oldest
"$python39" -m venv .venv-oldest
# Python 3.9's own pip 23 backtracks for many minutes over this set; a current one does not.
.venv-oldest/bin/python -m pip install -q -U pip
.venv-oldest/bin/python -m pip install -q -c scripts/oldest-constraints.txt \
    "$wheels"/jupyter_modelarts-*.whl "${test_requirements[@]}"
.venv-oldest/bin/python - <<'EOF'
import platform
from importlib.metadata import version

print(
    f".venv-oldest: Python {platform.python_version()}, jupyterlab {version('jupyterlab')},"
    f" jupyter_server {version('jupyter_server')}"
)
EOF

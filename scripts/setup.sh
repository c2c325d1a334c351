#!/usr/bin/env bash
# Set up a working tree: system tools, the .venv virtual environment, the JS dependencies and a
# freshly built labextension, then install jupyter_modelarts with its test extra.
#
# Usage: bash scripts/setup.sh [--ci]
#   --ci   start from a new .venv, install from the committed yarn.lock only (immutable), and
#          install the tools the tests need (chromium, skopeo, umoci) when they are missing.
# Needs Python 3.9+, Node 20 and, for missing system packages, apt (as root or through sudo).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

ci=false
for arg in "$@"; do
    case "$arg" in
        --ci) ci=true ;;
        *) echo "setup.sh: unknown option $arg" >&2; exit 2 ;;
    esac
done

step() { printf '\n==> %s\n' "$*"; }

apt_install() {
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then sudo=(sudo); fi
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$@"
}

# System packages: venv support for Debian's python3, and the tools the tests use.
missing=()
python3 -c 'import ensurepip' 2>/dev/null || missing+=(python3-venv)
if $ci; then
    for tool in chromium skopeo umoci; do
        command -v "$tool" >/dev/null || missing+=("$tool")
    done
fi
if [ ${#missing[@]} -gt 0 ]; then
    step "apt-get install ${missing[*]}"
    apt_install "${missing[@]}"
fi
command -v node >/dev/null || { echo "setup.sh: Node.js 20 is required on PATH" >&2; exit 1; }

# .venv, or $MA_VENV: CI sets up one of its own, so a demo running from .venv goes on.
venv="${MA_VENV:-.venv}"
if $ci; then rm -rf "$venv"; fi
if [ ! -x "$venv/bin/python" ]; then
    step "python3 -m venv $venv"
    python3 -m venv "$venv"
fi
# shellcheck disable=SC1091
source "$venv/bin/activate"

# The labextension is built with today's JupyterLab (4.6 brings jlpm via jupyter-builder); it
# runs in JupyterLab 4.0 and later, which .venv-oldest checks.
step "pip install -U pip; pip install jupyterlab (provides jlpm)"
python -m pip install -q -U pip
python -m pip install -q "jupyterlab>=4.6,<5"

step "jlpm install"
if $ci; then jlpm install --immutable; else jlpm install; fi

step "jlpm build:prod (labextension)"
jlpm build:prod

# The labextension built above is reused (skip-if-exists in pyproject.toml). CI tests the
# package as users get it; a working tree gets an editable install. The zh extra (JupyterLab's
# zh_CN language pack) lets the demo and the tests switch Lab to Chinese.
if $ci; then
    step "pip install .[test,zh]"
    python -m pip install -q ".[test,zh]"
else
    step "pip install -e .[test,zh]"
    python -m pip install -q -e ".[test,zh]"
fi

#!/usr/bin/env bash
# Set up (the first time, or when what the set-up builds from has changed), then start
# JupyterLab on the local backend with the demo notebook open, on Lab's port 8888 (the tests
# keep off it). State, data and the local object store live in ./.jupyter-modelarts/; the
# server stops itself when its 4-hour lease runs out (renewable). Extra arguments go to
# `jupyter lab`.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$PWD"

# What scripts/setup.sh builds from: when none of it changed since the last set-up and that
# set-up's results are there, the demo starts at once and offline.
stamp=.venv/.jupyter-modelarts-setup
inputs_hash() {
    local file
    {
        for file in pyproject.toml package.json yarn.lock .yarnrc.yml scripts/setup.sh \
            tsconfig.json webpack.config.js install.json; do
            if [ -f "$file" ]; then sha256sum "$file"; fi
        done
        { find src style schema jupyter-config -type f -print0 2>/dev/null || true; } |
            LC_ALL=C sort -z | xargs -0 -r sha256sum
    } | sha256sum | cut -d' ' -f1
}
wanted="$(inputs_hash)"
if [ -x .venv/bin/jupyter ] && [ -f jupyter_modelarts/labextension/package.json ] &&
    [ "$(cat "$stamp" 2>/dev/null)" = "$wanted" ]; then
    echo "demo.sh: set up already (nothing it builds from changed); bash scripts/setup.sh redoes it"
else
    bash scripts/setup.sh
    echo "$wanted" >"$stamp"
fi
# shellcheck disable=SC1091
source .venv/bin/activate

state="$root/.jupyter-modelarts"
mkdir -p "$state/state" "$state/data" "$state/objects"

args=(
    --ServerApp.ip=127.0.0.1
    --ServerApp.root_dir="$root"
    --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate
    --ModelArtsApp.state_dir="$state/state"
    --LocalBackend.data_root="$state/data"
    --LocalBackend.object_store_root="$state/objects"
    --LocalBackend.auto_stop_enabled=True
    --LocalBackend.auto_stop_duration=14400
)
if [ "$(id -u)" -eq 0 ]; then args+=(--allow-root); fi

exec jupyter lab demo/ModelArts-demo.ipynb "${args[@]}" "$@"

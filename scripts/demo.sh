#!/usr/bin/env bash
# Set up, then start JupyterLab on the local backend with the demo notebook open.
# State, data and the local object store live in ./.jupyter-modelarts/; the server stops itself
# when its 4-hour lease runs out (renewable through the API). Extra arguments go to `jupyter lab`.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$PWD"

bash scripts/setup.sh
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

# Sourced by .ci/run (and usable on its own to run a test step as CI does): every temporary file
# under one folder removed however the shell ends, and the tests' own home folder.
#
#   source .ci/env.sh && ci_temp && ci_home

# One folder for every temporary file (TMPDIR), removed when the sourcing shell exits.
ci_temp() {
    ci_tmp="$(mktemp -d "${TMPDIR:-/tmp}/jupyter-modelarts-ci.XXXXXX")"
    # shellcheck disable=SC2064  # the folder's name now, not at exit
    trap "rm -rf '$ci_tmp'" EXIT
    mkdir "$ci_tmp/tmp" "$ci_tmp/home"
    export TMPDIR="$ci_tmp/tmp"
}

# The tests' own home (after ci_temp): IPython's history, Jupyter's data and runtime folders,
# Chromium's profile and the tools' settings go there. pyenv's Pythons, the pip, npm and yarn
# caches and their settings stay the user's, so the tests still find them.
ci_home() {
    real_home="$HOME"
    export PYENV_ROOT="${PYENV_ROOT:-$real_home/.pyenv}"
    export PIP_CACHE_DIR="${PIP_CACHE_DIR:-${XDG_CACHE_HOME:-$real_home/.cache}/pip}"
    local pip_conf="${XDG_CONFIG_HOME:-$real_home/.config}/pip/pip.conf"
    if [ -z "${PIP_CONFIG_FILE:-}" ] && [ -f "$pip_conf" ]; then
        export PIP_CONFIG_FILE="$pip_conf"
    fi
    export npm_config_cache="${npm_config_cache:-$real_home/.npm}"
    export npm_config_logs_dir="$ci_tmp/npm-logs"  # else npm logs into the cache folder
    if [ -z "${NPM_CONFIG_USERCONFIG:-}" ] && [ -f "$real_home/.npmrc" ]; then
        export NPM_CONFIG_USERCONFIG="$real_home/.npmrc"
    fi
    export YARN_GLOBAL_FOLDER="${YARN_GLOBAL_FOLDER:-$real_home/.yarn/berry}"
    export YARN_ENABLE_TELEMETRY=0
    unset XDG_CONFIG_HOME XDG_CACHE_HOME XDG_DATA_HOME XDG_STATE_HOME XDG_RUNTIME_DIR
    unset JUPYTER_CONFIG_DIR JUPYTER_DATA_DIR JUPYTER_RUNTIME_DIR JUPYTER_PATH IPYTHONDIR
    export HOME="$ci_tmp/home"
}

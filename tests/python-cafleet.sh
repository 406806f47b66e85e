#!/usr/bin/env bash
# Installs the original Python cafleet (`cafleet==0.22.0` from PyPI) into a venv at
# $CAFLEET_PYTHON_CAFLEET (default ~/.cache/cafleet/python-cafleet-0.22.0) — only when it
# is missing or at another version. tests/python_import.rs makes a genuine 0.22 registry
# with it (and says skipped without it, failing under CI). `.ci/run` sources it.
# Needs Python >= 3.12: pyenv's newest 3.12, else python3.12 / python3.13 on PATH.
set -euo pipefail

export CAFLEET_PYTHON_CAFLEET="${CAFLEET_PYTHON_CAFLEET:-$HOME/.cache/cafleet/python-cafleet-0.22.0}"
venv="$CAFLEET_PYTHON_CAFLEET"
if ! [[ -x $venv/bin/cafleet ]] ||
    ! "$venv/bin/python" -c 'import importlib.metadata as m; assert m.version("cafleet") == "0.22.0"' 2>/dev/null; then
    py=""
    if command -v pyenv >/dev/null 2>&1; then
        py=$(ls -d "$(pyenv root)"/versions/3.1[2-9].*/bin/python 2>/dev/null | sort -V | head -1 || true)
    fi
    [[ -n $py ]] || py=$(command -v python3.12 || command -v python3.13 || true)
    if [[ -z $py ]]; then
        echo "error: the Python cafleet needs Python >= 3.12 (pyenv install 3.12, or python3.12 on PATH)" >&2
        return 1 2>/dev/null || exit 1
    fi
    echo "installing cafleet==0.22.0 into $venv with $py"
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    "$py" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check cafleet==0.22.0
fi

#!/usr/bin/env bash
# Create .venv at the repository root with Python 3.12 or newer and install the project
# into it (editable, with the dev extras). The Makefile calls this only when pyproject.toml
# is newer than .venv/.installed, so a repeated `make` does not reinstall anything.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv
stamp="$venv/.installed"
is_recent='import sys; sys.exit(sys.version_info < (3, 12))'

# pyenv's 3.12.x when .python-version asks for 3.12 (the newest such install), then
# whatever Python 3.12+ is on PATH.
candidates() {
    local root
    if grep -qs '^3\.12' .python-version; then
        if command -v pyenv >/dev/null; then
            root="$(pyenv root)"
        else
            root="${PYENV_ROOT:-$HOME/.pyenv}"
        fi
        find "$root/versions" -maxdepth 1 -name '3.12.*' 2>/dev/null | sort -V -r |
            sed 's|$|/bin/python|'
    fi
    echo python3.12
    echo python3.13
    echo python3.14
    echo python3
}

find_python() {
    local candidate path
    while read -r candidate; do
        path="$(command -v "$candidate" 2>/dev/null)" || continue
        # pyenv shims exist for versions that are not selected; running them tells.
        if "$path" -c "$is_recent" 2>/dev/null; then
            echo "$path"
            return 0
        fi
    done < <(candidates)
    return 1
}

if ! { [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "$is_recent" 2>/dev/null; }; then
    if ! python="$(find_python)"; then
        echo "Python 3.12 or newer is needed: install python3.12 (e.g. pyenv install 3.12)" >&2
        exit 1
    fi
    echo "Creating $venv with $("$python" --version) ($python)"
    rm -f "$stamp"
    "$python" -m venv --clear "$venv"
fi

echo "Installing the project into $venv (pip install -e \".[dev]\")"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[dev]"
touch "$stamp"

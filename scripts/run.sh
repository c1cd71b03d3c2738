#!/usr/bin/env bash
# Serve the site with a Celery worker and beat in the foreground (honcho, Procfile.dev).
# Ctrl-C, or SIGTERM to the process group, stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" PYTHONUNBUFFERED=1
exec honcho start --procfile Procfile.dev

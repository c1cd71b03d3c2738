#!/usr/bin/env bash
# Compile translations (.po -> .mo) when a catalogue changed. Best effort: the compiled
# .mo files are committed too, so a machine without msgfmt still shows Chinese labels.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

stale=0
while IFS= read -r -d '' po; do
    mo="${po%.po}.mo"
    if [ ! -e "$mo" ] || [ "$po" -nt "$mo" ]; then
        stale=1
        break
    fi
done < <(find . -path ./.venv -prune -o -path ./var -prune -o -path ./.git -prune -o \
    -path '*/locale/*' -name '*.po' -print0)

[ "$stale" -eq 1 ] || exit 0
if ! command -v msgfmt >/dev/null; then
    echo "warning: msgfmt not found (Debian package gettext); using the committed .mo files" >&2
    exit 0
fi
.venv/bin/python manage.py compilemessages --verbosity 0 \
    --ignore=.venv --ignore=var --ignore=.git --ignore=node_modules ||
    echo "warning: compilemessages failed; using the committed .mo files" >&2
exit 0

#!/bin/sh
# `make binary-test`: tests/packaging/dist_check.py against dist/rl, as the current user, and as
# root also as rltest (subuid range) and rltest1 (none). Each run copies dist/rl out of the repo
# and runs it with no venv on PATH. Exit status: 1 if any run failed.
set -u
PY=${PY:-.venv/bin/python}
[ -f dist/rl ] || { echo "binary-test: dist/rl is missing: run make binary" >&2; exit 1; }
status=0
run() {
    echo "== dist/rl as $1"
    if [ "$1" = "$(id -un)" ]; then
        "$PY" -m pytest tests/packaging/dist_check.py -q -p no:cacheprovider || status=1
    else
        runuser -u "$1" -- "$PY" -m pytest tests/packaging/dist_check.py -q -p no:cacheprovider \
            --basetemp="/tmp/rl-binary-test-$1" || status=1
    fi
}
run "$(id -un)"
if [ "$(id -u)" = 0 ]; then
    for user in rltest rltest1; do
        if id "$user" >/dev/null 2>&1; then run "$user"; else echo "binary-test: no user $user" >&2; status=1; fi
    done
fi
exit $status

#!/bin/sh
# `make binary-test`: tests/packaging/dist_check.py against dist/rl, as the current user, and as
# root also as rltest (subuid range) and rltest1 (none). Each run copies dist/rl out of the repo
# and runs it with no venv on PATH. As root with a bullseye root present (RL_BINARY=host: not):
# packaging/check_in_bullseye.py too. Exit status: 1 if any run failed.
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
# As root, when a bullseye root is there (make binary as root builds in it): dist/rl's glibc floor
# must be 2.28 at most (RHEL 8), and it must pull and run inside that root (glibc 2.31) as each user.
BULLSEYE=${BULLSEYE:-/var/tmp/bullseye}
if [ "$(id -u)" = 0 ] && [ "${RL_BINARY:-portable}" != host ] && [ -x "$BULLSEYE/usr/bin/apt-get" ]; then
    echo "== dist/rl inside $BULLSEYE (older glibc)"
    "$PY" packaging/check_in_bullseye.py "$BULLSEYE" --dist dist/rl --max 2.28 || status=1
fi
exit $status

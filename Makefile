# rl's project commands. Everything runs from the project's own virtual environment (.venv), made
# from Debian's /usr/bin/python3 so that the unprivileged test users can run it too (root's default
# python3 here is a pyenv build under /root that nobody else can execute: see HOST-NOTES.md).

PYTHON ?= /usr/bin/python3
VENV ?= .venv
PY := $(VENV)/bin/python
NATIVE_SRC := native/build.py $(wildcard native/*.c native/*.h)

.PHONY: dev native test test-unit demo bench binary binary-test clean table

dev: $(VENV)/.installed native
	@# .pyc for every user (root's environment here sets PYTHONDONTWRITEBYTECODE)
	@if [ -w rootless ]; then $(PY) -m compileall -q rootless; fi
	@# every module's code in one file, read once per command (rootless/codebundle.py says why)
	@if [ -w rootless ]; then $(PY) -c 'import rootless, rootless.codebundle as b; b.build(rootless.__path__[0])'; fi
	@# the venv's rl without `site` (~3 ms a command; packaging/dev_entry.py says why)
	@if [ -w $(VENV)/bin ]; then $(PY) packaging/dev_entry.py; fi

$(VENV)/.installed: pyproject.toml setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]' --config-settings editable_mode=compat
	touch $@

# The extensions are built in place (rootless/_native.*.so, rootless/_untar.*.so) so an editable install picks up C changes
# with `make native` alone.
native: rootless/.native-built
rootless/.native-built: $(NATIVE_SRC) $(VENV)/.installed
	$(PY) native/build.py
	touch $@

# A real container from a local image, no network needed: an image made from Debian's busybox-static
# (imported with `rl import`), then `rl run --rm` of it.
RL := $(VENV)/bin/rl
demo: dev
	@test -x /bin/busybox || { echo "make demo needs Debian's busybox-static (apt install busybox-static)"; exit 1; }
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; mkdir -p "$$tmp/bin" "$$tmp/etc" "$$tmp/tmp"; \
	cp /bin/busybox "$$tmp/bin/"; for a in $$(/bin/busybox --list); do [ "$$a" = busybox ] || ln -s busybox "$$tmp/bin/$$a"; done; \
	echo "root:x:0:0:root:/root:/bin/sh" > "$$tmp/etc/passwd"; echo "root:x:0:" > "$$tmp/etc/group"; \
	chmod 755 "$$tmp"; tar -C "$$tmp" --numeric-owner --owner=0 --group=0 -c . | $(RL) import --change 'CMD ["sh"]' --change 'ENV PATH=/bin' - rl-demo/busybox:latest
	$(RL) run --rm rl-demo/busybox sh -c 'echo "hello from a rootless container: uid $$(id -u) in $$(hostname), pid $$$$"'

# As root: the suite as root, then as the unprivileged users rltest (subuid range) and rltest1
# (none), created if missing. As anyone else: the suite as that user. PYTEST_ARGS go to pytest.
test: dev
	$(PY) tests/rig/run_suite.py $(PYTEST_ARGS)

# The fast path's command table, derived from the typer declaration (committed; a test checks it).
table:
	$(PY) -m rootless.cli.cmdtable

# One file, no Python needed on the target: dist/rl (docs/packaging.md). As root: built in a Debian
# bullseye root for a glibc floor of 2.28 (RHEL 8; packaging/build_in_bullseye.sh, ~17 min the first
# time, ~3 min after). RL_BINARY=host, or not root: built here, against this host's glibc (gcc, venv).
binary:
	@if [ "$${RL_BINARY:-portable}" != host ] && [ "$$(id -u)" = 0 ]; then sh packaging/build_in_bullseye.sh; \
	else echo "make binary: against this host's glibc (RL_BINARY=host or not root)"; PY=$(PY) sh packaging/build.sh; fi

# dist/rl end to end (a copy run outside the repo, no venv on PATH), as root, rltest and rltest1.
bench: dev
	$(PY) bench/run.py

binary-test:
	PY=$(PY) sh packaging/binary_test.sh

test-unit: dev
	$(PY) -m pytest -m 'not integration' -q

clean:
	rm -rf build rootless/_native*.so rootless/_untar*.so rootless/.native-built

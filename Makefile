# rl's project commands. Everything runs from the project's own virtual environment (.venv), made
# from Debian's /usr/bin/python3 so that the unprivileged test users can run it too (root's default
# python3 here is a pyenv build under /root that nobody else can execute: see HOST-NOTES.md).

PYTHON ?= /usr/bin/python3
VENV ?= .venv
PY := $(VENV)/bin/python
NATIVE_SRC := native/build.py native/rl_native.c native/rl_native.h

.PHONY: dev native test test-unit demo bench binary binary-test clean table

dev: $(VENV)/.installed native

$(VENV)/.installed: pyproject.toml setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]' --config-settings editable_mode=compat
	touch $@

# The extension is built in place (rootless/_native.*.so) so an editable install picks up C changes
# with `make native` alone.
native: rootless/.native-built
rootless/.native-built: $(NATIVE_SRC) $(VENV)/.installed
	$(PY) native/build.py
	touch $@

# As root: the suite as root, then as the unprivileged users rltest (subuid range) and rltest1
# (none), created if missing. As anyone else: the suite as that user. PYTEST_ARGS go to pytest.
test: dev
	$(PY) tests/rig/run_suite.py $(PYTEST_ARGS)

# The fast path's command table, derived from the typer declaration (committed; a test checks it).
table:
	$(PY) -m rootless.cli.cmdtable

# One file, no Python needed on the target: dist/rl (docs/packaging.md). Needs gcc and the venv.
binary:
	PY=$(PY) sh packaging/build.sh

# dist/rl end to end (a copy run outside the repo, no venv on PATH), as root, rltest and rltest1.
binary-test:
	PY=$(PY) sh packaging/binary_test.sh

test-unit: dev
	$(PY) -m pytest -m 'not integration' -q

clean:
	rm -rf build rootless/_native*.so rootless/.native-built

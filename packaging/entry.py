"""The frozen rl's entry script (PyInstaller builds the onedir tree from it).

It first gives the environment back to the user (rootless.frozen.restore_environ: no
PyInstaller LD_LIBRARY_PATH for the host tools rl runs), then either runs a module the way
`python -m module args...` does (rl's helpers re-run rl so: `[sys.executable, "-m", module]`) or
is `rl` itself.
"""

import sys

from rootless import frozen

frozen.restore_environ()

if len(sys.argv) >= 3 and sys.argv[1] == "-m":
    import runpy

    module = sys.argv[2]
    sys.argv = [sys.argv[0], *sys.argv[3:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
    raise SystemExit(0)

from rootless.cli.main import main  # noqa: E402 (after the environment is restored)

raise SystemExit(main())

"""Write the development venv's `rl` script: the console script pip makes, without `site`.

pip's console script runs under the venv's interpreter with `site`, which reads pyvenv.cfg,
scans site-packages for .pth files and imports what they name (setuptools' distutils hack,
Debian's sitecustomize): ~3 ms of every `rl` command here, a tenth of `rl exec`'s budget
(docs/performance.md). This script runs the interpreter with -S and appends the directories
`site` would have added (site-packages and the editable install's path, found by asking the
interpreter once, here) after the standard library's. Only this process skips site: the
helpers rl starts (`sys.executable -m ...`) and everything else in the venv are unchanged.

    .venv/bin/python packaging/dev_entry.py        (run by `make dev`, after pip)
"""

from __future__ import annotations

import os
import sys
import sysconfig

TEMPLATE = '''#!{python} -S
# rl's entry in this venv, written by packaging/dev_entry.py (`make dev`): pip's console script
# without `site` (its paths are appended below, after the standard library's).
import sys
sys.path += {paths!r}
from rootless.cli.main import main
sys.exit(main())
'''


def site_paths() -> list[str]:
    """What `site` puts on sys.path beyond what the interpreter has with -S (stdlib, lib-dynload),
    in site's order."""
    import json
    import subprocess

    probe = "import json, sys; print(json.dumps(sys.path[1:]))"
    with_site, without = (json.loads(subprocess.run([sys.executable, *flags, "-c", probe], check=True,
                                                    capture_output=True, text=True).stdout)
                          for flags in ((), ("-S",)))
    return [p for p in with_site if p not in without and os.path.isdir(p)]


def script(python: str, paths: list[str]) -> str:
    return TEMPLATE.format(python=python, paths=paths)


def main() -> int:
    if sys.prefix == sys.base_prefix:
        print("dev_entry.py: run it with the venv's interpreter", file=sys.stderr)
        return 2
    target = os.path.join(os.path.dirname(sys.executable), "rl")
    tmp = f"{target}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        f.write(script(sys.executable, site_paths()))
    os.chmod(tmp, 0o755)
    os.replace(tmp, target)
    return 0


if __name__ == "__main__":
    sys.exit(main())

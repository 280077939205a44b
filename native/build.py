"""cffi build script for rootless._native (API mode, out of line).

Used by the package build (setup.py: cffi_modules) and by `make native`. The C sources beside this
file are thin wrappers; rootless.runtime.syscalls is the only Python module that touches them.
"""

import os
import shutil
from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent


def make_builder(srcdir: str) -> FFI:
    ffi = FFI()
    ffi.cdef((HERE / "rl_native.h").read_text().split("*/", 1)[1])
    ffi.set_source(
        "rootless._native",
        '#include <stdint.h>\n#include <stddef.h>\n#include "rl_native.h"',
        sources=[os.path.join(srcdir, "rl_native.c")],
        include_dirs=[srcdir],
        extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
    )
    return ffi


# setuptools refuses absolute source paths: name them relative to the project root it runs in
ffibuilder = make_builder(os.path.relpath(HERE))

if __name__ == "__main__":
    # Rebuild after a C change (`make native`): compile under build/, then put the library in place
    # of the one the editable install made, so exactly one rootless/_native*.so exists.
    built = Path(make_builder(str(HERE)).compile(tmpdir=str(HERE.parent / "build" / "native")))
    for old in (HERE.parent / "rootless").glob("_native*.so"):
        old.unlink()
    shutil.copy2(built, HERE.parent / "rootless" / built.name)

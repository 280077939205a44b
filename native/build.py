"""cffi build scripts for rootless._native and rootless._untar (API mode, out of line), and the build of rl's small
static executables beside it (TOOLS): the port forwarder rootless/_rl_forward (rl_forward*.c, run
by rootless.engine.net.forwarder), the container's first process rootless/_rl_boot (rl_boot.c,
run by rootless.runtime.create), the exec helper rootless/_rl_exec (rl_exec.c, run by
rootless.runtime.exec) and the pause process rootless/_rl_pause (rl_pause.c, run by
rootless.engine.pause). _rl_boot and _rl_exec read their work as a plan (rl_plan.h) and share the
process settings (rl_process.h).

Used by the package build (setup.py: cffi_modules) and by `make native`, which also builds the
forwarder. rl_native.c holds thin system call wrappers; rootless.runtime.syscalls is the only
Python module that touches them. rootless._untar (rl_tar.c, rl_untar.c: a layer tar written into
a directory, see rl_untar.h for why it is C) has rootless.engine.image.untar as its only caller.
"""

import os
import shutil
import subprocess
import sysconfig
from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent
FORWARDER_SOURCES = ("rl_forward.c", "rl_forward_ns.c", "rl_forward_relay.c")  # + rl_forward.h
#: executable (in rootless/) -> its C sources (headers beside them)
TOOLS = {
    "_rl_forward": FORWARDER_SOURCES,
    "_rl_boot": ("rl_boot.c", "rl_mounts.c", "rl_plan.c", "rl_process.c"),
    "_rl_exec": ("rl_exec.c", "rl_plan.c", "rl_process.c"),
    "_rl_pause": ("rl_pause.c",),
}
#: libraries an executable links with: openpty/login_tty are in libutil before glibc 2.34 (the
#: frozen build's bullseye root has 2.31); newer glibc keeps an empty libutil for them
LIBS = {"_rl_exec": ("-lutil",)}


def _builder(module: str, header: str, srcdir: str, sources, flags=(), **extra) -> FFI:
    """cffi in API mode: `header`'s declarations (after its opening comment) for `module`."""
    ffi = FFI()
    ffi.cdef((HERE / header).read_text().split("*/", 1)[1])
    ffi.set_source(module, f'#include <stdint.h>\n#include <stddef.h>\n#include "{header}"',
                   sources=[os.path.join(srcdir, name) for name in sources], include_dirs=[srcdir],
                   extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", *flags], **extra)
    return ffi


def make_builder(srcdir: str) -> FFI:
    return _builder("rootless._native", "rl_native.h", srcdir, ["rl_native.c"])


UNTAR_SOURCES = ("rl_tar.c", "rl_tar_pax.c", "rl_untar.c", "rl_untar_meta.c", "rl_untar_io.c", "rl_strmap.c")


def make_untar_builder(srcdir: str) -> FFI:
    # the data writer thread: glibc before 2.34 (the frozen build's bullseye) keeps it in libpthread;
    # hidden visibility: the files share internal names (fail, note...) that another library of the
    # process must not interpose; cffi's module init stays exported (PyMODINIT_FUNC)
    return _builder("rootless._untar", "rl_untar.h", srcdir, UNTAR_SOURCES, ["-fvisibility=hidden"],
                    libraries=["pthread"])


# setuptools refuses absolute source paths: name them relative to the project root it runs in
ffibuilder = make_builder(os.path.relpath(HERE))
untar_ffibuilder = make_untar_builder(os.path.relpath(HERE))


def build_tool(out: Path, names=FORWARDER_SOURCES, libs=()) -> None:
    """C sources -> the executable `out`: static where the C library allows (no shared library to
    find, no glibc floor for the frozen rl), else dynamic; written to a temp name, then renamed."""
    cc = os.environ.get("CC") or (sysconfig.get_config_var("CC") or "cc").split()[0]
    tmp = out.with_name(out.name + ".tmp")
    sources = [str(HERE / name) for name in names]
    base = [cc, "-O2", "-Wall", "-Wextra", "-o", str(tmp), *sources]
    for extra in (["-static", "-s"], ["-s"]):
        if subprocess.run(base + extra + list(libs), stderr=subprocess.DEVNULL).returncode == 0:
            break
    else:
        subprocess.run(base + list(libs), check=True)  # again, to show the compiler's errors
    tmp.chmod(0o755)
    tmp.rename(out)


def build_tools(names=None) -> None:
    """Build the TOOLS named (all by default) into rootless/."""
    for name in names or TOOLS:
        build_tool(HERE.parent / "rootless" / name, TOOLS[name], LIBS.get(name, ()))


if __name__ == "__main__":
    import sys

    if sys.argv[1:]:  # `python native/build.py _rl_exec ...`: only those executables
        build_tools(sys.argv[1:])
        raise SystemExit(0)
    # Rebuild after a C change (`make native`): compile under build/, then put each library in place
    # of the one the editable install made, so exactly one rootless/<module>*.so exists.
    for name, make in (("_native", make_builder), ("_untar", make_untar_builder)):
        built = Path(make(str(HERE)).compile(tmpdir=str(HERE.parent / "build" / name.strip("_"))))
        for old in (HERE.parent / "rootless").glob(f"{name}.*so"):
            old.unlink()
        shutil.copy2(built, HERE.parent / "rootless" / built.name)
    build_tools()

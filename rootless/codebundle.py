"""The compiled code of every rl module in one file, read once per process: a faster way for a
source install to import rl's own modules (docs/performance.md, "Third pass").

A normal import of one module asks each sys.path entry's finder (Python code in importlib: list
the directory, build the spec), stats the source, opens, reads and closes its .pyc: ~100 µs a
module here, and `rl run` imports 55 of them. `make dev` writes
`rootless/__pycache__/rl-modules.<cache tag>.bundle` (`python -m rootless.codebundle`): an index
(module name -> source path, its mtime and size, where its marshalled code sits) followed by the
code of every module. `rootless/__init__.py` puts `BundleFinder` first on sys.meta_path when the
bundle exists and was made by this interpreter's bytecode version; the finder serves a module only
while its source still has the recorded mtime and size (one stat), so an edited module is imported
the usual way until the next `make dev`. The frozen rl has its own archive (PyInstaller) and skips
this. The standard library has no equivalent: zipimport reads zip entries through Python code and
zlib, and frozen modules are for the interpreter's own build.
"""

from __future__ import annotations

import marshal
import os
import sys

MAGIC = b"rl-modules 1\n"


def bundle_path(package_dir: str) -> str:
    return os.path.join(package_dir, "__pycache__", f"rl-modules.{sys.implementation.cache_tag}.bundle")


class BundleFinder:
    """A sys.meta_path finder and loader serving rl's modules from the bundle: the index is read
    once, each module's code with one pread when it is imported."""

    def __init__(self, path: str, fd: int, base: int, index: dict) -> None:
        self.path, self.fd, self.base = path, fd, base
        self.index = index   # name -> (path, is_package, mtime_ns, size, offset, length)
        st = os.fstat(fd)
        self.identity = (st.st_dev, st.st_ino)

    def find_spec(self, name: str, path=None, target=None):
        entry = self.index.get(name)
        if entry is None:
            return None
        origin, is_package, mtime, size = entry[:4]
        try:
            st = os.stat(origin)
        except OSError:
            return None
        if st.st_mtime_ns != mtime or st.st_size != size:
            return None  # edited since the bundle was made: the usual import
        from _frozen_importlib import ModuleSpec

        spec = ModuleSpec(name, self, origin=origin, is_package=is_package)
        spec.has_location = True
        if is_package:
            spec.submodule_search_locations = [os.path.dirname(origin)]
        return spec

    def create_module(self, spec):
        return None

    def exec_module(self, module) -> None:
        exec(self.get_code(module.__spec__.name), module.__dict__)

    # what runpy (`python -m`) and linecache ask a loader
    def get_code(self, name: str):
        offset, length = self.index[name][4:6]
        return marshal.loads(os.pread(self._fd(), length, self.base + offset))

    def _fd(self) -> int:
        """Our descriptor, opened again if a forked child closed it (or the number now names
        another file)."""
        try:
            st = os.fstat(self.fd)
            if (st.st_dev, st.st_ino) == self.identity:
                return self.fd
        except OSError:
            pass
        self.fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        return self.fd

    def is_package(self, name: str) -> bool:
        return self.index[name][1]

    def get_source(self, name: str) -> str | None:
        try:
            with open(self.index[name][0], encoding="utf-8") as f:
                return f.read()
        except OSError:
            return None

    def get_filename(self, name: str) -> str:
        return self.index[name][0]


def install(package_dir: str) -> None:
    """Put the bundle's finder first on sys.meta_path, if there is a usable bundle."""
    if getattr(sys, "frozen", False) or sys.flags.optimize:
        return
    path = bundle_path(package_dir)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        head = os.read(fd, 65536)
        if not head.startswith(MAGIC):
            raise ValueError("not a bundle")
        start = len(MAGIC) + 8
        size = int.from_bytes(head[len(MAGIC):start], "little")
        if start + size > os.fstat(fd).st_size:
            raise ValueError("truncated")
        if start + size > len(head):
            head += os.pread(fd, start + size - len(head), len(head))
        magic, made_in, index = marshal.loads(head[start:start + size])
        from _frozen_importlib_external import MAGIC_NUMBER

        if magic != MAGIC_NUMBER or made_in != package_dir:
            raise ValueError("another Python's bytecode, or a copy of the package")
        sys.meta_path.insert(0, BundleFinder(path, fd, start + size, index))
    except (OSError, ValueError, EOFError, TypeError):
        os.close(fd)  # a damaged or foreign bundle: the usual imports


def _modules(package_dir: str):
    """(module name, source path, is package) of every module of the package."""
    top = os.path.dirname(package_dir)
    for dirpath, dirnames, filenames in os.walk(package_dir):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__" and not d.startswith("."))
        for filename in sorted(filenames):
            if not filename.endswith(".py"):
                continue
            path = os.path.join(dirpath, filename)
            parts = os.path.relpath(path, top)[:-3].split(os.sep)
            is_package = parts[-1] == "__init__"
            yield ".".join(parts[:-1] if is_package else parts), path, is_package


def build(package_dir: str) -> str:
    """Write the bundle of every module under `package_dir`; returns its path."""
    from _frozen_importlib_external import MAGIC_NUMBER

    index, blobs, offset = {}, [], 0
    for name, path, is_package in _modules(package_dir):
        st = os.stat(path)
        with open(path, "rb") as f:
            blob = marshal.dumps(compile(f.read(), path, "exec", dont_inherit=True))
        index[name] = (path, is_package, st.st_mtime_ns, st.st_size, offset, len(blob))
        blobs.append(blob)
        offset += len(blob)
    header = marshal.dumps((MAGIC_NUMBER, package_dir, index))
    target = bundle_path(package_dir)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    tmp = f"{target}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        f.write(MAGIC + len(header).to_bytes(8, "little") + header)
        for blob in blobs:
            f.write(blob)
    os.chmod(tmp, 0o644)
    os.replace(tmp, target)
    return target


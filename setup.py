"""Hooks rl's C parts into the package build (see native/build.py): the cffi extensions
rootless._native and rootless._untar, and the static executables (native/build.py TOOLS: the port forwarder, the
container's first process, the exec helper) compiled into the built package beside it, so that
`pip install .` gives a complete rl. (`make dev`'s editable install builds them in place with
`make native` instead.)"""
import importlib.util
import os

from setuptools import setup
from setuptools.command.build_py import build_py


def _native_build():
    spec = importlib.util.spec_from_file_location("rl_native_build", os.path.join("native", "build.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class BuildWithTools(build_py):
    def run(self):
        super().run()
        if self.editable_mode:
            return
        from pathlib import Path

        native = _native_build()
        for name, sources in native.TOOLS.items():
            native.build_tool(Path(self.build_lib) / "rootless" / name, sources, native.LIBS.get(name, ()))


setup(cffi_modules=["native/build.py:ffibuilder", "native/build.py:untar_ffibuilder"], cmdclass={"build_py": BuildWithTools})

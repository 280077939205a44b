"""Only here to hook the cffi build of rootless._native into the package build (see native/build.py)."""
from setuptools import setup

setup(cffi_modules=["native/build.py:ffibuilder"])

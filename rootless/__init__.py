"""rl: a rootless, daemonless container engine and OCI runtime."""

__version__ = "0.1.0"


def _fast_imports() -> None:
    """rl's modules from one file when `make dev` wrote it (rootless/codebundle.py)."""
    import os

    from rootless import codebundle

    codebundle.install(os.path.dirname(os.path.abspath(__file__)))


_fast_imports()

"""The context an rl command runs in: paths and settings resolved once at the entry point.

Nothing below the CLI reads the environment or argv on its own; it is handed a `Context`.
"""

from __future__ import annotations

import os
from rootless.paths import Paths

LOG_LEVELS = ("debug", "info", "warn", "error", "fatal", "panic")


class Context:
    """Paths, log level and environment of one rl invocation (a plain class: see paths.Paths)."""

    __slots__ = ("paths", "log_level", "env")

    def __init__(self, paths: Paths, log_level: str = "warn", env: dict[str, str] | None = None) -> None:
        self.paths = paths
        self.log_level = log_level
        self.env = {} if env is None else env

    @classmethod
    def create(cls, root: str | None = None, runroot: str | None = None, log_level: str = "warn",
               env: dict[str, str] | None = None) -> "Context":
        env = dict(os.environ) if env is None else env
        return cls(paths=Paths.from_env(env, root, runroot), log_level=log_level, env=env)

    @property
    def debug(self) -> bool:
        return self.log_level == "debug"

"""The one error tree of rl.

Every failure a user can meet is an `RlError` (or a subclass) carrying a one-line `message` and an
optional `hint`. Library code raises; only `rootless.cli.main` catches, prints `Error: <message>`
and the hint, and maps the error to docker's exit codes. Nothing below the CLI prints or exits.
"""

from __future__ import annotations


class RlError(Exception):
    """Base of every error rl reports to a user."""

    #: exit status for commands other than run/create/exec (docker: 1 for a daemon error)
    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(RlError):
    """A bad flag, a bad value or a missing argument (docker exits 125 for these)."""

    exit_code = 125


class InvalidReference(RlError):
    """An image reference that does not parse."""


class ImageNotFound(RlError):
    """No such image locally or in the registry."""


class RegistryError(RlError):
    """The registry answered with an error, could not be reached or could not be trusted."""


class AuthError(RegistryError):
    """Credentials missing or refused."""


class ContainerNotFound(RlError):
    """No container with that id, id prefix or name."""


class VolumeNotFound(RlError):
    """No volume with that name."""


class NetworkNotFound(RlError):
    """No network with that name or id (`rl network inspect/rm/connect`, `--network NAME`)."""


class Conflict(RlError):
    """A name already in use, or an object still in use by another."""


class InvalidState(RlError):
    """The container is not in a state that allows the operation (e.g. exec into a stopped one)."""


class UserNamespaceUnavailable(RlError):
    """The kernel or the host's policy refuses an unprivileged user namespace."""


class IdMappingError(RlError):
    """No usable uid/gid mapping (missing subuid range, failing newuidmap...)."""


class StorageError(RlError):
    """The store is unusable (unsupported filesystem, disk full, corrupt content)."""


class KernelError(RlError):
    """A system call failed; the message names the call, the path and errno."""

    def __init__(self, call: str, errno: int, path: str | None = None, hint: str | None = None) -> None:
        import os

        where = f" {path}" if path else ""
        super().__init__(f"{call}{where}: {os.strerror(errno)}", hint)
        self.call = call
        self.errno = errno
        self.path = path


class ContainerCommandError(RlError):
    """The container's command could not be started (docker: 126 cannot execute, 127 not found)."""

    def __init__(self, message: str, exit_code: int, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.exit_code = exit_code


class ContainerSetupError(RlError):
    """The runtime could not make the container (a namespace, a mount, the rootfs, the process
    settings); `rl run` exits 125 for it."""

    exit_code = 125


# --- networking (owner: network engineer) -------------------------------------------------------
class InvalidPortSpec(UsageError):
    """A `-p`/`--publish` value that does not parse (docker's nat.ParsePortSpec messages)."""


class PublishError(RlError):
    """A published port cannot be bound on the host (in use, privileged); `rl run` exits 125."""

    exit_code = 125


class NetworkSetupError(RlError):
    """The user-mode network stack or the port forwarder could not be started."""

    exit_code = 125


# --- exec (owner: containers II engineer) ---------------------------------------------------------
class ContainerNotRunning(ContainerCommandError):
    """`rl exec` into a container that is not running: docker's daemon error, which its CLI
    exits 1 for (not the 125 of rl's own exec failures)."""

    def __init__(self, container_id: str) -> None:
        super().__init__(f"container {container_id} is not running", 1)

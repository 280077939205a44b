"""`rl rename`: a container's new name, checked and written under the container store's lock.

Docker's messages: an empty name, the same name, an invalid one, and the name-in-use Conflict.
"""

from __future__ import annotations

from rootless.errors import Conflict, RlError


def rename(store, old: str, new: str) -> dict:
    """Give the container `old` (name or id) the name `new`; returns the updated record."""
    from rootless.engine.run_options import validate_name

    if not old or not new:
        raise RlError("Neither old nor new names may be empty")
    record = store.resolve(old)  # docker's order: the container, the same name, then the new name
    if record.get("Name") == "/" + new.lstrip("/"):
        raise RlError("Renaming a container with the same name as its current name")
    new = validate_name(new)

    def change(rec: dict) -> None:
        owner = store.name_owner(new)  # under the lock: the check cannot race a create
        if owner and owner != rec["Id"]:
            raise Conflict(f'Conflict. The container name "/{new}" is already in use by container "{owner}". '
                           "You have to remove (or rename) that container to be able to reuse that name.")
        rec["Name"] = "/" + new
    return store.update(record["Id"], change)

"""Unpacked layers under Paths.layer(chain_id): written once, under a lock, by a helper process.

`LayerWriter` is the way in: it takes the per-chain_id lock (Paths.locks/layer-<hex>.lock), checks
whether the layer already exists (check-after-lock: a concurrent writer may just have finished),
removes temp dirs a killed writer left, and streams the compressed bytes it is given into a
helper process (`python -m rootless.engine.image.layerstore`) that unpacks into Paths.tmp, checks
the diff_id and renames the result into place. `remove_trees` deletes layer dirs the same way,
because files owned by subordinate ids can only be removed from inside the user namespace.

The helper unshares its own user namespace while it is still single-threaded; the parent writes
the id maps (`rootless.runtime.idmap.apply`) and releases it by sending one byte on its stdin,
then its request as one JSON line, then the stream. As real root (mapping mode "root") it runs
without a user namespace. `prestart` starts helpers before their request is known (a pull does
so while it resolves the manifest); writers take them, `discard_spares` ends the unused ones.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import sys
import threading
from pathlib import Path
from typing import BinaryIO

from rootless.errors import RlError, StorageError

CHUNK = 1 << 20
_GO = b"G"
_F_SETPIPE_SZ = 1031
#: glibc malloc for the helper: the decompressor's chunks (up to decompress.OUT_MAX, 4 MiB) come
#: from a heap that is neither trimmed nor bypassed by mmap, so each chunk reuses pages already
#: faulted in instead of zero-filling fresh ones (~50 ms of system time per 120 MB of tar here)
_MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(32 << 20), "MALLOC_TRIM_THRESHOLD_": str(256 << 20)}


class LayerLock:
    """An exclusive fcntl lock on Paths.locks/<name>.lock, held while the `with` block runs."""

    def __init__(self, locks_dir: Path, name: str) -> None:
        locks_dir.mkdir(parents=True, exist_ok=True)
        self.path = locks_dir / f"{name}.lock"
        self._fd = -1

    def __enter__(self) -> "LayerLock":
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc) -> None:
        os.close(self._fd)
        self._fd = -1


def _uses_userns(mapping) -> bool:
    return getattr(mapping, "mode", "root") != "root"


class _Helper:
    """One helper process: spawned, released into its user namespace, given its request (one JSON
    line on its stdin), fed, and its answer read. `_Helper(mapping)` only starts it (a spare, see
    `prestart`); `send(request)` gives it its work."""

    def __init__(self, mapping, request: dict | None = None, *, warm: bool = False) -> None:
        self.mapping = mapping
        self.userns = _uses_userns(mapping)
        package_root = str(Path(__file__).resolve().parents[3])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        env.update(_MALLOC_ENV)
        import subprocess  # here: the helper process itself needs neither (its start-up is timed)
        import tempfile

        self._stderr = tempfile.TemporaryFile()
        from rootless.frozen import self_command  # `python -m` from source and in dist/rl

        self.proc = subprocess.Popen(
            self_command("rootless.engine.image.layerstore") + (["--userns"] if self.userns else [])
            + (["--unpack"] if warm else []),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, env=env, bufsize=0)
        try:
            fcntl.fcntl(self.proc.stdin.fileno(), _F_SETPIPE_SZ, CHUNK)  # type: ignore[union-attr]
        except OSError:
            pass
        if self.userns:
            self._release(mapping)
        if request is not None:
            self.send(request)

    def send(self, request: dict) -> None:
        self.write(json.dumps(dict(request, userns=self.userns)).encode() + b"\n")

    def _release(self, mapping) -> None:
        ready = self.proc.stdout.readline()  # type: ignore[union-attr]
        if ready != b"ready\n":
            self.finish()  # raises the helper's error
            raise StorageError("layer helper did not start")
        from rootless.runtime import idmap

        try:
            idmap.apply(self.proc.pid, mapping)
        except BaseException:
            self.kill()
            raise
        self.proc.stdin.write(_GO)  # type: ignore[union-attr]

    def write(self, data: bytes) -> None:
        try:
            self.proc.stdin.write(data)  # type: ignore[union-attr]
        except BrokenPipeError:
            self.finish()  # the helper failed: raise its error
            raise StorageError("layer helper exited early")

    def finish(self) -> dict:
        try:
            self.proc.stdin.close()  # type: ignore[union-attr]
        except BrokenPipeError:
            pass
        out = self.proc.stdout.read()  # type: ignore[union-attr]
        status = self.proc.wait()
        lines = out.decode(errors="replace").strip().splitlines()
        answer = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else None
        if answer is None or status != 0 and "error" not in answer:
            self._stderr.seek(0)
            detail = self._stderr.read().decode(errors="replace").strip().splitlines()
            raise StorageError(f"layer helper failed (status {status}): "
                               f"{detail[-1] if detail else 'no output'}")
        if "error" in answer:
            raise _error_from(answer)
        return answer

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def discard(self) -> None:
        """An unused spare: end of its stdin (it exits without a word), or kill it."""
        import subprocess

        try:
            self.proc.stdin.close()  # type: ignore[union-attr]
            self.proc.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            self.kill()


def _error_from(answer: dict) -> RlError:
    from rootless.engine.image import layer

    kinds = {"UnsafeLayer": layer.UnsafeLayer, "DiffIdMismatch": layer.DiffIdMismatch}
    cls = kinds.get(answer.get("kind", ""), StorageError)
    return cls(answer["error"], answer.get("hint"))


class _Spare:
    """A helper being started ahead of need (`prestart`): `ready` is set once `helper` is up
    (or None when it could not start: the writer then starts its own and reports the error)."""

    def __init__(self, mapping) -> None:
        self.mapping = mapping
        self.helper: _Helper | None = None
        self.ready = threading.Event()
        self.cancelled = False

    def start(self) -> None:
        try:
            self.helper = _Helper(self.mapping, warm=True)
        except Exception:  # noqa: BLE001 - the writer's own start says what is wrong
            self.helper = None
        finally:
            with _spares_lock:
                self.ready.set()
                cancelled = self.cancelled
        if cancelled and self.helper is not None:
            self.helper.discard()


_spares: list[_Spare] = []
_spares_lock = threading.Lock()
#: compressed layers smaller than this start their own helper (see _helper_for)
SPARE_MIN_SIZE = 1 << 20


def prestart(mapping, count: int = 1) -> list[_Spare]:
    """Start `count` unpack helpers for `mapping` now, in background threads, while the caller
    does other work (a pull resolving its manifest): interpreter start-up and the user namespace's
    id maps (~0.1-0.3 s) then overlap it. `LayerWriter`s take them in order; the caller hands
    the returned list to `discard_spares` when done. A spare never outlives this process: it
    waits for its request on a pipe and leaves at its end."""
    started = []
    for _ in range(count):
        spare = _Spare(mapping)
        with _spares_lock:
            _spares.append(spare)
        threading.Thread(target=spare.start, name="rl-helper-start", daemon=True).start()
        started.append(spare)
    return started


def discard_spares(spares: list[_Spare]) -> None:
    """End those of `spares` no writer took (one still starting ends itself once up)."""
    done = []
    with _spares_lock:
        for spare in spares:
            if spare in _spares:
                _spares.remove(spare)
                if spare.ready.is_set():
                    done.append(spare)
                else:
                    spare.cancelled = True
    for spare in done:
        if spare.helper is not None:
            spare.helper.discard()


def _helper_for(mapping, request: dict, size_hint: int | None = None) -> _Helper:
    """A started spare for `mapping` given `request`, else a new helper. A layer announced as
    small (`size_hint` bytes) leaves the spares to the big ones: it is done soon either way."""
    with _spares_lock:
        wanted = size_hint is None or size_hint >= SPARE_MIN_SIZE
        spare = next((s for s in _spares if s.mapping == mapping), None) if wanted else None
        if spare is not None:
            _spares.remove(spare)
    if spare is not None:
        spare.ready.wait()
        helper = spare.helper
        if helper is not None and helper.proc.poll() is None:
            try:
                helper.send(request)
                return helper
            except (OSError, RlError):
                helper.kill()
    return _Helper(mapping, request)


class LayerWriter:
    """`with LayerWriter(paths, mapping, chain_id, diff_id) as w: if w.needed: w.write(...)`.

    `needed` is False when the layer already exists (then writes are ignored). Leaving the block
    normally finishes the unpack (raising UnsafeLayer, DiffIdMismatch or StorageError on failure,
    with nothing left behind); leaving it with an exception kills the helper and cleans up.
    `result` then holds {"diff_id", "notes", "size", "tar_size"}.

    `locked=True`: the caller already holds `layer_lock(paths, chain_id)`. `hashing=False`: the
    caller verifies the diff_id itself (e.g. a registry stream), the helper does not hash again.
    `chain_id=None` (import): unpack first, learn the diff_id, then `adopt()` under its lock.
    """

    def __init__(self, paths, mapping, chain_id: str | None, diff_id: str | None = None, *,
                 locked: bool = False, hashing: bool = True, size_hint: int | None = None) -> None:
        self.paths = paths
        self.mapping = mapping
        self.chain_id = chain_id
        self.diff_id = diff_id
        self.hashing = hashing
        self.size_hint = size_hint
        self.needed = False
        self.result: dict = {"diff_id": diff_id, "notes": []}
        name = chain_id.partition(":")[2] if chain_id else f"import-{os.getpid()}"
        self._lock = layer_lock(paths, chain_id) if chain_id and not locked else None
        self._tmp = paths.tmp / f"layer-{name}-{os.getpid()}-{os.urandom(3).hex()}"
        self._helper: _Helper | None = None

    def __enter__(self) -> "LayerWriter":
        if self._lock is not None:
            self._lock.__enter__()
        try:
            if self.chain_id and self.paths.layer(self.chain_id).is_dir():
                return self
            self.paths.tmp.mkdir(parents=True, exist_ok=True)
            self.paths.layers.mkdir(parents=True, exist_ok=True)
            if self.chain_id:
                self._remove_leftovers()
            self._helper = _helper_for(self.mapping, {
                "op": "unpack", "dest": str(self._tmp), "diff_id": self.diff_id, "hashing": self.hashing,
                "final": str(self.paths.layer(self.chain_id)) if self.chain_id else None,
                "owners": "zero" if getattr(self.mapping, "mode", "root") == "single" else "keep",
                "trusted_xattrs": os.getuid() == 0 and not _uses_userns(self.mapping)}, self.size_hint)
            self.needed = True
        except BaseException:
            self._unlock()
            raise
        return self

    def _remove_leftovers(self) -> None:
        """Best effort: remove what killed writers of this chain_id left in Paths.tmp. The unpack
        helper of a killed pull can outlive it (and its lock) and still be writing there, so
        emptying its dir may fail with ENOTEMPTY (seen in CI); our own scratch name is unique, and
        what is left now is removed by a later writer or `rl image prune`."""
        hexpart = self.chain_id.partition(":")[2]
        try:
            remove_trees(self.mapping, [str(p) for p in self.paths.tmp.glob(f"layer-{hexpart}-*")])
        except (OSError, RlError):
            pass

    def write(self, data: bytes) -> None:
        if self._helper is not None:
            self._helper.write(data)

    def copy_from(self, source: BinaryIO) -> None:
        while chunk := source.read(CHUNK):
            self.write(chunk)

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if self._helper is not None:
                if exc_type is None:
                    self.result = self._helper.finish()
                    if self.chain_id:
                        write_meta(self.paths, self.chain_id, self.result)
                else:
                    self._helper.kill()
                    remove_trees(self.mapping, [str(self._tmp)])
        finally:
            self._helper = None
            self._unlock()

    def _unlock(self) -> None:
        if self._lock is not None:
            self._lock.__exit__()

    def adopt(self, parent_chain_id: str | None = None) -> str:
        """After an import-style unpack (chain_id None): move the tree to its layers/<chain_id>,
        the chain of `parent_chain_id` plus the diff_id just computed; returns that chain_id."""
        from rootless.engine.image.digest import sha256_bytes

        diff_id = self.result["diff_id"]
        chain_id = sha256_bytes(f"{parent_chain_id} {diff_id}".encode()) if parent_chain_id else diff_id
        with layer_lock(self.paths, chain_id):
            final = self.paths.layer(chain_id)
            if final.is_dir():
                remove_trees(self.mapping, [str(self._tmp)])
            else:
                move_tree(self.mapping, self._tmp, final)
                write_meta(self.paths, chain_id, self.result)
        return chain_id


def layer_lock(paths, chain_id: str) -> LayerLock:
    """The lock every writer and remover of layer `chain_id` holds (Paths.locks/layer-<hex>.lock)."""
    return LayerLock(paths.locks, f"layer-{chain_id.partition(':')[2]}")


def meta_path(paths, chain_id: str) -> Path:
    return paths.layer_meta(chain_id)


def write_meta(paths, chain_id: str, result: dict) -> None:
    meta = {"diff_id": result.get("diff_id"), "size": result.get("size", 0),
            "tar_size": result.get("tar_size")}
    tmp = meta_path(paths, chain_id).with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(meta))
    os.replace(tmp, meta_path(paths, chain_id))


def read_meta(paths, chain_id: str) -> dict:
    try:
        return json.loads(meta_path(paths, chain_id).read_text())
    except (OSError, ValueError):
        return {}


def ensure_layer(paths, mapping, chain_id: str, diff_id: str | None, source) -> dict:
    """Unpack `source` (a path or a binary file object, compressed or not) as layer `chain_id`
    unless it exists already. Returns {"diff_id", "notes", "unpacked": bool, ...}."""
    with LayerWriter(paths, mapping, chain_id, diff_id) as writer:
        if writer.needed:
            if isinstance(source, (str, Path)):
                with open(source, "rb") as f:
                    writer.copy_from(f)
            else:
                writer.copy_from(source)
    return dict(writer.result, unpacked=writer.needed)


def remove_layer(paths, mapping, chain_id: str) -> bool:
    """Delete one unpacked layer (under its lock). True if it existed."""
    with layer_lock(paths, chain_id):
        final = paths.layer(chain_id)
        if not final.exists():
            return False
        # rename first: a half-deleted tree must never be found under its chain_id
        doomed = paths.tmp / f"layer-{chain_id.partition(':')[2]}-rm-{os.getpid()}"
        paths.tmp.mkdir(parents=True, exist_ok=True)
        meta_path(paths, chain_id).unlink(missing_ok=True)
        remove_trees(mapping, [str(doomed)], moves=[(str(final), str(doomed))])
        return True


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_tmp(paths, mapping) -> list[str]:
    """Remove scratch entries of Paths.tmp whose writer process is gone (killed unpacks, loads)."""
    entries = list(paths.tmp.iterdir()) if paths.tmp.is_dir() else []
    if paths.blobs.is_dir():
        entries += [p for p in paths.blobs.iterdir() if p.name.startswith(".tmp-")]
    stale = []
    for entry in entries:
        pids = [int(t) for t in entry.name.replace(".", "-").split("-") if t.isdigit() and len(t) < 8]
        if pids and not any(_pid_alive(p) for p in pids):
            stale.append(str(entry))
    remove_trees(mapping, stale)
    return stale


def remove_trees(mapping, paths: list[str], *, moves: list[tuple[str, str]] = ()) -> None:
    """Rename (`moves`, first) and delete directory trees that may hold files owned by
    subordinate ids: a directory owned by one can be neither moved nor emptied from outside."""
    if not paths and not moves:
        return
    if not _uses_userns(mapping):
        _move_and_remove(list(moves), paths)
        return
    _Helper(mapping, {"op": "rm", "paths": paths, "moves": list(moves)}).finish()


def move_tree(mapping, src: Path, dst: Path) -> None:
    """rename(2) a layer tree (from inside the user namespace when it needs one)."""
    remove_trees(mapping, [], moves=[(str(src), str(dst))])


def _move_and_remove(moves: list, paths: list[str]) -> None:
    for src, dst in moves:
        os.rename(src, dst)
    for path in paths:
        _rmtree(path)


def _rmtree(path: str) -> None:
    def fix(func, p, exc_info):
        if isinstance(exc_info[1], FileNotFoundError):
            return
        try:
            os.chmod(os.path.dirname(p), 0o700)
            func(p)
        except FileNotFoundError:
            pass

    if os.path.lexists(path):
        if os.path.isdir(path) and not os.path.islink(path):
            import shutil

            shutil.rmtree(path, onerror=fix)
        else:
            os.unlink(path)


# ------------------------------------------------------------------------------------------------
# the helper process
def _helper_unpack(request: dict) -> dict:
    from rootless.engine.image import layer

    dest = Path(request["dest"])
    stdin = sys.stdin.buffer
    try:
        result = layer.unpack(stdin, dest, owners=request["owners"],
                              trusted_xattrs=request.get("trusted_xattrs", False),
                              hashing=request.get("hashing", True))
        expected = request.get("diff_id")
        if expected and result["diff_id"] and result["diff_id"] != expected:
            raise layer.DiffIdMismatch(f"layer diff_id mismatch: expected {expected}, "
                                       f"got {result['diff_id']}")
        if request.get("final"):
            _rename_into_place(dest, request["final"])
    except BaseException:
        _rmtree(str(dest))
        raise
    return result


def _rename_into_place(dest: Path, final: str) -> None:
    """rename(2) a finished layer tree to its chain_id. A tree already there was put there the same
    way (verified, then renamed whole) by another writer, e.g. the orphaned helper of a killed
    pull that outlived its lock: keep that one and drop ours."""
    try:
        os.rename(dest, final)
    except OSError as e:
        if e.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise
        _rmtree(str(dest))


def _helper_main(argv: list[str]) -> int:
    out = sys.stdout
    stdin = sys.stdin.buffer
    try:
        if "--userns" in argv[1:]:
            from rootless.runtime import syscalls

            syscalls.unshare(syscalls.CLONE_NEWUSER)
            out.write("ready\n")
            out.flush()
            if stdin.read(1) != _GO:
                return 1
        if "--unpack" in argv[1:]:   # a spare: be ready to unpack when the request comes
            from rootless.engine.image import layer  # noqa: F401
        line = stdin.readline()
        if not line:
            return 0            # a spare nobody needed (prestart): nothing to do, nothing to say
        request = json.loads(line)
        os.umask(0)
        if request["op"] == "unpack":
            answer = _helper_unpack(request)
        elif request["op"] == "rm":
            _move_and_remove(request.get("moves") or [], request["paths"])
            answer = {"removed": request["paths"]}
        else:
            raise StorageError(f"unknown layer helper operation {request['op']!r}")
    except RlError as e:
        answer = {"error": e.message, "hint": e.hint, "kind": type(e).__name__}
    except OSError as e:
        answer = {"error": str(e), "kind": "OSError"}
    out.write(json.dumps(answer) + "\n")
    out.flush()
    return 0 if "error" not in answer else 1


if __name__ == "__main__":
    _status = _helper_main(sys.argv)
    sys.stdout.flush()
    os._exit(_status)  # no waiting for a decompressor thread blocked on a pipe after an error

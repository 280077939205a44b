"""Decompressed chunks of a layer stream, produced by a thread that also hashes them (the diff_id).

`Chunks(stream, hashing)` reads the compressed stream, decompresses it (gzip via isal's zlib, in
bounded pieces and member after member; zstd; or none, from the magic bytes) in a daemon thread,
hashes the uncompressed bytes (sha256: the diff_id) and hands the chunks through a small bounded
queue; `get()` returns the next one, None at the end, and re-raises the producer's error
(`StreamError` for a stream cut short or followed by garbage, or isal's and zstandard's own).
isal, zstandard and hashlib release the GIL, so this thread runs beside the tree writer
(`untar.TreeWriter`, C, which releases it too): one pass over the data, on two cores.
"""

from __future__ import annotations

import hashlib
import io
import queue
import threading
from typing import BinaryIO

READ = 1 << 20            # compressed bytes read at once
OUT_MAX = 4 << 20         # decompressed bytes per chunk at most
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_END = object()


class StreamError(Exception):
    """The compressed stream ends early or is followed by garbage."""


class Chunks:
    """Decompressed chunks of `stream`, produced by a daemon thread; `diff_id` once exhausted."""

    def __init__(self, stream: BinaryIO, hashing: bool = True) -> None:
        self._raw = stream if hasattr(stream, "peek") else io.BufferedReader(stream, READ)  # type: ignore[arg-type]
        self._hash = hashlib.sha256() if hashing else None
        self._queue: queue.Queue = queue.Queue(maxsize=6)
        self._stop = threading.Event()
        self.total = 0
        self._thread = threading.Thread(target=self._produce, name="rl-decompress", daemon=True)
        self._thread.start()

    @property
    def diff_id(self) -> str | None:
        return None if self._hash is None else "sha256:" + self._hash.hexdigest()

    def get(self) -> bytes | None:
        """The next chunk, None at the end; re-raises the producer's error."""
        item = self._queue.get()
        if item is _END:
            self._queue.put(_END)   # stays at the end for further calls
            return None
        if isinstance(item, BaseException):
            self._queue.put(_END)
            raise item
        return item

    def close(self) -> None:
        self._stop.set()
        try:
            while True:
                self._queue.get_nowait()
        except queue.Empty:
            pass

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def _emit(self, data: bytes) -> bool:
        if not data:
            return True
        if self._hash is not None:
            self._hash.update(data)
        self.total += len(data)
        return self._put(data)

    def _produce(self) -> None:
        try:
            head = self._raw.peek(4)[:4]
            if head.startswith(_GZIP_MAGIC):
                self._gunzip()
            elif head == _ZSTD_MAGIC:
                self._unzstd()
            else:
                while not self._stop.is_set() and (data := self._raw.read(READ)):
                    if not self._emit(data):
                        return
        except BaseException as e:  # noqa: BLE001 - handed to the consumer
            self._put(e if isinstance(e, Exception) else StreamError(str(e)))
        finally:
            self._put(_END)

    def _gunzip(self) -> None:
        """gzip members one after the other (pigz and concatenated layers have several), each
        call's output bounded (a small blob of zeros must not become one huge bytes object)."""
        from isal import isal_zlib

        dec = isal_zlib.decompressobj(31)
        while not self._stop.is_set():
            data = self._raw.read(READ)
            if not data:
                break
            while data:
                if dec.eof:
                    if len(data) < 2:
                        data += self._raw.read(1)
                    if data[:2] == _GZIP_MAGIC:
                        dec = isal_zlib.decompressobj(31)
                    elif not data.strip(b"\0"):
                        break                      # zero padding after the last member
                    else:
                        raise StreamError("trailing garbage after the gzip stream")
                if not self._emit(dec.decompress(data, OUT_MAX)):
                    return
                data = dec.unused_data if dec.eof else dec.unconsumed_tail
        if not dec.eof:
            raise StreamError("compressed stream ended early")

    def _unzstd(self) -> None:
        import zstandard

        reader = zstandard.ZstdDecompressor().stream_reader(self._raw, read_size=READ, read_across_frames=True)
        while not self._stop.is_set() and (data := reader.read(OUT_MAX)):
            if not self._emit(data):
                return

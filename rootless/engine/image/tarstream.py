"""A lean, forward-only reader of layer tars: decompression and the diff_id hash in a producer
thread, tar headers parsed by hand in the consumer.

Why not `tarfile` (docs/performance.md, "pull"): a layer of docker.io's nginx size has ~7k entries;
`tarfile` costs ~25 µs of Python per member (TarInfo objects, three reads through the stream
wrapper per member, generic field decoding), ~0.2 s of the unpacker's critical path, and it hands
file data through `read()` copies. This reader parses the fields rl uses from the 512-byte blocks
(ustar/POSIX, GNU long names and links, PAX extended and global headers, base-256 numbers), and
hands each file's data as memoryview slices of the decompressed chunks, without a copy.

What it does not read: sparse files (GNU 'S' entries and PAX GNU.sparse.*): container image
tools (docker, buildkit, podman: Go's archive/tar writer) never write them; they are refused as a
corrupt layer rather than unpacked wrongly. Multi-volume entries likewise.

`Chunks(stream, hashing)` decompresses (gzip via isal, zstd, or none, from the magic bytes) in a
daemon thread that also hashes the uncompressed bytes (the diff_id; hashlib and isal release the
GIL), handing chunks through a small bounded queue. `Input` is the consumer's cursor over them;
`next_member(inp)` returns the next `Member` with its data not yet consumed, or None at the
end-of-archive block. Errors (corrupt headers, a stream cut short) raise `TarError`.
"""

from __future__ import annotations

import hashlib
import io
import queue
import threading
from typing import BinaryIO

BLOCK = 512
READ = 1 << 20            # compressed bytes read at once
OUT_MAX = 4 << 20         # decompressed bytes per chunk at most
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_END = object()
_ZERO_BLOCK = bytes(BLOCK)

REG, AREG, LNK, SYM, CHR, BLK, DIR, FIFO, CONT = b"0", b"\0", b"1", b"2", b"3", b"4", b"5", b"6", b"7"


class TarError(Exception):
    """The stream is not a complete, well-formed tar (or its compression is corrupt)."""


class Member:
    """One tar entry: the fields the unpacker uses. `type` is the one-byte typeflag."""

    __slots__ = ("name", "type", "size", "mode", "uid", "gid", "mtime", "linkname", "devmajor",
                 "devminor", "xattrs")

    def isreg(self) -> bool:
        return self.type in (REG, AREG, CONT)

    def isdir(self) -> bool:
        return self.type == DIR

    def issym(self) -> bool:
        return self.type == SYM

    def islnk(self) -> bool:
        return self.type == LNK


# ------------------------------------------------------------------------------------------------
# producer: decompress + hash in a thread
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
            self._put(e if isinstance(e, Exception) else TarError(str(e)))
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
                        raise TarError("trailing garbage after the gzip stream")
                if not self._emit(dec.decompress(data, OUT_MAX)):
                    return
                data = dec.unused_data if dec.eof else dec.unconsumed_tail
        if not dec.eof:
            raise TarError("compressed stream ended early")

    def _unzstd(self) -> None:
        import zstandard

        reader = zstandard.ZstdDecompressor().stream_reader(self._raw, read_size=READ, read_across_frames=True)
        while not self._stop.is_set() and (data := reader.read(OUT_MAX)):
            if not self._emit(data):
                return


# ------------------------------------------------------------------------------------------------
# consumer: a cursor over the chunks
class Input:
    """Forward-only cursor over `Chunks`; `offset` counts consumed uncompressed bytes."""

    def __init__(self, chunks: Chunks) -> None:
        self.chunks = chunks
        self.buf: bytes = b""
        self.pos = 0
        self.offset = 0
        self.eof = False

    def _fill(self) -> bool:
        """Replace the (consumed) buffer by the next chunk; False at the end."""
        if self.eof:
            return False
        chunk = self.chunks.get()
        if chunk is None:
            self.eof = True
            self.buf, self.pos = b"", 0
            return False
        self.buf, self.pos = chunk, 0
        return True

    def block(self) -> bytes | None:
        """The next 512 bytes; None at a clean end of stream; TarError inside a block."""
        pos = self.pos
        if len(self.buf) - pos >= BLOCK:
            self.pos = pos + BLOCK
            self.offset += BLOCK
            return self.buf[pos:pos + BLOCK]
        parts = [self.buf[pos:]]
        need = BLOCK - len(parts[0])
        while need:
            if not self._fill():
                if need < BLOCK:
                    raise TarError("unexpected end of data")
                return None
            parts.append(self.buf[:need])
            self.pos = len(parts[-1])
            need -= self.pos
        self.offset += BLOCK
        return b"".join(parts)

    def pieces(self, n: int, limit: int = READ):
        """Yield memoryviews (each at most `limit` bytes) covering the next `n` bytes."""
        while n > 0:
            avail = len(self.buf) - self.pos
            if avail <= 0:
                if not self._fill():
                    raise TarError("unexpected end of data")
                continue
            take = min(n, avail, limit)
            yield memoryview(self.buf)[self.pos:self.pos + take]
            self.pos += take
            self.offset += take
            n -= take

    def take(self, n: int) -> list:
        return list(self.pieces(n, n or 1))

    def skip(self, n: int) -> None:
        for _ in self.pieces(n, n or 1):
            pass

    def drain(self) -> None:
        self.offset += len(self.buf) - self.pos
        self.buf, self.pos = b"", 0
        while self._fill():
            self.offset += len(self.buf)
            self.buf = b""


# ------------------------------------------------------------------------------------------------
# headers
def _number(field: bytes) -> int:
    if field[0] & 0x80:   # base-256 (GNU): big-endian, first byte's top bit set
        if field[0] == 0xFF:
            raise TarError("negative number in a tar header")
        return int.from_bytes(bytes([field[0] & 0x7F]) + field[1:], "big")
    try:
        return int(field.strip(b" \0") or b"0", 8)   # the usual "0000644\0"
    except ValueError:
        text = field.split(b"\0", 1)[0].strip()
        try:
            return int(text, 8) if text else 0
        except ValueError:
            raise TarError(f"invalid number {text!r} in a tar header") from None


def _text(field: bytes) -> str:
    return field.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _checksum_ok(h: bytes) -> bool:
    stored = _number(h[148:156])
    if stored == sum(h) - sum(h[148:156]) + 256:    # the checksum field counts as 8 spaces
        return True
    return stored == sum(b - 256 if b > 127 else b for b in h[:148] + h[156:]) + 256  # old signed sums


def _pad(size: int) -> int:
    return -size % BLOCK


def _parse_pax(data: bytes, into: dict) -> None:
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos)
        if space < 0:
            if data[pos:].strip(b"\0"):
                raise TarError("invalid PAX header")
            break
        try:
            length = int(data[pos:space])
        except ValueError:
            raise TarError("invalid PAX header") from None
        if length <= 0:
            raise TarError("invalid PAX header")
        record = data[space + 1:pos + length]
        if not record.endswith(b"\n") or b"=" not in record:
            raise TarError("invalid PAX header")
        key, _, value = record[:-1].partition(b"=")
        into[key.decode("utf-8", "surrogateescape")] = value
        pos += length


def next_member(inp: Input, globals_: dict) -> Member | None:
    """Parse the next entry's headers (and its PAX/GNU prefix entries); None at end of archive.
    The member's data (`size` bytes, then padding to the block) is left for the caller."""
    pax: dict = {}
    longname = longlink = None
    while True:
        h = inp.block()
        if h is None:
            raise TarError("unexpected end of data (no end-of-archive marker)")
        if h == _ZERO_BLOCK:
            return None
        if not _checksum_ok(h):
            raise TarError("bad checksum in a tar header")
        kind = h[156:157]
        size = _number(h[124:136])
        if kind in (b"x", b"g", b"L", b"K"):
            if size > 16 << 20:
                raise TarError("oversized tar extension header")
            data = b"".join(bytes(p) for p in inp.take(size))
            inp.skip(_pad(size))
            if kind == b"x":
                _parse_pax(data, pax)
            elif kind == b"g":
                _parse_pax(data, globals_)
            elif kind == b"L":
                longname = data.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
            else:
                longlink = data.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
            continue
        return _member(h, kind, size, {**globals_, **pax} if globals_ else pax, longname, longlink)


def _member(h: bytes, kind: bytes, size: int, pax: dict, longname, longlink) -> Member:
    m = Member()
    name = _text(h[0:100])
    if h[257:263] == b"ustar\0" and h[345] != 0:   # POSIX ustar prefix field
        name = _text(h[345:500]) + "/" + name
    m.type = kind
    m.mode = _number(h[100:108])
    m.uid, m.gid = _number(h[108:116]), _number(h[116:124])
    m.mtime = _number(h[136:148])
    m.linkname = _text(h[157:257]) if kind in (LNK, SYM) else ""
    if kind in (CHR, BLK):
        m.devmajor, m.devminor = _number(h[329:337]), _number(h[337:345])
    else:
        m.devmajor = m.devminor = 0
    m.xattrs = None
    if longname is not None:
        name = longname
    if longlink is not None:
        m.linkname = longlink
    if pax:
        if any(k.startswith("GNU.sparse.") for k in pax):
            raise TarError("sparse files are not supported in layers")
        for key, value in pax.items():
            if key == "path":
                name = value.decode("utf-8", "surrogateescape")
            elif key == "linkpath":
                m.linkname = value.decode("utf-8", "surrogateescape")
            elif key == "size":
                size = _pax_int(value)
            elif key in ("uid", "gid"):
                setattr(m, key, _pax_int(value))
            elif key == "mtime":
                try:
                    m.mtime = float(value)
                except ValueError:
                    raise TarError("invalid PAX mtime") from None
            elif key.startswith("SCHILY.xattr."):
                if m.xattrs is None:
                    m.xattrs = {}
                m.xattrs[key[len("SCHILY.xattr."):]] = value
    if kind == b"S" or kind == b"M":
        raise TarError("sparse and multi-volume tar entries are not supported in layers")
    if kind in (AREG, REG) and name.endswith("/"):
        m.type = DIR
    if m.type in (LNK, SYM, CHR, BLK, DIR, FIFO):
        size = 0   # header-only entries: no data follows, whatever the size field says
    m.name = name
    m.size = size
    return m


def _pax_int(value: bytes) -> int:
    try:
        return int(value)
    except ValueError:
        raise TarError("invalid PAX number") from None


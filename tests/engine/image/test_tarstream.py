"""The lean layer tar reader (rootless/engine/image/tarstream.py) against Python's tarfile: every
format tarfile writes (ustar, GNU, PAX) parses to the same members and data, cut or corrupt
streams raise TarError, the decompressing producer handles gzip (multi-member), zstd and plain and
hashes exactly the uncompressed bytes."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from rootless.engine.image import tarstream as ts


def build(entries: list[tuple], fmt=tarfile.PAX_FORMAT) -> bytes:
    """entries: (name, type, data, fields) -> an uncompressed tar."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for name, type_, data, fields in entries:
            info = tarfile.TarInfo(name)
            info.type = type_
            info.size = len(data) if type_ in (tarfile.REGTYPE, tarfile.AREGTYPE) else 0
            info.mode = fields.get("mode", 0o644)
            info.mtime = fields.get("mtime", 1_600_000_000)
            for key in ("uid", "gid", "linkname", "devmajor", "devminor", "pax_headers"):
                if key in fields:
                    setattr(info, key, fields[key])
            tf.addfile(info, io.BytesIO(data) if info.size else None)
    return buf.getvalue()


def read_all(blob: bytes, hashing: bool = True) -> tuple[list[tuple], ts.Chunks]:
    """[(name, type, size, mode, uid, gid, mtime, linkname, data, xattrs)] and the Chunks."""
    chunks = ts.Chunks(io.BytesIO(blob), hashing)
    inp = ts.Input(chunks)
    out, globals_ = [], {}
    try:
        while (m := ts.next_member(inp, globals_)) is not None:
            end = inp.offset + m.size + (-m.size % ts.BLOCK)
            data = b"".join(bytes(p) for p in inp.take(m.size)) if m.isreg() else b""
            inp.skip(end - inp.offset)
            out.append((m.name, m.type, m.size, m.mode, m.uid, m.gid, int(m.mtime), m.linkname, data, m.xattrs))
        inp.drain()
    finally:
        chunks.close()
    return out, chunks


def expected(raw: bytes) -> list[tuple]:
    out = []
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tf:
        for m in tf:
            data = tf.extractfile(m).read() if m.isreg() else b""
            xattrs = {k[13:]: v.encode("utf-8", "surrogateescape") for k, v in m.pax_headers.items()
                      if k.startswith("SCHILY.xattr.")} or None
            out.append((m.name.rstrip("/") if m.isdir() else m.name, m.type, m.size if m.isreg() else 0,
                        m.mode, m.uid, m.gid, int(m.mtime), m.linkname, data, xattrs))
    return out


def normalise(members: list[tuple]) -> list[tuple]:
    return [(m[0].rstrip("/"),) + m[1:] for m in members]


# --- table: formats and header features ------------------------------------------------------------
LONG = "d/" + "x" * 150 + "/" + "y" * 120
CASES = {
    "plain file and dir": [("etc", tarfile.DIRTYPE, b"", {"mode": 0o755}), ("etc/hosts", tarfile.REGTYPE, b"127.0.0.1 x\n", {})],
    "long name": [(LONG, tarfile.REGTYPE, b"long", {})],
    "long link": [("l", tarfile.SYMTYPE, b"", {"linkname": "t/" * 80})],
    "hardlink": [("a", tarfile.REGTYPE, b"A", {}), ("b", tarfile.LNKTYPE, b"", {"linkname": "a"})],
    "big ids": [("u", tarfile.REGTYPE, b"", {"uid": 3_000_000, "gid": 2_500_000})],
    "set-id modes": [("s", tarfile.REGTYPE, b"#!", {"mode": 0o4755}), ("t", tarfile.DIRTYPE, b"", {"mode": 0o1777})],
    "devices and fifo": [("null", tarfile.CHRTYPE, b"", {"devmajor": 1, "devminor": 3}),
                         ("sda", tarfile.BLKTYPE, b"", {"devmajor": 8, "devminor": 0}),
                         ("p", tarfile.FIFOTYPE, b"", {})],
    "exact block": [("f512", tarfile.REGTYPE, b"z" * 512, {}), ("g", tarfile.REGTYPE, b"", {})],
    "utf-8 name": [("caf\u00e9/\u00fc.txt", tarfile.REGTYPE, b"u", {})],
}


@pytest.mark.parametrize("fmt", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT],
                         ids=["pax", "gnu", "ustar"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_members_match_tarfile(case: str, fmt) -> None:
    entries = CASES[case]
    try:
        raw = build(entries, fmt)
    except ValueError:   # ustar cannot hold this case (long names, big ids): nothing to compare
        assert fmt == tarfile.USTAR_FORMAT
        return
    got, chunks = read_all(raw)
    assert normalise(got) == normalise(expected(raw))
    assert chunks.diff_id == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert chunks.total == len(raw)


def test_pax_xattrs_mtime_and_global_headers() -> None:
    raw = build([("f", tarfile.REGTYPE, b"x", {"pax_headers": {"SCHILY.xattr.user.k": "v", "mtime": "1600000000.5"}})])
    got, _ = read_all(raw)
    assert got[0][9] == {"user.k": b"v"}
    g = tarfile.TarInfo("g")   # a global header applies to the members after it
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT, pax_headers={"uid": "4242"}) as tf:
        g.size = 1
        tf.addfile(g, io.BytesIO(b"1"))
    got, _ = read_all(buf.getvalue())
    assert got[0][0] == "g" and got[0][4] == 4242


def test_base256_size_and_prefix_field() -> None:
    head = bytearray(build([("p" * 80 + "/" + "n" * 90, tarfile.REGTYPE, b"hello", {})], tarfile.USTAR_FORMAT))
    got, _ = read_all(bytes(head))
    assert got[0][0] == "p" * 80 + "/" + "n" * 90 and got[0][8] == b"hello"
    # the same size written in base-256 (GNU) reads the same
    head[124:136] = b"\x80" + (5).to_bytes(11, "big")
    head[148:156] = b"        "
    head[148:156] = b"%06o\0 " % sum(head[:512])
    got, _ = read_all(bytes(head))
    assert got[0][2] == 5 and got[0][8] == b"hello"


# --- bad input -----------------------------------------------------------------------------------
def test_truncated_everywhere_raises() -> None:
    raw = build([("a", tarfile.REGTYPE, b"A" * 700, {}), ("b", tarfile.REGTYPE, b"B", {})])
    end = len(raw) - raw[::-1].find(b"B") + 511  # still inside the data of b / its block
    for cut in sorted({0, 1, 100, 511, 512, 513, 1000, 1536, 2048, end - 1}):
        with pytest.raises(ts.TarError):
            read_all(raw[:cut])


def test_end_marker_required() -> None:
    raw = build([("a", tarfile.REGTYPE, b"A", {})])
    with pytest.raises(ts.TarError, match="end-of-archive"):
        read_all(raw[:1024])          # header + data block, no zero block
    got, _ = read_all(raw[:1536])     # one zero block is enough (tarfile agrees)
    assert [g[0] for g in got] == ["a"]


def test_bad_checksum_raises() -> None:
    raw = bytearray(build([("a", tarfile.REGTYPE, b"A", {})]))
    raw[0] ^= 1
    with pytest.raises(ts.TarError, match="checksum"):
        read_all(bytes(raw))


def test_sparse_is_refused() -> None:
    raw = build([("s", tarfile.REGTYPE, b"x", {"pax_headers": {"GNU.sparse.major": "1", "GNU.sparse.minor": "0"}})])
    with pytest.raises(ts.TarError, match="sparse"):
        read_all(raw)


def test_corrupt_gzip_raises() -> None:
    blob = bytearray(gzip.compress(build([("a", tarfile.REGTYPE, b"A" * 5000, {})])))
    blob[len(blob) // 2] ^= 0xFF
    with pytest.raises(Exception):
        read_all(bytes(blob))
    with pytest.raises(ts.TarError):
        read_all(gzip.compress(build([("a", tarfile.REGTYPE, b"A", {})]))[:-9])


# --- compression -----------------------------------------------------------------------------------
def test_compressions_hash_the_uncompressed_tar() -> None:
    raw = build([("a", tarfile.REGTYPE, bytes(range(256)) * 4000, {}), ("b", tarfile.REGTYPE, b"b" * 10, {})])
    half = len(raw) // 2
    blobs = {"plain": raw, "gzip": gzip.compress(raw), "zstd": zstandard.ZstdCompressor().compress(raw),
             "gzip two members": gzip.compress(raw[:half]) + gzip.compress(raw[half:]),
             "gzip zero padded": gzip.compress(raw) + bytes(100)}
    for name, blob in blobs.items():
        got, chunks = read_all(blob)
        assert [g[0] for g in got] == ["a", "b"], name
        assert chunks.diff_id == "sha256:" + hashlib.sha256(raw).hexdigest(), name
    with pytest.raises(ts.TarError, match="garbage"):
        read_all(gzip.compress(raw) + b"junk")


def test_zeros_bomb_stays_chunked() -> None:
    raw = build([("z", tarfile.REGTYPE, bytes(40 << 20), {})])
    chunks = ts.Chunks(io.BytesIO(gzip.compress(raw, 1)))
    try:
        sizes = []
        while (c := chunks.get()) is not None:
            sizes.append(len(c))
    finally:
        chunks.close()
    assert max(sizes) <= ts.OUT_MAX and sum(sizes) == len(raw)


# --- property: any tarfile-written archive reads the same --------------------------------------------
names = st.lists(st.text(st.characters(min_codepoint=48, max_codepoint=0x24F, blacklist_characters="/\\"),
                         min_size=1, max_size=40), min_size=1, max_size=3).map("/".join)
entry = st.tuples(names, st.sampled_from([tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE]),
                  st.binary(max_size=3000), st.integers(0, 70000), st.integers(0, 0o7777))


@settings(max_examples=60, deadline=None)
@given(st.lists(entry, max_size=8), st.sampled_from([tarfile.PAX_FORMAT, tarfile.GNU_FORMAT]))
def test_property_matches_tarfile(entries, fmt) -> None:
    spec = [(n, t, d if t == tarfile.REGTYPE else b"", {"uid": u, "mode": m, "linkname": "x" if t == tarfile.SYMTYPE else ""})
            for n, t, d, u, m in entries]
    raw = build(spec, fmt)
    got, chunks = read_all(gzip.compress(raw))
    assert normalise(got) == normalise(expected(raw))
    assert chunks.total == len(raw)

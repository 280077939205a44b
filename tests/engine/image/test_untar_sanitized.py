"""The C files of rootless._untar (native/build.py UNTAR_SOURCES) built with AddressSanitizer and
UBSan, and with ThreadSanitizer (tests/engine/image/untar_harness.c), fed valid tars of many
shapes (whiteouts, links, long names, PAX headers, set-id modes, odd types) and byte mutations of
them, cut into chunks at arbitrary points, parsed and unpacked: no memory error, no undefined
behaviour, no data race, and nothing written outside the tree."""

from __future__ import annotations

import io
import os
import random
import resource
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

NATIVE = Path(__file__).resolve().parents[3] / "native"


def _native_build():
    import importlib.util

    spec = importlib.util.spec_from_file_location("rl_native_build", NATIVE / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


native_build = _native_build()   # UNTAR_SOURCES: the files of rootless._untar
HARNESS = Path(__file__).with_name("untar_harness.c")
NAMES = ["a", "a/b", "a/b/c", ".wh.a", "a/.wh.b", "a/.wh..wh..opq", "..", "a/../b", "/abs", "x" * 120 + "/y" * 60,
         "d/", "./", ".", "l", "l/x", "h", "a/.wh..wh.plnk", ".wh..wh..opq", "caf\u00e9", "a//b/./c"]
TYPES = [tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.FIFOTYPE, tarfile.CHRTYPE,
         b"D", tarfile.AREGTYPE]


def _tar(entries, fmt) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for name, type_, data, fields in entries:
            info = tarfile.TarInfo(name)
            info.type = type_
            info.size = len(data) if type_ == tarfile.REGTYPE else 0
            for key, value in fields.items():
                setattr(info, key, value)
            tf.addfile(info, io.BytesIO(data) if info.size else None)
    return buf.getvalue()


def corpus(rng: random.Random, valid: int, mutated: int) -> list[bytes]:
    seeds = []
    while len(seeds) < valid:
        entries = []
        for _ in range(rng.randint(1, 8)):
            fields = {"mode": rng.choice([0o644, 0o755, 0o4755, 0o2775, 0o1777, 0]), "uid": rng.choice([0, 0, 1000, 70000]),
                      "linkname": rng.choice(NAMES + ["/etc", "../.."]), "mtime": rng.choice([0, 1_600_000_000, 2**33 - 1])}
            if rng.random() < 0.3:
                key = rng.choice(["path", "linkpath", "SCHILY.xattr.user.x", "mtime", "uid", "size", "comment"])
                fields["pax_headers"] = {key: rng.choice(["1", "a/b", "-1.5", "x" * 300, ""])}
            entries.append((rng.choice(NAMES), rng.choice(TYPES), rng.randbytes(rng.choice([0, 1, 511, 512, 513, 3000, 20000, 70000])), fields))
        try:
            seeds.append(_tar(entries, rng.choice([tarfile.PAX_FORMAT, tarfile.GNU_FORMAT])))
        except (ValueError, tarfile.TarError):
            continue
    out = list(seeds)
    for _ in range(mutated):
        raw = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 6)):
            pos, op = rng.randrange(len(raw)), rng.random()
            if op < 0.5:
                raw[pos] = rng.randrange(256)
            elif op < 0.7:
                raw[pos:pos + 8] = rng.choice([b"\x80" + bytes(7), b"\xff" * 8, b"77777777", b" " * 8])
            elif op < 0.85:
                del raw[pos:pos + rng.randrange(600)]
            else:
                raw[pos:pos] = rng.randbytes(rng.randrange(600))
        if rng.random() < 0.7 and len(raw) >= 512:   # a valid first checksum gets mutations further
            raw[148:156] = b" " * 8
            raw[148:156] = b"%06o\0 " % sum(raw[:512])
        out.append(bytes(raw))
    return out


SANITIZERS = {"address": ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined"],
              "thread": ["-fsanitize=thread"]}     # the data writer thread (rl_untar_io.c)


@pytest.fixture(scope="module", params=sorted(SANITIZERS))
def harness(request, tmp_path_factory) -> Path:
    cc = shutil.which("gcc") or shutil.which("cc")
    if not cc:
        pytest.skip("no C compiler on this host")
    exe = tmp_path_factory.mktemp("harness") / f"untar_harness_{request.param}"
    built = subprocess.run([cc, "-g", "-O1", *SANITIZERS[request.param], f"-I{NATIVE}", "-o", str(exe), str(HARNESS),
                            *(str(NATIVE / name) for name in native_build.UNTAR_SOURCES), "-lpthread"],
                           capture_output=True, text=True)
    if built.returncode and "san" in built.stderr.lower():
        pytest.skip(f"the compiler cannot link the {request.param} sanitizer here: {built.stderr.strip()[-200:]}")
    assert built.returncode == 0, built.stderr
    return exe


def _unlimited_address_space() -> None:
    """AddressSanitizer reserves terabytes of address space for its shadow memory; the test rig
    lowers the soft RLIMIT_AS (tests/rig/run_suite.py), which the harness may raise again."""
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))


def test_corpus_under_sanitizers(harness: Path, tmp_path: Path) -> None:
    if resource.getrlimit(resource.RLIMIT_AS)[1] != resource.RLIM_INFINITY:
        pytest.skip("the hard address-space limit (ulimit -Hv) leaves AddressSanitizer no room")
    inputs = tmp_path / "in"
    inputs.mkdir()
    for i, raw in enumerate(corpus(random.Random(20261208), 250, 1500)):
        (inputs / f"{i:05d}").write_bytes(raw)
    out = tmp_path / "out"
    out.mkdir()
    before = set(os.listdir(tmp_path))
    result = subprocess.run([str(harness), *sorted(map(str, inputs.iterdir()))], capture_output=True, text=True,
                            env=dict(os.environ, DIR=str(out), ASAN_OPTIONS="detect_leaks=1"), timeout=300,
                            preexec_fn=_unlimited_address_space)
    assert result.returncode == 0, result.stderr[-3000:]
    assert set(os.listdir(tmp_path)) == before           # nothing beside the trees
    assert not Path("/abs").exists()
    subprocess.run(["chmod", "-R", "u+rwX", str(out)], check=True)   # the corpus has mode-0 directories
    written = sum(len(files) for _, _, files in os.walk(out))
    shutil.rmtree(out)
    assert written > 500                                   # the corpus reaches the writer, not only the parser

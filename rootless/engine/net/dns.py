"""The DNS messages of a user network's responder (RFC 1035 section 4), pure.

The responder (holder.py) answers A queries for the names of the containers on the network
(container name, aliases, short id) with their addresses, answers other types for those names
with no records (NOERROR, so resolvers do not drop the A answer they asked for beside an AAAA),
forwards everything else to the host's resolvers, and answers NXDOMAIN when there is nothing to
forward to (an --internal network) or the message is not a plain query.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

TYPE_A = 1
TYPE_AAAA = 28
TYPE_ANY = 255
CLASS_IN = 1
NOERROR, FORMERR, SERVFAIL, NXDOMAIN = 0, 1, 2, 3
TTL = 10
_HEADER = struct.Struct("!HHHHHH")


@dataclass(frozen=True)
class Query:
    id: int
    flags: int
    name: str          # lower case, no trailing dot
    qtype: int
    qclass: int
    question: bytes    # the question section as sent (echoed in the reply)


def parse_query(data: bytes) -> Query | None:
    """The first question of a standard query, None when `data` is not one."""
    if len(data) < _HEADER.size:
        return None
    qid, flags, qdcount, _an, _ns, _ar = _HEADER.unpack_from(data)
    if flags & 0x8000 or (flags >> 11) & 0xF != 0 or qdcount < 1:
        return None
    labels, pos = [], _HEADER.size
    while True:
        if pos >= len(data):
            return None
        size = data[pos]
        if size == 0:
            pos += 1
            break
        if size & 0xC0 or pos + 1 + size > len(data):
            return None
        labels.append(data[pos + 1:pos + 1 + size])
        pos += 1 + size
    if pos + 4 > len(data):
        return None
    qtype, qclass = struct.unpack_from("!HH", data, pos)
    try:
        name = b".".join(labels).decode("ascii").lower()
    except UnicodeDecodeError:
        return None
    return Query(qid, flags, name, qtype, qclass, data[_HEADER.size:pos + 4])


def reply(query: Query, addresses: list[str] = (), rcode: int = NOERROR) -> bytes:
    """The response to `query`: A records for `addresses` (when it asked for A or ANY in IN)."""
    wants_a = query.qtype in (TYPE_A, TYPE_ANY) and query.qclass == CLASS_IN
    answers = [ipaddress.IPv4Address(a).packed for a in addresses] if wants_a and rcode == NOERROR else []
    flags = 0x8000 | 0x0400 | (query.flags & 0x0100) | 0x0080 | (rcode & 0xF)  # QR AA RD RA
    out = [_HEADER.pack(query.id, flags, 1, len(answers), 0, 0), query.question]
    for packed in answers:
        out.append(struct.pack("!HHHIH", 0xC00C, TYPE_A, CLASS_IN, TTL, 4) + packed)
    return b"".join(out)


def error_reply(data: bytes, rcode: int = FORMERR) -> bytes | None:
    """A header-only error reply to a message that did not parse, None when there is no header."""
    if len(data) < _HEADER.size:
        return None
    qid, flags = struct.unpack_from("!HH", data)
    return _HEADER.pack(qid, 0x8000 | (flags & 0x7900) | 0x0080 | rcode, 0, 0, 0, 0)


def build_query(qid: int, name: str, qtype: int = TYPE_A) -> bytes:
    """A standard recursive query (for tests and probes)."""
    labels = b"".join(bytes([len(p)]) + p.encode("ascii") for p in name.rstrip(".").split(".") if p)
    return _HEADER.pack(qid, 0x0100, 1, 0, 0, 0) + labels + b"\0" + struct.pack("!HH", qtype, CLASS_IN)


def parse_answers(data: bytes) -> tuple[int, list[str]]:
    """(rcode, A addresses) of a reply built by `reply` (answers after one question)."""
    _qid, flags, qdcount, ancount, _ns, _ar = _HEADER.unpack_from(data)
    pos = _HEADER.size
    for _ in range(qdcount):
        while data[pos] != 0:
            pos += 1 + data[pos]
        pos += 5
    out = []
    for _ in range(ancount):
        _name, rtype, _cls, _ttl, size = struct.unpack_from("!HHHIH", data, pos)
        pos += 12
        if rtype == TYPE_A and size == 4:
            out.append(str(ipaddress.IPv4Address(data[pos:pos + 4])))
        pos += size
    return flags & 0xF, out

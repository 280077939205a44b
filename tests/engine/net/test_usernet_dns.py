"""The user networks' DNS messages (RFC 1035): parsing queries, A answers, NXDOMAIN (pure, hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from rootless.engine.net import dns

LABEL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=20)


@given(st.lists(LABEL, min_size=1, max_size=4), st.integers(0, 0xFFFF), st.sampled_from([1, 28, 255, 16]))
def test_query_roundtrip(labels, qid, qtype):
    name = ".".join(labels)
    query = dns.parse_query(dns.build_query(qid, name.upper() + ".", qtype))
    assert (query.id, query.name, query.qtype, query.qclass) == (qid, name, qtype, dns.CLASS_IN)


@given(st.binary(max_size=80))
def test_parse_never_crashes(data):
    query = dns.parse_query(data)
    assert query is None or isinstance(query.name, str)
    reply = dns.error_reply(data)
    assert reply is None or len(reply) == 12


@pytest.mark.parametrize("qtype, addresses, rcode, expected", [
    (dns.TYPE_A, ["10.89.1.4"], dns.NOERROR, (0, ["10.89.1.4"])),
    (dns.TYPE_A, ["10.89.1.4", "10.89.2.4"], dns.NOERROR, (0, ["10.89.1.4", "10.89.2.4"])),
    (dns.TYPE_ANY, ["10.89.1.4"], dns.NOERROR, (0, ["10.89.1.4"])),
    (dns.TYPE_AAAA, ["10.89.1.4"], dns.NOERROR, (0, [])),    # a known name: no data, not NXDOMAIN
    (dns.TYPE_A, [], dns.NXDOMAIN, (3, [])),
])
def test_reply(qtype, addresses, rcode, expected):
    query = dns.parse_query(dns.build_query(77, "web", qtype))
    data = dns.reply(query, addresses, rcode)
    assert data[:2] == b"\x00\x4d" and data[2] & 0x80  # same id, a response
    assert data[3] & 0x80  # recursion available
    assert dns.parse_answers(data) == expected


@pytest.mark.parametrize("data", [
    b"", b"\x00" * 11,
    b"\x00\x01\x80\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03web\x00\x00\x01\x00\x01",   # a response
    b"\x00\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00",                             # no question
    b"\x00\x01\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03we",                        # cut short
    b"\x00\x01\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00\x01\x00\x01",      # pointer
])
def test_not_a_query(data):
    assert dns.parse_query(data) is None

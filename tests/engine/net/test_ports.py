"""ports.py: docker's -p grammar, -P, PortBindings / NetworkSettings.Ports, PORTS column, rl port."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rootless.engine.net import ports
from rootless.engine.net.ports import Bound, PortMapping
from rootless.errors import InvalidPortSpec, RlError, UsageError

M = PortMapping

PARSE = [
    ("80", [M(80, "tcp", "", "")]),
    ("80/udp", [M(80, "udp", "", "")]),
    ("80/UDP", [M(80, "udp", "", "")]),
    ("80/", [M(80, "tcp", "", "")]),
    ("53/sctp", [M(53, "sctp", "", "")]),
    ("8080:80", [M(80, "tcp", "", "8080")]),
    ("0:80", [M(80, "tcp", "", "0")]),
    ("8080:80/udp", [M(80, "udp", "", "8080")]),
    ("127.0.0.1:8080:80", [M(80, "tcp", "127.0.0.1", "8080")]),
    ("127.0.0.1::80", [M(80, "tcp", "127.0.0.1", "")]),
    ("127.0.0.1:1199:80", [M(80, "tcp", "127.0.0.1", "1199")]),
    ("[::1]:8080:80", [M(80, "tcp", "::1", "8080")]),
    ("[::1]::80/udp", [M(80, "udp", "::1", "")]),
    ("::1:8080:80", [M(80, "tcp", "::1", "8080")]),
    ("[::]:8080:80", [M(80, "tcp", "::", "8080")]),
    ("8000-8002:80-82", [M(80, "tcp", "", "8000"), M(81, "tcp", "", "8001"), M(82, "tcp", "", "8002")]),
    ("80-81", [M(80, "tcp", "", ""), M(81, "tcp", "", "")]),
    ("127.0.0.1::80-81/udp", [M(80, "udp", "127.0.0.1", ""), M(81, "udp", "127.0.0.1", "")]),
    ("8000-8010:80", [M(80, "tcp", "", "8000-8010")]),       # docker: random within the range
    ("1.2.3.4:8000-8010:80/udp", [M(80, "udp", "1.2.3.4", "8000-8010")]),
    ("65535:65535", [M(65535, "tcp", "", "65535")]),
]


@pytest.mark.parametrize(("spec", "expected"), PARSE)
def test_parse(spec, expected):
    assert ports.parse_port_spec(spec) == expected


ERRORS = [
    ("", "no port specified: <empty>"),
    ("8080:", "no port specified: 8080:<empty>"),
    ("8080:/tcp", "no port specified: 8080:/tcp<empty>"),
    ("abc", "invalid containerPort: abc"),
    ("8080:abc", "invalid containerPort: abc"),
    ("8080:65536", "invalid containerPort: 65536"),
    ("8080:-1", "invalid containerPort: -1"),
    ("8080:+80", "invalid containerPort: +80"),
    ("8080:90-80", "invalid containerPort: 90-80"),
    ("8080:80-", "invalid containerPort: 80-"),
    ("abc:80", "Invalid hostPort: abc"),
    ("70000:80", "Invalid hostPort: 70000"),
    ("1.2.3.4:x:80", "Invalid hostPort: x"),
    ("80/foo", "invalid proto: foo"),
    ("8080:80/icmp", "invalid proto: icmp"),
    ("8000-8002:80-81", "invalid ranges specified for container and host Ports: 80-81 and 8000-8002"),
    ("8000:80-81", "invalid ranges specified for container and host Ports: 80-81 and 8000"),
    ("1.2.3:80:80", "invalid IP address: 1.2.3"),
    ("localhost:80:80", "invalid IP address: localhost"),
    ("[::1:80:80", "invalid IP address: [::1"),
    ("fe80::1%eth0:80:80", "invalid IP address: fe80::1%eth0"),
]


@pytest.mark.parametrize(("spec", "message"), ERRORS)
def test_parse_errors(spec, message):
    with pytest.raises(InvalidPortSpec) as info:
        ports.parse_port_spec(spec)
    assert str(info.value) == message
    assert isinstance(info.value, UsageError) and info.value.exit_code == 125


@settings(max_examples=600, deadline=None)
@given(st.text(alphabet="0123456789:/-[].abcdefptcuUD%", max_size=24) | st.text(max_size=24))
def test_parse_raises_only_its_own_error(spec):
    try:
        result = ports.parse_port_spec(spec)
    except InvalidPortSpec:
        return
    assert result and all(0 <= m.container_port <= 65535 and m.proto in ports.PROTOCOLS for m in result)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 65535), st.integers(0, 65535), st.sampled_from(["", "/tcp", "/udp"]),
       st.sampled_from(["", "127.0.0.1:", "[::1]:", "0.0.0.0:"]))
def test_parse_roundtrip(host, container, proto, ip):
    (m,) = ports.parse_port_spec(f"{ip}{host}:{container}{proto}")
    assert (m.container_port, m.host_port, m.proto) == (container, str(host), proto[1:] or "tcp")
    assert m.host_ip == {"": "", "127.0.0.1:": "127.0.0.1", "[::1]:": "::1", "0.0.0.0:": "0.0.0.0"}[ip]


def test_host_port_range():
    assert M(80, host_port="").host_port_range() is None
    assert M(80, host_port="0").host_port_range() is None
    assert M(80, host_port="8080").host_port_range() == (8080, 8080)
    assert M(80, host_port="8000-8010").host_port_range() == (8000, 8010)


def test_publish_all_adds_exposed_ports_without_bindings():
    given_ = ports.parse_publish(["8080:80"])
    out = ports.publish_all({"443/tcp": {}, "80/tcp": {}, "53/udp": {}}, given_)
    assert out == [M(80, "tcp", "", "8080"), M(53, "udp"), M(443, "tcp")]


def test_exposed_ports_include_published():
    assert ports.exposed_ports(["80/tcp", "53/udp"], ports.parse_publish(["9000:9000", "80"])) == \
        {"53/udp": {}, "80/tcp": {}, "9000/tcp": {}}


def test_port_bindings_json():
    mappings = ports.parse_publish(["8080:80", "127.0.0.1::80", "53:53/udp"])
    expected = {"80/tcp": [{"HostIp": "", "HostPort": "8080"}, {"HostIp": "127.0.0.1", "HostPort": ""}],
                "53/udp": [{"HostIp": "", "HostPort": "53"}]}
    assert ports.port_bindings(mappings) == expected
    assert ports.mappings_from_bindings(expected) == mappings


def test_network_ports_json():
    bound = [Bound(80, "tcp", "0.0.0.0", 32768), Bound(80, "tcp", "::", 32768)]
    assert ports.network_ports(["443/tcp", "80/tcp"], bound) == {
        "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "32768"}, {"HostIp": "::", "HostPort": "32768"}],
        "443/tcp": None,
    }


def _np(*entries, exposed=()):
    return ports.network_ports(exposed, [Bound(*e) for e in entries])


PS = [
    (_np((80, "tcp", "0.0.0.0", 32768), (80, "tcp", "::", 32768)), "0.0.0.0:32768->80/tcp, :::32768->80/tcp"),
    (_np((80, "tcp", "127.0.0.1", 1199)), "127.0.0.1:1199->80/tcp"),
    (_np(exposed=["80/tcp"]), "80/tcp"),
    (_np(exposed=["80/tcp", "81/tcp", "82/tcp", "90/udp"]), "80-82/tcp, 90/udp"),
    (_np((80, "tcp", "0.0.0.0", 8080), exposed=["443/tcp"]), "443/tcp, 0.0.0.0:8080->80/tcp"),
    # docker groups equal public/private ports into ranges, per address
    (_np(*[(p, "tcp", "0.0.0.0", p) for p in range(8000, 8011)]), "0.0.0.0:8000-8010->8000-8010/tcp"),
    (_np(*[(p, "tcp", "0.0.0.0", p) for p in (8000, 8001, 8003)]),
     "0.0.0.0:8000-8001->8000-8001/tcp, 0.0.0.0:8003->8003/tcp"),
    # ... and lists different ones one by one
    (_np(*[(80 + i, "tcp", "0.0.0.0", 8000 + i) for i in range(3)]),
     "0.0.0.0:8000->80/tcp, 0.0.0.0:8001->81/tcp, 0.0.0.0:8002->82/tcp"),
    (_np((53, "udp", "0.0.0.0", 5353), (53, "tcp", "0.0.0.0", 5353)),
     "0.0.0.0:5353->53/tcp, 0.0.0.0:5353->53/udp"),
    ({}, ""),
    (None, ""),
]


@pytest.mark.parametrize(("network_ports", "column"), PS)
def test_ps_ports_column(network_ports, column):
    assert ports.ps_ports(network_ports) == column


def test_rl_port_lines():
    np = _np((80, "tcp", "0.0.0.0", 32768), (80, "tcp", "::", 32768), (53, "udp", "127.0.0.1", 5353),
             exposed=["443/tcp"])
    assert ports.port_lines(np, "web") == [
        "53/udp -> 127.0.0.1:5353", "80/tcp -> 0.0.0.0:32768", "80/tcp -> :::32768"]
    assert ports.port_lines(np, "web", "80") == ["0.0.0.0:32768", ":::32768"]
    assert ports.port_lines(np, "web", "80/tcp") == ["0.0.0.0:32768", ":::32768"]
    assert ports.port_lines(np, "web", "53/udp") == ["127.0.0.1:5353"]
    with pytest.raises(RlError, match=r"^No public port '443/tcp' published for web$"):
        ports.port_lines(np, "web", "443")
    with pytest.raises(RlError, match=r"^No public port '53/tcp' published for web$"):
        ports.port_lines(np, "web", "53")
    with pytest.raises(InvalidPortSpec):
        ports.port_lines(np, "web", "x/tcp")

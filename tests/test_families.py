"""Tests for dualstack.families: IPFamily, sloppy parsing, formatting, the netaddr edge.

Parsing follows Kubernetes' ``ParseIPSloppy``/``ParseCIDRSloppy`` (kubernetes/utils
net/parse.go and its fork of Go 1.16's parser): IPv4 octets with leading zeros are
decimal, IPv4-mapped IPv6 addresses are IPv4 (service-ips.md §1.1), host bits of a CIDR
are cleared, IPv4-mapped CIDRs are refused (node-and-pod-ips.md C2).
"""

from __future__ import annotations

import ipaddress

import netaddr
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dualstack.errors import InvalidAddressError
from dualstack.families import (
    IPFamily,
    format_cidr,
    format_ip,
    make_ip,
    make_net,
    parse_cidr,
    parse_ip,
)

V4, V6 = IPFamily.IPv4, IPFamily.IPv6

# --- IPFamily ----------------------------------------------------------------------------


def test_ip_family_members_are_kubernetes_strings():
    assert [str(f) for f in IPFamily] == ["IPv4", "IPv6"]
    assert IPFamily("IPv6") is V6


@pytest.mark.parametrize(
    ("family", "width", "version", "max_int", "other"),
    [(V4, 32, 4, 2**32 - 1, V6), (V6, 128, 6, 2**128 - 1, V4)],
    ids=["IPv4", "IPv6"],
)
def test_ip_family_facts_per_family(family, width, version, max_int, other):
    assert (family.width, family.version, family.max_int, family.other) == (
        width,
        version,
        max_int,
        other,
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("10.0.0.1", V4),
        ("fd00::1", V6),
        ("::ffff:10.0.0.1", V4),
        ("10.0.0.0/8", V4),
        ("fd00::/64", V6),
        (netaddr.IPAddress("10.0.0.1"), V4),
        (netaddr.IPAddress("::1"), V6),
        (netaddr.IPAddress("::ffff:10.0.0.1"), V4),
        (netaddr.IPNetwork("10.0.0.0/8"), V4),
        (netaddr.IPNetwork("2001:db8::/32"), V6),
    ],
    ids=[
        "v4-text",
        "v6-text",
        "mapped-text",
        "v4-cidr",
        "v6-cidr",
        "v4-netaddr",
        "v6-netaddr",
        "mapped-netaddr",
        "v4-net",
        "v6-net",
    ],
)
def test_ip_family_of_input_gives_family(value, expected):
    assert IPFamily.of(value) is expected


@pytest.mark.parametrize("value", ["", "nope", "10.0.0.0/33", "1.2.3", None, 5])
def test_ip_family_of_invalid_input_raises_invalid_address_error(value):
    with pytest.raises(InvalidAddressError):
        IPFamily.of(value)


# --- parse_ip ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value", "family"),
    [
        ("10.96.0.1", 0x0A600001, V4),
        ("0.0.0.0", 0, V4),
        ("255.255.255.255", 2**32 - 1, V4),
        ("010.001.000.001", 0x0A010001, V4),
        ("010.0.0.010", 0x0A00000A, V4),
        ("1.2.3.04", 0x01020304, V4),
        ("00.0.0.0", 0, V4),
        ("::ffff:10.0.0.1", 0x0A000001, V4),
        ("::ffff:a00:1", 0x0A000001, V4),
        ("::FFFF:10.0.0.1", 0x0A000001, V4),
        ("::ffff:010.0.0.1", 0x0A000001, V4),
        ("::", 0, V6),
        ("::1", 1, V6),
        ("::1.2.3.4", 0x01020304, V6),
        ("2001:DB8::1", int(ipaddress.IPv6Address("2001:db8::1")), V6),
        ("fd00:10:96::a", int(ipaddress.IPv6Address("fd00:10:96::a")), V6),
        ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 2**128 - 1, V6),
        ("::ffff:0:10.0.0.1", int(ipaddress.IPv6Address("::ffff:0:a00:1")), V6),
    ],
    ids=[
        "v4",
        "v4-zero",
        "v4-max",
        "leading-zeros-decimal",
        "leading-zero-not-octal",
        "leading-zero-last",
        "double-zero",
        "mapped",
        "mapped-hex",
        "mapped-upper",
        "mapped-leading-zero",
        "v6-unspecified",
        "v6-loopback",
        "v4-compatible-is-v6",
        "v6-upper",
        "v6",
        "v6-max",
        "v4-translated-is-v6",
    ],
)
def test_parse_ip_valid_text_gives_value_and_family(text, value, family):
    assert parse_ip(text) == (value, family)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1.2.3",
        "1.2.3.4.5",
        "1.2.3.256",
        "1..2.3",
        " 1.2.3.4",
        "1.2.3.4 ",
        "0x1.2.3.4",
        "1.2.3.-4",
        "١.2.3.4",
        "fe80::1%eth0",
        "1:2:3:4:5:6:7:8:9",
        "::ffff:1.2.3.256",
        "10.0.0.0/8",
        "gggg::1",
        "2001:db8:::1",
        "localhost",
    ],
    ids=[
        "empty",
        "three-octets",
        "five-octets",
        "octet-too-big",
        "empty-octet",
        "leading-space",
        "trailing-space",
        "hex",
        "negative",
        "arabic-digit",
        "zone",
        "nine-groups",
        "mapped-bad-tail",
        "cidr",
        "bad-hex",
        "triple-colon",
        "name",
    ],
)
def test_parse_ip_invalid_text_raises_invalid_address_error_quoting_input(text):
    with pytest.raises(InvalidAddressError) as info:
        parse_ip(text)
    assert repr(text) in str(info.value)
    assert info.value.value == text
    assert isinstance(info.value, ValueError)
    assert not isinstance(info.value, netaddr.AddrFormatError)


@pytest.mark.parametrize("value", [None, 167772161, b"10.0.0.1", 1.5, ["10.0.0.1"]])
def test_parse_ip_non_text_input_raises_invalid_address_error(value):
    with pytest.raises(InvalidAddressError) as info:
        parse_ip(value)
    assert info.value.value is value


def test_parse_ip_network_object_refused():
    with pytest.raises(InvalidAddressError):
        parse_ip(netaddr.IPNetwork("10.0.0.0/8"))


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        (netaddr.IPAddress("10.0.0.1"), (0x0A000001, V4)),
        (netaddr.IPAddress("fd00::1"), (int(ipaddress.IPv6Address("fd00::1")), V6)),
        (netaddr.IPAddress("::ffff:10.0.0.1"), (0x0A000001, V4)),
    ],
    ids=["v4", "v6", "mapped"],
)
def test_parse_ip_netaddr_object_gives_value_and_family(ip, expected):
    assert parse_ip(ip) == expected


def test_parse_ip_netaddr_subclass_accepted():
    class MyIP(netaddr.IPAddress):
        __slots__ = ()

    assert parse_ip(MyIP("10.0.0.1")) == (0x0A000001, V4)


def test_parse_ip_octet_with_many_leading_zeros_accepted_as_kubernetes():
    assert parse_ip("10.0.0.0001") == (0x0A000001, V4)


def test_parse_ip_ipv6_group_with_leading_zeros_accepted_as_kubernetes():
    assert parse_ip("fd00::00001") == (int(ipaddress.IPv6Address("fd00::1")), V6)


@given(st.integers(0, 2**32 - 1))
def test_parse_ip_any_ipv4_text_round_trips(value):
    assert parse_ip(str(ipaddress.IPv4Address(value))) == (value, V4)


@given(st.integers(0, 2**32 - 1))
def test_parse_ip_any_ipv4_zero_padded_octets_read_as_decimal(value):
    text = ".".join(f"{int(o):03d}" for o in str(ipaddress.IPv4Address(value)).split("."))
    assert parse_ip(text) == (value, V4)


@given(st.integers(0, 2**32 - 1))
def test_parse_ip_any_ipv4_mapped_text_is_ipv4(value):
    assert parse_ip(f"::ffff:{ipaddress.IPv4Address(value)}") == (value, V4)


@given(st.integers(0, 2**128 - 1).filter(lambda v: v >> 32 != 0xFFFF))
def test_parse_ip_any_ipv6_text_round_trips(value):
    address = ipaddress.IPv6Address(value)
    assert parse_ip(str(address)) == (value, V6)
    assert parse_ip(address.exploded.upper()) == (value, V6)


# --- parse_cidr ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10.96.0.0/12", (0x0A600000, 12, V4)),
        ("10.96.0.5/12", (0x0A600000, 12, V4)),
        ("010.0.0.0/8", (0x0A000000, 8, V4)),
        ("10.0.0.0/08", (0x0A000000, 8, V4)),
        ("0.0.0.0/0", (0, 0, V4)),
        ("1.2.3.4/32", (0x01020304, 32, V4)),
        ("255.255.255.255/0", (0, 0, V4)),
        ("fd00:10:96::/108", (int(ipaddress.IPv6Address("fd00:10:96::")), 108, V6)),
        ("fd00:10:96::1:2/64", (int(ipaddress.IPv6Address("fd00:10:96::")), 64, V6)),
        ("::/0", (0, 0, V6)),
        ("::1/128", (1, 128, V6)),
        ("FD00::/8", (0xFD << 120, 8, V6)),
    ],
    ids=[
        "v4",
        "v4-host-bits-cleared",
        "leading-zero-octet",
        "leading-zero-prefix",
        "v4-all",
        "v4-host",
        "v4-all-from-broadcast",
        "v6",
        "v6-host-bits-cleared",
        "v6-all",
        "v6-host",
        "v6-upper",
    ],
)
def test_parse_cidr_valid_text_gives_network_prefix_family(text, expected):
    assert parse_cidr(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "10.0.0.0",
        "10.0.0.0/",
        "10.0.0.0/33",
        "fd00::/129",
        "10.0.0.0/-1",
        "10.0.0.0/+8",
        "10.0.0.0/ 8",
        " 10.0.0.0/8",
        "10.0.0.0/8 ",
        "10.0.0/8",
        "::ffff:10.0.0.0/104",
        "::ffff:10.0.0.0/128",
        "fd00::/64/64",
        "10.0.0.0/8,fd00::/64",
        "/8",
        "10.0.0.0/a",
    ],
    ids=[
        "empty",
        "no-prefix",
        "empty-prefix",
        "v4-prefix-too-long",
        "v6-prefix-too-long",
        "negative-prefix",
        "plus-prefix",
        "space-in-prefix",
        "leading-space",
        "trailing-space",
        "three-octets",
        "mapped-cidr",
        "mapped-host-cidr",
        "two-slashes",
        "two-cidrs",
        "no-address",
        "letter-prefix",
    ],
)
def test_parse_cidr_invalid_text_raises_with_go_message_quoting_input(text):
    with pytest.raises(InvalidAddressError) as info:
        parse_cidr(text)
    assert info.value.message == f"invalid CIDR address: {text}"
    assert info.value.value == text
    assert not isinstance(info.value, netaddr.AddrFormatError)


@pytest.mark.parametrize("value", [None, 10, b"10.0.0.0/8", netaddr.IPAddress("10.0.0.1")])
def test_parse_cidr_non_text_input_raises_quoting_repr(value):
    with pytest.raises(InvalidAddressError) as info:
        parse_cidr(value)
    assert info.value.message == f"invalid CIDR address: {value!r}"


def test_parse_cidr_strict_refuses_leading_zero_octet():
    with pytest.raises(InvalidAddressError):
        parse_cidr("010.0.0.0/8", strict=True)
    assert parse_cidr("10.0.0.0/8", strict=True) == (0x0A000000, 8, V4)
    assert parse_cidr("fd00::/8", strict=True) == (0xFD << 120, 8, V6)


@pytest.mark.parametrize(
    ("net", "expected"),
    [
        (netaddr.IPNetwork("10.96.0.5/12"), (0x0A600000, 12, V4)),
        (netaddr.IPNetwork("fd00::5/64"), (0xFD << 120, 64, V6)),
    ],
    ids=["v4", "v6"],
)
def test_parse_cidr_netaddr_network_host_bits_cleared(net, expected):
    assert parse_cidr(net) == expected


def test_parse_cidr_ipv4_mapped_netaddr_network_refused():
    with pytest.raises(InvalidAddressError):
        parse_cidr(netaddr.IPNetwork("::ffff:10.0.0.0/104"))


def test_parse_cidr_prefix_with_many_leading_zeros_accepted_as_kubernetes():
    assert parse_cidr("1.2.3.4/0032") == (0x01020304, 32, V4)


@given(st.integers(0, 2**32 - 1), st.integers(0, 32))
def test_parse_cidr_any_ipv4_host_bits_cleared(value, prefixlen):
    text = f"{ipaddress.IPv4Address(value)}/{prefixlen}"
    network = ipaddress.IPv4Network(text, strict=False)
    assert parse_cidr(text) == (int(network.network_address), prefixlen, V4)


@given(st.integers(0, 2**128 - 1).filter(lambda v: v >> 32 != 0xFFFF), st.integers(0, 128))
def test_parse_cidr_any_ipv6_host_bits_cleared(value, prefixlen):
    text = f"{ipaddress.IPv6Address(value)}/{prefixlen}"
    network = ipaddress.IPv6Network(text, strict=False)
    assert parse_cidr(text) == (int(network.network_address), prefixlen, V6)


@given(st.text(max_size=40))
def test_parse_cidr_any_text_valid_or_invalid_address_error(text):
    try:
        network, prefixlen, family = parse_cidr(text)
    except InvalidAddressError as error:
        assert error.value == text
    else:
        assert 0 <= prefixlen <= family.width
        assert network >> (family.width - prefixlen) << (family.width - prefixlen) == network


@given(st.text(max_size=40))
def test_parse_ip_any_text_valid_or_invalid_address_error(text):
    try:
        value, family = parse_ip(text)
    except InvalidAddressError as error:
        assert error.value == text
    else:
        assert 0 <= value <= family.max_int


# --- formatting -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
        ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),
        ("FD00:10:96::A", "fd00:10:96::a"),
        ("::", "::"),
        ("::1", "::1"),
        ("1::", "1::"),
        ("0:0:0:0:0:0:0:0", "::"),
        ("1:0:0:2:0:0:3:4", "1::2:0:0:3:4"),
        ("ffff:0:0:0:ffff:0:0:0", "ffff::ffff:0:0:0"),
    ],
    ids=[
        "leading-zeros",
        "first-longest-run",
        "single-zero-not-compressed",
        "longest-run-wins",
        "lower-case",
        "unspecified",
        "loopback",
        "trailing",
        "all-zero",
        "equal-runs-first",
        "equal-long-runs-first",
    ],
)
def test_format_ip_ipv6_is_rfc5952(text, expected):
    assert format_ip(int(ipaddress.IPv6Address(text)), V6) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, "0.0.0.0"), (0x0A600001, "10.96.0.1"), (2**32 - 1, "255.255.255.255")],
    ids=["zero", "service", "max"],
)
def test_format_ip_ipv4_is_dotted_quad(value, expected):
    assert format_ip(value, V4) == expected


def test_format_ip_ipv4_mapped_value_in_ipv6_family_stays_ipv6_text():
    # The family decides the text: an IPv6 value that happens to be mapped prints as IPv6.
    assert format_ip(0xFFFF0A000001, V6) == "::ffff:a00:1"


def test_format_cidr_joins_network_and_prefix():
    assert format_cidr(0x0A600000, 12, V4) == "10.96.0.0/12"
    assert format_cidr(0xFD << 120, 8, V6) == "fd00::/8"


@given(st.integers(0, 2**128 - 1))
def test_format_ip_any_ipv6_matches_python_compressed(value):
    assert format_ip(value, V6) == ipaddress.IPv6Address(value).compressed


@given(st.integers(0, 2**32 - 1))
def test_format_ip_any_ipv4_parses_back(value):
    assert parse_ip(format_ip(value, V4)) == (value, V4)


# --- make_ip / make_net ------------------------------------------------------------------------

_ip_args = st.one_of(
    st.tuples(st.integers(0, 2**32 - 1), st.just(V4)),
    st.tuples(st.integers(0, 2**128 - 1), st.just(V6)),
)


@given(_ip_args)
def test_make_ip_any_value_equals_netaddr_constructor(args):
    value, family = args
    ip = make_ip(value, family)
    expected = netaddr.IPAddress(value, family.version)
    assert type(ip) is netaddr.IPAddress
    assert ip == expected
    assert ip.version == expected.version
    assert str(ip) == str(expected)
    assert hash(ip) == hash(expected)
    assert int(ip) == value


@given(_ip_args)
def test_make_ip_any_value_fresh_each_call(args):
    value, family = args
    first, second = make_ip(value, family), make_ip(value, family)
    assert first is not second
    original = int(second)
    first.value = 0
    assert int(second) == original


_net_args = st.one_of(
    st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 32), st.just(V4)),
    st.tuples(st.integers(0, 2**128 - 1), st.integers(0, 128), st.just(V6)),
)


@given(_net_args)
def test_make_net_any_value_equals_netaddr_constructor(args):
    value, prefixlen, family = args
    net = make_net(value, prefixlen, family)
    expected = netaddr.IPNetwork((value, prefixlen), family.version)
    assert type(net) is netaddr.IPNetwork
    assert net == expected
    assert net.prefixlen == prefixlen
    assert net.version == family.version
    assert int(net.ip) == value
    assert str(net) == str(expected)
    assert net.first == expected.first
    assert net.last == expected.last


@given(_net_args)
def test_make_net_any_value_fresh_each_call(args):
    value, prefixlen, family = args
    first, second = make_net(value, prefixlen, family), make_net(value, prefixlen, family)
    assert first is not second
    first.prefixlen = 0 if prefixlen else 1
    assert second.prefixlen == prefixlen


@given(_net_args)
def test_make_net_any_value_round_trips_through_parse_cidr(args):
    value, prefixlen, family = args
    host = (1 << (family.width - prefixlen)) - 1
    network = value & ~host
    if family is V6 and network >> 32 == 0xFFFF:
        return  # an IPv4-mapped network is refused by design
    assert parse_cidr(make_net(network, prefixlen, family)) == (network, prefixlen, family)


def _reference_parse(text: str) -> tuple[int, IPFamily] | None:
    """The pure-Python parse, without the inet_pton fast paths."""
    from dualstack.families import _sloppy_ipv4, _sloppy_ipv6

    v4 = _sloppy_ipv4(text)
    if v4 is not None:
        return v4, IPFamily.IPv4
    if ":" not in text or "%" in text or not text.isascii():
        return None
    return _sloppy_ipv6(text)


def _spellings(ip: object) -> list[str]:
    text = str(ip)
    out = [text, text.upper()]
    if ":" in text:
        out.append(ipaddress.IPv6Address(text).exploded)
    else:
        out.append(".".join(f"{int(p):03d}" for p in text.split(".")))
    return out


@given(
    st.one_of(
        st.ip_addresses().flatmap(lambda ip: st.sampled_from(_spellings(ip))),
        st.text(alphabet="0123456789abcdefABCDEF:.%\x00 ", max_size=45),
        st.builds(lambda v: f"::ffff:{v}", st.ip_addresses(v=4).map(str)),
    )
)
def test_parse_ip_text_fast_paths_agree_with_the_reference_parse(text: str) -> None:
    from dualstack.families import _parse_ip_text

    assert _parse_ip_text(text) == _reference_parse(text)

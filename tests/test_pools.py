"""Tests for dualstack.pools: CIDRPool as an immutable, hashable, ordered value."""

from __future__ import annotations

import copy
import ipaddress
import itertools
import pickle

import netaddr
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dualstack.errors import InvalidAddressError
from dualstack.families import IPFamily
from dualstack.pools import CIDRPool

V4, V6 = IPFamily.IPv4, IPFamily.IPv6


@st.composite
def pools(draw: st.DrawFn) -> CIDRPool:
    """Any CIDRPool, built from text with random host bits."""
    if draw(st.booleans()):
        value = draw(st.integers(0, 2**32 - 1))
        prefixlen = draw(st.integers(0, 32))
        return CIDRPool(f"{ipaddress.IPv4Address(value)}/{prefixlen}")
    value = draw(st.integers(0, 2**128 - 1).filter(lambda v: v >> 32 != 0xFFFF))
    prefixlen = draw(st.integers(0, 128))
    return CIDRPool(f"{ipaddress.IPv6Address(value)}/{prefixlen}")


# --- construction and views ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "cidr", "prefixlen", "family", "size"),
    [
        ("10.96.0.0/12", "10.96.0.0/12", 12, V4, 2**20),
        ("10.96.0.5/12", "10.96.0.0/12", 12, V4, 2**20),
        ("010.096.000.000/12", "10.96.0.0/12", 12, V4, 2**20),
        ("0.0.0.0/0", "0.0.0.0/0", 0, V4, 2**32),
        ("1.2.3.4/32", "1.2.3.4/32", 32, V4, 1),
        ("fd00:10:96::/108", "fd00:10:96::/108", 108, V6, 2**20),
        ("FD00:10:96:0::1/64", "fd00:10:96::/64", 64, V6, 2**64),
        ("::/0", "::/0", 0, V6, 2**128),
        ("::1/128", "::1/128", 128, V6, 1),
    ],
    ids=[
        "v4",
        "v4-host-bits",
        "v4-leading-zeros",
        "v4-all",
        "v4-host",
        "v6",
        "v6-host-bits-upper",
        "v6-all",
        "v6-host",
    ],
)
def test_cidr_pool_text_gives_canonical_views(text, cidr, prefixlen, family, size):
    pool = CIDRPool(text)
    assert pool.cidr == cidr
    assert str(pool) == cidr
    assert pool.prefixlen == prefixlen
    assert pool.family is family
    assert pool.size == size
    assert pool.host_bits == family.width - prefixlen
    assert pool.last - pool.first + 1 == size


def test_cidr_pool_ipv6_slash_zero_size_exact():
    pool = CIDRPool("::/0")
    assert pool.size == 340282366920938463463374607431768211456
    assert type(pool.size) is int


def test_cidr_pool_network_is_fresh_netaddr_address():
    pool = CIDRPool("10.96.0.5/12")
    first, second = pool.network, pool.network
    assert type(first) is netaddr.IPAddress
    assert first == netaddr.IPAddress("10.96.0.0")
    assert first is not second
    first.value = 1
    assert pool.network == netaddr.IPAddress("10.96.0.0")


def test_cidr_pool_to_netaddr_is_fresh_network():
    pool = CIDRPool("fd00::/64")
    net = pool.to_netaddr()
    assert net == netaddr.IPNetwork("fd00::/64")
    net.prefixlen = 8
    assert pool.to_netaddr().prefixlen == 64


@pytest.mark.parametrize(
    "source",
    [netaddr.IPNetwork("10.96.0.5/12"), CIDRPool("10.96.0.0/12")],
    ids=["netaddr", "pool"],
)
def test_cidr_pool_from_object_equals_from_text(source):
    assert CIDRPool(source) == CIDRPool("10.96.0.0/12")


def test_cidr_pool_from_netaddr_not_tied_to_mutable_source():
    net = netaddr.IPNetwork("10.0.0.0/8")
    pool = CIDRPool(net)
    net.prefixlen = 16
    assert pool.cidr == "10.0.0.0/8"


@pytest.mark.parametrize(
    "text",
    ["", "10.0.0.0", "10.0.0.0/33", "::ffff:10.0.0.0/104", "nope/8", "fd00::/129"],
    ids=["empty", "no-prefix", "v4-too-long", "mapped", "word", "v6-too-long"],
)
def test_cidr_pool_invalid_text_raises_invalid_address_error(text):
    with pytest.raises(InvalidAddressError, match="invalid CIDR address"):
        CIDRPool(text)


@pytest.mark.parametrize(
    ("first", "prefixlen", "family", "cidr"),
    [
        (0x0A600005, 12, V4, "10.96.0.0/12"),
        (0, 0, V6, "::/0"),
        (2**128 - 1, 128, V6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"),
    ],
    ids=["v4-host-bits", "v6-all", "v6-max"],
)
def test_cidr_pool_from_ints_clears_host_bits(first, prefixlen, family, cidr):
    assert CIDRPool.from_ints(first, prefixlen, family).cidr == cidr


@pytest.mark.parametrize(
    ("first", "prefixlen", "family"),
    [(0, 33, V4), (0, -1, V4), (2**32, 8, V4), (-1, 8, V4), (0, 129, V6)],
    ids=["v4-prefix", "negative-prefix", "v4-value", "negative-value", "v6-prefix"],
)
def test_cidr_pool_from_ints_out_of_range_raises_value_error(first, prefixlen, family):
    with pytest.raises(ValueError):
        CIDRPool.from_ints(first, prefixlen, family)


# --- immutability ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["_first", "_prefixlen", "_family", "cidr", "other"])
def test_cidr_pool_setattr_refused(name):
    pool = CIDRPool("10.0.0.0/8")
    with pytest.raises(AttributeError, match="immutable"):
        setattr(pool, name, 1)
    assert pool.cidr == "10.0.0.0/8"


def test_cidr_pool_delattr_refused():
    pool = CIDRPool("10.0.0.0/8")
    with pytest.raises(AttributeError, match="immutable"):
        del pool._first
    assert pool.first == 0x0A000000


def test_cidr_pool_has_no_instance_dict():
    assert not hasattr(CIDRPool("10.0.0.0/8"), "__dict__")


# --- membership ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pool", "item", "expected"),
    [
        ("10.96.0.0/12", "10.96.0.0", True),
        ("10.96.0.0/12", "10.111.255.255", True),
        ("10.96.0.0/12", "10.112.0.0", False),
        ("10.96.0.0/12", "010.096.0.1", True),
        ("10.96.0.0/12", "::ffff:10.96.0.1", True),
        ("10.96.0.0/12", netaddr.IPAddress("10.100.0.1"), True),
        ("10.96.0.0/12", netaddr.IPAddress("::ffff:10.100.0.1"), True),
        ("10.96.0.0/12", "fd00::1", False),
        ("fd00::/64", "fd00::ffff:ffff", True),
        ("fd00::/64", "fd00:0:0:1::", False),
        ("fd00::/64", "10.0.0.1", False),
        ("::/0", "::ffff:10.0.0.1", False),
        ("0.0.0.0/0", "::ffff:10.0.0.1", True),
        ("10.96.0.0/12", CIDRPool("10.96.1.0/24"), True),
        ("10.96.0.0/12", CIDRPool("10.96.0.0/12"), True),
        ("10.96.0.0/12", CIDRPool("10.0.0.0/8"), False),
        ("10.96.0.0/12", CIDRPool("fd00::/64"), False),
        ("10.96.0.0/12", netaddr.IPNetwork("10.97.0.0/16"), True),
        ("10.96.0.0/12", netaddr.IPNetwork("10.0.0.0/8"), False),
    ],
    ids=[
        "network",
        "last",
        "past-last",
        "leading-zeros",
        "mapped-text",
        "netaddr",
        "mapped-netaddr",
        "other-family",
        "v6-inside",
        "v6-outside",
        "v4-in-v6-pool",
        "mapped-not-in-v6-all",
        "mapped-in-v4-all",
        "sub-pool",
        "same-pool",
        "super-pool",
        "other-family-pool",
        "sub-netaddr-net",
        "super-netaddr-net",
    ],
)
def test_cidr_pool_contains_item_as_kubernetes(pool, item, expected):
    assert (item in CIDRPool(pool)) is expected


def test_cidr_pool_contains_invalid_ip_raises_invalid_address_error():
    with pytest.raises(InvalidAddressError):
        "nope" in CIDRPool("10.0.0.0/8")  # noqa: B015


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("10.0.0.0/8", "10.1.0.0/16", True),
        ("10.1.0.0/16", "10.0.0.0/8", True),
        ("10.0.0.0/16", "10.1.0.0/16", False),
        ("10.0.0.0/8", "fd00::/8", False),
        ("::/0", "fd00::/64", True),
    ],
    ids=["contains", "inside", "disjoint", "families", "v6-all"],
)
def test_cidr_pool_overlaps_symmetric(a, b, expected):
    assert CIDRPool(a).overlaps(CIDRPool(b)) is expected
    assert CIDRPool(b).overlaps(CIDRPool(a)) is expected


@given(pools(), st.integers(min_value=0))
def test_cidr_pool_any_address_contained_iff_python_says_so(pool, raw):
    value = raw % (pool.family.max_int + 1)
    net = ipaddress.ip_network(pool.cidr)
    address: ipaddress.IPv4Address | ipaddress.IPv6Address
    if pool.family is V4:
        address = ipaddress.IPv4Address(value)
    else:
        address = ipaddress.IPv6Address(value)
        if value >> 32 == 0xFFFF:
            return  # an IPv4-mapped address is IPv4 (Kubernetes), never in an IPv6 pool
    assert (str(address) in pool) is (address in net)
    assert pool.contains_int(value, pool.family) is (address in net)


# --- value semantics ---------------------------------------------------------------------------


def test_cidr_pool_equal_values_hash_equal_and_dedupe_in_set():
    a, b = CIDRPool("10.96.0.5/12"), CIDRPool("10.96.0.0/12")
    assert a == b
    assert hash(a) == hash(b)
    assert {a, b} == {a}
    assert {a: 1}[b] == 1


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("10.0.0.0/8", "10.0.0.0/16"),
        ("10.0.0.0/8", "11.0.0.0/8"),
        ("0.0.0.0/0", "::/0"),
        ("0.0.0.1/32", "::1/128"),
    ],
    ids=["prefix", "network", "family-all", "family-same-int"],
)
def test_cidr_pool_different_values_unequal(a, b):
    assert CIDRPool(a) != CIDRPool(b)


def test_cidr_pool_not_equal_to_text_or_netaddr():
    pool = CIDRPool("10.0.0.0/8")
    assert pool != "10.0.0.0/8"
    assert pool != netaddr.IPNetwork("10.0.0.0/8")
    assert pool.__eq__("10.0.0.0/8") is NotImplemented


def test_cidr_pool_order_ipv4_first_then_network_then_prefix():
    texts = ["fd00::/8", "10.0.0.0/16", "::/0", "10.0.0.0/8", "9.0.0.0/8", "255.0.0.0/8"]
    assert [p.cidr for p in sorted(CIDRPool(t) for t in texts)] == [
        "9.0.0.0/8",
        "10.0.0.0/8",
        "10.0.0.0/16",
        "255.0.0.0/8",
        "::/0",
        "fd00::/8",
    ]


@pytest.mark.parametrize("op", ["__lt__", "__le__", "__gt__", "__ge__"])
def test_cidr_pool_compare_with_other_type_not_implemented(op):
    assert getattr(CIDRPool("10.0.0.0/8"), op)("10.0.0.0/8") is NotImplemented


def test_cidr_pool_compare_with_text_raises_type_error():
    with pytest.raises(TypeError):
        CIDRPool("10.0.0.0/8") < "10.0.0.0/8"  # type: ignore[operator]  # noqa: B015


@pytest.mark.parametrize(
    "text", ["10.96.0.0/12", "fd00:10:96::/108", "::/0", "0.0.0.0/0", "1.2.3.4/32"]
)
def test_cidr_pool_repr_rebuilds_equal_value(text):
    pool = CIDRPool(text)
    assert repr(pool) == f"CIDRPool({text!r})"
    assert eval(repr(pool), {"CIDRPool": CIDRPool}) == pool


def test_cidr_pool_pickle_and_copy_round_trip():
    pool = CIDRPool("fd00:10:96::/108")
    assert pickle.loads(pickle.dumps(pool)) == pool
    assert copy.copy(pool) == pool
    assert copy.deepcopy(pool) == pool


@given(pools())
def test_cidr_pool_any_repr_round_trips(pool):
    rebuilt = eval(repr(pool), {"CIDRPool": CIDRPool})
    assert rebuilt == pool
    assert hash(rebuilt) == hash(pool)
    assert rebuilt.cidr == pool.cidr


@given(pools())
def test_cidr_pool_any_matches_python_network(pool):
    net = ipaddress.ip_network(pool.cidr)
    assert pool.size == net.num_addresses
    assert pool.first == int(net.network_address)
    assert pool.last == int(net.broadcast_address)
    assert pool.prefixlen == net.prefixlen
    assert pool.cidr == str(net)
    assert pool.family.version == net.version


@given(pools())
def test_cidr_pool_any_host_bits_cleared(pool):
    assert pool.first & (pool.size - 1) == 0
    assert CIDRPool(pool.cidr) == pool
    assert CIDRPool(pool.to_netaddr()) == pool


@given(pools(), pools())
def test_cidr_pool_any_two_order_consistent_with_equality_and_hash(a, b):
    assert (a == b) == (not a < b and not b < a)
    assert (a <= b) == (a < b or a == b)
    assert (a >= b) == (b <= a)
    assert (a > b) == (b < a)
    if a == b:
        assert hash(a) == hash(b)
    if a.family is V4 and b.family is V6:
        assert a < b


@given(pools(), pools())
def test_cidr_pool_any_two_overlap_iff_one_contains_other(a, b):
    assert a.overlaps(b) == (a in b or b in a)


@given(st.lists(pools(), max_size=8))
def test_cidr_pool_any_list_sorted_is_total_order(items):
    ordered = sorted(items)
    assert all(x <= y for x, y in itertools.pairwise(ordered))
    backwards = list(reversed(items))
    assert sorted(backwards) == ordered  # the order does not depend on input order

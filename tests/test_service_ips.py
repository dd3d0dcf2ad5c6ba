"""ServiceIPAllocator and RangeAllocation against service-ips.md §1 (every release)."""

from __future__ import annotations

import random
import re

import netaddr
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dualstack.bitmap import AllocationBitmap, RandomScan
from dualstack.errors import (
    AlreadyAllocatedError,
    ConfigError,
    DualStackError,
    InvalidAddressError,
    MismatchedNetworkError,
    NotInRangeError,
    RangeFullError,
)
from dualstack.families import IPFamily
from dualstack.service_ips import (
    MAX_ENCODED_SIZE,
    RangeAllocation,
    ServiceIPAllocator,
    range_offset,
    range_size,
)

FULL = "range is full"
ALLOCATED = "provided IP is already allocated"
MISMATCHED = "the provided network does not match the current range"


def short_text(cidr: str) -> str:
    return f"provided IP is not in the valid range. The range of valid IPs is {cidr}"


def long_text(ip: str, cidr: str) -> str:
    return f"the provided IP ({ip}) is not in the valid range. The range of valid IPs is {cidr}"


def fill(a: ServiceIPAllocator) -> list[netaddr.IPAddress]:
    return [a.allocate_next() for _ in range(a.size)]


# --- §1.2 RangeSize ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("host_bits", "family", "expected"),
    [
        (0, IPFamily.IPv4, 1),
        (8, IPFamily.IPv4, 256),
        (30, IPFamily.IPv4, 1 << 30),
        (31, IPFamily.IPv4, 0),
        (32, IPFamily.IPv4, 0),
        (62, IPFamily.IPv6, 1 << 62),
        (63, IPFamily.IPv6, (1 << 63) - 1),
        (126, IPFamily.IPv6, (1 << 63) - 1),
        (127, IPFamily.IPv6, 0),
    ],
    ids=["v4/32", "v4/24", "v4/2", "v4/1", "v4/0", "v6/66", "v6/65", "v6/2", "v6/1"],
)
def test_range_size_table_matches_kubernetes_utils(host_bits, family, expected):
    assert range_size(host_bits, family) == expected


# --- §1.3 usable range and edge prefixes ----------------------------------------------------
EDGE_CASES = [
    # cidr, usable count, first usable, last usable (bitmap releases)
    ("10.0.0.0/32", 0, None, None),
    ("10.0.0.0/31", 0, None, None),
    ("192.168.1.240/30", 2, "192.168.1.241", "192.168.1.242"),
    ("10.0.0.0/29", 6, "10.0.0.1", "10.0.0.6"),
    ("10.0.0.0/15", 131070, "10.0.0.1", "10.1.255.254"),
    ("fd00::/128", 0, None, None),
    ("fd00::/127", 1, "fd00::1", "fd00::1"),
    ("fd00::/126", 3, "fd00::1", "fd00::3"),
    ("fd00::/124", 15, "fd00::1", "fd00::f"),
    ("fd00::/112", 65535, "fd00::1", "fd00::ffff"),
    ("fd00:10:96::/108", 65535, "fd00:10:96::1", "fd00:10:96::ffff"),
    ("2001:db8:1::/48", 65535, "2001:db8:1::1", "2001:db8:1::ffff"),
    ("0.0.0.0/0", 0, None, None),
    ("0.0.0.0/1", 0, None, None),
    ("::/0", 0, None, None),
    ("::/1", 0, None, None),
]


@pytest.mark.parametrize(
    ("cidr", "count", "first", "last"), EDGE_CASES, ids=[c[0] for c in EDGE_CASES]
)
def test_usable_range_bitmap_release_matches_spec_table(cidr, count, first, last):
    a = ServiceIPAllocator(cidr, version="1.32")
    assert a.size == count
    assert a.free == count
    if count == 0:
        with pytest.raises(RangeFullError, match=f"^{FULL}"):
            a.allocate_next()
        return
    assert a.allocate(first) == netaddr.IPAddress(first)
    if last != first:
        assert a.allocate(last) == netaddr.IPAddress(last)
    past = int(netaddr.IPAddress(last)) + 1
    with pytest.raises(NotInRangeError):
        a.allocate(netaddr.IPAddress(past, 6 if ":" in cidr else 4))


@pytest.mark.parametrize(
    ("cidr", "count"),
    [
        ("10.0.0.0/32", 0),
        ("10.0.0.0/31", 0),
        ("10.0.0.0/30", 2),
        ("0.0.0.0/0", (1 << 32) - 2),
        ("fd00::/128", 0),
        ("fd00::/127", 1),
        ("2001:db8:1::/116", 4095),
        ("fd00::/108", (1 << 20) - 1),
        ("fd00::/64", (1 << 64) - 1),
    ],
    ids=["v4/32", "v4/31", "v4/30", "v4/0", "v6/128", "v6/127", "v6/116", "v6/108", "v6/64"],
)
def test_usable_size_multicidr_release_uses_whole_prefix(cidr, count):
    assert ServiceIPAllocator(cidr, version="1.34").size == count


def test_ipv6_window_past_0xffff_not_in_range_before_1_34():
    a = ServiceIPAllocator("2001:db8:1::/48", version="1.32")
    with pytest.raises(NotInRangeError) as err:
        a.allocate("2001:db8:1::1:0")
    assert str(err.value).startswith(long_text("2001:db8:1::1:0", "2001:db8:1::/48"))


def test_ipv6_window_gone_from_1_34_address_past_window_allocates():
    a = ServiceIPAllocator("fd00::/64", version="1.34")
    assert a.allocate("fd00::1:0") == netaddr.IPAddress("fd00::1:0")
    assert a.allocate("fd00::ffff:ffff:ffff:ffff") in a


def test_ipv6_last_address_of_112_is_usable():
    a = ServiceIPAllocator("fd00::/112", version="1.20")
    assert a.allocate("fd00::ffff") == netaddr.IPAddress("fd00::ffff")


# --- §1.14 ranges a release cannot serve -----------------------------------------------------
@pytest.mark.parametrize("version", ["1.33", "1.34", None])
def test_ipv6_prefix_shorter_than_64_from_1_33_raises_config_error(version):
    with pytest.raises(ConfigError) as err:
        ServiceIPAllocator("fd00::/48", version=version)
    assert str(err.value).startswith(
        "shortest allowed prefix length for service CIDR is 64, got 48"
    )


def test_ipv6_prefix_shorter_than_64_before_1_33_is_served_with_window():
    assert ServiceIPAllocator("fd00::/48", version="1.32").size == 65535


def test_unparsable_cidr_raises_invalid_address_quoting_input():
    with pytest.raises(InvalidAddressError, match=re.escape("10.96.0.0/33")) as err:
        ServiceIPAllocator("10.96.0.0/33")
    assert isinstance(err.value, ValueError)


def test_unparsable_ip_raises_invalid_address_quoting_input():
    a = ServiceIPAllocator("10.96.0.0/24")
    for call in (a.allocate, a.release, a.__contains__):
        with pytest.raises(InvalidAddressError, match=re.escape("10.96.0.300")):
            call("10.96.0.300")


class _Named(netaddr.IPAddress):
    """A subclass, as an application might define one."""

    __slots__ = ()


class _PairState:
    """Not an address, though its state is a pair (attributes ``a`` and ``b``)."""

    def __init__(self) -> None:
        self.a = 174_063_617
        self.b = 4


@pytest.mark.parametrize(
    "thing",
    [
        pytest.param(netaddr.IPNetwork("10.96.0.5/32"), id="ipnetwork"),
        pytest.param(174_063_621, id="int"),
        pytest.param(("10.96.0.5", 4), id="tuple"),
        pytest.param(None, id="none"),
        pytest.param(_PairState(), id="object-with-two-attributes"),
    ],
)
def test_non_address_objects_raise_invalid_address_and_change_nothing(thing):
    a = ServiceIPAllocator("10.96.0.0/24", rng=random.Random(1))
    a.allocate("10.96.0.5")
    before = a.snapshot()
    for call in (a.allocate, a.release, a.__contains__):
        with pytest.raises(InvalidAddressError):
            call(thing)
    assert a.snapshot() == before


def test_ipaddress_subclass_is_served_like_ipaddress():
    a = ServiceIPAllocator("10.96.0.0/24")
    ip = _Named("10.96.0.9")
    got = a.allocate(ip)
    assert type(got) is netaddr.IPAddress and got == ip and got is not ip
    assert ip in a and netaddr.IPAddress("10.96.0.9") in a
    with pytest.raises(AlreadyAllocatedError):
        a.allocate(_Named("10.96.0.9"))
    a.release(ip)
    assert ip not in a and a.used == 0


def test_allocate_returns_a_fresh_ipaddress_not_the_callers_object():
    a = ServiceIPAllocator("fd00:10:96::/112")
    ip = netaddr.IPAddress("fd00:10:96::7")
    got = a.allocate(ip)
    assert type(got) is netaddr.IPAddress and got == ip and got is not ip
    ip.value += 1  # netaddr objects change in place: neither the result nor the state
    assert str(got) == "fd00:10:96::7" and got in a and ip not in a and a.used == 1


@pytest.mark.parametrize(
    "given, want",
    [
        pytest.param("10.96.0.7", "10.96.0.7", id="text"),
        pytest.param(netaddr.IPAddress("::ffff:10.96.0.7"), "10.96.0.7", id="ipv4-mapped"),
    ],
)
def test_allocate_of_text_or_mapped_address_returns_a_new_ipv4_address(given, want):
    a = ServiceIPAllocator("10.96.0.0/24")
    got = a.allocate(given)
    assert type(got) is netaddr.IPAddress and got.version == 4 and str(got) == want


def test_host_bits_cleared_and_leading_zeros_read_as_decimal():
    a = ServiceIPAllocator("010.096.0.5/16")
    assert a.pool.cidr == "10.96.0.0/16"
    assert a.family is IPFamily.IPv4


# --- §1.5 static band --------------------------------------------------------------------------
BAND_TABLE = [
    # cidr, usable, static band size, first dynamic IP
    ("10.96.0.0/28", 14, 0, "10.96.0.1"),
    ("10.96.0.0/27", 30, 16, "10.96.0.17"),
    ("10.96.0.0/26", 62, 16, "10.96.0.17"),
    ("10.96.0.0/25", 126, 16, "10.96.0.17"),
    ("10.96.0.0/24", 254, 16, "10.96.0.17"),
    ("10.96.0.0/23", 510, 32, "10.96.0.33"),
    ("10.96.0.0/22", 1022, 64, "10.96.0.65"),
    ("10.96.0.0/21", 2046, 128, "10.96.0.129"),
    ("10.96.0.0/20", 4094, 256, "10.96.1.1"),
    ("10.96.0.0/16", 65534, 256, "10.96.1.1"),
    ("10.96.0.0/12", 1048574, 256, "10.96.1.1"),
    ("fd00::/124", 15, 0, "fd00::1"),
    ("fd00::/123", 31, 16, "fd00::11"),
    ("fd00::/122", 63, 16, "fd00::11"),
    ("fd00::/120", 255, 16, "fd00::11"),
    ("fd00::/118", 1023, 64, "fd00::41"),
    ("fd00::/116", 4095, 256, "fd00::101"),
    ("fd00::/112", 65535, 256, "fd00::101"),
    ("fd00::/108", 65535, 256, "fd00::101"),
    ("fd00::/64", 65535, 256, "fd00::101"),
]


@pytest.mark.parametrize(
    ("cidr", "usable", "static", "first_dynamic"), BAND_TABLE, ids=[b[0] for b in BAND_TABLE]
)
def test_static_band_table_matches_spec_1_5(cidr, usable, static, first_dynamic):
    a = ServiceIPAllocator(cidr, version="1.33")
    assert (a.size, a.static_size) == (usable, static)
    assert a.first + static == int(netaddr.IPAddress(first_dynamic))


@pytest.mark.parametrize(
    ("prefix", "family", "offset"),
    [
        (32, IPFamily.IPv4, 0),
        (30, IPFamily.IPv4, 0),
        (28, IPFamily.IPv4, 0),
        (27, IPFamily.IPv4, 16),
        (22, IPFamily.IPv4, 64),
        (8, IPFamily.IPv4, 256),
        (128, IPFamily.IPv6, 0),
        (126, IPFamily.IPv6, 0),
        (124, IPFamily.IPv6, 0),
        (122, IPFamily.IPv6, 16),
        (118, IPFamily.IPv6, 64),
        (12, IPFamily.IPv6, 256),
    ],
    ids=lambda v: str(v),
)
def test_range_offset_matches_upstream_Test_calculateRangeOffset(prefix, family, offset):
    assert range_offset(family.width - prefix, family) == offset


@pytest.mark.parametrize(
    ("version", "static_subrange", "expected"),
    [
        ("1.16", None, 0),
        ("1.24", None, 0),
        ("1.24", True, 256),
        ("1.25", None, 256),
        ("1.37", None, 256),
        ("1.37", False, 0),
    ],
    ids=["1.16", "1.24-default", "1.24-gate-on", "1.25", "1.37", "1.37-gate-off"],
)
def test_static_band_follows_release_default_and_gate(version, static_subrange, expected):
    a = ServiceIPAllocator("10.96.0.0/16", version=version, static_subrange=static_subrange)
    assert a.static_size == expected


@pytest.mark.parametrize("cidr", ["10.96.0.0/27", "fd00::/123", "10.96.0.0/24"])
def test_allocate_next_fills_dynamic_band_before_static(cidr):
    # upstream TestAllocateMax_BitmapReserved
    a = ServiceIPAllocator(cidr, rng=random.Random(3))
    dynamic = a.size - a.static_size
    first_static = a.first
    ips = fill(a)
    assert all(int(ip) >= first_static + a.static_size for ip in ips[:dynamic])
    assert all(int(ip) < first_static + a.static_size for ip in ips[dynamic:])
    assert len(set(ips)) == a.size == a.used
    with pytest.raises(RangeFullError):
        a.allocate_next()


def test_static_allocation_allowed_in_either_band():
    # upstream TestAllocateReserved
    a = ServiceIPAllocator("10.96.0.0/24")
    a.allocate("10.96.0.1")
    a.allocate("10.96.0.200")
    assert a.used == 2


def test_kubernetes_service_ip_is_first_usable_inside_static_band():
    a = ServiceIPAllocator("10.96.0.0/12")
    assert a.allocate("10.96.0.1") == netaddr.IPAddress("10.96.0.1")
    assert int(netaddr.IPAddress("10.96.0.1")) - a.first < a.static_size


# --- §1.6-§1.8 operations -----------------------------------------------------------------
def test_allocate_next_single_free_address_is_returned():
    # upstream TestAllocate: release X, then AllocateNext returns X
    a = ServiceIPAllocator("192.168.1.0/24", rng=random.Random(0))
    fill(a)
    a.release("192.168.1.5")
    assert a.allocate_next() == netaddr.IPAddress("192.168.1.5")


def test_allocate_next_same_seed_same_sequence():
    one = ServiceIPAllocator("10.96.0.0/20", rng=random.Random(42))
    two = ServiceIPAllocator("10.96.0.0/20", rng=random.Random(42))
    assert [one.allocate_next() for _ in range(500)] == [two.allocate_next() for _ in range(500)]


@given(
    st.sampled_from(
        [
            "10.96.0.0/28",
            "10.96.0.0/25",
            "10.96.0.0/24",
            "10.96.0.0/21",
            "fd00::/118",
            "10.0.0.0/31",
        ]
    ),
    st.booleans(),
    st.integers(0, 2**32),
    st.lists(st.integers(0, 2**11), max_size=40),
)
def test_allocate_next_inline_scan_equals_bitmap_random_scan_through_full(
    cidr, static, seed, releases
):
    # allocate_next runs RandomScan inline (taken start, summary find, wrap-around,
    # static band); the bitmap's RandomScan.next + allocate is the reference.
    rng, ref_rng = random.Random(seed), random.Random(seed)
    a = ServiceIPAllocator(cidr, rng=rng, static_subrange=static)
    ref = AllocationBitmap(a.size, RandomScan(a.static_size, ref_rng))
    pending = list(releases)
    for step in range(a.size + len(pending)):
        if pending and step % 3 == 2:
            offset = pending.pop() % a.size
            ref.release(offset)
            a.release_int(a.first + offset)
        expected = ref.strategy.next(ref)
        if expected < 0:
            break
        ref.allocate(expected)
        assert int(a.allocate_next()) == a.first + expected
        assert a.used == ref.count
    assert list(a.iter_ints()) == [a.first + o for o in ref]
    assert rng.getstate() == ref_rng.getstate()


def test_allocate_next_returns_fresh_ipaddress_objects():
    a = ServiceIPAllocator("10.96.0.0/24", rng=random.Random(1))
    ip = a.allocate_next()
    assert type(ip) is netaddr.IPAddress and ip.version == 4
    ip += 1  # mutating the caller's object never touches the allocator
    assert a.used == 1


def test_release_not_allocated_or_out_of_range_is_noop():
    a = ServiceIPAllocator("10.96.0.0/24")
    a.allocate("10.96.0.10")
    for ip in ("10.96.0.11", "10.96.0.0", "10.96.0.255", "1.1.1.1", "fd00::1"):
        a.release(ip)
    a.release("10.96.0.10")
    a.release("10.96.0.10")
    assert a.used == 0 and a.free == 254


def test_membership_false_outside_range_and_for_other_family():
    a = ServiceIPAllocator("10.96.0.0/24")
    a.allocate("10.96.0.10")
    assert "10.96.0.10" in a
    assert netaddr.IPAddress("10.96.0.10") in a
    assert "10.96.0.11" not in a
    assert "10.96.1.10" not in a
    assert "fd00::1" not in a


def test_ipv4_mapped_ipv6_input_counts_as_ipv4():
    a = ServiceIPAllocator("10.96.0.0/24")
    assert a.allocate("::ffff:10.96.0.7") == netaddr.IPAddress("10.96.0.7")
    assert netaddr.IPAddress("::ffff:10.96.0.7") in a
    a.release(netaddr.IPAddress("::ffff:10.96.0.7"))
    assert a.used == 0


def test_iteration_ascending_fresh_objects():
    a = ServiceIPAllocator("fd00::/120", rng=random.Random(5))
    for _ in range(40):
        a.allocate_next()
    ips = list(a)
    assert ips == sorted(ips) and len(ips) == 40 == len(a)
    assert [int(ip) for ip in ips] == list(a.iter_ints())


def test_int_twins_match_ip_methods():
    a = ServiceIPAllocator("10.96.0.0/24", rng=random.Random(9))
    value = int(netaddr.IPAddress("10.96.0.20"))
    assert a.in_range_int(value) and not a.has_int(value)
    a.allocate_int(value)
    assert a.has_int(value) and "10.96.0.20" in a
    with pytest.raises(AlreadyAllocatedError, match=f"^{ALLOCATED}"):
        a.allocate_int(value)
    with pytest.raises(NotInRangeError):
        a.allocate_int(int(netaddr.IPAddress("10.96.0.255")))
    nxt = a.allocate_next_int()
    assert a.has_int(nxt) and a.in_range_int(nxt)
    assert a.release_int(value) and not a.release_int(value)
    assert a.used == 1


# --- error texts per release (§1.7, §1.12, §1.12a, §1.14) --------------------------------------
NOT_IN_RANGE = [
    # version, cidr, ip, expected message start
    ("1.16", "10.96.0.0/16", "1.1.1.1", short_text("10.96.0.0/16")),
    ("1.22", "10.96.0.0/16", "10.96.0.0", short_text("10.96.0.0/16")),
    ("1.23", "10.96.0.0/16", "1.1.1.1", long_text("1.1.1.1", "10.96.0.0/16")),
    ("1.32", "10.96.0.0/16", "10.96.255.255", long_text("10.96.255.255", "10.96.0.0/16")),
    ("1.32", "10.96.0.0/16", "fd00::1", long_text("fd00::1", "10.96.0.0/16")),
    ("1.32", "fd00::/108", "fd00::1:0", long_text("fd00::1:0", "fd00::/108")),
    ("1.33", "10.96.0.0/16", "1.1.1.1", MISMATCHED),
    ("1.33", "10.96.0.0/16", "10.96.0.0", MISMATCHED),
    ("1.33", "10.96.0.0/16", "10.96.255.255", MISMATCHED),
    ("1.33", "fd00::/108", "fd00::", MISMATCHED),
    ("1.33", "fd00::/108", "fd00::1:0", long_text("fd00::1:0", "fd00::/108")),
    ("1.33", "fd00::/108", "10.96.0.1", MISMATCHED),
    ("1.34", "10.96.0.0/16", "1.1.1.1", MISMATCHED),
    ("1.34", "10.96.0.0/16", "10.96.255.255", MISMATCHED),
    ("1.37", "fd00::/108", "fd00::", MISMATCHED),
]


@pytest.mark.parametrize(
    ("version", "cidr", "ip", "message"),
    NOT_IN_RANGE,
    ids=[f"{v}-{c}-{ip}" for v, c, ip, _ in NOT_IN_RANGE],
)
def test_allocate_not_in_range_text_per_release(version, cidr, ip, message):
    a = ServiceIPAllocator(cidr, version=version)
    with pytest.raises(NotInRangeError) as err:
        a.allocate(ip)
    assert str(err.value).startswith(message)
    assert isinstance(err.value, ValueError)
    assert a.used == 0


def test_allocate_taken_raises_already_allocated_even_when_full():
    a = ServiceIPAllocator("10.96.0.0/29", rng=random.Random(1))
    fill(a)
    with pytest.raises(AlreadyAllocatedError) as err:
        a.allocate("10.96.0.3")
    assert str(err.value).startswith(ALLOCATED)


def test_allocate_next_full_raises_range_full_and_draws_nothing():
    rng = random.Random(7)
    a = ServiceIPAllocator("10.96.0.0/28", rng=rng)
    fill(a)
    state = rng.getstate()
    with pytest.raises(RangeFullError) as err:
        a.allocate_next()
    assert str(err.value).startswith(FULL)
    with pytest.raises(RangeFullError):
        a.allocate_next_int()
    assert rng.getstate() == state
    assert a.used == a.size == 14


def test_failed_allocate_changes_nothing_rng_included():
    rng = random.Random(11)
    a = ServiceIPAllocator("10.96.0.0/24", rng=rng)
    a.allocate("10.96.0.9")
    before = (a.snapshot(), rng.getstate())
    for bad in ("10.96.0.9", "1.1.1.1", "10.96.0.0", "fd00::1"):
        with pytest.raises((AlreadyAllocatedError, NotInRangeError)):
            a.allocate(bad)
    assert (a.snapshot(), rng.getstate()) == before


# --- §1.9 snapshots ---------------------------------------------------------------------------
ENCODING = [
    ("10.0.0.0/24", [], b""),
    ("10.0.0.0/24", ["10.0.0.1"], bytes.fromhex("01")),
    ("10.0.0.0/24", ["10.0.0.10"], bytes.fromhex("0200")),
    ("10.0.0.0/24", ["10.0.0.1", "10.0.0.10"], bytes.fromhex("0201")),
    ("192.168.1.0/24", ["192.168.1.1", "192.168.1.254"], b"\x20" + bytes(30) + b"\x01"),
    ("2001:db8::/112", ["2001:db8::ffff"], b"\x40" + bytes(8191)),
]


@pytest.mark.parametrize(
    ("cidr", "ips", "data"), ENCODING, ids=["empty", "off0", "off9", "off0+9", "off0+253", "v6"]
)
def test_snapshot_encoding_matches_spec_examples(cidr, ips, data):
    a = ServiceIPAllocator(cidr)
    for ip in ips:
        a.allocate(ip)
    snap = a.snapshot()
    assert snap == RangeAllocation(cidr, data)
    b = ServiceIPAllocator.from_snapshot(snap)
    assert [str(ip) for ip in b] == ips


def test_snapshot_base64_examples_of_spec():
    assert RangeAllocation("10.0.0.0/24", bytes.fromhex("0201")).to_dict() == {
        "range": "10.0.0.0/24",
        "data": "AgE=",
    }
    assert RangeAllocation.from_dict({"range": "10.0.0.0/24", "data": "AgA="}).data == b"\x02\x00"
    assert RangeAllocation.from_dict({"range": "10.0.0.0/24"}).data == b""


def test_from_snapshot_128_allocations_upstream_TestNewFromSnapshot():
    a = ServiceIPAllocator("192.168.0.0/24", rng=random.Random(2))
    ips = [a.allocate_next() for _ in range(128)]
    b = ServiceIPAllocator.from_snapshot(a.snapshot())
    assert (b.free, b.used) == (126, 128)
    assert all(ip in b for ip in ips)


def test_restore_other_network_raises_mismatched_upstream_TestSnapshot():
    a = ServiceIPAllocator("192.168.1.0/24")
    a.allocate("192.168.1.5")
    b = ServiceIPAllocator("192.168.2.0/24")
    b.allocate("192.168.2.9")
    for snap in (
        a.snapshot(),
        RangeAllocation("192.168.2.0/25", b""),
        RangeAllocation("fd00::/120"),
    ):
        with pytest.raises(MismatchedNetworkError) as err:
            b.restore(snap)
        assert str(err.value).startswith(MISMATCHED)
    assert [str(ip) for ip in b] == ["192.168.2.9"]


def test_restore_same_network_with_host_bits_accepted():
    a = ServiceIPAllocator("192.168.1.0/24")
    a.restore(RangeAllocation("192.168.1.77/24", b"\x01"))
    assert list(a) == [netaddr.IPAddress("192.168.1.1")]


def test_restore_bits_past_usable_range_refused_state_unchanged():
    a = ServiceIPAllocator("10.0.0.0/24")
    a.allocate("10.0.0.3")
    stray = (1 << 254).to_bytes(32, "big")  # offset 254 = the broadcast address
    with pytest.raises(DualStackError, match="sets offset 254"):
        a.restore(RangeAllocation("10.0.0.0/24", stray))
    with pytest.raises(DualStackError):
        ServiceIPAllocator.from_snapshot(RangeAllocation("10.0.0.0/24", stray))
    assert [str(ip) for ip in a] == ["10.0.0.3"]


def test_restore_keeps_rng_and_scan_band():
    rng = random.Random(4)
    a = ServiceIPAllocator("10.96.0.0/24", rng=rng)
    a.restore(RangeAllocation("10.96.0.0/24", b"\x01"))
    ips = [a.allocate_next() for _ in range(237)]
    assert all(int(ip) >= a.first + 16 for ip in ips)


@pytest.mark.parametrize(
    ("cidr", "version"),
    [("10.0.0.0/7", None), ("0.0.0.0/0", "1.34"), ("fd00::/103", "1.34")],
    ids=["v4/7", "v4/0-1.34", "v6/103-1.34"],
)
def test_snapshot_range_too_large_for_bitmap_raises(cidr, version):
    a = ServiceIPAllocator(cidr, version=version)
    with pytest.raises(DualStackError) as err:
        a.snapshot()
    prefix = f"no RangeAllocation bitmap encodes {a.pool.cidr}: {a.size} usable addresses"
    assert str(err.value).startswith(f"{prefix}, at most {MAX_ENCODED_SIZE}")
    with pytest.raises(DualStackError, match="no RangeAllocation bitmap encodes"):
        a.restore(RangeAllocation(a.pool.cidr, b""))


def test_snapshot_largest_encodable_ranges():
    assert ServiceIPAllocator("10.0.0.0/8").snapshot() == RangeAllocation("10.0.0.0/8")
    assert ServiceIPAllocator("fd00::/104", version="1.34").snapshot().data == b""


def test_copy_is_independent_and_draws_the_same():
    a = ServiceIPAllocator("10.96.0.0/20", rng=random.Random(8))
    a.allocate_next()
    b = a.copy()
    assert [a.allocate_next() for _ in range(20)] == [b.allocate_next() for _ in range(20)]
    b.allocate("10.96.0.1")
    assert "10.96.0.1" not in a


@given(st.integers(0, 2**32 - 1), st.sampled_from(["1.20", "1.30", "1.33", "1.37"]))
def test_membership_agrees_with_allocate_for_any_ipv4(value, version):
    a = ServiceIPAllocator("10.96.0.0/20", version=version)
    ip = netaddr.IPAddress(value, 4)
    try:
        a.allocate(ip)
    except NotInRangeError:
        assert not a.in_range_int(value) and ip not in a
    else:
        assert a.in_range_int(value) and ip in a and a.used == 1


@pytest.mark.parametrize("as_object", [True, False], ids=["netaddr", "text"])
def test_ipv4_mapped_address_in_ipv6_range_is_ipv4_not_in_range(as_object):
    # Up to 1.33 only the 65535 addresses after the network are used, so ::/64 is served.
    a = ServiceIPAllocator("::/64", version="1.33")
    ip = netaddr.IPAddress("::ffff:10.0.0.1") if as_object else "::ffff:10.0.0.1"
    with pytest.raises(NotInRangeError, match=r"^the provided network does not match"):
        a.allocate(ip)
    assert ip not in a
    a.release(ip)
    assert a.used == 0
    assert a.allocate(netaddr.IPAddress("::ffff")) in a  # the last address of the window


@pytest.mark.parametrize("cidr", ["::/64", "::/80", "::fffe:0:0/95"])
def test_whole_ipv6_range_reaching_ipv4_mapped_block_refused(cidr):
    """From 1.34 the whole IPv6 range is usable: one that reaches ::ffff:0:0/96 would
    hand out addresses that read back as IPv4 (and that upstream cannot store as
    IPAddress objects), so it is refused with what to use instead."""
    with pytest.raises(ConfigError, match=r"contains the IPv4-mapped block ::ffff:0:0/96"):
        ServiceIPAllocator(cidr, version="1.34")
    ServiceIPAllocator("::fffe:0:0/96", version="1.34")  # just below the block: served


@pytest.mark.parametrize(
    ("cidr", "version", "allocator", "size"),
    [
        ("fd00::/64", "1.32", "multicidr", 2**64 - 1),
        ("fd00::/108", "1.34", "multicidr-dualwrite", 65535),
        ("fd00::/108", "1.34", "bitmap", 65535),
        ("10.0.0.0/8", "1.33", "multicidr", 2**24 - 2),
    ],
    ids=["1.32-gated-multicidr", "1.34-dualwrite", "1.34-bitmap", "v4-multicidr"],
)
def test_service_allocator_allocator_model_follows_gates(cidr, version, allocator, size):
    assert ServiceIPAllocator(cidr, version=version, allocator=allocator).size == size


def test_service_allocator_bitmap_model_accepts_short_ipv6_prefix_multicidr_refuses():
    assert ServiceIPAllocator("fd00::/48", version="1.34", allocator="bitmap").size == 65535
    with pytest.raises(ConfigError, match="shortest allowed prefix length"):
        ServiceIPAllocator("fd00::/48", version="1.32", allocator="multicidr")


# --- RangeAllocation and the int twins: input that is not what they take -------------------
@pytest.mark.parametrize("data", [513, None, "AgE=", [2, 1]], ids=["int", "none", "text", "list"])
def test_range_allocation_data_not_bytes_refused(data):
    with pytest.raises(DualStackError, match=r"^RangeAllocation data must be bytes"):
        RangeAllocation("10.0.0.0/24", data)


def test_range_allocation_bytearray_data_is_bytes():
    snap = RangeAllocation("10.0.0.0/24", bytearray(b"\x02\x01"))
    assert type(snap.data) is bytes and snap.data == b"\x02\x01"
    a = ServiceIPAllocator.from_snapshot(snap)
    assert [str(ip) for ip in a] == ["10.0.0.1", "10.0.0.10"]


@pytest.mark.parametrize(
    "obj",
    [{"range": "10.0.0.0/24", "data": "AgE"}, {"range": "10.0.0.0/24", "data": "!!!"}],
    ids=["padding", "not-base64"],
)
def test_range_allocation_from_dict_bad_base64_refused(obj):
    with pytest.raises(DualStackError, match=r"^RangeAllocation data is not base64"):
        RangeAllocation.from_dict(obj)


@pytest.mark.parametrize(
    "obj", [{"data": "AgE="}, None, {"range": 5}], ids=["no-range", "none", "int"]
)
def test_range_allocation_from_dict_not_a_range_allocation_refused(obj):
    with pytest.raises(DualStackError, match=r"^not a RangeAllocation"):
        RangeAllocation.from_dict(obj)


def test_restore_not_a_range_allocation_refused_state_unchanged():
    a = ServiceIPAllocator("10.0.0.0/24", rng=random.Random(1))
    a.allocate("10.0.0.1")
    before = a.snapshot()
    with pytest.raises(DualStackError, match=r"^restore needs a RangeAllocation"):
        a.restore({"range": "10.0.0.0/24", "data": ""})  # type: ignore[arg-type]
    assert a.snapshot() == before


@pytest.mark.parametrize(
    ("cidr", "value"),
    [
        ("fd00::/112", -1),
        ("fd00::/112", 2**128 + 5),
        ("10.0.0.0/24", 2**32 + 5),
        ("10.0.0.0/24", -1),
    ],
    ids=["v6-negative", "v6-too-big", "v4-too-big", "v4-negative"],
)
@pytest.mark.parametrize("version", ["1.32", "1.34"])
def test_allocate_int_not_an_address_of_the_family_raises_invalid_address(cidr, value, version):
    a = ServiceIPAllocator(cidr, version=version)
    with pytest.raises(InvalidAddressError, match=rf"^{value} is not an IPv[46] address") as info:
        a.allocate_int(value)
    assert info.value.value == value and a.used == 0


@pytest.mark.parametrize("value", ["x", 5.0, None], ids=["text", "float", "none"])
def test_store_backed_allocate_int_not_an_int_raises_invalid_address(value):
    from dualstack.store import MemoryStore

    a = ServiceIPAllocator("10.0.0.0/24", store=MemoryStore())
    with pytest.raises(InvalidAddressError, match=r"is not an address int"):
        a.allocate_int(value)
    assert a.used == 0


def test_allocate_int_float_refused_sparse_bitmap_unchanged():
    a = ServiceIPAllocator("10.0.0.0/1", version="1.34", rng=random.Random(1))
    with pytest.raises(InvalidAddressError, match=r"is not an address int"):
        a.allocate_int(float(int(netaddr.IPAddress("10.0.0.5"))))  # type: ignore[arg-type]
    assert a.used == 0 and list(a.iter_ints()) == []


def test_from_snapshot_not_a_range_allocation_refused():
    with pytest.raises(DualStackError, match=r"^from_snapshot needs a RangeAllocation"):
        ServiceIPAllocator.from_snapshot({"range": "10.0.0.0/24", "data": ""})  # type: ignore[arg-type]

"""Tests of NodeCIDRAllocator (CIDRSet semantics, node-and-pod-ips.md §1).

Upstream cases are named after the test of
``kubernetes/kubernetes:pkg/controller/nodeipam/ipam/cidrset/cidr_set_test.go`` they
reproduce.
"""

from __future__ import annotations

import ipaddress

import netaddr
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dualstack.errors import (
    ConfigError,
    DualStackError,
    InvalidAddressError,
    NotInRangeError,
    RangeFullError,
)
from dualstack.families import IPFamily
from dualstack.node_cidrs import NodeCIDRAllocator

NO_CIDRS_LEFT = (
    "CIDR allocation failed; there are no remaining CIDRs left to allocate in the accepted range"
)
MASK_V116 = (
    "Controller: Invalid --cluster-cidr, mask size of cluster CIDR must be less than "
    "--node-cidr-mask-size"
)
MASK_CURRENT = (
    "Controller: Invalid --cluster-cidr, mask size of cluster CIDR must be less than or "
    "equal to --node-cidr-mask-size configured for CIDR family"
)
TOO_BIG = "New CIDR set failed; the node CIDR size is too big"


def upstream_text(error: Exception) -> str:
    """The message without the library's hint (everything before " — ")."""
    return str(error).split(" — ")[0]


def state(a: NodeCIDRAllocator) -> tuple[list[str], int, int]:
    return [str(n) for n in a], a.cursor, a.used


# --- construction --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cluster", "mask", "size"),
    [
        ("10.244.0.0/16", 24, 256),
        ("10.0.0.0/8", 24, 65536),
        ("127.0.0.0/8", 32, 16_777_216),
        ("0.0.0.0/0", 32, 4_294_967_296),
        ("fd00::/48", 64, 65536),
        ("a00::/8", 24, 65536),
        ("10.244.0.0/24", 24, 1),
        ("fd00::/64", 64, 1),
    ],
    ids=["v4-16-24", "v4-8-24", "v4-8-32", "v4-0-32", "v6-48-64", "v6-8-24", "v4-one", "v6-one"],
)
def test_node_cidr_allocator_sizes_are_two_to_the_gap(cluster: str, mask: int, size: int) -> None:
    a = NodeCIDRAllocator(cluster, mask)
    assert (a.size, a.free, a.used, len(a)) == (size, size, 0, 0)
    assert a.node_mask_size == mask
    assert a.pool.cidr == cluster
    assert a.family is (IPFamily.IPv6 if ":" in cluster else IPFamily.IPv4)


def test_node_cidr_allocator_host_bits_in_cluster_cidr_are_cleared() -> None:
    a = NodeCIDRAllocator("127.123.3.0/16", 24)
    assert a.pool.cidr == "127.123.0.0/16"
    assert str(a.allocate_next()) == "127.123.0.0/24"


@pytest.mark.parametrize(
    ("cluster", "mask", "version", "message"),
    [
        ("10.0.0.0/8", 33, None, "node mask size 33 is longer than the address (32 bits)"),
        ("fd00::/48", 129, None, "node mask size 129 is longer than the address (128 bits)"),
        ("10.0.0.0/16", 8, None, MASK_CURRENT),
        ("10.0.0.0/16", 8, "1.17", MASK_CURRENT),
        ("10.0.0.0/16", 8, "1.16", MASK_V116),
        ("fd00::/64", 48, None, MASK_CURRENT),
        ("fd00::/48", 24, "1.16", MASK_V116),
        ("fd00::/47", 64, None, TOO_BIG),
        ("beef:1234::/32", 49, None, TOO_BIG),
        ("fc00::/24", 64, "1.16", TOO_BIG),
    ],
    ids=[
        "v4-mask-too-long",
        "v6-mask-too-long",
        "v4-cluster-longer-current",
        "v4-cluster-longer-1.17",
        "v4-cluster-longer-1.16",
        "v6-cluster-longer-current",
        "v6-1.16-single-mask-24-caution",
        "v6-gap-17",
        "upstream-TestCIDRSetv6-max-ipv6",
        "v6-gap-40-1.16",
    ],
)
def test_node_cidr_allocator_bad_masks_raise_config_error(
    cluster: str, mask: int, version: str | None, message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        NodeCIDRAllocator(cluster, mask, version=version)
    assert upstream_text(info.value) == message
    assert info.value.errors[0].startswith(message)


def test_node_cidr_allocator_mask_check_runs_before_gap_check() -> None:
    # §1.7: the controller's check (2) runs before NewCIDRSet's (3); a mask too long
    # for the address (1) before both.
    with pytest.raises(ConfigError) as info:
        NodeCIDRAllocator("fd00::/112", 200)
    assert upstream_text(info.value).startswith("node mask size 200")


def test_node_cidr_allocator_ipv4_has_no_gap_limit() -> None:
    # upstream TestCIDRSetv6 "Max cluster subnet size with IPv4"
    a = NodeCIDRAllocator("127.0.0.0/8", 32)
    assert [str(a.allocate_next()) for _ in range(2)] == ["127.0.0.0/32", "127.0.0.1/32"]


@pytest.mark.parametrize("mask", [-1, 24.0, "24", True], ids=["negative", "float", "str", "bool"])
def test_node_cidr_allocator_mask_not_an_int_raises_config_error(mask: object) -> None:
    with pytest.raises(ConfigError):
        NodeCIDRAllocator("10.0.0.0/8", mask)  # type: ignore[arg-type]


def test_node_cidr_allocator_unparsable_cluster_raises_invalid_address() -> None:
    with pytest.raises(InvalidAddressError, match=r"invalid CIDR address: 10\.256\.0\.0/16"):
        NodeCIDRAllocator("10.256.0.0/16", 24)


def test_node_cidr_allocator_unknown_version_raises_config_error() -> None:
    with pytest.raises(ConfigError):
        NodeCIDRAllocator("10.0.0.0/8", 24, version="1.15")


def test_node_cidr_allocator_bare_set_with_shorter_node_mask_has_no_blocks() -> None:
    # §1.1 step 4: without the controller's check, N < C gives max = 0.
    a = NodeCIDRAllocator._bare_cidr_set("10.0.0.0/16", 8)
    assert a.size == 0
    with pytest.raises(RangeFullError) as info:
        a.allocate_next()
    assert info.value.message == NO_CIDRS_LEFT
    a.occupy("10.0.0.0/16")  # P <= C: a no-op
    a.occupy("0.0.0.0/0")
    assert a.used == 0
    with pytest.raises(NotInRangeError) as err:
        a.occupy("10.0.1.0/24")
    assert err.value.message == "CIDR: 10.0.0.0/8 is out of the range of CIDR allocator"
    assert a.cursor == 0


# --- index <-> block -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("cluster", "mask", "index", "block"),
    [
        ("127.123.3.0/16", 24, 0, "127.123.0.0/24"),
        ("127.123.0.0/16", 24, 15, "127.123.15.0/24"),
        ("192.168.5.219/28", 32, 5, "192.168.5.213/32"),
        ("2001:0db8:1234:3::/48", 64, 0, "2001:db8:1234::/64"),
        ("2001:0db8:1234::/48", 64, 15, "2001:db8:1234:f::/64"),
        ("2001:0db8:85a3::8a2e:0370:7334/50", 63, 6425, "2001:db8:85a3:3232::/63"),
        ("2001:0db8::/32", 48, 0, "2001:db8::/48"),
        ("2001:0db8::/32", 48, 15, "2001:db8:f::/48"),
        ("2001:0db8:85a3::8a2e:0370:7334/32", 48, 6425, "2001:db8:1919::/48"),
        ("2001:0db8:1234:ff00::/56", 72, 0, "2001:db8:1234:ff00::/72"),
        ("2001:0db8:1234:ff00::/56", 72, 15, "2001:db8:1234:ff00:f00::/72"),
        ("2001:0db8:1234:ff00::0370:7334/56", 72, 6425, "2001:db8:1234:ff19:1900::/72"),
        ("2001:0db8:1234:0:1234::/80", 96, 0, "2001:db8:1234:0:1234::/96"),
        ("2001:0db8:1234:0:1234::/80", 96, 15, "2001:db8:1234:0:1234:f::/96"),
        ("2001:0db8:1234:ff00::0370:7334/80", 96, 6425, "2001:db8:1234:ff00:0:1919::/96"),
        ("2001:db8:1234:c000::/50", 63, 8191, "2001:db8:1234:fffe::/63"),
        ("2001:db8:12:3400::/56", 72, 65535, "2001:db8:12:34ff:ff00::/72"),
        ("0.0.0.0/0", 32, 4_294_967_295, "255.255.255.255/32"),
    ],
    ids=[
        "upstream-TestIndexToCIDRBlock-v4-1st",
        "upstream-v4-16th",
        "upstream-v4-28-into-32",
        "upstream-v6-64-1st",
        "upstream-v6-64-16th",
        "upstream-v6-50-into-63",
        "upstream-v6-48-1st",
        "upstream-v6-48-16th",
        "upstream-v6-48-6426th",
        "upstream-v6-56-into-72-1st",
        "upstream-v6-56-into-72-16th",
        "upstream-v6-56-into-72-6426th",
        "upstream-v6-96-1st",
        "upstream-v6-96-16th",
        "upstream-v6-96-6426th",
        "v6-50-into-63-last",
        "v6-56-into-72-last",
        "v4-0-into-32-last",
    ],
)
def test_node_cidr_allocator_index_maps_to_block_and_back(
    cluster: str, mask: int, index: int, block: str
) -> None:
    a = NodeCIDRAllocator(cluster, mask)
    network = a.block_network(index)
    assert str(netaddr.IPNetwork(block).network) == str(
        netaddr.IPAddress(network, 4 if a.family is IPFamily.IPv4 else 6)
    )
    assert a.block_index(network) == index
    assert list(a.indices_of(block)) == [index]
    a.occupy(block)
    assert [str(n) for n in a] == [block]
    assert block in a
    assert netaddr.IPNetwork(block) in a


@given(st.data())
def test_node_cidr_allocator_block_formula_matches_ipaddress_subnets(data: st.DataObject) -> None:
    v6 = data.draw(st.booleans())
    width = 128 if v6 else 32
    cluster_prefix = data.draw(st.integers(0, width))
    mask = data.draw(st.integers(cluster_prefix, min(width, cluster_prefix + 16)))
    value = data.draw(st.integers(0, (1 << width) - 1))
    kind = ipaddress.IPv6Network if v6 else ipaddress.IPv4Network
    cluster = kind((value, cluster_prefix), strict=False)
    a = NodeCIDRAllocator(str(cluster), mask)
    index = data.draw(st.integers(0, a.size - 1))
    expected = kind((int(cluster.network_address) + index * (1 << (width - mask)), mask))
    assert expected.subnet_of(cluster)  # type: ignore[arg-type]
    assert a.block_network(index) == int(expected.network_address)
    assert a.block_index(int(expected.network_address)) == index


@pytest.mark.parametrize("index", [-1, 256], ids=["negative", "past-end"])
def test_node_cidr_allocator_block_network_out_of_range_raises(index: int) -> None:
    with pytest.raises(NotInRangeError):
        NodeCIDRAllocator("10.0.0.0/16", 24).block_network(index)


@pytest.mark.parametrize(
    "network",
    [0x0A000001, 0x0A010000, 0x09FFFF00],
    ids=["unaligned", "past-end", "below"],
)
def test_node_cidr_allocator_block_index_of_non_block_raises(network: int) -> None:
    with pytest.raises(NotInRangeError):
        NodeCIDRAllocator("10.0.0.0/16", 24).block_index(network)


# --- allocate_next and the cursor ------------------------------------------------------


def test_node_cidr_allocator_allocate_next_returns_fresh_ipnetworks() -> None:
    a = NodeCIDRAllocator("10.244.0.0/16", 24)
    first = a.allocate_next()
    assert isinstance(first, netaddr.IPNetwork)
    first.value = 0  # mutating what we got back must not touch the allocator
    assert [str(n) for n in a] == ["10.244.0.0/24"]
    assert str(a.allocate_next()) == "10.244.1.0/24"


@pytest.mark.parametrize(
    ("cluster", "mask", "first", "second"),
    [
        ("127.0.0.0/8", 32, "127.0.0.0/32", "127.0.0.1/32"),
        ("2001:beef:1234:369b::/60", 64, "2001:beef:1234:3690::/64", "2001:beef:1234:3691::/64"),
    ],
    ids=["upstream-TestCIDRSetv6-ipv4", "upstream-TestCIDRSetv6-allocate-a-few-ipv6"],
)
def test_node_cidr_allocator_allocate_next_hands_out_in_order(
    cluster: str, mask: int, first: str, second: str
) -> None:
    a = NodeCIDRAllocator(cluster, mask)
    assert [str(a.allocate_next()), str(a.allocate_next())] == [first, second]


@pytest.mark.parametrize(
    "cluster",
    ["127.123.234.0/30", "beef:1234::/30"],
    ids=["upstream-TestCIDRSetFullyAllocated-v4", "upstream-TestCIDRSetFullyAllocated-v6"],
)
def test_node_cidr_allocator_single_block_full_then_reusable(cluster: str) -> None:
    a = NodeCIDRAllocator(cluster, 30)
    block = a.allocate_next()
    assert str(block) == cluster
    with pytest.raises(RangeFullError):
        a.allocate_next()
    a.release(block)
    assert str(a.allocate_next()) == cluster


def test_node_cidr_allocator_exhaustion_message_and_nothing_changes() -> None:
    a = NodeCIDRAllocator("10.0.0.0/30", 31)
    a.allocate_next()
    a.allocate_next()
    before = state(a)
    with pytest.raises(RangeFullError) as info:
        a.allocate_next()
    assert info.value.message == NO_CIDRS_LEFT
    assert str(info.value).startswith(NO_CIDRS_LEFT + " — ")
    assert isinstance(info.value, DualStackError)
    assert state(a) == before


def test_node_cidr_allocator_cursor_resumes_after_last_handed_out() -> None:
    # §1.4: a released block is reused only after the cursor wraps past it.
    a = NodeCIDRAllocator("10.0.0.0/28", 30)  # 4 blocks
    blocks = [a.allocate_next() for _ in range(3)]
    assert a.cursor == 3
    a.release(blocks[0])
    assert a.cursor == 3
    assert str(a.allocate_next()) == "10.0.0.12/30"
    assert a.cursor == 0  # wrapped
    assert str(a.allocate_next()) == "10.0.0.0/30"
    assert a.cursor == 1


def test_node_cidr_allocator_occupy_and_release_do_not_move_cursor() -> None:
    a = NodeCIDRAllocator("10.0.0.0/16", 24)
    a.allocate_next()
    a.occupy("10.0.5.0/24")
    a.release("10.0.0.0/24")
    assert a.cursor == 1
    a.occupy("10.0.1.0/24")
    assert str(a.allocate_next()) == "10.0.2.0/24"


def test_node_cidr_allocator_occupied_at_startup_fills_lowest_hole_first() -> None:
    # upstream TestCidrSetMetricsHistogram: half occupied, the cursor still at 0.
    a = NodeCIDRAllocator("10.0.0.0/16", 24)
    a.occupy("10.0.0.0/17")
    assert a.used == 128
    assert str(a.allocate_next()) == "10.0.128.0/24"
    assert a.cursor == 129


@pytest.mark.parametrize(
    "cluster", ["127.123.234.0/16", "beef:1234::/16"], ids=["upstream-v4", "upstream-v6"]
)
def test_node_cidr_allocator_randomish_allocation_gives_same_blocks_again(cluster: str) -> None:
    # upstream TestCIDRSet_RandomishAllocation
    a = NodeCIDRAllocator(cluster, 24)
    first = [str(a.allocate_next()) for _ in range(256)]
    with pytest.raises(RangeFullError):
        a.allocate_next()
    for block in first:
        a.release(block)
    again = [str(a.allocate_next()) for _ in range(256)]
    assert again == first
    assert len(set(first)) == 256


@pytest.mark.parametrize(
    "cluster", ["127.123.234.0/16", "beef:1234::/16"], ids=["upstream-v4", "upstream-v6"]
)
def test_node_cidr_allocator_allocation_occupied_skips_occupied(cluster: str) -> None:
    # upstream TestCIDRSet_AllocationOccupied
    a = NodeCIDRAllocator(cluster, 24)
    blocks = [a.allocate_next() for _ in range(256)]
    for block in blocks:
        a.release(block)
    for block in blocks[128:]:
        a.occupy(block)
    a.occupy(blocks[128])
    again = [a.allocate_next() for _ in range(128)]
    with pytest.raises(RangeFullError):
        a.allocate_next()
    assert again + blocks[128:] == blocks


def test_node_cidr_allocator_cursor_setter_validates_and_steers() -> None:
    a = NodeCIDRAllocator("10.0.0.0/16", 24)
    a.cursor = 200
    assert str(a.allocate_next()) == "10.0.200.0/24"
    a.cursor = 255
    assert str(a.allocate_next()) == "10.0.255.0/24"
    assert a.cursor == 0
    for bad in (-1, 256, 1.5):
        with pytest.raises(NotInRangeError):
            a.cursor = bad  # type: ignore[assignment]
    assert a.cursor == 0


def test_node_cidr_allocator_cursor_below_high_water_mark_searches() -> None:
    a = NodeCIDRAllocator("10.0.0.0/16", 24)
    for _ in range(10):
        a.allocate_next()
    a.release("10.0.4.0/24")
    a.cursor = 2
    assert str(a.allocate_next()) == "10.0.4.0/24"
    assert a.cursor == 5
    assert str(a.allocate_next()) == "10.0.10.0/24"


def test_node_cidr_allocator_int_level_views() -> None:
    a = NodeCIDRAllocator("10.0.0.0/16", 24)
    assert a.block_size == 256
    assert a.allocate_next_index() == 0
    assert a.occupy_range(3, 5) == 3
    assert a.occupy_range(3, 5) == 0
    assert list(a.iter_indices()) == [0, 3, 4, 5]
    assert a.release_range(0, 3) == 2
    assert list(a.iter_indices()) == [4, 5]
    with pytest.raises(NotInRangeError):
        a.occupy_range(250, 256)
    assert list(a.iter_indices()) == [4, 5]
    assert a.profile.version.startswith("1.")
    assert "10.0.0.0/16" in repr(a)


# --- occupy / release --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cluster", "mask", "cidr", "begin", "end"),
    [
        ("127.0.0.0/8", 16, "127.0.0.0/8", 0, 255),
        ("2001:beef:1200::/40", 48, "2001:beef:1200::/40", 0, 255),
        ("127.0.0.0/8", 16, "127.0.0.0/2", 0, 255),
        ("2001:beef:1200::/40", 48, "2001:beef:1234::/34", 0, 255),
        ("127.0.0.0/8", 16, "127.0.0.0/16", 0, 0),
        ("2001:beef:1200::/40", 48, "2001:beef:1200::/48", 0, 0),
        ("127.0.0.0/8", 32, "127.0.0.0/16", 0, 65535),
        ("2001:beef:1200::/48", 64, "2001:beef:1200::/48", 0, 65535),
        ("127.0.0.0/7", 16, "127.0.0.0/15", 256, 257),
        ("2001:beef:7f00::/39", 48, "2001:beef:7f00::/47", 256, 257),
        ("127.0.0.0/7", 15, "127.0.0.0/15", 128, 128),
        ("2001:beef:7f00::/39", 47, "2001:beef:7f00::/47", 128, 128),
        ("127.0.0.0/7", 18, "127.0.0.0/15", 1024, 1031),
        ("2001:beef:7f00::/39", 50, "2001:beef:7f00::/47", 1024, 1031),
        ("10.0.0.0/16", 24, "10.0.7.128/25", 7, 7),
        ("10.0.0.0/16", 24, "10.0.7.9/32", 7, 7),
        ("fd00::/48", 64, "fd00:0:0:9:1::/80", 9, 9),
    ],
    ids=[
        "upstream-TestOccupy-all-v4",
        "upstream-all-v6",
        "upstream-every-v4",
        "upstream-every-v6",
        "upstream-1st-v4",
        "upstream-1st-v6",
        "upstream-65535-v4",
        "upstream-65535-v6",
        "upstream-257th-v4",
        "upstream-257th-v6",
        "upstream-128th-v4",
        "upstream-128th-v6",
        "upstream-1031st-v4",
        "upstream-1031st-v6",
        "smaller-than-block-v4",
        "single-address-v4",
        "smaller-than-block-v6",
    ],
)
def test_node_cidr_allocator_occupy_marks_exactly_upstream_indices(
    cluster: str, mask: int, cidr: str, begin: int, end: int
) -> None:
    a = NodeCIDRAllocator(cluster, mask)
    a.occupy(cidr)
    assert a.used == end - begin + 1
    assert list(a.iter_indices()) == list(range(begin, end + 1))
    assert a.cursor == 0
    a.release(cidr)
    assert a.used == 0


@pytest.mark.parametrize(
    ("cidr", "bit"),
    [
        ("127.0.0.0/16", 0),
        ("127.123.0.0/16", 123),
        ("127.168.0.0/16", 168),
        ("127.224.0.0/16", 224),
    ],
    ids=["upstream-TestGetBitforCIDR-0", "upstream-123", "upstream-168", "upstream-224"],
)
def test_node_cidr_allocator_indices_of_block_is_its_bit(cidr: str, bit: int) -> None:
    assert list(NodeCIDRAllocator("127.0.0.0/8", 16).indices_of(cidr)) == [bit]


def test_node_cidr_allocator_double_occupy_release_counts_once() -> None:
    # upstream TestDoubleOccupyRelease
    a = NodeCIDRAllocator("10.42.0.0/16", 24)
    steps = [
        ("10.42.5.0/24", "occupy", 1),
        ("10.42.9.0/24", "occupy", 2),
        ("10.42.8.0/22", "occupy", 5),
        ("10.42.9.0/24", "occupy", 5),
        ("10.42.9.0/24", "release", 4),
        ("10.42.9.0/24", "release", 4),
        ("10.42.4.0/22", "release", 3),
    ]
    for cidr, op, used in steps:
        getattr(a, op)(cidr)
        assert a.used == used, (cidr, op)
    for _ in range(256 - 3):
        a.allocate_next()
    with pytest.raises(RangeFullError):
        a.allocate_next()


@pytest.mark.parametrize(
    ("cluster", "cidr", "message"),
    [
        (
            "10.10.0.0/16",
            "172.10.0.0/24",
            "cidr 172.10.0.0/24 is out the range of cluster cidr 10.10.0.0/16",
        ),
        (
            "192.168.0.0/16",
            "127.168.224.0/24",
            "cidr 127.168.224.0/24 is out the range of cluster cidr 192.168.0.0/16",
        ),
        (
            "beef::/16",
            "2001:db00::/24",
            "cidr 2001:db00::/24 is out the range of cluster cidr beef::/16",
        ),
        (
            "10.10.0.0/16",
            "fd00::/64",
            "cidr fd00::/64 is out the range of cluster cidr 10.10.0.0/16",
        ),
        (
            "fd00::/48",
            "10.0.0.0/8",
            "cidr 10.0.0.0/8 is out the range of cluster cidr fd00::/48",
        ),
        (
            "10.10.0.0/16",
            "10.11.0.5/24",
            "cidr 10.11.0.0/24 is out the range of cluster cidr 10.10.0.0/16",
        ),
    ],
    ids=["spec-example", "upstream-GetBit-v4", "upstream-v6", "v6-in-v4", "v4-in-v6", "norm"],
)
@pytest.mark.parametrize("op", ["occupy", "release"])
def test_node_cidr_allocator_out_of_range_cidr_raises_and_changes_nothing(
    cluster: str, cidr: str, message: str, op: str
) -> None:
    a = NodeCIDRAllocator(cluster, 64 if cluster == "fd00::/48" else 24)
    a.allocate_next()
    a.allocate_next()
    before = state(a)
    with pytest.raises(NotInRangeError) as info:
        getattr(a, op)(cidr)
    assert info.value.message == message
    assert isinstance(info.value, ValueError)
    assert state(a) == before


def test_node_cidr_allocator_larger_cidr_marks_everything_and_releases_everything() -> None:
    a = NodeCIDRAllocator("10.0.0.0/28", 30)
    a.occupy("0.0.0.0/0")
    assert a.free == 0
    a.release("10.0.0.0/8")
    assert a.used == 0


def test_node_cidr_allocator_release_netaddr_with_host_bits_releases_its_block() -> None:
    a = NodeCIDRAllocator("10.0.0.0/16", 24)
    a.allocate_next()
    a.allocate_next()
    a.release(netaddr.IPNetwork("10.0.1.77/24"))
    assert [str(n) for n in a] == ["10.0.0.0/24"]
    a.release(netaddr.IPNetwork("10.0.0.0/25"))  # smaller than a block: the block
    assert a.used == 0


def test_node_cidr_allocator_invalid_cidr_raises_invalid_address() -> None:
    a = NodeCIDRAllocator("10.0.0.0/16", 24)
    with pytest.raises(InvalidAddressError):
        a.occupy("10.0.0.0/33")
    with pytest.raises(InvalidAddressError):
        a.release("nonsense")


# --- membership and iteration -------------------------------------------------------------


def test_node_cidr_allocator_membership_is_exact_blocks_only() -> None:
    a = NodeCIDRAllocator("10.0.0.0/16", 24)
    a.occupy("10.0.4.0/23")
    assert "10.0.4.0/24" in a
    assert "10.0.5.0/24" in a
    assert "10.0.4.0/23" not in a  # not a block
    assert "10.0.6.0/24" not in a
    assert "10.0.4.0/25" not in a
    assert "fd00::/64" not in a
    assert "garbage" not in a
    assert 42 not in a
    assert "9.255.255.0/24" not in a


def test_node_cidr_allocator_iteration_is_ascending() -> None:
    a = NodeCIDRAllocator("fd00::/48", 64)
    for cidr in ("fd00:0:0:9::/64", "fd00::/64", "fd00:0:0:ffff::/64", "fd00:0:0:3::/64"):
        a.occupy(cidr)
    assert [str(n) for n in a] == [
        "fd00::/64",
        "fd00:0:0:3::/64",
        "fd00:0:0:9::/64",
        "fd00:0:0:ffff::/64",
    ]


def test_node_cidr_allocator_accepts_cidr_pool_inputs() -> None:
    from dualstack.pools import CIDRPool

    a = NodeCIDRAllocator(CIDRPool("10.0.0.0/16"), 24)
    a.occupy(CIDRPool("10.0.3.0/24"))
    assert CIDRPool("10.0.3.0/24") in a
    assert list(a.indices_of(CIDRPool("10.0.2.0/23"))) == [2, 3]
    a.release(CIDRPool("10.0.3.0/24"))
    assert a.used == 0


def test_node_cidr_allocator_copy_is_independent() -> None:
    a = NodeCIDRAllocator("10.0.0.0/16", 24)
    a.allocate_next()
    a.occupy("10.0.9.0/24")
    b = a.copy()
    assert state(b) == state(a)
    assert str(b.allocate_next()) == "10.0.1.0/24"
    b.release("10.0.9.0/24")
    assert state(a) == (["10.0.0.0/24", "10.0.9.0/24"], 1, 2)
    assert str(a.allocate_next()) == "10.0.1.0/24"

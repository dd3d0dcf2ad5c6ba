"""AllocationBitmap, RandomScan, NextFit and randbelow (service-ips.md §1.6, §1.9)."""

from __future__ import annotations

import random

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from dualstack.bitmap import (
    FIRST_FREE_BIT,
    NEXT_FREE_AT,
    AllocationBitmap,
    NextFit,
    RandomScan,
    _SparseBitmap,
    randbelow,
)
from dualstack.errors import RangeFullError


@given(st.integers(1, 2**70), st.integers(0, 2**32))
def test_randbelow_equals_random_randrange_value_and_state(n, seed):
    ours, theirs = random.Random(seed), random.Random(seed)
    assert randbelow(ours, n) == theirs.randrange(n)
    assert ours.getstate() == theirs.getstate()


def test_allocate_release_membership_count():
    b = AllocationBitmap(100)
    assert b.allocate(5) and not b.allocate(5)
    assert 5 in b and 6 not in b and -1 not in b and 1000 not in b
    assert (b.count, b.free, len(b)) == (1, 99, 1)
    assert b.release(5) and not b.release(5) and not b.release(1000) and not b.release(-3)
    assert b.count == 0


@pytest.mark.parametrize("offset", [-1, 100, 10**6], ids=["negative", "size", "far"])
def test_allocate_out_of_range_raises_index_error_and_changes_nothing(offset):
    b = AllocationBitmap(100)
    with pytest.raises(IndexError):
        b.allocate(offset)
    assert b.count == 0 and list(b) == []


@pytest.mark.parametrize(
    ("taken", "lo", "hi", "expected"),
    [
        ([], 0, 10, 0),
        ([0, 1, 2], 0, 10, 3),
        (list(range(8)), 0, 10, 8),
        (list(range(16)), 3, 16, -1),
        (list(range(16)), 3, 17, 16),
        ([5], 5, 6, -1),
        (list(range(70000)), 0, 70001, 70000),
        (list(range(65536)), 100, 65537, 65536),
    ],
    ids=["empty", "prefix", "byte", "none", "next-byte", "single", "cross-chunk", "chunk-end"],
)
def test_first_free_table(taken, lo, hi, expected):
    b = AllocationBitmap(1 << 20)
    for o in taken:
        b.allocate(o)
    assert b.first_free(lo, hi) == expected


def test_storage_is_lazy_for_huge_sizes():
    b = AllocationBitmap(2**64)
    assert b.allocate(2**63 + 5) and (2**63 + 5) in b
    assert b.first_free(2**63 + 5, 2**64) == 2**63 + 6
    assert list(b) == [2**63 + 5] and b.highest() == 2**63 + 5


def test_iteration_ascending_across_chunks_and_highest():
    b = AllocationBitmap(300000)
    offsets = [299999, 0, 7, 8, 65535, 65536, 131072]
    for o in offsets:
        b.allocate(o)
    assert list(b) == sorted(offsets)
    assert b.highest() == 299999
    assert AllocationBitmap(10).highest() == -1


def test_copy_is_independent():
    b = AllocationBitmap(50)
    b.allocate(3)
    c = b.copy()
    c.allocate(4)
    b.release(3)
    assert list(b) == [] and list(c) == [3, 4]


# --- encoding (§1.9) ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("offsets", "data"),
    [
        ([], b""),
        ([0], b"\x01"),
        ([9], b"\x02\x00"),
        ([0, 9], b"\x02\x01"),
        ([0, 253], b"\x20" + bytes(30) + b"\x01"),
        ([65534], b"\x40" + bytes(8191)),
        ([70000], (1 << 70000).to_bytes(70000 // 8 + 1, "big")),
    ],
    ids=["empty", "0", "9", "0+9", "0+253", "65534", "cross-chunk"],
)
def test_k8s_bytes_big_endian_no_leading_zeros(offsets, data):
    b = AllocationBitmap(1 << 17)
    for o in offsets:
        b.allocate(o)
    assert b.to_k8s_bytes() == data
    back = AllocationBitmap.from_k8s_bytes(b"\x00\x00" + data, 1 << 17)
    assert list(back) == offsets and back.count == len(offsets)


def test_from_k8s_bytes_bit_past_size_raises_value_error():
    with pytest.raises(ValueError, match="bit 10 is set"):
        AllocationBitmap.from_k8s_bytes((1 << 10).to_bytes(2, "big"), 10)


@given(st.sets(st.integers(0, 200000), max_size=300))
def test_k8s_bytes_equal_big_int_of_offsets(offsets):
    b = AllocationBitmap(200001)
    for o in offsets:
        b.allocate(o)
    number = sum(1 << o for o in offsets)
    assert b.to_k8s_bytes() == number.to_bytes((number.bit_length() + 7) // 8, "big")
    back = AllocationBitmap.from_k8s_bytes(b.to_k8s_bytes(), 200001)
    assert set(back) == offsets and back.count == len(offsets)
    for o in offsets:
        assert back.first_free(o, o + 1) == -1


# --- strategies (§1.6) ---------------------------------------------------------------------------
@st.composite
def random_scan_cases(draw):
    size = draw(st.integers(0, 3000))
    reserved = draw(st.integers(0, size + 5))
    taken = draw(st.sets(st.integers(0, max(size - 1, 0)), max_size=size)) if size else set()
    fill_band = draw(st.booleans())
    if fill_band and size:
        taken |= set(range(min(reserved, size), size))  # dynamic band full
    return size, reserved, taken, draw(st.integers(0, 2**32))


def _with(size, taken, strategy):
    b = AllocationBitmap(size, strategy)
    for o in taken:
        b.allocate(o)
    return b


@given(random_scan_cases(), st.integers(1, 5))
def test_fused_random_allocate_equals_randomscan_next_then_allocate(case, steps):
    size, reserved, taken, seed = case
    ref_rng, rng_a, rng_b = random.Random(seed), random.Random(seed), random.Random(seed)
    ref = _with(size, taken, RandomScan(reserved, ref_rng))
    fused = _with(size, taken, RandomScan(reserved, rng_a))
    closure_map = _with(size, taken, RandomScan(reserved, rng_b))
    closure = closure_map.random_allocator(reserved, rng_b)
    for _ in range(steps):
        expected = ref.strategy.next(ref)
        if expected >= 0:
            ref.allocate(expected)
        assert fused.allocate_random(reserved, rng_a.getrandbits) == expected
        assert closure() == expected
        assert ref_rng.getstate() == rng_a.getstate() == rng_b.getstate()
    assert list(ref) == list(fused) == list(closure_map)


def test_random_scan_fills_upper_band_first_then_lower():
    b = AllocationBitmap(100, RandomScan(20, random.Random(1)))
    order = [b.allocate_next() for _ in range(100)]
    assert sorted(order[:80]) == list(range(20, 100))
    assert sorted(order[80:]) == list(range(20))


def test_random_scan_full_raises_and_draws_nothing():
    rng = random.Random(3)
    b = AllocationBitmap(10, RandomScan(4, rng))
    for _ in range(10):
        b.allocate_next()
    state = rng.getstate()
    with pytest.raises(RangeFullError, match=r"^range is full$"):
        b.allocate_next()
    assert b.allocate_random(4, rng.getrandbits) == -1
    assert b.random_allocator(4, rng)() == -1
    assert rng.getstate() == state and b.count == 10


def test_random_scan_reserved_beyond_size_uses_lower_band_only():
    b = AllocationBitmap(5, RandomScan(50, random.Random(0)))
    assert sorted(b.allocate_next() for _ in range(5)) == [0, 1, 2, 3, 4]


def test_random_scan_empty_bitmap_is_full():
    with pytest.raises(RangeFullError):
        AllocationBitmap(0, RandomScan(0, random.Random(0))).allocate_next()


def test_next_fit_rotates_and_wraps():
    b = AllocationBitmap(5, NextFit(3))
    assert [b.allocate_next() for _ in range(5)] == [3, 4, 0, 1, 2]
    b.release(1)
    b.release(4)
    assert b.allocate_next() == 4  # the cursor is at 3, which is taken
    assert b.allocate_next() == 1
    with pytest.raises(RangeFullError):
        b.allocate_next()


# --- sparse storage (more than 2^24 offsets) ---------------------------------------------------
def test_huge_bitmap_uses_sparse_storage_with_same_api():
    b = AllocationBitmap(2**64, RandomScan(256, random.Random(1)))
    assert isinstance(b, AllocationBitmap) and type(b) is _SparseBitmap
    offsets = [b.allocate_next() for _ in range(50)]
    assert all(256 <= o < 2**64 for o in offsets)
    assert list(b) == sorted(offsets) and b.count == 50 and b.highest() == max(offsets)
    c = b.copy()
    c.release(offsets[0])
    assert offsets[0] in b and offsets[0] not in c
    assert type(AllocationBitmap(2**24)) is AllocationBitmap


def test_sparse_k8s_bytes_round_trip_and_stray_bit():
    b = AllocationBitmap(2**24 + 10)
    for o in (0, 9, 2**24 + 9):
        b.allocate(o)
    data = b.to_k8s_bytes()
    assert int.from_bytes(data, "big") == 1 | 1 << 9 | 1 << (2**24 + 9)
    back = AllocationBitmap.from_k8s_bytes(data, 2**24 + 10)
    assert type(back) is _SparseBitmap and list(back) == [0, 9, 2**24 + 9]
    with pytest.raises(ValueError, match="is set but"):
        AllocationBitmap.from_k8s_bytes(data, 2**24 + 9)


@given(random_scan_cases(), st.lists(st.integers(0, 3100), max_size=20))
def test_sparse_storage_behaves_like_dense(case, releases):
    size, reserved, taken, seed = case
    rng_d, rng_s = random.Random(seed), random.Random(seed)
    dense = _with(size, taken, RandomScan(reserved, rng_d))
    sparse = _SparseBitmap(size, RandomScan(reserved, rng_s))
    for o in taken:
        sparse.allocate(o)
    closure = sparse.random_allocator(reserved, rng_s)
    for o in releases:
        assert dense.release(o) == sparse.release(o)
        assert dense.allocate_random(reserved, rng_d.getrandbits) == closure()
        assert dense.first_free(o, size) == sparse.first_free(o, size)
    assert list(dense) == list(sparse) and dense.count == sparse.count
    assert dense.to_k8s_bytes() == sparse.to_k8s_bytes()
    assert rng_d.getstate() == rng_s.getstate()


@given(
    st.sampled_from([1, 9, 65536, 70000, 2**24 + 3]),
    st.lists(st.tuples(st.sampled_from(["in", "add", "del"]), st.integers(0, 2**25)), max_size=60),
)
def test_offset_ops_match_methods_and_set_model(size, ops):
    b = AllocationBitmap(size)
    contains, allocate, release = b.offset_ops()
    model: set[int] = set()
    for op, raw in ops:
        offset = raw % size
        if op == "in":
            assert contains(offset) == (offset in model) == (offset in b)
            assert not contains(-1 - offset) and not contains(size + raw)
        elif op == "add":
            assert allocate(offset) == (offset not in model)
            model.add(offset)
        else:
            assert release(offset) == (offset in model)
            assert not release(-1 - offset)
            model.discard(offset)
        assert b.count == len(model)
    assert list(b) == sorted(model)


# --- storage views and fused-path helpers ----------------------------------------------------
def test_next_free_bit_tables_match_bit_loop():
    for byte in range(256):
        for b in range(8):
            expected = next((i for i in range(b, 8) if not byte >> i & 1), 8)
            assert NEXT_FREE_AT[b][byte] == expected
        assert FIRST_FREE_BIT[byte] == NEXT_FREE_AT[0][byte]


def test_storage_grows_in_place_and_preallocate_fills_to_size():
    b = AllocationBitmap(100)
    bits, full = b.storage()
    assert (len(bits), len(full)) == (0, 0)
    b.allocate(9)
    assert b.storage()[0] is bits and bits[1] == 2 and len(bits) == len(full) >= 2
    b.preallocate()
    assert len(bits) == len(full) == 13 and list(b) == [9]
    for o in range(8, 16):
        b.allocate(o)
    assert full[1] == 1 and full.count(1) == 1


def test_preallocate_sparse_bitmap_keeps_empty_storage():
    b = AllocationBitmap(2**40)
    b.preallocate()
    b.allocate(5)
    assert b.storage() == (bytearray(), bytearray()) and 5 in b


@given(random_scan_cases())
def test_allocate_random_from_equals_random_scan_next_then_allocate(case):
    size, reserved, taken, seed = case
    low = min(reserved, size)
    assume(low < size and len(taken) < size)  # an upper-band start and a free offset
    ref_rng, rng = random.Random(seed), random.Random(seed)
    ref = _with(size, taken, RandomScan(reserved, ref_rng))
    ours = _with(size, taken, RandomScan(reserved, rng))
    expected = ref.strategy.next(ref)
    ref.allocate(expected)
    start = randbelow(rng, size - low) + low  # the draw a fused caller makes itself
    assert ours.allocate_random_from(start, reserved, rng.getrandbits) == expected
    assert list(ours) == list(ref) and rng.getstate() == ref_rng.getstate()


def test_allocate_random_below_upper_band_full_fills_static_band_then_draws_nothing():
    rng = random.Random(4)
    b = AllocationBitmap(100)
    for offset in range(16, 100):
        b.allocate(offset)
    got = [b.allocate_random_below(16, rng.getrandbits) for _ in range(16)]
    assert sorted(got) == list(range(16)) and b.count == 100
    state = rng.getstate()
    assert b.allocate_random_below(16, rng.getrandbits) == -1  # full: nothing drawn
    assert b.count == 100 and rng.getstate() == state


def test_allocate_random_below_no_static_band_draws_nothing():
    rng = random.Random(4)
    state = rng.getstate()
    b = AllocationBitmap(100)
    assert b.allocate_random_below(0, rng.getrandbits) == -1
    assert b.count == 0 and rng.getstate() == state

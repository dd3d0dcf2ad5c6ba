"""Offset bitmap and scan strategies: the storage under every allocator.

Purpose: a set of integer offsets ``0 .. size-1`` that knows nothing about IPs (the
split Kubernetes makes between ``allocator`` and ``ipallocator``). Service IPs, node
blocks and Pod IPs all map themselves onto offsets and keep their state here.

Key types:
- ``AllocationBitmap(size, strategy)``: ``allocate``, ``allocate_next``, ``release``,
  ``in``, ``count``/``free``, ascending iteration, ``first_free``, and the Kubernetes
  ``RangeAllocation`` byte encoding (``to_k8s_bytes``/``from_k8s_bytes``).
- ``RandomScan(reserved_low, rng)``: kube-apiserver's random scan with a static lower
  band (service-ips.md §1.6).
- ``NextFit(cursor)``: first free offset at or after a cursor, wrapping (CIDRSet's
  rotating ``nextCandidate``, host-local's round robin).

Layout (why it is fast and small)::

    offset o  ->  byte o >> 3  ->  bit o & 7
    _bits  bytearray, bit set = allocated      (grows lazily, <= size / 8 bytes)
    _full  bytearray, 1 where that _bits byte is 0xff (same length)

Finding a free offset never loops over bits in Python: ``_full.find(0, j)`` is a
``memchr`` over the summary, and the free bit inside a byte comes from ``~v & (v + 1)``.
One flat pair of byte strings (rather than chunks in a dict) keeps a lookup to one
index operation, which the Service hot paths need (benchmarks/bench_service_ips.py).
The storage grows with the highest byte touched: a Pod range of 30 addresses costs 4
bytes, a /8 Service range at most 2 x 2 MiB. Bitmaps of more than 2^24 offsets keep a
set of offsets instead, so a range of 2^64 offsets costs nothing until used.

Invariants: ``count`` equals the number of set bits; no bit at an offset ``>= size`` is
ever set; ``_full[j] == 1`` exactly when ``_bits[j] == 0xff``; ``_bits`` and ``_full``
are grown in place, never replaced (``storage()`` hands them out); a failed call
changes nothing (strategies draw randomness only when a free offset exists).
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable, Iterator
from typing import Final, Protocol

from dualstack.errors import RangeFullError

__all__ = [
    "FIRST_FREE_BIT",
    "NEXT_FREE_AT",
    "AllocationBitmap",
    "NextFit",
    "RandomScan",
    "ScanStrategy",
    "randbelow",
]

# Bitmaps of more offsets than this keep a set of offsets (see AllocationBitmap.__new__).
_SPARSE_FROM: Final = 1 << 24
# bytes.translate table: 0xff -> 1 (full byte), anything else -> 0.
_FULL_TABLE: Final = bytes(1 if i == 255 else 0 for i in range(256))

NEXT_FREE_AT: Final[tuple[tuple[int, ...], ...]] = tuple(
    tuple(next((i for i in range(b, 8) if not (byte >> i) & 1), 8) for byte in range(256))
    for b in range(8)
)
"""``NEXT_FREE_AT[b][byte]``: the lowest clear bit of ``byte`` at or above bit ``b``, or
8 when there is none. Two tuple indexes replace the mask arithmetic and the
``bit_length()`` call of a taken random start, and every int involved is below 257
(CPython's cached small ints: no int object is made), which keeps allocate_next's
early and late paths close (benchmarks/bench_service_ips.py W1/W2 "last 10 %" ratio,
W4)."""

FIRST_FREE_BIT: Final[tuple[int, ...]] = NEXT_FREE_AT[0]
"""``FIRST_FREE_BIT[byte]``: the lowest clear bit of ``byte``, or 8 (a full byte)."""


def randbelow(rng: _random.Random, n: int) -> int:
    """A uniform int in ``[0, n)``; the same value ``rng.randrange(n)`` would give.

    ``randrange`` is a Python-level wrapper costing ~0.3 us; this is the same
    rejection loop over ``getrandbits`` that CPython runs inside it, so results and the
    generator's state after the call are identical (tests/test_bitmap.py checks this).
    """
    k = n.bit_length()
    r = rng.getrandbits(k)
    while r >= n:
        r = rng.getrandbits(k)
    return r


class ScanStrategy(Protocol):
    """How ``allocate_next`` picks a free offset; returns -1 when there is none.

    A strategy may keep state (a cursor); it changes it only when it returns an offset.
    """

    def next(self, bitmap: AllocationBitmap) -> int: ...


class RandomScan:
    """kube-apiserver's ``randomScanStrategyWithOffset`` (service-ips.md §1.6).

    The dynamic (upper) band ``[reserved_low, size)`` is scanned first from a random
    start with wrap-around; only when it is full is the static (lower) band
    ``[0, reserved_low)`` scanned the same way.
    """

    __slots__ = ("reserved_low", "rng")

    def __init__(self, reserved_low: int = 0, rng: _random.Random | None = None) -> None:
        self.reserved_low = reserved_low
        self.rng = rng if rng is not None else _random.Random()

    def next(self, bitmap: AllocationBitmap) -> int:
        size = bitmap.size
        if bitmap.count >= size:
            return -1  # upstream's fast full check: no random draw on a full range
        low = min(self.reserved_low, size)
        getrandbits = self.rng.getrandbits
        first_free = bitmap.first_free
        for band_lo, band_hi in ((low, size), (0, low)):
            n = band_hi - band_lo
            if n <= 0:
                continue
            # inline randbelow(): this is the hot path of ServiceIPAllocator.allocate_next
            k = n.bit_length()
            start = getrandbits(k)
            while start >= n:
                start = getrandbits(k)
            start += band_lo
            found = first_free(start, band_hi)
            if found < 0 and start > band_lo:
                found = first_free(band_lo, start)
            if found >= 0:
                return found
        return -1

    def __repr__(self) -> str:
        return f"RandomScan(reserved_low={self.reserved_low}, rng={self.rng!r})"


class NextFit:
    """First free offset at or after ``cursor``, wrapping; then ``cursor = found + 1``.

    This is CIDRSet's rotating ``nextCandidate`` (node-and-pod-ips.md §1.4) and, with
    the cursor just after the last reserved address, host-local's round robin (§3.3).
    """

    __slots__ = ("cursor",)

    def __init__(self, cursor: int = 0) -> None:
        self.cursor = cursor

    def next(self, bitmap: AllocationBitmap) -> int:
        size = bitmap.size
        if bitmap.count >= size:
            return -1
        cursor = self.cursor if 0 <= self.cursor < size else 0
        found = bitmap.first_free(cursor, size)
        if found < 0 and cursor:
            found = bitmap.first_free(0, cursor)
        if found >= 0:
            self.cursor = found + 1 if found + 1 < size else 0
        return found

    def __repr__(self) -> str:
        return f"NextFit(cursor={self.cursor})"


class AllocationBitmap:
    """A set of offsets ``0 .. size-1`` with fast free-space search.

    Args:
        size: number of offsets (any non-negative int, 2^64 included).
        strategy: how ``allocate_next`` chooses; ``NextFit()`` by default.

    Attributes:
        count: number of allocated offsets. Read it freely; only code that writes the
            bytes of ``storage()`` directly (``ServiceIPAllocator``'s fused paths) may
            write it, and must keep it equal to the number of set bits.
        strategy: the ``ScanStrategy`` of ``allocate_next``.
    """

    __slots__ = ("_bits", "_full", "_size", "count", "strategy")

    def __new__(cls, size: int, strategy: ScanStrategy | None = None) -> AllocationBitmap:
        # Past 2^24 offsets a range is used sparsely (IPv6 /64 Service ranges from 1.34,
        # node blocks of a /32 cluster CIDR): a dense byte string would cost up to
        # 4 MiB for one address handed out at random, so such bitmaps keep a set instead.
        if cls is AllocationBitmap and size > _SPARSE_FROM:
            return object.__new__(_SparseBitmap)
        return object.__new__(cls)

    def __init__(self, size: int, strategy: ScanStrategy | None = None) -> None:
        if size < 0:
            raise ValueError(f"bitmap size must be >= 0, got {size}")
        self._size = size
        self.count = 0
        # Both grow in place (never replaced), so storage() views stay valid.
        self._bits = bytearray()
        self._full = bytearray()
        self.strategy: ScanStrategy = strategy if strategy is not None else NextFit()

    # --- sizes -------------------------------------------------------------------
    @property
    def size(self) -> int:
        """Number of offsets."""
        return self._size

    @property
    def free(self) -> int:
        """``size - count``."""
        return self._size - self.count

    def __len__(self) -> int:
        return self.count

    def storage(self) -> tuple[bytearray, bytearray]:
        """The ``(bits, full)`` byte strings, for callers that fuse their hot paths.

        ``bits[i]`` holds offsets ``8i .. 8i+7`` (bit ``o & 7`` is offset ``o``);
        ``full[i]`` is 1 exactly when ``bits[i] == 0xff``. Both have the same length,
        grow in place and are never replaced, so a caller may keep them for the life of
        this bitmap. A byte past their end reads as 0 (all free); only ``allocate``
        grows them. A writer keeps the invariants: ``full`` in step, ``count`` equal
        to the number of set bits, no bit at or past ``size``. A bitmap of more than
        2^24 offsets keeps a set instead and returns two empty byte strings that
        never grow.
        """
        return self._bits, self._full

    def preallocate(self) -> None:
        """Grow the storage to its full size now (``size / 4`` bytes in all).

        For random scans, whose storage reaches full size after a few allocations
        anyway: afterwards every offset below ``size`` has its byte in ``storage()``,
        so fused readers never meet the grown-part boundary. No effect on sparse
        bitmaps (more than 2^24 offsets).
        """
        need = ((self._size + 7) >> 3) - len(self._bits)
        if need > 0 and type(self) is AllocationBitmap:
            self._bits.extend(bytes(need))
            self._full.extend(bytes(need))

    # --- single offsets --------------------------------------------------------------
    def __contains__(self, offset: int) -> bool:
        if offset < 0:
            return False
        try:
            return (self._bits[offset >> 3] >> (offset & 7)) & 1 == 1
        except IndexError:
            return False  # past the grown part: free

    def _grow(self, j: int) -> None:
        """Grow the storage to hold byte ``j`` (doubling, capped at the size's bytes)."""
        bits = self._bits
        n = len(bits)
        extra = max(j + 1, min(2 * n, (self._size + 7) >> 3)) - n
        bits.extend(bytes(extra))
        self._full.extend(bytes(extra))

    def allocate(self, offset: int) -> bool:
        """Set ``offset``; False (and no change) when it was already set.

        Raises:
            IndexError: offset outside ``[0, size)``.
        """
        if not 0 <= offset < self._size:
            raise IndexError(f"offset {offset} out of range [0,{self._size})")
        j = offset >> 3
        bits = self._bits
        if j >= len(bits):
            self._grow(j)
        mask = 1 << (offset & 7)
        value = bits[j]
        if value & mask:
            return False
        value |= mask
        bits[j] = value
        if value == 255:
            self._full[j] = 1
        self.count += 1
        return True

    def release(self, offset: int) -> bool:
        """Clear ``offset``; False (and no change) when it was not set or is out of range."""
        if offset < 0:
            return False
        j = offset >> 3
        bits = self._bits
        if j >= len(bits):
            return False
        mask = 1 << (offset & 7)
        value = bits[j]
        if not value & mask:
            return False
        if value == 255:
            self._full[j] = 0
        bits[j] = value ^ mask
        self.count -= 1
        return True

    def allocate_next(self) -> int:
        """Allocate the offset the strategy picks.

        Raises:
            RangeFullError: ``range is full`` (nothing changed, no randomness drawn).
        """
        strategy = self.strategy
        if type(strategy) is RandomScan:
            # Same offset and same draws as RandomScan.next followed by allocate.
            offset = self.allocate_random(strategy.reserved_low, strategy.rng.getrandbits)
        else:
            offset = strategy.next(self)
            if offset >= 0:
                self.allocate(offset)
        if offset < 0:
            raise RangeFullError("range is full")
        return offset

    def allocate_random(self, reserved_low: int, getrandbits: Callable[[int], int]) -> int:
        """``RandomScan(reserved_low, rng).next`` and ``allocate`` in one call; -1 when full.

        ``getrandbits`` is the generator's bound ``getrandbits``. The offset chosen and
        the numbers drawn are exactly those of ``RandomScan.next`` (service-ips.md §1.6:
        a uniform start in the upper band ``[reserved_low, size)``, the first free
        offset from there with wrap-around, and only when that band is full the same
        over ``[0, reserved_low)``); a full bitmap draws nothing and changes nothing.
        """
        size = self._size
        if self.count >= size:
            return -1
        lo = reserved_low if reserved_low < size else size
        if lo < size:
            found = self._scan_from(_draw(getrandbits, size - lo) + lo, lo, size)
            if found >= 0:
                self.allocate(found)
                return found
        return self.allocate_random_below(lo, getrandbits)

    def allocate_random_from(
        self, start: int, reserved_low: int, getrandbits: Callable[[int], int]
    ) -> int:
        """``allocate_random`` after its upper-band start ``start`` has been drawn.

        For callers that draw the start themselves and find it taken (fused hot paths):
        the first free offset in ``[start, size)``, else in ``[reserved_low, start)``,
        else a new draw in the lower band as ``allocate_random`` does; allocated and
        returned, or -1 (nothing changed).
        """
        size = self._size
        found = self._scan_from(start, reserved_low if reserved_low < size else size, size)
        if found < 0:
            return self.allocate_random_below(reserved_low, getrandbits)
        self.allocate(found)
        return found

    def allocate_random_below(self, reserved_low: int, getrandbits: Callable[[int], int]) -> int:
        """The lower-band step of ``allocate_random``, for callers that know the upper
        band ``[reserved_low, size)`` is full.

        A uniform start in ``[0, reserved_low)`` and the first free offset from there
        with wrap-around, allocated and returned; -1 when that band is full too (nothing
        changed) or empty. A full bitmap or an empty band draws nothing.
        """
        size = self._size
        lo = reserved_low if reserved_low < size else size
        if lo <= 0 or self.count >= size:
            return -1
        found = self._scan_from(_draw(getrandbits, lo), 0, lo)
        if found >= 0:
            self.allocate(found)
        return found

    def _scan_from(self, start: int, lo: int, hi: int) -> int:
        """The first free offset in ``[start, hi)``, else in ``[lo, start)``, or -1."""
        found = self.first_free(start, hi)
        if found < 0 and start > lo:
            found = self.first_free(lo, start)
        return found

    def random_allocator(self, reserved_low: int, rng: _random.Random) -> Callable[[], int]:
        """A function that does ``allocate_random(reserved_low, rng.getrandbits)``.

        Built once per caller, it keeps the band sizes and this bitmap's storage in
        closure cells instead of looking them up on every call. It stays valid for the
        life of this bitmap: the storage is never replaced, only grown.
        """
        size = self._size
        lo = reserved_low if reserved_low < size else size
        n = size - lo
        k = n.bit_length()
        getrandbits = rng.getrandbits
        bits, full = self.storage()
        find = full.find
        slow = self.allocate_random
        bitmap = self

        def allocate() -> int:
            # Hot path of allocate_next_int (benchmarks/bench_service_ips.py W1, W2,
            # W4): ServiceIPAllocator.allocate_next runs the same steps inline.
            if n <= 0 or bitmap.count >= size:
                return slow(lo, getrandbits)
            offset = getrandbits(k)
            while offset >= n:
                offset = getrandbits(k)
            offset += lo
            j = offset >> 3
            try:
                value = bits[j]
            except IndexError:
                bitmap.allocate(offset)  # storage not grown that far: the bit is free
                return offset
            # The first free bit at or after the start in its byte, else the next
            # byte that is not full by one find on the summary (C speed); wrap-around
            # and the ungrown tail go the general way. Same steps as
            # ServiceIPAllocator.allocate_next, which runs them inline.
            bit = NEXT_FREE_AT[offset & 7][value]
            if bit == 8:
                j = find(0, j + 1)
                if j < 0:
                    return bitmap.allocate_random_from(offset, lo, getrandbits)
                value = bits[j]
                bit = FIRST_FREE_BIT[value]
            found = j << 3 | bit
            if found >= size:
                return bitmap.allocate_random_from(offset, lo, getrandbits)
            value |= 1 << bit
            bits[j] = value
            if value == 255:
                full[j] = 1
            bitmap.count += 1
            return found

        return allocate

    def offset_ops(
        self,
    ) -> tuple[Callable[[int], bool], Callable[[int], bool], Callable[[int], bool]]:
        """``(contains, allocate, release)`` functions bound to this bitmap.

        They are ``offset in bitmap``, ``bitmap.allocate`` and ``bitmap.release``
        themselves (``allocate`` checks its argument). Callers that need the bytes
        directly use ``storage()``. Valid for the life of this bitmap.
        """
        return self.__contains__, self.allocate, self.release

    # --- search --------------------------------------------------------------------
    def first_free(self, lo: int, hi: int) -> int:
        """The lowest free offset in ``[lo, hi)``, or -1 (``0 <= lo`` assumed)."""
        if lo >= hi:
            return -1
        bits = self._bits
        n = len(bits)
        j = lo >> 3
        if j >= n:
            return lo  # past the grown part: free
        # The bits below `lo` in its byte count as taken.
        value = bits[j] | ((1 << (lo & 7)) - 1)
        if value == 255:
            end = (hi + 7) >> 3
            j = self._full.find(0, j + 1, end)
            if j < 0:
                if n >= end:
                    return -1
                j, value = n, 0  # the first byte past the grown part is all free
            else:
                value = bits[j]
        found = (j << 3) | ((~value & (value + 1)).bit_length() - 1)
        return found if found < hi else -1

    # --- iteration and bulk views ------------------------------------------------------
    def __iter__(self) -> Iterator[int]:
        """Allocated offsets, ascending."""
        for j, value in enumerate(self._bits):
            if value:
                at = j << 3
                while value:
                    low = value & -value
                    yield at + low.bit_length() - 1
                    value ^= low

    def copy(self) -> AllocationBitmap:
        """An independent copy; the strategy object is shared, pass a new one to change it."""
        other = AllocationBitmap(self._size, self.strategy)
        other.count = self.count
        other._bits.extend(self._bits)
        other._full.extend(self._full)
        return other

    def highest(self) -> int:
        """The highest allocated offset, or -1 when empty."""
        bits = self._bits.rstrip(b"\x00")
        if not bits:
            return -1
        return (len(bits) - 1) * 8 + bits[-1].bit_length() - 1

    def to_k8s_bytes(self) -> bytes:
        """Go's ``big.Int.Bytes()`` of the bitmap: big-endian, no leading zero bytes.

        Offset ``i`` is bit ``i % 8`` of byte ``len - 1 - i // 8`` (service-ips.md §1.9).
        Little-endian bit order inside our bytes makes the encoding a byte reversal.
        """
        buf = self._bits.rstrip(b"\x00")
        buf.reverse()
        return bytes(buf)

    @classmethod
    def from_k8s_bytes(
        cls, data: bytes, size: int, strategy: ScanStrategy | None = None
    ) -> AllocationBitmap:
        """Rebuild a bitmap from ``to_k8s_bytes`` output (a ``RangeAllocation.data``).

        Raises:
            ValueError: a bit is set at an offset ``>= size`` (the message names it).
        """
        if cls is AllocationBitmap and size > _SPARSE_FROM:
            return _SparseBitmap.from_k8s_bytes(data, size, strategy)
        bitmap = cls(size, strategy)
        little = bytearray(data)
        little.reverse()
        little = little.rstrip(b"\x00")
        if not little:
            return bitmap
        top = (len(little) - 1) * 8 + little[-1].bit_length() - 1
        if top >= size:
            raise ValueError(f"bit {top} is set but the bitmap holds offsets 0 to {size - 1}")
        bitmap._bits.extend(little)
        bitmap._full.extend(little.translate(_FULL_TABLE))
        bitmap.count = int.from_bytes(little, "little").bit_count()
        return bitmap

    def __repr__(self) -> str:
        return f"<AllocationBitmap size={self._size} count={self.count} {self.strategy!r}>"


def _draw(getrandbits: Callable[[int], int], n: int) -> int:
    """``randbelow`` given the bound ``getrandbits``: a uniform int in ``[0, n)``."""
    k = n.bit_length()
    r = getrandbits(k)
    while r >= n:
        r = getrandbits(k)
    return r


class _SparseBitmap(AllocationBitmap):
    """``AllocationBitmap`` of more than 2^24 offsets: a set of the allocated offsets.

    Same behaviour, same random draws; about 100 bytes per allocated offset whatever
    the spread, where dense storage would cost ``size / 4`` bytes.
    ``first_free`` walks a run of taken offsets one by one, which is cheap for the
    sparse use these sizes get.
    """

    __slots__ = ("_set",)

    def __init__(self, size: int, strategy: ScanStrategy | None = None) -> None:
        super().__init__(size, strategy)
        self._set: set[int] = set()

    def __contains__(self, offset: int) -> bool:
        return offset in self._set

    def allocate(self, offset: int) -> bool:
        if not 0 <= offset < self._size:
            raise IndexError(f"offset {offset} out of range [0,{self._size})")
        taken = self._set
        if offset in taken:
            return False
        taken.add(offset)
        self.count += 1
        return True

    def release(self, offset: int) -> bool:
        taken = self._set
        if offset not in taken:
            return False
        taken.remove(offset)
        self.count -= 1
        return True

    def first_free(self, lo: int, hi: int) -> int:
        taken = self._set
        offset = lo
        while offset < hi:
            if offset not in taken:
                return offset
            offset += 1
        return -1

    def allocate_random(self, reserved_low: int, getrandbits: Callable[[int], int]) -> int:
        size = self._size
        if self.count >= size:
            return -1
        lo = reserved_low if reserved_low < size else size
        for band_lo, band_hi in ((lo, size), (0, lo)):
            n = band_hi - band_lo
            if n <= 0:
                continue
            k = n.bit_length()
            start = getrandbits(k)
            while start >= n:
                start = getrandbits(k)
            start += band_lo
            found = self.first_free(start, band_hi)
            if found < 0 and start > band_lo:
                found = self.first_free(band_lo, start)
            if found >= 0:
                self.allocate(found)
                return found
        return -1

    def offset_ops(
        self,
    ) -> tuple[Callable[[int], bool], Callable[[int], bool], Callable[[int], bool]]:
        return self._set.__contains__, self.allocate, self.release

    def random_allocator(self, reserved_low: int, rng: _random.Random) -> Callable[[], int]:
        getrandbits = rng.getrandbits
        allocate_random = self.allocate_random

        def allocate() -> int:
            return allocate_random(reserved_low, getrandbits)

        return allocate

    def __iter__(self) -> Iterator[int]:
        return iter(sorted(self._set))

    def copy(self) -> AllocationBitmap:
        other = _SparseBitmap(self._size, self.strategy)
        other._set = set(self._set)
        other.count = self.count
        return other

    def highest(self) -> int:
        return max(self._set, default=-1)

    def to_k8s_bytes(self) -> bytes:
        number = 0
        for offset in self._set:
            number |= 1 << offset
        return number.to_bytes((number.bit_length() + 7) // 8, "big")

    @classmethod
    def from_k8s_bytes(
        cls, data: bytes, size: int, strategy: ScanStrategy | None = None
    ) -> AllocationBitmap:
        number = int.from_bytes(data, "big")
        if number.bit_length() > size:
            raise ValueError(
                f"bit {number.bit_length() - 1} is set but the bitmap holds offsets 0 to "
                f"{size - 1}"
            )
        bitmap = AllocationBitmap(size, strategy)
        while number:
            low = number & -number
            bitmap.allocate(low.bit_length() - 1)
            number ^= low
        return bitmap

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

    offset o  ->  chunk o >> 16  ->  byte (o & 0xffff) >> 3  ->  bit o & 7
    _bits[chunk]  bytearray, bit set = allocated          (grows lazily, <= 8 KiB)
    _full[chunk]  bytearray, 1 where that _bits byte is 0xff (same length)

Finding a free offset never loops over bits in Python: ``_full[chunk].find(0, j)`` is a
``memchr`` over the summary, and the free bit inside a byte comes from ``~v & (v + 1)``.
Chunks are created on first use and grow with the highest byte touched, so a range of
2^64 offsets costs nothing until used and a Pod range of 30 addresses costs 4 bytes.

Invariants: ``count`` equals the number of set bits; no bit at an offset ``>= size`` is
ever set; ``_full[c][j] == 1`` exactly when ``_bits[c][j] == 0xff``; a failed call
changes nothing (strategies draw randomness only when a free offset exists).
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable, Iterator
from typing import Final, Protocol

from dualstack.errors import RangeFullError

__all__ = ["AllocationBitmap", "NextFit", "RandomScan", "ScanStrategy", "randbelow"]

_SHIFT: Final = 16
_CHUNK: Final = 1 << _SHIFT
_MASK: Final = _CHUNK - 1
_CHUNK_BYTES: Final = _CHUNK >> 3
# What a chunk not created yet reads as in the offset_ops lookups.
_ZEROS: Final = bytes(_CHUNK_BYTES)
# Bitmaps of more offsets than this keep a set of offsets (see AllocationBitmap.__new__).
_SPARSE_FROM: Final = 1 << 24
# bytes.translate table: 0xff -> 1 (full byte), anything else -> 0.
_FULL_TABLE: Final = bytes(1 if i == 255 else 0 for i in range(256))


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
    """

    __slots__ = ("_bits", "_count", "_full", "_size", "strategy")

    def __new__(cls, size: int, strategy: ScanStrategy | None = None) -> AllocationBitmap:
        # Past 2^24 offsets a range is used sparsely (IPv6 /64 Service ranges from 1.34,
        # node blocks of a /32 cluster CIDR): dense chunks would cost ~8 KiB for every
        # address handed out at random, so such bitmaps keep a plain set instead.
        if cls is AllocationBitmap and size > _SPARSE_FROM:
            return object.__new__(_SparseBitmap)
        return object.__new__(cls)

    def __init__(self, size: int, strategy: ScanStrategy | None = None) -> None:
        if size < 0:
            raise ValueError(f"bitmap size must be >= 0, got {size}")
        self._size = size
        self._count = 0
        self._bits: dict[int, bytearray] = {}
        self._full: dict[int, bytearray] = {}
        self.strategy: ScanStrategy = strategy if strategy is not None else NextFit()

    # --- sizes -------------------------------------------------------------------
    @property
    def size(self) -> int:
        """Number of offsets."""
        return self._size

    @property
    def count(self) -> int:
        """Number of allocated offsets."""
        return self._count

    @property
    def free(self) -> int:
        """``size - count``."""
        return self._size - self._count

    def __len__(self) -> int:
        return self._count

    # --- single offsets --------------------------------------------------------------
    def __contains__(self, offset: int) -> bool:
        bits = self._bits.get(offset >> _SHIFT)
        if bits is None:
            return False
        j = (offset & _MASK) >> 3
        return j < len(bits) and (bits[j] >> (offset & 7)) & 1 == 1

    def _grow(self, chunk: int, j: int) -> bytearray:
        bits = self._bits.get(chunk)
        if bits is None:
            bits = self._bits[chunk] = bytearray()
            self._full[chunk] = bytearray()
        if j >= len(bits):
            extra = max(j + 1, min(2 * len(bits), _CHUNK_BYTES)) - len(bits)
            bits.extend(bytes(extra))
            self._full[chunk].extend(bytes(extra))
        return bits

    def allocate(self, offset: int) -> bool:
        """Set ``offset``; False (and no change) when it was already set.

        Raises:
            IndexError: offset outside ``[0, size)``.
        """
        if not 0 <= offset < self._size:
            raise IndexError(f"offset {offset} out of range [0,{self._size})")
        chunk = offset >> _SHIFT
        j = (offset & _MASK) >> 3
        bits = self._bits.get(chunk)
        if bits is None or j >= len(bits):
            bits = self._grow(chunk, j)
        mask = 1 << (offset & 7)
        value = bits[j]
        if value & mask:
            return False
        value |= mask
        bits[j] = value
        if value == 255:
            self._full[chunk][j] = 1
        self._count += 1
        return True

    def release(self, offset: int) -> bool:
        """Clear ``offset``; False (and no change) when it was not set or is out of range."""
        bits = self._bits.get(offset >> _SHIFT)
        if bits is None or offset < 0:
            return False
        j = (offset & _MASK) >> 3
        if j >= len(bits):
            return False
        mask = 1 << (offset & 7)
        value = bits[j]
        if not value & mask:
            return False
        if value == 255:
            self._full[offset >> _SHIFT][j] = 0
        bits[j] = value ^ mask
        self._count -= 1
        return True

    def allocate_next(self) -> int:
        """Allocate the offset the strategy picks.

        Raises:
            RangeFullError: ``range is full`` (nothing changed, no randomness drawn).
        """
        strategy = self.strategy
        if type(strategy) is RandomScan:
            # The fused path below gives the same offset and draws the same numbers as
            # RandomScan.next followed by allocate, at half the cost.
            offset = self.allocate_random(strategy.reserved_low, strategy.rng.getrandbits)
            if offset < 0:
                raise RangeFullError("range is full")
            return offset
        offset = strategy.next(self)
        if offset < 0:
            raise RangeFullError("range is full")
        self.allocate(offset)
        return offset

    def allocate_random(self, reserved_low: int, getrandbits: Callable[[int], int]) -> int:
        """``RandomScan(reserved_low, rng).next`` and ``allocate`` in one call; -1 when full.

        ``getrandbits`` is the generator's bound ``getrandbits``. The offset chosen and
        the numbers drawn are exactly those of ``RandomScan.next`` (service-ips.md §1.6:
        a uniform start in the upper band ``[reserved_low, size)``, the first free
        offset from there with wrap-around, and only when that band is full the same
        over ``[0, reserved_low)``); a full bitmap draws nothing and changes nothing.
        """
        # Hot path of ServiceIPAllocator.allocate_next (benchmarks/bench_service_ips.py,
        # W1/W2/W4): draw the start, test that one bit directly and set it when free,
        # which is what happens on all but the last few per cent of a fill. No property,
        # min() or first_free call is made on that path; each costs ~0.1 us here.
        size = self._size
        if self._count >= size:
            return -1
        lo = reserved_low if reserved_low < size else size
        n = size - lo
        if n > 0:
            k = n.bit_length()
            offset = getrandbits(k)
            while offset >= n:
                offset = getrandbits(k)
            offset += lo
            chunk = offset >> _SHIFT
            bits = self._bits.get(chunk)
            j = (offset & _MASK) >> 3
            if bits is not None and j < len(bits):
                value = bits[j]
                mask = 1 << (offset & 7)
                if not value & mask:
                    value |= mask
                    bits[j] = value
                    if value == 255:
                        self._full[chunk][j] = 1
                    self._count += 1
                    return offset
                found = self.first_free(offset, size)
                if found < 0 and offset > lo:
                    found = self.first_free(lo, offset)
            else:
                found = offset  # a byte not grown yet is all free
            if found >= 0:
                self.allocate(found)
                return found
        if lo > 0:
            k = lo.bit_length()
            offset = getrandbits(k)
            while offset >= lo:
                offset = getrandbits(k)
            found = self.first_free(offset, lo)
            if found < 0 and offset > 0:
                found = self.first_free(0, offset)
            if found >= 0:
                self.allocate(found)
                return found
        return -1

    def random_allocator(self, reserved_low: int, rng: _random.Random) -> Callable[[], int]:
        """A function that does ``allocate_random(reserved_low, rng.getrandbits)``.

        Built once per caller, it keeps the band sizes and this bitmap's storage in
        closure cells instead of looking them up on every call (about a third cheaper).
        It stays valid for the life of this bitmap: the storage dicts are never
        replaced, only filled.
        """
        # Hot path of ServiceIPAllocator.allocate_next (benchmarks/bench_service_ips.py,
        # W1/W2/W4, target <= 1.2 us with the IPAddress): one frame, no attribute lookup
        # but the count, no len()/None test (a byte not grown yet raises and goes the
        # slow way), the random start probed directly.
        size = self._size
        lo = reserved_low if reserved_low < size else size
        n = size - lo
        k = n.bit_length()
        getrandbits = rng.getrandbits
        bits_of = self._bits.get
        full_of = self._full
        slow = self.allocate_random
        bitmap = self

        def allocate() -> int:
            if n <= 0 or bitmap._count >= size:
                return slow(lo, getrandbits)
            offset = getrandbits(k)
            while offset >= n:
                offset = getrandbits(k)
            offset += lo
            chunk = offset >> 16
            j = (offset & 0xFFFF) >> 3
            try:
                bits = bits_of(chunk)
                value = bits[j]  # type: ignore[index]
            except (TypeError, IndexError):
                bitmap.allocate(offset)  # storage not grown that far: the bit is free
                return offset
            mask = 1 << (offset & 7)
            if value & mask:
                # The start is taken (the common case late in a fill): look for the
                # first free bit after it in the same chunk here, at C speed through
                # the summary, instead of calling first_free (W1/W2 "last 10 %" and
                # W4 figures). Anything else (next chunk, wrap-around, lower band,
                # storage not grown) goes the general way.
                above = value | (mask - 1)  # the start and the bits below it count as taken
                if above == 255:
                    j = full_of[chunk].find(0, j + 1)
                    if j < 0:
                        return _taken_start(bitmap, offset, lo, size, getrandbits)
                    value = above = bits[j]  # type: ignore[index]
                mask = ~above & (above + 1)  # lowest free bit, also free in value
                found = (chunk << 16) | (j << 3) | (mask.bit_length() - 1)
                if found >= size:
                    return _taken_start(bitmap, offset, lo, size, getrandbits)
                offset = found
            value |= mask
            bits[j] = value  # type: ignore[index]
            if value == 255:
                full_of[chunk][j] = 1
            bitmap._count += 1
            return offset

        return allocate

    def offset_ops(
        self,
    ) -> tuple[Callable[[int], bool], Callable[[int], bool], Callable[[int], bool]]:
        """Fast ``(contains, allocate, release)`` functions bound to this bitmap's storage.

        They behave as ``offset in bitmap``, ``bitmap.allocate`` and ``bitmap.release``,
        except that ``allocate`` does not check its argument: the caller guarantees
        ``0 <= offset < size`` (an allocator that has just mapped an address to an
        offset knows it). Valid for the life of this bitmap, like ``random_allocator``.
        """
        # Hot paths of ServiceIPAllocator.release/__contains__/allocate
        # (benchmarks/bench_service_ips.py W1 release, W4, W6): one frame each with the
        # storage in closure cells; a byte not grown yet raises and goes the slow way.
        bits_of = self._bits.get
        full_of = self._full
        slow_allocate = self.allocate
        bitmap = self

        # A missing chunk reads as zeros: raising costs more than the whole lookup, and
        # misses on an empty range are W6's first figure.
        def contains(offset: int) -> bool:
            try:
                byte = bits_of(offset >> 16, _ZEROS)[(offset & 0xFFFF) >> 3]
            except IndexError:
                return False
            return (byte >> (offset & 7)) & 1 == 1

        def allocate(offset: int) -> bool:
            j = (offset & 0xFFFF) >> 3
            try:
                bits = bits_of(offset >> 16)
                value = bits[j]  # type: ignore[index]
            except (TypeError, IndexError):
                return slow_allocate(offset)
            mask = 1 << (offset & 7)
            if value & mask:
                return False
            value |= mask
            bits[j] = value  # type: ignore[index]
            if value == 255:
                full_of[offset >> 16][j] = 1
            bitmap._count += 1
            return True

        def release(offset: int) -> bool:
            chunk = offset >> 16
            j = (offset & 0xFFFF) >> 3
            bits = bits_of(chunk, _ZEROS)
            try:
                value = bits[j]
            except IndexError:
                return False
            mask = 1 << (offset & 7)
            if not value & mask:
                return False  # never writes to _ZEROS: no bit is set there
            if value == 255:
                full_of[chunk][j] = 0
            bits[j] = value ^ mask  # type: ignore[index]
            bitmap._count -= 1
            return True

        return contains, allocate, release

    # --- search --------------------------------------------------------------------
    def first_free(self, lo: int, hi: int) -> int:
        """The lowest free offset in ``[lo, hi)``, or -1."""
        offset = lo
        bits_of = self._bits
        while offset < hi:
            chunk = offset >> _SHIFT
            bits = bits_of.get(chunk)
            if bits is None:
                return offset
            j = (offset & _MASK) >> 3
            n = len(bits)
            if j >= n:
                return offset
            # Treat the bits below `offset` in its byte as taken.
            value = bits[j] | ((1 << (offset & 7)) - 1)
            if value == 255:
                j = self._full[chunk].find(0, j + 1)
                if j < 0:
                    if n < _CHUNK_BYTES:
                        j = n  # the first byte past the grown part is all free
                    else:
                        offset = (chunk + 1) << _SHIFT
                        continue
                value = bits[j] if j < n else 0
            found = (chunk << _SHIFT) | (j << 3) | ((~value & (value + 1)).bit_length() - 1)
            return found if found < hi else -1
        return -1

    # --- iteration and bulk views ------------------------------------------------------
    def __iter__(self) -> Iterator[int]:
        """Allocated offsets, ascending."""
        for chunk in sorted(self._bits):
            bits = self._bits[chunk]
            base = chunk << _SHIFT
            for j, value in enumerate(bits):
                if value:
                    at = base + (j << 3)
                    while value:
                        low = value & -value
                        yield at + low.bit_length() - 1
                        value ^= low

    def copy(self) -> AllocationBitmap:
        """An independent copy; the strategy object is shared, pass a new one to change it."""
        other = AllocationBitmap(self._size, self.strategy)
        other._count = self._count
        other._bits = {c: bytearray(b) for c, b in self._bits.items()}
        other._full = {c: bytearray(b) for c, b in self._full.items()}
        return other

    def highest(self) -> int:
        """The highest allocated offset, or -1 when empty."""
        for chunk in sorted(self._bits, reverse=True):
            bits = self._bits[chunk].rstrip(b"\x00")
            if bits:
                return (chunk << _SHIFT) + (len(bits) - 1) * 8 + bits[-1].bit_length() - 1
        return -1

    def to_k8s_bytes(self) -> bytes:
        """Go's ``big.Int.Bytes()`` of the bitmap: big-endian, no leading zero bytes.

        Offset ``i`` is bit ``i % 8`` of byte ``len - 1 - i // 8`` (service-ips.md §1.9).
        Little-endian bit order inside our bytes makes the encoding a byte reversal.
        """
        top = self.highest()
        if top < 0:
            return b""
        buf = bytearray(top // 8 + 1)
        for chunk, bits in self._bits.items():
            start = chunk * _CHUNK_BYTES
            if start < len(buf):
                part = bits[: len(buf) - start]
                buf[start : start + len(part)] = part
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
        while little and little[-1] == 0:
            little.pop()
        if not little:
            return bitmap
        top = (len(little) - 1) * 8 + little[-1].bit_length() - 1
        if top >= size:
            raise ValueError(f"bit {top} is set but the bitmap holds offsets 0 to {size - 1}")
        for start in range(0, len(little), _CHUNK_BYTES):
            part = little[start : start + _CHUNK_BYTES]
            chunk = start // _CHUNK_BYTES
            bitmap._bits[chunk] = part
            bitmap._full[chunk] = bytearray(part.translate(_FULL_TABLE))
        bitmap._count = int.from_bytes(little, "little").bit_count()
        return bitmap

    def __repr__(self) -> str:
        return f"<AllocationBitmap size={self._size} count={self._count} {self.strategy!r}>"


def _taken_start(
    bitmap: AllocationBitmap, start: int, lo: int, size: int, getrandbits: Callable[[int], int]
) -> int:
    """``RandomScan`` after the upper-band start ``start`` turned out taken."""
    found = bitmap.first_free(start, size)
    if found < 0 and start > lo:
        found = bitmap.first_free(lo, start)
    if found < 0 and lo > 0:
        k = lo.bit_length()
        start = getrandbits(k)
        while start >= lo:
            start = getrandbits(k)
        found = bitmap.first_free(start, lo)
        if found < 0 and start > 0:
            found = bitmap.first_free(0, start)
    if found >= 0:
        bitmap.allocate(found)
    return found


class _SparseBitmap(AllocationBitmap):
    """``AllocationBitmap`` of more than 2^24 offsets: a set of the allocated offsets.

    Same behaviour, same random draws; about 100 bytes per allocated offset whatever
    the spread, where dense chunks cost up to 16 KiB per touched 2^16 offsets.
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
        self._count += 1
        return True

    def release(self, offset: int) -> bool:
        taken = self._set
        if offset not in taken:
            return False
        taken.remove(offset)
        self._count -= 1
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
        if self._count >= size:
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
        other._count = self._count
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

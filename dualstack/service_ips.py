"""ServiceIPAllocator: Service ClusterIPs from one range, as kube-apiserver hands them out.

Purpose: the ``ipallocator.Range`` of kube-apiserver (service-ips.md §1) for every
release the library models: which addresses of a ``--service-cluster-ip-range`` are
usable, the static lower band of KEP-3070, the random scan of ``allocate_next``, the
exact error texts of each release, and the ``RangeAllocation`` bytes stored in etcd.

Key types:
- ``ServiceIPAllocator(cidr, *, version=None, rng=None, static_subrange=None,
  store=None)``:
  ``allocate``, ``allocate_next``, ``release``, ``in``, ascending iteration,
  ``size``/``static_size``/``free``/``used``, ``snapshot``/``restore``/``from_snapshot``,
  and int-level twins (``allocate_int``, ``allocate_next_int``, ``release_int``,
  ``has_int``, ``in_range_int``) for callers that already hold address ints.
- ``RangeAllocation(range, data)``: the etcd object's two fields (§1.9).

Offset map (bit ``i`` of the bitmap is address ``network + 1 + i``)::

    10.96.0.0/16:  .0.0 | .0.1 ... .1.0 | .1.1 ........ .255.254 | .255.255
                   net  | static band   | dynamic band           | broadcast
                        | offsets 0-255 | offsets 256-65533      |
    fd00::/64 (<= 1.33): ::1 ... ::100 | ::101 ... ::ffff | rest of the /64: not in range

Invariants: every allocated address lies in the usable range ``base .. base + size - 1``;
``free + used == size``; ``allocate_next`` fills the dynamic band before the static band;
a failing call changes nothing, random generator included (a full range draws nothing,
and every check runs before the first change); ``allocate_next`` and iteration return
fresh netaddr objects, ``allocate`` returns the caller's ``IPAddress`` itself (text input:
a new one); the allocator never keeps a reference to either.

Speed: ``allocate``, ``allocate_next``, ``release`` and ``in`` are single fused
functions for ``IPAddress`` input that work on the bitmap's bytes
(``AllocationBitmap.storage``, preallocated to ``size / 4`` bytes for ranges of up to
2^24 addresses) and keep its summary and ``count`` in step; the int-level twins and
text input go through the bitmap's methods. benchmarks/bench_service_ips.py measures
them (issue 2, W1-W6).

Shared state (``store=``, docs/etcd.md): the object becomes a
``_StoredServiceIPAllocator``, a subclass whose verbs (``allocate``, ``allocate_next``,
``release``, their int twins, ``restore``) each run through ``SharedState.update``:
applied to the latest stored ``RangeAllocation`` (kube-apiserver's key, value and
layout), written back with compare-and-swap, retried on conflict, as kube-apiserver's
``Etcd.tryUpdate``. A failing call also puts the random generator back. Views answer
from the state of the last store call; ``refresh()`` reads it again. Without a store
the plain class runs: the fused paths above pay nothing for the option.
"""

from __future__ import annotations

import base64 as _base64
import random as _random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final, TypeVar

import netaddr as _netaddr

from dualstack.bitmap import FIRST_FREE_BIT as _FIRST_FREE_BIT
from dualstack.bitmap import NEXT_FREE_AT as _NEXT_FREE_AT
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
from dualstack.families import IPFamily, format_ip, parse_cidr, parse_ip
from dualstack.pools import CIDRPool
from dualstack.profiles import Allocator, Profile
from dualstack.store import (
    MISMATCHED_NETWORK,
    RangeValue,
    RetryPolicy,
    SharedState,
    Store,
    StoreBacked,
    decode_range_value,
    encode_range_value,
    service_ips_key,
)

__all__ = [
    "MAX_ENCODED_SIZE",
    "RangeAllocation",
    "ServiceIPAllocator",
    "ipv4_mapped_overlap",
    "range_offset",
    "range_size",
    "usable_size",
]

MAX_ENCODED_SIZE: Final = 1 << 24
"""The most usable addresses a ``RangeAllocation`` bitmap encodes (service-ips.md §1.14)."""

_IPV6_WINDOW_DEFAULT: Final = 65536
_MAX_INT64: Final = (1 << 63) - 1
_MAX_UINT64: Final = (1 << 64) - 1
_IPV4_MAPPED_FIRST: Final = 0xFFFF << 32

_FULL: Final = "range is full"
_ALLOCATED: Final = "provided IP is already allocated"

# netaddr's public pickling entry points build an IPAddress in 0.24 us instead of
# 0.8 us for IPAddress(int, version) (the same trick as families.make_ip, inlined here
# to save a call on the allocate_next hot path, benchmarks/bench_service_ips.py W1).
_IPAddress = _netaddr.IPAddress
_new_ip: Callable[[type[_netaddr.IPAddress]], _netaddr.IPAddress] = _netaddr.IPAddress.__new__
_set_ip: Callable[[_netaddr.IPAddress, tuple[int, int]], None]
_set_ip = _netaddr.IPAddress.__setstate__  # type: ignore[attr-defined]
T = TypeVar("T")

_BIT_MASK: Final = (1, 2, 4, 8, 16, 32, 64, 128)
"""``_BIT_MASK[b] == 1 << b``: a tuple index is one operation less than the shift."""
_BIT_SET_AT: Final[tuple[tuple[bool, ...], ...]] = tuple(
    tuple(bool(byte >> b & 1) for byte in range(256)) for b in range(8)
)
"""``_BIT_SET_AT[b][byte]``: whether bit ``b`` of ``byte`` is set (membership). Indexed
by two small ints, so a test makes no int object (CPython caches -5..256)."""


# --- Kubernetes rules (pure functions) ------------------------------------------------
def range_size(host_bits: int, family: IPFamily) -> int:
    """kubernetes/utils ``RangeSize`` of a CIDR with ``host_bits`` host bits (§1.2).

    0 for IPv4 /0 and /1 and IPv6 /0 and /1, 2^63-1 from 63 host bits on, else 2^h.
    """
    if host_bits >= family.width - 1:
        return 0
    if host_bits >= 63:
        return _MAX_INT64
    return 1 << host_bits


def usable_size(host_bits: int, family: IPFamily, profile: Profile) -> int:
    """How many addresses of the CIDR a release's allocator hands out (§1.3, §1.12).

    Bitmap (up to 1.33): ``RangeSize``, capped at the IPv6 window before the network
    address is dropped, minus the IPv4 broadcast and the network address. IPAddress
    allocator (1.34+): 2^h - 2 for IPv4, 2^h - 1 for IPv6 saturating at 2^64 - 1.
    """
    window = profile.ipv6_service_window
    if window is None:
        if family is IPFamily.IPv4:
            return max(0, (1 << host_bits) - 2)
        return min((1 << host_bits) - 1, _MAX_UINT64)
    size = range_size(host_bits, family)
    size = min(size, window) if family is IPFamily.IPv6 else size - 1
    return max(0, size - 1)


def ipv4_mapped_overlap(first: int, size: int) -> tuple[str, str] | None:
    """``(message, hint)`` when the usable addresses of an IPv6 range (``first + 1`` to
    ``first + size``) reach ``::ffff:0:0/96``, else ``None``.

    Only a whole-range release (1.34+) gets there: a range whose 65535-address window
    reached the block would have to start at ``::ffff:0:0``, which is refused as IPv4.
    Kubernetes reads those addresses as IPv4 and refuses IPAddress objects named so.
    """
    last_mapped = _IPV4_MAPPED_FIRST + (1 << 32) - 1
    if size <= 0 or first + 1 > last_mapped or first + size < _IPV4_MAPPED_FIRST:
        return None
    cidr_hint = "use an IPv6 range outside ::ffff:0:0/96, e.g. fd00:10:96::/108"
    return (
        "contains the IPv4-mapped block ::ffff:0:0/96, whose addresses Kubernetes reads as IPv4",
        cidr_hint,
    )


def range_offset(host_bits: int, family: IPFamily) -> int:
    """``calculateRangeOffset``: the size of the static lower band (§1.5).

    Uses the full, uncapped ``RangeSize``: 0 up to 16 addresses, else
    ``clamp(size // 16, 16, 256)``.
    """
    size = range_size(host_bits, family)
    if size <= 16:
        return 0
    return min(max(16, size // 16), 256)


# --- values ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RangeAllocation:
    """The two data fields of kube-apiserver's ``RangeAllocation`` object (§1.9).

    ``range`` is the canonical CIDR text; ``data`` is Go's ``big.Int.Bytes()`` of the
    bitmap: big-endian, no leading zero bytes, offset ``i`` is bit ``i % 8`` of byte
    ``len(data) - 1 - i // 8``, address ``network + 1 + i``.
    """

    range: str
    data: bytes = b""

    def __post_init__(self) -> None:
        # bytes(data) of an int would be that many zero bytes: an empty bitmap that a
        # restore takes without a word, so only byte strings are taken.
        if not isinstance(self.range, str):
            raise DualStackError(
                f"RangeAllocation range must be a CIDR string, got {self.range!r}",
                hint='e.g. RangeAllocation("10.96.0.0/12", data)',
            )
        data: object = self.data
        if isinstance(data, bytearray | memoryview):
            object.__setattr__(self, "data", bytes(data))
        elif not isinstance(data, bytes):
            raise DualStackError(
                f"RangeAllocation data must be bytes, got {type(data).__name__} {data!r:.60}",
                hint="give the bitmap's bytes (big-endian, as kube-apiserver stores it), "
                "or use RangeAllocation.from_dict for its base64 JSON form",
            )

    def to_dict(self) -> dict[str, str]:
        """The JSON form kube-apiserver uses: ``{"range": ..., "data": <base64>}``."""
        return {"range": self.range, "data": _base64.b64encode(self.data).decode("ascii")}

    @classmethod
    def from_dict(cls, obj: dict[str, str]) -> RangeAllocation:
        """Read the JSON form (``data`` base64, absent or empty for an empty bitmap).

        Raises:
            DualStackError: ``obj`` is not such a mapping, or ``data`` is not base64.
        """
        if not isinstance(obj, dict) or not isinstance(obj.get("range"), str):
            raise DualStackError(
                f"not a RangeAllocation: {obj!r:.80}",
                hint='give {"range": "<cidr>", "data": "<base64>"}',
            )
        text = obj.get("data") or ""
        try:
            data = _base64.b64decode(text, validate=True)
        except (ValueError, TypeError):  # binascii.Error is a ValueError
            raise DualStackError(
                f"RangeAllocation data is not base64: {text!r:.60}",
                hint="kube-apiserver stores the bitmap as standard base64 with padding",
            ) from None
        return cls(obj["range"], data)

    def __repr__(self) -> str:
        return f"RangeAllocation(range={self.range!r}, data={self.data!r})"


# --- the allocator -----------------------------------------------------------------------
class ServiceIPAllocator(StoreBacked["ServiceIPAllocator"]):
    """ClusterIPs from one Service range, with kube-apiserver's rules for ``version``.

    Args:
        cidr: the range, e.g. ``"10.96.0.0/12"`` (host bits are cleared, as upstream).
        version: Kubernetes minor version (``"1.16"`` ... newest); ``None`` is the newest.
        rng: the random generator of ``allocate_next``; a fresh ``random.Random()`` when
            ``None``. The allocator draws from it only in ``allocate_next``.
        static_subrange: ``ServiceIPStaticSubrange`` on or off; ``None`` is the
            release's default (on from 1.25).
        allocator: the Service IP allocator model (``"bitmap"``,
            ``"multicidr-dualwrite"``, ``"multicidr"``) when feature gates move the
            release off its default (``ClusterConfig.service_allocator``); ``None`` is
            the release's default.
        store: keep the state in this ``Store`` (``MemoryStore``, ``EtcdStore``) as
            kube-apiserver keeps it in etcd, shared with every allocator of the range
            on it; ``None`` (the default) keeps it private, in memory.
        key: the key name in the store (default ``service_ips_key(0)``,
            ``ranges/serviceips``; the secondary range is ``service_ips_key(1)``).
        retry: attempts and back-off on write conflicts (default ``RetryPolicy()``).

    Raises:
        InvalidAddressError: ``cidr`` is not a CIDR.
        ConfigError: the release cannot serve this range (IPv6 shorter than /64 from
            1.33: ``shortest allowed prefix length for service CIDR is 64, got <n>``).
        DualStackError: ``store`` given for a range with no bitmap encoding.
        MismatchedNetworkError: the store holds another range at ``key``.
        StoreUnavailableError: the store cannot be read.
    """

    __slots__ = (
        "_alloc_random",
        "_base",
        "_bitmap",
        "_bits",
        "_dyn_k",
        "_dyn_n",
        "_family",
        "_fastver",
        "_find_room",
        "_full",
        "_getrandbits",
        "_ipver",
        "_offset",
        "_pool",
        "_profile",
        "_rng",
        "_scan_cap",
        "_size",
        "_wrap_from",
    )

    def __init__(
        self,
        cidr: str | _netaddr.IPNetwork | CIDRPool,
        *,
        version: str | None = None,
        rng: _random.Random | None = None,
        static_subrange: bool | None = None,
        allocator: Allocator | None = None,
        store: Store | None = None,
        key: str | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        pool = CIDRPool(cidr)
        profile = Profile.for_version(version)
        if allocator is not None:
            profile = profile.with_service_allocator(allocator)
        family = pool.family
        host_bits = pool.host_bits
        shortest = profile.min_ipv6_service_prefix
        if family is IPFamily.IPv6 and shortest is not None and pool.prefixlen < shortest:
            raise ConfigError(
                f"shortest allowed prefix length for service CIDR is {shortest}, "
                f"got {pool.prefixlen}",
                hint=f"Kubernetes {profile.version} serves IPv6 Service ranges of "
                f"/{shortest} or longer; use e.g. {pool.cidr.split('/')[0]}/108",
            )
        if static_subrange is None:
            static_subrange = profile.static_subrange_default
        size = usable_size(host_bits, family, profile)
        self._pool = pool
        self._profile = profile
        self._family = family
        self._ipver = family.version
        # netaddr input of this version skips parse_ip, unless the range overlaps
        # ::ffff:0:0/96, whose addresses Kubernetes reads as IPv4 (§1.1).
        mapped = range(_IPV4_MAPPED_FIRST, _IPV4_MAPPED_FIRST + (1 << 32))
        overlaps = pool.first <= mapped[-1] and mapped[0] <= pool.last
        problem = ipv4_mapped_overlap(pool.first, size) if family is IPFamily.IPv6 else None
        if problem is not None:
            # allocate_next would hand out addresses that read back as IPv4 (§1.1).
            raise ConfigError(f"the Service range {pool.cidr} {problem[0]}", hint=problem[1])
        self._fastver = 0 if family is IPFamily.IPv6 and overlaps else family.version
        self._base = pool.first + 1
        self._size = size
        self._offset = range_offset(host_bits, family) if static_subrange else 0
        self._rng = rng if rng is not None else _random.Random()
        self._getrandbits = self._rng.getrandbits
        self._set_bitmap(AllocationBitmap(size, RandomScan(self._offset, self._rng)))
        self._shared = None
        if store is not None:
            self._check_encodable()
            self.__class__ = _StoredServiceIPAllocator
            shared = SharedState(
                store,
                key if key is not None else service_ips_key(0),
                decode=self._load,
                encode=ServiceIPAllocator._dump,
                policy=retry,
            )
            self._shared = shared
            shared.refresh()  # start from the stored state (and check it is ours)

    def _set_bitmap(self, bitmap: AllocationBitmap) -> None:
        # Full-size storage from the start (a random scan grows it that far within a
        # few allocations anyway): in-range lookups below then never raise IndexError,
        # which costs ~1 us where the W6 membership-miss target is 0.25 us.
        bitmap.preallocate()
        self._bitmap = bitmap
        self._alloc_random = bitmap.random_allocator(self._offset, self._rng)
        # The fused hot paths below read and write these bytes directly (see
        # AllocationBitmap.storage); a bitmap of more than 2^24 offsets hands out empty
        # ones, whose IndexError sends every call the general way.
        self._bits, self._full = bitmap.storage()
        self._find_room = self._full.find  # bound once: one lookup less per miss
        # allocate_next's inline wrap-around searches the summary from the byte where
        # the dynamic band starts; a band that starts inside a byte gets an empty
        # search (past the summary), which sends it the general way.
        lo_bit = self._offset & 7
        self._wrap_from = self._offset >> 3 if lo_bit == 0 else len(self._full) + 1
        lo = min(self._offset, self._size)
        self._dyn_n = self._size - lo
        self._dyn_k = self._dyn_n.bit_length()
        # allocate_next's inline scan runs while used < _scan_cap: never for sparse
        # storage or an empty dynamic band (those go through _alloc_random).
        dense = type(bitmap) is AllocationBitmap
        self._scan_cap = self._size if dense and self._dyn_n > 0 else -1

    # --- views ----------------------------------------------------------------------
    @property
    def pool(self) -> CIDRPool:
        """The range as a ``CIDRPool``."""
        return self._pool

    @property
    def family(self) -> IPFamily:
        """The range's IP family."""
        return self._family

    @property
    def profile(self) -> Profile:
        """The release whose rules apply."""
        return self._profile

    @property
    def size(self) -> int:
        """Number of allocatable addresses (upstream ``max``)."""
        return self._size

    @property
    def static_size(self) -> int:
        """Size of the static lower band (``calculateRangeOffset``; 0 when off)."""
        return self._offset

    @property
    def free(self) -> int:
        """Addresses not allocated: ``size - used``."""
        return self._size - self._bitmap.count

    @property
    def used(self) -> int:
        """Addresses allocated."""
        return self._bitmap.count

    @property
    def first(self) -> int:
        """The first usable address as an int (network + 1; offset 0)."""
        return self._base

    def __len__(self) -> int:
        return self._bitmap.count

    # --- errors ---------------------------------------------------------------------
    def _usable_text(self) -> str:
        if self._size == 0:
            return f"{self._pool.cidr} has no usable address"
        first = format_ip(self._base, self._family)
        last = format_ip(self._base + self._size - 1, self._family)
        return f"usable addresses of {self._pool.cidr} are {first} to {last}"

    def _int_address(self, value: object) -> int:
        """``value`` as an address int (an int subclass such as bool is taken as int)."""
        if isinstance(value, int):
            return int(value)
        raise InvalidAddressError(
            f"{value!r} is not an address int", value=value, hint="use allocate() for text"
        )

    def _not_in_range(self, value: int, family: IPFamily) -> InvalidAddressError | NotInRangeError:
        """The release's answer to ``allocate`` of an address it cannot serve (§1.14)."""
        if not 0 <= value < 1 << family.width:
            return InvalidAddressError(
                f"{value} is not an {family} address (ints from 0 to 2^{family.width} - 1)",
                value=value,
                hint=f"give the int of a usable address ({self._usable_text()})",
            )
        pool = self._pool
        hint = self._usable_text()
        if self._profile.allocator != "bitmap":
            # 1.33+: the ServiceCIDR lookup runs first; it excludes the network address
            # and the IPv4 broadcast (servicecidr.PrefixContainsIP, §1.12, §1.12a).
            inside = (
                pool.contains_int(value, family)
                and value != pool.first
                and (family is IPFamily.IPv6 or value != pool.last)
            )
            if not inside:
                return NotInRangeError(MISMATCHED_NETWORK, hint=hint)
        if self._profile.not_in_range_style == "short":
            message = (
                f"provided IP is not in the valid range. The range of valid IPs is {pool.cidr}"
            )
        else:
            message = (
                f"the provided IP ({format_ip(value, family)}) is not in the valid range. "
                f"The range of valid IPs is {pool.cidr}"
            )
        return NotInRangeError(message, hint=hint)

    def _full_error(self) -> RangeFullError:
        return RangeFullError(
            _FULL,
            hint=f"all {self._size} usable addresses of {self._pool.cidr} are allocated; "
            "release one or use a larger range",
        )

    def _offset_of(self, ip: object) -> int:
        """The bitmap offset of ``ip``, or -1 when it is outside the usable range."""
        value, family = parse_ip(ip)
        if family is not self._family:
            return -1
        offset = value - self._base
        return offset if 0 <= offset < self._size else -1

    # --- allocation -----------------------------------------------------------------
    # allocate, allocate_next, release and __contains__ are each one fused function for
    # netaddr input: one netaddr call (the public pickling method __getstate__, which
    # gives value and version together) and then direct byte operations on the bitmap
    # storage (AllocationBitmap.storage), no further Python-level call. Each Python call
    # costs ~0.1 us on a 2-core machine, and the targets are 0.25 us (membership),
    # 0.4 us (allocate), 0.35 us (release) and 1.2 us (allocate_next, IPAddress
    # included): benchmarks/bench_service_ips.py W1, W4, W6.
    #
    # The fast path takes any object whose state is an ``(int, version)`` pair of the
    # range's version: IPAddress and its subclasses. It asks the object itself
    # (``ip.__getstate__()``) instead of testing ``type(ip)`` first, which saves a
    # check per call; whatever has another state goes the general way (parse_ip) from
    # the ``except``: text and ints (state None), IPNetwork (a 3-tuple), IPv4-mapped
    # addresses of a range inside ::ffff:0:0/96 (``_fastver`` 0 matches no version).
    # allocate, release and __contains__ repeat that short prologue on purpose: a
    # shared helper would put one more Python call (~0.1 us) on each of them.
    def allocate(self, ip: str | _netaddr.IPAddress) -> _netaddr.IPAddress:
        """Reserve ``ip`` (a static allocation; either band is allowed, §1.7).

        Returns:
            The address as a fresh ``IPAddress`` (an IPv4-mapped IPv6 address comes
            back as IPv4, which is how Kubernetes reads it).

        Raises:
            InvalidAddressError: ``ip`` is not an IP address.
            NotInRangeError: ``ip`` is not a usable address of the range; the text is
                the release's (§1.14).
            AlreadyAllocatedError: ``provided IP is already allocated`` (also when the
                range is full: a specific request never sees ``range is full``).
        """
        value: int
        try:
            state = ip.__getstate__()
            value, version = state  # type: ignore[misc]
            offset = value - self._base
        except (AttributeError, TypeError, ValueError):
            version = None
        if version == self._fastver and 0 <= offset < self._size:
            # Set bit `offset` of the storage and keep summary and count in step
            # (AllocationBitmap.allocate, inlined; W6 allocate(ip)).
            j = offset >> 3
            bits = self._bits
            try:
                byte = bits[j]
            except IndexError:
                return self._allocate_value(value, self._family)
            mask = _BIT_MASK[offset & 7]
            if byte & mask:
                raise self._taken_error(value, self._family)
            byte |= mask
            bits[j] = byte
            if byte == 255:
                self._full[j] = 1
            self._bitmap.count += 1
            # A fresh IPAddress (CONTRACT: every IP returned is fresh; netaddr objects
            # are mutable): built from the state just read, the cheapest public way.
            new = _new_ip(_IPAddress)
            _set_ip(new, state)
            return new
        value, family = parse_ip(ip)
        return self._allocate_value(value, family)

    def _allocate_value(self, value: int, family: IPFamily) -> _netaddr.IPAddress:
        """``allocate`` of a parsed address, the general way."""
        if family is not self._family:
            raise self._not_in_range(value, family)
        # The plain verb by name: a store-backed subclass overrides allocate_int, and
        # this runs inside its update already.
        ServiceIPAllocator.allocate_int(self, value)
        new = _new_ip(_IPAddress)
        _set_ip(new, (value, self._ipver))
        return new

    def _taken_error(self, value: int, family: IPFamily) -> AlreadyAllocatedError:
        return AlreadyAllocatedError(
            _ALLOCATED, hint=f"{format_ip(value, family)} is in use; release it first"
        )

    def allocate_next(self) -> _netaddr.IPAddress:
        """Reserve a free address: random in the dynamic band, then the static band.

        Returns:
            The address as a fresh ``IPAddress``.

        Raises:
            RangeFullError: ``range is full`` (no random number is drawn).
        """
        bitmap = self._bitmap
        if bitmap.count >= self._scan_cap:
            # Full, sparse storage or no dynamic band: the bitmap's general scan.
            offset = self._alloc_random()
            if offset < 0:
                raise self._full_error()
        else:
            # RandomScan inlined (tests/test_service_ips.py checks it against
            # RandomScan.next): a uniform start in the dynamic band, then the first
            # free offset at or after it, else the first one of the band before it.
            # Late in a fill the start is mostly taken, so that path is one table
            # lookup, or one find on the summary at C speed, and costs about what a
            # free start does (W1/W2 "last 10 %" ratio <= 1.3, W4). The storage is
            # preallocated, so bits[j] never raises here.
            n = self._dyn_n
            k = self._dyn_k
            getrandbits = self._getrandbits
            start = getrandbits(k)
            while start >= n:
                start = getrandbits(k)
            start += self._offset
            j = start >> 3
            bits = self._bits
            byte = bits[j]
            # The first free bit at or after the start's bit in its byte (8: none), so
            # a taken start inside a byte with room costs what a free one does.
            bit = _NEXT_FREE_AT[start & 7][byte]
            if bit == 8:
                # Byte full from the start on: the next byte that is not full, found
                # by one memchr over the summary; none up to the end: _wrap_around.
                j = self._find_room(0, j + 1)
                if j < 0:
                    return self._wrap_around(start)
                byte = bits[j]
                bit = _FIRST_FREE_BIT[byte]
            offset = j << 3 | bit
            if offset >= self._size:
                # The range ends inside its last byte, whose bits past the end stay
                # free (so that byte never counts as full): nothing free up to the end.
                return self._wrap_around(start)
            byte |= 1 << bit
            bits[j] = byte
            if byte == 255:
                self._full[j] = 1
            bitmap.count += 1
        new = _new_ip(_IPAddress)
        _set_ip(new, (self._base + offset, self._ipver))
        return new

    def _wrap_around(self, start: int) -> _netaddr.IPAddress:
        """``allocate_next`` after its inline scan found nothing free from ``start`` up to
        the end of the range: the first free offset from the start of the dynamic band,
        else (that band full) a random one in the static band.

        When the band starts on a byte boundary, one more summary search settles it; if
        it finds nothing, the band is known full, and only the static band is scanned
        (the bitmap's general scan would search the whole band twice more: ~2 us on a
        /12, for each of the last addresses of a fill). Otherwise the general scan from
        the same start does it all. The draws are those of ``RandomScan.next``.
        """
        bitmap = self._bitmap
        if self._wrap_from < len(self._full):
            j = self._find_room(0, self._wrap_from, (start >> 3) + 1)
            if j < 0:
                offset = bitmap.allocate_random_below(self._offset, self._getrandbits)
            else:
                # The start's own byte may turn up with room only below the start.
                offset = j << 3 | _FIRST_FREE_BIT[self._bits[j]]
                if offset < self._size:
                    bitmap.allocate(offset)
                else:
                    offset = bitmap.allocate_random_from(start, self._offset, self._getrandbits)
        else:
            offset = bitmap.allocate_random_from(start, self._offset, self._getrandbits)
        if offset < 0:
            raise self._full_error()  # unreachable: the caller saw a free address
        new = _new_ip(_IPAddress)
        _set_ip(new, (self._base + offset, self._ipver))
        return new

    def release(self, ip: str | _netaddr.IPAddress) -> None:
        """Free ``ip``; a no-op when it is not allocated or not in the range (§1.8).

        Raises:
            InvalidAddressError: ``ip`` is not an IP address.
        """
        value: int
        try:
            value, version = ip.__getstate__()  # type: ignore[misc]
            offset = value - self._base
        except (AttributeError, TypeError, ValueError):
            version = None
        if version == self._fastver:
            if offset >= 0:
                # Clear bit `offset` if set (AllocationBitmap.release inlined; W1
                # release, W4). Offsets past the range are never set, so only the
                # lower bound needs a test; past the storage means sparse or free.
                j = offset >> 3
                bits = self._bits
                try:
                    byte = bits[j]
                except IndexError:
                    self._bitmap.release(offset)
                    return
                mask = _BIT_MASK[offset & 7]
                if byte & mask:
                    if byte == 255:
                        self._full[j] = 0
                    bits[j] = byte ^ mask
                    self._bitmap.count -= 1
            return
        offset = self._offset_of(ip)
        if offset >= 0:
            self._bitmap.release(offset)

    def __contains__(self, ip: object) -> bool:
        """Whether ``ip`` is allocated (upstream ``Has``); False outside the range."""
        value: int
        try:
            value, version = ip.__getstate__()  # type: ignore[misc]
            offset = value - self._base
        except (AttributeError, TypeError, ValueError):
            version = None
        if version == self._fastver:
            if offset < 0:
                return False
            # Bit `offset` of the storage, by one table lookup (W6 membership).
            # Offsets past the range are never set; past the storage: free, or
            # sparse storage.
            try:
                return _BIT_SET_AT[offset & 7][self._bits[offset >> 3]]
            except IndexError:
                return offset in self._bitmap
        offset = self._offset_of(ip)
        return offset >= 0 and offset in self._bitmap

    def __iter__(self) -> Iterator[_netaddr.IPAddress]:
        """The allocated addresses, ascending, as fresh ``IPAddress`` objects."""
        base = self._base
        ipver = self._ipver
        for offset in self._bitmap:
            new = _new_ip(_IPAddress)
            _set_ip(new, (base + offset, ipver))
            yield new

    # --- int-level twins (for callers that already hold address ints) -------------------
    def in_range_int(self, value: int) -> bool:
        """Whether the address int ``value`` (of this range's family) is usable."""
        return 0 <= value - self._base < self._size

    def has_int(self, value: int) -> bool:
        """Whether the address int ``value`` is allocated."""
        offset = value - self._base
        return 0 <= offset < self._size and offset in self._bitmap

    def allocate_int(self, value: int) -> None:
        """``allocate`` for an address int of this range's family; same errors.

        Raises:
            InvalidAddressError: ``value`` is not an int address of this family.
        """
        if type(value) is not int:
            value = self._int_address(value)
        offset = value - self._base
        if not 0 <= offset < self._size:
            raise self._not_in_range(value, self._family)
        if not self._bitmap.allocate(offset):
            raise self._taken_error(value, self._family)

    def allocate_next_int(self) -> int:
        """``allocate_next`` returning the address as an int; same errors."""
        offset = self._alloc_random()
        if offset < 0:
            raise self._full_error()
        return self._base + offset

    def release_int(self, value: int) -> bool:
        """``release`` of an address int; True when it was allocated and is now free."""
        offset = value - self._base
        return 0 <= offset < self._size and self._bitmap.release(offset)

    def iter_ints(self) -> Iterator[int]:
        """The allocated addresses as ints, ascending."""
        base = self._base
        return (base + offset for offset in self._bitmap)

    # --- snapshots --------------------------------------------------------------------
    def _check_encodable(self) -> None:
        if self._size > MAX_ENCODED_SIZE:
            raise DualStackError(
                f"no RangeAllocation bitmap encodes {self._pool.cidr}: {self._size} usable "
                f"addresses, at most {MAX_ENCODED_SIZE}",
                hint="use a range of at most 2^24 usable addresses (IPv4 /8, IPv6 /104) "
                "or the Cluster snapshot format",
            )

    def snapshot(self) -> RangeAllocation:
        """The state as kube-apiserver's ``RangeAllocation`` (§1.9).

        Raises:
            DualStackError: the range has more than 2^24 usable addresses (§1.14).
        """
        self._check_encodable()
        return RangeAllocation(self._pool.cidr, self._bitmap.to_k8s_bytes())

    def restore(self, snapshot: RangeAllocation) -> None:
        """Replace the state by ``snapshot``'s; the random generator is kept.

        Unlike upstream, data with a bit at or past ``size`` is refused (upstream keeps
        such bits, counts them as used and can answer ``range is full`` early, §1.9).

        Raises:
            InvalidAddressError: ``snapshot.range`` is not a CIDR.
            MismatchedNetworkError: ``the provided network does not match the current
                range``.
            DualStackError: the range has no bitmap encoding, or ``data`` sets a bit
                outside the usable range.
        """
        if not isinstance(snapshot, RangeAllocation):
            raise DualStackError(
                f"restore needs a RangeAllocation, got {type(snapshot).__name__}",
                hint="use RangeAllocation.from_dict for the JSON form",
            )
        self._check_encodable()
        first, prefixlen, family = parse_cidr(snapshot.range)
        pool = self._pool
        if (family, first, prefixlen) != (pool.family, pool.first, pool.prefixlen):
            raise MismatchedNetworkError(
                MISMATCHED_NETWORK,
                hint=f"the snapshot is of {snapshot.range!r}, this allocator serves {pool.cidr}",
            )
        try:
            bitmap = AllocationBitmap.from_k8s_bytes(
                snapshot.data, self._size, self._bitmap.strategy
            )
        except ValueError:
            top = int.from_bytes(snapshot.data, "big").bit_length() - 1
            raise DualStackError(
                f"RangeAllocation data for {pool.cidr} sets offset {top} "
                f"({format_ip(self._base + top, self._family)}), but only offsets 0 to "
                f"{self._size - 1} are usable",
                hint="kube-apiserver would keep such bits and count them as used; "
                "clear them or restore into the range that wrote the snapshot",
            ) from None
        self._set_bitmap(bitmap)

    @classmethod
    def from_snapshot(
        cls,
        snapshot: RangeAllocation,
        *,
        version: str | None = None,
        rng: _random.Random | None = None,
        static_subrange: bool | None = None,
        allocator: Allocator | None = None,
    ) -> ServiceIPAllocator:
        """A new allocator over ``snapshot.range`` holding ``snapshot``'s allocations.

        Raises:
            InvalidAddressError, ConfigError, DualStackError: as the constructor and
                ``restore``.
        """
        if not isinstance(snapshot, RangeAllocation):
            raise DualStackError(
                f"from_snapshot needs a RangeAllocation, got {type(snapshot).__name__}",
                hint="use RangeAllocation.from_dict for the JSON form",
            )
        new = cls(
            snapshot.range,
            version=version,
            rng=rng,
            static_subrange=static_subrange,
            allocator=allocator,
        )
        new.restore(snapshot)
        return new

    def copy(self, *, rng: _random.Random | None = None) -> ServiceIPAllocator:
        """An independent copy; its generator is ``rng`` or a copy of this one's state."""
        other = object.__new__(ServiceIPAllocator)
        for name in (
            "_pool",
            "_profile",
            "_family",
            "_ipver",
            "_fastver",
            "_base",
            "_size",
            "_offset",
        ):
            object.__setattr__(other, name, getattr(self, name))
        if rng is None:
            rng = _random.Random()
            rng.setstate(self._rng.getstate())
        other._rng = rng
        other._getrandbits = rng.getrandbits
        other._shared = None  # a copy is private: it must not write to the store
        bitmap = self._bitmap.copy()
        bitmap.strategy = RandomScan(self._offset, rng)
        other._set_bitmap(bitmap)
        return other

    def __repr__(self) -> str:
        return (
            f"<ServiceIPAllocator {self._pool.cidr} version={self._profile.version} "
            f"used={self.used}/{self._size} static_size={self._offset}>"
        )

    # --- the stored form (store=...) ---------------------------------------------------
    def _load(self, blob: bytes | None) -> ServiceIPAllocator:
        """Become the state stored in ``blob`` (``None``: nothing allocated); returns self.

        Raises:
            MismatchedNetworkError: the value is of another range.
            DualStackError: it is not a ``RangeAllocation``, or sets a bit outside the
                usable range.
        """
        key = self._shared.key if self._shared is not None else service_ips_key(0)
        strategy = RandomScan(self._offset, self._rng)
        if blob is None:
            self._set_bitmap(AllocationBitmap(self._size, strategy))
            return self
        try:
            value = decode_range_value(blob)
        except DualStackError as error:
            raise DualStackError(
                f"the value at {key} is not a RangeAllocation: {error}",
                hint="give each allocator its own key, or delete the value",
            ) from None
        if value.range != self._pool.cidr:
            raise MismatchedNetworkError(
                MISMATCHED_NETWORK,
                hint=f"{key} holds the range {value.range!r}, this allocator serves "
                f"{self._pool.cidr}; give it another key or store prefix",
            )
        try:
            bitmap = AllocationBitmap.from_k8s_bytes(bytes(value.data), self._size, strategy)
        except ValueError as error:
            raise DualStackError(
                f"the RangeAllocation at {key} does not fit {self._pool.cidr}: {error}",
                hint="kube-apiserver of another release may have written it; use the "
                "same version everywhere",
            ) from None
        self._set_bitmap(bitmap)
        return self

    def _dump(self) -> bytes:
        """The stored form: kube-apiserver's ``RangeAllocation`` of the range."""
        return encode_range_value(RangeValue(self._pool.cidr, self._bitmap.to_k8s_bytes()))


class _StoredServiceIPAllocator(ServiceIPAllocator):
    """A ``ServiceIPAllocator`` whose state lives in a store (built with ``store=``).

    Every verb that changes state runs its local counterpart through
    ``SharedState.update``. Failing calls (allocation errors, the store down, lost
    races) leave the cached state as it was (``SharedState`` rebuilds it from the value
    it came from) and put the random generator back where it was.
    """

    __slots__ = ()

    def _update(self, op: Callable[[ServiceIPAllocator], T]) -> T:
        saved = self._rng.getstate()  # a failing call puts the generator back too
        try:
            return super()._update(op)
        except BaseException:
            self._rng.setstate(saved)
            raise

    def allocate(self, ip: str | _netaddr.IPAddress) -> _netaddr.IPAddress:
        """As ``ServiceIPAllocator.allocate``, on the latest stored state.

        Raises:
            StoreError: the store failed or other writers won every attempt.
        """
        if self._offset_of(ip) < 0:
            # Not a usable address: the plain verb raises the release's error without
            # touching the state, and no store call is needed for that.
            return ServiceIPAllocator.allocate(self, ip)
        return self._update(lambda s: ServiceIPAllocator.allocate(s, ip))

    def allocate_next(self) -> _netaddr.IPAddress:
        """As ``ServiceIPAllocator.allocate_next``, on the latest stored state.

        Raises:
            RangeFullError: ``range is full`` (in the store).
            StoreError: the store failed or other writers won every attempt.
        """
        return self._update(ServiceIPAllocator.allocate_next)

    def release(self, ip: str | _netaddr.IPAddress) -> None:
        """As ``ServiceIPAllocator.release``, on the latest stored state."""
        if self._offset_of(ip) >= 0:  # outside the range: a no-op, no store call
            self._update(lambda s: ServiceIPAllocator.release(s, ip))

    def allocate_int(self, value: int) -> None:
        """As ``ServiceIPAllocator.allocate_int``, on the latest stored state."""
        if type(value) is not int:
            value = self._int_address(value)
        if not self.in_range_int(value):
            raise self._not_in_range(value, self._family)
        self._update(lambda s: ServiceIPAllocator.allocate_int(s, value))

    def allocate_next_int(self) -> int:
        """As ``ServiceIPAllocator.allocate_next_int``, on the latest stored state."""
        return self._update(ServiceIPAllocator.allocate_next_int)

    def release_int(self, value: int) -> bool:
        """As ``ServiceIPAllocator.release_int``, on the latest stored state."""
        if not self.in_range_int(value):
            return False
        return self._update(lambda s: ServiceIPAllocator.release_int(s, value))

    def restore(self, snapshot: RangeAllocation) -> None:
        """Store ``snapshot``'s state as the range's, for every allocator sharing it.

        Raises:
            As ``ServiceIPAllocator.restore``, and StoreError.
        """
        self._update(lambda s: ServiceIPAllocator.restore(s, snapshot))

    def __repr__(self) -> str:
        shared = self._shared
        assert shared is not None
        return f"{ServiceIPAllocator.__repr__(self)[:-1]} store={shared.key!r}@{shared.revision}>"

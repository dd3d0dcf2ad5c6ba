"""PodIPAllocator: Pod IPs inside one node CIDR, as the CNI ``host-local`` IPAM plugin.

Purpose: one host-local range (node-and-pod-ips.md §3.2-§3.3): a subnet with a gateway
and an inclusive ``rangeStart .. rangeEnd`` window, handed out round robin from the
address after the last one reserved, with wrap-around; the gateway is never handed out.

Key type: ``PodIPAllocator(node_cidr, *, gateway=None, range_start=None, range_end=None,
store=None)``.

Offset map (defaults for ``10.244.1.0/24``; IPv6 keeps the all-ones address)::

    address   10.244.1.0   .1         .2   ...   .254       .255
    offset    -            0          1    ...   253        -
    role      network      rangeStart            rangeEnd   broadcast (IPv4 only
              (outside)    = gateway                        excluded)

The gateway, when it lies in the window, is kept set in the bitmap so that no scan
ever returns it; ``size``, ``used``, membership and iteration leave it out.

Invariants: ``used`` counts the Pod addresses taken; ``last_reserved`` (upstream's
``last_reserved_ip``) is moved only by a successful ``allocate``/``allocate_next`` and
survives ``release``; every failing call changes nothing, cursor included. Addresses
handed out are fresh ``netaddr.IPAddress`` objects.

Shared state (``store=``, docs/etcd.md): the object becomes a ``_StoredPodIPAllocator``,
a subclass whose verbs (``allocate``, ``allocate_next``, ``release``, their int forms,
the ``last_reserved`` setter) each run through ``SharedState.update``: applied to the
latest stored state, written back with compare-and-swap, retried on conflict. The
stored value is a ``RangeAllocation`` of the node CIDR laid out as kube-apiserver's
(offset 0 is network + 1, so ``dualstack decode-range`` lists the Pod IPs), without the
gateway, with ``last_reserved`` in an annotation; bits outside this allocator's window
(another process configured with another window) are kept as they are. Views answer
from the state of the last store call; ``refresh()`` reads it again. Without a store
the plain class runs and its hot paths pay nothing for the option.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Final, TypeVar

import netaddr as _netaddr

from dualstack.bitmap import AllocationBitmap
from dualstack.errors import (
    AlreadyAllocatedError,
    ConfigError,
    NotInRangeError,
    RangeFullError,
)
from dualstack.families import IPFamily, IPInput, format_ip, make_ip, parse_cidr, parse_ip
from dualstack.pools import CIDRPool
from dualstack.store import (
    LAST_RESERVED_ANNOTATION,
    RangeValue,
    RetryPolicy,
    SharedState,
    Store,
    StoreBacked,
    check_storable,
    encode_range_value,
    pod_ips_key,
    read_range_value,
)

__all__ = ["PodIPAllocator"]

_IPAddress = _netaddr.IPAddress
_IPNetwork = _netaddr.IPNetwork
# netaddr's pickle protocol (public), as in families.make_ip: no parsing on the hot path.
_new_ip = _IPAddress.__new__
_set_ip: Callable[[_netaddr.IPAddress, tuple[int, int]], None]
_set_ip = _IPAddress.__setstate__  # type: ignore[attr-defined]  # missing from the stubs
_net_state: Callable[[_netaddr.IPNetwork], tuple[int, int, int]]
_net_state = _IPNetwork.__getstate__  # type: ignore[assignment]  # stubs say object

# host-local refuses a subnet with fewer than two host bits (/31, /32, /127, /128).
_MIN_HOST_BITS: Final = 2
T = TypeVar("T")


def _raw_cidr(cidr: object) -> tuple[int, int, IPFamily]:
    """``(address, prefixlen, family)`` of a CIDR *with* its host bits.

    host-local, unlike Kubernetes, refuses host bits, so they must survive parsing.
    """
    if isinstance(cidr, CIDRPool):
        return cidr.first, cidr.prefixlen, cidr.family
    if isinstance(cidr, _IPNetwork):
        value, prefixlen, version = _net_state(cidr)
        return value, prefixlen, IPFamily.IPv4 if version == 4 else IPFamily.IPv6
    _, prefixlen, family = parse_cidr(cidr)  # validates; only text gets this far
    value, _ = parse_ip(str(cidr).partition("/")[0])
    return value, prefixlen, family


class PodIPAllocator(StoreBacked["PodIPAllocator"]):
    """Pod IPs inside one node CIDR, as CNI host-local hands them out.

    Args:
        node_cidr: the node's Pod CIDR (text, ``netaddr.IPNetwork`` or ``CIDRPool``);
            host bits are refused as host-local refuses them.
        gateway: the gateway address (default: network + 1). host-local does not
            require it to lie in the subnet; it is never handed out.
        range_start: first address handed out (default: network + 1).
        range_end: last address handed out (default: the last address, minus one for
            IPv4 so that the broadcast address is left out).
        store: keep the state in this ``Store`` (``MemoryStore``, ``EtcdStore``) and
            share it with every allocator of the same node CIDR on it; ``None`` (the
            default) keeps it private, in memory.
        key: the key name in the store (default ``pod_ips_key(node_cidr)``).
        retry: attempts and back-off on write conflicts (default ``RetryPolicy()``).

    Raises:
        InvalidAddressError: an input is not an IP or a CIDR.
        ConfigError: with host-local's text, in its order (§3.2):
            ``Network <subnet> too small to allocate from`` (/31, /32, /127, /128);
            ``Network has host bits set. For a subnet mask of length <P> the network
            address is <net>``; ``RangeStart <ip> not in network <subnet>``;
            ``RangeEnd <ip> not in network <subnet>``.
        MismatchedNetworkError: the store holds another range at ``key``.
        StoreUnavailableError: the store cannot be read.

    Example: ``PodIPAllocator("10.244.1.0/24").allocate_next()`` is ``10.244.1.2``.
    """

    __slots__ = (
        "_bitmap",
        "_end",
        "_family",
        "_foreign",
        "_gateway",
        "_gateway_family",
        "_gateway_offset",
        "_last",
        "_n",
        "_pool",
        "_pos",
        "_range_text",
        "_set_bit",
        "_start",
        "_top",
        "_version",
    )

    def __init__(
        self,
        node_cidr: str | _netaddr.IPNetwork | CIDRPool,
        *,
        gateway: IPInput | None = None,
        range_start: IPInput | None = None,
        range_end: IPInput | None = None,
        store: Store | None = None,
        key: str | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        raw, prefixlen, family = _raw_cidr(node_cidr)
        width = family.width
        if prefixlen > width - _MIN_HOST_BITS:
            raise ConfigError(
                f"Network {format_ip(raw, family)}/{prefixlen} too small to allocate from",
                hint=f"host-local needs at least /{width - _MIN_HOST_BITS} "
                f"({'/30' if family is IPFamily.IPv4 else '/126'} or shorter)",
            )
        host = (1 << (width - prefixlen)) - 1
        network = raw & ~host
        if raw != network:
            raise ConfigError(
                "Network has host bits set. For a subnet mask of length "
                f"{prefixlen} the network address is {format_ip(network, family)}",
                hint=f"give {format_ip(network, family)}/{prefixlen}",
            )
        pool = CIDRPool.from_ints(network, prefixlen, family)
        subnet_text = pool.cidr
        last_address = network | host

        # An explicit rangeStart is checked against an explicit rangeEnd already, so
        # start > end reports RangeStart (§3.2 step 6). Addresses compare as plain
        # ints whatever their family, as host-local's ip.Cmp does.
        end_raw = parse_ip(range_end) if range_end is not None else None
        if range_start is None:
            start = network + 1
        else:
            start, start_family = parse_ip(range_start)
            if (
                start_family is not family
                or start >> (width - prefixlen) != network >> (width - prefixlen)
                or (end_raw is not None and start > end_raw[0])
            ):
                raise ConfigError(
                    f"RangeStart {format_ip(start, start_family)} not in network {subnet_text}",
                    hint=f"give an address of {subnet_text}"
                    + (" not after RangeEnd" if end_raw is not None else ""),
                )
        if end_raw is None:
            end = last_address - 1 if family.has_broadcast else last_address
        else:
            end, end_family = end_raw
            if (
                end_family is not family
                or end >> (width - prefixlen) != network >> (width - prefixlen)
                or end < start
            ):
                raise ConfigError(
                    f"RangeEnd {format_ip(end, end_family)} not in network {subnet_text}",
                    hint=f"give an address of {subnet_text} not before RangeStart "
                    f"{format_ip(start, family)}",
                )
        if gateway is None:
            gateway_value, gateway_family = network + 1, family
        else:
            gateway_value, gateway_family = parse_ip(gateway)

        self._pool = pool
        self._family = family
        self._version = family.version
        self._start = start
        self._end = end
        self._n = end - start + 1
        self._gateway = gateway_value
        self._gateway_family = gateway_family
        self._range_text = f"{format_ip(start, family)}-{format_ip(end, family)}"
        self._bitmap = AllocationBitmap(self._n)
        self._set_bit = self._bitmap.allocate
        self._last: int | None = None
        self._pos = 0
        self._top = 0
        if gateway_family is family and start <= gateway_value <= end:
            # Keep the gateway set so that no scan can return it (§3.3: the iterator
            # skips it); every count and view below leaves it out.
            self._gateway_offset = gateway_value - start
            self._set_bit(self._gateway_offset)
            self._top = self._gateway_offset + 1
        else:
            self._gateway_offset = -1
        if self._n == 0:
            # An empty window (range_start at the IPv4 broadcast, the default end below
            # it): allocate_next's fast path takes offsets at or above _top as free,
            # and there are none, so every call goes the checked way (RangeFullError).
            self._top = 1
        self._shared = None
        self._foreign = 0
        if store is not None:
            self.__class__ = _StoredPodIPAllocator
            name = key if key is not None else pod_ips_key(pool)
            shared = SharedState(
                store, name, decode=self._load, encode=PodIPAllocator._dump, policy=retry
            )
            self._shared = shared
            shared.refresh()  # start from the stored state (and check it is ours)

    # --- views -------------------------------------------------------------------
    @property
    def pool(self) -> CIDRPool:
        """The node CIDR (host-local's ``subnet``)."""
        return self._pool

    @property
    def family(self) -> IPFamily:
        """The family of the node CIDR."""
        return self._family

    @property
    def gateway(self) -> _netaddr.IPAddress:
        """The gateway address (never handed out)."""
        return make_ip(self._gateway, self._gateway_family)

    @property
    def range_start(self) -> _netaddr.IPAddress:
        """The first address of the window (inclusive)."""
        return make_ip(self._start, self._family)

    @property
    def range_end(self) -> _netaddr.IPAddress:
        """The last address of the window (inclusive)."""
        return make_ip(self._end, self._family)

    @property
    def range_set(self) -> str:
        """host-local's range-set text used in its errors, e.g. ``10.244.1.1-10.244.1.254``."""
        return self._range_text

    @property
    def size(self) -> int:
        """Addresses that can be handed out: the window less the gateway if inside it."""
        return self._n - (self._gateway_offset >= 0)

    @property
    def used(self) -> int:
        """Addresses handed out."""
        return self._bitmap.count - (self._gateway_offset >= 0)

    @property
    def free(self) -> int:
        """``size - used``."""
        return self._n - self._bitmap.count

    def __len__(self) -> int:
        return self.used

    @property
    def last_reserved(self) -> int | None:
        """host-local's ``last_reserved_ip`` as an int (``None`` before the first).

        ``allocate_next`` resumes right after it. Read and write it to save and
        restore the round robin (snapshots): to restore, ``allocate_int`` every saved
        address (which moves it), then assign the saved value. A value outside the
        window is kept but, as upstream, makes the next scan start at ``range_start``.

        Raises:
            NotInRangeError: on assignment, not ``None`` and not an address of the family.
        """
        return self._last

    @last_reserved.setter
    def last_reserved(self, value: int | None) -> None:
        if value is not None and (
            type(value) is not int or not 0 <= value <= self._family.max_int
        ):
            raise NotInRangeError(
                f"last reserved address {value!r} is not an {self._family} address (an int)",
                hint="give an int such as the value of a previous last_reserved, or None",
            )
        self._set_last(value)

    def _set_last(self, value: int | None) -> None:
        self._last = value
        self._pos = self._position_after(value)

    @property
    def last_reserved_ip(self) -> _netaddr.IPAddress | None:
        """``last_reserved`` as a fresh ``netaddr.IPAddress``."""
        return None if self._last is None else make_ip(self._last, self._family)

    # --- the host-local verbs ------------------------------------------------------
    def allocate_next(self) -> _netaddr.IPAddress:
        """The first free address after the last reserved one, wrapping (§3.3).

        Raises:
            RangeFullError: ``no IP addresses available in range set: <set>`` (nothing
                changed).
        """
        # _take_next inlined: the hot path of benchmarks/bench_node_pod.py (Pod IPs).
        # An offset at or above _top is free, so no full check and no search is needed.
        found = self._pos
        if found >= self._top:
            nxt = self._top = found + 1
            self._set_bit(found)
            self._pos = nxt if nxt < self._n else 0
        else:
            found = self._take_next()
        value = self._start + found
        self._last = value
        ip = _new_ip(_IPAddress)
        _set_ip(ip, (value, self._version))
        return ip

    def allocate_next_int(self) -> int:
        """``allocate_next`` returning the address as an int.

        Raises:
            RangeFullError: as ``allocate_next``.
        """
        value = self._start + self._take_next()
        self._last = value
        return value

    def allocate(self, ip: IPInput) -> _netaddr.IPAddress:
        """Reserve that address; it becomes the last reserved one.

        Raises:
            InvalidAddressError: ``ip`` is not an IP address.
            NotInRangeError: ``<ip> not in range set <set>``, or
                ``requested ip <ip> is subnet's gateway``.
            AlreadyAllocatedError: ``requested IP address <ip> is not available in
                range set <set>``.
        """
        value, family = parse_ip(ip)
        self._reserve(value, family)
        return make_ip(value, family)

    def allocate_int(self, value: int) -> None:
        """``allocate`` of an address of the allocator's family given as an int.

        Raises:
            NotInRangeError: ``value`` is not an address of the family, or as
                ``allocate``.
            AlreadyAllocatedError: as ``allocate``.
        """
        if type(value) is not int or not 0 <= value <= self._family.max_int:
            raise NotInRangeError(
                f"{value!r} is not an {self._family} address (an int)",
                hint=f"give an int between 0 and {self._family.max_int}",
            )
        self._reserve(value, self._family)

    def release(self, ip: IPInput) -> None:
        """Free that address; a no-op when it is not handed out (or is the gateway).

        The round robin is not reset: the address comes back only when the walk
        reaches it again.

        Raises:
            InvalidAddressError: ``ip`` is not an IP address.
        """
        value, family = parse_ip(ip)
        if family is self._family:
            self.release_int(value)

    def release_int(self, value: int) -> None:
        """``release`` of an address of the allocator's family given as an int."""
        offset = value - self._start
        if 0 <= offset < self._n and offset != self._gateway_offset:
            self._bitmap.release(offset)

    def contains_int(self, value: int) -> bool:
        """Whether the address ``value`` (an int of the family) is handed out."""
        offset = value - self._start
        return 0 <= offset < self._n and offset != self._gateway_offset and offset in self._bitmap

    def __contains__(self, ip: object) -> bool:
        """Whether ``ip`` is handed out (the gateway never is)."""
        try:
            value, family = parse_ip(ip)
        except ValueError:
            return False
        return family is self._family and self.contains_int(value)

    def iter_ints(self) -> Iterator[int]:
        """Addresses handed out, ascending, as ints."""
        start, gateway_offset = self._start, self._gateway_offset
        for offset in self._bitmap:
            if offset != gateway_offset:
                yield start + offset

    def __iter__(self) -> Iterator[_netaddr.IPAddress]:
        """Addresses handed out, ascending, as fresh ``netaddr.IPAddress`` objects."""
        family = self._family
        for value in self.iter_ints():
            yield make_ip(value, family)

    def copy(self) -> PodIPAllocator:
        """An independent allocator with the same addresses taken and the same cursor."""
        other = object.__new__(PodIPAllocator)
        for name in PodIPAllocator.__slots__:
            object.__setattr__(other, name, getattr(self, name))
        other._bitmap = self._bitmap.copy()
        other._set_bit = other._bitmap.allocate
        other._shared = None  # a copy is private: it must not write to the store
        other._foreign = 0
        return other

    def __repr__(self) -> str:
        return (
            f"<PodIPAllocator {self._pool.cidr} range {self._range_text} "
            f"gateway {format_ip(self._gateway, self._gateway_family)} "
            f"used={self.used}/{self.size}>"
        )

    # --- internals -------------------------------------------------------------------
    def _position_after(self, last: int | None) -> int:
        """Where the scan starts: after ``last`` when it lies in the window, else 0."""
        if last is None or not self._start <= last <= self._end:
            return 0
        offset = last - self._start + 1
        return offset if offset < self._n else 0

    def _take_next(self) -> int:
        """host-local's round-robin walk on offsets; returns the offset reserved."""
        bitmap = self._bitmap
        n = self._n
        if bitmap.count >= n:
            if self.size:
                hint = (
                    f"all {self.size} addresses of {self._pool.cidr} are in use; "
                    "release one or give the node a larger CIDR"
                )
            elif n:
                hint = (
                    f"the window {self._range_text} holds only the gateway; widen "
                    "range_start/range_end or move the gateway out of it"
                )
            else:
                hint = (
                    "the window is empty: range_start is past the last usable address "
                    f"{format_ip(self._end, self._family)}; give one at or below it"
                )
            raise RangeFullError(
                f"no IP addresses available in range set: {self._range_text}", hint=hint
            )
        pos = self._pos
        if pos >= self._top:
            found = pos
        else:
            found = bitmap.first_free(pos, n)
            if found < 0:
                found = bitmap.first_free(0, pos)
        self._set_bit(found)
        if found >= self._top:
            self._top = found + 1
        self._pos = found + 1 if found + 1 < n else 0
        return found

    def _reserve(self, value: int, family: IPFamily) -> None:
        """host-local's ``Get`` with a requested IP, in its order of checks (§3.3)."""
        self._take_offset(self._offset_for(value, family), value, family)

    def _offset_for(self, value: int, family: IPFamily) -> int:
        """The window offset of a requested address (checks that need no state)."""
        offset = value - self._start
        if family is not self._family or not 0 <= offset < self._n:
            raise NotInRangeError(
                f"{format_ip(value, family)} not in range set {self._range_text}",
                hint=f"give an address between {self._range_text.replace('-', ' and ')}",
            )
        if offset == self._gateway_offset:
            raise NotInRangeError(
                f"requested ip {format_ip(value, family)} is subnet's gateway",
                hint="the gateway is never handed out to a Pod",
            )
        return offset

    def _take_offset(self, offset: int, value: int, family: IPFamily) -> None:
        """Reserve a checked offset; it becomes the last reserved address."""
        if not self._set_bit(offset):
            raise AlreadyAllocatedError(
                f"requested IP address {format_ip(value, family)} is not available in "
                f"range set {self._range_text}",
                hint="release it first or ask for another address",
            )
        if offset >= self._top:
            self._top = offset + 1
        self._last = value
        self._pos = offset + 1 if offset + 1 < self._n else 0

    # --- the stored form (store=...) ---------------------------------------------------
    def _stored_shift(self) -> int:
        """Stored offset minus window offset: stored offset 0 is network + 1.

        That is kube-apiserver's layout, which ``dualstack decode-range`` reads; only a
        window starting at the network address itself moves the base down to it.
        """
        return self._start - min(self._pool.first + 1, self._start)

    def _load(self, blob: bytes | None) -> PodIPAllocator:
        """Become the state stored in ``blob`` (``None``: nothing taken); returns self.

        Raises:
            MismatchedNetworkError: the value is of another range.
            DualStackError: it is not a ``RangeAllocation``.
        """
        key = self._key()
        n, gateway, shift = self._n, self._gateway_offset, self._stored_shift()
        last: int | None = None
        stored = 0
        if blob is not None:
            value = read_range_value(blob, self._pool.cidr, key)
            # The bitmap as one big int: shifts by the window need no mask of the
            # window's width (2^64 bits for a /64).
            stored = int.from_bytes(bytes(value.data), "big")
            text = value.annotations.get(LAST_RESERVED_ANNOTATION)
            if text is not None:
                try:
                    last, family = parse_ip(text)
                except ValueError:
                    last = None  # hand-edited: the walk restarts at range_start
                else:
                    last = last if family is self._family else None
        mine = stored >> shift
        above = mine >> n
        inside = mine - (above << n)
        # Bits this window cannot hold (another process's window) ride along unchanged;
        # so does our gateway's bit, which another process's window may hand out.
        foreign = (stored - (mine << shift)) | (above << (n + shift))
        if gateway >= 0 and inside >> gateway & 1:
            inside ^= 1 << gateway
            foreign |= 1 << (gateway + shift)
        bitmap = AllocationBitmap.from_k8s_bytes(
            inside.to_bytes((inside.bit_length() + 7) // 8, "big"), n
        )
        if gateway >= 0:
            bitmap.allocate(gateway)
        self._bitmap = bitmap
        self._set_bit = bitmap.allocate
        self._foreign = foreign
        self._last = last
        self._pos = self._position_after(last)
        self._top = bitmap.highest() + 1 if n else 1  # empty window: see __init__
        return self

    def _dump(self) -> bytes:
        """The stored form: the Pod addresses (gateway left out) and ``last_reserved``.

        Raises:
            StoreError: an address too far into the range for a storable bitmap is taken.
        """
        bitmap, gateway, shift = self._bitmap, self._gateway_offset, self._stored_shift()
        if gateway >= 0:
            bitmap.release(gateway)  # put back below, whatever happens
        try:
            top = bitmap.highest()
            if top >= 0:
                what = f"Pod IP {format_ip(self._start + top, self._family)}"
                check_storable(top + shift, what, self._key())
            check_storable(self._foreign.bit_length() - 1, self._pool.cidr, self._key())
            data = bitmap.to_k8s_bytes()
        finally:
            if gateway >= 0:
                bitmap.allocate(gateway)
        if shift or self._foreign:
            number = int.from_bytes(data, "big") << shift | self._foreign
            data = number.to_bytes((number.bit_length() + 7) // 8, "big")
        annotations = {}
        if self._last is not None:
            annotations[LAST_RESERVED_ANNOTATION] = format_ip(self._last, self._family)
        return encode_range_value(RangeValue(self._pool.cidr, data, annotations))

    def _key(self) -> str:
        shared = self._shared
        return shared.key if shared is not None else pod_ips_key(self._pool)


class _StoredPodIPAllocator(PodIPAllocator):
    """A ``PodIPAllocator`` whose state lives in a store (built with ``store=``).

    Every verb that changes state runs its local counterpart through
    ``SharedState.update``; arguments are checked first, so a bad one costs no store
    call. Failing calls (allocation errors, the store down, lost races) leave the
    cached state as it was: ``SharedState`` rebuilds it from the value it came from.
    """

    __slots__ = ()

    def allocate_next(self) -> _netaddr.IPAddress:
        """As ``PodIPAllocator.allocate_next``, on the latest stored state.

        Raises:
            RangeFullError: every address is taken (in the store).
            StoreError: the store failed or other writers won every attempt.
        """
        return make_ip(self._update(PodIPAllocator.allocate_next_int), self._family)

    def allocate_next_int(self) -> int:
        """As ``PodIPAllocator.allocate_next_int``, on the latest stored state."""
        return self._update(PodIPAllocator.allocate_next_int)

    def allocate(self, ip: IPInput) -> _netaddr.IPAddress:
        """As ``PodIPAllocator.allocate``, on the latest stored state."""
        value, family = parse_ip(ip)
        offset = self._offset_for(value, family)
        self._update(lambda s: s._take_offset(offset, value, family))
        return make_ip(value, family)

    def allocate_int(self, value: int) -> None:
        """As ``PodIPAllocator.allocate_int``, on the latest stored state."""
        if type(value) is not int or not 0 <= value <= self._family.max_int:
            PodIPAllocator.allocate_int(self, value)  # raises NotInRangeError
        family = self._family
        offset = self._offset_for(value, family)
        self._update(lambda s: s._take_offset(offset, value, family))

    def release_int(self, value: int) -> None:
        """As ``PodIPAllocator.release_int``, on the latest stored state.

        An address outside the window (or the gateway) costs no store call.
        """
        offset = value - self._start
        if 0 <= offset < self._n and offset != self._gateway_offset:
            self._update(lambda s: s._bitmap.release(offset))

    def _set_last(self, value: int | None) -> None:
        self._update(lambda s: PodIPAllocator._set_last(s, value))

    def __repr__(self) -> str:
        shared = self._shared
        assert shared is not None
        return f"{PodIPAllocator.__repr__(self)[:-1]} store={shared.key!r}@{shared.revision}>"

"""NodeCIDRAllocator: per-node Pod CIDRs carved from one cluster CIDR (CIDRSet).

Purpose: kube-controller-manager's ``CIDRSet`` (node-and-pod-ips.md §1): one cluster
CIDR ``net/C`` cut into ``size = 2^(N-C)`` node blocks of prefix ``N``, handed out by a
rotating cursor, with ``occupy``/``release`` of CIDRs of any size as upstream marks them.

Key type: ``NodeCIDRAllocator(cluster_cidr, node_mask_size, *, version=None,
store=None)``.

Offset map (B = 32 or 128 address bits, shift = B - N)::

    block index i  <->  network int  net + (i << shift)      0 <= i < size
    CIDR p/P, P <= C     ->  every index 0 .. size-1           (§1.5 step 2)
    CIDR p/P, C < P <= N ->  indices of the 2^(N-P) blocks it covers
    CIDR p/P, P > N      ->  the one block that contains it

Invariants: the used indices live in an ``AllocationBitmap`` (lazy 64Ki-offset chunks,
so ``0.0.0.0/0`` into ``/32`` — 2^32 blocks — costs nothing until used); ``used`` is the
number of set indices; ``cursor`` is upstream's ``nextCandidate``, always in
``[0, size)`` (0 when ``size`` is 0), moved only by ``allocate_next``; every failing call
changes nothing. Blocks handed out are fresh ``netaddr.IPNetwork`` objects.

Shared state (``store=``, docs/etcd.md): the object becomes a ``_StoredNodeCIDRAllocator``,
a subclass whose verbs (``allocate_next``, ``occupy``, ``release``, the int-level ones,
the cursor setter) each run through ``SharedState.update``: applied to the latest stored
state and written back with compare-and-swap, retried on conflict. The stored value is a
``RangeAllocation`` of the cluster CIDR whose bitmap counts block indices, with the
cursor and the node mask in annotations. Views (``used``, ``in``, ``iter``) answer from
the state of the last store call; ``refresh()`` reads it again. Without a store the
plain class runs and its hot paths pay nothing for the option.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Final, TypeVar

import netaddr as _netaddr

from dualstack.bitmap import AllocationBitmap
from dualstack.errors import (
    ConfigError,
    DualStackError,
    MismatchedNetworkError,
    NotInRangeError,
    RangeFullError,
)
from dualstack.families import IPFamily, format_cidr, format_ip, make_net, parse_cidr
from dualstack.pools import CIDRPool
from dualstack.profiles import Profile
from dualstack.store import (
    MISMATCHED_NETWORK,
    NEXT_CANDIDATE_ANNOTATION,
    NODE_MASK_SIZE_ANNOTATION,
    RangeValue,
    RetryPolicy,
    SharedState,
    Store,
    StoreBacked,
    check_storable,
    encode_range_value,
    node_cidrs_key,
    read_range_value,
)

__all__ = ["NodeCIDRAllocator"]

_NO_CIDRS_LEFT: Final = (
    "CIDR allocation failed; there are no remaining CIDRs left to allocate in the accepted range"
)
_TOO_BIG: Final = "New CIDR set failed; the node CIDR size is too big"
_MASK_V116: Final = (
    "Controller: Invalid --cluster-cidr, mask size of cluster CIDR must be less than "
    "--node-cidr-mask-size"
)
_MASK_CURRENT: Final = (
    "Controller: Invalid --cluster-cidr, mask size of cluster CIDR must be less than or "
    "equal to --node-cidr-mask-size configured for CIDR family"
)
_IPNetwork = _netaddr.IPNetwork
# netaddr's pickle protocol (public): build a network from, and read it as, the plain
# (value, prefixlen, version) triple without parsing — see families.make_net.
_new_net = _IPNetwork.__new__
_set_net: Callable[[_netaddr.IPNetwork, tuple[int, int, int]], None]
_set_net = _IPNetwork.__setstate__  # type: ignore[attr-defined]  # missing from the stubs
_net_state: Callable[[_netaddr.IPNetwork], tuple[int, int, int]]
_net_state = _IPNetwork.__getstate__  # type: ignore[assignment]  # stubs say object
_LOW64: Final = (1 << 64) - 1
T = TypeVar("T")


def _cidr_ints(cidr: object) -> tuple[int, int, IPFamily]:
    """``(network, prefixlen, family)`` of text, a netaddr network or a ``CIDRPool``."""
    if isinstance(cidr, CIDRPool):
        return cidr.first, cidr.prefixlen, cidr.family
    return parse_cidr(cidr)


class NodeCIDRAllocator(StoreBacked["NodeCIDRAllocator"]):
    """Node Pod CIDRs from one cluster CIDR, as kube-controller-manager's CIDRSet.

    Args:
        cluster_cidr: the cluster CIDR (text, ``netaddr.IPNetwork`` or ``CIDRPool``);
            host bits are cleared as Kubernetes does.
        node_mask_size: the prefix length ``N`` of every node block.
        version: the Kubernetes release whose messages apply (``None`` = newest).
        store: keep the state in this ``Store`` (``MemoryStore``, ``EtcdStore``) and
            share it with every allocator of the same cluster CIDR on it; ``None`` (the
            default) keeps it private, in memory.
        key: the key name in the store (default ``node_cidrs_key(cluster_cidr)``).
        retry: attempts and back-off on write conflicts (default ``RetryPolicy()``).

    Raises:
        InvalidAddressError: ``cluster_cidr`` is not a CIDR.
        ConfigError: in this order (node-and-pod-ips.md §1.7): ``N`` longer than the
            address; cluster prefix longer than ``N`` (the controller's message of the
            release); IPv6 ``N - C > 16`` (``New CIDR set failed; the node CIDR size is
            too big``).
        MismatchedNetworkError: the store holds another range, or another node mask,
            at ``key``.
        StoreUnavailableError: the store cannot be read.

    Example: ``NodeCIDRAllocator("10.244.0.0/16", 24).allocate_next()`` is
    ``IPNetwork('10.244.0.0/24')``.
    """

    __slots__ = (
        "_bitmap",
        "_cursor",
        "_family",
        "_net",
        "_node_mask",
        "_pool",
        "_profile",
        "_set_bit",
        "_shift",
        "_size",
        "_top",
        "_version",
    )

    def __init__(
        self,
        cluster_cidr: str | _netaddr.IPNetwork | CIDRPool,
        node_mask_size: int,
        *,
        version: str | None = None,
        store: Store | None = None,
        key: str | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        profile = Profile.for_version(version)
        pool = CIDRPool(cluster_cidr)
        family = pool.family
        width = family.width
        if type(node_mask_size) is not int or node_mask_size < 0:
            raise ConfigError(
                f"node mask size {node_mask_size!r} is not a prefix length",
                hint=f"give an int between {pool.prefixlen} and {width}",
            )
        if node_mask_size > width:
            raise ConfigError(
                f"node mask size {node_mask_size} is longer than the address ({width} bits)",
                hint=f"give a mask between {pool.prefixlen} and {width} for {pool.cidr}",
            )
        if pool.prefixlen > node_mask_size:
            raise ConfigError(
                _MASK_V116 if profile.single_node_mask else _MASK_CURRENT,
                hint=f"cluster CIDR {pool.cidr} has prefix /{pool.prefixlen}; give a node "
                f"mask of at least {pool.prefixlen}, or a cluster CIDR of at most "
                f"/{node_mask_size}",
            )
        self._setup(pool, node_mask_size, profile)
        if store is not None:
            self.__class__ = _StoredNodeCIDRAllocator
            name = key if key is not None else node_cidrs_key(pool)
            shared = SharedState(
                store, name, decode=self._load, encode=NodeCIDRAllocator._dump, policy=retry
            )
            self._shared = shared
            shared.refresh()  # start from the stored state (and check it is ours)

    def _setup(self, pool: CIDRPool, node_mask: int, profile: Profile) -> None:
        family = pool.family
        gap = node_mask - pool.prefixlen
        limit = family.cidrset_max_gap
        if limit is not None and gap > limit:
            raise ConfigError(
                _TOO_BIG,
                hint=f"an {family} cluster CIDR can hold at most 2^{limit} node blocks; "
                f"use a cluster prefix of at least /{node_mask - limit} for /{node_mask} "
                f"node blocks, or a node mask of at most /{pool.prefixlen + limit}",
            )
        self._pool = pool
        self._family = family
        self._version = family.version
        self._net = pool.first
        self._node_mask = node_mask
        self._shift = family.width - node_mask
        # Go shifts by a negative amount cast to unsigned: no blocks when N < C (§1.1).
        self._size = 1 << gap if gap >= 0 else 0
        self._bitmap = AllocationBitmap(self._size)
        self._set_bit = self._bitmap.allocate
        self._cursor = 0
        # Every index >= _top is free: it only grows (allocate_next, occupy), so a
        # fill from an empty set never has to search (benchmarks/bench_node_pod.py W5).
        # A set of no blocks starts above its only cursor value so that it never
        # takes that shortcut.
        self._top = 0 if self._size else 1
        self._profile = profile
        self._shared = None

    @classmethod
    def _bare_cidr_set(cls, cluster_cidr: str, node_mask_size: int) -> NodeCIDRAllocator:
        """Upstream's bare ``NewCIDRSet``, without the controller's mask check.

        Only for tests of §1.1 step 4: a node mask shorter than the cluster mask gives a
        set of zero blocks instead of an error. The IPv6 gap check still applies.
        """
        self = object.__new__(cls)
        self._setup(CIDRPool(cluster_cidr), node_mask_size, Profile.for_version(None))
        return self

    # --- views -------------------------------------------------------------------
    @property
    def pool(self) -> CIDRPool:
        """The cluster CIDR."""
        return self._pool

    @property
    def family(self) -> IPFamily:
        """The family of the cluster CIDR."""
        return self._family

    @property
    def node_mask_size(self) -> int:
        """The prefix length ``N`` of every node block."""
        return self._node_mask

    @property
    def size(self) -> int:
        """Number of node blocks, ``2^(N-C)`` (may be 2^32 or more)."""
        return self._size

    @property
    def used(self) -> int:
        """Number of blocks marked used (allocated or occupied)."""
        return self._bitmap.count

    @property
    def free(self) -> int:
        """``size - used``."""
        return self._size - self._bitmap.count

    @property
    def block_size(self) -> int:
        """Addresses in one node block, ``2^(B-N)``."""
        return 1 << self._shift

    @property
    def profile(self) -> Profile:
        """The release whose behaviour this allocator follows."""
        return self._profile

    def __len__(self) -> int:
        return self._bitmap.count

    @property
    def cursor(self) -> int:
        """Upstream's ``nextCandidate``: the index ``allocate_next`` scans from.

        Read and write it to save and restore the rotation (snapshots). Only
        ``allocate_next`` moves it; ``occupy`` and ``release`` never do.

        Raises:
            NotInRangeError: on assignment, a value outside ``[0, size)`` (0 is always
                accepted).
        """
        return self._cursor

    @cursor.setter
    def cursor(self, value: int) -> None:
        if type(value) is not int or not (0 <= value < self._size or value == 0):
            raise NotInRangeError(
                f"cursor {value!r} is not a block index of {self._pool.cidr}",
                hint=f"give an index between 0 and {max(self._size - 1, 0)}",
            )
        self._set_cursor(value)

    def _set_cursor(self, value: int) -> None:
        self._cursor = value

    # --- int-level access (for Cluster and snapshots) -------------------------------
    def block_network(self, index: int) -> int:
        """The network address (int) of block ``index``: ``net + index * 2^(B-N)``.

        Raises:
            NotInRangeError: ``index`` outside ``[0, size)``.
        """
        if not 0 <= index < self._size:
            raise NotInRangeError(
                f"block index {index} is out of the range of {self._pool.cidr}",
                hint=f"give an index between 0 and {self._size - 1}",
            )
        return self._net + (index << self._shift)

    def block_index(self, network: int) -> int:
        """The index of the block whose network address (int) is ``network``.

        Raises:
            NotInRangeError: ``network`` is not the network address of a block.
        """
        offset = network - self._net
        index = offset >> self._shift
        if offset < 0 or index >= self._size or offset & ((1 << self._shift) - 1):
            raise NotInRangeError(
                f"{network!r} is not the network address (an int) of a "
                f"/{self._node_mask} block of {self._pool.cidr}",
                hint=f"give {self._net} + i * {1 << self._shift} for 0 <= i < {self._size}",
            )
        return index

    def allocate_next_index(self) -> int:
        """``allocate_next`` without building a network: returns the block index.

        Raises:
            RangeFullError: every block is used (nothing changed).
        """
        return self._take_next()

    def occupy_range(self, begin: int, end: int) -> int:
        """Mark the block indices ``begin .. end`` (inclusive) used; returns how many flipped."""
        self._check_span(begin, end)
        return self._mark(begin, end, True)

    def release_range(self, begin: int, end: int) -> int:
        """Clear the block indices ``begin .. end`` (inclusive); returns how many flipped."""
        self._check_span(begin, end)
        return self._mark(begin, end, False)

    def indices_of(self, cidr: str | _netaddr.IPNetwork | CIDRPool) -> range:
        """The block indices ``occupy(cidr)``/``release(cidr)`` would touch (§1.5).

        Raises:
            InvalidAddressError: ``cidr`` is not a CIDR.
            NotInRangeError: ``cidr`` does not overlap the cluster CIDR, or (a set with
                no blocks) its index is out of the range of the allocator.
        """
        begin, end = self._indices(cidr)
        return range(begin, end + 1)

    def iter_indices(self) -> Iterator[int]:
        """Used block indices, ascending."""
        return iter(self._bitmap)

    # --- the CIDRSet verbs -----------------------------------------------------------
    def allocate_next(self) -> _netaddr.IPNetwork:
        """The next free block after the last one handed out, wrapping (§1.4).

        Returns:
            A fresh ``netaddr.IPNetwork`` of prefix ``node_mask_size``.

        Raises:
            RangeFullError: ``CIDR allocation failed; there are no remaining CIDRs left
                to allocate in the accepted range`` (nothing changed).
        """
        # _take_next inlined: this is W5's hot path (benchmarks/bench_node_pod.py),
        # where each extra call or property costs ~0.1 us. When the cursor is at or
        # above _top it is free, so no full check and no search is needed.
        found = self._cursor
        if found >= self._top:
            nxt = self._top = found + 1
            self._set_bit(found)
            self._cursor = nxt if nxt < self._size else 0
        else:
            found = self._take_next()
        net = _new_net(_IPNetwork)
        _set_net(net, (self._net + (found << self._shift), self._node_mask, self._version))
        return net

    def occupy(self, cidr: str | _netaddr.IPNetwork | CIDRPool) -> None:
        """Mark the blocks ``cidr`` covers as used (§1.5); idempotent, cursor unmoved.

        A CIDR as large as the cluster CIDR or larger marks every block; one smaller
        than a block marks the block containing it.

        Raises:
            InvalidAddressError: ``cidr`` is not a CIDR.
            NotInRangeError: ``cidr <cidr> is out the range of cluster cidr <cluster>``
                (nothing changed).
        """
        begin, end = self._indices(cidr)
        self._mark(begin, end, True)

    def release(self, cidr: str | _netaddr.IPNetwork | CIDRPool) -> None:
        """Mark the blocks ``cidr`` covers as free (§1.5); idempotent, cursor unmoved.

        Raises:
            InvalidAddressError: ``cidr`` is not a CIDR.
            NotInRangeError: ``cidr <cidr> is out the range of cluster cidr <cluster>``
                (nothing changed).
        """
        if type(cidr) is _IPNetwork:
            # Fast path for the blocks allocate_next returned (W5's release phase).
            value, prefixlen, version = _net_state(cidr)
            if prefixlen == self._node_mask and version == self._version:
                offset = value - self._net
                index = offset >> self._shift
                if 0 <= index < self._size:
                    self._bitmap.release(index)
                    return
        begin, end = self._indices(cidr)
        self._mark(begin, end, False)

    def __contains__(self, cidr: object) -> bool:
        """Whether ``cidr`` is exactly a node block of this set that is used."""
        try:
            value, prefixlen, family = _cidr_ints(cidr)
        except ValueError:
            return False
        if family is not self._family or prefixlen != self._node_mask:
            return False
        index = (value - self._net) >> self._shift
        return value >= self._net and index < self._size and index in self._bitmap

    def __iter__(self) -> Iterator[_netaddr.IPNetwork]:
        """The used blocks, ascending, as fresh ``netaddr.IPNetwork`` objects."""
        net, shift, mask, family = self._net, self._shift, self._node_mask, self._family
        for index in self._bitmap:
            yield make_net(net + (index << shift), mask, family)

    def copy(self) -> NodeCIDRAllocator:
        """An independent allocator with the same blocks used and the same cursor."""
        other = object.__new__(NodeCIDRAllocator)
        for name in NodeCIDRAllocator.__slots__:
            object.__setattr__(other, name, getattr(self, name))
        other._bitmap = self._bitmap.copy()
        other._set_bit = other._bitmap.allocate
        other._shared = None  # a copy is private: it must not write to the store
        return other

    def __repr__(self) -> str:
        return (
            f"<NodeCIDRAllocator {self._pool.cidr} /{self._node_mask} "
            f"used={self.used}/{self._size} cursor={self._cursor}>"
        )

    # --- internals -------------------------------------------------------------------
    def _take_next(self) -> int:
        """Upstream's ``AllocateNext`` on indices: first free at or after the cursor."""
        size = self._size
        bitmap = self._bitmap
        if bitmap.count >= size:
            raise self._full_error()
        cursor = self._cursor
        if cursor >= self._top:
            found = cursor  # nothing at or above _top was ever set
        else:
            found = bitmap.first_free(cursor, size)
            if found < 0:
                found = bitmap.first_free(0, cursor)
        self._set_bit(found)
        if found >= self._top:
            self._top = found + 1
        self._cursor = found + 1 if found + 1 < size else 0
        return found

    def _full_error(self) -> RangeFullError:
        return RangeFullError(
            _NO_CIDRS_LEFT,
            hint=f"all {self._size} /{self._node_mask} blocks of {self._pool.cidr} are "
            "used; release one or use a larger cluster CIDR",
        )

    def _indices(self, cidr: object) -> tuple[int, int]:
        """``getBeginningAndEndIndices`` (§1.5): inclusive, empty when ``end < begin``."""
        value, prefixlen, family = _cidr_ints(cidr)
        pool = self._pool
        cluster_prefix = pool.prefixlen
        if family is not self._family:
            overlap = False
        else:
            common = self._family.width - min(prefixlen, cluster_prefix)
            overlap = (value >> common) == (self._net >> common)
        if not overlap:
            text = format_cidr(value, prefixlen, family)
            raise NotInRangeError(
                f"cidr {text} is out the range of cluster cidr {pool.cidr}",
                hint=f"give a CIDR inside {pool.cidr}",
            )
        if prefixlen <= cluster_prefix:
            return 0, self._size - 1
        shift = self._shift
        block_mask = ~((1 << shift) - 1)
        last = value | ((1 << (self._family.width - prefixlen)) - 1)
        return self._index_for(value & block_mask), self._index_for(last & block_mask)

    def _index_for(self, ip: int) -> int:
        """``getIndexForIP`` (§1.3): ``(net XOR ip) >> (B - N)``, checked against size."""
        index = (self._net ^ ip) >> self._shift
        if self._family is IPFamily.IPv6:
            index &= _LOW64  # upstream keeps the low 64 bits (§1.3)
        if index >= self._size:
            raise NotInRangeError(
                f"CIDR: {format_ip(ip, self._family)}/{self._node_mask} is out of the range "
                "of CIDR allocator",
                hint=f"the set of {self._pool.cidr} into /{self._node_mask} has "
                f"{self._size} blocks",
            )
        return index

    def _check_span(self, begin: int, end: int) -> None:
        if begin < 0 or end >= self._size:
            raise NotInRangeError(
                f"block indices {begin}..{end} are out of the range of {self._pool.cidr}",
                hint=f"give indices between 0 and {self._size - 1}",
            )

    def _mark(self, begin: int, end: int, used: bool) -> int:
        """Set or clear ``begin .. end`` (checked by the caller); returns how many flipped."""
        bitmap = self._bitmap
        op = bitmap.allocate if used else bitmap.release
        flipped = 0
        for index in range(begin, end + 1):
            flipped += op(index)
        if used and end + 1 > self._top and end >= begin:
            self._top = end + 1
        return flipped

    # --- the stored form (store=...) ---------------------------------------------------
    def _load(self, blob: bytes | None) -> NodeCIDRAllocator:
        """Become the state stored in ``blob`` (``None``: nothing used); returns self.

        Raises:
            MismatchedNetworkError: the value is of another range or node mask.
            DualStackError: it is not a ``RangeAllocation`` of this set's blocks.
        """
        key = self._key()
        cursor = 0
        if blob is None:
            bitmap = AllocationBitmap(self._size)
        else:
            value = read_range_value(blob, self._pool.cidr, key)
            mask = value.annotations.get(NODE_MASK_SIZE_ANNOTATION, str(self._node_mask))
            if mask != str(self._node_mask):
                raise MismatchedNetworkError(
                    MISMATCHED_NETWORK,
                    hint=f"{key} holds /{mask} node blocks, this allocator /{self._node_mask}"
                    "; give it another key",
                )
            try:
                bitmap = AllocationBitmap.from_k8s_bytes(bytes(value.data), self._size)
            except ValueError as error:
                raise DualStackError(
                    f"the RangeAllocation at {key} does not fit {value.range}: {error}",
                    hint="another program wrote it with other parameters; give this "
                    "allocator its own key",
                ) from None
            text = value.annotations.get(NEXT_CANDIDATE_ANNOTATION, "0")
            # A cursor out of range (hand-edited) restarts the scan, as upstream's 0.
            cursor = int(text) if text.isdigit() and int(text) < self._size else 0
        self._bitmap = bitmap
        self._set_bit = bitmap.allocate
        self._cursor = cursor
        self._top = bitmap.highest() + 1 if self._size else 1
        return self

    def _dump(self) -> bytes:
        """The stored form: the block bitmap, the cursor and the node mask.

        Raises:
            StoreError: a block index too high for a storable bitmap is used.
        """
        top = self._bitmap.highest()
        if top >= 0:
            what = (
                f"node block {format_cidr(self.block_network(top), self._node_mask, self._family)}"
            )
            check_storable(top, what, self._key())
        annotations = {
            NEXT_CANDIDATE_ANNOTATION: str(self._cursor),
            NODE_MASK_SIZE_ANNOTATION: str(self._node_mask),
        }
        return encode_range_value(
            RangeValue(self._pool.cidr, self._bitmap.to_k8s_bytes(), annotations)
        )

    def _key(self) -> str:
        shared = self._shared
        return shared.key if shared is not None else node_cidrs_key(self._pool)


class _StoredNodeCIDRAllocator(NodeCIDRAllocator):
    """A ``NodeCIDRAllocator`` whose state lives in a store (built with ``store=``).

    Every verb that changes state runs its local counterpart through
    ``SharedState.update``; arguments are checked first, so a bad one costs no store
    call. Failing calls (allocation errors, the store down, lost races) leave the
    cached state as it was: ``SharedState`` rebuilds it from the value it came from.
    """

    __slots__ = ()

    def allocate_next(self) -> _netaddr.IPNetwork:
        """As ``NodeCIDRAllocator.allocate_next``, on the latest stored state.

        Raises:
            RangeFullError: every block is used (in the store).
            StoreError: the store failed or other writers won every attempt.
        """
        found = self._update(NodeCIDRAllocator._take_next)
        return make_net(self._net + (found << self._shift), self._node_mask, self._family)

    def allocate_next_index(self) -> int:
        """As ``NodeCIDRAllocator.allocate_next_index``, on the latest stored state."""
        return self._update(NodeCIDRAllocator._take_next)

    def occupy(self, cidr: str | _netaddr.IPNetwork | CIDRPool) -> None:
        """As ``NodeCIDRAllocator.occupy``, on the latest stored state."""
        begin, end = self._indices(cidr)
        self._update(lambda s: s._mark(begin, end, True))

    def release(self, cidr: str | _netaddr.IPNetwork | CIDRPool) -> None:
        """As ``NodeCIDRAllocator.release``, on the latest stored state."""
        begin, end = self._indices(cidr)
        self._update(lambda s: s._mark(begin, end, False))

    def occupy_range(self, begin: int, end: int) -> int:
        """As ``NodeCIDRAllocator.occupy_range``, on the latest stored state."""
        self._check_span(begin, end)
        return self._update(lambda s: s._mark(begin, end, True))

    def release_range(self, begin: int, end: int) -> int:
        """As ``NodeCIDRAllocator.release_range``, on the latest stored state."""
        self._check_span(begin, end)
        return self._update(lambda s: s._mark(begin, end, False))

    def _set_cursor(self, value: int) -> None:
        def assign(state: NodeCIDRAllocator) -> None:
            state._cursor = value

        self._update(assign)

    def __repr__(self) -> str:
        shared = self._shared
        assert shared is not None
        return (
            f"<NodeCIDRAllocator {self._pool.cidr} /{self._node_mask} "
            f"used={self.used}/{self._size} cursor={self._cursor} "
            f"store={shared.key!r}@{shared.revision}>"
        )

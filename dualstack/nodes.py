"""Nodes and Pods of a simulated cluster: node Pod CIDRs, host-local Pod IPs, their order.

Purpose: the node/Pod half of the ``Cluster`` facade (node-and-pod-ips.md §2, §3.4-§3.5,
§5). kube-controller-manager's range allocator gives each node one block of every
``--cluster-cidr`` (one ``NodeCIDRAllocator`` per cluster CIDR, in flag order); CNI
host-local on the node hands every Pod one address of each of the node's blocks (one
``PodIPAllocator`` per block, in ``spec.podCIDRs`` order); the kubelet (or kubenet)
decides the order ``status.podIPs`` reports them in.

Key types:
- ``Node``: frozen; ``.name``, ``.pod_cidrs`` (fresh ``IPNetwork`` objects, in
  ``--cluster-cidr`` order), ints inside.
- ``Pod``: frozen; ``.namespace``, ``.name``, ``.node``, ``.pod_ips`` (fresh
  ``IPAddress`` objects, in reporting order), ints inside.
- ``NodeRegistry(config, *, network_plugin="cni", store=None)``: ``add_node``, ``remove_node``,
  ``add_pod``, ``remove_pod``, the read-only ``nodes``/``pods`` views, ``copy()``,
  ``validate()``, and ``dump()``/``NodeRegistry.load()`` for snapshots.
- ``InvalidObjectError``: the API server's 422 for a Node or a Pod
  (``Node "n" is invalid: ...``).

Invariants:
- Every node block and every service-range block marked in a cluster CIDR's set
  belongs to exactly one holder (a node, or the service range occupied at start-up,
  §2.4); a node's indices are released when it is removed.
- Every Pod address is held by exactly one Pod, in its node's host-local range of the
  same family; removing a node removes its Pods.
- A failing call changes nothing: blocks, addresses, CIDRSet cursors and host-local
  ``last_reserved`` cursors are as before (C6; upstream leaks, §2.7 and §3.4).
- Copy on write: ``copy()`` shares the per-node host-local allocators and Pod-key sets
  between the two registries; whichever changes a node first takes its own copy of
  that node's state (``_NodeState.owner``), so copying costs two dict copies and the
  two cluster-CIDR sets, whatever the number of Pods (benchmarks/bench_cluster.py).

Shared state (``store=``, docs/etcd.md): the cluster-CIDR sets keep their bitmaps in the
store under ``node_cidrs_key(cluster CIDR)`` and every node's host-local ranges under
``pod_ips_key(node CIDR)``, so registries on one store never hand out a block or a Pod
IP twice; ``remove_node`` deletes the node's Pod IP keys. A failing call gives back what
it took in the store. ``copy()`` of a store-backed registry is private (every node
state cloned at once, never written to the store); ``dump()`` records only this
registry's own blocks.
"""

from __future__ import annotations

import base64 as _base64
import itertools as _itertools
import socket as _socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final, Literal, NoReturn

import netaddr as _netaddr

from dualstack import rules
from dualstack.bitmap import AllocationBitmap
from dualstack.config import ClusterConfig, Finding
from dualstack.errors import (
    AlreadyAllocatedError,
    AlreadyExistsError,
    ConfigError,
    DualStackError,
    FieldError,
    FieldErrorType,
    InvalidAddressError,
    InvalidObjectError,
    NotFoundError,
    NotInRangeError,
    RangeFullError,
)
from dualstack.families import IPFamily, format_cidr, format_ip, make_ip, make_net, parse_cidr
from dualstack.families import parse_ip as _parse_ip
from dualstack.node_cidrs import NodeCIDRAllocator
from dualstack.pod_ips import PodIPAllocator
from dualstack.pools import CIDRPool
from dualstack.store import Store, StoreConflictError, StoreError, node_cidrs_key, pod_ips_key

__all__ = [
    "NETWORK_PLUGINS",
    "NetworkPlugin",
    "Node",
    "NodeRegistry",
    "Pod",
    "parse_ip_fast",
]

_AF_INET: Final = _socket.AF_INET
_AF_INET6: Final = _socket.AF_INET6
_inet_ntop = _socket.inet_ntop

NetworkPlugin = Literal["cni", "kubenet"]
NETWORK_PLUGINS: Final = ("cni", "kubenet")

_MAX_ENCODED_BLOCKS: Final = 1 << 24
"""Sets of more blocks than this are dumped as index runs, not as a bitmap."""

_SUBDOMAIN_RE: Final = rules.DNS1123_SUBDOMAIN_RE
_SUBDOMAIN_DETAIL: Final = rules.DNS1123_SUBDOMAIN_DETAIL
_SUBDOMAIN_MATCH: Final = _SUBDOMAIN_RE.fullmatch
_LABEL_RE: Final = rules.DNS1123_LABEL_RE
_LABEL_DETAIL: Final = rules.DNS1123_LABEL_DETAIL
_CIDR_DETAIL: Final = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"
_ONE_PER_FAMILY: Final = "may specify no more than one CIDR for each IP family"


def _fmt(value: int, family: IPFamily) -> str:
    """Go's text of an address (``format_ip``), through ``inet_ntop`` where it agrees.

    ``inet_ntop`` writes RFC 5952 text as Go does except inside ``::/80`` (IPv4-mapped
    and -compatible forms), which goes to ``format_ip``; 10x faster for snapshots of
    150,000 Pods (benchmarks/bench_cluster.py).
    """
    if family is IPFamily.IPv4:
        return _inet_ntop(_AF_INET, value.to_bytes(4, "big"))
    if value >> 48 == 0:
        return format_ip(value, family)
    return _inet_ntop(_AF_INET6, value.to_bytes(16, "big"))


def parse_ip_fast(text: object) -> tuple[int, IPFamily]:
    """``families.parse_ip`` for text (snapshots): plain forms parse in C there.

    Raises:
        InvalidAddressError: as ``parse_ip``.
    """
    return _parse_ip(text)


# --- values ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Node:
    """A node as the address side sees it: its name and its Pod CIDRs.

    Attributes:
        name: ``metadata.name``.
        cidr_ints: ``(network, prefixlen, family)`` of each ``spec.podCIDRs`` entry, in
            ``--cluster-cidr`` order (host bits cleared).
    """

    name: str
    cidr_ints: tuple[tuple[int, int, IPFamily], ...] = ()

    @property
    def pod_cidrs(self) -> tuple[_netaddr.IPNetwork, ...]:
        """``spec.podCIDRs`` as fresh ``netaddr.IPNetwork`` objects (``[0]`` is ``podCIDR``)."""
        return tuple(make_net(v, p, f) for v, p, f in self.cidr_ints)

    @property
    def pod_cidr_texts(self) -> tuple[str, ...]:
        """``spec.podCIDRs`` as Kubernetes prints them."""
        return tuple(format_cidr(v, p, f) for v, p, f in self.cidr_ints)

    @property
    def families(self) -> tuple[IPFamily, ...]:
        """The family of each Pod CIDR, in order."""
        return tuple(f for _, _, f in self.cidr_ints)

    def __repr__(self) -> str:
        return f"<Node {self.name} podCIDRs={','.join(self.pod_cidr_texts) or '-'}>"


@dataclass(frozen=True, slots=True)
class Pod:
    """A Pod's addresses: ``status.podIPs`` of a Pod on a node.

    Attributes:
        namespace, name: the Pod's identity (``cluster.pods`` keys it
            ``"namespace/name"``).
        node: ``spec.nodeName``.
        ip_ints: the addresses as ints, in reporting order.
        ip_families: the family of each address (one per family).
    """

    namespace: str
    name: str
    node: str
    ip_ints: tuple[int, ...]
    ip_families: tuple[IPFamily, ...]

    @property
    def pod_ips(self) -> tuple[_netaddr.IPAddress, ...]:
        """``status.podIPs`` as fresh ``netaddr.IPAddress`` objects (``[0]`` is ``podIP``)."""
        return tuple(make_ip(v, f) for v, f in zip(self.ip_ints, self.ip_families, strict=True))

    @property
    def pod_ip_texts(self) -> tuple[str, ...]:
        """``status.podIPs`` as Kubernetes prints them."""
        return tuple(_fmt(v, f) for v, f in zip(self.ip_ints, self.ip_families, strict=True))

    @property
    def key(self) -> str:
        """``"namespace/name"``."""
        return f"{self.namespace}/{self.name}"

    def ip_of(self, family: IPFamily) -> _netaddr.IPAddress | None:
        """The Pod's address of ``family``, or ``None`` when it has none."""
        for value, fam in zip(self.ip_ints, self.ip_families, strict=True):
            if fam is family:
                return make_ip(value, fam)
        return None

    def __repr__(self) -> str:
        return (
            f"<Pod {self.namespace}/{self.name} node={self.node} "
            f"podIPs={','.join(self.pod_ip_texts) or '-'}>"
        )


class _NodeState:
    """What the registry keeps per node (mutable; shared between copies until written)."""

    __slots__ = (
        "blocks",
        "cidrs",
        "cursors",
        "families",
        "node",
        "order",
        "owner",
        "pods",
        "ranges",
    )

    def __init__(
        self,
        node: Node,
        blocks: tuple[tuple[int, int, int], ...],
        order: tuple[int, ...] | None,
        owner: object,
        cidrs: tuple[tuple[int, int, IPFamily], ...],
    ) -> None:
        self.node = node
        # (set index, first block index, last block index) of every entry it occupies
        self.blocks = blocks
        # the Pod CIDRs host-local gets as range sets: all of them, or only the first
        # (kubenet with the IPv6DualStack gate off, node-and-pod-ips.md §3.5 item 5)
        self.cidrs = cidrs
        # reporting order of the host-local results (None: range-set order)
        self.order = order
        fams = tuple(f for _, _, f in cidrs)
        self.families = fams if order is None else tuple(fams[i] for i in order)
        # host-local ranges, built on first use from the node's Pods (lazily, so that
        # loading a snapshot of 150,000 Pods does not build 10,000 allocators)
        self.ranges: list[PodIPAllocator] | None = None
        # host-local last_reserved cursors to apply when the ranges are built (snapshots)
        self.cursors: tuple[int | None, ...] | None = None
        self.pods: dict[str, None] = {}
        self.owner = owner

    def clone(self, owner: object) -> _NodeState:
        other = object.__new__(_NodeState)
        other.node = self.node
        other.blocks = self.blocks
        other.cidrs = self.cidrs
        other.order = self.order
        other.families = self.families
        other.ranges = None if self.ranges is None else [r.copy() for r in self.ranges]
        other.cursors = self.cursors
        other.pods = dict(self.pods)
        other.owner = owner
        return other


# --- name checks (ValidateObjectMeta) ------------------------------------------------------
def _name_errors(name: object) -> list[FieldError]:
    if not isinstance(name, str) or not name:
        return [
            FieldError(
                FieldErrorType.REQUIRED,
                "metadata.name",
                detail="name or generateName is required",
            )
        ]
    errs = []
    if len(name) > 253:
        errs.append(
            FieldError(
                FieldErrorType.INVALID,
                "metadata.name",
                name,
                "must be no more than 253 characters",
            )
        )
    if not _SUBDOMAIN_RE.fullmatch(name):
        errs.append(FieldError(FieldErrorType.INVALID, "metadata.name", name, _SUBDOMAIN_DETAIL))
    return errs


def _namespace_errors(namespace: object) -> list[FieldError]:
    if not isinstance(namespace, str) or not namespace:
        return [FieldError(FieldErrorType.REQUIRED, "metadata.namespace")]
    errs = []
    if len(namespace) > 63:
        errs.append(
            FieldError(
                FieldErrorType.INVALID,
                "metadata.namespace",
                namespace,
                "must be no more than 63 characters",
            )
        )
    if not _LABEL_RE.fullmatch(namespace):
        errs.append(
            FieldError(FieldErrorType.INVALID, "metadata.namespace", namespace, _LABEL_DETAIL)
        )
    return errs


def pod_cidrs_errors(pod_cidrs: Sequence[str], config: ClusterConfig) -> list[FieldError]:
    """``ValidateNode``'s checks of ``spec.podCIDRs`` (node-and-pod-ips.md §2.9).

    Every entry must parse (sloppy, as ``IsValidCIDR``); with more than one entry they
    must be one per family (at most two), with the parse failure of the dual-stack check
    reported as an internal error, and no entry may repeat.
    """
    field = "spec.podCIDRs"
    errs: list[FieldError] = []
    parsed: list[tuple[int, int, IPFamily] | None] = []
    for index, value in enumerate(pod_cidrs):
        try:
            parsed.append(parse_cidr(value))
        except InvalidAddressError:
            parsed.append(None)
            errs.append(
                FieldError(FieldErrorType.INVALID, f"{field}[{index}]", value, _CIDR_DETAIL)
            )
    if len(pod_cidrs) > 1:
        bad = next((i for i, p in enumerate(parsed) if p is None), None)
        if bad is not None:
            item = pod_cidrs[bad]
            go_error = f"invalid CIDR address: {item}"
            text = (
                f"invalid CIDR[{bad}]: <nil> ({go_error})"
                if config.profile.parse_cidrs_new_text
                else f'failed to parse cidr value:"{item}" with error:{go_error}'
            )
            errs.append(
                FieldError(
                    FieldErrorType.INTERNAL,
                    field,
                    detail=f"invalid PodCIDRs. failed to check with dual stack with error:{text}",
                )
            )
        families = {p[2] for p in parsed if p is not None}
        if bad is not None or len(families) != 2 or len(pod_cidrs) > 2:
            errs.append(
                FieldError(FieldErrorType.INVALID, field, list(pod_cidrs), _ONE_PER_FAMILY)
            )
        seen: set[str] = set()
        for index, value in enumerate(pod_cidrs):
            if value in seen:
                errs.append(FieldError(FieldErrorType.DUPLICATE, f"{field}[{index}]", value))
            seen.add(value)
    return errs


# --- the registry -------------------------------------------------------------------------
class NodeRegistry:
    """The nodes and Pods of one cluster, with their address allocators.

    Args:
        config: the cluster's ``ClusterConfig``.
        network_plugin: ``"cni"`` (host-local's order, or the kubelet's from 1.21) or
            ``"kubenet"`` (IPv4 first up to 1.20; exists up to 1.23).
        store: keep the cluster-CIDR sets and the nodes' Pod IPs in this ``Store``
            (shared with every registry on it); ``None``: private, in memory.

    Raises:
        ConfigError: an unknown plugin, or ``"kubenet"`` in a release without it.
        MismatchedNetworkError: the store holds another range at a key.
        StoreUnavailableError: the store cannot be read.
    """

    __slots__ = (
        "_allocate",
        "_config",
        "_first_cidr_only",
        "_namespaces",
        "_nodes",
        "_plugin",
        "_pods",
        "_primary",
        "_profile",
        "_reserved",
        "_sets",
        "_store",
        "_token",
        "_v4_first",
    )

    def __init__(
        self, config: ClusterConfig, *, network_plugin: str = "cni", store: Store | None = None
    ) -> None:
        profile = config.profile
        if network_plugin not in NETWORK_PLUGINS:
            raise ConfigError(
                f"unknown network plugin {network_plugin!r}",
                hint="give network_plugin='cni' or 'kubenet'",
            )
        if network_plugin == "kubenet" and not profile.kubenet_available:
            raise ConfigError(
                f"network plugin 'kubenet' does not exist in Kubernetes {profile.version}",
                hint="kubenet was removed with dockershim after 1.23; use network_plugin='cni'"
                " or a version up to 1.23",
            )
        self._config = config
        self._profile = profile
        self._plugin = network_plugin
        self._store = store
        self._allocate = config.allocate_node_cidrs
        families = config.pod_families
        # The kubelet's primary family: that of its first node IP, which the library
        # takes to be the first cluster CIDR's (§3.5 item 7); IPv4 when unknown.
        self._primary = families[0] if families else IPFamily.IPv4
        # Up to 1.20 kubenet sorts IPv4 first (§3.5 item 5); from 1.21 the kubelet sorts.
        self._v4_first = network_plugin == "kubenet" and not profile.kubelet_sorts_pod_ips
        # kubenet skips all but the first podCIDR when the dual-stack gate is off (§3.5).
        self._first_cidr_only = network_plugin == "kubenet" and not rules.gate_value(
            config.feature_gates, "IPv6DualStack", profile
        )
        sets: list[NodeCIDRAllocator] = []
        reserved: list[tuple[int, int, int]] = []
        if self._allocate:
            for index, pool in enumerate(config.cluster_pools):
                cidr_set = NodeCIDRAllocator(
                    pool,
                    config.node_mask_size(pool.family),
                    version=profile.version,
                    store=store,
                    key=None if store is None else node_cidrs_key(pool),
                )
                sets.append(cidr_set)
                # §2.4: every service range overlapping this cluster CIDR is occupied
                # at start-up (errors only logged upstream, so none are raised here).
                for service in config.service_pools:
                    if service.family is not pool.family or not service.overlaps(pool):
                        continue
                    try:
                        span = cidr_set.indices_of(service)
                    except NotInRangeError:
                        continue
                    cidr_set.occupy_range(span.start, span.stop - 1)
                    reserved.append((index, span.start, span.stop - 1))
        self._sets: tuple[NodeCIDRAllocator, ...] = tuple(sets)
        self._reserved: tuple[tuple[int, int, int], ...] = tuple(reserved)
        self._nodes: dict[str, _NodeState] = {}
        self._pods: dict[str, Pod] = {}
        self._token = object()
        self._namespaces: set[str] = {"default"}  # names known to be valid namespaces

    # --- views ------------------------------------------------------------------------
    @property
    def config(self) -> ClusterConfig:
        """The configuration."""
        return self._config

    @property
    def network_plugin(self) -> str:
        """``"cni"`` or ``"kubenet"``."""
        return self._plugin

    @property
    def primary_family(self) -> IPFamily:
        """The nodes' primary family: the first cluster CIDR's (IPv4 without one)."""
        return self._primary

    @property
    def cidr_sets(self) -> tuple[NodeCIDRAllocator, ...]:
        """The cluster CIDR sets in ``--cluster-cidr`` order (read them, don't change them).

        Empty with ``--allocate-node-cidrs=false``.
        """
        return self._sets

    @property
    def nodes(self) -> Mapping[str, Node]:
        """The nodes by name (read-only, live)."""
        return _NodeView(self._nodes)

    @property
    def pods(self) -> Mapping[str, Pod]:
        """The Pods keyed ``"namespace/name"`` (read-only, live)."""
        return MappingProxyType(self._pods)

    def host_local(self, node: str) -> tuple[PodIPAllocator, ...]:
        """The node's host-local ranges in ``spec.podCIDRs`` order (read them only).

        Raises:
            NotFoundError: ``nodes "<name>" not found``.
        """
        state = self._state(node)
        return tuple(self._ranges(state))

    def pods_on(self, node: str) -> tuple[Pod, ...]:
        """The Pods on ``node``, in creation order.

        Raises:
            NotFoundError: ``nodes "<name>" not found``.
        """
        state = self._state(node)
        return tuple(self._pods[key] for key in state.pods)

    # --- nodes ------------------------------------------------------------------------
    def add_node(self, name: str, *, pod_cidrs: Sequence[object] | None = None) -> Node:
        """Register a node and give it Pod CIDRs as kube-controller-manager does (§2.5-§2.6).

        Without ``pod_cidrs`` (and with ``--allocate-node-cidrs``) the node takes the
        next block of every cluster CIDR, in ``--cluster-cidr`` order, all or nothing.
        With ``pod_cidrs`` (a node that exists at start-up) the given CIDRs are checked
        as the API server checks ``spec.podCIDRs`` and occupied positionally.

        Raises:
            InvalidObjectError: ``Node "<name>" is invalid: ...`` (name, §2.9 podCIDRs).
            AlreadyExistsError: ``nodes "<name>" already exists``.
            RangeFullError: ``failed to allocate cidr from cluster cidr at idx:<i>:
                CIDR allocation failed; there are no remaining CIDRs left to allocate
                in the accepted range`` (the earlier families' blocks are given back).
            NotInRangeError: ``node:<name> has an allocated cidr: <s> at index:<i> that
                does not exist in cluster cidrs configuration``, or ``failed to mark
                cidr[<cidr>] at idx [<i>] as occupied for node: <name>: <error>``.
            AlreadyAllocatedError: a given CIDR covers a block another node (or the
                service range) holds; upstream would mark it twice.
        """
        errs = _name_errors(name)
        cidr_texts: list[str] = []
        if pod_cidrs is not None and not isinstance(pod_cidrs, Iterable):
            raise InvalidObjectError(
                "Node",
                str(name),
                [FieldError(FieldErrorType.INVALID, "spec.podCIDRs", pod_cidrs, "must be a list")],
                hint='give a list of CIDR strings, e.g. pod_cidrs=["10.244.1.0/24"]',
            )
        if pod_cidrs:
            if isinstance(pod_cidrs, str):
                raise InvalidObjectError(
                    "Node",
                    str(name),
                    [
                        FieldError(
                            FieldErrorType.INVALID, "spec.podCIDRs", pod_cidrs, "must be a list"
                        )
                    ],
                    hint=f"give a list, e.g. pod_cidrs=[{pod_cidrs!r}]",
                )
            cidr_texts = [c if isinstance(c, str) else str(c) for c in pod_cidrs]
            errs.extend(pod_cidrs_errors(cidr_texts, self._config))
        if errs:
            raise InvalidObjectError("Node", str(name), errs)
        if name in self._nodes:
            raise AlreadyExistsError(
                f'nodes "{name}" already exists',
                hint=f"remove_node({name!r}) first, or choose another name",
            )
        if cidr_texts:
            cidrs, blocks = self._occupy_given(name, cidr_texts)
        elif self._allocate:
            cidrs, blocks = self._allocate_blocks()
        else:
            cidrs, blocks = (), ()
        return self._insert(Node(name, cidrs), blocks)

    def _insert(self, node: Node, blocks: tuple[tuple[int, int, int], ...]) -> Node:
        cidrs = node.cidr_ints[:1] if self._first_cidr_only else node.cidr_ints
        order = self._order_for(tuple(f for _, _, f in cidrs))
        self._nodes[node.name] = _NodeState(node, blocks, order, self._token, cidrs)
        return node

    def _order_for(self, families: tuple[IPFamily, ...]) -> tuple[int, ...] | None:
        """How host-local's results (range-set order) are reported (§3.5 items 4-5, 7)."""
        if len(families) < 2:
            return None
        if self._profile.kubelet_sorts_pod_ips:
            first = self._primary
        elif self._v4_first:
            first = IPFamily.IPv4
        else:
            return None
        order = sorted(range(len(families)), key=lambda i: families[i] is not first)
        return None if order == list(range(len(families))) else tuple(order)

    def _allocate_blocks(
        self,
    ) -> tuple[tuple[tuple[int, int, IPFamily], ...], tuple[tuple[int, int, int], ...]]:
        """One block of every set, in order; all or nothing (§2.6, §2.7)."""
        taken: list[int] = []
        if self._store is not None and len(self._sets) > 1:
            for cidr_set in self._sets:
                cidr_set.refresh()  # the cursors to put back on failure are the store's
        cursors = [s.cursor for s in self._sets]
        for idx, cidr_set in enumerate(self._sets):
            try:
                taken.append(cidr_set.allocate_next_index())
            except StoreError:
                self._give_back(taken, cursors)
                raise
            except RangeFullError as error:
                # Upstream keeps the earlier blocks (and leaks one more per retry);
                # the library gives them back and restores every cursor (C6).
                for j, index in enumerate(taken):
                    self._sets[j].release_range(index, index)
                for j, cursor in enumerate(cursors):
                    self._sets[j].cursor = cursor
                raise RangeFullError(
                    f"failed to allocate cidr from cluster cidr at idx:{idx}: {error.message}",
                    hint=f"the {cidr_set.family} cluster CIDR {cidr_set.pool.cidr} has no free "
                    f"/{cidr_set.node_mask_size} block; remove a node or widen it"
                    + (" (nothing was taken from the other family)" if idx else ""),
                ) from None
        cidrs = tuple(
            (s.block_network(i), s.node_mask_size, s.family)
            for s, i in zip(self._sets, taken, strict=True)
        )
        return cidrs, tuple((j, i, i) for j, i in enumerate(taken))

    def _give_back(self, taken: Sequence[int], cursors: Sequence[int]) -> None:
        """Undo a partial ``_allocate_blocks`` after a store error (best effort there)."""
        try:
            for j, index in enumerate(taken):
                self._sets[j].release_range(index, index)
            for j, cursor in enumerate(cursors):
                self._sets[j].cursor = cursor
        except StoreError:
            pass  # the store is down: the blocks leak there, none is ever held twice

    def _occupy_given(
        self, name: str, texts: Sequence[str]
    ) -> tuple[tuple[tuple[int, int, IPFamily], ...], tuple[tuple[int, int, int], ...]]:
        """``occupyCIDRs`` of §2.5 (positional), checked whole before anything is marked.

        Each entry is parsed, matched to its cluster CIDR and range-checked in turn, so
        the first failing entry gives upstream's error (upstream stops there too).
        """
        cidrs: list[tuple[int, int, IPFamily]] = []
        blocks: list[tuple[int, int, int]] = []
        for idx, text in enumerate(texts):
            # The API checks above passed, so the entry parses. The range allocator reads
            # it sloppily too (leading zeros decimal): netutils.ParseCIDRSloppy from 1.23,
            # and before that net.ParseCIDR of Go <= 1.16, which took leading zeros; the
            # spec's strict-parser exception (node-and-pod-ips.md C1) never shipped.
            value, prefixlen, family = parse_cidr(text)
            cidrs.append((value, prefixlen, family))
            if not self._allocate:
                continue
            if idx >= len(self._sets):
                raise NotInRangeError(
                    f"node:{name} has an allocated cidr: {text} at index:{idx} that does not "
                    "exist in cluster cidrs configuration",
                    hint=f"the cluster has {len(self._sets)} cluster CIDR(s): "
                    + ", ".join(self._config.cluster_cidrs),
                )
            cidr_set = self._sets[idx]
            try:
                span = cidr_set.indices_of(CIDRPool.from_ints(value, prefixlen, family))
            except NotInRangeError as error:
                raise NotInRangeError(
                    f"failed to mark cidr[{format_cidr(value, prefixlen, family)}] at idx "
                    f"[{idx}] as occupied for node: {name}: {error.message}",
                    hint=f"podCIDRs[{idx}] must lie in cluster CIDR {cidr_set.pool.cidr} "
                    "(matching is by position, not by family)",
                ) from None
            if span:
                blocks.append((idx, span.start, span.stop - 1))
        if not self._allocate:
            return tuple(cidrs), ()
        if self._store is not None:
            for idx, _, _ in blocks:
                self._sets[idx].refresh()  # the check below reads the latest holders
        for idx, begin, end in blocks:
            holder = self._holder(idx, begin, end)
            if holder is not None:
                raise AlreadyAllocatedError(
                    f"cidr {texts[idx]} at idx [{idx}] is already allocated to {holder}",
                    hint="kube-controller-manager would mark the block twice and hand it "
                    "out again after either holder is deleted; give the node a free block",
                )
        if self._store is None:
            for idx, begin, end in blocks:
                self._sets[idx].occupy_range(begin, end)
        else:
            self._occupy_shared(texts, blocks)
        return tuple(cidrs), tuple(blocks)

    def _occupy_shared(self, texts: Sequence[str], blocks: list[tuple[int, int, int]]) -> None:
        """Occupy given blocks on a store: a block another registry took first is refused.

        The check above read this registry's last view of the store; a block flipped by
        nobody here was taken meanwhile by another registry, so it is not ours to keep.
        """
        done: list[tuple[int, int, int]] = []
        try:
            for idx, begin, end in blocks:
                flipped = self._sets[idx].occupy_range(begin, end)
                if flipped != end - begin + 1:
                    # Partly taken meanwhile: the bits flipped here stay (releasing the
                    # span would free the other registry's blocks); a leak, never a twin.
                    raise AlreadyAllocatedError(
                        f"cidr {texts[idx]} at idx [{idx}] is already allocated to "
                        "another cluster on the store",
                        hint="give the node a free block",
                    )
                done.append((idx, begin, end))
        except DualStackError:
            try:
                for idx, begin, end in done:
                    self._sets[idx].release_range(begin, end)
            except StoreError:
                pass  # the store is down: the blocks leak there, none is held twice
            raise

    def _holder(self, idx: int, begin: int, end: int) -> str | None:
        """Who holds a block of ``[begin, end]`` in set ``idx``, or ``None`` when all are free."""
        cidr_set = self._sets[idx]
        if end - begin < 4096:
            net, shift = cidr_set.pool.first, cidr_set.pool.family.width - cidr_set.node_mask_size
            mask, family = cidr_set.node_mask_size, cidr_set.family
            used = any(
                CIDRPool.from_ints(net + (i << shift), mask, family) in cidr_set
                for i in range(begin, end + 1)
            )
        else:
            used = any(begin <= i <= end for i in cidr_set.iter_indices())
        if not used:
            return None
        # Slow path (errors only): name the holder.
        for s_idx, b, e in self._reserved:
            if s_idx == idx and b <= end and begin <= e:
                return "the service range " + ", ".join(
                    p.cidr for p in self._config.service_pools if p.family is cidr_set.family
                )
        for state in self._nodes.values():
            for s_idx, b, e in state.blocks:
                if s_idx == idx and b <= end and begin <= e:
                    return f"node {state.node.name}"
        return "another holder"  # pragma: no cover - every used block has a holder

    def remove_node(self, name: str) -> None:
        """Delete a node: its Pods go, its blocks are released (§2.8, cursor unmoved).

        Raises:
            NotFoundError: ``nodes "<name>" not found``.
        """
        state = self._state(name)
        if self._store is not None:
            self._remove_shared(state)
        else:
            for idx, begin, end in state.blocks:
                self._sets[idx].release_range(begin, end)
        pods = self._pods
        for key in state.pods:
            del pods[key]
        del self._nodes[name]

    def _remove_shared(self, state: _NodeState) -> None:
        """Delete the node's Pod IP keys, then release its blocks, in the store.

        The keys go first: once a block is free another registry may take it and must
        find its key empty. A store error stops here with the node still registered
        (what was deleted is only Pod IPs of this node; the call can be repeated).
        """
        store = self._store
        assert store is not None
        ranges = state.ranges
        for index, (value, prefixlen, family) in enumerate(state.cidrs):
            shared = None if ranges is None else ranges[index].shared_state
            name = (
                shared.name
                if shared is not None
                else pod_ips_key(CIDRPool.from_ints(value, prefixlen, family))
            )
            _delete_key(store, name)
        for idx, begin, end in state.blocks:
            self._sets[idx].release_range(begin, end)

    # --- Pods -------------------------------------------------------------------------
    def add_pod(self, name: str, *, node: str, namespace: str = "default") -> Pod:
        """Start a Pod on ``node``: one address of each of the node's blocks (§3.4-§3.5).

        Raises:
            InvalidObjectError: ``Pod "<name>" is invalid: ...`` (name or namespace).
            AlreadyExistsError: ``pods "<name>" already exists``.
            NotFoundError: ``nodes "<node>" not found``.
            ConfigError: the node has no Pod CIDR (``no IP ranges specified``) or one
                host-local cannot use (``invalid range set <i>: ...``).
            RangeFullError: ``failed to allocate for range <i>: no IP addresses
                available in range set: <set>`` (nothing is taken from any range).
        """
        key = f"{namespace}/{name}"
        pods = self._pods
        if key in pods:
            raise AlreadyExistsError(
                f'pods "{name}" already exists',
                hint=f"remove_pod({name!r}, namespace={namespace!r}) first, or choose "
                "another name",
            )
        if not self._pod_names_ok(name, namespace):
            raise InvalidObjectError(
                "Pod", str(name), [*_name_errors(name), *_namespace_errors(namespace)]
            )
        state = self._nodes.get(node) if isinstance(node, str) else None
        if state is None:
            raise self._node_not_found(node)
        if state.owner is not self._token:
            state = self._own(node, state)
        ranges = state.ranges
        if ranges is None:
            ranges = self._ranges(state)
        if self._store is not None:
            return self._add_pod_shared(namespace, name, node, state, ranges)
        # Hot path (benchmarks/bench_cluster.py, 150,000 Pods): when every range has a
        # free address nothing can fail, so no cursor needs saving; otherwise the first
        # full range raises before anything was taken (all or nothing, §3.4 and C6).
        if len(ranges) == 2:
            first, second = ranges
            if first.free and second.free:
                values: tuple[int, ...] = (first.allocate_next_int(), second.allocate_next_int())
            else:
                _raise_first_full(ranges)
        else:
            if not all(r.free for r in ranges):
                _raise_first_full(ranges)
            values = tuple([r.allocate_next_int() for r in ranges])
        order = state.order
        if order is not None:
            values = (values[1], values[0]) if order == (1, 0) else tuple(values[i] for i in order)
        pod = Pod(namespace, name, node, values, state.families)
        pods[key] = pod
        state.pods[key] = None
        return pod

    def _add_pod_shared(
        self, namespace: str, name: str, node: str, state: _NodeState, ranges: list[PodIPAllocator]
    ) -> Pod:
        """``add_pod`` on a store: every range asked in turn, all or nothing there too."""
        if len(ranges) > 1:
            for allocator in ranges:
                allocator.refresh()  # the cursors to put back on failure are the store's
        cursors = [r.last_reserved for r in ranges]
        taken: list[int] = []
        try:
            for index, allocator in enumerate(ranges):
                try:
                    taken.append(allocator.allocate_next_int())
                except RangeFullError as error:
                    raise _range_full(index, error) from None
        except DualStackError:
            try:
                for allocator, value, cursor in zip(ranges, taken, cursors, strict=False):
                    allocator.release_int(value)
                    allocator.last_reserved = cursor
            except StoreError:
                pass  # the store is down: the address leaks there, none is held twice
            raise
        values = tuple(taken)
        order = state.order
        if order is not None:
            values = tuple(values[i] for i in order)
        pod = Pod(namespace, name, node, values, state.families)
        self._pods[f"{namespace}/{name}"] = pod
        state.pods[f"{namespace}/{name}"] = None
        return pod

    def _pod_names_ok(self, name: object, namespace: object) -> bool:
        """Whether a Pod's name and namespace pass ``ValidateObjectMeta`` (the cheap
        test; ``_name_errors``/``_namespace_errors`` say why when they do not)."""
        return (
            type(name) is str
            and len(name) <= 253
            and _SUBDOMAIN_MATCH(name) is not None
            and (
                (type(namespace) is str and namespace in self._namespaces)
                or self._namespace_ok(namespace)
            )
        )

    def _namespace_ok(self, namespace: object) -> bool:
        """Whether ``namespace`` is a valid namespace name (remembered when it is)."""
        if type(namespace) is str and len(namespace) <= 63 and _LABEL_RE.fullmatch(namespace):
            self._namespaces.add(namespace)
            return True
        return False

    def remove_pod(self, name: str, *, namespace: str = "default") -> None:
        """Delete a Pod and release its addresses (host-local DEL; cursors unmoved).

        Raises:
            NotFoundError: ``pods "<name>" not found``.
        """
        key = f"{namespace}/{name}"
        pod = self._pods.get(key)
        if pod is None:
            known = sorted(k for k in self._pods if k.startswith(f"{namespace}/"))[:10]
            raise NotFoundError(
                f'pods "{name}" not found',
                hint=f"namespace {namespace!r} has "
                + (", ".join(k.split("/", 1)[1] for k in known) if known else "no Pods"),
            )
        state = self._nodes[pod.node]
        if state.owner is not self._token:
            state = self._own(pod.node, state)
        ranges = state.ranges
        if ranges is not None:
            families = pod.ip_families
            for allocator in ranges:
                family = allocator.family
                for value, fam in zip(pod.ip_ints, families, strict=True):
                    if fam is family:
                        allocator.release_int(value)
        del state.pods[key]
        del self._pods[key]

    # --- copies -----------------------------------------------------------------------
    def copy(self) -> NodeRegistry:
        """An independent registry; per-node state is shared until either side writes it."""
        other = object.__new__(NodeRegistry)
        for slot in NodeRegistry.__slots__:
            object.__setattr__(other, slot, getattr(self, slot))
        other._sets = tuple(s.copy() for s in self._sets)
        other._nodes = dict(self._nodes)
        other._pods = dict(self._pods)
        if self._store is not None:
            # A copy of a store-backed registry is private: it takes its own node states
            # now (its allocators are private copies), and this one keeps writing its own
            # states to the store, which the copy no longer sees.
            other._store = None
            other._token = object()
            other._nodes = {n: st.clone(other._token) for n, st in self._nodes.items()}
            return other
        # Neither side owns the shared node states any more: both copy on first write.
        self._token = object()
        other._token = object()
        return other

    # --- internals --------------------------------------------------------------------
    def _state(self, name: str) -> _NodeState:
        state = self._nodes.get(name) if isinstance(name, str) else None
        if state is None:
            raise self._node_not_found(name)
        return state

    def _node_not_found(self, name: object) -> NotFoundError:
        known = list(self._nodes)[:10]
        return NotFoundError(
            f'nodes "{name}" not found',
            hint="the cluster has "
            + (", ".join(known) if known else "no nodes")
            + (" ..." if len(self._nodes) > 10 else ""),
        )

    def _own(self, name: str, state: _NodeState) -> _NodeState:
        own = state.clone(self._token)
        self._nodes[name] = own
        return own

    def _ranges(self, state: _NodeState) -> list[PodIPAllocator]:
        """The node's host-local range sets, built on first use (§3.5 items 1-2)."""
        if state.ranges is not None:
            return state.ranges
        node = state.node
        if not state.cidrs:
            raise ConfigError(
                "no IP ranges specified",
                hint=f"node {node.name} has no Pod CIDR; host-local has nothing to allocate "
                "from (give the node pod_cidrs, or use --allocate-node-cidrs=true)",
            )
        ranges: list[PodIPAllocator] = []
        for index, (value, prefixlen, family) in enumerate(state.cidrs):
            try:
                pool = CIDRPool.from_ints(value, prefixlen, family)
                if self._store is None:
                    ranges.append(PodIPAllocator(pool))
                else:
                    ranges.append(PodIPAllocator(pool, store=self._store, key=pod_ips_key(pool)))
            except ConfigError as error:
                raise ConfigError(
                    f"invalid range set {index}: {error.message}", hint=error.hint
                ) from None
        if state.pods:
            # Pods loaded from a snapshot: their addresses were checked then (_load_pod).
            pods = self._pods
            for key in state.pods:
                pod = pods[key]
                for value, family in zip(pod.ip_ints, pod.ip_families, strict=True):
                    for allocator in ranges:
                        if allocator.family is family:
                            allocator.allocate_int(value)
        if state.cursors is not None:
            for allocator, cursor in zip(ranges, state.cursors, strict=True):
                allocator.last_reserved = cursor
        if state.owner is self._token:
            state.ranges = ranges
            state.cursors = None
        return ranges

    # --- validation -------------------------------------------------------------------
    def validate(self) -> list[Finding]:
        """The node and Pod checks of the "Validate IPv4/IPv6 dual-stack" task (§5).

        Nodes: one Pod CIDR per configured family, inside the cluster CIDR of that
        family, no overlap between nodes. Pods: one address per family of the node,
        each inside the node's CIDR of its family, no address held by two Pods.
        """
        findings: list[Finding] = []
        expected = set(self._config.pod_families)
        clusters = self._config.cluster_pools
        spans: list[tuple[IPFamily, int, int, str]] = []
        for name, state in self._nodes.items():
            subject = f"node/{name}"
            node = state.node
            families = node.families
            for family in sorted(expected - set(families)):
                findings.append(
                    Finding(
                        "error",
                        subject,
                        f"spec.podCIDRs has no {family} block; each dual-stack node should "
                        "have a single IPv4 block and a single IPv6 block",
                    )
                )
            for family in sorted({f for f in families if families.count(f) > 1}):
                findings.append(
                    Finding("error", subject, f"spec.podCIDRs has more than one {family} block")
                )
            for value, prefixlen, family in node.cidr_ints:
                last = value | ((1 << (family.width - prefixlen)) - 1)
                text = format_cidr(value, prefixlen, family)
                spans.append((family, value, last, f"{subject} {text}"))
                same = [p for p in clusters if p.family is family]
                if same and not any(p.first <= value and last <= p.last for p in same):
                    findings.append(
                        Finding(
                            "error",
                            subject,
                            f"Pod CIDR {text} lies outside the {family} cluster CIDR "
                            + ", ".join(p.cidr for p in same),
                        )
                    )
        spans.sort()
        for (fa, _, last_a, who_a), (fb, first_b, _, who_b) in _itertools.pairwise(spans):
            if fa is fb and first_b <= last_a:
                findings.append(
                    Finding(
                        "error",
                        who_b.split(" ")[0],
                        f"Pod CIDR {who_b.split(' ')[1]} overlaps {who_a}",
                    )
                )
        seen: dict[tuple[IPFamily, int], str] = {}
        for key, pod in self._pods.items():
            subject = f"pod/{key}"
            node = self._nodes[pod.node].node
            want = expected or set(node.families)
            have = pod.ip_families
            for family in sorted(want - set(have)):
                findings.append(
                    Finding("error", subject, f"status.podIPs has no {family} address")
                )
            for value, family in zip(pod.ip_ints, have, strict=True):
                ip = format_ip(value, family)
                if have.count(family) > 1:
                    findings.append(
                        Finding(
                            "error", subject, f"status.podIPs has more than one {family} address"
                        )
                    )
                inside = any(
                    f is family and v <= value <= v | ((1 << (f.width - p)) - 1)
                    for v, p, f in node.cidr_ints
                )
                if not inside:
                    findings.append(
                        Finding(
                            "error",
                            subject,
                            f"Pod IP {ip} is outside node {node.name}'s {family} Pod CIDR",
                        )
                    )
                other = seen.setdefault((family, value), key)
                if other != key:
                    findings.append(
                        Finding("error", subject, f"Pod IP {ip} is also held by pod/{other}")
                    )
        return findings

    # --- snapshots --------------------------------------------------------------------
    def dump(self) -> dict[str, Any]:
        """The node/Pod state as JSON-ready data (see ``dualstack.snapshot``).

        Cluster-CIDR sets as ``{"range", "nodeMaskSize", "cursor", "data"}`` where
        ``data`` is the bitmap in ``RangeAllocation`` encoding (base64), or ``"runs"``
        of used indices for sets of more than 2^24 blocks; nodes with their
        ``podCIDRs`` and host-local ``lastReserved`` cursors; Pods in creation order.
        """
        sets: list[dict[str, Any]] = []
        for cidr_set in self._sets:
            entry: dict[str, Any] = {
                "range": cidr_set.pool.cidr,
                "nodeMaskSize": cidr_set.node_mask_size,
                "cursor": cidr_set.cursor,
            }
            if self._store is None:
                indices: Iterable[int] = cidr_set.iter_indices()
            else:
                indices = self._own_indices(len(sets))
            if cidr_set.size <= _MAX_ENCODED_BLOCKS:
                data = _bitmap_bytes(indices)
                entry["data"] = _base64.b64encode(data).decode("ascii")
            else:
                entry["runs"] = [list(r) for r in _runs(indices)]
            sets.append(entry)
        nodes = []
        for state in self._nodes.values():
            node = state.node
            item: dict[str, Any] = {"name": node.name, "podCIDRs": list(node.pod_cidr_texts)}
            if state.ranges is not None:
                cursors = tuple(r.last_reserved for r in state.ranges)
            else:
                cursors = state.cursors or ()
            if any(c is not None for c in cursors):
                item["lastReserved"] = [
                    None if c is None else format_ip(c, f)
                    for c, (_, _, f) in zip(cursors, state.cidrs, strict=True)
                ]
            nodes.append(item)
        # _fmt inlined: 300,000 addresses in the envelope (benchmarks/bench_cluster.py).
        ntop, af4, af6, v4 = _inet_ntop, _AF_INET, _AF_INET6, IPFamily.IPv4
        pods: list[dict[str, Any]] = []
        append = pods.append
        for pod in self._pods.values():
            ips = []
            for value, family in zip(pod.ip_ints, pod.ip_families, strict=True):
                if family is v4:
                    ips.append(ntop(af4, value.to_bytes(4, "big")))
                elif value >> 48:
                    ips.append(ntop(af6, value.to_bytes(16, "big")))
                else:
                    ips.append(format_ip(value, family))
            append(
                {"namespace": pod.namespace, "name": pod.name, "nodeName": pod.node, "podIPs": ips}
            )
        return {"cidrSets": sets, "nodes": nodes, "pods": pods}

    def _own_indices(self, idx: int) -> list[int]:
        """The blocks of set ``idx`` this registry holds (a store also has others')."""
        own: set[int] = set()
        for s_idx, begin, end in self._reserved:
            if s_idx == idx:
                own.update(range(begin, end + 1))
        for state in self._nodes.values():
            for s_idx, begin, end in state.blocks:
                if s_idx == idx:
                    own.update(range(begin, end + 1))
        return sorted(own)

    @classmethod
    def load(
        cls, config: ClusterConfig, data: Mapping[str, Any], *, network_plugin: str = "cni"
    ) -> NodeRegistry:
        """Rebuild a registry from ``dump()`` data, refusing anything inconsistent.

        Raises:
            DualStackError: ``corrupt snapshot: <what is wrong>``: a node CIDR that
                overlaps another node's or lies outside its cluster CIDR, a Pod address
                outside its node's CIDR or held twice, a bitmap or cursor that disagrees
                with the nodes, a missing or mistyped field.
        """
        registry = cls(config, network_plugin=network_plugin)
        try:
            registry._load(data)
        except _CorruptError as error:
            raise DualStackError(f"corrupt snapshot: {error}", hint=_CORRUPT_HINT) from None
        except DualStackError as error:
            raise DualStackError(f"corrupt snapshot: {error}", hint=_CORRUPT_HINT) from None
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise DualStackError(
                f"corrupt snapshot: malformed node or Pod data ({type(error).__name__}: {error})",
                hint=_CORRUPT_HINT,
            ) from None
        return registry

    def _load(self, data: Mapping[str, Any]) -> None:
        nodes = _list(data, "nodes")
        pods = _list(data, "pods")
        sets = _list(data, "cidrSets")
        for item in nodes:
            name = item["name"]
            texts = item["podCIDRs"]
            if not isinstance(texts, list):
                raise _CorruptError(f"node {name!r}: podCIDRs is not a list")
            if self._allocate and self._sets and not texts:
                raise _CorruptError(
                    f"node {name!r} has no podCIDRs, but this cluster gives every node one "
                    "block of each cluster CIDR"
                )
            try:
                self.add_node(name, pod_cidrs=texts or None)
            except DualStackError as error:
                raise _CorruptError(f"node {name!r} with podCIDRs {texts}: {error}") from None
        if len(sets) != len(self._sets):
            raise _CorruptError(
                f"{len(sets)} cluster CIDR sets, the configuration has {len(self._sets)}"
            )
        for entry, cidr_set in zip(sets, self._sets, strict=True):
            cidr = cidr_set.pool.cidr
            if entry["range"] != cidr or entry["nodeMaskSize"] != cidr_set.node_mask_size:
                raise _CorruptError(
                    f"cluster CIDR set {entry['range']}/{entry['nodeMaskSize']} does not match "
                    f"the configuration's {cidr} into /{cidr_set.node_mask_size}"
                )
            if "data" in entry:
                stored = AllocationBitmap.from_k8s_bytes(
                    _base64.b64decode(entry["data"], validate=True), cidr_set.size
                )
                stored_indices = list(stored)
            else:
                stored_indices = [i for b, e in entry["runs"] for i in range(b, e + 1)]
            actual = list(cidr_set.iter_indices())
            if stored_indices != actual:
                extra = sorted(set(stored_indices) - set(actual))[:5]
                missing = sorted(set(actual) - set(stored_indices))[:5]
                raise _CorruptError(
                    f"the bitmap of cluster CIDR {cidr} disagrees with the nodes: "
                    f"blocks marked used but held by nobody {extra}, blocks held but not "
                    f"marked {missing}"
                )
            try:
                cidr_set.cursor = entry["cursor"]
            except NotInRangeError as error:
                raise _CorruptError(f"cluster CIDR {cidr}: {error}") from None
        windows: dict[str, list[tuple[IPFamily, int, int]]] = {}
        seen: dict[str, set[int]] = {}
        for item in pods:
            self._load_pod(item, windows, seen)
        for item in nodes:
            texts = item.get("lastReserved")
            if texts is None:
                continue
            state = self._nodes[item["name"]]
            families = tuple(f for _, _, f in state.cidrs)
            if not isinstance(texts, list) or len(texts) != len(families):
                raise _CorruptError(
                    f"node {item['name']!r}: lastReserved {texts!r} does not give one cursor "
                    f"per Pod CIDR ({len(families)})"
                )
            cursors: list[int | None] = []
            for text, family in zip(texts, families, strict=True):
                if text is None:
                    cursors.append(None)
                    continue
                value, parsed_family = parse_ip_fast(text)
                if parsed_family is not family:
                    raise _CorruptError(
                        f"node {item['name']!r}: lastReserved {text} is not {family}"
                    )
                cursors.append(value)
            state.cursors = tuple(cursors)

    def _load_pod(
        self,
        item: Mapping[str, Any],
        windows: dict[str, list[tuple[IPFamily, int, int]]],
        seen: dict[str, set[int]],
    ) -> None:
        """Check one Pod of a snapshot against its node and record it (no allocator yet).

        An address must lie in host-local's window of the node's CIDR of its family,
        not be the gateway and not be held by another Pod of the node (§3.2-§3.3).
        """
        namespace, name, node = item["namespace"], item["name"], item["nodeName"]
        if not self._pod_names_ok(name, namespace):
            # add_pod refuses these; a snapshot must not bring them in either.
            problems = [*_name_errors(name), *_namespace_errors(namespace)]
            raise _CorruptError(
                f"pod {namespace!r}/{name!r}: " + "; ".join(str(p) for p in problems)
            )
        key = f"{namespace}/{name}"
        if key in self._pods:
            raise _CorruptError(f"pod {key} appears twice")
        state = self._nodes.get(node) if isinstance(node, str) else None
        if state is None:
            raise _CorruptError(f"pod {key} runs on node {node!r}, which is not in the snapshot")
        window = windows.get(node)
        if window is None:
            window = windows[node] = _windows(state)
            seen[node] = set()
        taken = seen[node]
        texts = item["podIPs"]
        families = state.families  # reporting order
        if type(texts) is not list or len(texts) != len(families):
            raise _CorruptError(
                f"pod {key} has podIPs {texts!r}; node {node} has {len(window)} Pod CIDRs"
            )
        values = []
        for k, text in enumerate(texts):
            value, family = parse_ip_fast(text)
            if family is not families[k]:
                raise _CorruptError(
                    f"pod {key}: podIPs {texts} are not one address per Pod CIDR of node "
                    f"{node} in the order this cluster reports ({', '.join(families)})"
                )
            _, first, last = window[k]
            if not first < value <= last or value in taken:
                start = _fmt(first, family)
                span = f"{start}-{_fmt(last, family)}"
                if not first <= value <= last:
                    problem = f"{text} not in range set {span}"
                elif value == first:
                    problem = f"requested ip {text} is subnet's gateway"
                else:
                    problem = f"requested IP address {text} is not available in range set {span}"
                raise _CorruptError(f"pod {key}: address {text} on node {node}: {problem}")
            taken.add(value)
            values.append(value)
        pod = Pod(namespace, name, node, tuple(values), families)
        self._pods[key] = pod
        state.pods[key] = None


def _windows(state: _NodeState) -> list[tuple[IPFamily, int, int]]:
    """host-local's default window of each Pod CIDR, in reporting order (§3.2).

    ``(family, rangeStart, rangeEnd)``: rangeStart is the gateway (network + 1), which
    is never handed out; rangeEnd is the last address, less one for IPv4.
    """
    out = []
    for value, prefixlen, family in state.cidrs:
        last = value | ((1 << (family.width - prefixlen)) - 1)
        out.append((family, value + 1, last - 1 if family.has_broadcast else last))
    if state.order is not None:
        out = [out[i] for i in state.order]
    return out


class _CorruptError(Exception):
    """An inconsistency found while loading a snapshot (turned into ``DualStackError``)."""


_CORRUPT_HINT: Final = (
    "the snapshot was edited or damaged; restore the file Cluster.snapshot() wrote"
)


class _NodeView(Mapping[str, Node]):
    """Read-only live view of the nodes by name."""

    __slots__ = ("_states",)

    def __init__(self, states: Mapping[str, _NodeState]) -> None:
        self._states = states

    def __getitem__(self, name: str) -> Node:
        return self._states[name].node

    def __iter__(self) -> Any:
        return iter(self._states)

    def __len__(self) -> int:
        return len(self._states)

    def __contains__(self, name: object) -> bool:
        return name in self._states

    def __repr__(self) -> str:
        return f"NodeMap({list(self._states)!r})"


def _raise_first_full(ranges: Sequence[PodIPAllocator]) -> NoReturn:
    """Raise host-local's error for the first full range set; nothing is taken."""
    for index, allocator in enumerate(ranges):
        if not allocator.free:
            try:
                allocator.allocate_next_int()
            except RangeFullError as error:
                raise _range_full(index, error) from None
    raise AssertionError("no range set is full")  # pragma: no cover - callers checked


def _range_full(index: int, error: RangeFullError) -> RangeFullError:
    return RangeFullError(
        f"failed to allocate for range {index}: {error.message}", hint=error.hint
    )


def _list(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    if not isinstance(value, list):
        raise _CorruptError(f"{key!r} is missing or not a list")
    return value


def _delete_key(store: Store, name: str) -> None:
    """Delete ``name`` in ``store`` with compare-and-swap (retried while others write).

    Raises:
        StoreError: the store is down or other writers won every attempt.
    """
    for _ in range(16):
        current = store.get(name)
        if not current.exists or store.compare_and_swap(name, None, revision=current.revision).ok:
            return
    raise StoreConflictError(
        f"could not delete {store.key(name)}: other writers changed it on every attempt",
        hint="retry remove_node",
    )


def _bitmap_bytes(indices: Iterable[int]) -> bytes:
    """The used indices as Go's ``big.Int.Bytes()`` (RangeAllocation encoding)."""
    number = 0
    for index in indices:
        number |= 1 << index
    return number.to_bytes((number.bit_length() + 7) // 8, "big")


def _runs(indices: Iterable[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for index in indices:
        if runs and runs[-1][1] == index - 1:
            runs[-1] = (runs[-1][0], index)
        else:
            runs.append((index, index))
    return runs

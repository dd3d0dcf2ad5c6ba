"""Cluster: the facade that ties a ClusterConfig to the allocators, as a running cluster.

Purpose: one object that behaves like the address-handing parts of a Kubernetes cluster.
Each part has its own clearly separated block of attributes and methods: Services
(kube-apiserver's Service REST storage, the bootstrap ``default/kubernetes`` Service,
and a cloud provider's / MetalLB's LoadBalancer addresses); nodes and Pods (thin
delegation to ``dualstack.nodes.NodeRegistry``); egress (ip-masq-agent's
``EgressPolicy``); validation; copies and snapshots (the format is
``dualstack.snapshot``'s).

Key types:
- ``Cluster(config, *, seed=None, network_plugin="cni", egress=None, store=None)``;
  Services: ``create_service``, ``update_service``, ``delete_service``,
  ``get_service``, ``services`` (read-only, keyed ``"namespace/name"``),
  ``service_warnings`` (the API server's clusterIP warnings for the last Service call);
  nodes and Pods: ``add_node``, ``remove_node``, ``add_pod``, ``remove_pod``,
  ``nodes``, ``pods``; ``egress(pod, destination)``; ``validate()``; ``copy()``,
  ``snapshot()``, ``Cluster.from_snapshot(data)``.

Invariants (Service part): every allocated ClusterIP belongs to exactly one stored
Service and vice versa; every LoadBalancer ingress address belongs to exactly one
stored ``type: LoadBalancer`` Service; ``default/kubernetes`` exists and is created with
the first address of the primary range (deleting it recreates it, as the bootstrap
controller does) — the one exception: after an update made it give that address up and
another Service took it, a delete of ``kubernetes`` succeeds and the Service stays
missing until a later call frees the address (``validate()`` warns meanwhile, and
snapshots load); a failing call leaves every allocator, counter and random generator
exactly as before; returned dicts are deep copies (changing them changes nothing).
Stored Service objects are never changed in place once stored (they are replaced), so
``copy()`` shares them. Node and Pod invariants: see ``dualstack.nodes``.

Shared state (``store=``, docs/etcd.md): the ClusterIP allocators keep their bitmaps in
the store under kube-apiserver's keys (``ranges/serviceips``,
``ranges/secondaryserviceips``), so several ``Cluster`` objects, in several processes,
share the Service address state while each keeps its own Service objects, as several
kube-apiservers do. The second one finds the ``kubernetes`` Service's address held and
adopts it; that Service never releases it, neither on delete (it is recreated at once,
by every cluster) nor on an update that gives the address up (a cluster cannot see
whether the others' ``kubernetes`` still hold it). On a store, a call that fails gives
back what it took in the store (when the store lets it: else an address leaks, none is
ever held twice); ``snapshot()`` records this cluster's own addresses only, and
``copy()`` and ``from_snapshot`` give private clusters. Node CIDR blocks and Pod IPs
are shared the same way (keys ``ranges/nodecidrs/<cluster CIDR>`` and
``ranges/podips/<node CIDR>``, see ``dualstack.nodes``); each cluster keeps its own Node
and Pod objects.
"""

from __future__ import annotations

import contextlib
import random as _random
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

import netaddr as _netaddr

from dualstack.bitmap import AllocationBitmap
from dualstack.config import ClusterConfig, Finding
from dualstack.egress import EgressPolicy
from dualstack.errors import (
    AlreadyAllocatedError,
    ConfigError,
    DualStackError,
    NotFoundError,
)
from dualstack.families import IPFamily, format_ip, parse_ip
from dualstack.nodes import Node, NodeRegistry, Pod, parse_ip_fast
from dualstack.pools import CIDRPool
from dualstack.service_ips import RangeAllocation, ServiceIPAllocator
from dualstack.services import (
    Manifest,
    ServiceRules,
    _copy_created,
    check_manifest,
    create_checked,
    create_service,
    service_addresses,
    service_key,
    update_checked,
)
from dualstack.services import _copy as _copy_manifest
from dualstack.store import Store, StoreError, StoreUnavailableError, service_ips_key

__all__ = ["Cluster", "ServiceMap"]

KUBERNETES_SERVICE_KEY: Final = "default/kubernetes"


class ServiceMap(Mapping[str, Manifest]):
    """A read-only view of the stored Services; each lookup returns a deep copy."""

    __slots__ = ("_store",)

    def __init__(self, store: Mapping[str, Manifest]) -> None:
        self._store = store

    def __getitem__(self, key: str) -> Manifest:
        return _copy_manifest(self._store[key])  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[str]:
        return iter(self._store)

    def __len__(self) -> int:
        return len(self._store)

    def __repr__(self) -> str:
        return f"ServiceMap({sorted(self._store)!r})"


class _LoadBalancerPool:
    """LoadBalancer addresses of one family, lowest free first (like MetalLB).

    The network address and, for IPv4, the broadcast address are never handed out
    (MetalLB's ``avoidBuggyIPs`` habit, and what a cloud provider does).
    """

    __slots__ = ("_bitmaps", "_family", "_pools")

    def __init__(self, family: IPFamily, cidrs: tuple[str, ...]) -> None:
        self._family = family
        self._pools = tuple(CIDRPool(c) for c in cidrs)
        self._bitmaps = tuple(AllocationBitmap(self._usable(p)) for p in self._pools)

    def _usable(self, pool: CIDRPool) -> int:
        reserved = 2 if self._family is IPFamily.IPv4 else 1
        return max(pool.size - reserved, 0)

    @property
    def free(self) -> int:
        return sum(b.free for b in self._bitmaps)

    def allocate_next(self) -> str:
        for pool, bitmap in zip(self._pools, self._bitmaps, strict=True):
            offset = bitmap.first_free(0, bitmap.size) if bitmap.free else -1
            if offset >= 0:
                bitmap.allocate(offset)
                return format_ip(pool.first + 1 + offset, self._family)
        raise DualStackError("load balancer pool exhausted")  # callers check .free first

    def release(self, ip: str) -> None:
        value, family = parse_ip(ip)
        if family is not self._family:
            return
        for pool, bitmap in zip(self._pools, self._bitmaps, strict=True):
            offset = value - pool.first - 1
            if 0 <= offset < bitmap.size:
                bitmap.release(offset)
                return

    def occupy(self, ip: str) -> bool:
        """Mark ``ip`` used (snapshots); False when it is not in a pool or already used."""
        value, family = parse_ip(ip)
        if family is not self._family:
            return False
        for pool, bitmap in zip(self._pools, self._bitmaps, strict=True):
            offset = value - pool.first - 1
            if 0 <= offset < bitmap.size:
                return bitmap.allocate(offset)
        return False

    def copy(self) -> _LoadBalancerPool:
        other = object.__new__(_LoadBalancerPool)
        other._family = self._family
        other._pools = self._pools
        other._bitmaps = tuple(b.copy() for b in self._bitmaps)
        return other

    def used(self) -> list[str]:
        return [
            format_ip(pool.first + 1 + offset, self._family)
            for pool, bitmap in zip(self._pools, self._bitmaps, strict=True)
            for offset in bitmap
        ]


def _lookup_key(name: object, namespace: object) -> str:
    """The ``"namespace/name"`` key ``get_service``/``delete_service`` look up.

    A ``str`` subclass counts as its characters, as ``check_manifest`` stores it (an
    f-string would format a ``(str, Enum)`` member as ``"N.WEB"``); an empty or ``None``
    namespace is ``default``. Anything else is looked up as its text.
    """
    if isinstance(name, str):
        name = str.__str__(name)
    if not namespace:
        namespace = "default"
    elif isinstance(namespace, str):
        namespace = str.__str__(namespace)
    return f"{namespace}/{name}"


class Cluster:
    """A simulated cluster: Services (and, in their own parts, nodes and Pods).

    Args:
        config: the cluster's ``ClusterConfig``.
        seed: seeds every random choice (ClusterIPs are random within the dynamic
            band, as upstream); ``None`` draws fresh entropy. An ``int`` (a subclass
            such as an ``IntEnum`` member counts as its number; ``bool`` does not).
        network_plugin: ``"cni"`` or ``"kubenet"`` (Pod IP order, see the node part).
        egress: the ip-masq-agent policy (see the egress part); ``None`` is the default.
        store: keep the ClusterIP state in this ``Store`` (``EtcdStore`` to share it
            with other ``Cluster`` objects and processes); ``None`` keeps it private.

    Raises:
        ConfigError: ``seed`` is not an int or None.
        MismatchedNetworkError: the store holds other Service ranges.
        StoreUnavailableError: the store cannot be read.
    """

    def __init__(
        self,
        config: ClusterConfig,
        *,
        seed: int | None = None,
        network_plugin: str = "cni",
        egress: EgressPolicy | None = None,
        store: Store | None = None,
    ) -> None:
        self._config = config
        self._store = store
        self._seed = _check_seed(seed)
        self._network_plugin = network_plugin
        self._egress = _egress_policy(egress)
        # Before the Services: an impossible plugin must fail before anything is built.
        self._registry = NodeRegistry(config, network_plugin=network_plugin, store=store)
        self._init_services()

    @property
    def config(self) -> ClusterConfig:
        """The configuration the cluster runs with."""
        return self._config

    def _rng(self, purpose: str) -> _random.Random:
        """An independent generator per purpose, derived from the seed (deterministic)."""
        if self._seed is None:
            return _random.Random()
        return _random.Random(f"dualstack/{self._seed}/{purpose}")

    # ==================================================================================
    # Services (kube-apiserver's Service storage; service-ips.md §1.10-§1.11, §3)
    # ==================================================================================
    def _init_services(self) -> None:
        config = self._config
        profile = config.profile
        self._service_rules = ServiceRules.from_config(config)
        self._service_rngs: dict[IPFamily, _random.Random] = {}
        self._service_allocators: dict[IPFamily, ServiceIPAllocator] = {}
        static = getattr(config, "static_subrange", None)
        for index, cidr in enumerate(config.service_cidrs):
            family = IPFamily.of(cidr)
            rng = self._rng(f"service-ips/{family.value}")
            self._service_rngs[family] = rng
            self._service_allocators[family] = ServiceIPAllocator(
                cidr,
                version=profile.version,
                rng=rng,
                static_subrange=static,
                allocator=config.service_allocator,
                store=self._store,
                key=service_ips_key(index) if self._store is not None else None,
            )
        pools = getattr(config, "load_balancer_pools", None) or {}
        self._lb_pools: dict[IPFamily, _LoadBalancerPool] = {
            IPFamily(family): _LoadBalancerPool(IPFamily(family), tuple(cidrs))
            for family, cidrs in pools.items()
        }
        self._services: dict[str, Manifest] = {}
        # key -> (family, int) of every ClusterIP the Service holds: deletes release by
        # int instead of parsing text again (benchmarks/bench_services.py)
        self._service_ips: dict[str, tuple[tuple[IPFamily, int], ...]] = {}
        self._service_warnings: tuple[str, ...] = ()
        self._ensure_kubernetes_service()

    def _kubernetes_address(self) -> tuple[IPFamily, int]:
        """The address of ``default/kubernetes``: the first of the primary range."""
        primary = self._service_rules.default_family
        return primary, self._service_allocators[primary].first

    def _kubernetes_address_holder(self) -> str | None:
        """The key of this cluster's Service holding the ``kubernetes`` address, if any."""
        address = self._kubernetes_address()
        for key, held in self._service_ips.items():
            if address in held:
                return key
        return None

    def _shared_kubernetes_address(self, key: str) -> tuple[IPFamily, int] | None:
        """The address a change of ``key`` must never release on a shared store.

        Every cluster on a store has its own ``default/kubernetes`` at the first address
        of the primary range, all holding the one bit in the store; no cluster can see
        whether the others' still hold it. So on a store that bit is never given back
        by ``kubernetes`` — not on delete (it is recreated there) nor on an update that
        gives the address up (``type: ExternalName``): another cluster's Service could
        then take the address every other cluster's ``kubernetes`` still has.
        """
        if self._store is None or key != KUBERNETES_SERVICE_KEY:
            return None
        return self._kubernetes_address()

    def _ensure_kubernetes_service(self) -> None:
        """The bootstrap controller's ``default/kubernetes`` Service (§1.11).

        Called after every call that can free a ClusterIP: when the Service is missing
        and its address is free, it is recreated; while another Service of this
        cluster holds that address it stays missing (kube-apiserver's controller keeps
        retrying and logs the failure; the DELETE that removed it has succeeded).
        """
        if KUBERNETES_SERVICE_KEY in self._services:
            return
        primary, first = self._kubernetes_address()
        if self._store is None:
            if self._service_allocators[primary].has_int(first):
                return  # held by another Service: recreated once it is released
        elif self._kubernetes_address_holder() is not None:
            return
        manifest: Manifest = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": "kubernetes",
                "namespace": "default",
                "labels": {"component": "apiserver", "provider": "kubernetes"},
            },
            "spec": {
                "type": "ClusterIP",
                "clusterIP": format_ip(first, primary),
                "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
                "sessionAffinity": "None",
            },
        }
        if self._service_rules.profile.service_api == "ga":
            manifest["spec"]["ipFamilyPolicy"] = "SingleStack"
            manifest["spec"]["ipFamilies"] = [primary.value]
        allocators: Mapping[IPFamily, Any] = self._service_allocators
        if self._store is not None:
            # The address is held in the store by whichever cluster (kube-apiserver)
            # came first; the others adopt it. The object is built against a private
            # copy with the address free, then the address is made sure of in one
            # compare-and-swap: taken, or found held (no read-then-decide race).
            shared = self._service_allocators[primary]
            scratch = shared.copy()
            scratch.release_int(first)
            allocators = {**self._service_allocators, primary: scratch}
        outcome = create_service(
            manifest, self._service_rules, allocators, rngs=self._service_rngs
        )
        if self._store is not None:
            # Held already (by this or another cluster's kubernetes Service): adopted.
            # The store being down must not fail the call that got here (a delete or
            # an update that has succeeded): the address was held before, unless this
            # cluster had given it up, and no other Service of this cluster holds it.
            with contextlib.suppress(AlreadyAllocatedError, StoreError):
                self._service_allocators[primary].allocate_int(first)
        self._services[KUBERNETES_SERVICE_KEY] = outcome.service
        self._service_ips[KUBERNETES_SERVICE_KEY] = outcome.addresses or ()

    @property
    def services(self) -> Mapping[str, Manifest]:
        """The stored Services, keyed ``"namespace/name"`` (read-only; values are copies)."""
        return ServiceMap(self._services)

    @property
    def service_warnings(self) -> tuple[str, ...]:
        """kube-apiserver's warnings about the typed ``spec.clusterIP(s)`` of the last
        successful create or update (§3.9); its other Service warnings (externalIPs,
        loadBalancerIP, ignored fields) are not modelled (docs/services.md, Warnings)."""
        return self._service_warnings

    @property
    def service_allocators(self) -> Mapping[IPFamily, ServiceIPAllocator]:
        """The ClusterIP allocator of each configured family (read them, don't change them)."""
        return dict(self._service_allocators)

    def create_service(self, manifest: Mapping[str, Any]) -> Manifest:
        """Create a Service as kube-apiserver does (``kubectl create``).

        Args:
            manifest: the Service as ``yaml.safe_load`` gives it; never mutated.

        Returns:
            The stored object (a deep copy): ``spec.clusterIP(s)``, ``ipFamilies``,
            ``ipFamilyPolicy`` (or ``ipFamily`` under the 1.16-1.19 alpha API) filled in,
            and ``status.loadBalancer.ingress`` for a LoadBalancer when pools are set.

        Raises:
            InvalidServiceError: kube-apiserver's 422 (``Service "web" is invalid: ...``),
                requested addresses that are taken or out of range included; also for a
                manifest that is not a Service.
            RangeFullError: ``Internal error occurred: failed to allocate a serviceIP:
                range is full``.
            AlreadyExistsError: ``services "<name>" already exists``, only for a
                request that would otherwise succeed (the 422 and the 500 come first).
        """
        obj = check_manifest(manifest)
        meta = obj["metadata"]
        key = f"{meta['namespace']}/{meta['name']}"
        # An existing name is refused only once the request has passed allocation and
        # validation, as kube-apiserver answers 422/500 before its storage's 409.
        exists = key in self._services
        if self._store is None:
            # Without a store the Service rules undo their own failures, so the
            # ``_undo_on_failure`` wrapper (a closure and two calls) is skipped on
            # this hot path (benchmarks/bench_services.py).
            outcome = create_checked(
                obj,
                self._service_rules,
                self._service_allocators,
                rngs=self._service_rngs,
                exists=exists,
            )
        else:
            outcome = self._undo_on_failure(
                lambda allocators: create_checked(
                    obj, self._service_rules, allocators, rngs=self._service_rngs, exists=exists
                )
            )
        stored = outcome.service
        if self._lb_pools:
            self._sync_load_balancer(stored, None)
        self._services[key] = stored
        self._service_ips[key] = outcome.addresses or ()
        self._service_warnings = outcome.warnings
        return _copy_created(stored)

    def update_service(self, manifest: Mapping[str, Any]) -> Manifest:
        """Replace a Service as kube-apiserver does for a PUT (``kubectl replace``).

        A manifest without the IP fields keeps the stored addresses; see
        docs/services.md for upgrades, downgrades and type changes.

        Raises:
            NotFoundError: ``services "<name>" not found``.
            InvalidServiceError: kube-apiserver's 422.
            RangeFullError: an upgrade needs an address of a full range.
        """
        obj = check_manifest(manifest)
        key = service_key(obj)
        old = self._services.get(key)
        if old is None:
            raise self._not_found(key)
        outcome = self._undo_on_failure(
            lambda allocators: update_checked(
                obj, old, self._service_rules, allocators, rngs=self._service_rngs
            )
        )
        stored = outcome.service
        # Committed: release what the update gave up, then settle the LoadBalancer.
        keep = self._shared_kubernetes_address(key)
        for family, ip in outcome.release:
            allocator = self._service_allocators.get(family)
            if allocator is not None and (family, parse_ip(ip)[0]) != keep:
                # On a store, a release that fails after the commit leaves the address
                # marked with no Service (a leak, never a double), as kube-apiserver
                # only logs it; the update itself stands.
                with contextlib.suppress(StoreError):
                    allocator.release(ip)
        self._sync_load_balancer(stored, old)
        self._services[key] = stored
        self._service_ips[key] = tuple(
            (family, parse_ip(ip)[0]) for family, ip in service_addresses(stored)
        )
        self._service_warnings = outcome.warnings
        if outcome.release:
            self._ensure_kubernetes_service()  # its address may have been freed
        return _copy_manifest(stored)  # type: ignore[no-any-return]

    def delete_service(self, name: str, *, namespace: str = "default") -> None:
        """Delete a Service and release its addresses (§3.7).

        Deleting ``default/kubernetes`` recreates it at once with the same address, as
        kube-apiserver's bootstrap controller does; when another Service holds that
        address (possible only after the ``kubernetes`` Service was changed to give it
        up), the delete still succeeds and the Service is recreated by the first later
        call that frees the address.

        Raises:
            NotFoundError: ``services "<name>" not found``.
        """
        key = _lookup_key(name, namespace)
        old = self._services.pop(key, None)
        if old is None:
            raise self._not_found(key)
        held = self._service_ips.pop(key, ())
        keep = self._shared_kubernetes_address(key)
        if keep is not None:
            # every cluster on the store holds it: recreated below, never freed (any
            # other address an updated kubernetes Service got is released as usual)
            held = tuple(pair for pair in held if pair != keep)
        released = False
        try:
            for family, value in held:
                allocator = self._service_allocators.get(family)
                if allocator is not None:
                    allocator.release_int(value)
                    released = True
        except StoreError as error:
            maybe = isinstance(error, StoreUnavailableError) and error.maybe_applied
            if not released and not maybe:
                # Nothing was given back: the Service stays, as if never asked.
                self._services[key] = old
                self._service_ips[key] = held
            # Else it is gone, and what could not be released stays marked in the
            # store: an address leaks, none is held twice.
            raise
        self._release_ingress(old)
        self._ensure_kubernetes_service()

    def get_service(self, name: str, *, namespace: str = "default") -> Manifest:
        """The stored Service (a deep copy).

        Raises:
            NotFoundError: ``services "<name>" not found``.
        """
        key = _lookup_key(name, namespace)
        stored = self._services.get(key)
        if stored is None:
            raise self._not_found(key)
        return _copy_manifest(stored)  # type: ignore[no-any-return]

    def _undo_on_failure(self, call: Any) -> Any:
        """Run a create or update; on a store, give back what a failing one took there.

        The Service rules undo their own allocation errors, but not a store failure (or
        a range found full in the store) after an address of another family was taken;
        so each store-backed allocator is seen through a ``_Tracked`` view that notes
        what the call took, and the generators are put back.
        """
        if self._store is None:
            return call(self._service_allocators)
        tracked = {f: _Tracked(a) for f, a in self._service_allocators.items()}
        saved = [(rng, rng.getstate()) for rng in self._service_rngs.values()]
        try:
            return call(tracked)
        except BaseException:
            for view in tracked.values():
                view.give_back()
            for rng, state in saved:
                rng.setstate(state)
            raise

    def _not_found(self, key: str) -> NotFoundError:
        namespace, name = key.split("/", 1)
        known = sorted(k for k in self._services if k.startswith(f"{namespace}/"))
        hint = f"namespace {namespace!r} has " + (
            ", ".join(k.split("/", 1)[1] for k in known[:10]) if known else "no Services"
        )
        return NotFoundError(f'services "{name}" not found', hint=hint)

    # --- LoadBalancer addresses (beyond kube-apiserver: a provider or MetalLB) ----------
    @staticmethod
    def _ingress_ips(stored: Mapping[str, Any]) -> list[str]:
        ingress = stored.get("status", {}).get("loadBalancer", {}).get("ingress") or []
        return [entry["ip"] for entry in ingress if "ip" in entry]

    def _release_ingress(self, stored: Mapping[str, Any]) -> None:
        for ip in self._ingress_ips(stored):
            pool = self._lb_pools.get(IPFamily.of(ip))
            if pool is not None:
                pool.release(ip)

    def _service_families(self, spec: Mapping[str, Any]) -> list[IPFamily]:
        if "ipFamilies" in spec:
            return [IPFamily(f) for f in spec["ipFamilies"]]
        if spec.get("ipFamily"):
            return [IPFamily(spec["ipFamily"])]
        return [self._service_rules.default_family]

    def _sync_load_balancer(self, stored: Manifest, old: Mapping[str, Any] | None) -> None:
        """Give a LoadBalancer one ingress address per family of its ``ipFamilies``.

        Addresses of families the Service keeps are kept; the rest are released. A
        family whose pool is exhausted leaves the Service pending (no ingress), as a
        provider does; it never fails the API call.
        """
        kept = self._ingress_ips(old) if old is not None else []
        spec = stored["spec"]
        status = stored.setdefault("status", {})
        if spec.get("type") != "LoadBalancer" or not self._lb_pools:
            for ip in kept:
                pool = self._lb_pools.get(IPFamily.of(ip))
                if pool is not None:
                    pool.release(ip)
            status["loadBalancer"] = {}
            return
        by_family = {IPFamily.of(ip): ip for ip in kept}
        wanted = [f for f in self._service_families(spec) if f in self._lb_pools]
        for family, ip in by_family.items():
            if family not in wanted:
                self._lb_pools[family].release(ip)
        missing = [f for f in wanted if f not in by_family]
        if any(self._lb_pools[f].free <= 0 for f in missing):
            for family in wanted:
                if family in by_family:
                    self._lb_pools[family].release(by_family.pop(family))
            status["loadBalancer"] = {}
            return
        for family in missing:
            by_family[family] = self._lb_pools[family].allocate_next()
        ingress = [{"ip": by_family[f]} for f in wanted]
        status["loadBalancer"] = {"ingress": ingress} if ingress else {}

    def load_balancer_addresses(self) -> dict[IPFamily, list[str]]:
        """The LoadBalancer addresses in use, by family (ascending)."""
        return {family: pool.used() for family, pool in self._lb_pools.items()}

    # ==================================================================================
    # Nodes and Pods (node-and-pod-ips.md §2, §3.4-§3.5; the work is in dualstack.nodes)
    # ==================================================================================
    @property
    def network_plugin(self) -> str:
        """``"cni"`` or ``"kubenet"``."""
        return self._network_plugin

    @property
    def nodes(self) -> Mapping[str, Node]:
        """The nodes by name (read-only; ``Node`` values are frozen)."""
        return self._registry.nodes

    @property
    def pods(self) -> Mapping[str, Pod]:
        """The Pods keyed ``"namespace/name"`` (read-only; ``Pod`` values are frozen)."""
        return self._registry.pods

    @property
    def node_registry(self) -> NodeRegistry:
        """The node/Pod part with its allocators (read it, change it through the cluster)."""
        return self._registry

    def add_node(self, name: str, *, pod_cidrs: Sequence[object] | None = None) -> Node:
        """Add a node; it gets one block of every cluster CIDR, all or nothing (§2.6-§2.7).

        ``pod_cidrs`` (a node that exists at start-up) are checked as the API server
        checks ``spec.podCIDRs`` and occupied by position as upstream does (§2.5, §2.9).
        See ``NodeRegistry.add_node`` for every error.
        """
        return self._registry.add_node(name, pod_cidrs=pod_cidrs)

    def remove_node(self, name: str) -> None:
        """Delete a node: its Pods go with it and its blocks are released (§2.8)."""
        self._registry.remove_node(name)

    def add_pod(self, name: str, *, node: str, namespace: str = "default") -> Pod:
        """Start a Pod on ``node``: one address per family of the node (§3.4-§3.5).

        See ``NodeRegistry.add_pod`` for the reporting order and every error.
        """
        return self._registry.add_pod(name, node=node, namespace=namespace)

    def remove_pod(self, name: str, *, namespace: str = "default") -> None:
        """Delete a Pod and release its addresses."""
        self._registry.remove_pod(name, namespace=namespace)

    # ==================================================================================
    # Egress (ip-masq-agent, node-and-pod-ips.md §4)
    # ==================================================================================
    @property
    def egress_policy(self) -> EgressPolicy:
        """The ip-masq-agent configuration the nodes run."""
        return self._egress

    def egress(self, pod: Pod | str, destination: object) -> _netaddr.IPAddress | None:
        """The source address a Pod's packet to ``destination`` leaves the node with.

        Args:
            pod: a ``Pod``, its ``"namespace/name"`` key, or its name in ``default``.
            destination: an IP (text or ``netaddr.IPAddress``), not a local address of
                the node.

        Returns:
            The Pod's own address of the destination's family, or ``None`` when
            ip-masq-agent masquerades the packet to the node's address.

        Raises:
            NotFoundError: ``pods "<name>" not found``.
            InvalidAddressError: ``destination`` is not an IP address.
            DualStackError: the Pod has no address of the destination's family.
        """
        if isinstance(pod, Pod):
            key = pod.key
        elif isinstance(pod, str) and "/" in pod:
            key = pod
        else:  # a name in default (anything else names no Pod: NotFoundError below)
            key = f"default/{pod}"
        current = self._registry.pods.get(key)
        if current is None:
            raise NotFoundError(
                f'pods "{key.split("/", 1)[1]}" not found',
                hint=f"no Pod {key!r} runs in this cluster",
            )
        _, family = parse_ip(destination)
        own = current.ip_of(family)
        if own is None:
            raise DualStackError(
                f"pod {key} has no {family} address to send to {destination}",
                hint=f"its node {current.node} has no {family} Pod CIDR",
            )
        return None if self._egress.should_masquerade(destination) else own

    # ==================================================================================
    # Validation (the "Validate IPv4/IPv6 dual-stack" task, node-and-pod-ips.md §5)
    # ==================================================================================
    def validate(self) -> list[Finding]:
        """What the validate-dual-stack task would find wrong; empty when healthy.

        Nodes without a Pod CIDR of each cluster family (or with one outside it, or
        overlapping another node's); Pods without an address of each of their node's
        families, with one outside the node's CIDR, or sharing one; Services whose
        families or ClusterIPs disagree with the cluster (unconfigured family, address
        outside its range or of the wrong family, ``clusterIP != clusterIPs[0]``), that
        share an address, and allocator bits that no Service holds.
        """
        findings = self._registry.validate()
        findings.extend(self._validate_services())
        return findings

    def _validate_services(self) -> list[Finding]:
        findings: list[Finding] = []
        configured = set(self._config.families)
        if KUBERNETES_SERVICE_KEY not in self._services:
            primary, first = self._kubernetes_address()
            holder = self._kubernetes_address_holder()
            findings.append(
                Finding(
                    "warning",
                    f"service/{KUBERNETES_SERVICE_KEY}",
                    f"missing: its address {format_ip(first, primary)} is held by "
                    f"service/{holder}; it is recreated once that address is free",
                )
            )
        held: dict[tuple[IPFamily, int], str] = {}
        for key, stored in self._services.items():
            subject = f"service/{key}"
            spec = stored.get("spec", {})
            if spec.get("type") == "ExternalName":
                continue
            families = list(
                spec.get("ipFamilies") or ([spec["ipFamily"]] if spec.get("ipFamily") else [])
            )
            ips = list(
                spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
            )
            headless_selectorless = ips == ["None"] and not spec.get("selector")
            for family in families:
                # Headless Services without a selector may list families the cluster
                # does not serve (service-ips.md §3.3 table; nothing is allocated).
                if family not in configured and not headless_selectorless:
                    findings.append(
                        Finding(
                            "error",
                            subject,
                            f"ipFamilies lists {family}, which the cluster does not serve",
                        )
                    )
            if spec.get("clusterIPs") and spec.get("clusterIP") != spec["clusterIPs"][0]:
                findings.append(
                    Finding("error", subject, "spec.clusterIP is not spec.clusterIPs[0]")
                )
            if (
                spec.get("ipFamilyPolicy", "SingleStack") != "SingleStack"
                and self._service_rules.dual_stack
                and self._service_rules.is_dual_stack
                and len(families) < 2
            ):
                findings.append(
                    Finding(
                        "warning",
                        subject,
                        f"{spec['ipFamilyPolicy']} Service has only {families} on a "
                        "dual-stack cluster",
                    )
                )
            for index, ip in enumerate(ips):
                if ip == "None":
                    continue
                try:
                    value, family = parse_ip_fast(ip)
                except DualStackError:
                    findings.append(
                        Finding("error", subject, f"clusterIPs[{index}] {ip!r} is not an IP")
                    )
                    continue
                if index < len(families) and families[index] != family.value:
                    findings.append(
                        Finding(
                            "error", subject, f"clusterIPs[{index}] {ip} is not {families[index]}"
                        )
                    )
                allocator = self._service_allocators.get(family)
                if allocator is None or not allocator.in_range_int(value):
                    findings.append(
                        Finding(
                            "error",
                            subject,
                            f"ClusterIP {ip} is outside the cluster's {family} service range",
                        )
                    )
                elif not allocator.has_int(value):
                    findings.append(
                        Finding(
                            "error",
                            subject,
                            f"ClusterIP {ip} is not marked allocated in its range",
                        )
                    )
                other = held.setdefault((family, value), key)
                if other != key:
                    findings.append(
                        Finding(
                            "error", subject, f"ClusterIP {ip} is also held by service/{other}"
                        )
                    )
        for family, allocator in self._service_allocators.items():
            if self._store is not None:
                break  # on a shared store, other clusters' Services hold the rest
            for value in allocator.iter_ints():
                if (family, value) not in held:
                    findings.append(
                        Finding(
                            "error",
                            f"service-range/{allocator.pool.cidr}",
                            f"{format_ip(value, family)} is allocated but held by no Service",
                        )
                    )
        return findings

    # ==================================================================================
    # Copies and snapshots (the format is dualstack.snapshot's)
    # ==================================================================================
    def copy(self) -> Cluster:
        """An independent cluster in the same state: later calls answer as this one would.

        Cheap: Services are shared (stored objects are never changed in place, only
        replaced), allocators and generators are copied, and the per-node host-local
        state is copied on write (``NodeRegistry.copy``).
        """
        other = object.__new__(Cluster)
        other.__dict__.update(self.__dict__)
        rngs: dict[IPFamily, _random.Random] = {}
        for family, rng in self._service_rngs.items():
            twin = _random.Random()
            twin.setstate(rng.getstate())
            rngs[family] = twin
        other._service_rngs = rngs
        if self._store is None:
            other._service_allocators = {
                family: allocator.copy(rng=rngs[family])
                for family, allocator in self._service_allocators.items()
            }
        else:
            # The shared bitmap also holds other clusters' addresses: the private copy
            # holds this cluster's own, as from_snapshot(snapshot()) does.
            other._service_allocators = {
                family: self._own_addresses(family, allocator, rng=rngs[family])
                for family, allocator in self._service_allocators.items()
            }
        other._lb_pools = {family: pool.copy() for family, pool in self._lb_pools.items()}
        other._services = dict(self._services)
        other._service_ips = dict(self._service_ips)
        other._registry = self._registry.copy()
        other._store = None  # the allocator copies are private
        return other

    def snapshot(self) -> dict[str, Any]:
        """The whole state as a JSON-serialisable dict (see ``dualstack.snapshot``)."""
        from dualstack.snapshot import dump_cluster  # same layer, imported late: a cycle

        return dump_cluster(self)

    @classmethod
    def from_snapshot(cls, data: Mapping[str, Any]) -> Cluster:
        """A cluster that behaves exactly as the one that wrote ``data`` did.

        Raises:
            DualStackError: an unknown ``format`` or a corrupt snapshot, saying what
                is wrong.
        """
        from dualstack.snapshot import load_cluster

        return load_cluster(data)

    def _dump_services(self) -> dict[str, Any]:
        """The Service part of a snapshot: ranges, generators, stored objects."""
        ranges = []
        for family, allocator in self._service_allocators.items():
            if self._store is not None:
                allocator = self._own_addresses(family, allocator)
            entry: dict[str, Any] = {"family": family.value}
            try:
                entry.update(allocator.snapshot().to_dict())
            except DualStackError:  # no bitmap encoding: list the addresses
                entry["range"] = allocator.pool.cidr
                entry["ips"] = [format_ip(v, family) for v in allocator.iter_ints()]
            ranges.append(entry)
        return {
            "ranges": ranges,
            "rng": {family.value: _rng_state(rng) for family, rng in self._service_rngs.items()},
            "objects": [_copy_manifest(stored) for stored in self._services.values()],
        }

    def _own_addresses(
        self,
        family: IPFamily,
        shared: ServiceIPAllocator,
        *,
        rng: _random.Random | None = None,
    ) -> ServiceIPAllocator:
        """A private allocator holding only this cluster's ClusterIPs of ``family``.

        On a shared store the range also holds other clusters' addresses; a snapshot
        (and a copy) describes this cluster alone (and must load as a private cluster).
        """
        own = ServiceIPAllocator(
            shared.pool,
            version=self._config.profile.version,
            rng=rng,
            static_subrange=shared.static_size > 0,
            allocator=self._config.service_allocator,
        )
        for held in self._service_ips.values():
            for held_family, value in held:
                if held_family is family and not own.has_int(value):
                    own.allocate_int(value)
        return own

    def _load_services(self, data: Mapping[str, Any]) -> None:
        """Replace the Service state by a snapshot's, checking it against itself."""
        profile = self._config.profile
        static = self._config.static_subrange
        allocators: dict[IPFamily, ServiceIPAllocator] = {}
        for family, rng in self._service_rngs.items():
            state = data["rng"][family.value]
            rng.setstate((state[0], tuple(state[1]), state[2]))
            allocators[family] = ServiceIPAllocator(
                self._service_allocators[family].pool,
                version=profile.version,
                rng=rng,
                static_subrange=static,
                allocator=self._config.service_allocator,
            )
        lb_pools = {family: pool.copy() for family, pool in self._lb_pools.items()}
        for pool in lb_pools.values():
            for ip in pool.used():
                pool.release(ip)
        services: dict[str, Manifest] = {}
        service_ips: dict[str, tuple[tuple[IPFamily, int], ...]] = {}
        for obj in data["objects"]:
            meta = obj["metadata"]
            key = f"{meta.get('namespace', 'default')}/{meta['name']}"
            if key in services:
                raise DualStackError(f"service {key} appears twice")
            addresses = []
            for family, ip in service_addresses(obj):
                value, _ = parse_ip_fast(ip)
                allocator = allocators.get(family)
                if allocator is None or not allocator.in_range_int(value):
                    raise DualStackError(
                        f"service {key}: ClusterIP {ip} is outside the {family} service range"
                    )
                if allocator.has_int(value):
                    raise DualStackError(f"service {key}: ClusterIP {ip} is held twice")
                allocator.allocate_int(value)
                addresses.append((family, value))
            for ip in self._ingress_ips(obj):
                lb_pool = lb_pools.get(IPFamily.of(ip))
                if lb_pool is None or not lb_pool.occupy(ip):
                    raise DualStackError(
                        f"service {key}: LoadBalancer address {ip} is not free in a pool"
                    )
            services[key] = _copy_manifest(obj)
            service_ips[key] = tuple(addresses)
        if KUBERNETES_SERVICE_KEY not in services:
            # Missing only while another Service holds its address (see delete_service).
            primary = self._service_rules.default_family
            first = allocators[primary].first
            if not any((primary, first) in held for held in service_ips.values()):
                raise DualStackError("the default/kubernetes Service is missing")
        for entry in data["ranges"]:
            family = IPFamily(entry["family"])
            allocator = allocators[family]
            if entry["range"] != allocator.pool.cidr:
                raise DualStackError(
                    f"service range {entry['range']} does not match the configuration's "
                    f"{allocator.pool.cidr}"
                )
            if "ips" in entry:
                stored = sorted(parse_ip(ip)[0] for ip in entry["ips"])
            else:
                check = ServiceIPAllocator(
                    allocator.pool,
                    version=profile.version,
                    static_subrange=static,
                    allocator=self._config.service_allocator,
                )
                check.restore(RangeAllocation.from_dict(entry))
                stored = list(check.iter_ints())
            if stored != list(allocator.iter_ints()):
                raise DualStackError(
                    f"the RangeAllocation of {allocator.pool.cidr} disagrees with the "
                    "Services' ClusterIPs"
                )
        self._service_allocators = allocators
        self._lb_pools = lb_pools
        self._services = services
        self._service_ips = service_ips
        # What validate() would call an error cannot be in a store the API server wrote.
        problems = [f for f in self._validate_services() if f.severity == "error"]
        if problems:
            raise DualStackError(f"{problems[0].subject}: {problems[0].message}")


class _Tracked:
    """A store-backed ClusterIP allocator as the Service rules see it, for one call.

    Notes every address the call takes (and forgets those it gives back itself), so
    that ``Cluster._undo_on_failure`` can release the rest; ``free`` reads the store
    again before saying 0, so that a stale view never refuses a create.
    """

    __slots__ = ("allocator", "taken")

    def __init__(self, allocator: ServiceIPAllocator) -> None:
        self.allocator = allocator
        self.taken: list[int] = []

    @property
    def free(self) -> int:
        free = self.allocator.free
        if free <= 0:
            self.allocator.refresh()
            free = self.allocator.free
        return free

    def allocate(self, ip: str) -> object:
        got = self.allocator.allocate(ip)
        self.taken.append(int(got))
        return got

    def allocate_next_int(self) -> int:
        value = self.allocator.allocate_next_int()
        self.taken.append(value)
        return value

    def release(self, ip: str) -> None:
        self.allocator.release(ip)
        value = parse_ip(ip)[0]
        if value in self.taken:
            self.taken.remove(value)

    def give_back(self) -> None:
        """Release what the call took; with the store down, it stays marked (a leak)."""
        for value in reversed(self.taken):
            with contextlib.suppress(StoreError):
                self.allocator.release_int(value)
        self.taken = []


def _check_seed(seed: object) -> int | None:
    """``seed`` as a plain int (or None); what a snapshot can record and load again."""
    if seed is None or type(seed) is int:
        return seed
    if isinstance(seed, int) and not isinstance(seed, bool):
        return int(seed)  # an IntEnum member or other int subclass: its number
    raise ConfigError(
        f"seed must be an int or None, got {seed!r}",
        hint="pass an int such as seed=7 (None draws fresh entropy)",
    )


def _egress_policy(egress: object) -> EgressPolicy:
    """``egress=None`` is ip-masq-agent's default configuration with IPv6 on."""
    if egress is None:
        return EgressPolicy()
    if not isinstance(egress, EgressPolicy):
        raise ConfigError(
            f"egress must be an EgressPolicy or None, got {egress!r}",
            hint="build one with EgressPolicy(...) or EgressPolicy.from_config(text)",
        )
    return egress


def _rng_state(rng: _random.Random) -> list[Any]:
    """A generator's state as JSON data: ``[version, [625 ints], gauss_next]``."""
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]

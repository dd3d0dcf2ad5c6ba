"""ClusterConfig: a cluster's address configuration, validated as Kubernetes would.

Purpose: answer "will this configuration start, and how much does it hold?" from the
flags of kube-apiserver and kube-controller-manager for one release, with every mistake
reported at once in Kubernetes' words plus what to change; and check the flags of the
other components against them (``check_components``).

Key types:
- ``ClusterConfig(*, cluster_cidrs, service_cidrs, node_mask_sizes=None,
  feature_gates=None, version=None, load_balancer_pools=None, allocate_node_cidrs=True)``
  and ``ClusterConfig.from_flags(flags, *, version=None)``;
- ``Capacity`` / ``FamilyCapacity`` (``config.capacity()``);
- ``Finding`` and ``check_components(...)``.

Invariants: a ``ClusterConfig`` is immutable and only exists for a configuration that
passes every check of node-and-pod-ips.md §2 and service-ips.md §2 for its release;
``cluster_cidrs``/``service_cidrs`` hold the canonical CIDR texts (host bits cleared, as
Kubernetes parses them) in the order given. ``ConfigError.errors`` lists every
kube-apiserver error, then kube-controller-manager's option errors, then at most one
kube-controller-manager start-up error (node-and-pod-ips.md §2.0; none when an option
or flag parse error already stopped it), then the library's own checks of
``load_balancer_pools``.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Literal

from dualstack import rules
from dualstack.errors import ConfigError, InvalidAddressError, go_repr, with_hint
from dualstack.families import IPFamily
from dualstack.pools import CIDRPool
from dualstack.profiles import Allocator, Profile

__all__ = [
    "Capacity",
    "ClusterConfig",
    "FamilyCapacity",
    "Finding",
    "check_components",
]

_WINDOW: Final = 65536
"""The IPv6 bitmap window of the bitmap allocator (service-ips §1.3)."""

# Flags of kube-controller-manager / kube-apiserver that from_flags understands.
_VALUE_FLAGS: Final = frozenset(
    {
        "cluster-cidr",
        "service-cluster-ip-range",
        "node-cidr-mask-size",
        "node-cidr-mask-size-ipv4",
        "node-cidr-mask-size-ipv6",
        "feature-gates",
        "allocate-node-cidrs",
    }
)
_BOOL_FLAGS: Final = frozenset({"allocate-node-cidrs"})
_WORD_SEP_NORMALIZED_FROM: Final = 23
"""From 1.23 kube-apiserver, kube-controller-manager and kube-proxy start through
component-base's ``cli.Run``, which installs ``WordSepNormalizeFunc`` on the command's
flags: ``--cluster_cidr`` is ``--cluster-cidr`` (kubernetes/kubernetes#105076). Before,
their cobra flag sets had no normalisation and refused the spelling (``unknown flag``;
kubernetes/kubernetes#61952). The kubelet normalises in every modelled release."""
_PER_FAMILY_MASK_FLAGS: Final = ("node-cidr-mask-size-ipv4", "node-cidr-mask-size-ipv6")


@dataclass(frozen=True, slots=True)
class FamilyCapacity:
    """What one IP family of a configuration holds.

    Attributes:
        node_blocks: node Pod CIDR blocks of the family's cluster CIDR (0 without one).
        pods_per_node: Pod IPs CNI host-local hands out in one node block.
        service_ips: allocatable Service ClusterIPs (0 without a service range).
        static_band: size of the static (lower) band of the service range, 0 where the
            release or the gates have no band split.
        reserved_node_blocks: node blocks kube-controller-manager marks used at start-up
            because the family's service range overlaps the cluster CIDR (node §2.4).
    """

    node_blocks: int
    pods_per_node: int
    service_ips: int
    static_band: int
    reserved_node_blocks: int = 0


@dataclass(frozen=True, slots=True)
class Capacity:
    """How many nodes, Pods and Services a configuration holds.

    Attributes:
        max_nodes: nodes that get a Pod CIDR of every cluster CIDR family (the family with
            fewer free blocks decides); 0 when nodes get no Pod CIDRs.
        limiting_family: the family that decides ``max_nodes`` (``None`` without cluster
            CIDRs).
        per_family: ``FamilyCapacity`` by family, service families first, in order.
        warnings: findings that do not stop the cluster but limit it.
    """

    max_nodes: int
    limiting_family: IPFamily | None
    per_family: Mapping[IPFamily, FamilyCapacity]
    warnings: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Finding:
    """One cross-component finding: ``severity`` is ``"error"`` or ``"warning"``.

    ``subject`` names the component and the flag (e.g. ``"kube-proxy --proxy-mode"``),
    ``message`` says what is wrong and what would work.
    """

    severity: Literal["error", "warning"]
    subject: str
    message: str


@dataclass(frozen=True, slots=True)
class _Inputs:
    """The flag-level view of a configuration, shared by both constructors."""

    profile: Profile
    cluster_flag: str
    service_flag: str
    mask: int | None
    mask_v4: int | None
    mask_v6: int | None
    gates: tuple[tuple[str, bool], ...]
    allocate_node_cidrs: bool
    load_balancer_pools: object
    gate_errors: tuple[str, ...] = ()
    kcm_parse_errors: tuple[str, ...] = field(default=())


class ClusterConfig:
    """A validated dual-stack (or single-stack) cluster address configuration.

    Args:
        cluster_cidrs: ``--cluster-cidr`` of kube-controller-manager: a comma-separated
            string or an iterable of CIDRs (joined with ``,``, so items are checked exactly
            as the flag's items). Either family order.
        service_cidrs: ``--service-cluster-ip-range``: string or iterable as above; empty
            means kube-apiserver's deprecated default ``10.0.0.0/24``.
        node_mask_sizes: ``None`` (the release's defaults), an int (the
            ``--node-cidr-mask-size`` flag), or a mapping whose keys are families
            (``IPFamily.IPv4``, ``"IPv6"``, ``"ipv4"`` ... = the per-family flags) or flag
            names (``"node-cidr-mask-size"``, ``"--node-cidr-mask-size-ipv6"`` ...); values
            are ints or flag texts. 0 means "not set", as upstream. In 1.16, which has one
            mask, per-family entries with one common value mean that single mask.
        feature_gates: mapping name -> bool, or the ``--feature-gates`` text
            (``"IPv6DualStack=true,..."``). Gates the library does not model are ignored
            (with a capacity warning).
        version: Kubernetes minor release, ``None`` for the newest.
        load_balancer_pools: CIDRs for ``type: LoadBalancer`` addresses: a mapping family
            -> CIDRs or a flat iterable (grouped by family); at most one list per family,
            no overlap with each other, the service ranges or the cluster CIDRs.
        allocate_node_cidrs: ``--allocate-node-cidrs``; when false, kube-controller-manager
            does not check the cluster CIDRs and nodes get Pod CIDRs only when given.

    Raises:
        ConfigError: every violation, in upstream order (see the module docstring).
    """

    __slots__ = (
        "_allocate",
        "_cluster",
        "_cluster_texts",
        "_gates",
        "_ignored_gates",
        "_lb_pools",
        "_masks",
        "_profile",
        "_service",
    )

    _profile: Profile
    _cluster: tuple[CIDRPool, ...]
    _cluster_texts: tuple[str, ...]
    _service: tuple[CIDRPool, ...]
    _masks: Mapping[IPFamily, int]
    _gates: Mapping[str, bool]
    _ignored_gates: tuple[str, ...]
    _lb_pools: Mapping[IPFamily, tuple[CIDRPool, ...]]
    _allocate: bool

    def __init__(
        self,
        *,
        cluster_cidrs: str | Iterable[object],
        service_cidrs: str | Iterable[object],
        node_mask_sizes: int | Mapping[object, object] | None = None,
        feature_gates: str | Mapping[str, bool] | None = None,
        version: str | None = None,
        load_balancer_pools: object = None,
        allocate_node_cidrs: bool = True,
    ) -> None:
        profile = Profile.for_version(version)
        if not isinstance(allocate_node_cidrs, bool):
            # bool() would read "false" as True: only a real bool says what it means.
            raise ConfigError(
                f"allocate_node_cidrs must be True or False, got {allocate_node_cidrs!r}",
                hint="pass allocate_node_cidrs=False for --allocate-node-cidrs=false",
            )
        mask, mask_v4, mask_v6, mask_errors = _mask_inputs(node_mask_sizes, profile)
        gates, gate_errors = _gate_inputs(feature_gates, from_flag=False)
        self._setup(
            _Inputs(
                profile=profile,
                cluster_flag=_flag_value(cluster_cidrs, "cluster_cidrs"),
                service_flag=_flag_value(service_cidrs, "service_cidrs"),
                mask=mask,
                mask_v4=mask_v4,
                mask_v6=mask_v6,
                gates=tuple(gates),
                allocate_node_cidrs=allocate_node_cidrs,
                load_balancer_pools=load_balancer_pools,
                gate_errors=tuple(gate_errors),
                kcm_parse_errors=tuple(mask_errors),
            )
        )

    @classmethod
    def from_flags(
        cls, flags: Iterable[str] | str, *, version: str | None = None
    ) -> ClusterConfig:
        """Build a configuration from kube-controller-manager / kube-apiserver flags.

        Understands ``--cluster-cidr``, ``--service-cluster-ip-range``,
        ``--node-cidr-mask-size`` (and ``-ipv4``/``-ipv6`` from 1.17),
        ``--feature-gates`` and ``--allocate-node-cidrs`` (true unless given as false),
        each as ``--flag=value`` or ``--flag value``. A single string is split like a
        shell command line. Repeated flags: the last wins, ``--feature-gates`` merge
        (``AllAlpha``/``AllBeta`` switch the modelled gates of that stage not set by
        name). From 1.23 ``_`` in a flag name reads as ``-`` (``--cluster_cidr``), as
        the components' ``cli.Run`` normalises it; earlier releases refuse it.

        Raises:
            ConfigError: an unknown flag (``unknown flag: --x``), a flag without its value,
                or every violation as for ``ClusterConfig(...)``.
        """
        profile = Profile.for_version(version)
        values = _parse_flags(flags, profile)
        # pflag converts every occurrence of a typed flag as it reads the command line
        # and stops at the first that fails: one parse error at most, and an early bad
        # value fails even when a later occurrence would win.
        kcm_parse_errors: list[str] = []
        masks: dict[str, int | None] = dict.fromkeys(
            ("node-cidr-mask-size", *_PER_FAMILY_MASK_FLAGS)
        )
        allocate = True
        gate_errors: list[str] = []
        gates: list[tuple[str, bool]] = []
        for name, text in values.items():
            if name in masks and not kcm_parse_errors:
                number, problem = rules.parse_go_int32(text)
                if problem is not None:
                    kcm_parse_errors.append(
                        with_hint(
                            f'invalid argument {go_repr(text)} for "--{name}" flag: {problem}',
                            "give the prefix length as a number, e.g. "
                            + ("64" if name.endswith("ipv6") else "24"),
                        )
                    )
                masks[name] = number
            elif name == "allocate-node-cidrs" and not kcm_parse_errors:
                parsed = rules.parse_go_bool(text)
                if parsed is None:
                    kcm_parse_errors.append(
                        with_hint(
                            f'invalid argument {go_repr(text)} for "--allocate-node-cidrs" flag: '
                            f"strconv.ParseBool: parsing {go_repr(text)}: invalid syntax",
                            "give --allocate-node-cidrs=true or --allocate-node-cidrs=false",
                        )
                    )
                else:
                    allocate = parsed
            elif name == "feature-gates" and not gate_errors:
                pairs, problem = rules.parse_feature_gates(text)
                prefix = f'invalid argument {go_repr(text)} for "--feature-gates" flag: '
                if problem is not None:
                    gate_errors.append(
                        with_hint(
                            prefix + problem,
                            "give name=true or name=false pairs separated by commas",
                        )
                    )
                    continue
                gates.extend(pairs)
                # pflag wraps what featureGate.Set returns, unknown and locked gates
                # included, and stops at the first occurrence that fails. (Set itself
                # may report several gates of one value; upstream's order is Go map
                # order, the library's the order given.)
                _, resolve_errors, _ = rules.resolve_gates(dict(pairs), profile)
                gate_errors.extend(prefix + message for message in resolve_errors)
        config = cls.__new__(cls)
        config._setup(
            _Inputs(
                profile=profile,
                cluster_flag=values.get("cluster-cidr") or "",
                service_flag=values.get("service-cluster-ip-range") or "",
                mask=masks["node-cidr-mask-size"],
                mask_v4=masks["node-cidr-mask-size-ipv4"],
                mask_v6=masks["node-cidr-mask-size-ipv6"],
                gates=tuple(gates),
                allocate_node_cidrs=allocate,
                load_balancer_pools=None,
                gate_errors=tuple(gate_errors),
                kcm_parse_errors=tuple(kcm_parse_errors),
            )
        )
        return config

    # -- validation -----------------------------------------------------------------

    def _setup(self, inputs: _Inputs) -> None:
        profile = inputs.profile
        requested = dict(inputs.gates)
        gates, gate_errors, ignored = rules.resolve_gates(requested, profile)
        # from_flags reports the resolution errors itself, wrapped as pflag wraps them.
        all_gate_errors = list(inputs.gate_errors) or gate_errors
        if all_gate_errors:
            # Both components stop while parsing their flags: nothing else is checked.
            raise ConfigError(all_gate_errors)
        dual_gate = rules.gate_value(gates, "IPv6DualStack", profile)

        errors: list[str] = []
        apiserver = rules.apiserver_service_range(inputs.service_flag, profile, gates)
        errors.extend(apiserver.errors)

        cluster: tuple[CIDRPool, ...] = ()
        masks: dict[IPFamily, int] = {}
        if inputs.kcm_parse_errors:
            errors.extend(inputs.kcm_parse_errors)
        else:
            option_errors = rules.kcm_option_errors(inputs.service_flag)
            errors.extend(option_errors)
            # kube-controller-manager exits when its options fail validation, before
            # any controller (node IPAM included) starts: no start-up error then.
            if inputs.allocate_node_cidrs and not option_errors:
                startup, cluster, masks = _kcm_startup(inputs, profile, dual_gate)
                if startup is not None:
                    errors.append(startup)
        if not inputs.allocate_node_cidrs:
            cluster = _lenient_pools(inputs.cluster_flag)
            masks, _ = rules.node_mask_sizes(
                cluster, inputs.mask, inputs.mask_v4, inputs.mask_v6, profile, dual_gate
            )
            masks = masks or dict(rules.DEFAULT_NODE_MASK)
        lb_pools, lb_errors = _load_balancer_pools(
            inputs.load_balancer_pools, (*apiserver.ranges, *cluster)
        )
        errors.extend(lb_errors)
        if errors:
            raise ConfigError(errors)

        object.__setattr__(self, "_profile", profile)
        object.__setattr__(self, "_cluster", cluster)
        object.__setattr__(
            self,
            "_cluster_texts",
            tuple(p.cidr for p in cluster)
            if inputs.allocate_node_cidrs or not inputs.cluster_flag.strip()
            else _canonical_items(inputs.cluster_flag),
        )
        object.__setattr__(self, "_service", apiserver.ranges)
        object.__setattr__(self, "_masks", MappingProxyType(dict(masks)))
        object.__setattr__(self, "_gates", MappingProxyType(dict(gates)))
        object.__setattr__(self, "_ignored_gates", tuple(ignored))
        object.__setattr__(self, "_lb_pools", MappingProxyType(lb_pools))
        object.__setattr__(self, "_allocate", inputs.allocate_node_cidrs)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"ClusterConfig is immutable (cannot set {name!r})")

    # -- views -----------------------------------------------------------------------

    @property
    def profile(self) -> Profile:
        """The release's behaviour switches."""
        return self._profile

    @property
    def version(self) -> str:
        """The Kubernetes minor release, e.g. ``"1.33"``."""
        return self._profile.version

    @property
    def cluster_cidrs(self) -> tuple[str, ...]:
        """``--cluster-cidr`` entries, canonical (host bits cleared), in the given order."""
        return self._cluster_texts

    @property
    def service_cidrs(self) -> tuple[str, ...]:
        """Service ranges, canonical, in the given order (the default when none given)."""
        return tuple(p.cidr for p in self._service)

    @property
    def cluster_pools(self) -> tuple[CIDRPool, ...]:
        """The cluster CIDRs as ``CIDRPool`` values, in order.

        With ``allocate_node_cidrs=False`` these are the entries that parse (nothing is
        checked then).
        """
        return self._cluster

    @property
    def service_pools(self) -> tuple[CIDRPool, ...]:
        """The service ranges as ``CIDRPool`` values, primary first."""
        return self._service

    @property
    def families(self) -> tuple[IPFamily, ...]:
        """The Service families, in service-range order (service-ips §2.4)."""
        return tuple(p.family for p in self._service)

    @property
    def pod_families(self) -> tuple[IPFamily, ...]:
        """The families of the cluster CIDRs, in ``--cluster-cidr`` order."""
        return tuple(p.family for p in self._cluster)

    @property
    def default_family(self) -> IPFamily:
        """The family of the first service range: the cluster's default family."""
        return self._service[0].family

    @property
    def is_dual_stack(self) -> bool:
        """Whether Services can be dual-stack (one service range per family)."""
        return len(self._service) == 2

    @property
    def allocate_node_cidrs(self) -> bool:
        """``--allocate-node-cidrs`` (true unless given as false)."""
        return self._allocate

    @property
    def feature_gates(self) -> Mapping[str, bool]:
        """Resolved values of the modelled gates that the release knows."""
        return self._gates

    @property
    def load_balancer_pools(self) -> Mapping[IPFamily, tuple[str, ...]]:
        """LoadBalancer address pools by family, canonical CIDR texts."""
        return MappingProxyType({f: tuple(p.cidr for p in ps) for f, ps in self._lb_pools.items()})

    @property
    def static_subrange(self) -> bool:
        """Whether Service ranges have a static band (``ServiceIPStaticSubrange``)."""
        return rules.gate_value(self._gates, "ServiceIPStaticSubrange", self._profile)

    @property
    def service_allocator(self) -> Allocator:
        """``"bitmap"``, ``"multicidr-dualwrite"`` or ``"multicidr"`` as the gates select."""
        return rules.effective_allocator(self._gates, self._profile)

    def node_mask_size(self, family: IPFamily | str) -> int:
        """The node mask of ``family``'s cluster CIDR (the release default when absent).

        Raises:
            ConfigError: ``family`` is not an IP family.
        """
        try:
            return self._masks[IPFamily(family)]
        except ValueError:
            raise ConfigError(
                f"{family!r} is not an IP family",
                hint='use IPFamily.IPv4 or IPFamily.IPv6 ("IPv4", "IPv6")',
            ) from None

    # -- capacity --------------------------------------------------------------------

    def capacity(self) -> Capacity:
        """How many dual-stack nodes, Pods per node and Service IPs the configuration holds.

        Formulas: service-ips §1.3/§1.5/§1.12, node-and-pod-ips §1 and §3.2.
        """
        profile = self._profile
        window = None if self.service_allocator == "multicidr" else _WINDOW
        static = self.static_subrange
        order: list[IPFamily] = [*self.families]
        order += [p.family for p in self._cluster if p.family not in order]
        warnings: list[str] = []
        per_family: dict[IPFamily, FamilyCapacity] = {}
        usable_blocks: dict[IPFamily, int] = {}
        for family in order:
            service = next((p for p in self._service if p.family is family), None)
            cluster = next((p for p in self._cluster if p.family is family), None)
            blocks = pods = ips = band = reserved = 0
            if cluster is not None:
                n = self._masks[family]
                blocks = rules.node_block_count(cluster.prefixlen, n)
                pods = rules.host_local_usable(n, family)
                if service is not None and service.overlaps(cluster):
                    reserved = _reserved_blocks(cluster, service, n, blocks)
                    warnings.append(
                        f"service range {service.cidr} overlaps cluster CIDR {cluster.cidr}: "
                        f"kube-controller-manager marks {reserved} of its {blocks} /{n} node "
                        "blocks as used; keep the ranges apart"
                    )
                usable_blocks[family] = blocks - reserved
                needed = 25 if family is IPFamily.IPv4 else 121
                if pods == 0:
                    # No --max-pods helps here: host-local refuses the whole block
                    # (node-and-pod-ips.md §3.2 step 1), so every Pod on the node fails.
                    warnings.append(
                        f"{family} node CIDRs of /{n} are too small for host-local, which "
                        f"refuses them (Network <subnet> too small to allocate from): no Pod "
                        f"can start on such a node; use a node mask of /{needed} or shorter"
                    )
                elif pods < rules.KUBELET_DEFAULT_MAX_PODS:
                    warnings.append(
                        f"{family} node CIDRs of /{n} give {pods} Pod IPs per node with "
                        f"host-local, fewer than the kubelet's default of "
                        f"{rules.KUBELET_DEFAULT_MAX_PODS} Pods: use a node mask of "
                        f"/{needed} or shorter, or set the kubelet's --max-pods={pods}"
                    )
            if service is not None:
                ips = rules.service_usable(service.prefixlen, family, window=window)
                band = rules.static_band_size(service.prefixlen, family) if static else 0
                if (
                    family is IPFamily.IPv6
                    and window is not None
                    and rules.range_size(service.prefixlen, family) > window
                ):
                    warnings.append(
                        f"the IPv6 service range {service.cidr} is wider than the 65536-address "
                        f"window of {profile.version}: only {ips} addresses "
                        f"({_window_text(service)}) are allocated; a /112 holds the same"
                    )
            per_family[family] = FamilyCapacity(blocks, pods, ips, band, reserved)

        max_nodes = 0
        limiting: IPFamily | None = None
        if self._cluster:
            limiting = min((p.family for p in self._cluster), key=lambda f: usable_blocks[f])
            max_nodes = usable_blocks[limiting]
            others = [f for f in usable_blocks if f is not limiting]
            if others and usable_blocks[others[0]] > max_nodes and max_nodes < 256:
                pool = next(p for p in self._cluster if p.family is limiting)
                warnings.append(
                    f"the cluster holds at most {max_nodes} dual-stack node"
                    f"{'s' if max_nodes != 1 else ''}: the {limiting} cluster CIDR {pool.cidr} "
                    f"yields {max_nodes} /{self._masks[limiting]} node block"
                    f"{'s' if max_nodes != 1 else ''} while {others[0]} yields "
                    f"{usable_blocks[others[0]]}; further nodes get no Pod CIDRs"
                )
        if not self._allocate:
            max_nodes = 0
            limiting = None
            warnings.append(
                "--allocate-node-cidrs=false: kube-controller-manager assigns no Pod CIDRs, "
                "nodes only have the ones given to them"
            )
        if self.families and self._cluster and set(self.families) != set(self.pod_families):
            warnings.append(
                f"Pods are {'/'.join(self.pod_families)} but Services "
                f"{'/'.join(self.families)}: give one service range per Pod family"
            )
        for name in self._ignored_gates:
            warnings.append(f"feature gate {name} is not modelled by dualstack and was ignored")
        return Capacity(
            max_nodes=max_nodes,
            limiting_family=limiting,
            per_family=MappingProxyType(per_family),
            warnings=tuple(warnings),
        )

    # -- value behaviour ---------------------------------------------------------------

    def _key(self) -> tuple[object, ...]:
        return (
            self._profile.version,
            self._cluster_texts,
            self.service_cidrs,
            tuple(sorted(self._masks.items())),
            tuple(sorted(self._gates.items())),
            tuple(sorted((f, tuple(p.cidr for p in ps)) for f, ps in self._lb_pools.items())),
            self._allocate,
        )

    def __copy__(self) -> ClusterConfig:
        return self

    def __deepcopy__(self, memo: object) -> ClusterConfig:
        return self

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        # Immutable slots: pickle by value through _restore, not through __setattr__.
        state = tuple(
            dict(value) if isinstance(value, MappingProxyType) else value
            for value in (getattr(self, name) for name in ClusterConfig.__slots__)
        )
        return _restore, state

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ClusterConfig):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        parts = [
            f"cluster_cidrs={self.cluster_cidrs!r}",
            f"service_cidrs={self.service_cidrs!r}",
        ]
        masks = self._repr_masks()
        if masks is not None:
            parts.append(f"node_mask_sizes={masks!r}")
        parts += [f"feature_gates={dict(self._gates)!r}", f"version={self.version!r}"]
        if self._lb_pools:
            pools = {str(f): list(v) for f, v in self.load_balancer_pools.items()}
            parts.append(f"load_balancer_pools={pools!r}")
        if not self._allocate:
            parts.append("allocate_node_cidrs=False")
        return f"ClusterConfig({', '.join(parts)})"

    def _repr_masks(self) -> int | dict[str, int] | None:
        """The ``node_mask_sizes`` argument that rebuilds this configuration."""
        families = self.pod_families
        if not families:
            return None
        gate = rules.gate_value(self._gates, "IPv6DualStack", self._profile)
        per_family = self._profile.mask_rules == "1.17" and gate
        if len(families) == 1 and not per_family:
            return self._masks[families[0]]
        return {str(f): self._masks[f] for f in families}


# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------


def _restore(*state: object) -> ClusterConfig:
    """Rebuild a pickled ``ClusterConfig`` from its slot values."""
    config = ClusterConfig.__new__(ClusterConfig)
    for name, value in zip(ClusterConfig.__slots__, state, strict=True):
        if isinstance(value, dict):
            value = MappingProxyType(value)
        object.__setattr__(config, name, value)
    return config


def _kcm_startup(
    inputs: _Inputs, profile: Profile, dual_gate: bool
) -> tuple[str | None, tuple[CIDRPool, ...], dict[IPFamily, int]]:
    """kube-controller-manager's start-up checks; the first failure (node §2.0)."""
    pools, error = rules.validate_cluster_cidrs(inputs.cluster_flag, profile, dual_gate)
    if error is not None:
        return error, (), {}
    error = rules.kcm_service_cidr_error(inputs.service_flag, dual_gate)
    if error is not None:
        return error, (), {}
    masks, error = rules.node_mask_sizes(
        pools, inputs.mask, inputs.mask_v4, inputs.mask_v6, profile, dual_gate
    )
    if error is not None:
        return error, (), {}
    for check in (
        rules.node_mask_width_error(pools, masks),
        rules.controller_cidr_error(pools, masks, profile),
        rules.cidr_set_error(pools, masks, profile, dual_stack_gate=dual_gate),
    ):
        if check is not None:
            return check, (), {}
    return None, pools, masks


def _reserved_blocks(cluster: CIDRPool, service: CIDRPool, n: int, blocks: int) -> int:
    """Blocks a service range occupies in a cluster CIDR's set (node §1.5, §2.4)."""
    if service.prefixlen <= cluster.prefixlen:
        return blocks
    if service.prefixlen <= n:
        return 1 << (n - service.prefixlen)
    return 1


def _window_text(service: CIDRPool) -> str:
    first = CIDRPool.from_ints(service.first + 1, 128, IPFamily.IPv6).cidr.split("/")[0]
    last = CIDRPool.from_ints(service.first + 0xFFFF, 128, IPFamily.IPv6).cidr.split("/")[0]
    return f"{first} to {last}"


def _flag_value(value: object, name: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, CIDRPool):
        return value.cidr
    try:
        items = list(value)  # type: ignore[call-overload]
    except TypeError:
        return str(value)
    return ",".join(p.cidr if isinstance(p, CIDRPool) else str(p) for p in items)


def _lenient_pools(flag: str) -> tuple[CIDRPool, ...]:
    pools = []
    for item in flag.strip().split(","):
        try:
            pools.append(CIDRPool(item))
        except InvalidAddressError:
            continue
    return tuple(pools)


def _canonical_items(flag: str) -> tuple[str, ...]:
    out = []
    for item in flag.strip().split(","):
        try:
            out.append(CIDRPool(item).cidr)
        except InvalidAddressError:
            out.append(item)
    return tuple(out)


_FAMILY_KEYS: Final = {
    "ipv4": "node-cidr-mask-size-ipv4",
    "ipv6": "node-cidr-mask-size-ipv6",
}


def _mask_inputs(
    value: int | Mapping[object, object] | None, profile: Profile
) -> tuple[int | None, int | None, int | None, list[str]]:
    """Turn ``node_mask_sizes`` into the three flags (and pflag-style parse errors)."""
    if value is None:
        return None, None, None, []
    flags: dict[str, object] = {}
    if isinstance(value, Mapping):
        for key, item in value.items():
            text = str(key).strip().lstrip("-").lower()
            name = _FAMILY_KEYS.get(text, text)
            if name not in ("node-cidr-mask-size", *_PER_FAMILY_MASK_FLAGS):
                raise ConfigError(
                    f"unknown node mask key {key!r}",
                    hint="use IPFamily.IPv4/IPv6 or a flag name such as "
                    "'node-cidr-mask-size-ipv6'",
                )
            flags[name] = item
    else:
        flags["node-cidr-mask-size"] = value
    errors: list[str] = []
    numbers: dict[str, int | None] = {}
    for name, item in flags.items():
        if isinstance(item, bool) or not isinstance(item, int | str):
            raise ConfigError(
                f"invalid node mask size {item!r} for --{name}",
                hint="give the prefix length as an int, e.g. 24 or 64",
            )
        if isinstance(item, int):
            numbers[name] = item
            continue
        number, problem = rules.parse_go_int32(item)
        if problem is not None:
            errors.append(
                with_hint(
                    f'invalid argument {go_repr(item)} for "--{name}" flag: {problem}',
                    "give the prefix length as a number, e.g. 24 or 64",
                )
            )
        numbers[name] = number
    if profile.single_node_mask:
        per_family = {n: numbers.pop(n) for n in _PER_FAMILY_MASK_FLAGS if n in numbers}
        distinct = set(per_family.values())
        if per_family and ("node-cidr-mask-size" in numbers or len(distinct) > 1):
            raise ConfigError(
                f"unknown flag: --{next(iter(per_family))}",
                hint=f"{profile.version} has one --node-cidr-mask-size for both families "
                "(per-family masks arrived in 1.17)",
            )
        if per_family:
            numbers["node-cidr-mask-size"] = distinct.pop()
    return (
        numbers.get("node-cidr-mask-size"),
        numbers.get("node-cidr-mask-size-ipv4"),
        numbers.get("node-cidr-mask-size-ipv6"),
        errors,
    )


def _gate_inputs(
    value: str | Mapping[str, bool] | None, *, from_flag: bool
) -> tuple[list[tuple[str, bool]], list[str]]:
    if value is None:
        return [], []
    if isinstance(value, str):
        pairs, problem = rules.parse_feature_gates(value)
        if problem is None:
            return pairs, []
        message = (
            f'invalid argument {go_repr(value)} for "--feature-gates" flag: {problem}'
            if from_flag
            else problem
        )
        return pairs, [
            with_hint(message, "give name=true or name=false pairs separated by commas")
        ]
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"feature_gates must be a mapping of gate names to True/False or the "
            f"--feature-gates text, got {value!r}",
            hint="e.g. {'IPv6DualStack': True} or 'IPv6DualStack=true'",
        )
    pairs = []
    for name, flag in value.items():
        if not isinstance(flag, bool):
            raise ConfigError(
                f"invalid value of {name}={flag!r}",
                hint="feature gate values are True or False",
            )
        pairs.append((str(name), flag))
    return pairs, []


class _FlagValues:
    """Parsed flag values: the last value wins, ``get_all`` keeps every one in order."""

    def __init__(self) -> None:
        self._values: dict[str, list[str]] = {}
        self._order: list[tuple[str, str]] = []

    def add(self, name: str, value: str) -> None:
        self._values.setdefault(name, []).append(value)
        self._order.append((name, value))

    def get(self, name: str) -> str | None:
        values = self._values.get(name)
        return values[-1] if values else None

    def get_all(self, name: str) -> list[str]:
        return list(self._values.get(name, []))

    def items(self) -> list[tuple[str, str]]:
        """Every ``(name, value)`` in command-line order."""
        return list(self._order)


def _parse_flags(flags: Iterable[str] | str, profile: Profile) -> _FlagValues:
    """Split ``--flag=value`` / ``--flag value`` items as pflag does (known flags only)."""
    items = _split_command_line(flags) if isinstance(flags, str) else [str(f) for f in flags]
    known = set(_VALUE_FLAGS)
    if profile.single_node_mask:
        known -= set(_PER_FAMILY_MASK_FLAGS)
    values = _FlagValues()
    i = 0
    while i < len(items):
        item = items[i]
        i += 1
        if item.startswith("-") and not item.startswith("--") and len(item) > 1:
            raise ConfigError(
                f"unknown shorthand flag: {item[1]!r} in {item}",
                hint="give the long flag names, e.g. --cluster-cidr=10.244.0.0/16",
            )
        if not item.startswith("--") or item == "--":
            previous = items[i - 2] if i >= 2 else ""
            hint = "give flags as --name=value or --name value"
            if previous[2:] in _BOOL_FLAGS:
                hint = f"a boolean flag takes its value after '=': {previous}={item}"
            raise ConfigError(f"unexpected argument {item!r}", hint=hint)
        written, sep, value = item[2:].partition("=")
        name = written.replace("_", "-") if profile.minor >= _WORD_SEP_NORMALIZED_FROM else written
        if name not in known:
            hint = "dualstack reads " + ", ".join(f"--{n}" for n in sorted(known))
            spelled = written.replace("_", "-")
            if spelled != written and spelled in known:
                hint = (
                    f"{profile.version} does not read '_' as '-' in flag names (the "
                    f"components do from 1.{_WORD_SEP_NORMALIZED_FROM}): write --{spelled}"
                )
            elif spelled in _PER_FAMILY_MASK_FLAGS:
                hint = (
                    f"{profile.version} has one --node-cidr-mask-size for both families "
                    "(per-family masks arrived in 1.17)"
                )
            raise ConfigError(f"unknown flag: --{written}", hint=hint)
        if not sep:
            if name in _BOOL_FLAGS:
                value = "true"
            elif i < len(items):
                value = items[i]
                i += 1
            else:
                raise ConfigError(
                    f"flag needs an argument: --{written}",
                    hint=f"give --{name}=<value>",
                )
        values.add(name, value)
    return values


def _load_balancer_pools(
    value: object, taken: tuple[CIDRPool, ...]
) -> tuple[dict[IPFamily, tuple[CIDRPool, ...]], list[str]]:
    """Library checks of ``load_balancer_pools``: parse, one list per family, no overlap."""
    if value is None:
        return {}, []
    errors: list[str] = []
    grouped: dict[IPFamily, list[CIDRPool]] = {}
    entries: list[tuple[IPFamily | None, object]] = []
    if isinstance(value, Mapping):
        for key, cidrs in value.items():
            try:
                family = IPFamily(str(key))
            except ValueError:
                errors.append(
                    with_hint(
                        f"load balancer pool key {key!r} is not an IP family",
                        "use IPFamily.IPv4 or IPFamily.IPv6",
                    )
                )
                continue
            if isinstance(cidrs, str):
                cidrs = [cidrs]
            if not isinstance(cidrs, Iterable):
                errors.append(
                    with_hint(
                        f"load balancer pool {key} must list CIDRs, got {cidrs!r}",
                        f"give e.g. {{{str(key)!r}: ['192.0.2.0/24']}}",
                    )
                )
                continue
            for cidr in cidrs:
                entries.append((family, cidr))
    elif isinstance(value, str):
        entries = [(None, c) for c in value.split(",")]
    elif isinstance(value, Iterable):
        entries = [(None, c) for c in value]
    else:
        raise ConfigError(
            f"load_balancer_pools must be CIDRs or a mapping of family to CIDRs, got {value!r}",
            hint="give e.g. ['192.0.2.0/24', '2001:db8::/64'] or {'IPv4': ['192.0.2.0/24']}",
        )
    for listed, cidr in entries:
        try:
            pool = CIDRPool(cidr if isinstance(cidr, CIDRPool) else str(cidr))
        except InvalidAddressError:
            errors.append(
                with_hint(
                    f"invalid CIDR address: {cidr}",
                    "give load balancer pools as CIDRs, e.g. '192.0.2.0/24'",
                )
            )
            continue
        if listed is not None and pool.family is not listed:
            errors.append(
                with_hint(
                    f"load balancer pool {pool.cidr} is {pool.family} but listed under {listed}",
                    f"list it under {pool.family}",
                )
            )
            continue
        clash = next((t for t in taken if t.overlaps(pool)), None)
        if clash is not None:
            errors.append(
                with_hint(
                    f"load balancer pool {pool.cidr} overlaps {clash.cidr}",
                    "load balancer addresses must lie outside the service ranges and "
                    "cluster CIDRs",
                )
            )
            continue
        same = next((p for p in grouped.get(pool.family, []) if p.overlaps(pool)), None)
        if same is not None:
            errors.append(
                with_hint(
                    f"load balancer pool {pool.cidr} overlaps {same.cidr}",
                    "give each address once",
                )
            )
            continue
        grouped.setdefault(pool.family, []).append(pool)
    return {f: tuple(ps) for f, ps in grouped.items()}, errors


# ---------------------------------------------------------------------------------------
# check_components
# ---------------------------------------------------------------------------------------

_IPVS_ONLY_UNTIL: Final = 17
"""kube-proxy's iptables mode gained dual-stack in 1.18 (kubernetes/kubernetes#82462,
kubernetes/website#19798: "1.17 supports ipvs + dual stack only")."""
_PROXY_CLUSTER_CIDR_STRING_UNTIL: Final = 30
"""kube-proxy validated its ``ClusterCIDR`` string (the "only one CIDR allowed ..." texts,
no check of an empty value) until its internal configuration became the list
``DetectLocal.ClusterCIDRs`` (``validateDualStackCIDRStrings``). The string is still
there in the 1.31 development tree of April 2024 (kubernetes/kubernetes#124529), so
1.30 has the old texts; 1.31 is assumed to be the first with the list (not pinned:
the newest tree seen has it, with the NFTablesProxyMode gate still present)."""


def _component_flags(
    items: Iterable[str] | str, component: str, profile: Profile
) -> dict[str, list[str]]:
    """Lenient flag split for ``check_components``: unknown flags are kept, not refused.

    Names are normalised (``_`` read as ``-``) where the component does it: the kubelet
    always, the others from ``_WORD_SEP_NORMALIZED_FROM``.
    """
    flags = _split_command_line(items) if isinstance(items, str) else [str(f) for f in items]
    normalise = component == "kubelet" or profile.minor >= _WORD_SEP_NORMALIZED_FROM
    out: dict[str, list[str]] = {}
    i = 0
    while i < len(flags):
        item = flags[i]
        i += 1
        if not item.startswith("-"):
            raise ConfigError(
                f"{component}: unexpected argument {item!r}",
                hint="give flags as --name=value",
            )
        name, sep, value = item.lstrip("-").partition("=")
        if normalise:
            name = name.replace("_", "-")
        if not sep:
            if i < len(flags) and not flags[i].startswith("-"):
                value = flags[i]
                i += 1
            else:
                value = "true"
        out.setdefault(name, []).append(value)
    return out


def _component_gates(
    flags: Mapping[str, list[str]], component: str, profile: Profile
) -> tuple[dict[str, bool], list[Finding]]:
    requested: dict[str, bool] = {}
    for text in flags.get("feature-gates", []):
        pairs, problem = rules.parse_feature_gates(text)
        if problem is not None:
            raise ConfigError(
                f"{component}: invalid argument {go_repr(text)} for "
                f'"--feature-gates" flag: {problem}',
                hint="give name=true or name=false pairs separated by commas",
            )
        requested.update(pairs)
    gates, errors, _ = rules.resolve_gates(requested, profile)
    findings = [Finding("error", f"{component} --feature-gates", e) for e in errors]
    return gates, findings


def _cidr_list(text: str) -> tuple[CIDRPool, ...] | None:
    try:
        return tuple(CIDRPool(item) for item in text.split(","))
    except InvalidAddressError:
        return None


def _kube_proxy_cidr_findings(text: str, profile: Profile, gate: bool) -> list[Finding]:
    """kube-proxy's own ``--cluster-cidr`` validation texts (node §2.10; up to
    ``_PROXY_CLUSTER_CIDR_STRING_UNTIL`` the string-era texts, then the list-era ones)."""
    subject = "kube-proxy --cluster-cidr"
    items = text.split(",")
    pools = _cidr_list(text)
    example = "e.g. --cluster-cidr=10.244.0.0/16,fd00:10:244::/56"
    if profile.minor <= _PROXY_CLUSTER_CIDR_STRING_UNTIL:
        if not text:
            return []
        if len(items) > 1 and not gate:
            detail = "only one CIDR allowed (e.g. 10.100.0.0/16 or fde4:8dba:82e1::/48)"
        elif len(items) > 2:
            detail = "only one CIDR allowed or a valid DualStack CIDR (e.g. 10.100.0.0/16,fde4:8dba:82e1::/48)"  # noqa: E501
        elif len(items) == 2:
            if pools is not None and pools[0].family is not pools[1].family:
                return []
            detail = "must be a valid DualStack CIDR (e.g. 10.100.0.0/16,fde4:8dba:82e1::/48)"
        elif pools is None:
            detail = "must be a valid CIDR block (e.g. 10.100.0.0/16 or fde4:8dba:82e1::/48)"
        else:
            return []
        return [Finding("error", subject, with_hint(detail, example))]
    # validateDualStackCIDRStrings: more than two entries are refused without parsing;
    # otherwise each entry must parse, and a parsed pair must be one of each family.
    pair_text = with_hint(
        "must be a either a single CIDR or dual-stack pair of CIDRs "
        "(e.g. [10.100.0.0/16, fde4:8dba:82e1::/48]",
        example,
    )
    if len(items) > 2:
        return [Finding("error", subject, pair_text)]
    findings = [
        Finding(
            "error",
            subject,
            with_hint(
                "must be a valid CIDR block (e.g. 10.100.0.0/16 or fde4:8dba:82e1::/48)",
                f"{item!r} is not a CIDR",
            ),
        )
        for item in items
        if _cidr_list(item) is None
    ]
    if pools is not None and len(pools) == 2 and pools[0].family is pools[1].family:
        findings.append(Finding("error", subject, pair_text))
    return findings


def check_components(
    *,
    controller_manager: Iterable[str] | str = (),
    apiserver: Iterable[str] | str = (),
    kube_proxy: Iterable[str] | str = (),
    kubelet: Iterable[str] | str = (),
    version: str | None = None,
) -> list[Finding]:
    """Cross-component findings of the dual-stack page (v1.16 and later releases).

    Checks: ``IPv6DualStack`` on in every given component that needs it while the gate
    exists and is not on by default (kube-apiserver, kube-controller-manager, kubelet,
    kube-proxy), locked or removed gates set anyway; kube-proxy in IPVS mode up to 1.17
    (iptables gained dual-stack in 1.18, kubernetes/kubernetes#82462); kube-proxy's
    ``--cluster-cidr`` equal to kube-controller-manager's and valid (node §2.10). An
    omitted component is not checked. Dual-stack is "intended" when any given CIDR flag
    lists both families.

    Raises:
        ConfigError: only for flags that cannot be parsed (a non-flag argument, a
            malformed ``--feature-gates`` value).
    """
    profile = Profile.for_version(version)
    raw = {
        "kube-controller-manager": _as_list(controller_manager),
        "kube-apiserver": _as_list(apiserver),
        "kubelet": _as_list(kubelet),
        "kube-proxy": _as_list(kube_proxy),
    }
    components = {name: _component_flags(items, name, profile) for name, items in raw.items()}
    given = {name: bool(items) for name, items in raw.items()}
    findings: list[Finding] = []
    gates: dict[str, dict[str, bool]] = {}
    for name, flags in components.items():
        if given[name]:
            gates[name], gate_findings = _component_gates(flags, name, profile)
            findings.extend(gate_findings)

    dual_intended = False
    for name, flag in (
        ("kube-controller-manager", "cluster-cidr"),
        ("kube-controller-manager", "service-cluster-ip-range"),
        ("kube-apiserver", "service-cluster-ip-range"),
        ("kube-proxy", "cluster-cidr"),
    ):
        values = components[name].get(flag)
        pools = _cidr_list(values[-1]) if values else None
        if pools and len({p.family for p in pools}) == 2:
            dual_intended = True

    if dual_intended and rules.gate_known("IPv6DualStack", profile):
        for name in ("kube-apiserver", "kube-controller-manager", "kubelet", "kube-proxy"):
            if given[name] and not gates[name].get("IPv6DualStack", False):
                explicit = any(
                    "IPv6DualStack" in dict(rules.parse_feature_gates(t)[0])
                    for t in components[name].get("feature-gates", [])
                )
                findings.append(
                    Finding(
                        "error",
                        f"{name} --feature-gates",
                        f"IPv6DualStack is {'set to false' if explicit else 'off'} in "
                        f"{profile.version}: dual-stack needs "
                        f"--feature-gates=IPv6DualStack=true on {name}",
                    )
                )

    proxy = components["kube-proxy"]
    if given["kube-proxy"]:
        proxy_gate = gates["kube-proxy"].get(
            "IPv6DualStack", rules.gate_value({}, "IPv6DualStack", profile)
        )
        mode = (proxy.get("proxy-mode") or [""])[-1]
        if dual_intended and profile.minor <= _IPVS_ONLY_UNTIL and mode != "ipvs":
            findings.append(
                Finding(
                    "error",
                    "kube-proxy --proxy-mode",
                    f"kube-proxy runs in {mode or 'iptables (the default)'} mode, but "
                    f"dual-stack in {profile.version} needs --proxy-mode=ipvs "
                    "(iptables mode gained dual-stack in 1.18)",
                )
            )
        proxy_cidr = _last(proxy, "cluster-cidr")
        if proxy_cidr is not None:
            findings.extend(_kube_proxy_cidr_findings(proxy_cidr, profile, proxy_gate))
        kcm_cidr = _last(components["kube-controller-manager"], "cluster-cidr")
        if kcm_cidr is not None and given["kube-controller-manager"]:
            if proxy_cidr is None:
                findings.append(
                    Finding(
                        "warning",
                        "kube-proxy --cluster-cidr",
                        f"kube-proxy has no --cluster-cidr: set --cluster-cidr={kcm_cidr.strip()} "
                        "as on kube-controller-manager so it can tell Pod traffic from "
                        "external traffic",
                    )
                )
            else:
                ours = _cidr_list(proxy_cidr.strip())
                theirs = _cidr_list(kcm_cidr.strip())
                # kube-proxy takes the first CIDR of each family (node §2.10): the order
                # of the list does not matter, the CIDR per family does.
                if (
                    ours is not None
                    and theirs is not None
                    and _first_per_family(ours) != _first_per_family(theirs)
                ):
                    findings.append(
                        Finding(
                            "error",
                            "kube-proxy --cluster-cidr",
                            f"kube-proxy --cluster-cidr={proxy_cidr} differs from "
                            f"kube-controller-manager --cluster-cidr={kcm_cidr}: give both "
                            f"--cluster-cidr={','.join(p.cidr for p in theirs)}",
                        )
                    )
    return findings


def _first_per_family(pools: tuple[CIDRPool, ...]) -> dict[IPFamily, CIDRPool]:
    first: dict[IPFamily, CIDRPool] = {}
    for pool in pools:
        first.setdefault(pool.family, pool)
    return first


def _last(flags: Mapping[str, list[str]], name: str) -> str | None:
    values = flags.get(name)
    return values[-1] if values else None


def _as_list(items: Iterable[str] | str) -> list[str]:
    if isinstance(items, str):
        return _split_command_line(items)
    return [str(item) for item in items]


def _split_command_line(text: str) -> list[str]:
    """Split a flag line as a POSIX shell would (what the components receive)."""
    try:
        return shlex.split(text)
    except ValueError as exc:
        # The shell would refuse the line too (an unbalanced quote, a trailing escape).
        raise ConfigError(
            f"cannot split the command line {text!r}: {exc}",
            hint="balance the quotes, or pass the flags as a list of strings",
        ) from None

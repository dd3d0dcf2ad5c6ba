"""Snapshots: the whole state of a ``Cluster`` as versioned, JSON-serialisable data.

Purpose: save a simulated cluster and bring it back so that it behaves exactly as the
original from then on — the next node block, the next Pod address and the next random
ClusterIP included (``Cluster.snapshot()`` / ``Cluster.from_snapshot(data)``).

Format 1 (every key always present; ``json.dumps`` takes it as it is)::

    {"format": 1, "kind": "DualStackClusterSnapshot",
     "config":   {"clusterCIDRs": [...], "serviceCIDRs": [...], "nodeMaskSizes": ...,
                  "featureGates": {...}, "version": "1.33", "loadBalancerPools": {...},
                  "allocateNodeCIDRs": true},
     "cluster":  {"seed": 7, "networkPlugin": "cni", "egress": {...ip-masq-agent...}},
     "services": {"ranges": [{"family", "range", "data"}],   # RangeAllocation (base64)
                  "rng": {"IPv4": [3, [625 ints], null]},     # random.Random state
                  "objects": [stored Service objects, in creation order]},
     "cidrSets": [{"range", "nodeMaskSize", "cursor", "data" | "runs"}],
     "nodes":    [{"name", "podCIDRs", "lastReserved"?}],    # host-local cursors
     "pods":     [{"namespace", "name", "nodeName", "podIPs"}]}

Service ranges are kube-apiserver's ``RangeAllocation`` data where a bitmap encodes
them (``"ips"`` otherwise); each cluster CIDR's block bitmap uses the same encoding
(``"runs"`` of used indices past 2^24 blocks). Per-node Pod bitmaps are not stored:
the Pods are the truth, and each node's host-local ``lastReserved`` cursors are.

Invariants: ``load_cluster(dump_cluster(c))`` answers every later call as ``c`` would;
a snapshot whose parts disagree (a node CIDR overlapping another or outside its
cluster CIDR, a Pod address outside its node's CIDR or held twice, a bitmap that
disagrees with the objects, a cursor out of range — a node's ``lastReserved`` outside
its Pod CIDR included), that holds a value of the wrong JSON type (``"false"`` for a
boolean), a stored Service kube-apiserver would refuse, or of an unknown format or kind
is refused with ``DualStackError`` saying what is wrong; loading never changes its input.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, Final

from dualstack import services as _services
from dualstack.cluster import Cluster
from dualstack.config import ClusterConfig
from dualstack.egress import EgressPolicy
from dualstack.errors import ConfigError, DualStackError, FieldError, FieldErrorType
from dualstack.families import parse_cidr, parse_ip
from dualstack.nodes import NodeRegistry

__all__ = ["FORMAT", "KIND", "config_from_data", "config_to_data", "dump_cluster", "load_cluster"]

FORMAT: Final = 1
"""The snapshot format this library writes and reads."""
KIND: Final = "DualStackClusterSnapshot"

_HINT: Final = "the snapshot was edited or damaged; restore the file Cluster.snapshot() wrote"


def config_to_data(config: ClusterConfig) -> dict[str, Any]:
    """The ``ClusterConfig`` arguments that rebuild ``config`` (JSON-ready)."""
    return {
        "clusterCIDRs": list(config.cluster_cidrs),
        "serviceCIDRs": list(config.service_cidrs),
        # The node_mask_sizes argument its repr uses: an int where the release has one
        # mask flag for the configuration, per-family entries otherwise.
        "nodeMaskSizes": config._repr_masks(),
        "featureGates": dict(config.feature_gates),
        "version": config.version,
        "loadBalancerPools": {str(f): list(c) for f, c in config.load_balancer_pools.items()},
        "allocateNodeCIDRs": config.allocate_node_cidrs,
    }


def _typed(data: Mapping[str, Any], key: str, kind: type, what: str) -> Any:
    """``data[key]`` when it has exactly the JSON type ``kind`` (a bool is not an int).

    Raises:
        ConfigError: the value has another type (``"false"`` for a boolean, ``1`` for
            ``true``): coercing it could invert what was written.
    """
    value = data[key]
    if type(value) is not kind:
        raise ConfigError(f"{key} {value!r} is not {what}")
    return value


def config_from_data(data: Mapping[str, Any]) -> ClusterConfig:
    """Rebuild a ``ClusterConfig`` from ``config_to_data`` output.

    Raises:
        ConfigError: the data describes a configuration Kubernetes refuses, or holds a
            value of the wrong JSON type.
    """
    return ClusterConfig(
        cluster_cidrs=list(_typed(data, "clusterCIDRs", list, "a list")),
        service_cidrs=list(_typed(data, "serviceCIDRs", list, "a list")),
        node_mask_sizes=data["nodeMaskSizes"],
        feature_gates=dict(_typed(data, "featureGates", dict, "a mapping")),
        version=_typed(data, "version", str, "a string"),
        load_balancer_pools=dict(_typed(data, "loadBalancerPools", dict, "a mapping")) or None,
        allocate_node_cidrs=_typed(data, "allocateNodeCIDRs", bool, "a boolean"),
    )


def _egress_to_data(policy: EgressPolicy) -> dict[str, Any]:
    micros = policy.resync_interval // datetime.timedelta(microseconds=1)
    return {
        "nonMasqueradeCIDRs": list(policy.non_masquerade_cidrs),
        "masqLinkLocal": policy.masq_link_local,
        "masqLinkLocalIPv6": policy.masq_link_local_ipv6,
        "enableIPv6": policy.enable_ipv6,
        "cidrLimit": policy.cidr_limit,
        "nomasqAllReservedRanges": policy.nomasq_all_reserved_ranges,
        "resyncInterval": f"{micros}us",
    }


def _egress_from_data(data: Mapping[str, Any]) -> EgressPolicy:
    return EgressPolicy(
        non_masquerade_cidrs=list(_typed(data, "nonMasqueradeCIDRs", list, "a list")),
        masq_link_local=_typed(data, "masqLinkLocal", bool, "a boolean"),
        masq_link_local_ipv6=_typed(data, "masqLinkLocalIPv6", bool, "a boolean"),
        enable_ipv6=_typed(data, "enableIPv6", bool, "a boolean"),
        cidr_limit=_typed(data, "cidrLimit", int, "an integer"),
        nomasq_all_reserved_ranges=_typed(data, "nomasqAllReservedRanges", bool, "a boolean"),
        resync_interval=_typed(data, "resyncInterval", str, "a string"),
    )


_SERVICE_TYPES: Final = frozenset({"ClusterIP", "NodePort", "LoadBalancer", "ExternalName"})


def _check_stored_services(objects: object, config: ClusterConfig) -> None:
    """Refuse stored Services whose address fields kube-apiserver would not have stored.

    Each object must pass the decoder's shape checks, name a known type, and have
    address fields a create would accept: ``ValidateServiceClusterIPsRelatedFields`` and
    ``initIPFamilyFields`` (policy against the number of families and addresses,
    families configured) for the GA API, the ``spec.ipFamily`` rules before 1.20.
    Other ``ValidateService`` rules (ports, selectors, ...) are not re-applied: they
    grow stricter from version to version of the library, kube-apiserver does not
    re-validate what it stored either, and a file ``Cluster.snapshot()`` wrote must
    keep loading. Whether the addresses are in range and held once is checked where
    they are loaded.
    """
    if not isinstance(objects, list):
        raise DualStackError(f"services.objects {objects!r} is not a list")
    rules = _services.ServiceRules.from_config(config)
    for index, stored in enumerate(objects):
        try:
            obj = _services.check_manifest(stored)
        except DualStackError as error:
            raise DualStackError(f"stored Service {index}: {error.message}") from None
        meta, spec = obj["metadata"], obj["spec"]
        if spec.get("type") not in _SERVICE_TYPES:
            errors = [
                FieldError(
                    FieldErrorType.NOT_SUPPORTED,
                    "spec.type",
                    spec.get("type"),
                    "supported values: " + ", ".join(f'"{t}"' for t in sorted(_SERVICE_TYPES)),
                )
            ]
        elif rules.profile.service_api == "alpha":
            errors = _services._validate_alpha_ip_family(spec, None, rules)
        else:
            errors = _services.validate_cluster_ips_related_fields(spec, rules)
            if not errors and rules.dual_stack:
                errors = _services.init_ip_family_fields(dict(spec), None, rules)
        if errors:
            shown = "; ".join(str(e) for e in errors)
            raise DualStackError(
                f"stored Service {meta['namespace']}/{meta['name']} is invalid: {shown}"
            )


def _check_cursors(nodes: object) -> None:
    """Refuse a host-local ``lastReserved`` cursor outside its node's Pod CIDR.

    host-local itself ignores such a cursor (node-and-pod-ips.md §3.3), but the library
    never writes one: it can only come from an edit. Runs after ``NodeRegistry.load``
    has checked the shapes (one cursor per Pod CIDR, of its family).
    """
    assert isinstance(nodes, list)
    for item in nodes:
        for cidr, text in zip(item["podCIDRs"], item.get("lastReserved") or (), strict=False):
            if text is None:
                continue
            network, prefixlen, family = parse_cidr(cidr)
            value = parse_ip(text)[0]
            if value >> (family.width - prefixlen) != network >> (family.width - prefixlen):
                raise DualStackError(
                    f"node {item['name']!r}: lastReserved {text} is outside its Pod CIDR {cidr}"
                )


def dump_cluster(cluster: Cluster) -> dict[str, Any]:
    """``cluster.snapshot()``: the whole state in format ``FORMAT``."""
    registry = cluster.node_registry.dump()
    return {
        "format": FORMAT,
        "kind": KIND,
        "config": config_to_data(cluster.config),
        "cluster": {
            "seed": cluster._seed,
            "networkPlugin": cluster.network_plugin,
            "egress": _egress_to_data(cluster.egress_policy),
        },
        "services": cluster._dump_services(),
        "cidrSets": registry["cidrSets"],
        "nodes": registry["nodes"],
        "pods": registry["pods"],
    }


def load_cluster(data: Mapping[str, Any]) -> Cluster:
    """``Cluster.from_snapshot(data)``: a cluster that behaves as the one that wrote it.

    Raises:
        DualStackError: ``unknown snapshot format <n>`` or ``corrupt snapshot: <what>``.
    """
    if not isinstance(data, Mapping):
        raise DualStackError(
            f"a snapshot is a dict, got {type(data).__name__}",
            hint="pass what Cluster.snapshot() returned (or json.load of it)",
        )
    version = data.get("format")
    if type(version) is not int or version != FORMAT:
        raise DualStackError(
            f"unknown snapshot format {version!r}",
            hint=f"this dualstack reads format {FORMAT}; use the release that wrote it",
        )
    try:
        kind = data.get("kind")
        if kind != KIND:
            raise DualStackError(f"kind {kind!r} is not {KIND!r}")
        config = config_from_data(data["config"])
        options = data["cluster"]
        seed = options["seed"]
        if seed is not None and type(seed) is not int:
            raise DualStackError(f"seed {seed!r} is not an int")
        plugin = options["networkPlugin"]
        cluster = Cluster(
            config,
            seed=seed,
            network_plugin=plugin,
            egress=_egress_from_data(options["egress"]),
        )
        cluster._load_services(data["services"])
        _check_stored_services(data["services"]["objects"], config)
        cluster._registry = NodeRegistry.load(config, data, network_plugin=plugin)
        _check_cursors(data["nodes"])
    except DualStackError as error:
        message = str(error)
        if message.startswith("corrupt snapshot: "):
            raise
        raise DualStackError(f"corrupt snapshot: {message}", hint=_HINT) from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
        raise DualStackError(
            f"corrupt snapshot: malformed data ({type(error).__name__}: {error})", hint=_HINT
        ) from None
    return cluster

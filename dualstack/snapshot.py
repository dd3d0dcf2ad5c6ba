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
disagrees with the objects, a cursor out of range) or of an unknown format is refused
with ``DualStackError`` saying what is wrong; loading never changes its input.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, Final

from dualstack.cluster import Cluster
from dualstack.config import ClusterConfig
from dualstack.egress import EgressPolicy
from dualstack.errors import DualStackError
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


def config_from_data(data: Mapping[str, Any]) -> ClusterConfig:
    """Rebuild a ``ClusterConfig`` from ``config_to_data`` output.

    Raises:
        ConfigError: the data describes a configuration Kubernetes refuses.
    """
    return ClusterConfig(
        cluster_cidrs=list(data["clusterCIDRs"]),
        service_cidrs=list(data["serviceCIDRs"]),
        node_mask_sizes=data["nodeMaskSizes"],
        feature_gates=dict(data["featureGates"]),
        version=data["version"],
        load_balancer_pools=dict(data["loadBalancerPools"]) or None,
        allocate_node_cidrs=bool(data["allocateNodeCIDRs"]),
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
        non_masquerade_cidrs=list(data["nonMasqueradeCIDRs"]),
        masq_link_local=bool(data["masqLinkLocal"]),
        masq_link_local_ipv6=bool(data["masqLinkLocalIPv6"]),
        enable_ipv6=bool(data["enableIPv6"]),
        cidr_limit=int(data["cidrLimit"]),
        nomasq_all_reserved_ranges=bool(data["nomasqAllReservedRanges"]),
        resync_interval=str(data["resyncInterval"]),
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
        cluster._registry = NodeRegistry.load(config, data, network_plugin=plugin)
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

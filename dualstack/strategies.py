"""Hypothesis strategies for property tests of code that uses dualstack.

Purpose: generate what users' (and this project's) property tests need — valid
dual-stack cluster configurations for a release, Service manifests that the API server
accepts (or refuses), and whole sequences of cluster operations — so that a test can
say "for every configuration and every history, my simulator keeps its invariants".

Key functions:
- ``cluster_configs(version=None)``: valid dual-stack ``ClusterConfig`` values of that
  release (``None`` = the newest), either family first, small enough that node blocks,
  Pod addresses and ClusterIPs run out within a few dozen operations.
- ``service_manifests(config, valid=True)``: Service manifests (plain dicts, as
  ``yaml.safe_load`` gives them) for that configuration's API (GA fields from 1.20,
  ``spec.ipFamily`` before); ``valid=False`` gives manifests kube-apiserver refuses
  with a 422 (``InvalidServiceError``).
- ``cluster_operations(config)``: lists of ``Operation`` values (add/remove node and
  Pod, create/update/delete Service) to replay on a ``Cluster`` with
  ``operation.apply(cluster)``.

Invariants: every generated configuration constructs without error; names come from
small pools so that removals and duplicates are exercised. Hypothesis is a test
dependency only: ``import dualstack`` never imports this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from hypothesis import strategies as st

from dualstack.config import ClusterConfig
from dualstack.errors import ConfigError
from dualstack.profiles import NEWEST, OLDEST, Profile

__all__ = [
    "NODE_NAMES",
    "POD_NAMES",
    "SERVICE_NAMES",
    "VERSIONS",
    "Operation",
    "cluster_configs",
    "cluster_operations",
    "service_manifests",
]

VERSIONS: Final = tuple(f"1.{minor}" for minor in range(OLDEST, NEWEST + 1))
"""Every release the library models."""
NODE_NAMES: Final = tuple(f"node-{i}" for i in range(6))
POD_NAMES: Final = tuple(f"pod-{i}" for i in range(10))
SERVICE_NAMES: Final = tuple(f"svc-{c}" for c in "abcdefgh")


def _build_config(
    profile: Profile,
    v6_first: bool,
    services_v6_first: bool,
    v4_prefix: int,
    v4_gap: int,
    v6_mask: int,
    v6_gap: int,
    v4_service_prefix: int,
    v6_service_prefix: int,
) -> ClusterConfig | None:
    gates = {} if profile.dual_stack_gate_default else {"IPv6DualStack": True}
    v4_mask = v4_prefix + v4_gap
    if v4_mask > 30:  # host-local needs two host bits (node-and-pod-ips.md §3.2)
        return None
    masks: int | dict[object, object]
    if profile.single_node_mask:
        # 1.16 has one mask for both families (node-and-pod-ips.md §2.2, §2.11).
        masks = v4_mask
        v6_cluster = f"fc00::/{v4_mask - v6_gap}"  # the 1.16 page's example family
    else:
        masks = {"IPv4": v4_mask, "IPv6": v6_mask}
        v6_cluster = f"fd00:10:244::/{v6_mask - v6_gap}"
    v4_cluster = f"10.244.0.0/{v4_prefix}"
    clusters = [v6_cluster, v4_cluster] if v6_first else [v4_cluster, v6_cluster]
    v4_service = f"10.96.0.0/{v4_service_prefix}"
    v6_service = f"fd00:10:96::/{v6_service_prefix}"
    services = [v6_service, v4_service] if services_v6_first else [v4_service, v6_service]
    try:
        return ClusterConfig(
            cluster_cidrs=clusters,
            service_cidrs=services,
            node_mask_sizes=masks,
            feature_gates=gates,
            version=profile.version,
        )
    except ConfigError:
        return None


@st.composite
def _configs(draw: st.DrawFn, version: str | None) -> ClusterConfig:
    profile = Profile.for_version(version)
    config = None
    while config is None:
        config = _build_config(
            profile,
            v6_first=draw(st.booleans()),
            services_v6_first=draw(st.booleans()),
            v4_prefix=draw(st.integers(20, 28)),
            v4_gap=draw(st.integers(0, 3)),
            v6_mask=draw(st.integers(64, 126)),
            v6_gap=draw(st.integers(0, 3)),
            v4_service_prefix=draw(st.integers(26, 28)),
            v6_service_prefix=draw(st.integers(120, 124)),
        )
    return config


def cluster_configs(version: str | None = None) -> st.SearchStrategy[ClusterConfig]:
    """Valid dual-stack configurations of one release (``None`` = the newest).

    Either family may come first in ``--cluster-cidr`` and (independently) in
    ``--service-cluster-ip-range``; node masks leave 1 to 8 blocks per cluster CIDR,
    IPv4 node blocks are /20 to /30 (down to one Pod address) and IPv6 ones /64 to /126
    (down to two: host-local keeps the IPv6 all-ones address), and service ranges hold
    14 to 62 IPv4 and 15 to 255 IPv6 addresses (IPv6 has no broadcast address), so
    exhaustion is reached. Releases before 1.21 turn the ``IPv6DualStack`` gate on; 1.16
    uses its single node mask, so its IPv6 node blocks are /20 to /30 too.

    Raises:
        ConfigError: ``version`` is not a modelled release.
    """
    Profile.for_version(version)  # fail early on an unknown version
    return _configs(version)


# --- Services ---------------------------------------------------------------------------
def _manifest(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"selector": {"app": name}, "ports": [{"port": 80}]}
    body.update(spec)
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": body}


@st.composite
def _valid_service(draw: st.DrawFn, config: ClusterConfig) -> dict[str, Any]:
    name = draw(st.sampled_from(SERVICE_NAMES))
    families = [f.value for f in config.families]
    spec: dict[str, Any] = {}
    kind = draw(st.sampled_from(["ClusterIP", "ClusterIP", "NodePort", "LoadBalancer"]))
    if kind != "ClusterIP":
        spec["type"] = kind
    if config.profile.service_api == "alpha":
        if draw(st.booleans()):
            spec["ipFamily"] = draw(st.sampled_from(families))
        return _manifest(name, spec)
    dual_gate = bool(config.feature_gates.get("IPv6DualStack", True))
    policies = ["SingleStack", "PreferDualStack"]
    if dual_gate and config.is_dual_stack:
        policies.append("RequireDualStack")
    policy = draw(st.sampled_from([None, *policies]))
    if policy is not None:
        spec["ipFamilyPolicy"] = policy
    if draw(st.booleans()):
        if policy in (None, "SingleStack"):
            spec["ipFamilies"] = [draw(st.sampled_from(families))]
        else:
            spec["ipFamilies"] = draw(st.permutations(families))
    if kind == "ClusterIP" and draw(st.integers(0, 9)) == 0:
        spec["clusterIP"] = "None"  # headless: no address
    return _manifest(name, spec)


@st.composite
def _invalid_service(draw: st.DrawFn, config: ClusterConfig) -> dict[str, Any]:
    name = draw(st.sampled_from(SERVICE_NAMES))
    mistake = draw(st.sampled_from(["name", "ports", "cluster-ip", "family"]))
    if mistake == "name":
        return _manifest(draw(st.sampled_from(["Web", "web_1", "1web", "-web"])), {})
    if mistake == "ports":
        manifest = _manifest(name, {})
        del manifest["spec"]["ports"]
        return manifest
    if mistake == "cluster-ip":
        return _manifest(name, {"clusterIP": draw(st.sampled_from(["300.1.1.1", "not-an-ip"]))})
    if config.profile.service_api == "alpha":
        return _manifest(name, {"ipFamily": "IPv5"})
    return _manifest(name, {"ipFamilies": ["IPv5"]})


def service_manifests(
    config: ClusterConfig, valid: bool = True
) -> st.SearchStrategy[dict[str, Any]]:
    """Service manifests for ``config``'s release and families.

    ``valid=True``: ClusterIP, NodePort, LoadBalancer or headless Services with any
    policy and family list the cluster accepts (GA API from 1.20, ``spec.ipFamily``
    before). ``valid=False``: manifests refused with ``InvalidServiceError`` (a bad
    name, no ports, an unparsable ``clusterIP``, an unknown family).
    """
    return _valid_service(config) if valid else _invalid_service(config)


# --- operation sequences -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Operation:
    """One call on a ``Cluster``: ``verb`` is the method name, ``args`` its arguments."""

    verb: str
    args: tuple[tuple[str, Any], ...] = ()

    def apply(self, cluster: Any) -> Any:
        """Call ``cluster.<verb>(**args)`` and return its result (errors propagate)."""
        kwargs = dict(self.args)
        return getattr(cluster, self.verb)(**kwargs)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.args)
        return f"Operation({self.verb!r}: {inner})"


def _op(verb: str, **kwargs: Any) -> Operation:
    return Operation(verb, tuple(kwargs.items()))


def cluster_operations(config: ClusterConfig) -> st.SearchStrategy[list[Operation]]:
    """Sequences of up to 40 cluster operations over small name pools.

    Verbs: ``add_node``, ``remove_node``, ``add_pod``, ``remove_pod``,
    ``create_service``, ``update_service``, ``delete_service``. Some calls are meant
    to fail (unknown names, duplicates, exhausted ranges): replaying one must either
    succeed or raise a ``DualStackError`` that changes nothing.
    """
    nodes = st.sampled_from(NODE_NAMES)
    pods = st.sampled_from(POD_NAMES)
    manifests = service_manifests(config)
    operation = st.one_of(
        nodes.map(lambda n: _op("add_node", name=n)),
        nodes.map(lambda n: _op("remove_node", name=n)),
        st.tuples(pods, nodes).map(lambda t: _op("add_pod", name=t[0], node=t[1])),
        st.tuples(pods, nodes).map(lambda t: _op("add_pod", name=t[0], node=t[1])),
        pods.map(lambda p: _op("remove_pod", name=p)),
        manifests.map(lambda m: _op("create_service", manifest=m)),
        manifests.map(lambda m: _op("update_service", manifest=m)),
        st.sampled_from(SERVICE_NAMES).map(lambda s: _op("delete_service", name=s)),
    )
    return st.lists(operation, max_size=40)

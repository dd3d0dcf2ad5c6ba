"""Tests of the Cluster facade's node, Pod, egress, validation and copy parts.

The Service part has its own module (tests/test_cluster_services.py); snapshots are
in tests/test_snapshot.py; random histories in tests/stateful/test_cluster_machine.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from dualstack.cluster import Cluster
from dualstack.config import ClusterConfig
from dualstack.egress import EgressPolicy
from dualstack.errors import ConfigError, DualStackError, NotFoundError, RangeFullError

CLUSTER = "10.244.0.0/16,fd00:10:244::/56"
SERVICES = "10.96.0.0/16,fd00:10:96::/112"


def dual(version: str | None = None, **kwargs: Any) -> ClusterConfig:
    return ClusterConfig(
        cluster_cidrs=kwargs.pop("cluster_cidrs", CLUSTER),
        service_cidrs=kwargs.pop("service_cidrs", SERVICES),
        version=version,
        **kwargs,
    )


def service(name: str, **spec: Any) -> dict[str, Any]:
    body = {"selector": {"app": name}, "ports": [{"port": 80}], **spec}
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": body}


@pytest.fixture
def cluster() -> Cluster:
    c = Cluster(dual(), seed=7)
    c.add_node("node-a")
    c.add_pod("web", node="node-a")
    return c


# --- nodes and Pods through the facade ------------------------------------------------------
def test_cluster_nodes_and_pods_views(cluster):
    node = cluster.nodes["node-a"]
    assert [str(n) for n in node.pod_cidrs] == ["10.244.0.0/24", "fd00:10:244::/64"]
    pod = cluster.pods["default/web"]
    assert [str(ip) for ip in pod.pod_ips] == ["10.244.0.2", "fd00:10:244::2"]
    with pytest.raises(TypeError):
        cluster.pods["default/x"] = pod  # type: ignore[index]
    # Fresh netaddr objects: changing one changes nothing inside.
    net = node.pod_cidrs[0]
    net.prefixlen = 8
    assert str(cluster.nodes["node-a"].pod_cidrs[0]) == "10.244.0.0/24"


def test_cluster_remove_node_takes_its_pods(cluster):
    cluster.remove_node("node-a")
    assert dict(cluster.pods) == {}
    assert dict(cluster.nodes) == {}


def test_cluster_kubenet_after_1_23_config_error():
    with pytest.raises(ConfigError, match="network plugin 'kubenet' does not exist"):
        Cluster(dual("1.24"), network_plugin="kubenet")


def test_cluster_kubenet_1_20_reports_ipv4_first():
    config = dual(
        "1.20",
        cluster_cidrs="fd00:10:244::/56,10.244.0.0/16",
        feature_gates={"IPv6DualStack": True},
    )
    c = Cluster(config, network_plugin="kubenet")
    node = c.add_node("n")
    assert [n.version for n in node.pod_cidrs] == [6, 4]  # podCIDRs follow --cluster-cidr
    assert [ip.version for ip in c.add_pod("p", node="n").pod_ips] == [4, 6]
    cni = Cluster(config)
    cni.add_node("n")
    assert [ip.version for ip in cni.add_pod("p", node="n").pod_ips] == [6, 4]


def test_cluster_failed_add_node_changes_nothing():
    c = Cluster(dual(cluster_cidrs="10.244.0.0/23,fd00:10:244::/64"), seed=1)
    c.add_node("a")
    before = c.snapshot()
    with pytest.raises(RangeFullError, match="at idx:1"):
        c.add_node("b")
    assert c.snapshot() == before


# --- egress (ip-masq-agent, §4) --------------------------------------------------------------
@pytest.mark.parametrize(
    ("policy", "destination", "expected"),
    [
        pytest.param(None, "8.8.8.8", None, id="default-internet-v4-masqueraded"),
        pytest.param(None, "10.1.2.3", "10.244.0.2", id="default-rfc1918-kept"),
        pytest.param(None, "192.168.1.1", "10.244.0.2", id="default-192-168-kept"),
        pytest.param(None, "169.254.169.254", "10.244.0.2", id="default-link-local-kept"),
        pytest.param(None, "2001:db8::1", None, id="default-v6-masqueraded"),
        pytest.param(None, "fe80::1", "fd00:10:244::2", id="default-v6-link-local-kept"),
        pytest.param(
            EgressPolicy(masq_link_local=True), "169.254.169.254", None, id="masq-link-local"
        ),
        pytest.param(
            EgressPolicy(masq_link_local_ipv6=True), "fe80::1", None, id="masq-link-local-v6"
        ),
        pytest.param(
            EgressPolicy(enable_ipv6=False), "2001:db8::1", "fd00:10:244::2", id="ipv6-off"
        ),
        pytest.param(
            EgressPolicy(non_masquerade_cidrs=["192.168.0.0/16"]),
            "10.1.2.3",
            None,
            id="given-list-replaces-defaults",
        ),
        pytest.param(
            EgressPolicy(non_masquerade_cidrs=["fd00::/8"]),
            "fd00:10:96::a",
            "fd00:10:244::2",
            id="v6-entry-kept",
        ),
        pytest.param(
            EgressPolicy.from_config("nonMasqueradeCIDRs: []\nmasqLinkLocal: true\n"),
            "10.1.2.3",
            None,
            id="config-empty-list-masquerades-all",
        ),
    ],
)
def test_cluster_egress_ip_masq_agent_cases(policy, destination, expected):
    c = Cluster(dual(), egress=policy)
    c.add_node("n")
    pod = c.add_pod("web", node="n")
    result = c.egress(pod, destination)
    assert (None if result is None else str(result)) == expected
    assert c.egress("default/web", destination) == result
    assert c.egress("web", destination) == result


def test_cluster_egress_errors():
    c = Cluster(dual(cluster_cidrs="10.244.0.0/16", service_cidrs="10.96.0.0/16"))
    c.add_node("n")
    c.add_pod("web", node="n")
    with pytest.raises(NotFoundError, match='pods "db" not found'):
        c.egress("db", "8.8.8.8")
    with pytest.raises(DualStackError, match="has no IPv6 address"):
        c.egress("web", "2001:db8::1")
    with pytest.raises(ConfigError, match="egress must be an EgressPolicy"):
        Cluster(dual(), egress="yes")  # type: ignore[arg-type]


# --- validate (the validate-dual-stack task, §5) --------------------------------------------
def test_cluster_validate_healthy_is_empty(cluster):
    cluster.create_service(service("a", ipFamilyPolicy="PreferDualStack"))
    cluster.create_service(service("b", ipFamilies=["IPv6"]))
    assert cluster.validate() == []


def test_cluster_validate_finds_service_and_node_problems():
    config = dual(allocate_node_cidrs=False)
    c = Cluster(config)
    c.add_node("old", pod_cidrs=["10.244.7.0/24"])
    c.create_service(service("a", ipFamilyPolicy="PreferDualStack"))
    # A damaged store: a ClusterIP outside the range, and a bit held by no Service.
    stored = c._services["default/a"]
    stored["spec"]["clusterIPs"][1] = "fd00:99::1"
    findings = [(f.severity, f.subject, f.message) for f in c.validate()]
    assert (
        "error",
        "node/old",
        "spec.podCIDRs has no IPv6 block; each dual-stack node should have a single IPv4 "
        "block and a single IPv6 block",
    ) in findings
    assert (
        "error",
        "service/default/a",
        "ClusterIP fd00:99::1 is outside the cluster's IPv6 service range",
    ) in findings
    assert any(
        s == "service-range/fd00:10:96::/112" and "held by no Service" in m for _, s, m in findings
    )


# --- copies ------------------------------------------------------------------------------------
def test_cluster_copy_answers_later_calls_identically(cluster):
    cluster.create_service(service("a", ipFamilyPolicy="PreferDualStack"))
    other = cluster.copy()
    for c in (cluster, other):
        c.add_node("node-b")
    assert cluster.add_pod("x", node="node-b") == other.add_pod("x", node="node-b")
    assert cluster.create_service(service("b", ipFamilyPolicy="RequireDualStack")) == (
        other.create_service(service("b", ipFamilyPolicy="RequireDualStack"))
    )
    assert cluster.snapshot() == other.snapshot()


def test_cluster_copy_is_independent(cluster):
    cluster.create_service(service("a", type="LoadBalancer"))
    before = cluster.snapshot()
    other = cluster.copy()
    other.add_pod("x", node="node-a")
    other.remove_pod("web")
    other.update_service(service("a", ipFamilyPolicy="PreferDualStack"))
    other.delete_service("a")
    other.create_service(service("c"))
    other.remove_node("node-a")
    assert cluster.snapshot() == before


def test_cluster_copy_load_balancer_update_leaves_original():
    config = dual(load_balancer_pools=["192.0.2.0/28", "2001:db8::/120"])
    c = Cluster(config, seed=1)
    c.create_service(service("lb", type="LoadBalancer", ipFamilyPolicy="PreferDualStack"))
    before = c.snapshot()
    other = c.copy()
    other.update_service(service("lb"))  # type ClusterIP: the ingress addresses go back
    assert other.get_service("lb")["status"] == {"loadBalancer": {}}
    assert c.snapshot() == before
    ingress = c.get_service("lb")["status"]["loadBalancer"]["ingress"]
    assert [i["ip"] for i in ingress] == ["192.0.2.1", "2001:db8::1"]


@pytest.mark.parametrize("mask", [31, 32])
def test_add_pod_node_block_host_local_refuses_config_error_one_hint(mask: int) -> None:
    c = Cluster(
        ClusterConfig(
            cluster_cidrs="10.244.0.0/24",
            service_cidrs="10.96.0.0/16",
            node_mask_sizes={"IPv4": mask},
        )
    )
    c.add_node("a")
    with pytest.raises(ConfigError) as info:
        c.add_pod("p", node="a")
    upstream = f"invalid range set 0: Network 10.244.0.0/{mask} too small to allocate from"
    assert info.value.message == upstream
    assert str(info.value) == f"{upstream} — {info.value.hint}"
    assert info.value.hint is not None and " — " not in info.value.hint
    assert c.pods == {}


# --- copies on a store, seeds, egress arguments (review cli 2, 3, 9) ----------------------
def _store_pair() -> tuple[Cluster, Cluster]:
    from dualstack.store import MemoryStore

    config = dual(service_cidrs="10.96.0.0/28,fd00:1::/124")
    store = MemoryStore()
    mine, other = Cluster(config, seed=1, store=store), Cluster(config, seed=1, store=store)
    other.create_service(service("other"))
    mine.create_service(service("mine"))
    return mine, other


def test_cluster_copy_on_store_holds_own_addresses_only():
    mine, _ = _store_pair()
    copy = mine.copy()
    assert copy.validate() == []
    assert copy.snapshot() == mine.snapshot()


def test_cluster_copy_on_store_answers_as_from_snapshot():
    mine, _ = _store_pair()
    copied, restored = mine.copy(), Cluster.from_snapshot(mine.snapshot())

    def answers(c: Cluster) -> list[object]:
        out: list[object] = []
        for i in range(14):
            try:
                out.append(c.create_service(service(f"s{i}", ipFamilyPolicy="PreferDualStack")))
            except DualStackError as error:
                out.append(str(error))
        return out

    assert answers(copied) == answers(restored)


@pytest.mark.parametrize("seed", ["x", 1.5, True, [7]], ids=["str", "float", "bool", "list"])
def test_cluster_seed_not_int_config_error(seed):
    with pytest.raises(ConfigError, match=r"^seed must be an int or None, got "):
        Cluster(dual(), seed=seed)


def test_cluster_seed_int_subclass_plain_and_snapshot_loads():
    import enum

    class Seed(enum.IntEnum):
        A = 7

    c = Cluster(dual(), seed=Seed.A)
    restored = Cluster.from_snapshot(c.snapshot())
    assert type(c.snapshot()["cluster"]["seed"]) is int
    assert restored.create_service(service("a")) == Cluster(dual(), seed=7).create_service(
        service("a")
    )


@pytest.mark.parametrize("pod", [5, None, ("web",)], ids=["int", "none", "tuple"])
def test_cluster_egress_pod_not_a_name_not_found(cluster, pod):
    with pytest.raises(NotFoundError, match=r"^pods .* not found"):
        cluster.egress(pod, "8.8.8.8")


def test_headless_selectorless_prefer_dual_stack_on_single_stack_validates_and_loads() -> None:
    # Upstream stores ipFamilies [IPv4, IPv6] for it on a single-stack cluster (§3.3):
    # neither validate() nor the snapshot loader may call that an error.
    c = Cluster(ClusterConfig(cluster_cidrs="10.244.0.0/16", service_cidrs="10.96.0.0/24"))
    stored = c.create_service(
        {
            "metadata": {"name": "h"},
            "spec": {
                "clusterIP": "None",
                "ipFamilyPolicy": "PreferDualStack",
                "ports": [{"port": 80}],
            },
        }
    )
    assert stored["spec"]["ipFamilies"] == ["IPv4", "IPv6"]
    assert c.validate() == []
    assert Cluster.from_snapshot(c.snapshot()).snapshot() == c.snapshot()


def test_port_app_protocol_null_is_no_app_protocol() -> None:
    # Upstream checks appProtocol only when the pointer is set; YAML `appProtocol:` is null.
    c = Cluster(ClusterConfig(cluster_cidrs="10.244.0.0/16", service_cidrs="10.96.0.0/16"))
    manifest = {
        "metadata": {"name": "web"},
        "spec": {"ports": [{"port": 80, "appProtocol": None}]},
    }
    stored = c.create_service(manifest)
    assert stored["spec"]["clusterIP"].startswith("10.96.")
    assert c.update_service(stored)["spec"]["clusterIP"] == stored["spec"]["clusterIP"]


@pytest.mark.parametrize(
    "config",
    [[1], {"clientIP": [1]}, {"clientIP": "x"}, "x"],
    ids=["list", "client-ip-list", "client-ip-text", "text"],
)
def test_snapshot_with_odd_session_affinity_config_loads_and_a_request_with_it_is_refused(
    config: object,
) -> None:
    # Older versions of the library stored these; a request carrying one is refused.
    import json

    from dualstack.errors import InvalidServiceError

    c = Cluster(ClusterConfig(cluster_cidrs="10.244.0.0/16", service_cidrs="10.96.0.0/16"))
    stored = c.create_service({"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}})
    data = json.loads(json.dumps(c.snapshot()))
    (obj,) = [o for o in data["services"]["objects"] if o["metadata"]["name"] == "web"]
    obj["spec"]["sessionAffinityConfig"] = config
    restored = Cluster.from_snapshot(data)
    assert restored.get_service("web")["spec"]["sessionAffinityConfig"] == config
    request = {
        "metadata": {"name": "web2"},
        "spec": dict(stored["spec"], sessionAffinity="ClientIP"),
    }
    request["spec"].pop("clusterIP"), request["spec"].pop("clusterIPs")
    request["spec"]["sessionAffinityConfig"] = config
    with pytest.raises(InvalidServiceError, match=r"spec\.sessionAffinityConfig"):
        c.create_service(request)


def test_create_service_refused_for_non_json_metadata_leaves_the_manifest_alone() -> None:
    import copy

    from dualstack.errors import InvalidServiceError

    c = Cluster(ClusterConfig(cluster_cidrs="10.244.0.0/16", service_cidrs="10.96.0.0/16"))
    manifest = {"metadata": {"name": "mm", "labels": {1: "y"}}, "spec": {"ports": [{"port": 80}]}}
    before = copy.deepcopy(manifest)
    with pytest.raises(InvalidServiceError, match=r"metadata\.labels"):
        c.create_service(manifest)
    assert manifest == before

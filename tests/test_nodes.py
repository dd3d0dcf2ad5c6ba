"""Tests of dualstack.nodes: node Pod CIDRs, host-local Pod IPs, their order, copies.

Upstream cases are named after kube-controller-manager's range_allocator_test.go
(``TestAllocateOrOccupyCIDRSuccess``, ``TestOccupyPreExistingCIDR``) and the kubelet /
kubenet rules of node-and-pod-ips.md §3.5.
"""

from __future__ import annotations

import pytest

from dualstack.config import ClusterConfig
from dualstack.errors import (
    AlreadyAllocatedError,
    AlreadyExistsError,
    ConfigError,
    InvalidObjectError,
    NotFoundError,
    NotInRangeError,
    RangeFullError,
)
from dualstack.families import IPFamily
from dualstack.nodes import NodeRegistry

SERVICES = "10.96.0.0/16,fd00:96::/112"


def registry(
    cluster_cidrs: str,
    masks: object = None,
    *,
    services: str = SERVICES,
    version: str | None = None,
    plugin: str = "cni",
    **kwargs: object,
) -> NodeRegistry:
    gates = kwargs.pop("feature_gates", None)
    config = ClusterConfig(
        cluster_cidrs=cluster_cidrs,
        service_cidrs=services,
        node_mask_sizes=masks,  # type: ignore[arg-type]
        version=version,
        feature_gates=gates,  # type: ignore[arg-type]
        **kwargs,  # type: ignore[arg-type]
    )
    return NodeRegistry(config, network_plugin=plugin)


def texts(node: object) -> list[str]:
    return [str(n) for n in node.pod_cidrs]  # type: ignore[attr-defined]


def state(reg: NodeRegistry) -> object:
    return reg.dump()


# --- AllocateOrOccupyCIDR: the upstream success cases ---------------------------------------
@pytest.mark.parametrize(
    ("cluster_cidrs", "services", "masks", "occupied", "expected"),
    [
        pytest.param(
            "127.123.234.0/24", "10.96.0.0/16", 30, [], ["127.123.234.0/30"], id="no-service-cidr"
        ),
        pytest.param(
            "127.123.234.0/24",
            "127.123.234.0/26",
            30,
            [],
            ["127.123.234.64/30"],
            id="filter-out-service-cidr",
        ),
        pytest.param(
            "127.123.234.0/24",
            "127.123.234.0/26",
            30,
            ["127.123.234.64/30", "127.123.234.68/30", "127.123.234.72/30", "127.123.234.80/30"],
            ["127.123.234.76/30"],
            id="ignore-allocated",
        ),
        pytest.param(
            "127.123.234.0/8,ace:cab:deca::/84",
            "127.123.234.0/26,fd00::/112",
            {"IPv4": 24, "IPv6": 98},
            [],
            ["127.0.0.0/24", "ace:cab:deca::/98"],
            id="dualstack-v4-v6",
        ),
        pytest.param(
            "ace:cab:deca::/84,127.123.234.0/8",
            "127.123.234.0/26,fd00::/112",
            {"IPv4": 24, "IPv6": 98},
            [],
            ["ace:cab:deca::/98", "127.0.0.0/24"],
            id="dualstack-v6-v4",
        ),
    ],
)
def test_registry_add_node_upstream_success_cases(
    cluster_cidrs, services, masks, occupied, expected
):
    reg = registry(cluster_cidrs, masks, services=services)
    for i, cidr in enumerate(occupied):
        reg.add_node(f"old-{i}", pod_cidrs=[cidr])
    assert texts(reg.add_node("new")) == expected


def test_registry_add_node_rotates_after_release():
    reg = registry("10.244.0.0/22,fd00:10::/62", {"IPv4": 24, "IPv6": 64})
    for name in "abc":
        reg.add_node(name)
    reg.remove_node("b")
    # The cursor is after c: d gets the fourth block, then the walk wraps to b's.
    assert texts(reg.add_node("d")) == ["10.244.3.0/24", "fd00:10:0:3::/64"]
    assert texts(reg.add_node("e")) == ["10.244.1.0/24", "fd00:10:0:1::/64"]


def test_registry_remove_node_releases_blocks_and_pods():
    reg = registry("10.244.0.0/24,fd00:10::/64", {"IPv4": 24, "IPv6": 64})
    reg.add_node("a")
    reg.add_pod("p", node="a")
    reg.remove_node("a")
    assert dict(reg.pods) == {}
    assert [s.used for s in reg.cidr_sets] == [0, 0]
    assert texts(reg.add_node("b")) == ["10.244.0.0/24", "fd00:10::/64"]
    # A new node on the same block starts its host-local ranges afresh.
    assert [str(ip) for ip in reg.add_pod("p", node="b").pod_ips] == ["10.244.0.2", "fd00:10::2"]


# --- all or nothing (§2.7) ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("cluster_cidrs", "idx"),
    [
        pytest.param("10.244.0.0/23,fd00:10::/64", 1, id="ipv6-runs-out-second"),
        pytest.param("fd00:10::/63,10.244.0.0/24", 1, id="ipv4-runs-out-second"),
        pytest.param("10.244.0.0/24,fd00:10::/63", 0, id="first-family-runs-out"),
    ],
)
def test_registry_add_node_family_exhausted_takes_nothing(cluster_cidrs, idx):
    reg = registry(cluster_cidrs, {"IPv4": 24, "IPv6": 64})
    reg.add_node("a")
    before = state(reg)
    with pytest.raises(RangeFullError) as info:
        reg.add_node("b")
    assert str(info.value).startswith(
        f"failed to allocate cidr from cluster cidr at idx:{idx}: CIDR allocation failed; "
        "there are no remaining CIDRs left to allocate in the accepted range"
    )
    assert state(reg) == before  # the other family's block was given back, cursors too


# --- occupying given CIDRs (§2.5) ------------------------------------------------------------
def test_registry_add_node_given_dual_stack_occupied_positionally():
    reg = registry("10.10.0.0/16,ace:cab:deca::/8", {"IPv4": 24, "IPv6": 24})
    node = reg.add_node("n", pod_cidrs=["10.10.0.1/24", "a00::/86"])
    assert texts(node) == ["10.10.0.0/24", "a00::/86"]
    assert [s.used for s in reg.cidr_sets] == [1, 1]
    assert texts(reg.add_node("m")) == ["10.10.1.0/24", "a00:100::/24"]  # the 1.16 page's


@pytest.mark.parametrize(
    ("cluster_cidrs", "pod_cidrs", "error", "message"),
    [
        pytest.param(
            "10.10.0.0/16",
            ["172.10.0.0/24"],
            NotInRangeError,
            "failed to mark cidr[172.10.0.0/24] at idx [0] as occupied for node: n: "
            "cidr 172.10.0.0/24 is out the range of cluster cidr 10.10.0.0/16",
            id="single-stack-incorrect",
        ),
        pytest.param(
            "10.10.0.0/16",
            ["10.10.0.1/24", "a00::/86"],
            NotInRangeError,
            "node:n has an allocated cidr: a00::/86 at index:1 that does not exist in cluster "
            "cidrs configuration",
            id="non-existing-cluster-cidr",
        ),
        pytest.param(
            "10.10.0.0/16,ace:cab:deca::/8",
            ["172.10.0.0/24", "a00::/86"],
            NotInRangeError,
            "failed to mark cidr[172.10.0.0/24] at idx [0] as occupied for node: n: "
            "cidr 172.10.0.0/24 is out the range of cluster cidr 10.10.0.0/16",
            id="dual-stack-invalid",
        ),
        pytest.param(
            "ace:cab:deca::/8,10.10.0.0/16",
            ["10.10.0.0/24", "a00::/86"],
            NotInRangeError,
            "failed to mark cidr[10.10.0.0/24] at idx [0] as occupied for node: n: "
            "cidr 10.10.0.0/24 is out the range of cluster cidr a00::/8",
            id="positional-not-by-family",
        ),
    ],
)
def test_registry_add_node_given_cidrs_upstream_errors(cluster_cidrs, pod_cidrs, error, message):
    reg = registry(cluster_cidrs, 24 if "," not in cluster_cidrs else {"IPv4": 24, "IPv6": 24})
    before = state(reg)
    with pytest.raises(error) as info:
        reg.add_node("n", pod_cidrs=pod_cidrs)
    assert str(info.value).split(" — ")[0] == message
    assert state(reg) == before


def test_registry_add_node_given_taken_block_refused():
    reg = registry("10.10.0.0/16,fd00:10::/56", {"IPv4": 24, "IPv6": 64})
    node = reg.add_node("a")
    before = state(reg)
    with pytest.raises(AlreadyAllocatedError, match="already allocated to node a"):
        reg.add_node("b", pod_cidrs=texts(node))
    assert state(reg) == before


def test_registry_add_node_given_service_range_block_refused():
    reg = registry("10.96.0.0/16", 24, services="10.96.0.0/24")
    with pytest.raises(AlreadyAllocatedError, match=r"the service range 10\.96\.0\.0/24"):
        reg.add_node("a", pod_cidrs=["10.96.0.0/24"])


# --- API validation of podCIDRs (§2.9) -------------------------------------------------------
@pytest.mark.parametrize(
    ("pod_cidrs", "message"),
    [
        pytest.param(
            ["bogus"],
            'Node "n" is invalid: spec.podCIDRs[0]: Invalid value: "bogus": must be a valid '
            "CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
            id="unparsable",
        ),
        pytest.param(
            ["10.10.0.0/24", "10.10.1.0/24"],
            'Node "n" is invalid: spec.podCIDRs: Invalid value: []string{"10.10.0.0/24", '
            '"10.10.1.0/24"}: may specify no more than one CIDR for each IP family',
            id="two-ipv4",
        ),
        pytest.param(
            ["10.10.0.0/24", "10.10.0.0/24"],
            'Node "n" is invalid: [spec.podCIDRs: Invalid value: []string{"10.10.0.0/24", '
            '"10.10.0.0/24"}: may specify no more than one CIDR for each IP family, '
            'spec.podCIDRs[1]: Duplicate value: "10.10.0.0/24"]',
            id="duplicate",
        ),
        pytest.param(
            ["10.10.0.0/24", "x"],
            'Node "n" is invalid: [spec.podCIDRs[1]: Invalid value: "x": must be a valid CIDR '
            "value, (e.g. 10.9.8.0/24 or 2001:db8::/64), spec.podCIDRs: Internal error: "
            "invalid PodCIDRs. failed to check with dual stack with error:invalid CIDR[1]: "
            "<nil> (invalid CIDR address: x), spec.podCIDRs: Invalid value: "
            '[]string{"10.10.0.0/24", "x"}: may specify no more than one CIDR for each IP family]',
            id="second-unparsable",
        ),
    ],
)
def test_registry_add_node_pod_cidrs_api_validation(pod_cidrs, message):
    reg = registry("10.10.0.0/16,fd00:10::/56", {"IPv4": 24, "IPv6": 64})
    with pytest.raises(InvalidObjectError) as info:
        reg.add_node("n", pod_cidrs=pod_cidrs)
    assert str(info.value) == message


def test_registry_add_node_bad_name_refused():
    reg = registry("10.10.0.0/16", 24)
    with pytest.raises(InvalidObjectError, match=r'^Node "Node_1" is invalid: metadata.name'):
        reg.add_node("Node_1")


def test_registry_duplicate_and_unknown_names_clear_errors():
    reg = registry("10.10.0.0/16", 24)
    reg.add_node("a")
    reg.add_pod("p", node="a")
    with pytest.raises(AlreadyExistsError, match=r'^nodes "a" already exists'):
        reg.add_node("a")
    with pytest.raises(AlreadyExistsError, match=r'^pods "p" already exists'):
        reg.add_pod("p", node="a")
    with pytest.raises(NotFoundError, match=r'^nodes "b" not found'):
        reg.add_pod("q", node="b")
    with pytest.raises(NotFoundError, match=r'^nodes "b" not found'):
        reg.remove_node("b")
    with pytest.raises(NotFoundError, match=r'^pods "q" not found'):
        reg.remove_pod("q")


def test_registry_allocate_node_cidrs_false_nodes_get_only_given():
    reg = registry(
        "10.10.0.0/16,fd00:10::/56", {"IPv4": 24, "IPv6": 64}, allocate_node_cidrs=False
    )
    assert texts(reg.add_node("bare")) == []
    with pytest.raises(ConfigError, match=r"^no IP ranges specified"):
        reg.add_pod("p", node="bare")
    node = reg.add_node("given", pod_cidrs=["192.168.0.0/24", "fd99::/64"])
    assert texts(node) == ["192.168.0.0/24", "fd99::/64"]
    assert [str(ip) for ip in reg.add_pod("p", node="given").pod_ips] == ["192.168.0.2", "fd99::2"]


# --- Pods: host-local and the reporting order (§3.4-§3.5) ----------------------------------
def test_registry_add_pod_first_pod_gets_dot_two():
    reg = registry("10.244.0.0/16,fd00:10:244::/56", {"IPv4": 24, "IPv6": 64})
    reg.add_node("n")
    pod = reg.add_pod("web", node="n")
    assert [str(ip) for ip in pod.pod_ips] == ["10.244.0.2", "fd00:10:244::2"]
    assert (pod.namespace, pod.name, pod.node) == ("default", "web", "n")


@pytest.mark.parametrize(
    ("version", "plugin", "first"),
    [
        pytest.param("1.20", "cni", IPFamily.IPv6, id="1.20-cni-range-order"),
        pytest.param("1.20", "kubenet", IPFamily.IPv4, id="1.20-kubenet-ipv4-first"),
        pytest.param("1.16", "kubenet", IPFamily.IPv4, id="1.16-kubenet-ipv4-first"),
        pytest.param("1.21", "kubenet", IPFamily.IPv6, id="1.21-kubenet-primary-first"),
        pytest.param("1.23", "kubenet", IPFamily.IPv6, id="1.23-kubenet-primary-first"),
        pytest.param(None, "cni", IPFamily.IPv6, id="newest-cni-primary-first"),
    ],
)
def test_registry_pod_ip_order_v6_first_cluster(version, plugin, first):
    masks = 24 if version == "1.16" else {"IPv4": 24, "IPv6": 64}
    cluster = "fd00:10::/56,10.244.0.0/16" if version != "1.16" else "fd00::/20,10.244.0.0/16"
    gates = {"IPv6DualStack": True} if version in ("1.16", "1.20") else None
    reg = registry(cluster, masks, version=version, plugin=plugin, feature_gates=gates)
    reg.add_node("n")
    ips = reg.add_pod("p", node="n").pod_ips
    assert (ips[0].version == 4) is (first is IPFamily.IPv4)
    assert sorted(ip.version for ip in ips) == [4, 6]


def test_registry_kubenet_after_1_23_refused():
    config = ClusterConfig(cluster_cidrs="10.244.0.0/16", service_cidrs="10.96.0.0/16")
    with pytest.raises(ConfigError, match="network plugin 'kubenet' does not exist"):
        NodeRegistry(config, network_plugin="kubenet")


def test_registry_add_pod_one_family_full_takes_nothing():
    reg = registry("10.244.0.0/24,fd00:10::/124", {"IPv4": 24, "IPv6": 126})
    reg.add_node("n")
    reg.add_pod("a", node="n")  # the IPv6 /126 holds ::2 and ::3 (::1 is the gateway)
    reg.add_pod("b", node="n")
    before = state(reg)
    with pytest.raises(RangeFullError) as info:
        reg.add_pod("c", node="n")
    assert str(info.value).startswith(
        "failed to allocate for range 1: no IP addresses available in range set: "
        "fd00:10::1-fd00:10::3"
    )
    assert state(reg) == before  # 10.244.0.4 was not taken, the IPv4 cursor did not move
    reg.remove_pod("a")
    # The round robin continues after the last address handed out, wrapping for IPv6.
    assert [str(ip) for ip in reg.add_pod("c", node="n").pod_ips] == ["10.244.0.4", "fd00:10::2"]


def test_registry_bad_pod_name_refused():
    reg = registry("10.10.0.0/16", 24)
    reg.add_node("n")
    with pytest.raises(InvalidObjectError, match=r'^Pod "Web" is invalid: metadata.name'):
        reg.add_pod("Web", node="n")
    with pytest.raises(InvalidObjectError, match=r"metadata.namespace"):
        reg.add_pod("web", node="n", namespace="Bad_NS")


# --- copies (copy on write) ------------------------------------------------------------------
def test_registry_copy_is_independent_both_ways():
    reg = registry("10.244.0.0/16,fd00:10::/56", {"IPv4": 24, "IPv6": 64})
    reg.add_node("n")
    reg.add_pod("a", node="n")
    other = reg.copy()
    before = state(reg)
    other.add_pod("b", node="n")
    other.remove_pod("a")
    other.add_node("m")
    assert state(reg) == before
    # And the original's later writes do not reach the copy.
    copied = state(other)
    reg.add_pod("c", node="n")
    reg.remove_node("n")
    assert state(other) == copied
    assert [str(ip) for ip in other.add_pod("d", node="n").pod_ips] == [
        "10.244.0.4",
        "fd00:10::4",
    ]


# --- validation ------------------------------------------------------------------------------
def test_registry_validate_healthy_is_empty():
    reg = registry("10.244.0.0/16,fd00:10::/56", {"IPv4": 24, "IPv6": 64})
    reg.add_node("n")
    reg.add_pod("p", node="n")
    assert reg.validate() == []


def test_registry_validate_single_stack_node_and_overlaps_found():
    reg = registry(
        "10.244.0.0/16,fd00:10::/56", {"IPv4": 24, "IPv6": 64}, allocate_node_cidrs=False
    )
    reg.add_node("old", pod_cidrs=["10.244.1.0/24"])
    reg.add_node("twin", pod_cidrs=["10.244.1.0/24", "fd00:10::/64"])
    reg.add_node("outside", pod_cidrs=["192.168.0.0/24", "fd00:10:0:1::/64"])
    reg.add_pod("a", node="old")
    reg.add_pod("b", node="twin")
    messages = [(f.subject, f.message) for f in reg.validate()]
    assert (
        "node/old",
        "spec.podCIDRs has no IPv6 block; each dual-stack node should have "
        "a single IPv4 block and a single IPv6 block",
    ) in messages
    assert any(s == "node/twin" and "overlaps node/old" in m for s, m in messages)
    assert any(s == "node/outside" and "outside the IPv4 cluster CIDR" in m for s, m in messages)
    assert ("pod/default/a", "status.podIPs has no IPv6 address") in messages
    assert ("pod/default/b", "Pod IP 10.244.1.2 is also held by pod/default/a") in messages


@pytest.mark.parametrize(
    ("plugin", "gate", "versions"),
    [
        pytest.param("kubenet", False, [4], id="kubenet-gate-off-first-cidr-only"),
        pytest.param("kubenet", True, [4, 6], id="kubenet-gate-on-both"),
        pytest.param("cni", False, [4, 6], id="cni-gate-off-both"),
    ],
)
def test_registry_kubenet_gate_off_uses_first_pod_cidr_only(plugin, gate, versions):
    reg = registry(
        "10.244.0.0/16",
        24,
        services="10.96.0.0/16",
        version="1.20",
        plugin=plugin,
        feature_gates={"IPv6DualStack": gate},
        allocate_node_cidrs=False,
    )
    reg.add_node("n", pod_cidrs=["10.244.1.0/24", "fd00:1::/64"])
    pod = reg.add_pod("p", node="n")
    assert [ip.version for ip in pod.pod_ips] == versions
    restored = NodeRegistry.load(reg.config, reg.dump(), network_plugin=plugin)
    assert restored.add_pod("q", node="n") == reg.add_pod("q", node="n")


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda r: r.add_node("b", pod_cidrs=123), InvalidObjectError),
        (lambda r: r.add_pod("p2", node=["a"]), NotFoundError),
        (lambda r: r.add_pod("p2", node={"a": 1}), NotFoundError),
        (lambda r: r.add_pod("p2", node="a", namespace=["x"]), InvalidObjectError),
        (lambda r: r.remove_node(["a"]), NotFoundError),
    ],
    ids=["pod-cidrs-int", "node-list", "node-dict", "namespace-list", "remove-node-list"],
)
def test_registry_unhashable_or_mistyped_input_raises_typed_error_state_unchanged(
    call: object, error: type[Exception]
) -> None:
    reg = registry("10.244.0.0/22,fd00:10:244::/62")
    reg.add_node("a")
    before = state(reg)
    with pytest.raises(error):
        call(reg)  # type: ignore[operator]
    assert state(reg) == before


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("namespace", ["x"], "metadata.namespace: Required value"),
        ("namespace", "Bad", 'metadata.namespace: Invalid value: "Bad"'),
        ("name", "Bad_Name", 'metadata.name: Invalid value: "Bad_Name"'),
        ("name", 7, "metadata.name: Required value"),
        ("nodeName", ["a"], "runs on node ['a'], which is not in the snapshot"),
    ],
    ids=["namespace-list", "namespace-invalid", "name-invalid", "name-int", "node-list"],
)
def test_from_snapshot_pod_that_add_pod_refuses_is_corrupt(
    field: str, value: object, message: str
) -> None:
    import json

    from dualstack.cluster import Cluster
    from dualstack.errors import DualStackError

    c = Cluster(ClusterConfig(cluster_cidrs="10.244.0.0/22", service_cidrs="10.96.0.0/16"))
    c.add_node("a")
    c.add_pod("q", node="a")
    data = json.loads(json.dumps(c.snapshot()))
    data["pods"][0][field] = value
    with pytest.raises(DualStackError, match=r"^corrupt snapshot: ") as info:
        Cluster.from_snapshot(data)
    assert message in str(info.value)


@pytest.mark.parametrize("version", ["1.16", "1.22", "1.23", None])
def test_registry_add_node_given_leading_zero_cidr_read_as_decimal(version: str | None) -> None:
    # Upstream's range allocator parses podCIDRs sloppily (ParseCIDRSloppy from 1.23,
    # net.ParseCIDR of Go <= 1.16 before, which took leading zeros as decimal).
    reg = registry("10.10.0.0/16", 24, services="10.96.0.0/16", version=version)
    node = reg.add_node("n", pod_cidrs=["010.10.001.0/24"])
    assert texts(node) == ["10.10.1.0/24"]
    with pytest.raises(AlreadyAllocatedError):
        reg.add_node("m", pod_cidrs=["10.10.1.0/24"])

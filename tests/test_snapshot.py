"""Tests of dualstack.snapshot: Cluster.snapshot() / Cluster.from_snapshot().

A restored cluster answers every later call as the original does (next node block,
next Pod address, next random ClusterIP); a corrupt or foreign snapshot is refused with
an error that says what is wrong, and loading never changes its input.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dualstack.cluster import Cluster
from dualstack.config import ClusterConfig
from dualstack.egress import EgressPolicy
from dualstack.errors import DualStackError
from dualstack.snapshot import FORMAT, config_from_data, config_to_data
from dualstack.strategies import VERSIONS, cluster_configs


def service(name: str, **spec: Any) -> dict[str, Any]:
    body = {"selector": {"app": name}, "ports": [{"port": 80}], **spec}
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": body}


def populated(seed: int | None = 3, **kwargs: Any) -> Cluster:
    config = ClusterConfig(
        cluster_cidrs="fd00:10:244::/56,10.244.0.0/16",
        service_cidrs="10.96.0.0/24,fd00:10:96::/112",
        load_balancer_pools=["192.0.2.0/28"],
    )
    c = Cluster(config, seed=seed, **kwargs)
    for i in range(4):
        c.add_node(f"n{i}")
        for j in range(3):
            c.add_pod(f"p{i}-{j}", node=f"n{i}")
    c.remove_node("n1")
    c.remove_pod("p2-0")
    c.create_service(service("a", ipFamilyPolicy="PreferDualStack"))
    c.create_service(service("lb", type="LoadBalancer"))
    c.create_service(service("b", ipFamilies=["IPv6"]))
    c.delete_service("a")
    return c


def round_trip(c: Cluster) -> Cluster:
    return Cluster.from_snapshot(json.loads(json.dumps(c.snapshot())))


def test_snapshot_is_json_with_integer_format():
    data = populated().snapshot()
    assert data["format"] == FORMAT == 1
    assert json.loads(json.dumps(data)) == data


def test_snapshot_restored_cluster_answers_later_calls_identically():
    original = populated(seed=None)  # fresh entropy: the generator state is in the snapshot
    restored = round_trip(original)
    assert restored.snapshot() == original.snapshot()
    assert list(restored.pods) == list(original.pods)
    assert list(restored.nodes) == list(original.nodes)
    for c in (original, restored):
        c.add_node("n9")
    assert original.nodes["n9"] == restored.nodes["n9"]
    assert original.add_pod("q", node="n0") == restored.add_pod("q", node="n0")
    assert original.add_pod("r", node="n9") == restored.add_pod("r", node="n9")
    for name in ("c", "d", "e"):
        spec = {"ipFamilyPolicy": "RequireDualStack"}
        assert original.create_service(service(name, **spec)) == restored.create_service(
            service(name, **spec)
        )
    assert original.snapshot() == restored.snapshot()
    assert original.validate() == restored.validate() == []


def test_snapshot_keeps_plugin_egress_and_seed():
    policy = EgressPolicy(non_masquerade_cidrs=["10.0.0.0/8", "fd00::/8"], resync_interval="90s")
    config = ClusterConfig(
        cluster_cidrs="10.244.0.0/16,fd00:10:244::/56",
        service_cidrs="10.96.0.0/16,fd00:10:96::/112",
        version="1.20",
        feature_gates={"IPv6DualStack": True},
    )
    c = Cluster(config, seed=5, network_plugin="kubenet", egress=policy)
    restored = round_trip(c)
    assert restored.network_plugin == "kubenet"
    assert restored.egress_policy == policy
    assert restored.config == config
    assert restored._seed == 5


def test_snapshot_loading_does_not_change_input():
    data = populated().snapshot()
    kept = copy.deepcopy(data)
    restored = Cluster.from_snapshot(data)
    restored.create_service(service("z"))
    restored.add_node("n7")
    assert data == kept


@settings(max_examples=25, deadline=None)
@given(config=st.sampled_from(VERSIONS).flatmap(cluster_configs))
def test_snapshot_config_round_trip_any_release(config):
    assert config_from_data(json.loads(json.dumps(config_to_data(config)))) == config


# --- refusals ------------------------------------------------------------------------------
def _edit(path: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    data = json.loads(json.dumps(populated().snapshot()))
    path(data)
    return data


def _set_pod_ip(data: dict[str, Any], value: str) -> None:
    data["pods"][0]["podIPs"][1] = value


def _overlap(data: dict[str, Any]) -> None:
    data["nodes"][1]["podCIDRs"] = data["nodes"][0]["podCIDRs"]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        pytest.param(
            lambda d: d.update(format=2), "unknown snapshot format 2", id="unknown-format"
        ),
        pytest.param(lambda d: d.pop("format"), "unknown snapshot format None", id="no-format"),
        pytest.param(_overlap, "is already allocated to node n0", id="overlapping-node-cidrs"),
        pytest.param(
            lambda d: d["nodes"][0].update(podCIDRs=["fd00:10:245::/64", "10.244.0.0/24"]),
            "is out the range of cluster cidr fd00:10:244::/56",
            id="node-cidr-outside-cluster-cidr",
        ),
        pytest.param(
            lambda d: _set_pod_ip(d, "10.244.99.9"),
            "not in range set 10.244.0.1-10.244.0.254",
            id="pod-ip-outside-node",
        ),
        pytest.param(
            lambda d: _set_pod_ip(d, d["pods"][1]["podIPs"][1]),
            "is not available in range set",
            id="pod-ip-held-twice",
        ),
        pytest.param(
            lambda d: d["pods"][0]["podIPs"].reverse(),
            "in the order this cluster reports (IPv6, IPv4)",
            id="pod-ips-out-of-order",
        ),
        pytest.param(
            lambda d: d["cidrSets"][0].update(data="Aw=="),
            "the bitmap of cluster CIDR fd00:10:244::/56 disagrees with the nodes",
            id="node-bitmap-disagrees",
        ),
        pytest.param(
            lambda d: d["cidrSets"][1].update(cursor=10**6),
            "cursor 1000000 is not a block index of 10.244.0.0/16",
            id="cursor-out-of-range",
        ),
        pytest.param(
            lambda d: d["services"]["ranges"][0].update(data="AQ=="),
            "the RangeAllocation of 10.96.0.0/24 disagrees with the Services' ClusterIPs",
            id="service-bitmap-disagrees",
        ),
        pytest.param(
            lambda d: d["services"]["objects"][1]["spec"]["clusterIPs"].__setitem__(
                0, "10.97.0.1"
            ),
            "ClusterIP 10.97.0.1 is outside the IPv4 service range",
            id="service-ip-outside-range",
        ),
        pytest.param(
            lambda d: d["services"]["objects"][1]["spec"].update(clusterIP="10.96.0.77"),
            "service/default/lb: spec.clusterIP is not spec.clusterIPs[0]",
            id="service-fields-disagree",
        ),
        pytest.param(
            lambda d: d["pods"][0].update(nodeName="ghost"),
            "runs on node 'ghost', which is not in the snapshot",
            id="pod-on-unknown-node",
        ),
        pytest.param(
            lambda d: d.pop("nodes"), "'nodes' is missing or not a list", id="missing-nodes"
        ),
        pytest.param(lambda d: d["config"].pop("version"), "malformed data", id="malformed"),
        pytest.param(
            lambda d: d.update(kind="Other"),
            "kind 'Other' is not 'DualStackClusterSnapshot'",
            id="foreign-kind",
        ),
        pytest.param(
            lambda d: d.pop("kind"),
            "kind None is not 'DualStackClusterSnapshot'",
            id="no-kind",
        ),
        pytest.param(
            lambda d: d["config"].update(allocateNodeCIDRs="false"),
            "allocateNodeCIDRs 'false' is not a boolean",
            id="allocate-node-cidrs-string",
        ),
        pytest.param(
            lambda d: d["config"].update(allocateNodeCIDRs=1),
            "allocateNodeCIDRs 1 is not a boolean",
            id="allocate-node-cidrs-int",
        ),
        pytest.param(
            lambda d: d["cluster"]["egress"].update(enableIPv6="false"),
            "enableIPv6 'false' is not a boolean",
            id="egress-enable-ipv6-string",
        ),
        pytest.param(
            lambda d: d["cluster"]["egress"].update(masqLinkLocal=0),
            "masqLinkLocal 0 is not a boolean",
            id="egress-masq-link-local-int",
        ),
        pytest.param(
            lambda d: d["cluster"]["egress"].update(cidrLimit=True),
            "cidrLimit True is not an integer",
            id="egress-cidr-limit-bool",
        ),
        pytest.param(
            lambda d: d["services"]["objects"][1]["spec"].update(ipFamilyPolicy="Bogus"),
            "stored Service default/lb is invalid: "
            'spec.ipFamilyPolicy: Unsupported value: "Bogus"',
            id="service-policy-unknown",
        ),
        pytest.param(
            lambda d: d["services"]["objects"][1]["spec"].update(type="Bogus"),
            'stored Service default/lb is invalid: spec.type: Unsupported value: "Bogus"',
            id="service-type-unknown",
        ),
        pytest.param(
            lambda d: d["services"]["objects"][1]["spec"].update(ports="80"),
            'stored Service 1: Service "lb" is invalid: spec.ports: Invalid value: "80"',
            id="service-shape",
        ),
        pytest.param(
            lambda d: d["nodes"][0].update(lastReserved=["fd00:10:244:ff::9", "10.244.0.3"]),
            "node 'n0': lastReserved fd00:10:244:ff::9 is outside its Pod CIDR fd00:10:244::/64",
            id="cursor-outside-pod-cidr",
        ),
    ],
)
def test_snapshot_corrupt_refused_saying_what_is_wrong(edit, message):
    data = _edit(edit)
    with pytest.raises(DualStackError) as info:
        Cluster.from_snapshot(data)
    text = str(info.value)
    assert message in text
    if "format" not in message:
        assert text.startswith("corrupt snapshot: ")


def test_snapshot_single_stack_service_with_two_addresses_refused():
    c = populated()
    c.create_service(service("d", ipFamilyPolicy="RequireDualStack"))
    data = json.loads(json.dumps(c.snapshot()))
    (stored,) = [o for o in data["services"]["objects"] if o["metadata"]["name"] == "d"]
    assert len(stored["spec"]["clusterIPs"]) == 2
    stored["spec"]["ipFamilyPolicy"] = "SingleStack"
    with pytest.raises(DualStackError) as info:
        Cluster.from_snapshot(data)
    assert str(info.value).startswith(
        "corrupt snapshot: stored Service default/d is invalid: spec.ipFamilyPolicy: "
        'Invalid value: "SingleStack": '
    )


def test_snapshot_wrong_types_never_coerced():
    # "false" read through bool() would have meant True: the edit is refused instead.
    data = _edit(lambda d: d["cluster"]["egress"].update(masqLinkLocalIPv6="no"))
    with pytest.raises(DualStackError, match="masqLinkLocalIPv6 'no' is not a boolean"):
        Cluster.from_snapshot(data)
    data = _edit(lambda d: d["cluster"]["egress"].update(nomasqAllReservedRanges=None))
    with pytest.raises(DualStackError, match="nomasqAllReservedRanges None is not a boolean"):
        Cluster.from_snapshot(data)


def test_snapshot_not_a_dict_refused():
    with pytest.raises(DualStackError, match="a snapshot is a dict"):
        Cluster.from_snapshot([])  # type: ignore[arg-type]


def test_snapshot_wide_ipv6_service_range_listed_not_encoded():
    config = ClusterConfig(
        cluster_cidrs="10.244.0.0/16,fd00:10:244::/56",
        service_cidrs="10.96.0.0/16,fd00:10:96::/64",  # 2^64 addresses: no bitmap encoding
    )
    c = Cluster(config, seed=9)
    c.create_service(service("a", ipFamilyPolicy="RequireDualStack"))
    data = c.snapshot()
    (wide,) = [r for r in data["services"]["ranges"] if r["family"] == "IPv6"]
    assert "data" not in wide
    assert len(wide["ips"]) == 1
    restored = round_trip(c)
    assert restored.create_service(service("b", ipFamilies=["IPv6"])) == c.create_service(
        service("b", ipFamilies=["IPv6"])
    )


def test_snapshot_stored_service_rules_added_later_do_not_refuse_it():
    # A Service an earlier version of the library stored (duplicate ports, a bad
    # selector key, a named targetPort it did not check) still loads: only the address
    # fields are re-checked, as kube-apiserver does not re-validate stored objects.
    c = populated()
    c.create_service(service("d"))
    data = json.loads(json.dumps(c.snapshot()))
    (stored,) = [o for o in data["services"]["objects"] if o["metadata"]["name"] == "d"]
    stored["spec"]["ports"] = [{"port": 80, "protocol": "TCP", "targetPort": "Bad_Name"}] * 2
    stored["spec"]["selector"] = {"bad key!": "x"}
    restored = Cluster.from_snapshot(data)
    assert restored.get_service("d")["spec"]["ports"] == stored["spec"]["ports"]

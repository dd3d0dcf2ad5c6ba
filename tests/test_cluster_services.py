"""Tests of the Service part of the Cluster facade (dualstack.cluster).

Covers the `default/kubernetes` Service, create/update/delete/get through real
``ClusterConfig`` objects, the 1.16 dual-stack page's manifests and their GA
equivalents, LoadBalancer pools, atomicity and the read-only views.
"""

from __future__ import annotations

import copy
import enum
from typing import Any

import pytest
import yaml

from dualstack.cluster import Cluster
from dualstack.config import ClusterConfig
from dualstack.errors import (
    AlreadyExistsError,
    DualStackError,
    InvalidServiceError,
    NotFoundError,
    RangeFullError,
)
from dualstack.families import IPFamily

SERVICE_RANGE = "10.96.0.0/16,fd00:10:96::/112"


def dual(version: str | None = None, **kwargs: Any) -> ClusterConfig:
    return ClusterConfig(
        cluster_cidrs="10.244.0.0/16,fd00:10:244::/56",
        service_cidrs=SERVICE_RANGE,
        version=version,
        **kwargs,
    )


def manifest(name: str = "web", **spec: Any) -> dict[str, Any]:
    body = {"selector": {"app": "web"}, "ports": [{"port": 80}], **spec}
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": body}


def state(cluster: Cluster) -> tuple[object, ...]:
    return tuple(
        (family, tuple(alloc.iter_ints()), cluster._service_rngs[family].getstate())
        for family, alloc in sorted(cluster.service_allocators.items())
    )


# --- the kubernetes Service (§1.11) ---------------------------------------------------------
@pytest.mark.parametrize(
    ("service_cidrs", "ip", "family"),
    [
        pytest.param("10.96.0.0/12", "10.96.0.1", "IPv4", id="v4"),
        pytest.param("fd00:10:96::/108,10.96.0.0/16", "fd00:10:96::1", "IPv6", id="v6-first"),
    ],
)
def test_cluster_kubernetes_service_first_address_of_primary(service_cidrs, ip, family):
    config = ClusterConfig(
        cluster_cidrs="10.244.0.0/16,fd00:10:244::/56", service_cidrs=service_cidrs
    )
    spec = Cluster(config, seed=1).get_service("kubernetes")["spec"]
    assert spec["clusterIP"] == ip
    assert spec["clusterIPs"] == [ip]
    assert spec["ipFamilies"] == [family]
    assert spec["ipFamilyPolicy"] == "SingleStack"
    assert spec["ports"] == [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]


def test_cluster_kubernetes_service_recreated_after_delete():
    cluster = Cluster(dual(), seed=1)
    cluster.delete_service("kubernetes")
    assert cluster.get_service("kubernetes")["spec"]["clusterIP"] == "10.96.0.1"


# --- the 1.16 page and its GA equivalents -------------------------------------------------
PAGE_1_16 = {
    "default": """
apiVersion: v1
kind: Service
metadata:
  name: my-service
spec:
  selector:
    app: MyApp
  ports:
    - protocol: TCP
      port: 80
      targetPort: 9376
""",
    "ipv6": """
apiVersion: v1
kind: Service
metadata:
  name: my-service
spec:
  ipFamily: IPv6
  selector:
    app: MyApp
  ports:
    - protocol: TCP
      port: 80
      targetPort: 9376
""",
    "ipv4": """
apiVersion: v1
kind: Service
metadata:
  name: my-service
spec:
  ipFamily: IPv4
  selector:
    app: MyApp
  ports:
    - protocol: TCP
      port: 80
      targetPort: 9376
""",
}


@pytest.mark.parametrize(
    ("page", "family"),
    [
        pytest.param("default", "IPv4", id="default"),
        pytest.param("ipv6", "IPv6", id="ipFamily-IPv6"),
        pytest.param("ipv4", "IPv4", id="ipFamily-IPv4"),
    ],
)
def test_cluster_1_16_page_manifest_allocates_from_family(page, family):
    config = ClusterConfig.from_flags(
        [
            "--cluster-cidr=10.244.0.0/16,fc00::/24",
            f"--service-cluster-ip-range={SERVICE_RANGE}",
            "--feature-gates=IPv6DualStack=true",
        ],
        version="1.16",
    )
    cluster = Cluster(config, seed=16)
    stored = cluster.create_service(yaml.safe_load(PAGE_1_16[page]))
    spec = stored["spec"]
    assert spec["ipFamily"] == family
    assert IPFamily.of(spec["clusterIP"]).value == family
    assert "clusterIPs" not in spec and "ipFamilies" not in spec
    pool = "10.96.0.0/16" if family == "IPv4" else "fd00:10:96::/112"
    assert spec["clusterIP"] in cluster.service_allocators[IPFamily(family)]
    assert cluster.service_allocators[IPFamily(family)].pool.cidr == pool


@pytest.mark.parametrize(
    ("extra", "families"),
    [
        pytest.param({}, ["IPv4"], id="default"),
        pytest.param({"ipFamilies": ["IPv6"]}, ["IPv6"], id="ipFamilies-IPv6"),
        pytest.param({"ipFamilies": ["IPv4"]}, ["IPv4"], id="ipFamilies-IPv4"),
        pytest.param({"ipFamilyPolicy": "PreferDualStack"}, ["IPv4", "IPv6"], id="prefer"),
    ],
)
def test_cluster_ga_equivalent_of_1_16_page(extra, families):
    cluster = Cluster(dual(), seed=16)
    doc = yaml.safe_load(PAGE_1_16["default"])
    doc["spec"].update(extra)
    spec = cluster.create_service(doc)["spec"]
    assert spec["ipFamilies"] == families
    assert [IPFamily.of(ip).value for ip in spec["clusterIPs"]] == families
    assert spec["ipFamilyPolicy"] == extra.get("ipFamilyPolicy", "SingleStack")


def test_cluster_1_16_gate_off_drops_ip_family():
    config = ClusterConfig(
        cluster_cidrs="10.244.0.0/16", service_cidrs="10.96.0.0/16", version="1.16"
    )
    cluster = Cluster(config, seed=1)
    spec = cluster.create_service(yaml.safe_load(PAGE_1_16["ipv6"]))["spec"]
    assert "ipFamily" not in spec
    assert IPFamily.of(spec["clusterIP"]) is IPFamily.IPv4


# --- CRUD -----------------------------------------------------------------------------------
def test_cluster_create_returns_copy_and_input_untouched():
    cluster = Cluster(dual(), seed=1)
    doc = manifest(ipFamilyPolicy="PreferDualStack")
    frozen = copy.deepcopy(doc)
    stored = cluster.create_service(doc)
    assert doc == frozen
    stored["spec"]["clusterIPs"].append("oops")
    assert len(cluster.get_service("web")["spec"]["clusterIPs"]) == 2
    view = cluster.services["default/web"]
    view["spec"]["clusterIP"] = "changed"
    assert cluster.services["default/web"]["spec"]["clusterIP"] != "changed"
    assert set(cluster.services) == {"default/kubernetes", "default/web"}


def test_cluster_services_mapping_is_read_only():
    cluster = Cluster(dual(), seed=1)
    with pytest.raises(TypeError):
        cluster.services["default/x"] = {}  # type: ignore[index]


def test_cluster_create_existing_name_refused():
    cluster = Cluster(dual(), seed=1)
    cluster.create_service(manifest())
    before = state(cluster)
    with pytest.raises(DualStackError, match=r'^services "web" already exists'):
        cluster.create_service(manifest())
    assert state(cluster) == before


def test_cluster_namespaces_are_separate():
    cluster = Cluster(dual(), seed=1)
    doc = manifest()
    doc["metadata"]["namespace"] = "prod"
    cluster.create_service(doc)
    cluster.create_service(manifest())
    assert cluster.get_service("web", namespace="prod")["metadata"]["namespace"] == "prod"
    cluster.delete_service("web", namespace="prod")
    assert "prod/web" not in cluster.services


@pytest.mark.parametrize("op", ["get", "delete", "update"])
def test_cluster_unknown_service_not_found(op):
    cluster = Cluster(dual(), seed=1)
    with pytest.raises(NotFoundError, match=r'^services "nope" not found'):
        if op == "get":
            cluster.get_service("nope")
        elif op == "delete":
            cluster.delete_service("nope")
        else:
            cluster.update_service(manifest("nope"))


def test_cluster_delete_releases_every_address():
    cluster = Cluster(dual(), seed=1)
    before = {f: set(a.iter_ints()) for f, a in cluster.service_allocators.items()}
    cluster.create_service(manifest(ipFamilyPolicy="RequireDualStack"))
    cluster.delete_service("web")
    assert {f: set(a.iter_ints()) for f, a in cluster.service_allocators.items()} == before


def test_cluster_same_seed_same_addresses():
    first = Cluster(dual(), seed=42).create_service(manifest(ipFamilyPolicy="PreferDualStack"))
    again = Cluster(dual(), seed=42).create_service(manifest(ipFamilyPolicy="PreferDualStack"))
    assert first == again


def test_cluster_failed_create_restores_state_and_next_draw():
    a = Cluster(dual(), seed=5)
    b = Cluster(dual(), seed=5)
    a.create_service(manifest("x", clusterIP="10.96.5.5"))
    b.create_service(manifest("x", clusterIP="10.96.5.5"))
    before = state(a)
    with pytest.raises(InvalidServiceError):
        a.create_service(manifest("y", clusterIP="10.96.5.5", ipFamilyPolicy="PreferDualStack"))
    with pytest.raises(InvalidServiceError):
        a.create_service(manifest("z", ipFamilyPolicy="PreferDualStack", sessionAffinity="X"))
    assert state(a) == before
    assert a.create_service(manifest("w", ipFamilyPolicy="PreferDualStack")) == b.create_service(
        manifest("w", ipFamilyPolicy="PreferDualStack")
    )


def test_cluster_failed_upgrade_restores_rng():
    cluster = Cluster(dual(), seed=5)
    cluster.create_service(manifest())
    before = state(cluster)
    with pytest.raises(InvalidServiceError):
        # upgrade allocates the secondary, then ValidateService refuses the affinity
        cluster.update_service(manifest(ipFamilyPolicy="PreferDualStack", sessionAffinity="X"))
    assert state(cluster) == before


def test_cluster_range_full_message():
    config = ClusterConfig(
        cluster_cidrs="10.244.0.0/16", service_cidrs="10.96.0.0/29", version="1.30"
    )
    cluster = Cluster(config, seed=1)
    for i in range(5):
        cluster.create_service(manifest(f"s{i}"))
    with pytest.raises(RangeFullError) as info:
        cluster.create_service(manifest("full"))
    assert str(info.value).startswith(
        "Internal error occurred: failed to allocate a serviceIP: range is full"
    )


def test_cluster_not_a_service_clear_error():
    cluster = Cluster(dual(), seed=1)
    with pytest.raises(InvalidServiceError) as info:
        cluster.create_service({"kind": "Deployment", "metadata": {"name": "x"}})
    assert "kind" in str(info.value)
    with pytest.raises(InvalidServiceError, match=r"metadata\.name"):
        cluster.create_service({"spec": {}})


def test_cluster_service_warnings_for_leading_zero():
    config = ClusterConfig(
        cluster_cidrs="10.244.0.0/16", service_cidrs="10.96.0.0/16", version="1.30"
    )
    cluster = Cluster(config, seed=1)
    cluster.create_service(manifest(clusterIP="10.96.0.010"))
    assert cluster.service_warnings == (
        "spec.clusterIPs[0]: IP address was accepted, but will be invalid in a future "
        'Kubernetes release: ParseAddr("10.96.0.010"): IPv4 field has octet with leading zero',
    )
    assert "10.96.0.10" in cluster.service_allocators[IPFamily.IPv4]


# --- LoadBalancer pools (issue 5 item 7) ---------------------------------------------------
def lb_cluster() -> Cluster:
    config = dual(load_balancer_pools=("192.0.2.0/29", "2001:db8:1b::/125"))
    return Cluster(config, seed=3)


def ingress(stored: dict[str, Any]) -> list[str]:
    return [entry["ip"] for entry in stored["status"]["loadBalancer"].get("ingress", [])]


def test_cluster_load_balancer_ingress_one_per_family_in_order():
    cluster = lb_cluster()
    stored = cluster.create_service(
        manifest(type="LoadBalancer", ipFamilyPolicy="PreferDualStack", ipFamilies=["IPv6"])
    )
    assert ingress(stored) == ["2001:db8:1b::1", "192.0.2.1"]


def test_cluster_load_balancer_released_on_delete_and_type_change():
    cluster = lb_cluster()
    cluster.create_service(manifest("a", type="LoadBalancer"))
    cluster.update_service(manifest("a", type="ClusterIP"))
    assert cluster.get_service("a")["status"] == {"loadBalancer": {}}
    assert cluster.load_balancer_addresses() == {IPFamily.IPv4: [], IPFamily.IPv6: []}
    stored = cluster.create_service(manifest("b", type="LoadBalancer"))
    assert ingress(stored) == ["192.0.2.1"]
    cluster.delete_service("b")
    assert cluster.load_balancer_addresses()[IPFamily.IPv4] == []


def test_cluster_load_balancer_upgrade_adds_family_keeps_first():
    cluster = lb_cluster()
    first = ingress(cluster.create_service(manifest(type="LoadBalancer")))
    upgraded = cluster.update_service(
        manifest(type="LoadBalancer", ipFamilyPolicy="PreferDualStack")
    )
    assert ingress(upgraded) == [*first, "2001:db8:1b::1"]


def test_cluster_load_balancer_pool_exhausted_stays_pending():
    cluster = lb_cluster()
    for i in range(6):  # 192.0.2.1 - 192.0.2.6
        assert ingress(cluster.create_service(manifest(f"lb{i}", type="LoadBalancer")))
    pending = cluster.create_service(manifest("late", type="LoadBalancer"))
    assert pending["status"] == {"loadBalancer": {}}


def test_cluster_without_pools_load_balancer_status_empty():
    cluster = Cluster(dual(), seed=1)
    stored = cluster.create_service(manifest(type="LoadBalancer"))
    assert stored["status"] == {"loadBalancer": {}}


# --- deleting kubernetes while another Service holds its address (review F0) -------------
def _kubernetes_address_taken(store: Any = None) -> Cluster:
    cluster = Cluster(dual(), seed=1, store=store)
    cluster.update_service(
        {
            "metadata": {"name": "kubernetes"},
            "spec": {"type": "ExternalName", "externalName": "kubernetes.example.com"},
        }
    )
    cluster.create_service(manifest("thief", clusterIP="10.96.0.1"))
    return cluster


def test_cluster_delete_kubernetes_address_taken_succeeds_and_snapshot_loads():
    cluster = _kubernetes_address_taken()
    cluster.delete_service("kubernetes")  # upstream's DELETE succeeds
    assert sorted(cluster.services) == ["default/thief"]
    assert [f.severity for f in cluster.validate()] == ["warning"]
    restored = Cluster.from_snapshot(cluster.snapshot())
    assert restored.snapshot() == cluster.snapshot()
    assert sorted(restored.services) == ["default/thief"]


@pytest.mark.parametrize("via", ["delete", "update"])
def test_cluster_kubernetes_recreated_once_its_address_is_freed(via):
    cluster = _kubernetes_address_taken()
    cluster.delete_service("kubernetes")
    if via == "delete":
        cluster.delete_service("thief")
    else:
        cluster.update_service(
            {
                "metadata": {"name": "thief"},
                "spec": {"type": "ExternalName", "externalName": "x.io"},
            }
        )
    assert cluster.get_service("kubernetes")["spec"]["clusterIPs"] == ["10.96.0.1"]
    assert cluster.validate() == []


def test_cluster_snapshot_without_kubernetes_and_its_address_free_refused():
    data = Cluster(dual(), seed=1).snapshot()
    data["services"]["objects"] = [
        o for o in data["services"]["objects"] if o["metadata"]["name"] != "kubernetes"
    ]
    with pytest.raises(DualStackError, match="kubernetes Service is missing"):
        Cluster.from_snapshot(data)


# --- create of an existing name: 422 / 500 first, 409 last (review F6) ------------------
@pytest.mark.parametrize(
    ("version", "second", "error", "text"),
    [
        pytest.param(
            None,
            manifest(ipFamilyPolicy="Bogus"),
            InvalidServiceError,
            'Service "web" is invalid: spec.ipFamilyPolicy: Unsupported value: "Bogus": '
            'supported values: "PreferDualStack", "RequireDualStack", "SingleStack"',
            id="bad-policy",
        ),
        pytest.param(
            None,
            manifest(clusterIP="10.96.0.1"),
            InvalidServiceError,
            'Service "web" is invalid: spec.clusterIPs: Invalid value: []string{"10.96.0.1"}: '
            "failed to allocate IP 10.96.0.1: provided IP is already allocated",
            id="ip-taken",
        ),
        pytest.param(
            None,
            {"metadata": {"name": "web"}, "spec": {"ports": [{"port": 0}]}},
            InvalidServiceError,
            'Service "web" is invalid: [spec.ports[0].port: Invalid value: 0: '
            "must be between 1 and 65535, inclusive, spec.ports[0].targetPort: Invalid "
            "value: 0: must be between 1 and 65535, inclusive]",
            id="port-0",
        ),
        pytest.param(
            "1.21",
            manifest(clusterIP="300.1.1.1"),
            InvalidServiceError,
            'Service "web" is invalid: spec.clusterIPs[0]: Invalid value: "300.1.1.1": ',
            id="1.21-bad-ip",
        ),
        pytest.param(
            "1.19",
            manifest(clusterIP="1.1.1.1"),
            InvalidServiceError,
            'Service "web" is invalid: spec.clusterIP: Invalid value: "1.1.1.1": ',
            id="1.19-out-of-range",
        ),
        pytest.param(
            None,
            manifest(),
            AlreadyExistsError,
            'services "web" already exists',
            id="valid-409",
        ),
        pytest.param(
            None,
            manifest(clusterIP="None"),
            AlreadyExistsError,
            'services "web" already exists',
            id="headless-409",
        ),
        pytest.param(
            None,
            manifest(clusterIP="10.96.0.200"),
            AlreadyExistsError,
            'services "web" already exists',
            id="free-ip-409",
        ),
        pytest.param(
            "1.19",
            manifest(),
            AlreadyExistsError,
            'services "web" already exists',
            id="1.19-409",
        ),
    ],
)
def test_cluster_create_existing_name_validates_first_state_unchanged(
    version, second, error, text
):
    gates = {"IPv6DualStack": True} if version == "1.19" else None
    cluster = Cluster(dual(version, feature_gates=gates), seed=1)
    cluster.create_service(manifest())
    before = cluster.snapshot()
    with pytest.raises(error) as info:
        cluster.create_service(second)
    assert type(info.value) is error
    assert str(info.value).startswith(text)
    assert cluster.snapshot() == before


def test_cluster_create_existing_name_range_full_first():
    config = ClusterConfig(cluster_cidrs="10.244.0.0/16", service_cidrs="10.96.0.0/29")
    cluster = Cluster(config, seed=1)
    cluster.create_service(manifest("web"))
    while cluster.service_allocators[IPFamily.IPv4].free:
        cluster.create_service(manifest(f"s{cluster.service_allocators[IPFamily.IPv4].free}"))
    before = cluster.snapshot()
    with pytest.raises(RangeFullError):
        cluster.create_service(manifest("web"))
    assert cluster.snapshot() == before


def test_cluster_create_existing_name_on_store_state_unchanged():
    from dualstack.store import MemoryStore

    store = MemoryStore()
    cluster = Cluster(dual(), seed=1, store=store)
    cluster.create_service(manifest())
    before = (cluster.snapshot(), sorted(cluster.service_allocators[IPFamily.IPv4].iter_ints()))
    for second in (manifest(), manifest(clusterIP="10.96.0.200")):
        with pytest.raises(DualStackError, match="already exists"):
            cluster.create_service(second)
        cluster.service_allocators[IPFamily.IPv4].refresh()
        after = sorted(cluster.service_allocators[IPFamily.IPv4].iter_ints())
        assert (cluster.snapshot(), after) == before


def test_cluster_empty_namespace_is_default_for_lookups():
    cluster = Cluster(dual(), seed=1)
    cluster.create_service(
        {"metadata": {"name": "web", "namespace": ""}, "spec": {"ports": [{"port": 80}]}}
    )
    assert cluster.get_service("web", namespace="") == cluster.get_service("web")
    cluster.delete_service("web", namespace="")
    assert sorted(cluster.services) == ["default/kubernetes"]


@pytest.mark.parametrize("old_type", ["NodePort", "LoadBalancer"])
def test_cluster_update_to_cluster_ip_keeping_stored_node_port_accepted(old_type):
    # the `kubectl edit` flow: the whole stored spec with only `type` changed (1.20+)
    cluster = Cluster(dual(), seed=1)
    stored = cluster.create_service(
        manifest("np", type=old_type, ports=[{"port": 80, "nodePort": 30080}])
    )
    spec = dict(stored["spec"], type="ClusterIP")
    updated = cluster.update_service({"metadata": {"name": "np"}, "spec": spec})["spec"]
    assert updated["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 80}]
    assert updated["clusterIPs"] == stored["spec"]["clusterIPs"]
    assert "allocateLoadBalancerNodePorts" not in updated
    assert cluster.get_service("np")["spec"] == updated
    assert cluster.validate() == []


class _Names(str, enum.Enum):  # noqa: UP042 (not StrEnum: its str() would be "web")
    WEB = "web"
    TEAM = "team"


def test_cluster_str_enum_name_and_namespace_found_by_get_and_delete():
    cluster = Cluster(dual(), seed=1)
    created = cluster.create_service(
        {
            "metadata": {"name": _Names.WEB, "namespace": _Names.TEAM},
            "spec": {"ports": [{"port": 80}]},
        }
    )
    assert sorted(cluster.services) == ["default/kubernetes", "team/web"]
    assert cluster.get_service(_Names.WEB, namespace=_Names.TEAM) == created
    assert cluster.get_service("web", namespace="team") == created
    cluster.delete_service(_Names.WEB, namespace=_Names.TEAM)
    assert sorted(cluster.services) == ["default/kubernetes"]
    with pytest.raises(NotFoundError, match='services "web" not found'):
        cluster.get_service(_Names.WEB, namespace=_Names.TEAM)


_TO_EXTERNAL = {
    "metadata": {"name": "kubernetes"},
    "spec": {"type": "ExternalName", "externalName": "api.example.com"},
}


def test_cluster_store_kubernetes_update_away_keeps_shared_address():
    # Every cluster's kubernetes Service holds 10.96.0.1 in the one store: one cluster
    # changing its own to ExternalName must not hand the address to anyone else.
    from dualstack.store import MemoryStore

    store = MemoryStore()
    first = Cluster(dual(), seed=1, store=store)
    second = Cluster(dual(), seed=2, store=store)
    first.update_service(_TO_EXTERNAL)
    for cluster in (second, first):
        with pytest.raises(InvalidServiceError, match="provided IP is already allocated"):
            cluster.create_service(manifest("thief", clusterIP="10.96.0.1"))
    assert first.validate() == [] and second.validate() == []
    first.delete_service("kubernetes")  # recreated at the shared address
    assert first.get_service("kubernetes")["spec"]["clusterIPs"] == ["10.96.0.1"]
    assert second.get_service("kubernetes")["spec"]["clusterIPs"] == ["10.96.0.1"]
    assert first.validate() == [] and second.validate() == []


def test_cluster_store_kubernetes_delete_releases_its_other_addresses():
    from dualstack.store import MemoryStore

    cluster = Cluster(dual(), seed=1, store=MemoryStore())
    spec = dict(cluster.get_service("kubernetes")["spec"], ipFamilyPolicy="RequireDualStack")
    spec.pop("ipFamilies")
    upgraded = cluster.update_service({"metadata": {"name": "kubernetes"}, "spec": spec})
    secondary = upgraded["spec"]["clusterIPs"][1]
    assert secondary in cluster.service_allocators[IPFamily.IPv6]
    cluster.delete_service("kubernetes")
    assert secondary not in cluster.service_allocators[IPFamily.IPv6]
    assert "10.96.0.1" in cluster.service_allocators[IPFamily.IPv4]
    assert cluster.get_service("kubernetes")["spec"]["clusterIPs"] == ["10.96.0.1"]
    assert cluster.validate() == []


def test_cluster_snapshot_with_stored_string_affinity_timeout_loads():
    # An older release of the library stored timeoutSeconds as given ("x"); its
    # snapshots still load (requests with it are refused since, as kube-apiserver's
    # decoder refuses them).
    cluster = Cluster(dual(), seed=1)
    cluster.create_service(manifest(sessionAffinity="ClientIP"))
    data = cluster.snapshot()
    for obj in data["services"]["objects"]:
        if obj["metadata"]["name"] == "web":
            obj["spec"]["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"] = "x"
    loaded = Cluster.from_snapshot(data)
    assert loaded.get_service("web")["spec"]["sessionAffinityConfig"] == {
        "clientIP": {"timeoutSeconds": "x"}
    }
    with pytest.raises(InvalidServiceError, match="must be an integer, not a string"):
        loaded.update_service(loaded.get_service("web"))


def test_cluster_affinity_none_with_bad_timeout_refused():
    cluster = Cluster(dual(), seed=1)
    bad = {"clientIP": {"timeoutSeconds": 1.5}}
    with pytest.raises(InvalidServiceError, match="must be an integer, not a number"):
        cluster.create_service(manifest(sessionAffinity="None", sessionAffinityConfig=bad))
    assert sorted(cluster.services) == ["default/kubernetes"]

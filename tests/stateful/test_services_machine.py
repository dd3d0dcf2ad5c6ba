"""Random create/update/delete sequences against ``Cluster``'s Service part.

The model is a plain dict ``key -> stored object`` built only from what the calls
returned; the machine checks the invariants of issue 5 after every step:

- every allocated ClusterIP belongs to exactly one stored Service, and every stored
  ClusterIP is allocated (allocators == union of stored addresses, no duplicates);
- ``clusterIP == clusterIPs[0]`` and ``clusterIPs[i]`` has family ``ipFamilies[i]``;
- a rejected call leaves the allocators and random generators unchanged;
- LoadBalancer ingress addresses are unique and exactly the pools' used addresses;
- deleting every Service leaves each range holding only the ``kubernetes`` address;
- with ``IPv6DualStack`` off (1.20) no Service ever carries a dual-stack field.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from dualstack.cluster import Cluster
from dualstack.config import ClusterConfig
from dualstack.errors import DualStackError, NotFoundError
from dualstack.families import IPFamily, parse_ip
from dualstack.services import ServiceRules

CONFIGS = {
    "v4v6": {"service_cidrs": "10.96.0.0/28,fd00:96::/124"},
    "v6v4": {"service_cidrs": "fd00:96::/124,10.96.0.0/28"},
    "v4": {"service_cidrs": "10.96.0.0/28"},
    "1.20-v4": {"service_cidrs": "10.96.0.0/28", "version": "1.20"},
    "1.21-v4v6": {"service_cidrs": "10.96.0.0/28,fd00:96::/124", "version": "1.21"},
    "1.18-alpha": {
        "service_cidrs": "10.96.0.0/28,fd00:96::/124",
        "version": "1.18",
        "feature_gates": {"IPv6DualStack": True},
    },
}

NAMES = st.sampled_from(["a", "b", "c", "d"])
IPS = st.sampled_from(
    ["10.96.0.5", "10.96.0.9", "fd00:96::5", "fd00:96::9", "10.97.0.1", "None", "", "bogus"]
)
FAMILIES = st.sampled_from(["IPv4", "IPv6", "IPv5"])


@st.composite
def service_specs(draw: st.DrawFn) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if draw(st.booleans()):
        spec["selector"] = {"app": "x"}
    if draw(st.integers(0, 5)):
        spec["ports"] = [{"port": draw(st.sampled_from([80, 443, 0]))}]
    svc_type = draw(
        st.sampled_from([None, "ClusterIP", "NodePort", "LoadBalancer", "ExternalName", "Bogus"])
    )
    if svc_type:
        spec["type"] = svc_type
        if svc_type == "ExternalName":
            spec["externalName"] = "db.example.com"
    policy = draw(
        st.sampled_from([None, None, "SingleStack", "PreferDualStack", "RequireDualStack", "Dual"])
    )
    if policy:
        spec["ipFamilyPolicy"] = policy
    if draw(st.integers(0, 2)) == 0:
        spec["ipFamilies"] = draw(st.lists(FAMILIES, max_size=3))
    if draw(st.integers(0, 2)) == 0:
        spec["clusterIP"] = draw(IPS)
    if draw(st.integers(0, 3)) == 0:
        spec["clusterIPs"] = draw(st.lists(IPS, max_size=3))
    if draw(st.integers(0, 3)) == 0:
        spec["ipFamily"] = draw(FAMILIES)
    return spec


def manifest(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


class ServiceMachine(RuleBasedStateMachine):
    """Cluster Services against a dict of what create/update returned."""

    cluster: Cluster
    model: dict[str, dict[str, Any]]

    @initialize(kind=st.sampled_from(sorted(CONFIGS)), seed=st.integers(0, 3))
    def setup(self, kind: str, seed: int) -> None:
        options: dict[str, Any] = dict(CONFIGS[kind])
        families = [IPFamily.of(c) for c in options["service_cidrs"].split(",")]
        cluster_cidrs = ",".join(
            "10.244.0.0/16" if f is IPFamily.IPv4 else "fd00:244::/56" for f in families
        )
        if options.get("version") != "1.18":
            options["load_balancer_pools"] = ("192.0.2.0/30", "2001:db8::/126")
        config = ClusterConfig(cluster_cidrs=cluster_cidrs, **options)
        self.cluster = Cluster(config, seed=seed)
        self.alpha = config.profile.service_api == "alpha"
        self.gate_off = (
            config.profile.service_api != "alpha"
            and not ServiceRules.from_config(config).dual_stack
        )
        self.model = {"default/kubernetes": self.cluster.get_service("kubernetes")}
        self.kubernetes_ip = self.model["default/kubernetes"]["spec"]["clusterIP"]

    def _state(self) -> tuple[object, ...]:
        allocators = tuple(
            (f, tuple(a.iter_ints()), self.cluster._service_rngs[f].getstate())
            for f, a in sorted(self.cluster.service_allocators.items())
        )
        return (*allocators, tuple(sorted(self.cluster.load_balancer_addresses().items())))

    def _attempt(self, call: Any, key: str) -> None:
        before = self._state()
        try:
            stored = call()
        except DualStackError:
            assert self._state() == before, "a rejected call changed the allocators"
            return
        self.model[key] = stored

    @rule(name=NAMES, spec=service_specs())
    def create(self, name: str, spec: dict[str, Any]) -> None:
        self._attempt(lambda: self.cluster.create_service(manifest(name, spec)), f"default/{name}")

    @rule(
        name=NAMES,
        policy=st.sampled_from([None, "SingleStack", "PreferDualStack", "RequireDualStack"]),
        headless=st.booleans(),
        node_port=st.sampled_from([None, "NodePort", "LoadBalancer"]),
    )
    def create_well_formed(
        self, name: str, policy: str | None, headless: bool, node_port: str | None
    ) -> None:
        # Most random specs are refused; this keeps enough Services alive for the
        # update rules to reach the upgrade, downgrade, headless and type-change paths.
        spec: dict[str, Any] = {"selector": {"app": "x"}, "ports": [{"port": 80}]}
        if policy:
            spec["ipFamilyPolicy"] = policy
        if headless:
            spec["clusterIP"] = "None"
        elif node_port:
            spec["type"] = node_port
            spec["ports"] = [{"port": 80, "nodePort": 30080}]
        self._attempt(lambda: self.cluster.create_service(manifest(name, spec)), f"default/{name}")

    @rule(name=NAMES, spec=service_specs(), keep_ips=st.booleans())
    def update(self, name: str, spec: dict[str, Any], keep_ips: bool) -> None:
        key = f"default/{name}"
        if keep_ips and key in self.model:
            old = self.model[key]["spec"]
            for field in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamily"):
                if field in old:
                    spec.setdefault(field, old[field])
        self._attempt(lambda: self.cluster.update_service(manifest(name, spec)), key)

    @rule(
        name=NAMES, policy=st.sampled_from(["SingleStack", "PreferDualStack", "RequireDualStack"])
    )
    def change_policy(self, name: str, policy: str) -> None:
        # The common real-world update: the stored object re-applied with a new policy.
        key = f"default/{name}"
        if key not in self.model:
            return
        spec = dict(self.model[key]["spec"], ipFamilyPolicy=policy)
        self._attempt(lambda: self.cluster.update_service(manifest(name, spec)), key)

    @rule(name=NAMES, new_type=st.sampled_from(["ClusterIP", "NodePort", "LoadBalancer"]))
    def change_type(self, name: str, new_type: str) -> None:
        # `kubectl edit`: the stored object re-applied with only its type changed.
        key = f"default/{name}"
        if key not in self.model:
            return
        old = self.model[key]["spec"]
        spec = copy.deepcopy(dict(old, type=new_type))
        self._attempt(lambda: self.cluster.update_service(manifest(name, spec)), key)
        leaving = old.get("type") in ("NodePort", "LoadBalancer") and new_type == "ClusterIP"
        if leaving and not self.alpha:
            # 1.20+ wipe the stored node ports before validation: always accepted
            stored = self.model[key]["spec"]
            assert stored["type"] == "ClusterIP", "kubectl edit to ClusterIP was refused"
            assert not any(p.get("nodePort") for p in stored.get("ports") or ())
            assert "allocateLoadBalancerNodePorts" not in stored

    @rule(name=NAMES)
    def delete(self, name: str) -> None:
        key = f"default/{name}"
        try:
            self.cluster.delete_service(name)
        except NotFoundError:
            assert key not in self.model
            return
        del self.model[key]

    @rule()
    def delete_everything(self) -> None:
        for key in list(self.model):
            if key != "default/kubernetes":
                self.cluster.delete_service(key.split("/", 1)[1])
                del self.model[key]
        for family, alloc in self.cluster.service_allocators.items():
            expected = [self.kubernetes_ip] if IPFamily.of(self.kubernetes_ip) is family else []
            assert [str(ip) for ip in alloc] == expected
        assert all(not used for used in self.cluster.load_balancer_addresses().values())

    @invariant()
    def model_matches_cluster(self) -> None:
        assert dict(self.cluster.services) == self.model

    @invariant()
    def addresses_belong_to_exactly_one_service(self) -> None:
        owned: dict[IPFamily, list[int]] = {f: [] for f in self.cluster.service_allocators}
        for stored in self.model.values():
            spec = stored["spec"]
            if self.alpha:
                ips = (
                    [spec["clusterIP"]] if spec.get("clusterIP") not in (None, "", "None") else []
                )
            else:
                ips = [ip for ip in spec.get("clusterIPs") or () if ip != "None"]
            for ip in ips:
                value, family = parse_ip(ip)
                owned[family].append(value)
        for family, alloc in self.cluster.service_allocators.items():
            assert len(owned[family]) == len(set(owned[family]))
            assert set(owned[family]) == set(alloc.iter_ints())

    @invariant()
    def cluster_ips_follow_families(self) -> None:
        if self.alpha:
            return
        for stored in self.model.values():
            spec = stored["spec"]
            ips = spec.get("clusterIPs")
            if not ips:
                assert spec.get("type") == "ExternalName"
                continue
            assert spec["clusterIP"] == ips[0]
            if "ipFamilies" not in spec:  # IPv6DualStack off (1.20): one address, no fields
                assert len(ips) == 1 and "ipFamilyPolicy" not in spec
                continue
            if ips != ["None"]:
                assert [IPFamily.of(ip).value for ip in ips] == spec["ipFamilies"][: len(ips)]
                assert len(ips) == len(spec["ipFamilies"])

    @invariant()
    def gate_off_services_never_use_dual_stack_fields(self) -> None:
        # 1.20 without IPv6DualStack: no create or update (an upgrade included) may
        # give a Service families, a policy or a second address.
        if not self.gate_off:
            return
        for stored in self.model.values():
            spec = stored["spec"]
            assert "ipFamilies" not in spec and "ipFamilyPolicy" not in spec
            assert len(spec.get("clusterIPs") or ()) <= 1

    @invariant()
    def load_balancer_addresses_unique(self) -> None:
        seen: list[str] = []
        for stored in self.model.values():
            for entry in stored.get("status", {}).get("loadBalancer", {}).get("ingress", []):
                seen.append(entry["ip"])
        used = [ip for ips in self.cluster.load_balancer_addresses().values() for ip in ips]
        assert len(seen) == len(set(seen))
        assert sorted(seen) == sorted(used)


ServiceMachine.TestCase.settings = settings(
    ServiceMachine.TestCase.settings, max_examples=100, stateful_step_count=25
)
TestServiceMachine = ServiceMachine.TestCase

"""Random histories of a whole ``Cluster``: nodes, Pods, Services, snapshots and copies.

The configuration (either family first, any release, cni or kubenet) comes from
``dualstack.strategies.cluster_configs``; Service manifests from ``service_manifests``.
The model is plain sets and dicts of names built from what the calls returned. Every
call is made on the cluster and on each "twin" — a cluster restored from a JSON round
trip of a snapshot, or a ``copy()`` — and all must answer identically (same value, or
the same error text). After every step:

- no node block is held twice and every node CIDR lies in its cluster CIDR;
- no Pod address is held twice and each lies in its node's CIDR of the same family;
- a failed call changed nothing (the snapshot, which holds every bitmap, cursor and
  random generator state, is equal before and after);
- ``validate()`` finds nothing, and each twin's snapshot equals the cluster's.
"""

from __future__ import annotations

import contextlib
import itertools
import json
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from dualstack.cluster import Cluster
from dualstack.config import ClusterConfig
from dualstack.errors import AlreadyExistsError, DualStackError, NotFoundError
from dualstack.families import IPFamily
from dualstack.profiles import Profile
from dualstack.strategies import (
    NODE_NAMES,
    POD_NAMES,
    SERVICE_NAMES,
    VERSIONS,
    cluster_configs,
    service_manifests,
)

CONFIGS = st.sampled_from(VERSIONS).flatmap(cluster_configs)


def _span(net: Any) -> tuple[IPFamily, int, int]:
    family = IPFamily.IPv4 if net.version == 4 else IPFamily.IPv6
    return family, int(net.first), int(net.last)


class ClusterMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.cluster: Cluster
        self.config: ClusterConfig
        self.twins: list[Cluster] = []
        self.nodes: set[str] = set()
        self.pods: dict[str, str] = {}  # key -> node
        self.services: set[str] = set()
        self.seen_cidrs: list[list[str]] = []

    @initialize(
        config=CONFIGS,
        seed=st.integers(0, 2**32),
        kubenet=st.booleans(),
    )
    def start(self, config: ClusterConfig, seed: int, kubenet: bool) -> None:
        plugin = "kubenet" if kubenet and config.profile.kubenet_available else "cni"
        self.config = config
        self.cluster = Cluster(config, seed=seed, network_plugin=plugin)
        self.services = {"default/kubernetes"}

    # --- one call on every cluster --------------------------------------------------------
    def call(self, verb: str, **kwargs: Any) -> tuple[Any, ...]:
        outcomes = []
        for cluster in [self.cluster, *self.twins]:
            before = cluster.snapshot()
            try:
                result = getattr(cluster, verb)(**kwargs)
            except DualStackError as error:
                assert cluster.snapshot() == before, f"failed {verb} changed the state"
                outcomes.append(("error", type(error), str(error)))
            else:
                outcomes.append(("ok", result))
        for outcome in outcomes[1:]:
            assert outcome == outcomes[0], f"{verb}{kwargs}: twin answered {outcome}"
        return outcomes[0]

    # --- nodes ----------------------------------------------------------------------------
    @rule(name=st.sampled_from(NODE_NAMES))
    def add_node(self, name: str) -> None:
        outcome = self.call("add_node", name=name)
        if name in self.nodes:
            assert outcome[1] is AlreadyExistsError
        elif outcome[0] == "ok":
            self.nodes.add(name)
            node = outcome[1]
            assert len(node.pod_cidrs) == len(self.config.cluster_cidrs)
            self.seen_cidrs.append([str(n) for n in node.pod_cidrs])
        else:
            assert "failed to allocate cidr from cluster cidr at idx:" in outcome[2]

    @precondition(lambda self: self.seen_cidrs)
    @rule(name=st.sampled_from(NODE_NAMES), data=st.data())
    def add_node_with_cidrs(self, name: str, data: st.DataObject) -> None:
        cidrs = data.draw(st.sampled_from(self.seen_cidrs))
        outcome = self.call("add_node", name=name, pod_cidrs=cidrs)
        if outcome[0] == "ok":
            assert name not in self.nodes
            self.nodes.add(name)
            assert [str(n) for n in outcome[1].pod_cidrs] == cidrs

    @precondition(lambda self: self.nodes)
    @rule(data=st.data())
    def remove_a_node(self, data: st.DataObject) -> None:
        self.remove_node(data.draw(st.sampled_from(sorted(self.nodes))))

    @rule(name=st.sampled_from(NODE_NAMES))
    def remove_node(self, name: str) -> None:
        outcome = self.call("remove_node", name=name)
        if name in self.nodes:
            assert outcome[0] == "ok"
            self.nodes.discard(name)
            self.pods = {k: n for k, n in self.pods.items() if n != name}
        else:
            assert outcome[1] is NotFoundError

    # --- Pods -----------------------------------------------------------------------------
    @precondition(lambda self: self.nodes)
    @rule(name=st.sampled_from(POD_NAMES), data=st.data())
    def add_pod_on_a_node(self, name: str, data: st.DataObject) -> None:
        self.add_pod(name, data.draw(st.sampled_from(sorted(self.nodes))))

    @precondition(lambda self: self.nodes)
    @rule(name=st.sampled_from(POD_NAMES), data=st.data())
    def add_another_pod_on_a_node(self, name: str, data: st.DataObject) -> None:
        self.add_pod(name, data.draw(st.sampled_from(sorted(self.nodes))))

    @precondition(lambda self: self.pods)
    @rule(data=st.data())
    def remove_a_pod(self, data: st.DataObject) -> None:
        self.remove_pod(data.draw(st.sampled_from(sorted(self.pods))).split("/", 1)[1])

    @rule(name=st.sampled_from(POD_NAMES), node=st.sampled_from(NODE_NAMES))
    def add_pod(self, name: str, node: str) -> None:
        key = f"default/{name}"
        outcome = self.call("add_pod", name=name, node=node)
        if key in self.pods:
            assert outcome[1] is AlreadyExistsError
        elif node not in self.nodes:
            assert outcome[1] is NotFoundError
        elif outcome[0] == "ok":
            self.pods[key] = node
            pod = outcome[1]
            families = [IPFamily.IPv4 if ip.version == 4 else IPFamily.IPv6 for ip in pod.pod_ips]
            assert sorted(families) == sorted(self.config.pod_families)
            profile: Profile = self.config.profile
            if profile.kubelet_sorts_pod_ips:
                assert families[0] is self.config.pod_families[0]
            elif self.cluster.network_plugin == "kubenet":
                assert families[0] is IPFamily.IPv4
            else:
                assert families == list(self.config.pod_families)
        else:
            assert "failed to allocate for range" in outcome[2]

    @rule(name=st.sampled_from(POD_NAMES))
    def remove_pod(self, name: str) -> None:
        outcome = self.call("remove_pod", name=name)
        if f"default/{name}" in self.pods:
            assert outcome[0] == "ok"
            del self.pods[f"default/{name}"]
        else:
            assert outcome[1] is NotFoundError

    # --- Services -------------------------------------------------------------------------
    @rule(data=st.data())
    def create_service(self, data: st.DataObject) -> None:
        manifest = data.draw(service_manifests(self.config))
        key = f"default/{manifest['metadata']['name']}"
        outcome = self.call("create_service", manifest=manifest)
        if key in self.services:
            # 409 only for a request that would otherwise succeed: a 422/500 comes first
            assert outcome[0] == "error"
            assert outcome[1] is AlreadyExistsError or "already exists" not in outcome[2]
        elif outcome[0] == "ok":
            self.services.add(key)
        self._sync_kubernetes()

    @rule(data=st.data())
    def update_service(self, data: st.DataObject) -> None:
        manifest = data.draw(service_manifests(self.config))
        outcome = self.call("update_service", manifest=manifest)
        if f"default/{manifest['metadata']['name']}" not in self.services:
            assert outcome[1] is NotFoundError
        self._sync_kubernetes()

    @rule(data=st.data())
    def delete_a_service(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted(self.services)))
        self.delete_service(key.split("/", 1)[1])

    @rule(name=st.sampled_from(SERVICE_NAMES))
    def delete_service(self, name: str) -> None:
        outcome = self.call("delete_service", name=name)
        if f"default/{name}" in self.services:
            assert outcome[0] == "ok"
            self.services.discard(f"default/{name}")
        else:
            assert outcome[1] is NotFoundError
        self._sync_kubernetes()

    def _sync_kubernetes(self) -> None:
        # The bootstrap controller recreates kubernetes at once, or (its address taken
        # by another Service) as soon as a call frees that address.
        if "default/kubernetes" in self.cluster.services:
            self.services.add("default/kubernetes")
        else:
            self.services.discard("default/kubernetes")

    # --- snapshots and copies -------------------------------------------------------------
    @precondition(lambda self: len(self.twins) < 2)
    @rule()
    def restore_snapshot(self) -> None:
        data = json.loads(json.dumps(self.cluster.snapshot()))
        self.twins.append(Cluster.from_snapshot(data))

    @precondition(lambda self: len(self.twins) < 2)
    @rule()
    def copy(self) -> None:
        self.twins.append(self.cluster.copy())

    @rule(name=st.sampled_from(NODE_NAMES), pod=st.sampled_from(POD_NAMES))
    def copy_is_independent(self, name: str, pod: str) -> None:
        before = self.cluster.snapshot()
        other = self.cluster.copy()
        for call in (
            lambda: other.add_node(f"{name}-x"),
            lambda: other.add_pod(f"{pod}-x", node=name),
            lambda: other.remove_node(name),
            lambda: other.delete_service(SERVICE_NAMES[0]),
        ):
            with contextlib.suppress(DualStackError):
                call()
        assert self.cluster.snapshot() == before

    @rule()
    def drop_twins(self) -> None:
        self.twins.clear()

    # --- invariants -----------------------------------------------------------------------
    @invariant()
    def blocks_held_once_and_inside_cluster_cidrs(self) -> None:
        spans = sorted(
            _span(net) for node in self.cluster.nodes.values() for net in node.pod_cidrs
        )
        for (fa, _, last), (fb, first, _) in itertools.pairwise(spans):
            assert fa is not fb or first > last, "a node block is held twice"
        pools = self.config.cluster_pools
        for node in self.cluster.nodes.values():
            for index, net in enumerate(node.pod_cidrs):
                pool = pools[index]
                family, first, last = _span(net)
                assert family is pool.family
                assert pool.first <= first and last <= pool.last

    @invariant()
    def pod_ips_unique_and_inside_their_node(self) -> None:
        seen: set[tuple[int, int]] = set()
        nodes = self.cluster.nodes
        for pod in self.cluster.pods.values():
            for ip in pod.pod_ips:
                assert (ip.version, int(ip)) not in seen, f"{ip} held twice"
                seen.add((ip.version, int(ip)))
                assert any(
                    ip in net for net in nodes[pod.node].pod_cidrs if net.version == ip.version
                )

    @invariant()
    def model_matches(self) -> None:
        assert set(self.cluster.nodes) == self.nodes
        assert {k: p.node for k, p in self.cluster.pods.items()} == self.pods
        assert set(self.cluster.services) == self.services

    @invariant()
    def validate_finds_nothing(self) -> None:
        assert self.cluster.validate() == []

    @invariant()
    def twins_in_the_same_state(self) -> None:
        if self.twins:
            state = self.cluster.snapshot()
            for twin in self.twins:
                assert twin.snapshot() == state


ClusterMachine.TestCase.settings = settings(
    max_examples=120, stateful_step_count=50, deadline=None
)
TestClusterMachine = ClusterMachine.TestCase

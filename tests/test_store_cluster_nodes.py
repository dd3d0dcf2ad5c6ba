"""Clusters on a shared store: node CIDR blocks and Pod IPs shared, none given twice.

``Cluster(config, store=...)`` keeps its cluster-CIDR sets under ``node_cidrs_key`` and
every node's host-local ranges under ``pod_ips_key``: two clusters on one store never
hand out a block or a Pod IP twice; a failing call leaves store and cluster as they
were; ``remove_node`` deletes the node's Pod IP keys; a copy is private; a snapshot
records the cluster's own blocks. One test runs three processes on a real etcd.
"""

from __future__ import annotations

import json
import multiprocessing
import uuid
from pathlib import Path
from typing import Any

import pytest
from _etcd import KeyDown, etcd_session
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from dualstack.cluster import Cluster
from dualstack.config import ClusterConfig
from dualstack.errors import AlreadyAllocatedError, RangeFullError
from dualstack.nodes import NodeRegistry
from dualstack.store import (
    EtcdStore,
    MemoryStore,
    StoreUnavailableError,
    decode_range_value,
    node_cidrs_key,
    pod_ips_key,
)

FORK = multiprocessing.get_context("fork")

DUAL: dict[str, Any] = {
    "cluster_cidrs": ["10.244.0.0/16", "fd00:10:244::/56"],
    "service_cidrs": ["10.96.0.0/16", "fd00:10:96::/112"],
}
# Two /24 blocks of IPv4, many of IPv6; /29 Pod ranges hold five Pods (gateway, broadcast).
SMALL: dict[str, Any] = {
    "cluster_cidrs": ["10.244.0.0/28", "fd00:10:244::/120"],
    "service_cidrs": ["10.96.0.0/16", "fd00:10:96::/112"],
    "node_mask_sizes": {"ipv4": 29, "ipv6": 125},
}


def cluster_on(store: Any, seed: int = 1, **config: Any) -> Cluster:
    return Cluster(ClusterConfig(**(config or DUAL)), seed=seed, store=store)


def state_of(cluster: Cluster) -> tuple[Any, ...]:
    registry = cluster.node_registry
    return (
        {n: node.pod_cidr_texts for n, node in cluster.nodes.items()},
        {k: pod.pod_ip_texts for k, pod in cluster.pods.items()},
        [(s.cursor, list(s.iter_indices())) for s in registry.cidr_sets],
    )


def stored_items(store: MemoryStore) -> list[tuple[str, bytes | None]]:
    return [(k, v.value) for k, v in store.items()]


def test_registry_without_store_keeps_private_allocators():
    registry = NodeRegistry(ClusterConfig(**DUAL))
    registry.add_node("a")
    assert all(s.store is None for s in registry.cidr_sets)
    assert all(r.store is None for r in registry.host_local("a"))


def test_registry_on_store_uses_kube_keys_for_blocks_and_pod_ips():
    store = MemoryStore()
    registry = NodeRegistry(ClusterConfig(**DUAL), store=store)
    node = registry.add_node("a")
    registry.add_pod("p", node="a")
    assert [s.shared_state.name for s in registry.cidr_sets] == [
        node_cidrs_key(c) for c in DUAL["cluster_cidrs"]
    ]
    assert [r.shared_state.name for r in registry.host_local("a")] == [
        pod_ips_key(c) for c in node.pod_cidr_texts
    ]


def test_cluster_two_on_memory_store_alternating_nodes_and_pods_never_share():
    store = MemoryStore()
    first, second = cluster_on(store), cluster_on(store)  # same seed, same node names
    blocks: list[str] = []
    ips: list[str] = []
    for i in range(6):
        for cluster in (first, second):
            blocks.extend(cluster.add_node(f"node-{i}").pod_cidr_texts)
        for j in range(2 * (i + 1)):
            for cluster in (first, second):
                ips.extend(cluster.add_pod(f"p-{i}-{j}", node=f"node-{i}").pod_ip_texts)
    assert len(blocks) == len(set(blocks)) == 24
    assert len(ips) == len(set(ips)) == 2 * 2 * 2 * sum(range(1, 7))
    assert first.validate() == [] and second.validate() == []
    third = cluster_on(store)
    assert [s.used for s in third.node_registry.cidr_sets] == [12, 12]


def test_cluster_given_pod_cidrs_held_by_other_cluster_raises_already_allocated():
    store = MemoryStore()
    first, second = cluster_on(store), cluster_on(store)
    first.add_node("a", pod_cidrs=["10.244.7.0/24", "fd00:10:244:7::/64"])
    before = stored_items(store)
    with pytest.raises(
        AlreadyAllocatedError, match=r"^cidr 10.244.7.0/24 at idx \[0\] is already"
    ):
        second.add_node("b", pod_cidrs=["10.244.7.0/24", "fd00:10:244:8::/64"])
    assert stored_items(store) == before
    assert "b" not in second.nodes


def test_cluster_remove_node_deletes_pod_ips_key_and_frees_blocks():
    store = MemoryStore()
    first, second = cluster_on(store), cluster_on(store)
    node = first.add_node("a")
    first.add_pod("p", node="a")
    keys = [store.key(pod_ips_key(c)) for c in node.pod_cidr_texts]
    assert all(store.get(pod_ips_key(c)).exists for c in node.pod_cidr_texts)
    first.remove_node("a")
    assert not any(k in dict(store.items()) for k in keys)
    for s in second.node_registry.cidr_sets:
        s.refresh()
    assert [s.used for s in second.node_registry.cidr_sets] == [0, 0]
    # The freed blocks come round again (CIDRSet rotates): a fresh range starts at .2.
    again = second.add_node("b", pod_cidrs=list(node.pod_cidr_texts))
    assert second.add_pod("q", node="b").pod_ip_texts == ("10.244.0.2", "fd00:10:244::2")
    assert again.pod_cidr_texts == node.pod_cidr_texts


def test_cluster_add_node_full_second_family_changes_nothing_in_store_or_cluster():
    store = MemoryStore()
    config = {**SMALL, "node_mask_sizes": {"ipv4": 29, "ipv6": 120}}  # one IPv6 block
    first, second = cluster_on(store, **config), cluster_on(store, **config)
    first.add_node("a")
    for cidr_set in second.node_registry.cidr_sets:
        cidr_set.refresh()  # views show the state of the last store call
    before, local = stored_items(store), state_of(second)
    with pytest.raises(
        RangeFullError, match=r"^failed to allocate cidr from cluster cidr at idx:1"
    ):
        second.add_node("b")
    assert stored_items(store) == before
    assert state_of(second) == local


def test_cluster_add_node_store_down_changes_nothing():
    store = KeyDown(node_cidrs_key("fd00:10:244::/56"))
    cluster = cluster_on(store)
    cluster.add_node("a")
    before, local = stored_items(store.inner), state_of(cluster)
    store.down = True
    with pytest.raises(StoreUnavailableError):
        cluster.add_node("b")
    assert stored_items(store.inner) == before
    assert state_of(cluster) == local
    store.down = False
    assert cluster.add_node("b").pod_cidr_texts == ("10.244.1.0/24", "fd00:10:244:1::/64")


def test_cluster_add_pod_store_down_for_second_range_changes_nothing():
    store = KeyDown(pod_ips_key("fd00:10:244::/64"))
    cluster = cluster_on(store)
    cluster.add_node("a")
    cluster.add_pod("p", node="a")
    before, local = stored_items(store.inner), state_of(cluster)
    cursors = [r.last_reserved for r in cluster.node_registry.host_local("a")]
    store.down = True
    with pytest.raises(StoreUnavailableError):
        cluster.add_pod("q", node="a")
    assert stored_items(store.inner) == before
    assert state_of(cluster) == local
    assert [r.last_reserved for r in cluster.node_registry.host_local("a")] == cursors
    store.down = False
    assert cluster.add_pod("q", node="a").pod_ip_texts == ("10.244.0.3", "fd00:10:244::3")


def test_cluster_add_pod_range_full_in_store_changes_nothing():
    store = MemoryStore()
    first, second = cluster_on(store, **SMALL), cluster_on(store, **SMALL)
    node = first.add_node("a")
    # A second cluster running the same node (given podCIDRs, no block allocation).
    other = Cluster(ClusterConfig(**SMALL, allocate_node_cidrs=False), seed=1, store=store)
    other.add_node("a", pod_cidrs=list(node.pod_cidr_texts))
    for i in range(5):  # /29: .2 .. .6
        (first if i % 2 else other).add_pod(f"p{i}", node="a")
    before, local = stored_items(store), state_of(first)
    with pytest.raises(RangeFullError, match=r"^failed to allocate for range 0: "):
        first.add_pod("late", node="a")
    assert stored_items(store) == before
    assert state_of(first) == local
    ips = [ip for c in (first, other) for p in c.pods.values() for ip in p.pod_ip_texts]
    assert len(ips) == len(set(ips)) == 10
    del second


def test_cluster_copy_of_store_backed_cluster_is_private():
    store = MemoryStore()
    cluster = cluster_on(store)
    cluster.add_node("a")
    cluster.add_pod("p", node="a")
    twin = cluster.copy()
    before = stored_items(store)
    twin.add_node("b")
    twin.add_pod("q", node="a")
    twin.remove_pod("p")
    assert stored_items(store) == before
    assert all(s.store is None for s in twin.node_registry.cidr_sets)
    # The original keeps writing to the store; the copy does not see it.
    assert cluster.add_node("b").pod_cidr_texts == ("10.244.1.0/24", "fd00:10:244:1::/64")
    pod = cluster.add_pod("q", node="a")
    assert pod.pod_ip_texts == ("10.244.0.3", "fd00:10:244::3")
    assert sorted(cluster.pods) == ["default/p", "default/q"]
    assert twin.pods["default/q"].pod_ip_texts == ("10.244.0.3", "fd00:10:244::3")
    assert [r.store is store for r in cluster.node_registry.host_local("a")] == [True, True]
    assert cluster.validate() == [] and twin.validate() == []


def test_cluster_snapshot_on_store_records_own_blocks_and_loads():
    store = MemoryStore()
    first, second = cluster_on(store), cluster_on(store)
    first.add_node("a")
    second.add_node("b")
    first.add_node("c")
    first.add_pod("p", node="c")
    data = json.loads(json.dumps(second.snapshot()))
    loaded = Cluster.from_snapshot(data)
    assert [list(s.iter_indices()) for s in loaded.node_registry.cidr_sets] == [[1], [1]]
    assert loaded.nodes["b"].pod_cidr_texts == ("10.244.1.0/24", "fd00:10:244:1::/64")
    first_loaded = Cluster.from_snapshot(json.loads(json.dumps(first.snapshot())))
    assert [list(s.iter_indices()) for s in first_loaded.node_registry.cidr_sets] == [
        [0, 2],
        [0, 2],
    ]
    assert first_loaded.pods["default/p"].pod_ip_texts == ("10.244.2.2", "fd00:10:244:2::2")


# --- against a real etcd -------------------------------------------------------------------


@pytest.fixture(scope="module")
def etcd_server():
    """An etcd for this module (started by .ci/etcd.sh, removed at the end)."""
    yield from etcd_session()


def _worker(endpoint: str, prefix: str, out: str, nodes: int, pods: int) -> None:
    store = EtcdStore(endpoint, prefix=prefix)
    cluster = Cluster(ClusterConfig(**DUAL), seed=1, store=store)
    for i in range(nodes):
        cluster.add_node(f"node-{i}")
        for j in range(pods):
            cluster.add_pod(f"p-{j}", node=f"node-{i}", namespace=f"ns-{i}")
    cluster.remove_node("node-0")  # its Pods and block go, its Pod IP keys are deleted
    Path(out).write_text(json.dumps(cluster.snapshot()))
    store.close()


def test_etcd_three_clusters_in_processes_never_share_blocks_or_pod_ips(etcd_server, tmp_path):
    prefix = f"/test-{uuid.uuid4().hex[:12]}"
    outs = [str(tmp_path / f"out-{i}.json") for i in range(3)]
    procs = [
        FORK.Process(target=_worker, args=(etcd_server.endpoint, prefix, out, 4, 5))
        for out in outs
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    blocks: list[str] = []
    ips: list[str] = []
    for out in outs:
        data = json.loads(Path(out).read_text())
        cluster = Cluster.from_snapshot(data)
        blocks.extend(c for n in cluster.nodes.values() for c in n.pod_cidr_texts)
        ips.extend(ip for p in cluster.pods.values() for ip in p.pod_ip_texts)
    assert len(blocks) == len(set(blocks)) == 3 * 3 * 2
    assert len(ips) == len(set(ips)) == 3 * 3 * 5 * 2
    store = EtcdStore(etcd_server.endpoint, prefix=prefix)
    try:
        for cidr in DUAL["cluster_cidrs"]:
            blob = store.get(node_cidrs_key(cidr)).value
            assert blob is not None
            used = int.from_bytes(bytes(decode_range_value(blob).data), "big")
            family_blocks = {b for b in blocks if (":" in b) == (":" in cidr)}
            assert bin(used).count("1") == len(family_blocks)
        for block in blocks:
            blob = store.get(pod_ips_key(block)).value
            assert blob is not None
            assert bin(int.from_bytes(bytes(decode_range_value(blob).data), "big")).count("1") == 5
    finally:
        store.close()


# --- state machine: two clusters on one store against a plain model ----------------------


class TwoClustersOnOneStore(RuleBasedStateMachine):
    """Two clusters on one MemoryStore; the model is who holds which block and address."""

    def __init__(self) -> None:
        super().__init__()
        self.store = MemoryStore()
        self.clusters = [cluster_on(self.store, seed=s, **SMALL) for s in (1, 2)]
        self.nodes: list[dict[str, tuple[str, ...]]] = [{}, {}]
        self.pods: list[dict[str, tuple[str, str, tuple[str, ...]]]] = [{}, {}]
        self.counter = 0

    def _name(self) -> str:
        self.counter += 1
        return f"x{self.counter}"

    @rule(which=st.integers(0, 1))
    def add_node(self, which: int) -> None:
        name = self._name()
        held = {b for nodes in self.nodes for blocks in nodes.values() for b in blocks}
        before = stored_items(self.store)
        try:
            node = self.clusters[which].add_node(name)
        except RangeFullError:
            assert stored_items(self.store) == before
            assert len({b for b in held if ":" not in b}) == 2  # the IPv4 /28 is full
            return
        assert not set(node.pod_cidr_texts) & held
        self.nodes[which][name] = node.pod_cidr_texts

    def _pick(self, data: st.DataObject, held: list[dict[str, Any]]) -> int:
        return data.draw(st.sampled_from([i for i in (0, 1) if held[i]]))

    @precondition(lambda self: any(self.nodes))
    @rule(data=st.data())
    def remove_node(self, data: st.DataObject) -> None:
        which = self._pick(data, self.nodes)
        name = data.draw(st.sampled_from(sorted(self.nodes[which])))
        self.clusters[which].remove_node(name)
        del self.nodes[which][name]
        for key, (node, _, _) in list(self.pods[which].items()):
            if node == name:
                del self.pods[which][key]

    @precondition(lambda self: any(self.nodes))
    @rule(data=st.data())
    def add_pod(self, data: st.DataObject) -> None:
        which = self._pick(data, self.nodes)
        node = data.draw(st.sampled_from(sorted(self.nodes[which])))
        name = self._name()
        before = stored_items(self.store)
        try:
            pod = self.clusters[which].add_pod(name, node=node)
        except RangeFullError:
            assert stored_items(self.store) == before
            on_node = [p for n, _, p in self.pods[which].values() if n == node]
            assert len(on_node) == 5  # the /29's addresses .2 .. .6
            return
        held = {ip for pods in self.pods for _, _, ips in pods.values() for ip in ips}
        assert not set(pod.pod_ip_texts) & held
        self.pods[which][f"default/{name}"] = (node, name, pod.pod_ip_texts)

    @precondition(lambda self: any(self.pods))
    @rule(data=st.data())
    def remove_pod(self, data: st.DataObject) -> None:
        which = self._pick(data, self.pods)
        key = data.draw(st.sampled_from(sorted(self.pods[which])))
        self.clusters[which].remove_pod(self.pods[which].pop(key)[1])

    @invariant()
    def store_holds_exactly_the_union(self) -> None:
        for index, cidr in enumerate(SMALL["cluster_cidrs"]):
            blob = self.store.get(node_cidrs_key(cidr)).value
            used = 0 if blob is None else int.from_bytes(bytes(decode_range_value(blob).data))
            held = [b[index] for nodes in self.nodes for b in nodes.values()]
            assert bin(used).count("1") == len(held) == len(set(held))
        for which, cluster in enumerate(self.clusters):
            assert {n: c.pod_cidr_texts for n, c in cluster.nodes.items()} == self.nodes[which]
            assert {k: p.pod_ip_texts for k, p in cluster.pods.items()} == {
                k: ips for k, (_, _, ips) in self.pods[which].items()
            }


TwoClustersOnOneStore.TestCase.settings = settings(
    max_examples=30, stateful_step_count=30, deadline=None
)
test_two_clusters_on_one_store_machine = TwoClustersOnOneStore.TestCase

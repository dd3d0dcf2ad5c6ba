"""Store-backed allocators (``store=``): shared state, compare-and-swap, failures.

In memory (``MemoryStore``): two allocators on one key behave as one allocator; a
stale cache is caught by the write and retried on the fresh value; nothing another
client holds is ever lost; the store down, a foreign value or a value too large for
etcd leave everything as it was; ``store=None`` keeps the plain class. Against a real
etcd (the session server of tests/_etcd.py): 8 processes allocating and releasing
concurrently, a worker killed with SIGKILL, conflicting writers, and the state
machines of tests/stateful/test_store_allocators_machine.py. ``Cluster(store=...)``:
clusters on one store share ClusterIPs and adopt the ``kubernetes`` Service's address,
in memory and in four processes on etcd.
"""

from __future__ import annotations

import importlib.util
import io
import json
import multiprocessing
import os
import random
import signal
import threading
import time
import uuid
from pathlib import Path

import pytest
from _etcd import (
    KeyDown,
    etcd_session,
    make_allocator,
    new_server,
    read_allocator_journal,
    run_allocator_worker,
    stored_set,
)
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from dualstack import cli
from dualstack.cluster import Cluster
from dualstack.config import ClusterConfig
from dualstack.errors import (
    AlreadyAllocatedError,
    DualStackError,
    InvalidServiceError,
    MismatchedNetworkError,
    RangeFullError,
)
from dualstack.families import IPFamily
from dualstack.node_cidrs import NodeCIDRAllocator
from dualstack.pod_ips import PodIPAllocator
from dualstack.service_ips import RangeAllocation, ServiceIPAllocator
from dualstack.store import (
    LAST_RESERVED_ANNOTATION,
    NEXT_CANDIDATE_ANNOTATION,
    NODE_MASK_SIZE_ANNOTATION,
    EtcdStore,
    MemoryStore,
    RangeValue,
    RetryPolicy,
    Store,
    StoreConflictError,
    StoreError,
    StoreUnavailableError,
    SwapResult,
    Versioned,
    decode_range_value,
    encode_range_value,
    node_cidrs_key,
    pod_ips_key,
    service_ips_key,
)

FORK = multiprocessing.get_context("fork")


@pytest.fixture(scope="module")
def etcd_server():
    """An etcd for this module (started by .ci/etcd.sh, removed at the end)."""
    yield from etcd_session()


def unique_prefix() -> str:
    return f"/test-{uuid.uuid4().hex[:12]}"


def node_alloc(store: Store | None, **kwargs) -> NodeCIDRAllocator:
    return NodeCIDRAllocator("10.244.0.0/16", 24, store=store, **kwargs)


def pod_alloc(store: Store | None, cidr: str = "10.244.1.0/24", **kwargs) -> PodIPAllocator:
    return PodIPAllocator(cidr, store=store, **kwargs)


def service_alloc(store: Store | None, **kwargs) -> ServiceIPAllocator:
    return ServiceIPAllocator("10.96.0.0/16", store=store, rng=random.Random(7), **kwargs)


def stored(store: Store, name: str) -> RangeValue:
    blob = store.get(name).value
    assert blob is not None
    return decode_range_value(blob)


# --- store=None: the plain allocators ----------------------------------------------------


ALL = [node_alloc, pod_alloc, service_alloc]
ALL_IDS = ["nodes", "pods", "services"]


@pytest.mark.parametrize("make", ALL, ids=ALL_IDS)
def test_allocator_without_store_is_plain_class(make):
    alloc = make(None)
    assert type(alloc) in (NodeCIDRAllocator, PodIPAllocator, ServiceIPAllocator)
    assert alloc.store is None
    assert alloc.shared_state is None
    alloc.refresh()  # a no-op
    alloc.allocate_next()
    assert alloc.used == 1


@pytest.mark.parametrize("make", ALL, ids=ALL_IDS)
def test_allocator_on_memory_store_same_results_as_private(make):
    private, shared = make(None), make(MemoryStore())
    rng = random.Random(4)
    for _ in range(300):
        if private.used and rng.random() < 0.4:
            victim = rng.choice(list(private))
            private.release(victim)
            shared.release(victim)
        else:
            assert shared.allocate_next() == private.allocate_next()
    assert list(shared) == list(private)
    assert repr(shared).startswith(repr(private)[:-1])


# --- two clients on one key ----------------------------------------------------------------


def test_node_cidrs_two_clients_share_blocks_and_cursor():
    store = MemoryStore()
    a, b = node_alloc(store), node_alloc(store)
    got = [str(x.allocate_next()) for x in (a, b, a, b, b)]
    assert got == [f"10.244.{i}.0/24" for i in range(5)]
    b.refresh()
    assert b.cursor == 5
    assert a.cursor == 3  # a's view is as of its last call
    a.refresh()
    assert [str(n) for n in a] == got
    assert a.shared_state is not None
    assert a.shared_state.key == "/registry/ranges/nodecidrs/10.244.0.0/16"


def test_node_cidrs_stored_value_is_range_allocation_with_cursor_and_mask():
    store = MemoryStore()
    alloc = node_alloc(store)
    alloc.allocate_next()
    alloc.occupy("10.244.9.0/24")
    value = stored(store, node_cidrs_key("10.244.0.0/16"))
    assert value == RangeValue(
        "10.244.0.0/16",
        (1 << 9 | 1).to_bytes(2, "big"),
        {NEXT_CANDIDATE_ANNOTATION: "1", NODE_MASK_SIZE_ANNOTATION: "24"},
    )


def test_node_cidrs_stale_client_conflict_retries_on_fresh_state():
    store = MemoryStore()
    a, b = node_alloc(store), node_alloc(store)
    a.allocate_next()
    a.allocate_next()
    assert str(b.allocate_next()) == "10.244.2.0/24"  # b's cache said 0 was free
    assert b.shared_state is not None
    assert b.shared_state.stats.conflicts == 1


def test_node_cidrs_release_on_stale_cache_keeps_other_clients_blocks():
    store = MemoryStore()
    a, b = node_alloc(store), node_alloc(store)
    mine = b.allocate_next()
    theirs = [a.allocate_next() for _ in range(3)]
    b.release(mine)  # b never saw a's blocks: the write must not drop them
    c = node_alloc(store)
    assert list(c) == theirs


def test_node_cidrs_full_in_store_raises_range_full_and_changes_nothing():
    store = MemoryStore()
    a = NodeCIDRAllocator("10.0.0.0/30", 31, store=store)
    b = NodeCIDRAllocator("10.0.0.0/30", 31, store=store)
    a.allocate_next()
    a.allocate_next()
    before = store.get(node_cidrs_key("10.0.0.0/30"))
    with pytest.raises(RangeFullError, match=r"^CIDR allocation failed; there are no remaining"):
        b.allocate_next()  # b's cache says two blocks are free: it must look again
    assert store.get(node_cidrs_key("10.0.0.0/30")) == before
    assert b.used == 0  # a failing call leaves the client's view as it was
    b.refresh()
    assert b.used == 2


def test_node_cidrs_cursor_setter_is_stored():
    store = MemoryStore()
    a, b = node_alloc(store), node_alloc(store)
    a.cursor = 7
    assert str(b.allocate_next()) == "10.244.7.0/24"


@pytest.mark.parametrize(
    ("kwargs", "stored_range", "mask"),
    [
        ({}, "10.245.0.0/16", "24"),
        ({}, "10.244.0.0/16", "25"),
    ],
    ids=["other-range", "other-mask"],
)
def test_node_cidrs_foreign_value_at_key_raises_mismatch(kwargs, stored_range, mask):
    store = MemoryStore()
    blob = encode_range_value(RangeValue(stored_range, b"", {NODE_MASK_SIZE_ANNOTATION: mask}))
    store.compare_and_swap(node_cidrs_key("10.244.0.0/16"), blob, revision=0)
    with pytest.raises(MismatchedNetworkError) as caught:
        node_alloc(store, **kwargs)
    assert str(caught.value).startswith(
        "the provided network does not match the current range — /registry/ranges/nodecidrs/"
    )


def test_node_cidrs_custom_key_and_prefix():
    store = MemoryStore(prefix="/sim")
    alloc = node_alloc(store, key="ranges/cluster-a")
    alloc.allocate_next()
    assert [k for k, _ in store.items()] == ["/sim/ranges/cluster-a"]


def test_pod_ips_two_clients_round_robin_shared():
    store = MemoryStore()
    a, b = pod_alloc(store), pod_alloc(store)
    got = [str(x.allocate_next()) for x in (a, b, a)]
    assert got == ["10.244.1.2", "10.244.1.3", "10.244.1.4"]
    assert str(b.allocate("10.244.1.9")) == "10.244.1.9"
    assert str(a.allocate_next()) == "10.244.1.10"  # after b's last reserved address
    with pytest.raises(AlreadyAllocatedError, match=r"^requested IP address 10\.244\.1\.3 is not"):
        a.allocate("10.244.1.3")


def test_pod_ips_stored_value_without_gateway_decode_range_lists_pods(tmp_path, capsys):
    store = MemoryStore()
    alloc = pod_alloc(store)
    alloc.allocate_next()
    alloc.allocate("10.244.1.9")
    value = stored(store, pod_ips_key("10.244.1.0/24"))
    assert value == RangeValue(
        "10.244.1.0/24",
        (1 << 8 | 1 << 1).to_bytes(2, "big"),
        {LAST_RESERVED_ANNOTATION: "10.244.1.9"},
    )
    path = tmp_path / "value"
    path.write_bytes(store.get(pod_ips_key("10.244.1.0/24")).value or b"")
    assert cli.main(["decode-range", str(path), "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["allocated"] == ["10.244.1.2", "10.244.1.9"]


def test_pod_ips_other_window_bits_kept_and_shared():
    store = MemoryStore()
    low = pod_alloc(store, range_end="10.244.1.99")
    high = pod_alloc(store, range_start="10.244.1.100", gateway="10.244.1.100")
    assert str(high.allocate_next()) == "10.244.1.101"
    assert str(low.allocate_next()) == "10.244.1.2"
    high.allocate("10.244.1.200")
    low.release("10.244.1.2")
    everything = pod_alloc(store)
    assert [str(ip) for ip in everything] == ["10.244.1.101", "10.244.1.200"]
    with pytest.raises(AlreadyAllocatedError):
        everything.allocate("10.244.1.101")


def test_pod_ips_address_too_far_for_etcd_raises_and_changes_nothing():
    store = MemoryStore()
    alloc = pod_alloc(store, "fd00::/64")
    alloc.allocate_next()
    before = store.get(pod_ips_key("fd00::/64"))
    with pytest.raises(StoreError, match=r"^Pod IP fd00::1:0:0:0 cannot be stored at "):
        alloc.allocate("fd00::1:0:0:0")
    assert store.get(pod_ips_key("fd00::/64")) == before
    assert [str(ip) for ip in alloc] == ["fd00::2"]
    assert alloc.last_reserved_ip is not None and str(alloc.last_reserved_ip) == "fd00::2"


def test_pod_ips_last_reserved_setter_is_stored():
    store = MemoryStore()
    a, b = pod_alloc(store), pod_alloc(store)
    a.last_reserved = int(a.pool.network) + 50
    assert str(b.allocate_next()) == "10.244.1.51"


@pytest.mark.parametrize("make", ALL, ids=ALL_IDS)
def test_copy_of_store_backed_allocator_is_private(make):
    store = MemoryStore()
    alloc = make(store)
    alloc.allocate_next()
    twin = alloc.copy()
    assert twin.store is None
    twin.allocate_next()
    assert make(store).used == 1


# --- failures --------------------------------------------------------------------------------


class Down:
    """A store that fails every call (``maybe_applied`` for writes as given)."""

    def __init__(self, inner: MemoryStore, *, maybe_applied: bool) -> None:
        self.inner, self.maybe = inner, maybe_applied
        self.prefix = inner.prefix
        self.down = False

    def key(self, name: str) -> str:
        return self.inner.key(name)

    def get(self, name: str) -> Versioned:
        if self.down:
            raise StoreUnavailableError("etcd at test is unavailable: down")
        return self.inner.get(name)

    def compare_and_swap(self, name, value, *, revision):
        if self.down:
            raise StoreUnavailableError(
                "etcd at test is unavailable: down", maybe_applied=self.maybe
            )
        return self.inner.compare_and_swap(name, value, revision=revision)


def view(alloc) -> tuple:
    cursor = getattr(alloc, "cursor", None) or getattr(alloc, "last_reserved", None)
    rng = alloc._rng.getstate() if isinstance(alloc, ServiceIPAllocator) else None
    return [str(x) for x in alloc], cursor, alloc.used, alloc.shared_state.revision, rng


VERBS = [
    ("nodes", "allocate_next", ()),
    ("nodes", "allocate_next_index", ()),
    ("nodes", "occupy", ("10.244.40.0/22",)),
    ("nodes", "release", ("10.244.0.0/24",)),
    ("nodes", "occupy_range", (50, 60)),
    ("nodes", "release_range", (0, 1)),
    ("nodes", "cursor", (9,)),
    ("pods", "allocate_next", ()),
    ("pods", "allocate_next_int", ()),
    ("pods", "allocate", ("10.244.1.77",)),
    ("pods", "allocate_int", (int(PodIPAllocator("10.244.1.0/24").pool.network) + 80,)),
    ("pods", "release", ("10.244.1.2",)),
    ("pods", "release_int", (int(PodIPAllocator("10.244.1.0/24").pool.network) + 2,)),
    ("pods", "last_reserved", (int(PodIPAllocator("10.244.1.0/24").pool.network) + 30,)),
    ("services", "allocate_next", ()),
    ("services", "allocate_next_int", ()),
    ("services", "allocate", ("10.96.0.10",)),
    ("services", "allocate_int", (int(ServiceIPAllocator("10.96.0.0/16").first) + 20,)),
    ("services", "release", ("10.96.0.1",)),
    ("services", "release_int", (int(ServiceIPAllocator("10.96.0.0/16").first),)),
    ("services", "restore", (RangeAllocation("10.96.0.0/16", b"\x01"),)),
]


@pytest.mark.parametrize("maybe_applied", [False, True], ids=["clean", "maybe-applied"])
@pytest.mark.parametrize(("kind", "verb", "args"), VERBS, ids=[f"{k}-{v}" for k, v, _ in VERBS])
def test_store_down_every_verb_raises_and_changes_nothing(kind, verb, args, maybe_applied):
    inner = MemoryStore()
    store = Down(inner, maybe_applied=maybe_applied)
    alloc = {"nodes": node_alloc, "pods": pod_alloc, "services": service_alloc}[kind](store)
    if kind == "services":
        alloc.allocate("10.96.0.1")
    alloc.allocate_next()
    alloc.allocate_next()
    before, stored_before = view(alloc), list(inner.items())
    store.down = True
    with pytest.raises(StoreUnavailableError, match=r"^etcd at test is unavailable") as caught:
        if verb in ("cursor", "last_reserved"):
            setattr(alloc, verb, *args)
        else:
            getattr(alloc, verb)(*args)
    assert caught.value.maybe_applied is maybe_applied
    assert view(alloc) == before
    assert list(inner.items()) == stored_before
    store.down = False
    if verb not in ("cursor", "last_reserved"):
        getattr(alloc, verb)(*args)  # works again once the store is back


def test_store_down_at_construction_raises_unavailable():
    store = Down(MemoryStore(), maybe_applied=False)
    store.down = True
    with pytest.raises(StoreUnavailableError):
        node_alloc(store)


class AlwaysMoved:
    """A store where another writer wins just before every compare-and-swap."""

    def __init__(self) -> None:
        self.inner = MemoryStore()
        self.prefix = self.inner.prefix

    def key(self, name: str) -> str:
        return self.inner.key(name)

    def get(self, name: str) -> Versioned:
        return self.inner.get(name)

    def compare_and_swap(self, name, value, *, revision) -> SwapResult:
        current = self.inner.get(name)
        if current.value is not None:  # rewrite the same value: only the revision moves
            self.inner.compare_and_swap(name, current.value, revision=current.revision)
        return self.inner.compare_and_swap(name, value, revision=revision)


def test_conflict_on_every_attempt_raises_conflict_error_and_changes_nothing():
    store = AlwaysMoved()
    alloc = node_alloc(store, retry=RetryPolicy(attempts=3, base_delay=0, max_delay=0))
    alloc.allocate_next()  # creating the key cannot conflict here
    before = view(alloc)
    with pytest.raises(StoreConflictError, match=r"^Operation cannot be fulfilled on "):
        alloc.allocate_next()
    assert view(alloc)[:3] == before[:3]
    assert [str(n) for n in node_alloc(store.inner)] == ["10.244.0.0/24"]


def test_threads_on_memory_store_hand_out_each_block_once():
    store = MemoryStore()
    results: list[list[str]] = [[] for _ in range(4)]

    def work(out: list[str]) -> None:
        alloc = NodeCIDRAllocator("10.0.0.0/22", 30, store=store)
        for _ in range(64):
            out.append(str(alloc.allocate_next()))

    pool = [threading.Thread(target=work, args=(r,)) for r in results]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    everything = [b for r in results for b in r]
    assert len(everything) == len(set(everything)) == 256
    with pytest.raises(RangeFullError):
        NodeCIDRAllocator("10.0.0.0/22", 30, store=store).allocate_next()


def test_service_ips_stored_value_is_kube_apiserver_range_allocation():
    store = MemoryStore()
    alloc = service_alloc(store)
    alloc.allocate("10.96.0.1")
    alloc.allocate("10.96.0.10")
    value = stored(store, service_ips_key(0))
    assert value == RangeValue("10.96.0.0/16", alloc.snapshot().data, {})
    assert value.data == (1 << 9 | 1).to_bytes(2, "big")


def test_service_ips_two_clients_never_hand_out_twice():
    store = MemoryStore()
    a = ServiceIPAllocator("10.96.0.0/28", store=store, rng=random.Random(1))
    b = ServiceIPAllocator("10.96.0.0/28", store=store, rng=random.Random(1))  # same draws
    got = [str(x.allocate_next()) for x in (a, b) * 7]
    assert len(set(got)) == 14
    with pytest.raises(RangeFullError, match=r"^range is full"):
        a.allocate_next()
    assert b.shared_state is not None and b.shared_state.stats.conflicts > 0


def test_service_ips_secondary_key_and_other_range_mismatch():
    store = MemoryStore()
    ServiceIPAllocator("fd00:10:96::/112", store=store, key=service_ips_key(1)).allocate_next()
    assert stored(store, service_ips_key(1)).range == "fd00:10:96::/112"
    with pytest.raises(MismatchedNetworkError, match=r"^the provided network does not match"):
        ServiceIPAllocator("fd00:10:97::/112", store=store, key=service_ips_key(1))


def test_service_ips_range_without_bitmap_encoding_refuses_store():
    with pytest.raises(DualStackError, match=r"^no RangeAllocation bitmap encodes fd00::/64"):
        ServiceIPAllocator("fd00::/64", version="1.34", store=MemoryStore())


def test_service_ips_restore_through_store_replaces_shared_state():
    store = MemoryStore()
    a, b = service_alloc(store), service_alloc(store)
    a.allocate("10.96.0.5")
    b.restore(RangeAllocation("10.96.0.0/16", b"\x03"))
    a.refresh()
    assert [str(ip) for ip in a] == ["10.96.0.1", "10.96.0.2"]


def test_not_a_range_allocation_at_key_raises():
    store = MemoryStore()
    store.compare_and_swap(pod_ips_key("10.244.1.0/24"), b"{}", revision=0)
    with pytest.raises(DualStackError, match="is not a RangeAllocation"):
        pod_alloc(store)


# --- against a real etcd ---------------------------------------------------------------------

KINDS = ("services", "nodes", "pods")


def start_workers(endpoint, prefix, tmp_path, count, ops, kinds=KINDS, **kwargs):
    journals = [str(tmp_path / f"journal-{i}") for i in range(count)]
    procs = [
        FORK.Process(
            target=run_allocator_worker,
            args=(endpoint, prefix, journals[i], 2000 + i, ops, kinds),
            kwargs=kwargs,
        )
        for i in range(count)
    ]
    for p in procs:
        p.start()
    return procs, journals


def wait_for_lines(path: str, count: int, limit: float = 60.0) -> None:
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if os.path.exists(path) and Path(path).read_text().count("\n") >= count:
            return
        time.sleep(0.02)
    raise AssertionError(f"{path} did not reach {count} lines")


def test_etcd_eight_processes_20000_operations_each_address_held_once(etcd_server, tmp_path):
    prefix = unique_prefix()
    procs, journals = start_workers(etcd_server.endpoint, prefix, tmp_path, 8, 2500)
    for p in procs:
        p.join(timeout=600)
        assert p.exitcode == 0
    records = [read_allocator_journal(j) for j in journals]
    assert all(r.finished and r.failures == 0 for r in records)
    assert sum(r.ops for r in records) == 20_000
    assert sum(r.conflicts for r in records) > 0  # they did race
    store = EtcdStore(etcd_server.endpoint, prefix=prefix)
    for kind in KINDS:
        union: set[str] = set()
        for r in records:
            mine = r.held.get(kind, set())
            assert not union & mine, f"a {kind} value is held by two processes"
            union |= mine
        assert union, f"nothing of {kind} held at the end"
        assert stored_set(kind, store) == union


def test_etcd_worker_killed_mid_run_leaves_store_consistent(etcd_server, tmp_path):
    prefix = unique_prefix()
    procs, journals = start_workers(etcd_server.endpoint, prefix, tmp_path, 4, 300)
    wait_for_lines(journals[0], 200)
    os.kill(procs[0].pid, signal.SIGKILL)
    for p in procs:
        p.join(timeout=120)
    assert procs[0].exitcode == -signal.SIGKILL
    assert all(p.exitcode == 0 for p in procs[1:])
    records = [read_allocator_journal(j) for j in journals]
    assert not records[0].finished
    assert all(r.finished and r.failures == 0 for r in records[1:])
    store = EtcdStore(etcd_server.endpoint, prefix=prefix)
    for kind in KINDS:
        union: set[str] = set()
        for r in records:
            mine = r.held.get(kind, set())
            assert not union & mine
            union |= mine
        found = stored_set(kind, store)  # the value decodes: it is whole
        # Only the killed worker's call in flight may differ from its journal.
        assert union - found <= records[0].pending_release.get(kind, set())
        assert len(found - union) <= records[0].pending_allocate.get(kind, 0)
        # The survivors' allocators then kept working on that value.
        make_allocator(kind, store).allocate_next()


@pytest.mark.parametrize("kind", KINDS)
def test_etcd_conflicting_writers_each_get_a_different_address(etcd_server, kind):
    store = EtcdStore(etcd_server.endpoint, prefix=unique_prefix())
    clients = [make_allocator(kind, store) for _ in range(4)]
    got: list[str] = []
    for _ in range(5):
        barrier = threading.Barrier(len(clients))
        out: list[str] = []

        def run(alloc, barrier=barrier, out=out) -> None:
            barrier.wait()
            out.append(str(alloc.allocate_next()))

        pool = [threading.Thread(target=run, args=(c,)) for c in clients]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        assert len(out) == len(clients)
        got.extend(out)
    assert len(set(got)) == len(got) == 20
    assert stored_set(kind, store) == set(got)
    assert sum(c.shared_state.stats.conflicts for c in clients) > 0


def test_etcd_stopped_calls_fail_cleanly_then_succeed_after_restart():
    server = new_server()
    try:
        endpoint = server.start()
        store = EtcdStore(endpoint, prefix=unique_prefix(), timeout=0.5)
        nodes, pods = make_allocator("nodes", store), make_allocator("pods", store)
        nodes.allocate_next()
        pods.allocate_next()
        server.stop()
        for alloc in (nodes, pods):
            before = view(alloc)
            with pytest.raises(
                StoreUnavailableError, match=r"^etcd at http://127\.0\.0\.1:\d+ is "
            ):
                alloc.allocate_next()
            with pytest.raises(StoreUnavailableError):
                alloc.release(next(iter(alloc)))
            assert view(alloc) == before
        assert server.start() == endpoint
        assert str(nodes.allocate_next()) == "10.244.0.64/26"
        assert str(pods.allocate_next()) == "10.64.0.3"
        assert stored_set("pods", store) == {"10.64.0.2", "10.64.0.3"}
    finally:
        server.clean()


MACHINES = ["make_node_machine", "make_pod_machine", "make_service_machine"]


def load_machines():
    spec = importlib.util.spec_from_file_location(
        "_store_allocators_machine",
        Path(__file__).parent / "stateful" / "test_store_allocators_machine.py",
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "maker", ["make_node_machine", "make_pod_machine", "make_service_machine"]
)
def test_etcd_allocator_state_machines_run_on_etcd(etcd_server, maker, monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parent / "stateful"))
    machines = load_machines()
    factory = getattr(machines, maker)
    run_state_machine_as_test(
        factory(lambda: EtcdStore(etcd_server.endpoint, prefix=unique_prefix())),
        settings=settings(max_examples=6, stateful_step_count=20, deadline=None),
    )


def test_etcd_decode_range_reads_stored_pod_ips(etcd_server, capsys, monkeypatch):
    store = EtcdStore(etcd_server.endpoint, prefix=unique_prefix())
    alloc = make_allocator("pods", store)
    first, second = alloc.allocate_next(), alloc.allocate_next()
    raw = store.get(pod_ips_key("10.64.0.0/16")).value
    assert raw is not None
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(raw)))
    assert cli.main(["decode-range", "-", "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["allocated"] == [str(first), str(second)]


# --- Cluster(store=...) ----------------------------------------------------------------------

DUAL = {"cluster_cidrs": ["10.244.0.0/16"], "service_cidrs": ["10.96.0.0/16", "fd00:10:96::/112"]}


def web(name: str = "web", **spec) -> dict:
    body = {"ipFamilyPolicy": "RequireDualStack", "ports": [{"port": 80}], **spec}
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": body}


def cluster_on(store, seed: int = 1) -> Cluster:
    return Cluster(ClusterConfig(**DUAL), seed=seed, store=store)


def test_cluster_second_on_store_adopts_kubernetes_service_address():
    store = MemoryStore()
    first, second = cluster_on(store), cluster_on(store)
    for cluster in (first, second):
        assert cluster.get_service("kubernetes")["spec"]["clusterIPs"] == ["10.96.0.1"]
        assert cluster.validate() == []
    assert [k for k, _ in store.items()] == ["/registry/ranges/serviceips"]
    first.create_service(web())
    assert [k for k, _ in store.items()] == [
        "/registry/ranges/secondaryserviceips",
        "/registry/ranges/serviceips",
    ]


def test_cluster_services_on_one_store_never_share_an_address():
    store = MemoryStore()
    clusters = [cluster_on(store, seed=3) for _ in range(3)]  # same seed: same draws
    seen: list[str] = []
    for i in range(10):
        for j, cluster in enumerate(clusters):
            seen.extend(cluster.create_service(web(f"web-{i}-{j}"))["spec"]["clusterIPs"])
    assert len(seen) == len(set(seen)) == 60
    clusters[0].delete_service("web-0-0")
    fresh = cluster_on(store)
    assert sorted(map(str, fresh.service_allocators[IPFamily.IPv4])) == sorted(
        {"10.96.0.1"} | {ip for ip in seen[2:] if ":" not in ip}
    )


def test_cluster_deleting_kubernetes_service_keeps_address_held():
    store = MemoryStore()
    first, second = cluster_on(store), cluster_on(store)
    first.delete_service("kubernetes")  # recreated at once, as the bootstrap controller does
    second.delete_service("kubernetes")
    assert "10.96.0.1" in [str(ip) for ip in cluster_on(store).service_allocators[IPFamily.IPv4]]
    with pytest.raises(InvalidServiceError, match="provided IP is already allocated"):
        first.create_service(web("steal", clusterIP="10.96.0.1", ipFamilyPolicy="SingleStack"))


def test_cluster_store_down_for_second_family_gives_back_first_and_changes_nothing():
    store = KeyDown("ranges/secondaryserviceips")
    cluster = cluster_on(store)
    cluster.create_service(web("before"))
    rngs = {f: r.getstate() for f, r in cluster._service_rngs.items()}
    stored = list(store.inner.items())
    store.down = True
    with pytest.raises(StoreUnavailableError):
        cluster.create_service(web())
    assert "default/web" not in cluster.services
    assert {f: r.getstate() for f, r in cluster._service_rngs.items()} == rngs
    assert [(k, v.value) for k, v in store.inner.items()] == [(k, v.value) for k, v in stored]
    store.down = False
    assert len(cluster.create_service(web())["spec"]["clusterIPs"]) == 2
    assert cluster.validate() == []


def test_cluster_delete_with_store_down_keeps_service():
    store = KeyDown("ranges/serviceips")
    cluster = cluster_on(store)
    cluster.create_service(web(ipFamilyPolicy="SingleStack"))
    store.down = True
    with pytest.raises(StoreUnavailableError):
        cluster.delete_service("web")
    assert "default/web" in cluster.services
    store.down = False
    cluster.delete_service("web")
    assert cluster.validate() == []


def test_cluster_copy_of_store_backed_cluster_is_private():
    store = MemoryStore()
    cluster = cluster_on(store)
    twin = cluster.copy()
    twin.create_service(web())
    assert cluster_on(store).service_allocators[IPFamily.IPv4].used == 1


def run_cluster_worker(endpoint: str, prefix: str, out_path: str, seed: int, count: int) -> None:
    """A process with its own Cluster on etcd: create ``count`` Services, delete a third."""
    cluster = cluster_on(EtcdStore(endpoint, prefix=prefix), seed=seed)
    rng = random.Random(seed)
    names: list[str] = []
    for i in range(count):
        names.append(f"web-{i}")
        cluster.create_service(web(names[-1]))
        if rng.random() < 0.33:
            cluster.delete_service(names.pop(rng.randrange(len(names))))
    held = sorted(ip for s in cluster.services.values() for ip in s["spec"]["clusterIPs"])
    Path(out_path).write_text(json.dumps(held))


def test_etcd_clusters_in_four_processes_share_service_addresses(etcd_server, tmp_path):
    prefix = unique_prefix()
    outs = [str(tmp_path / f"held-{i}") for i in range(4)]
    procs = [
        FORK.Process(
            target=run_cluster_worker, args=(etcd_server.endpoint, prefix, outs[i], 5, 60)
        )
        for i in range(4)  # the same seed everywhere: all draw the same numbers
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
        assert p.exitcode == 0
    held = [json.loads(Path(o).read_text()) for o in outs]
    assert all("10.96.0.1" in h for h in held)  # every cluster has the kubernetes Service
    others = [ip for h in held for ip in h if ip != "10.96.0.1"]
    assert len(others) == len(set(others))
    found = cluster_on(EtcdStore(etcd_server.endpoint, prefix=prefix))
    stored_ips = {str(ip) for a in found.service_allocators.values() for ip in a}
    assert stored_ips == set(others) | {"10.96.0.1"}


def test_cluster_snapshot_on_shared_store_holds_own_services_and_loads_private():
    store = MemoryStore()
    first, second = cluster_on(store), cluster_on(store)
    first.create_service(web("a"))
    second.create_service(web("b"))
    first.create_service(web("c", ipFamilyPolicy="SingleStack"))
    loaded = Cluster.from_snapshot(first.snapshot())
    assert sorted(loaded.services) == ["default/a", "default/c", "default/kubernetes"]
    assert loaded.validate() == []
    mine = {ip for s in first.services.values() for ip in s["spec"]["clusterIPs"]}
    assert {str(ip) for a in loaded.service_allocators.values() for ip in a} == mine


def test_cluster_update_release_failing_after_commit_leaks_and_update_stands():
    store = KeyDown("ranges/secondaryserviceips")
    cluster = cluster_on(store)
    created = cluster.create_service(web())
    v6 = created["spec"]["clusterIPs"][1]
    store.down = True
    single = web(ipFamilyPolicy="SingleStack", ipFamilies=["IPv4"])
    single["spec"]["clusterIPs"] = created["spec"]["clusterIPs"][:1]
    updated = cluster.update_service(single)
    assert updated["spec"]["clusterIPs"] == created["spec"]["clusterIPs"][:1]
    store.down = False
    fresh = cluster_on(store)
    assert v6 in [str(ip) for ip in fresh.service_allocators[IPFamily.IPv6]]  # leaked

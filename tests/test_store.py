"""Shared state: stores, the stored RangeAllocation, SharedState, and a real etcd.

In-memory tests need nothing; the etcd tests use the session etcd that ``.ci/etcd.sh``
starts (tests/_etcd.py) and skip, saying why, only when no etcd binary can be had.
The concurrency tests run real processes through etcd with a toy bitmap allocator
(``tests/_etcd.py``) and check the only things that matter: no offset held twice, the
stored bitmap equal to what the processes hold, nothing lost.
"""

from __future__ import annotations

import importlib.util
import io
import json
import multiprocessing
import os
import random
import signal
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest
from _etcd import (
    TOY_KEY,
    TOY_RANGE,
    etcd_session,
    new_server,
    read_journal,
    run_worker,
    toy_state,
)
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from dualstack import cli
from dualstack._k8sproto import decode_range_allocation, encode_envelope
from dualstack.bitmap import AllocationBitmap
from dualstack.errors import ConfigError, DualStackError, RangeFullError
from dualstack.store import (
    LAST_RESERVED_ANNOTATION,
    NEXT_CANDIDATE_ANNOTATION,
    EtcdStore,
    MemoryStore,
    RangeValue,
    RetryPolicy,
    SharedState,
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


@pytest.fixture(scope="session")
def etcd_server():
    """The session's etcd (started by .ci/etcd.sh, removed at the end)."""
    yield from etcd_session()


def unique_prefix() -> str:
    return f"/test-{uuid.uuid4().hex[:12]}"


# --- the stored form and key names -------------------------------------------------------


@pytest.mark.parametrize(
    ("offsets", "data_b64"),
    [((), ""), ((0,), "AQ=="), ((9,), "AgA="), ((0, 9), "AgE=")],
    ids=["empty", "first", "tenth", "both"],
)
def test_encode_range_value_spec_examples_decode_range_reads_them(offsets, data_b64):
    bitmap = AllocationBitmap(254)
    for offset in offsets:
        bitmap.allocate(offset)
    blob = encode_range_value(RangeValue("10.0.0.0/24", bitmap.to_k8s_bytes()))
    doc = json.loads(blob)
    assert doc == {
        "kind": "RangeAllocation",
        "apiVersion": "v1",
        "metadata": {},
        "range": "10.0.0.0/24",
        "data": data_b64,
    }
    assert decode_range_allocation(blob) == ("10.0.0.0/24", bitmap.to_k8s_bytes())


def test_decode_range_value_annotations_round_trip():
    value = RangeValue(
        "10.244.0.0/16",
        b"\x01",
        {NEXT_CANDIDATE_ANNOTATION: "17", LAST_RESERVED_ANNOTATION: "10.244.0.9"},
    )
    assert decode_range_value(encode_range_value(value)) == value


def test_decode_range_value_kube_apiserver_protobuf_read_without_annotations():
    blob = encode_envelope("fd00:10:96::/112", b"\x02\x01")
    assert decode_range_value(blob) == RangeValue("fd00:10:96::/112", b"\x02\x01", {})


@pytest.mark.parametrize(
    "blob",
    [b"", b"{}", b'{"kind":"Secret","apiVersion":"v1","range":"10.0.0.0/24"}', b"k8s\x00\xff"],
    ids=["empty", "no-range", "other-kind", "broken-protobuf"],
)
def test_decode_range_value_not_a_range_allocation_raises(blob):
    with pytest.raises(DualStackError):
        decode_range_value(blob)


def test_decode_range_cli_reads_stored_value(tmp_path, capsys):
    bitmap = AllocationBitmap(254)
    bitmap.allocate(0)
    bitmap.allocate(9)
    path = tmp_path / "value"
    path.write_bytes(encode_range_value(RangeValue("10.0.0.0/24", bitmap.to_k8s_bytes())))
    assert cli.main(["decode-range", str(path), "-o", "json"]) == 0
    out = capsys.readouterr().out
    assert "10.0.0.1" in out
    assert "10.0.0.10" in out


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (service_ips_key(0), "/registry/ranges/serviceips"),
        (service_ips_key(1), "/registry/ranges/secondaryserviceips"),
        (node_cidrs_key("10.244.7.0/16"), "/registry/ranges/nodecidrs/10.244.0.0/16"),
        (node_cidrs_key("FD00:10:244::/56"), "/registry/ranges/nodecidrs/fd00:10:244::/56"),
        (pod_ips_key("10.244.3.0/24"), "/registry/ranges/podips/10.244.3.0/24"),
    ],
    ids=["primary", "secondary", "node-v4-canonical", "node-v6-canonical", "pods"],
)
def test_key_names_under_default_prefix_match_layout(name, expected):
    assert MemoryStore().key(name) == expected


def test_service_ips_key_third_range_raises():
    with pytest.raises(ConfigError, match="invalid service range index 2"):
        service_ips_key(2)


@pytest.mark.parametrize("prefix", ["registry", "", 7], ids=["relative", "empty", "int"])
def test_memory_store_relative_prefix_raises(prefix):
    with pytest.raises(ConfigError, match="invalid store prefix"):
        MemoryStore(prefix=prefix)


def test_store_implementations_satisfy_store_protocol():
    assert isinstance(MemoryStore(), Store)
    with EtcdStore() as store:  # no connection is made before the first call
        assert isinstance(store, Store)
        assert repr(store) == "EtcdStore('http://127.0.0.1:2379', prefix='/registry', timeout=5.0)"


def test_store_errors_are_dualstack_errors():
    assert issubclass(StoreError, DualStackError)
    assert issubclass(StoreConflictError, StoreError)
    assert issubclass(StoreUnavailableError, StoreError)
    assert StoreUnavailableError("x").maybe_applied is False


# --- store semantics, on MemoryStore and on etcd -----------------------------------------


@pytest.fixture(params=["memory", "etcd-http", "etcd-etcd3gw"])
def any_store(request) -> Store:
    if request.param == "memory":
        return MemoryStore(prefix=unique_prefix())
    if request.param == "etcd-etcd3gw":
        pytest.importorskip("etcd3gw", reason="etcd3gw (extra dualstack[etcd]) not installed")
    server = request.getfixturevalue("etcd_server")
    client = request.param.removeprefix("etcd-")
    return EtcdStore(server.endpoint, prefix=unique_prefix(), client=client)


def test_store_absent_key_reads_none_at_revision_zero(any_store):
    assert any_store.get("ranges/serviceips") == Versioned(None, 0)


def test_store_create_then_stale_create_conflicts_with_current_value(any_store):
    first = any_store.compare_and_swap("k", b"one", revision=0)
    assert first.ok
    assert first.current.value == b"one"
    assert first.current.revision > 0
    again = any_store.compare_and_swap("k", b"two", revision=0)
    assert again == SwapResult(False, first.current)
    assert any_store.get("k") == first.current


def test_store_swap_at_current_revision_moves_revision(any_store):
    first = any_store.compare_and_swap("k", b"one", revision=0).current
    other = any_store.compare_and_swap("other", b"x", revision=0).current
    second = any_store.compare_and_swap("k", b"two", revision=first.revision)
    assert second.ok
    assert second.current.revision > other.revision > first.revision
    assert any_store.get("k") == Versioned(b"two", second.current.revision)


def test_store_delete_at_current_revision_leaves_key_absent(any_store):
    first = any_store.compare_and_swap("k", b"one", revision=0).current
    assert not any_store.compare_and_swap("k", None, revision=first.revision + 99).ok
    assert any_store.compare_and_swap("k", None, revision=first.revision) == SwapResult(
        True, Versioned(None, 0)
    )
    assert any_store.get("k") == Versioned(None, 0)


def test_store_binary_value_round_trips(any_store):
    blob = bytes(range(256)) * 40
    assert any_store.compare_and_swap("b", blob, revision=0).ok
    assert any_store.get("b").value == blob


# --- SharedState on MemoryStore ------------------------------------------------------------


def small_state(store: Store, *, size: int = 4, seed: int = 0, **kwargs):
    def decode(blob: bytes | None) -> AllocationBitmap:
        if blob is None:
            return AllocationBitmap(size)
        return AllocationBitmap.from_k8s_bytes(decode_range_value(blob).data, size)

    def encode(bitmap: AllocationBitmap) -> bytes:
        return encode_range_value(RangeValue("10.0.0.0/29", bitmap.to_k8s_bytes()))

    return SharedState(store, "ranges/serviceips", decode=decode, encode=encode, **kwargs)


def test_shared_state_first_update_creates_key():
    store = MemoryStore()
    shared = small_state(store)
    assert shared.update(lambda bm: bm.allocate_next()) == 0
    stored = store.get("ranges/serviceips")
    assert shared.revision == stored.revision == 1
    assert decode_range_value(stored.value) == RangeValue("10.0.0.0/29", b"\x01")


def test_shared_state_stale_cache_conflict_retries_on_winner():
    store = MemoryStore()
    a, b = small_state(store), small_state(store)
    b.refresh()
    assert a.update(lambda bm: bm.allocate_next()) == 0
    assert b.update(lambda bm: bm.allocate_next()) == 1  # 0 was taken behind its back
    assert b.stats.conflicts == 1
    assert set(small_state(store).state) == {0, 1}


def test_shared_state_error_on_stale_cache_rechecks_fresh_state():
    store = MemoryStore()
    a, b = small_state(store, size=1), small_state(store, size=1)
    a.update(lambda bm: bm.allocate_next())
    b.refresh()  # b now believes the range is full
    a.update(lambda bm: bm.release(0))
    assert b.update(lambda bm: bm.allocate_next()) == 0
    assert b.stats.reads == 2


def test_shared_state_error_on_current_state_raises_and_changes_nothing():
    store = MemoryStore()
    shared = small_state(store, size=1)
    shared.update(lambda bm: bm.allocate_next())
    before = store.get("ranges/serviceips")
    with pytest.raises(RangeFullError):
        shared.update(lambda bm: bm.allocate_next())
    assert store.get("ranges/serviceips") == before
    assert shared.revision == before.revision
    assert set(shared.state) == {0}


def test_shared_state_noop_on_stale_cache_rechecks():
    store = MemoryStore()
    a, b = small_state(store), small_state(store)
    b.refresh()
    a.update(lambda bm: bm.allocate(2))
    b.update(lambda bm: bm.release(2))  # b's cache lacks 2: it must look again
    assert set(small_state(store).state) == set()


class AlwaysMoved:
    """A store where another writer always wins just before each compare-and-swap."""

    def __init__(self) -> None:
        self.inner = MemoryStore()
        self.prefix = self.inner.prefix

    def key(self, name: str) -> str:
        return self.inner.key(name)

    def get(self, name: str) -> Versioned:
        return self.inner.get(name)

    def compare_and_swap(self, name, value, *, revision):
        current = self.inner.get(name)
        empty = encode_range_value(RangeValue("10.0.0.0/29"))
        self.inner.compare_and_swap(name, current.value or empty, revision=current.revision)
        return self.inner.compare_and_swap(name, value, revision=revision)


def test_shared_state_conflicts_every_attempt_raises_after_bounded_backoff():
    store = AlwaysMoved()
    sleeps: list[float] = []
    policy = RetryPolicy(attempts=6, base_delay=0.01, max_delay=0.03)
    shared = small_state(store, policy=policy, rng=random.Random(1), sleep=sleeps.append)
    shared.refresh()

    def decode_current():
        return store.get("ranges/serviceips")

    with pytest.raises(StoreConflictError) as caught:
        shared.update(lambda bm: bm.allocate_next())
    assert str(caught.value).startswith(
        'Operation cannot be fulfilled on rangeallocations "/registry/ranges/serviceips": '
        "the object has been modified; please apply your changes to the latest version "
        "and try again — "
    )
    assert shared.stats.conflicts == 6
    assert len(sleeps) == 4  # no wait before the first retry, none after the last try
    caps = [0.01, 0.02, 0.03, 0.03]
    assert all(0 <= pause <= cap for pause, cap in zip(sleeps, caps, strict=True))
    assert shared.revision == 0
    assert decode_range_value(decode_current().value).data == b""


def test_retry_policy_same_rng_same_delays():
    policy = RetryPolicy()
    first = [policy.delay(n, random.Random(5)) for n in range(1, 10)]
    assert first == [policy.delay(n, random.Random(5)) for n in range(1, 10)]
    assert first[0] == 0.0


@pytest.mark.parametrize(
    "kwargs",
    [{"attempts": 0}, {"base_delay": -1.0}, {"max_delay": -0.1}],
    ids=["no-attempts", "negative-base", "negative-cap"],
)
def test_retry_policy_invalid_raises(kwargs):
    with pytest.raises(ConfigError, match="invalid retry policy"):
        RetryPolicy(**kwargs)


class Down:
    """A store that is down for reads, writes, or both."""

    def __init__(self, inner: MemoryStore, *, reads: bool, maybe_applied: bool) -> None:
        self.inner, self.reads, self.maybe = inner, reads, maybe_applied
        self.prefix = inner.prefix

    def key(self, name: str) -> str:
        return self.inner.key(name)

    def get(self, name: str) -> Versioned:
        if self.reads:
            raise StoreUnavailableError("down")
        return self.inner.get(name)

    def compare_and_swap(self, name, value, *, revision):
        raise StoreUnavailableError("down", maybe_applied=self.maybe)


@pytest.mark.parametrize("maybe_applied", [False, True], ids=["clean", "maybe-applied"])
def test_shared_state_store_down_raises_and_changes_nothing(maybe_applied):
    inner = MemoryStore()
    small_state(inner).update(lambda bm: bm.allocate(1))
    store = Down(inner, reads=False, maybe_applied=maybe_applied)
    shared = small_state(store)
    shared.refresh()
    before = (shared.revision, set(shared.state))
    with pytest.raises(StoreUnavailableError) as caught:
        shared.update(lambda bm: bm.allocate_next())
    assert caught.value.maybe_applied is maybe_applied
    assert (shared.revision, set(shared.state)) == before
    assert set(small_state(inner).state) == {1}


def test_memory_store_threads_sharing_one_key_lose_nothing():
    store = MemoryStore()
    size, threads = 400, 4

    def work(seed: int, out: list[int]) -> None:
        shared = small_state(store, size=size, rng=random.Random(seed), sleep=lambda _: None)
        for _ in range(size // threads):
            out.append(shared.update(lambda bm: bm.allocate_next()))

    results: list[list[int]] = [[] for _ in range(threads)]
    pool = [threading.Thread(target=work, args=(i, results[i])) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    everything = [o for r in results for o in r]
    assert sorted(everything) == list(range(size))
    assert set(small_state(store, size=size).state) == set(range(size))


# --- EtcdStore without a server --------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"endpoint": "127.0.0.1:2379"}, "invalid etcd endpoint"),
        ({"endpoint": "ftp://127.0.0.1:2379"}, "invalid etcd endpoint"),
        ({"endpoint": "http://127.0.0.1:99999"}, "invalid etcd endpoint"),
        ({"timeout": 0}, "invalid etcd timeout"),
        ({"prefix": "registry"}, "invalid store prefix"),
        ({"client": "grpc"}, "unknown etcd client"),
    ],
    ids=["no-scheme", "ftp", "bad-port", "zero-timeout", "relative-prefix", "grpc"],
)
def test_etcd_store_bad_arguments_raise_config_error(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        EtcdStore(**kwargs)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("client", ["http", "etcd3gw"])
def test_etcd_store_refused_connection_raises_clean_unavailable(client):
    if client == "etcd3gw":
        pytest.importorskip("etcd3gw", reason="etcd3gw (extra dualstack[etcd]) not installed")
    store = EtcdStore(f"http://127.0.0.1:{closed_port()}", timeout=1, client=client)
    with pytest.raises(StoreUnavailableError, match=r"^etcd at http://127\.0\.0\.1:\d+ is") as e:
        store.compare_and_swap("k", b"v", revision=0)
    assert e.value.maybe_applied is False
    assert "nothing was changed" in str(e.value)


def test_etcd_store_silent_server_write_times_out_maybe_applied():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        port = listener.getsockname()[1]
        store = EtcdStore(f"http://127.0.0.1:{port}", timeout=0.2)
        with pytest.raises(StoreUnavailableError) as read:
            store.get("k")
        with pytest.raises(StoreUnavailableError) as write:
            store.compare_and_swap("k", b"v", revision=0)
    assert read.value.maybe_applied is False
    assert write.value.maybe_applied is True
    assert "may have been applied" in str(write.value)


# --- against a real etcd --------------------------------------------------------------------


def test_etcd_store_conflicting_writers_exactly_one_wins(etcd_server):
    prefix = unique_prefix()
    stores = [EtcdStore(etcd_server.endpoint, prefix=prefix) for _ in range(4)]
    for round_ in range(10):
        base = stores[0].get("k").revision
        barrier = threading.Barrier(len(stores))
        results: list[SwapResult] = [SwapResult(False, Versioned(None, 0))] * len(stores)

        def write(i, base=base, round_=round_, barrier=barrier, results=results) -> None:
            barrier.wait()
            results[i] = stores[i].compare_and_swap("k", f"{round_}-{i}".encode(), revision=base)

        pool = [threading.Thread(target=write, args=(i,)) for i in range(len(stores))]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        winners = [r for r in results if r.ok]
        assert len(winners) == 1
        stored = stores[0].get("k")
        assert stored == winners[0].current
        assert all(r.current == stored for r in results if not r.ok)


def test_etcd_value_is_a_range_allocation_decode_range_reads(etcd_server, capsys, monkeypatch):
    store = EtcdStore(etcd_server.endpoint, prefix=unique_prefix())
    shared = toy_state(store, TOY_KEY, rng=random.Random(3))
    got = shared.update(lambda bm: bm.allocate_next())
    raw = store.get(TOY_KEY).value
    assert decode_range_allocation(raw)[0] == TOY_RANGE
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(raw)))
    assert cli.main(["decode-range", "-"]) == 0
    out = capsys.readouterr().out
    octets = got + 1
    assert f"10.96.{octets >> 8}.{octets & 255}" in out


def run_workers(endpoint, prefix, tmp_path, count, ops, **kwargs):
    journals = [str(tmp_path / f"journal-{i}") for i in range(count)]
    procs = [
        FORK.Process(
            target=run_worker, args=(endpoint, prefix, journals[i], 1000 + i, ops), kwargs=kwargs
        )
        for i in range(count)
    ]
    for p in procs:
        p.start()
    return procs, journals


def stored_toy(endpoint: str, prefix: str) -> set[int]:
    return set(
        toy_state(EtcdStore(endpoint, prefix=prefix), TOY_KEY, rng=random.Random()).refresh()
    )


def test_etcd_eight_processes_4000_operations_no_offset_twice(etcd_server, tmp_path):
    # 4,000 toy operations: the 20,000-operation run over the real store-backed
    # allocators is tests/test_store_allocators.py's.
    prefix = unique_prefix()
    procs, journals = run_workers(etcd_server.endpoint, prefix, tmp_path, 8, 500)
    for p in procs:
        p.join(timeout=300)
        assert p.exitcode == 0
    records = [read_journal(j) for j in journals]
    assert all(r.finished and r.unavailable == 0 and r.conflicts == 0 for r in records)
    assert sum(r.ops for r in records) == 4_000
    union: set[int] = set()
    for r in records:
        assert not union & r.held, "an offset is held by two processes"
        union |= r.held
    assert stored_toy(etcd_server.endpoint, prefix) == union


def wait_for_lines(path: str, count: int, limit: float = 60.0) -> None:
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if os.path.exists(path) and Path(path).read_text().count("\n") >= count:
            return
        time.sleep(0.02)
    raise AssertionError(f"{path} did not reach {count} lines")


def test_etcd_worker_killed_mid_run_leaves_store_consistent(etcd_server, tmp_path):
    prefix = unique_prefix()
    procs, journals = run_workers(etcd_server.endpoint, prefix, tmp_path, 4, 400)
    wait_for_lines(journals[0], 150)
    os.kill(procs[0].pid, signal.SIGKILL)
    for p in procs:
        p.join(timeout=120)
    assert procs[0].exitcode == -signal.SIGKILL
    assert all(p.exitcode == 0 for p in procs[1:])
    records = [read_journal(j) for j in journals]
    assert not records[0].finished
    assert all(r.finished and r.unavailable == 0 for r in records[1:])
    union: set[int] = set()
    for r in records:
        assert not union & r.held
        union |= r.held
    stored = stored_toy(etcd_server.endpoint, prefix)  # decodes: the value is whole
    # Only the killed worker's operation in flight may differ from its journal.
    assert stored ^ union <= records[0].pending


def test_etcd_stopped_and_restarted_calls_fail_cleanly_then_succeed(tmp_path):
    server = new_server()
    try:
        endpoint = server.start()
        prefix = unique_prefix()
        store = EtcdStore(endpoint, prefix=prefix, timeout=0.5)
        shared = toy_state(store, TOY_KEY, rng=random.Random(9))
        mine = {shared.update(lambda bm: bm.allocate_next())}
        stop_file = str(tmp_path / "stop")
        procs, journals = run_workers(
            endpoint, prefix, tmp_path, 3, 10**6, timeout=0.5, stop_file=stop_file
        )
        for j in journals:
            wait_for_lines(j, 20)
        server.stop()
        before = (shared.revision, set(shared.state))
        with pytest.raises(StoreUnavailableError) as down:
            shared.update(lambda bm: bm.allocate_next())
        assert down.value.maybe_applied is False
        assert (shared.revision, set(shared.state)) == before
        time.sleep(0.3)
        marks = [Path(j).read_text().count("\n") for j in journals]
        assert server.start() == endpoint
        got = shared.update(lambda bm: bm.allocate_next())
        assert got not in before[1]
        mine.add(got)
        for j, mark in zip(journals, marks, strict=True):
            wait_for_lines(j, mark + 20)
        Path(stop_file).touch()
        for p in procs:
            p.join(timeout=60)
            assert p.exitcode == 0
        records = [read_journal(j) for j in journals]
        assert all(r.finished for r in records)
        assert sum(r.unavailable for r in records) > 0  # they did run into the outage
        union = set(mine)
        for r in records:
            assert not union & r.held
            union |= r.held
        stored = stored_toy(endpoint, prefix)
        uncertain = set().union(*(r.uncertain for r in records))
        assert union <= stored
        assert stored - union <= uncertain  # a write whose answer was lost may leak
    finally:
        server.clean()


def test_etcd_shared_state_machine_runs_on_etcd(etcd_server):
    spec = importlib.util.spec_from_file_location(
        "_store_machine", Path(__file__).parent / "stateful" / "test_store_machine.py"
    )
    assert spec is not None and spec.loader is not None
    machines = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(machines)
    run_state_machine_as_test(
        machines.make_machine(lambda: EtcdStore(etcd_server.endpoint, prefix=unique_prefix())),
        settings=settings(max_examples=8, stateful_step_count=25, deadline=None),
    )

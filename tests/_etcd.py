"""A real etcd for the shared-state tests, and a toy allocator that shares one key.

``EtcdServer`` drives ``.ci/etcd.sh`` (start/stop/clean of a loopback etcd with its
data on tmpfs); the session fixture ``etcd_server`` starts one for the whole run and
skips the tests that need it, with the reason, only when no etcd binary can be had
(``DUALSTACK_REQUIRE_ETCD=1`` turns that skip into a failure, for CI).

The toy allocator is an ``AllocationBitmap`` of a /16 Service range stored as a
``RangeAllocation`` through ``SharedState``: what phase 2 wires into the real
allocators, tested here without them. ``run_worker`` is one process of the concurrency
tests: it allocates and releases through the store and journals every completed
operation to a file, flushed line by line, so that even a worker killed with SIGKILL
leaves a record of what it held.

``run_allocator_worker`` is the same over the real store-backed allocators
(``NodeCIDRAllocator``, ``PodIPAllocator``, ``ServiceIPAllocator`` built with
``store=``), several ranges per process, journalled per range kind.
"""

from __future__ import annotations

import os
import random
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dualstack.bitmap import AllocationBitmap, RandomScan
from dualstack.errors import DualStackError
from dualstack.store import (
    MemoryStore,
    RangeValue,
    RetryPolicy,
    SharedState,
    Store,
    StoreError,
    StoreUnavailableError,
    SwapResult,
    Versioned,
    decode_range_value,
    encode_range_value,
    service_ips_key,
)

__all__ = [
    "NODE_RANGE",
    "POD_RANGE",
    "SERVICE_RANGE",
    "TOY_RANGE",
    "TOY_SIZE",
    "AllocatorJournal",
    "EtcdServer",
    "Journal",
    "KeyDown",
    "etcd_session",
    "make_allocator",
    "read_allocator_journal",
    "read_journal",
    "run_allocator_worker",
    "run_worker",
    "stored_set",
    "toy_state",
]

SCRIPT = Path(__file__).resolve().parent.parent / ".ci" / "etcd.sh"
NO_ETCD = 3  # the script's exit status when no etcd binary can be had

TOY_RANGE = "10.96.0.0/16"
TOY_SIZE = 2**16 - 2  # usable addresses of a /16: offsets 0 .. 65533


class EtcdServer:
    """One loopback etcd run by ``.ci/etcd.sh`` in its own directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.endpoint = ""

    def _run(self, mode: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(SCRIPT), mode, str(self.directory)],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )

    def start(self) -> str:
        done = self._run("start")
        if done.returncode == NO_ETCD:
            message = f"no etcd binary can be had: {done.stderr.strip()}"
            if os.environ.get("DUALSTACK_REQUIRE_ETCD") == "1":
                pytest.fail(message)
            pytest.skip(message)
        if done.returncode != 0:
            raise RuntimeError(f".ci/etcd.sh start failed: {done.stderr.strip()}")
        self.endpoint = done.stdout.strip().splitlines()[-1]
        return self.endpoint

    def stop(self) -> None:
        self._run("stop")

    def clean(self) -> None:
        self._run("clean")


def _scratch_parent() -> str | None:
    return "/dev/shm" if os.access("/dev/shm", os.W_OK) else None


def new_server() -> EtcdServer:
    """A server in a fresh directory (not started)."""
    return EtcdServer(Path(tempfile.mkdtemp(prefix="dualstack-etcd-", dir=_scratch_parent())))


def etcd_session() -> Iterator[EtcdServer]:
    """Body of a session fixture: a running etcd, skipped only when none can be had."""
    server = new_server()
    try:
        server.start()
        yield server
    finally:
        server.clean()


# --- the toy allocator ---------------------------------------------------------------


def toy_state(store: Store, name: str, *, rng: random.Random, policy: RetryPolicy | None = None):
    """A ``SharedState`` over an ``AllocationBitmap`` of ``TOY_RANGE`` stored at ``name``."""

    def decode(blob: bytes | None) -> AllocationBitmap:
        strategy = RandomScan(0, rng)
        if blob is None:
            return AllocationBitmap(TOY_SIZE, strategy)
        value = decode_range_value(blob)
        if value.range != TOY_RANGE:
            raise DualStackError(f"stored range {value.range!r} is not {TOY_RANGE!r}")
        return AllocationBitmap.from_k8s_bytes(value.data, TOY_SIZE, strategy)

    def encode(bitmap: AllocationBitmap) -> bytes:
        return encode_range_value(RangeValue(TOY_RANGE, bitmap.to_k8s_bytes()))

    return SharedState(store, name, decode=decode, encode=encode, rng=rng, policy=policy)


TOY_KEY = service_ips_key(0)


# --- workers ---------------------------------------------------------------------------


@dataclass
class Journal:
    """What a worker's journal says: offsets it holds, and offsets of unknown outcome."""

    held: set[int]
    uncertain: set[int]
    pending: set[int]
    ops: int
    unavailable: int
    conflicts: int
    finished: bool


def run_worker(
    endpoint: str,
    prefix: str,
    journal: str,
    seed: int,
    ops: int,
    *,
    max_held: int = 64,
    timeout: float = 2.0,
    client: str = "http",
    stop_file: str | None = None,
    policy: RetryPolicy | None = None,
) -> None:
    """Allocate and release ``ops`` times through etcd; journal each outcome.

    A worker given ``stop_file`` ends early once that file exists.

    Journal lines: ``P <offset>`` before a write that may change the offset (pending),
    ``A``/``R <offset>`` once an allocation/release is stored, ``U <offset>`` when the
    store failed after the write may have landed (then the worker counts the offset as
    not held, the safe assumption), ``E`` for a clean failure (nothing changed),
    ``C`` for a conflict error, ``D`` at the end.
    """
    from dualstack.store import EtcdStore

    rng = random.Random(seed)
    store = EtcdStore(endpoint, prefix=prefix, timeout=timeout, client=client)
    policy = policy if policy is not None else RetryPolicy(attempts=200)  # never give up in tests
    shared = toy_state(store, TOY_KEY, rng=rng, policy=policy)
    held: list[int] = []
    with open(journal, "a", buffering=1) as out:
        done = 0
        while done < ops:
            if stop_file is not None and done % 16 == 0 and os.path.exists(stop_file):
                break
            release = bool(held) and (len(held) >= max_held or rng.random() < 0.45)
            if release:
                index = rng.randrange(len(held))
                offset = held[index]
                out.write(f"P {offset}\n")
                try:
                    shared.update(lambda bm, offset=offset: bm.release(offset))
                except StoreUnavailableError as exc:
                    held[index] = held[-1]
                    held.pop()
                    out.write(f"U {offset}\n" if exc.maybe_applied else "E\n")
                    if not exc.maybe_applied:
                        held.append(offset)  # certainly still ours
                    done += 1
                    continue
                except StoreError:
                    out.write("C\n")
                    done += 1
                    continue
                held[index] = held[-1]
                held.pop()
                out.write(f"R {offset}\n")
            else:
                tried: list[int] = []

                def allocate(bm: AllocationBitmap, tried: list[int] = tried) -> int:
                    got = bm.allocate_next()
                    tried.append(got)
                    out.write(f"P {got}\n")
                    return got

                try:
                    got = shared.update(allocate)
                except StoreUnavailableError as exc:
                    if exc.maybe_applied and tried:
                        out.write(f"U {tried[-1]}\n")
                    else:
                        out.write("E\n")
                    done += 1
                    continue
                except StoreError:
                    out.write("C\n")
                    done += 1
                    continue
                held.append(got)
                out.write(f"A {got}\n")
            done += 1
        out.write(f"D {shared.stats.writes} {shared.stats.conflicts}\n")


def read_journal(path: str | Path) -> Journal:
    """Replay a worker's journal."""
    held: set[int] = set()
    uncertain: set[int] = set()
    pending: set[int] = set()
    ops = unavailable = conflicts = 0
    finished = False
    for line in Path(path).read_text().splitlines():
        tag, _, rest = line.partition(" ")
        if tag == "P":
            pending.add(int(rest))
            continue
        if tag == "D":
            finished = True
            continue
        ops += 1
        if tag == "A":
            held.add(int(rest))
        elif tag == "R":
            held.discard(int(rest))
        elif tag == "U":
            held.discard(int(rest))
            uncertain.add(int(rest))
            unavailable += 1
        elif tag == "E":
            unavailable += 1
        elif tag == "C":
            conflicts += 1
        pending.clear()
    return Journal(held, uncertain, pending, ops, unavailable, conflicts, finished)


# --- workers over the real allocators -------------------------------------------------------

NODE_RANGE = ("10.244.0.0/16", 26)  # 1024 node blocks
POD_RANGE = "10.64.0.0/16"  # 65533 Pod IPs (host-local window .0.1 - .255.254)
SERVICE_RANGE = "10.96.0.0/16"


def make_allocator(kind: str, store: Store, *, seed: int = 0, policy: RetryPolicy | None = None):
    """A store-backed allocator of the shared test range ``kind`` (nodes, pods, services)."""
    if kind == "nodes":
        from dualstack.node_cidrs import NodeCIDRAllocator

        return NodeCIDRAllocator(*NODE_RANGE, store=store, retry=policy)
    if kind == "pods":
        from dualstack.pod_ips import PodIPAllocator

        return PodIPAllocator(POD_RANGE, store=store, retry=policy)
    if kind == "services":
        from dualstack.service_ips import ServiceIPAllocator

        return ServiceIPAllocator(
            SERVICE_RANGE, store=store, rng=random.Random(seed), retry=policy
        )
    raise ValueError(kind)


def stored_set(kind: str, store: Store) -> set[str]:
    """What the store holds for range ``kind``, read by a fresh allocator."""
    return {str(x) for x in make_allocator(kind, store)}


def run_allocator_worker(
    endpoint: str,
    prefix: str,
    journal: str,
    seed: int,
    ops: int,
    kinds: tuple[str, ...],
    *,
    max_held: int = 48,
    timeout: float = 2.0,
) -> None:
    """Allocate and release ``ops`` times over the ranges ``kinds``; journal each outcome.

    Journal lines (``<k>`` is the range kind): ``N <k>`` before an ``allocate_next``,
    ``T <k> <value>`` before an ``allocate(value)``, ``P <k> <value>`` before a
    release; then ``A <k> <value>`` (allocated), ``R <k> <value>`` (released), ``X <k>``
    (the address was taken: ``AlreadyAllocatedError``), ``U <k> <value or ->`` (the
    store failed after the write may have landed: counted as not held), ``E <k>``
    (clean store failure), ``C <k>`` (conflict error), ``F <k>`` (range full); at the
    end ``D <k> <writes> <conflicts>`` per range.
    """
    from dualstack.errors import AlreadyAllocatedError, RangeFullError
    from dualstack.store import EtcdStore

    rng = random.Random(seed)
    store = EtcdStore(endpoint, prefix=prefix, timeout=timeout)
    policy = RetryPolicy(attempts=400)  # never give up in tests
    allocators = {k: make_allocator(k, store, seed=seed, policy=policy) for k in kinds}
    held: dict[str, list[str]] = {k: [] for k in kinds}
    with open(journal, "a", buffering=1) as out:
        for _ in range(ops):
            kind = rng.choice(kinds)
            alloc, mine = allocators[kind], held[kind]
            release = bool(mine) and (len(mine) >= max_held or rng.random() < 0.45)
            value: str | None = None
            try:
                if release:
                    index = rng.randrange(len(mine))
                    value = mine[index]
                    out.write(f"P {kind} {value}\n")
                    alloc.release(value)
                    mine[index] = mine[-1]
                    mine.pop()
                    out.write(f"R {kind} {value}\n")
                elif kind != "nodes" and rng.random() < 0.15:
                    # Addresses past the network address and the gateway (.0.1).
                    base = int(alloc.pool.network) + 2
                    value = str(type(alloc.pool.network)(base + rng.randrange(2048)))
                    out.write(f"T {kind} {value}\n")
                    got = str(alloc.allocate(value))
                    mine.append(got)
                    out.write(f"A {kind} {got}\n")
                else:
                    out.write(f"N {kind}\n")
                    got = str(alloc.allocate_next())
                    mine.append(got)
                    out.write(f"A {kind} {got}\n")
            except AlreadyAllocatedError:
                out.write(f"X {kind}\n")
            except RangeFullError:
                out.write(f"F {kind}\n")
            except StoreUnavailableError as exc:
                if exc.maybe_applied:
                    if release:
                        mine.remove(value)  # assume the worst: it may be released
                    out.write(f"U {kind} {value if release else '-'}\n")
                else:
                    out.write(f"E {kind}\n")
            except StoreError:
                out.write(f"C {kind}\n")
        for kind, alloc in allocators.items():
            stats = alloc.shared_state.stats
            out.write(f"D {kind} {stats.writes} {stats.conflicts}\n")


@dataclass
class AllocatorJournal:
    """A worker's journal replayed: per range kind, what it holds and what was in flight."""

    held: dict[str, set[str]]
    pending_release: dict[str, set[str]]
    pending_allocate: dict[str, int]
    ops: int
    failures: int
    writes: int
    conflicts: int
    finished: bool


def read_allocator_journal(path: str | Path) -> AllocatorJournal:
    """Replay a journal of ``run_allocator_worker``."""
    held: dict[str, set[str]] = {}
    pending_release: dict[str, set[str]] = {}
    pending_allocate: dict[str, int] = {}
    ops = failures = writes = conflicts = 0
    finished = False
    for line in Path(path).read_text().splitlines():
        tag, kind, *rest = line.split(" ")
        mine = held.setdefault(kind, set())
        if tag == "D":
            finished = True
            writes += int(rest[0])
            conflicts += int(rest[1])
            continue
        if tag == "P":
            pending_release.setdefault(kind, set()).add(rest[0])
            continue
        if tag in ("N", "T"):
            pending_allocate[kind] = pending_allocate.get(kind, 0) + 1
            continue
        ops += 1
        pending_release.clear()
        pending_allocate.clear()
        if tag == "A":
            mine.add(rest[0])
        elif tag == "R":
            mine.discard(rest[0])
        elif tag == "U":
            mine.discard(rest[0])
            failures += 1
        elif tag in ("E", "C", "F"):
            failures += 1
    return AllocatorJournal(
        held, pending_release, pending_allocate, ops, failures, writes, conflicts, finished
    )


class KeyDown:
    """A store where every call on one key fails while ``down`` is set."""

    def __init__(self, name: str) -> None:
        self.inner = MemoryStore()
        self.prefix = self.inner.prefix
        self.name = name
        self.down = False

    def key(self, name: str) -> str:
        return self.inner.key(name)

    def _trip(self, name: str) -> None:
        if self.down and name == self.name:
            raise StoreUnavailableError("etcd at test is unavailable: down")

    def get(self, name: str) -> Versioned:
        self._trip(name)
        return self.inner.get(name)

    def compare_and_swap(self, name: str, value: bytes | None, *, revision: int) -> SwapResult:
        self._trip(name)
        return self.inner.compare_and_swap(name, value, revision=revision)

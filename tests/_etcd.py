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
    RangeValue,
    RetryPolicy,
    SharedState,
    Store,
    StoreError,
    StoreUnavailableError,
    decode_range_value,
    encode_range_value,
    service_ips_key,
)

__all__ = [
    "TOY_RANGE",
    "TOY_SIZE",
    "EtcdServer",
    "Journal",
    "etcd_session",
    "read_journal",
    "run_worker",
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

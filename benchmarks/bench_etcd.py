"""Benchmark: shared allocation state in etcd, from 1, 2, 4 and 8 processes on one key.

Run ``python benchmarks/bench_etcd.py`` (``--quick`` for fewer operations;
``--endpoint URL`` to use a running etcd instead of starting one with ``.ci/etcd.sh``).
Prints a table and one JSON line per figure. Without an etcd binary it says so and
exits 0 (nothing to measure).

Workload: each process runs ``SharedState.update`` on one ``RangeAllocation`` key of a
/16 Service range (a toy ``AllocationBitmap`` with kube-apiserver's random scan, the
value ~11 KB like a busy real range), alternating ``allocate_next`` and ``release`` of a
held address (at most 64 held per process). Figures:

- ``ops/s`` at 1, 2, 4, 8 processes: stored operations per second, all processes
  together; the median latency of one operation (retries included), in us.
- conflict-retry rate: lost compare-and-swaps per stored operation.
- saturation: the process count after which throughput grows by less than 10 %.
- Baselines in the same run, one process: a naive loop that reads the key before every
  write (two round trips per operation, what a cache-less client does), and the same
  loop as ours through ``etcd3gw``/``requests`` when installed. Ratios are baseline
  time over ours (higher is better for us).

Targets (PASS/MISS): one process <= 4,000 us per operation and >= 1.3x the naive loop;
eight processes keep >= 60 % of one process's throughput (a single key serialises
writers, so the aim is "no collapse", not scaling).
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from queue import Empty

from dualstack.bitmap import AllocationBitmap, RandomScan
from dualstack.store import (
    EtcdStore,
    RangeValue,
    SharedState,
    StoreError,
    decode_range_value,
    encode_range_value,
)

__all__ = ["main"]

SCRIPT = Path(__file__).resolve().parent.parent / ".ci" / "etcd.sh"
RANGE = "10.96.0.0/16"
SIZE = 2**16 - 2
KEY = "ranges/serviceips"
MAX_HELD = 64


def _shared(store, rng: random.Random) -> SharedState[AllocationBitmap]:
    def decode(blob: bytes | None) -> AllocationBitmap:
        if blob is None:
            return AllocationBitmap(SIZE, RandomScan(0, rng))
        return AllocationBitmap.from_k8s_bytes(
            decode_range_value(blob).data, SIZE, RandomScan(0, rng)
        )

    def encode(bitmap: AllocationBitmap) -> bytes:
        return encode_range_value(RangeValue(RANGE, bitmap.to_k8s_bytes()))

    return SharedState(store, KEY, decode=decode, encode=encode, rng=rng)


def _worker(endpoint, prefix, seed, ops, mode, start_at, queue) -> None:
    client = "etcd3gw" if mode == "etcd3gw" else "http"
    rng = random.Random(seed)
    with EtcdStore(endpoint, prefix=prefix, client=client) as store:
        shared = _shared(store, rng)
        shared.refresh()
        held: list[int] = []
        latencies: list[float] = []
        failures = 0
        while time.time() < start_at:  # all processes begin together
            time.sleep(0.001)
        begin = time.perf_counter()
        for _ in range(ops):
            t0 = time.perf_counter()
            if mode == "naive":
                shared.refresh()
            try:
                if held and (len(held) >= MAX_HELD or rng.random() < 0.5):
                    offset = held.pop(rng.randrange(len(held)))
                    shared.update(lambda bm, offset=offset: bm.release(offset))
                else:
                    held.append(shared.update(lambda bm: bm.allocate_next()))
            except StoreError:
                failures += 1
            latencies.append(time.perf_counter() - t0)
        elapsed = time.perf_counter() - begin
    queue.put(
        {
            "ops": ops - failures,
            "failures": failures,
            "seconds": elapsed,
            "writes": shared.stats.writes,
            "conflicts": shared.stats.conflicts,
            "median_us": statistics.median(latencies) * 1e6,
        }
    )


@dataclass
class Run:
    processes: int
    mode: str
    ops_per_s: float
    median_us: float
    conflict_rate: float
    failures: int


def _run(endpoint: str, processes: int, ops: int, mode: str = "ours") -> Run:
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    prefix = f"/bench-{uuid.uuid4().hex[:10]}"
    start_at = time.time() + 0.5
    procs = [
        ctx.Process(target=_worker, args=(endpoint, prefix, i, ops, mode, start_at, queue))
        for i in range(processes)
    ]
    for p in procs:
        p.start()
    results = []
    for _ in procs:
        while True:
            try:
                results.append(queue.get(timeout=1))
                break
            except Empty:
                if any(p.exitcode not in (None, 0) for p in procs):
                    for p in procs:
                        p.kill()
                    raise RuntimeError("a benchmark worker failed (see its traceback)") from None
    for p in procs:
        p.join()
    stored = sum(r["ops"] for r in results)
    wall = max(r["seconds"] for r in results)
    return Run(
        processes,
        mode,
        stored / wall,
        statistics.median(r["median_us"] for r in results),
        sum(r["conflicts"] for r in results) / max(1, stored),
        sum(r["failures"] for r in results),
    )


def _start_etcd() -> tuple[str | None, Path]:
    directory = Path(tempfile.mkdtemp(prefix="bench-etcd-", dir="/dev/shm"))
    done = subprocess.run(
        ["bash", str(SCRIPT), "start", str(directory)], capture_output=True, text=True
    )
    if done.returncode != 0:
        print(f"bench_etcd: no etcd: {done.stderr.strip()}", file=sys.stderr)
        return None, directory
    return done.stdout.strip().splitlines()[-1], directory


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the table and the JSON lines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer operations per process")
    parser.add_argument("--endpoint", help="a running etcd (default: start one)")
    args = parser.parse_args(argv)
    ops = 150 if args.quick else 600
    directory = None
    endpoint = args.endpoint
    if endpoint is None:
        endpoint, directory = _start_etcd()
        if endpoint is None:
            print("bench_etcd: skipped (no etcd binary can be had)")
            return 0
    try:
        runs = [_run(endpoint, n, ops) for n in (1, 2, 4, 8)]
        naive = _run(endpoint, 1, ops, "naive")
        try:
            import etcd3gw  # noqa: F401

            gw: Run | None = _run(endpoint, 1, ops, "etcd3gw")
        except ImportError:
            gw = None
    finally:
        if directory is not None:
            subprocess.run(["bash", str(SCRIPT), "clean", str(directory)], capture_output=True)

    one = runs[0]
    saturation = runs[-1].processes
    for before, after in itertools.pairwise(runs):
        if after.ops_per_s < before.ops_per_s * 1.1:
            saturation = before.processes
            break
    print(f"etcd at {endpoint}: {ops} operations per process, one key, /16 random scan")
    print(
        f"{'figure':<34} {'ops/s':>8} {'median us':>10} {'conflicts/op':>13} "
        f"{'target':>16} {'result':>6}"
    )
    figures = []
    for run in runs:
        if run.processes == 1:
            target, ok = "<= 4000 us", run.median_us <= 4000
        elif run.processes == 8:
            target, ok = ">= 60% of 1 proc", run.ops_per_s >= 0.6 * one.ops_per_s
        else:
            target, ok = "-", True
        figures.append((f"{run.processes} process(es)", run, target, ok))
    ratio_naive = one.ops_per_s / naive.ops_per_s
    figures.append(
        (f"baseline read-then-CAS (x{ratio_naive:.2f})", naive, ">= 1.3x", ratio_naive >= 1.3)
    )
    if gw is not None:
        ratio_gw = one.ops_per_s / gw.ops_per_s
        figures.append((f"baseline etcd3gw client (x{ratio_gw:.2f})", gw, "-", True))
    for name, run, target, ok in figures:
        print(
            f"{name:<34} {run.ops_per_s:>8.0f} {run.median_us:>10.0f} "
            f"{run.conflict_rate:>13.2f} {target:>16} {'PASS' if ok else 'MISS':>6}"
        )
    print(f"throughput stops growing (< +10%) after {saturation} process(es)")
    for name, run, target, ok in figures:
        print(
            json.dumps(
                {
                    "benchmark": "etcd",
                    "figure": name,
                    "processes": run.processes,
                    "mode": run.mode,
                    "ops_per_s": round(run.ops_per_s, 1),
                    "median_us": round(run.median_us, 1),
                    "conflicts_per_op": round(run.conflict_rate, 3),
                    "failures": run.failures,
                    "target": target,
                    "passed": ok,
                }
            )
        )
    print(json.dumps({"benchmark": "etcd", "figure": "saturation", "processes": saturation}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

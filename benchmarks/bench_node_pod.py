"""Benchmark: node Pod CIDRs (W5), Pod IPs, and construction of large allocators.

Run ``python benchmarks/bench_node_pod.py`` (``--quick`` for one repetition). Prints a
table (per-operation medians over repetitions, in microseconds, with the target and
PASS/MISS) and one JSON line per figure.

Figures (issue 3):
- W5: ``NodeCIDRAllocator`` on ``10.0.0.0/8`` into /24 and ``fd00::/48`` into /64
  (65,536 blocks each): ``allocate_next`` until full, then ``release`` of every block
  returned. Target <= 1.2 us/op over all operations, each returned ``IPNetwork``
  included, and >= 3x faster than the naive baseline: a netaddr ``subnet()`` walk with a
  ``set`` of the networks handed out. The two phases are also shown on their own.
- Pod IPs: ``PodIPAllocator.allocate_next`` filling a /24 (253 addresses) and the first
  65,536 addresses of a /64. Target <= 1.0 us/op; baseline: netaddr address iteration
  with a ``set``.
- Construction of ``NodeCIDRAllocator("0.0.0.0/0", 32)`` (2^32 blocks) and of
  ``PodIPAllocator("fd00::/64")``: <= 1 ms and <= 1 MiB each (memory = tracemalloc peak
  during construction). A naive dense structure would need 512 MiB / 2^61 bytes, so no
  baseline is run for these.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import netaddr

from dualstack.node_cidrs import NodeCIDRAllocator
from dualstack.pod_ips import PodIPAllocator

__all__ = ["main"]


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    target: float
    baseline: float | None = None
    min_ratio: float | None = None

    @property
    def ratio(self) -> float | None:
        return None if self.baseline is None else self.baseline / self.value

    @property
    def passed(self) -> bool:
        ok = self.value <= self.target
        if self.min_ratio is not None and self.ratio is not None:
            ok = ok and self.ratio >= self.min_ratio
        return ok


# --- naive baselines -------------------------------------------------------------------


class NaiveNodeCIDRs:
    """A netaddr ``subnet()`` walk with a ``set``: what one writes without a bitmap."""

    def __init__(self, cluster: str, mask: int) -> None:
        self.cluster = netaddr.IPNetwork(cluster)
        self.mask = mask
        self.used: set[netaddr.IPNetwork] = set()
        self.size = 1 << (mask - self.cluster.prefixlen)
        self.walk: Iterator[netaddr.IPNetwork] = self.cluster.subnet(mask)

    def allocate_next(self) -> netaddr.IPNetwork:
        if len(self.used) >= self.size:
            raise RuntimeError("full")
        while True:
            for net in self.walk:
                if net not in self.used:
                    self.used.add(net)
                    return net
            self.walk = self.cluster.subnet(self.mask)  # wrap around

    def release(self, net: netaddr.IPNetwork) -> None:
        self.used.discard(net)


class NaivePodIPs:
    """netaddr address iteration with a ``set``, skipping network, gateway, broadcast."""

    def __init__(self, cidr: str) -> None:
        self.net = netaddr.IPNetwork(cidr)
        self.used: set[netaddr.IPAddress] = set()
        self.walk: Iterator[netaddr.IPAddress] = iter(self.net)
        self.skip = {self.net.network, self.net.network + 1}
        broadcast = self.net.broadcast  # None for IPv6
        if broadcast is not None:
            self.skip.add(broadcast)

    def allocate_next(self) -> netaddr.IPAddress:
        for ip in self.walk:
            if ip not in self.skip and ip not in self.used:
                self.used.add(ip)
                return ip
        raise RuntimeError("full")


# --- timing helpers --------------------------------------------------------------------


def _per_op(setup: Callable[[], Callable[[], object]], count: int, reps: int) -> float:
    """Median over ``reps`` runs of ``count`` calls of what ``setup`` returns, in us/call.

    ``setup`` (building the allocator) runs outside the timed part.
    """
    samples = []
    for _ in range(reps):
        gc.collect()
        gc.disable()
        try:
            call = setup()
            start = time.perf_counter()
            for _ in range(count):
                call()
            samples.append((time.perf_counter() - start) / count * 1e6)
        finally:
            gc.enable()
    return statistics.median(samples)


def _w5(cluster: str, mask: int, reps: int) -> list[Figure]:
    phases: dict[str, list[float]] = {"alloc": [], "release": [], "all": []}
    naive: list[float] = []
    for _ in range(reps):
        gc.collect()
        gc.disable()
        try:
            a = NodeCIDRAllocator(cluster, mask)
            take = a.allocate_next
            n = a.size
            t0 = time.perf_counter()
            nets = [take() for _ in range(n)]
            t1 = time.perf_counter()
            give = a.release
            for net in nets:
                give(net)
            t2 = time.perf_counter()
            assert a.used == 0 and len({str(x) for x in nets[:16]}) == 16
            phases["alloc"].append((t1 - t0) / n * 1e6)
            phases["release"].append((t2 - t1) / n * 1e6)
            phases["all"].append((t2 - t0) / (2 * n) * 1e6)

            b = NaiveNodeCIDRs(cluster, mask)
            take_naive = b.allocate_next
            t0 = time.perf_counter()
            naive_nets = [take_naive() for _ in range(n)]
            give_naive = b.release
            for net in naive_nets:
                give_naive(net)
            t1 = time.perf_counter()
            naive.append((t1 - t0) / (2 * n) * 1e6)
        finally:
            gc.enable()
    base = statistics.median(naive)
    label = f"W5 {cluster} into /{mask}"
    return [
        Figure(f"{label}: all ops", statistics.median(phases["all"]), "us/op", 1.2, base, 3.0),
        Figure(f"{label}: allocate_next", statistics.median(phases["alloc"]), "us/op", 1.2),
        Figure(f"{label}: release", statistics.median(phases["release"]), "us/op", 1.2),
    ]


def _pods(cidr: str, count: int, reps: int) -> Figure:
    return Figure(
        f"Pod IPs {cidr}: allocate_next x {count}",
        _per_op(lambda: PodIPAllocator(cidr).allocate_next, count, reps),
        "us/op",
        1.0,
        _per_op(lambda: NaivePodIPs(cidr).allocate_next, count, reps),
    )


def _construction(name: str, build: Callable[[], object], reps: int) -> list[Figure]:
    times = []
    for _ in range(max(reps, 5)):
        gc.collect()
        start = time.perf_counter()
        build()
        times.append((time.perf_counter() - start) * 1e3)
    gc.collect()
    tracemalloc.start()
    kept = build()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del kept
    return [
        Figure(f"construct {name}: time", statistics.median(times), "ms", 1.0),
        Figure(f"construct {name}: memory", peak / 2**20, "MiB", 1.0),
    ]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table and JSON lines; 0 when every figure passes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one repetition per figure")
    args = parser.parse_args(argv)
    reps = 1 if args.quick else 5

    figures: list[Figure] = []
    figures += _w5("10.0.0.0/8", 24, reps)
    figures += _w5("fd00::/48", 64, reps)
    figures.append(_pods("10.244.1.0/24", 253, max(reps, 3) * 20))
    figures.append(_pods("fd00:10:244:1::/64", 65536, reps))
    figures += _construction(
        "NodeCIDRAllocator('0.0.0.0/0', 32)", lambda: NodeCIDRAllocator("0.0.0.0/0", 32), reps
    )
    figures += _construction(
        "PodIPAllocator('fd00::/64')", lambda: PodIPAllocator("fd00::/64"), reps
    )

    width = max(len(f.name) for f in figures)
    print(f"{'figure':<{width}}  {'median':>9}  {'target':>9}  {'baseline':>9}  ratio  result")
    for f in figures:
        base = f"{f.baseline:9.3f}" if f.baseline is not None else f"{'-':>9}"
        ratio = f"{f.ratio:5.1f}x" if f.ratio is not None else f"{'-':>6}"
        need = f" (>= {f.min_ratio:.0f}x)" if f.min_ratio else ""
        print(
            f"{f.name:<{width}}  {f.value:9.3f}  {'<= ' + format(f.target, 'g'):>9}  "
            f"{base}  {ratio}  {'PASS' if f.passed else 'MISS'} {f.unit}{need}"
        )
    for f in figures:
        print(
            json.dumps(
                {
                    "benchmark": "node_pod",
                    "figure": f.name,
                    "median": round(f.value, 4),
                    "unit": f.unit,
                    "target": f.target,
                    "baseline": None if f.baseline is None else round(f.baseline, 4),
                    "ratio": None if f.ratio is None else round(f.ratio, 2),
                    "min_ratio": f.min_ratio,
                    "pass": f.passed,
                    "quick": args.quick,
                }
            )
        )
    return 0 if all(f.passed for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())

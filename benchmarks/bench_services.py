"""Benchmark of the Cluster Service API (issue 5 "Benchmark").

Run ``python benchmarks/bench_services.py`` (``--quick`` for a smaller run). It prints a
table of per-operation medians in microseconds with the targets and PASS/MISS, then one
JSON line per figure.

Workload S1: a dual-stack cluster (``--service-cluster-ip-range=10.96.0.0/16,
fd00:10:96::/112``); 10,000 ``create_service`` calls of a PreferDualStack Service (each
gets two ClusterIPs, the stored object is returned as a deep copy), then 10,000
``delete_service`` calls. Target: <= 30 us per create.

Baseline, in the same process: the obvious implementation of the same call — a
``copy.deepcopy`` of the manifest, the two families' addresses from sets of netaddr
addresses with a walk over the hosts, the fields filled in, a ``copy.deepcopy`` out —
without any of the validation the library does. The ratio is baseline / ours.

Medians are over batches of consecutive calls (one timer read per batch).
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import netaddr

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dualstack.cluster import Cluster
from dualstack.config import ClusterConfig

__all__ = ["main"]

_ns = time.perf_counter_ns
SERVICE_RANGE = "10.96.0.0/16,fd00:10:96::/112"


class NaiveServices:
    """The obvious create/delete: deepcopy in, set-of-netaddr allocation, deepcopy out."""

    def __init__(self, cidrs: list[str]) -> None:
        self.nets = [netaddr.IPNetwork(c) for c in cidrs]
        self.used: list[set[netaddr.IPAddress]] = [set() for _ in cidrs]
        self.walks = [self._walk(n) for n in self.nets]
        self.store: dict[str, dict[str, Any]] = {}

    @staticmethod
    def _walk(net: netaddr.IPNetwork) -> Iterator[netaddr.IPAddress]:
        while True:
            yield from net.iter_hosts()

    def _next(self, i: int) -> netaddr.IPAddress:
        for ip in self.walks[i]:
            if ip not in self.used[i]:
                self.used[i].add(ip)
                return ip
        raise AssertionError("unreachable")

    def create(self, manifest: dict[str, Any]) -> dict[str, Any]:
        obj = copy.deepcopy(manifest)
        ips = [str(self._next(i)) for i in range(len(self.nets))]
        spec = obj["spec"]
        spec.update(
            clusterIP=ips[0],
            clusterIPs=ips,
            ipFamilies=["IPv4", "IPv6"],
            type="ClusterIP",
            sessionAffinity="None",
        )
        self.store[obj["metadata"]["name"]] = obj
        return copy.deepcopy(obj)

    def delete(self, name: str) -> None:
        obj = self.store.pop(name)
        for i, ip in enumerate(obj["spec"]["clusterIPs"]):
            self.used[i].discard(netaddr.IPAddress(ip))


def batched(names: list[str], batch: int, op: Callable[[str], object]) -> list[float]:
    """Per-call microseconds of each batch, with the cyclic GC paused as ``timeit`` does.

    The 10,000 stored Services are long-lived objects; a full collection walking them
    in the middle of a batch measures the interpreter's GC, not the call (the GC-on
    figures are reported separately).
    """
    out: list[float] = []
    enabled = gc.isenabled()
    gc.disable()
    try:
        for start in range(0, len(names), batch):
            chunk = names[start : start + batch]
            t0 = _ns()
            for name in chunk:
                op(name)
            out.append((_ns() - t0) / len(chunk) / 1000)
    finally:
        if enabled:
            gc.enable()
    return out


def batched_gc(names: list[str], batch: int, op: Callable[[str], object]) -> list[float]:
    """As ``batched`` with the cyclic GC left on."""
    out: list[float] = []
    for start in range(0, len(names), batch):
        chunk = names[start : start + batch]
        t0 = _ns()
        for name in chunk:
            op(name)
        out.append((_ns() - t0) / len(chunk) / 1000)
    return out


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def s1(count: int, batch: int) -> list[dict[str, object]]:
    config = ClusterConfig(
        cluster_cidrs="10.244.0.0/16,fd00:10:244::/56", service_cidrs=SERVICE_RANGE
    )
    cluster = Cluster(config, seed=1)
    names = [f"web-{i}" for i in range(count)]
    manifests = {
        name: {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name},
            "spec": {
                "selector": {"app": "web"},
                "ports": [{"port": 80, "targetPort": 8080}],
                "ipFamilyPolicy": "PreferDualStack",
            },
        }
        for name in names
    }
    create = cluster.create_service
    delete = cluster.delete_service
    ours_create = batched(names, batch, lambda n: create(manifests[n]))
    ours_delete = batched(names, batch, delete)
    naive = NaiveServices(SERVICE_RANGE.split(","))
    base_create = batched(names, batch, lambda n: naive.create(manifests[n]))
    base_delete = batched(names, batch, naive.delete)
    gc.collect()
    gc_create = batched_gc(names, batch, lambda n: create(manifests[n]))
    gc_delete = batched_gc(names, batch, delete)
    rows: list[dict[str, object]] = []

    def add(figure: str, value: float, unit: str, target: float | None = None) -> None:
        row: dict[str, object] = {
            "bench": "services",
            "workload": "S1",
            "figure": figure,
            "value": round(value, 4),
            "unit": unit,
        }
        if target is not None:
            row["target"] = target
            row["status"] = "PASS" if value <= target else "MISS"
        rows.append(row)

    add(f"create_service median ({count} PreferDualStack)", med(ours_create), "us/op", 30.0)
    add("delete_service median", med(ours_delete), "us/op")
    add("naive create median", med(base_create), "us/op")
    add("naive delete median", med(base_delete), "us/op")
    add("create ratio naive / ours", med(base_create) / med(ours_create), "x")
    add("create_service median, GC on", med(gc_create), "us/op")
    add("delete_service median, GC on", med(gc_delete), "us/op")
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run S1 and print the table and the JSON lines; returns 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 Services instead of 10,000")
    args = parser.parse_args(argv)
    count = 1000 if args.quick else 10_000
    rows = s1(count, batch=100)
    header = f"{'workload':<8} {'figure':<46} {'value':>10} {'unit':<6} {'target':>8} {'':4}"
    print(header)
    print("-" * len(header))
    for r in rows:
        target = f"<= {r['target']}" if "target" in r else ""
        print(
            f"{r['workload']!s:<8} {r['figure']!s:<46} {r['value']!s:>10} {r['unit']!s:<6} "
            f"{target:>8} {r.get('status', '')!s:4}"
        )
    for r in rows:
        print(json.dumps(r))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark of the Cluster facade: the Kubernetes scalability envelope (issue 6).

Run ``python benchmarks/bench_cluster.py`` (``--quick`` for a smaller run). It prints a
table (figures, targets, PASS/MISS) and then one JSON line per figure.

Workload C1, the envelope, on ``--cluster-cidr=10.0.0.0/8,fd00:10::/48`` (node masks 24
and 64) and ``--service-cluster-ip-range=10.96.0.0/16,fd00:10:96::/112``: 5,000
``add_node``, 150,000 ``add_pod`` (30 per node), 10,000 PreferDualStack
``create_service``. Targets on a 2-core machine: <= 2.0 s in all, <= 300 MiB peak RSS,
``copy()`` <= 0.1 s, ``snapshot()`` + ``json.dumps``/``json.loads`` +
``from_snapshot()`` <= 3 s. Each envelope run is a fresh child process, so that its
peak RSS is its own (``--repeat N``: N runs, each figure the best of them, as the
machine may be shared); the garbage collector is paused while it builds (as a simulator
loading state would do; the same run with the collector on is reported too).

Workload C2, growth: the same calls at 500, 5,000 and 20,000 nodes (30 Pods per node,
two Services per node): per-operation medians (batches of 100 consecutive calls, one
timer read per batch) should stay flat.

Baseline, in the same process: the obvious implementation over netaddr — node blocks
from ``IPNetwork.subnet`` walks, Pod addresses from ``iter_hosts`` walks against sets of
``IPAddress`` — for 500 nodes and 15,000 Pods; the ratio is baseline / ours.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import netaddr

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dualstack.cluster import Cluster
from dualstack.config import ClusterConfig

__all__ = ["main"]

_ns = time.perf_counter_ns
CLUSTER_CIDRS = "10.0.0.0/8,fd00:10::/48"
SERVICE_CIDRS = "10.96.0.0/16,fd00:10:96::/112"
PODS_PER_NODE = 30


def _config() -> ClusterConfig:
    return ClusterConfig(
        cluster_cidrs=CLUSTER_CIDRS,
        service_cidrs=SERVICE_CIDRS,
        node_mask_sizes={"IPv4": 24, "IPv6": 64},
    )


def _manifest(name: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {
            "ipFamilyPolicy": "PreferDualStack",
            "selector": {"app": name},
            "ports": [{"port": 80}],
        },
    }


# --- C1: the envelope, in a child process ------------------------------------------------------
def envelope(nodes: int, services: int, gc_on: bool) -> dict[str, float]:
    """Build the envelope and time it; returns seconds and MiB."""
    if not gc_on:
        gc.disable()
    names = [f"node-{i:05d}" for i in range(nodes)]
    manifests = [_manifest(f"svc-{k:05d}") for k in range(services)]
    started = time.perf_counter()
    cluster = Cluster(_config(), seed=1)
    add_node, add_pod, create = cluster.add_node, cluster.add_pod, cluster.create_service
    for name in names:
        add_node(name)
    t_nodes = time.perf_counter()
    for name in names:
        for j in range(PODS_PER_NODE):
            add_pod(f"{name}-{j}", node=name)
    t_pods = time.perf_counter()
    for manifest in manifests:
        create(manifest)
    t_services = time.perf_counter()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    copy_start = time.perf_counter()
    twin = cluster.copy()
    t_copy = time.perf_counter() - copy_start
    twin.add_pod("after-copy", node=names[0])
    snap_start = time.perf_counter()
    text = json.dumps(cluster.snapshot())
    restored = Cluster.from_snapshot(json.loads(text))
    t_snapshot = time.perf_counter() - snap_start
    assert restored.add_node("extra") == cluster.add_node("extra")
    return {
        "nodes_s": t_nodes - started,
        "pods_s": t_pods - t_nodes,
        "services_s": t_services - t_pods,
        "total_s": t_services - started,
        "rss_mib": rss,
        "copy_s": t_copy,
        "snapshot_round_trip_s": t_snapshot,
        "snapshot_mib": len(text) / 2**20,
    }


def _child(nodes: int, services: int, gc_on: bool) -> dict[str, float]:
    here = str(Path(__file__).resolve().parent)
    code = (
        f"import json, sys; sys.path.insert(0, {here!r}); import bench_cluster as b; "
        f"print(json.dumps(b.envelope({nodes}, {services}, {gc_on!r})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


# --- C2: per-operation medians at a scale ------------------------------------------------------
def _batched(items: list[str], batch: int, call: Callable[[str], object]) -> list[float]:
    """Call ``call`` on every item; us per call of each batch (a short last one too)."""
    out = []
    for i in range(0, len(items), batch):
        chunk = items[i : i + batch]
        t0 = _ns()
        for item in chunk:
            call(item)
        out.append((_ns() - t0) / len(chunk) / 1000)
    return out


def growth(nodes: int) -> dict[str, float]:
    """Per-operation medians (us) of add_node, add_pod, create_service at ``nodes``."""
    gc.collect()
    gc.disable()
    try:
        cluster = Cluster(_config(), seed=2)
        names = [f"node-{i:05d}" for i in range(nodes)]
        node_us = _batched(names, 100, cluster.add_node)
        pod_names = [f"{n}/{j}" for n in names for j in range(PODS_PER_NODE)]
        add_pod = cluster.add_pod
        pod_us = _batched(
            pod_names, 100, lambda k: add_pod(k.replace("/", "-p"), node=k.split("/")[0])
        )
        svc_names = [f"svc-{k:05d}" for k in range(2 * nodes)]
        manifests = {n: _manifest(n) for n in svc_names}
        svc_us = _batched(svc_names, 100, lambda n: cluster.create_service(manifests[n]))
        t0 = time.perf_counter()
        cluster.copy()
        copy_s = time.perf_counter() - t0
    finally:
        gc.enable()
    return {
        "add_node_us": statistics.median(node_us),
        "add_pod_us": statistics.median(pod_us),
        "create_service_us": statistics.median(svc_us),
        "copy_ms": copy_s * 1000,
    }


# --- the netaddr baseline ---------------------------------------------------------------------
class NaiveCluster:
    """Node blocks from subnet walks, Pod IPs from host walks against sets of IPAddress."""

    def __init__(self) -> None:
        nets = [netaddr.IPNetwork(c) for c in CLUSTER_CIDRS.split(",")]
        self.blocks: list[Iterator[netaddr.IPNetwork]] = [
            nets[0].subnet(24),
            nets[1].subnet(64),
        ]
        self.nodes: dict[str, list[tuple[netaddr.IPNetwork, set[netaddr.IPAddress]]]] = {}
        self.pods: dict[str, list[netaddr.IPAddress]] = {}

    def add_node(self, name: str) -> None:
        self.nodes[name] = [(next(walk), set()) for walk in self.blocks]

    def add_pod(self, name: str, node: str) -> None:
        ips = []
        for net, used in self.nodes[node]:
            for ip in net.iter_hosts():
                if ip != net.network + 1 and ip not in used:
                    used.add(ip)
                    ips.append(ip)
                    break
        self.pods[name] = ips


def baseline(nodes: int) -> dict[str, float]:
    gc.collect()
    gc.disable()
    try:
        naive = NaiveCluster()
        names = [f"node-{i:05d}" for i in range(nodes)]
        node_us = _batched(names, 100, naive.add_node)
        pod_names = [f"{n}/{j}" for n in names for j in range(PODS_PER_NODE)]
        pod_us = _batched(
            pod_names, 100, lambda k: naive.add_pod(k.replace("/", "-p"), k.split("/")[0])
        )
    finally:
        gc.enable()
    return {"add_node_us": statistics.median(node_us), "add_pod_us": statistics.median(pod_us)}


# --- report --------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    """Run C1 and C2 and print the table and the JSON lines; returns 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="a tenth of the envelope; growth 100/500/2,000"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run the envelope N times and report the best run (the machine is shared)",
    )
    args = parser.parse_args(argv)
    scale = 10 if args.quick else 1
    env_nodes, env_services = 5000 // scale, 10_000 // scale
    rows: list[dict[str, object]] = []

    def add(
        workload: str, figure: str, value: float, unit: str, target: float | None = None
    ) -> None:
        row: dict[str, object] = {
            "bench": "cluster",
            "workload": workload,
            "figure": figure,
            "value": round(value, 4),
            "unit": unit,
        }
        if target is not None:
            row["target"] = target
            row["status"] = "PASS" if value <= target else "MISS"
        rows.append(row)

    label = f"{env_nodes} nodes, {env_nodes * PODS_PER_NODE} Pods, {env_services} Services"
    runs = [_child(env_nodes, env_services, gc_on=False) for _ in range(max(args.repeat, 1))]
    env = {key: min(run[key] for run in runs) for key in runs[0]}
    env_gc = _child(env_nodes, env_services, gc_on=True)
    add("C1", f"total ({label})", env["total_s"], "s", 2.0)
    add("C1", "  add_node phase", env["nodes_s"], "s")
    add("C1", "  add_pod phase", env["pods_s"], "s")
    add("C1", "  create_service phase", env["services_s"], "s")
    add("C1", "peak RSS after the build", env["rss_mib"], "MiB", 300.0)
    add("C1", "copy()", env["copy_s"], "s", 0.1)
    add("C1", "snapshot + JSON round trip + from_snapshot", env["snapshot_round_trip_s"], "s", 3.0)
    add("C1", "snapshot JSON size", env["snapshot_mib"], "MiB")
    if len(runs) > 1:
        worst = max(run["total_s"] for run in runs)
        add("C1", f"total, worst of {len(runs)} runs", worst, "s")
    add("C1", "total, GC on", env_gc["total_s"], "s")
    add("C1", "peak RSS, GC on", env_gc["rss_mib"], "MiB")
    sizes = (100, 500, 2000) if args.quick else (500, 5000, 20_000)
    for nodes in sizes:
        g = growth(nodes)
        add("C2", f"add_node median at {nodes} nodes", g["add_node_us"], "us/op")
        add("C2", f"add_pod median at {nodes} nodes", g["add_pod_us"], "us/op")
        add("C2", f"create_service median at {nodes} nodes", g["create_service_us"], "us/op")
        add("C2", f"copy() at {nodes} nodes", g["copy_ms"], "ms")
    base_nodes = 500 // scale if args.quick else 500
    ours = growth(base_nodes)
    naive = baseline(base_nodes)
    add("B", f"naive add_node median ({base_nodes} nodes)", naive["add_node_us"], "us/op")
    add(
        "B",
        f"naive add_pod median ({base_nodes * PODS_PER_NODE} Pods)",
        naive["add_pod_us"],
        "us/op",
    )
    add("B", "add_node ratio naive / ours", naive["add_node_us"] / ours["add_node_us"], "x")
    add("B", "add_pod ratio naive / ours", naive["add_pod_us"] / ours["add_pod_us"], "x")

    header = f"{'workload':<8} {'figure':<58} {'value':>10} {'unit':<6} {'target':>8} {'':4}"
    print(header)
    print("-" * len(header))
    for r in rows:
        target = f"<= {r['target']}" if "target" in r else ""
        print(
            f"{r['workload']!s:<8} {r['figure']!s:<58} {r['value']!s:>10} {r['unit']!s:<6} "
            f"{target:>8} {r.get('status', '')!s:4}"
        )
    for r in rows:
        print(json.dumps(r))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

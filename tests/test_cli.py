"""The ``dualstack`` command, end to end in subprocesses and in process.

The workflow commands (simulate, apply, get, delete, validate, map --state) need the
Cluster facade; their tests skip while ``dualstack.cluster`` is absent or incomplete.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dualstack import cli
from dualstack._k8sproto import encode_envelope, encode_json, encode_yaml
from dualstack.service_ips import ServiceIPAllocator

ROOT = Path(__file__).resolve().parent.parent
SVG = "{http://www.w3.org/2000/svg}"


def run(*args: str, stdin: bytes | None = None, cwd: Path | None = None):
    """``python -m dualstack ARGS`` in a subprocess; returns (code, stdout, stderr)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DUALSTACK_DEBUG", None)
    result = subprocess.run(
        [sys.executable, "-m", "dualstack", *args],
        input=stdin,
        capture_output=True,
        cwd=cwd,
        env=env,
        timeout=300,
        check=False,
    )
    return result.returncode, result.stdout.decode(), result.stderr.decode()


def call(capsys, *args: str) -> tuple[int, str, str]:
    """``cli.main(ARGS)`` in process; returns (code, stdout, stderr)."""
    code = cli.main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(err: str) -> None:
    assert err.endswith("\n")
    assert err.count("\n") == 1, err
    assert err.startswith("dualstack")
    assert "Traceback" not in err


def _applied(capsys, tmp_path, manifests: str):
    """A new state file ``s.json`` in ``tmp_path`` after ``apply -f`` of ``manifests``."""
    state = tmp_path / "s.json"
    source = tmp_path / "m.yaml"
    source.write_text(manifests)
    assert call(capsys, "apply", "-f", str(source), "--state", str(state))[0] == 0
    return state


@pytest.fixture
def snapshot_files(tmp_path):
    """A 10.96.0.0/24 allocation (five addresses, release 1.30) in the three forms."""
    allocator = ServiceIPAllocator("10.96.0.0/24", version="1.30")
    for ip in ("10.96.0.1", "10.96.0.10", "10.96.0.11", "10.96.0.12", "10.96.0.254"):
        allocator.allocate(ip)
    snap = allocator.snapshot()
    files = {
        "json": tmp_path / "ranges.json",
        "yaml": tmp_path / "ranges.yaml",
        "envelope": tmp_path / "serviceips.bin",
    }
    files["json"].write_text(encode_json(snap.range, snap.data))
    files["yaml"].write_text(encode_yaml(snap.range, snap.data))
    files["envelope"].write_bytes(encode_envelope(snap.range, snap.data))
    return files


EXPECTED_LISTING = """\
allocated:
  10.96.0.1
  10.96.0.10 - 10.96.0.12 (3)
  10.96.0.254
"""


# --- help and usage errors -------------------------------------------------------------


def test_cli_help_subprocess_lists_every_command():
    code, out, err = run("--help")
    assert code == 0
    assert err == ""
    for name in ("plan", "simulate", "apply", "get", "delete", "validate", "decode-range", "map"):
        assert name in out


@pytest.mark.parametrize(
    "command",
    ["plan", "simulate", "apply", "get", "delete", "validate", "decode-range", "map"],
)
def test_cli_subcommand_help_exits_zero(capsys, command):
    with pytest.raises(SystemExit) as info:
        cli.main([command, "--help"])
    assert info.value.code == 0
    assert f"usage: dualstack {command}" in capsys.readouterr().out


USAGE_ERRORS = {
    "no-command": [],
    "unknown-command": ["frobnicate"],
    "plan-bare-word": ["plan", "foo"],
    "plan-flag-without-value": ["plan", "--cluster-cidr", "10.0.0.0/8"],
    "get-no-kind": ["get"],
    "get-unknown-kind": ["get", "widgets"],
    "delete-no-name": ["delete", "node"],
    "decode-no-file": ["decode-range"],
    "decode-bad-output": ["decode-range", "x", "-o", "xml"],
    "decode-component-flag": ["decode-range", "x", "--cluster-cidr=10.0.0.0/8"],
    "validate-component-flag": ["validate", "--cluster-cidr=10.0.0.0/8"],
    "map-no-output": ["map", "--range", "10.0.0.0/24"],
    "map-bad-range": ["map", "--range", "10.0.0.300/24", "-o", "x.svg", "--allocation", "f"],
    "map-max-cells": ["map", "--range", "10.0.0.0/24", "-o", "x.svg", "--max-cells", "100"],
    "map-two-sources": [
        "map",
        "--range",
        "10.0.0.0/24",
        "-o",
        "x.svg",
        "--state",
        "a",
        "--allocation",
        "b",
    ],
    "simulate-negative": ["simulate", "--nodes", "-3"],
    "simulate-not-number": ["simulate", "--services", "many"],
    "simulate-bad-policy": ["simulate", "--policy", "DualStack"],
}


@pytest.mark.parametrize("argv", list(USAGE_ERRORS.values()), ids=list(USAGE_ERRORS))
def test_cli_usage_error_exit_2_one_stderr_line(capsys, tmp_path, monkeypatch, argv):
    monkeypatch.chdir(tmp_path)
    code, out, err = call(capsys, *argv)
    assert code == 2
    assert out == ""
    assert_one_line_error(err)
    assert "--help" in err  # says where to look


def test_cli_usage_error_subprocess_exit_2_no_traceback():
    code, out, err = run("decode-range", "--bogus")
    assert code == 2
    assert out == ""
    assert_one_line_error(err)


# --- decode-range ----------------------------------------------------------------------


@pytest.mark.parametrize("form", ["json", "yaml", "envelope"])
def test_cli_decode_range_snapshot_forms_list_allocations(snapshot_files, form):
    code, out, err = run("decode-range", str(snapshot_files[form]), "--version", "1.30")
    assert (code, err) == (0, "")
    assert "range:     10.96.0.0/24\n" in out
    assert "family:    IPv4\n" in out
    assert "release:   1.30\n" in out
    assert "usable:    254 addresses (10.96.0.1 - 10.96.0.254)\n" in out
    assert "static:    16 addresses (10.96.0.1 - 10.96.0.16)\n" in out
    assert "used:      5\n" in out
    assert "free:      249\n" in out
    assert out.endswith(EXPECTED_LISTING)


def test_cli_decode_range_stdin_envelope_with_etcdctl_key_line(snapshot_files):
    blob = b"/registry/ranges/serviceips\n" + snapshot_files["envelope"].read_bytes() + b"\n"
    code, out, err = run("decode-range", "-", stdin=blob)
    assert (code, err) == (0, "")
    assert out.endswith(EXPECTED_LISTING)
    # Without --version, the newest release that stores a RangeAllocation.
    assert "release:   1.33 (--version to choose)\n" in out


def test_cli_decode_range_json_output(capsys, snapshot_files):
    code, out, err = call(capsys, "decode-range", str(snapshot_files["yaml"]), "-o", "json")
    assert (code, err) == (0, "")
    assert json.loads(out) == {
        "range": "10.96.0.0/24",
        "family": "IPv4",
        "version": "1.33",
        "size": 254,
        "staticSize": 16,
        "used": 5,
        "free": 249,
        "allocated": ["10.96.0.1", "10.96.0.10", "10.96.0.11", "10.96.0.12", "10.96.0.254"],
        "pastRange": [],
    }


@pytest.mark.parametrize(
    ("version", "size", "static"),
    [("1.16", 65535, 0), ("1.25", 65535, 256), ("1.33", 65535, 256), ("1.34", 1048575, 256)],
    ids=["1.16-window-no-band", "1.25-band", "1.33-window", "1.34-whole-prefix"],
)
def test_cli_decode_range_ipv6_usable_size_per_release(capsys, tmp_path, version, size, static):
    path = tmp_path / "v6.json"
    path.write_text(encode_json("fd00:10:96::/108", b"\x01\x00\x01"))  # offsets 0 and 16
    code, out, _ = call(capsys, "decode-range", str(path), "--version", version, "-o", "json")
    assert code == 0
    document = json.loads(out)
    assert (document["size"], document["staticSize"]) == (size, static)
    assert document["allocated"] == ["fd00:10:96::1", "fd00:10:96::11"]


def test_cli_decode_range_bits_past_range_warned_not_listed(capsys, tmp_path):
    # 10.0.0.0/30 has offsets 0 and 1 usable; offset 2 (the broadcast) is set too, as
    # kube-apiserver would keep it (service-ips.md §1.9).
    path = tmp_path / "r.json"
    path.write_text(encode_json("10.0.0.0/30", b"\x05"))
    code, out, _ = call(capsys, "decode-range", str(path))
    assert code == 0
    assert "used:      1\n" in out
    assert "1 bit(s) set past the usable range (10.0.0.3)" in out
    assert out.endswith("allocated:\n  10.0.0.1\n")


def test_cli_decode_range_empty_bitmap_lists_nothing(capsys, tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("range: 10.0.0.0/24\n")
    code, out, _ = call(capsys, "decode-range", str(path))
    assert code == 0
    assert "used:      0\nfree:      254\n" in out
    assert "allocated" not in out


DECODE_FAILURES = {
    "missing-file": (None, "cannot read"),
    "garbage": (b"hello world\n", "expected a RangeAllocation object"),
    "encrypted": (b"k8s:enc:kms:v2:key:\x00\x01", "encrypted at rest"),
    "truncated": (encode_envelope("10.0.0.0/24", b"\x01")[:-9], "truncated"),
    "bad-range": (b'{"range": "10.0.0.0/33"}', "is not a CIDR"),
    "bad-base64": (b'{"range": "10.0.0.0/24", "data": "%%%"}', "not valid base64"),
}


@pytest.mark.parametrize(
    ("content", "needle"), list(DECODE_FAILURES.values()), ids=list(DECODE_FAILURES)
)
def test_cli_decode_range_bad_input_exit_1_one_line(capsys, tmp_path, content, needle):
    path = tmp_path / "input"
    if content is not None:
        path.write_bytes(content)
    code, out, err = call(capsys, "decode-range", str(path))
    assert code == 1
    assert out == ""
    assert_one_line_error(err)
    assert needle in err
    assert str(path) in err  # names the input
    assert " — " in err  # says what would work


# --- map from an allocation ----------------------------------------------------------------


def _cell_kinds(svg_path: Path) -> Counter[str]:
    root = ET.parse(svg_path).getroot()
    kinds: Counter[str] = Counter()
    for rect in root.iter(f"{SVG}rect"):
        classes = (rect.get("class") or "").split()
        if "cell" in classes:
            classes.remove("cell")
            kinds[classes[0]] += 1
    return kinds


def test_cli_map_allocation_svg_cell_per_address(snapshot_files, tmp_path):
    svg = tmp_path / "map.svg"
    code, out, err = run(
        "map",
        "--allocation",
        str(snapshot_files["envelope"]),
        "--range",
        "10.96.0.0/24",
        "-o",
        str(svg),
        "--version",
        "1.30",
    )
    assert (code, err) == (0, "")
    assert out == f"wrote {svg}: 256 cells, one per address\n"
    kinds = _cell_kinds(svg)
    assert sum(kinds.values()) == 256
    # network + broadcast; static band .1-.16 minus the allocated .1 and .10-.12.
    assert kinds == {"service": 5, "reserved": 2, "static": 12, "free": 237}


def test_cli_map_allocation_large_range_aggregates(capsys, tmp_path):
    alloc = tmp_path / "v6.json"
    alloc.write_text(encode_json("fd00:10:96::/108", b"\x01"))
    svg = tmp_path / "v6.svg"
    code, out, _ = call(
        capsys, "map", "--allocation", str(alloc), "--range", "fd00:10:96::/108", "-o", str(svg)
    )
    assert code == 0
    assert "65536 cells, one per 16 addresses" in out
    kinds = _cell_kinds(svg)
    assert sum(kinds.values()) == 65536
    # Cell 0 holds the network address and the allocated ::1; the service wins.
    assert kinds["service"] == 1
    # Under 1.33 only ::1-::ffff are usable: the rest of the /108 is reserved.
    assert kinds["reserved"] == 65536 - 4096


def test_cli_map_max_cells_caps_the_map(capsys, tmp_path, snapshot_files):
    svg = tmp_path / "small.svg"
    code, _, _ = call(
        capsys,
        "map",
        "--allocation",
        str(snapshot_files["json"]),
        "--range",
        "10.96.0.0/24",
        "-o",
        str(svg),
        "--max-cells",
        "64",
    )
    assert code == 0
    assert sum(_cell_kinds(svg).values()) == 64


def test_cli_map_allocation_other_range_exit_1(capsys, tmp_path, snapshot_files):
    code, out, err = call(
        capsys,
        "map",
        "--allocation",
        str(snapshot_files["json"]),
        "--range",
        "10.97.0.0/24",
        "-o",
        str(tmp_path / "x.svg"),
    )
    assert code == 1
    assert out == ""
    assert_one_line_error(err)
    assert "give --range 10.96.0.0/24" in err
    assert not (tmp_path / "x.svg").exists()


# --- plan --------------------------------------------------------------------------------


def test_cli_plan_default_configuration_capacity(capsys):
    code, out, err = call(capsys, "plan")
    assert (code, err) == (0, "")
    assert "(no flags given: the built-in dual-stack configuration)" in out
    assert "max nodes: 256" in out
    assert "errors: none" in out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line[:4] == "IPv4"}
    assert rows["IPv4"][1:] == ["256", "253", "65534", "256"]


def test_cli_plan_invalid_flags_exit_1_lists_errors(capsys):
    code, out, err = call(
        capsys,
        "plan",
        "--cluster-cidr=10.244.0.0/16",
        "--service-cluster-ip-range=10.96.0.0/12,10.97.0.0/16",
        "--version",
        "1.30",
    )
    assert code == 1
    assert err == ""
    assert "errors (" in out
    assert "10.97.0.0/16" in out or "dual-stack" in out


def test_cli_plan_unknown_version_one_line(capsys):
    code, out, err = call(capsys, "plan", "--version", "2.0")
    assert code == 2  # a bad option value is a usage error (docs/cli.md, exit status)
    assert out == ""
    assert_one_line_error(err)
    assert "'2.0'" in err


@pytest.mark.parametrize("version", ["1.16", "1.18", "1.20", "1.33"])
def test_cli_default_flags_valid_in_every_era(version):
    from dualstack.config import ClusterConfig

    config = ClusterConfig.from_flags(cli.default_flags(version), version=version)
    assert config.is_dual_stack
    assert config.capacity().max_nodes == 256


# --- the state-file workflow (needs the Cluster facade) ---------------------------------------

SERVICES_1_16 = """\
apiVersion: v1
kind: Service
metadata:
  name: my-service
spec:
  selector:
    app: MyApp
  ports:
    - protocol: TCP
      port: 80
      targetPort: 9376
---
apiVersion: v1
kind: Service
metadata:
  name: my-service-ipv6
spec:
  ipFamily: IPv6
  selector:
    app: MyApp
  ports:
    - protocol: TCP
      port: 80
      targetPort: 9376
---
apiVersion: v1
kind: Service
metadata:
  name: my-service-ipv4
spec:
  ipFamily: IPv4
  selector:
    app: MyApp
  ports:
    - protocol: TCP
      port: 80
      targetPort: 9376
"""

NODES_AND_PODS = """\
apiVersion: v1
kind: Node
metadata:
  name: worker-1
---
apiVersion: v1
kind: Node
metadata:
  name: worker-2
spec:
  podCIDRs: [10.244.7.0/24, "fd00:10:244:7::/64"]
---
apiVersion: v1
kind: Pod
metadata:
  name: web-1
spec:
  nodeName: worker-2
"""


_WORKFLOW_API = (
    "add_node",
    "remove_node",
    "add_pod",
    "remove_pod",
    "snapshot",
    "from_snapshot",
    "validate",
    "nodes",
    "pods",
    "services",
)


@pytest.fixture
def cluster_module():
    """The Cluster facade, or a skip while it lacks part of the contract the workflow uses."""
    module = pytest.importorskip("dualstack.cluster")
    missing = [name for name in _WORKFLOW_API if not hasattr(module.Cluster, name)]
    if missing:
        pytest.skip(f"dualstack.cluster.Cluster lacks {', '.join(missing)}")
    return module


def test_cli_simulate_default_runs_and_validates(cluster_module, tmp_path):
    code, out, err = run("simulate", cwd=tmp_path)
    assert code == 0, err
    assert err == ""  # no progress bar when piped
    assert "configuration: built-in default (dual-stack)" in out
    assert "created: 50 nodes, 1000 Pods, 100 Services" in out
    assert "validation: passed, no findings" in out
    assert "10.96.0.0/16" in out
    assert "fd00:10:96::/112" in out


def test_cli_simulate_state_then_get_and_validate(cluster_module, tmp_path, capsys):
    state = str(tmp_path / "s.json")
    code, out, _ = call(
        capsys,
        "simulate",
        "--nodes",
        "3",
        "--pods-per-node",
        "2",
        "--services",
        "2",
        "--state",
        state,
    )
    assert code == 0
    assert f"state saved to {state}" in out
    code, out, _ = call(capsys, "get", "nodes", "--state", state)
    assert code == 0
    assert out.splitlines()[0].split() == ["NAME", "POD-CIDRS"]
    assert len(out.splitlines()) == 4
    code, out, _ = call(capsys, "get", "pods", "-o", "json", "--state", state)
    assert len(json.loads(out)["items"]) == 6
    code, out, _ = call(capsys, "validate", "--state", state)
    assert (code, out) == (0, "validation: passed, no findings\n")
    # simulate never overwrites a state file.
    code, _, err = call(capsys, "simulate", "--nodes", "1", "--state", state)
    assert code == 1
    assert_one_line_error(err)


def test_cli_apply_1_16_page_services(cluster_module, tmp_path):
    state = tmp_path / "state.json"
    code, out, err = run(
        "apply",
        "-f",
        "-",
        "--state",
        str(state),
        "--version",
        "1.16",
        stdin=SERVICES_1_16.encode(),
    )
    assert (code, err) == (0, "")
    assert out == (
        "service/my-service created\n"
        "service/my-service-ipv6 created\n"
        "service/my-service-ipv4 created\n"
    )
    code, out, _ = run("get", "services", "-o", "json", "--state", str(state))
    services = {s["metadata"]["name"]: s["spec"] for s in json.loads(out)["items"]}
    assert services["my-service"]["ipFamily"] == "IPv4"  # the first service range's family
    assert services["my-service-ipv6"]["ipFamily"] == "IPv6"
    assert ":" in services["my-service-ipv6"]["clusterIP"]
    assert services["my-service-ipv4"]["clusterIP"].startswith("10.96.")
    # Applying the same manifests again changes nothing.
    code, out, _ = run("apply", "-f", "-", "--state", str(state), stdin=SERVICES_1_16.encode())
    assert code == 0
    assert out.count("unchanged") == 3


def test_cli_apply_nodes_pods_get_delete_round_trip(cluster_module, tmp_path, capsys):
    manifests = tmp_path / "m.yaml"
    manifests.write_text(NODES_AND_PODS)
    state = str(tmp_path / "state.json")
    code, out, err = call(capsys, "apply", "-f", str(manifests), "--state", state)
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "node/worker-1 created",
        "node/worker-2 created",
        "pod/web-1 created",
    ]
    code, out, _ = call(capsys, "get", "node", "worker-2", "-o", "yaml", "--state", state)
    assert "podCIDRs:\n  - 10.244.7.0/24\n  - fd00:10:244:7::/64\n" in out
    code, out, _ = call(capsys, "get", "pods", "-o", "wide", "--state", state)
    (row,) = out.splitlines()[1:]
    assert row.split()[:3] == ["default", "web-1", "worker-2"]
    assert row.split()[3].startswith("10.244.7.")
    code, out, _ = call(capsys, "delete", "pod", "web-1", "--state", state)
    assert (code, out) == (0, 'pod "web-1" deleted\n')
    code, _, err = call(capsys, "delete", "pod", "web-1", "--state", state)
    assert code == 1
    assert_one_line_error(err)
    assert "not found" in err


def test_cli_apply_bad_document_reports_and_keeps_the_rest(cluster_module, tmp_path, capsys):
    manifests = tmp_path / "m.yaml"
    manifests.write_text(
        "kind: Pod\nmetadata: {name: orphan}\nspec: {}\n---\n"
        "kind: Node\nmetadata: {name: n1}\n---\n"
        "kind: ConfigMap\nmetadata: {name: c}\n"
    )
    state = str(tmp_path / "state.json")
    code, out, err = call(capsys, "apply", "-f", str(manifests), "--state", state)
    assert code == 1
    assert out == "node/n1 created\n"
    lines = err.splitlines()
    assert len(lines) == 2
    assert "document 1" in lines[0]
    assert "spec.nodeName" in lines[0]
    assert "document 3" in lines[1]
    assert "ConfigMap" in lines[1]


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        pytest.param(
            "kind: Node\nmetadata: {name: bad}\nspec: hello\n",
            "node/bad: spec: invalid type: got string 'hello', expected a mapping",
            id="node-spec-string",
        ),
        pytest.param(
            "kind: Pod\nmetadata: {name: p, namespace: [x]}\nspec: {nodeName: good}\n",
            "pod/p: metadata.namespace: invalid type: got list ['x'], expected a string",
            id="pod-namespace-list",
        ),
        pytest.param(
            "kind: Pod\nmetadata: {name: p}\nspec: {nodeName: [good]}\n",
            "pod/p: spec.nodeName: invalid type: got list ['good'], expected a string",
            id="pod-node-list",
        ),
        pytest.param(
            "kind: Service\nmetadata: {name: s}\nspec: 5\n",
            "service/s: spec: invalid type: got number 5, expected a mapping",
            id="service-spec-number",
        ),
        pytest.param(
            "kind: List\nitems: 7\n",
            "kind List: items: invalid type: got number 7, expected a list of manifests",
            id="list-items-number",
        ),
        pytest.param("7\n", "not a manifest: got number 7", id="scalar-document"),
        pytest.param(
            "kind: [Node]\nmetadata: {name: n}\n",
            "kind ['Node'] is not supported",
            id="kind-list",
        ),
    ],
)
def test_cli_apply_malformed_document_one_line_others_saved(
    cluster_module, tmp_path, capsys, document, expected
):
    manifests = tmp_path / "m.yaml"
    manifests.write_text(
        "kind: Node\nmetadata: {name: good}\n---\n"
        + document
        + "---\nkind: Pod\nmetadata: {name: web}\nspec: {nodeName: good}\n"
    )
    state = str(tmp_path / "state.json")
    code, out, err = call(capsys, "apply", "-f", str(manifests), "--state", state)
    assert code == 1
    assert out == "node/good created\npod/web created\n"
    assert_one_line_error(err)
    assert err.startswith(f"dualstack apply: {str(manifests)!r} document 2: {expected} — ")
    assert "internal error" not in err
    # The documents that applied were saved.
    code, out, _ = call(capsys, "get", "pods", "--state", state)
    assert code == 0
    assert out.splitlines()[1].split()[:3] == ["default", "web", "good"]


def test_cli_apply_list_items_numbered_with_the_rest(cluster_module, tmp_path, capsys):
    manifests = tmp_path / "m.yaml"
    manifests.write_text(
        "kind: List\nitems: [7, {kind: Node, metadata: {name: n1}}]\n---\n"
        "kind: List\nitems: null\n---\n"
        "kind: Node\nmetadata: {name: n2}\n"
    )
    state = str(tmp_path / "state.json")
    code, out, err = call(capsys, "apply", "-f", str(manifests), "--state", state)
    assert code == 1
    assert out == "node/n1 created\nnode/n2 created\n"
    assert_one_line_error(err)
    assert "document 1: not a manifest" in err


def test_cli_two_concurrent_applies_both_land(cluster_module, tmp_path):
    state = tmp_path / "state.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    first = run(
        "apply", "-f", "-", "--state", str(state), stdin=b"kind: Node\nmetadata: {name: seed}\n"
    )
    assert first[0] == 0
    procs = []
    for worker in ("a", "b"):
        manifests = tmp_path / f"{worker}.yaml"
        manifests.write_text(
            "".join(f"---\nkind: Node\nmetadata: {{name: {worker}-{i}}}\n" for i in range(10))
        )
        command = ["apply", "-f", str(manifests), "--state", str(state)]
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "dualstack", *command],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env=env,
            )
        )
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    code, out, _ = run("get", "nodes", "--state", str(state))
    assert code == 0
    names = {line.split()[0] for line in out.splitlines()[1:]}
    assert names == {"seed"} | {f"{w}-{i}" for w in "ab" for i in range(10)}


def test_cli_damaged_state_refused_untouched(cluster_module, tmp_path, capsys):
    state = tmp_path / "state.json"
    state.write_bytes(b'{"kind": "DualStackState", "format": 1, "fl')
    manifests = tmp_path / "node.yaml"
    manifests.write_text("kind: Node\nmetadata: {name: n1}\n")
    code, out, err = call(capsys, "apply", "-f", str(manifests), "--state", str(state))
    assert code == 1
    assert out == ""
    assert_one_line_error(err)
    assert "damaged" in err
    assert state.read_bytes() == b'{"kind": "DualStackState", "format": 1, "fl'


def test_cli_get_without_state_says_how_to_create(cluster_module, tmp_path, capsys):
    code, _, err = call(capsys, "get", "nodes", "--state", str(tmp_path / "none.json"))
    assert code == 1
    assert_one_line_error(err)
    assert "dualstack apply -f FILE" in err


def test_cli_map_state_cluster_cidr_cell_per_node_block(cluster_module, tmp_path, capsys):
    state = str(tmp_path / "s.json")
    assert (
        call(
            capsys,
            "simulate",
            "--nodes",
            "5",
            "--pods-per-node",
            "1",
            "--services",
            "3",
            "--state",
            state,
        )[0]
        == 0
    )
    svg = tmp_path / "nodes.svg"
    code, _, _ = call(capsys, "map", "--state", state, "--range", "10.244.0.0/16", "-o", str(svg))
    assert code == 0
    kinds = _cell_kinds(svg)
    assert sum(kinds.values()) == 256
    assert kinds["node"] == 5
    svg = tmp_path / "svc.svg"
    code, _, _ = call(
        capsys, "map", "--state", state, "--range", "fd00:10:96::/112", "-o", str(svg)
    )
    assert code == 0
    kinds = _cell_kinds(svg)
    assert sum(kinds.values()) == 65536
    assert kinds["service"] == 3
    code, _, err = call(
        capsys, "map", "--state", state, "--range", "192.168.0.0/24", "-o", str(svg)
    )
    assert code == 1
    assert_one_line_error(err)
    assert "10.96.0.0/16" in err


# --- helpers -------------------------------------------------------------------------------


@settings(max_examples=100)
@given(offsets=st.sets(st.integers(min_value=0, max_value=2000), max_size=60))
def test_cli_set_offsets_matches_big_endian_integer_bits(offsets):
    number = sum(1 << o for o in offsets)
    data = number.to_bytes((number.bit_length() + 7) // 8, "big")
    assert list(cli._set_offsets(data)) == sorted(offsets)
    # Leading zero bytes (not produced by Go, but harmless) change nothing.
    assert list(cli._set_offsets(b"\x00\x00" + data)) == sorted(offsets)


@settings(max_examples=100)
@given(values=st.sets(st.integers(min_value=0, max_value=300), max_size=80))
def test_cli_runs_coalesce_consecutive_values(values):
    runs = list(cli._runs(sorted(values)))
    expanded = [v for first, last in runs for v in range(first, last + 1)]
    assert expanded == sorted(values)
    # Runs are maximal: a gap separates each from the next.
    assert all(b[0] > a[1] + 1 for a, b in itertools.pairwise(runs))


def test_cli_plan_subprocess_errors_exit_1():
    code, out, err = run(
        "plan",
        "--cluster-cidr=10.244.0.0/16",
        "--service-cluster-ip-range=10.96.0.0/12,10.97.0.0/16",
    )
    assert (code, err) == (1, "")
    assert "errors (2):" in out
    assert "must be of different IP family" in out


def test_cli_validate_subprocess_findings_exit_1(cluster_module, tmp_path):
    state = tmp_path / "state.json"
    half = (
        "kind: Node\nmetadata: {name: half}\nspec: {podCIDRs: [10.244.9.0/24]}\n---\n"
        "kind: Pod\nmetadata: {name: p}\nspec: {nodeName: half}\n"
    )
    assert run("apply", "-f", "-", "--state", str(state), stdin=half.encode())[0] == 0
    code, out, err = run("validate", "--state", str(state))
    assert (code, err) == (1, "")
    lines = out.splitlines()
    assert lines[0] == "validation: 2 finding(s)"
    assert lines[1].startswith("  error: node/half: ")
    assert lines[2].startswith("  error: pod/default/p: ")


# --- namespaces, versions and usage errors --------------------------------------------------


def test_cli_get_lists_one_namespace_like_kubectl(cluster_module, tmp_path, capsys):
    manifests = tmp_path / "m.yaml"
    manifests.write_text(
        "kind: Node\nmetadata: {name: n1}\n---\n"
        "kind: Service\nmetadata: {name: web, namespace: team}\nspec: {ports: [{port: 80}]}\n"
        "---\nkind: Pod\nmetadata: {name: p, namespace: team}\nspec: {nodeName: n1}\n"
    )
    state = str(tmp_path / "state.json")
    assert call(capsys, "apply", "-f", str(manifests), "--state", state)[0] == 0

    def names(*args: str) -> list[str]:
        code, out, _ = call(capsys, "get", *args, "--state", state)
        assert code == 0
        return [" ".join(line.split()[:2]) for line in out.splitlines()[1:]]

    assert names("svc", "-n", "team") == ["team web"]
    assert names("svc") == ["default kubernetes"]
    assert names("svc", "-A") == ["default kubernetes", "team web"]
    assert names("pods", "-n", "team") == ["team p"]
    assert names("pods") == []
    code, out, err = call(capsys, "get", "pods", "--state", state)
    assert (code, out) == (0, "")
    assert err == f"No pods found in namespace 'default' in {state}.\n"


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(("plan", "--version", "1.99"), id="plan-unknown"),
        pytest.param(("decode-range", "x.yaml", "--version", "garbage"), id="decode-garbage"),
        pytest.param(("simulate", "--version", "1.15"), id="simulate-too-old"),
    ],
)
def test_cli_bad_version_is_usage_error_with_command_line_hint(capsys, args):
    code, out, err = call(capsys, *args)
    assert (code, out) == (2, "")
    assert_one_line_error(err)
    assert err.startswith(f"dualstack {args[0]}: argument --version: unsupported Kubernetes")
    assert "omit --version for the newest" in err
    assert "None" not in err


@pytest.mark.parametrize(
    ("args", "prefix"),
    [
        pytest.param(
            ("plan", "--version"),
            "dualstack plan: argument --version: expected one argument",
            id="plan-missing-value",
        ),
        pytest.param(
            ("map", "--range", "10.0.0.0/24", "-o", "x.svg", "--max-cells", "3"),
            "dualstack map: argument --max-cells: '3' is not a power of two",
            id="map-bad-cells",
        ),
    ],
)
def test_cli_argparse_error_names_the_subcommand(capsys, args, prefix):
    code, _, err = call(capsys, *args)
    assert code == 2
    assert_one_line_error(err)
    assert err.startswith(prefix)
    assert err.count("--help") == 1


def test_cli_plan_usage_names_the_flags(capsys):
    with pytest.raises(SystemExit):
        cli.main(["plan", "--help"])
    assert capsys.readouterr().out.startswith(
        "usage: dualstack plan [-h] [--version V] [FLAGS...]"
    )


def test_cli_simulate_state_in_missing_directory_refused_before_simulating(tmp_path, capsys):
    target = tmp_path / "missing" / "x.json"
    code, out, err = call(capsys, "simulate", "--nodes", "1", "--state", str(target))
    assert (code, out) == (1, "")
    assert_one_line_error(err)
    assert "does not exist" in err
    assert not (tmp_path / "missing").exists()


@pytest.mark.parametrize(
    ("key", "value"),
    [
        pytest.param("version", "1.99", id="version-unknown"),
        pytest.param("version", "1.20", id="version-other"),
    ],
)
def test_cli_state_file_version_disagreeing_with_cluster_refused(
    cluster_module, tmp_path, capsys, key, value
):
    state = _applied(capsys, tmp_path, "kind: Node\nmetadata: {name: n1}\n")
    document = json.loads(state.read_text())
    document[key] = value
    state.write_text(json.dumps(document))
    kept = state.read_bytes()
    for command in (
        ("validate",),
        ("get", "nodes"),
        ("map", "--range", "10.244.0.0/16", "-o", str(tmp_path / "x.svg")),
    ):
        code, out, err = call(capsys, *command, "--state", str(state))
        assert (code, out) == (1, "")
        assert_one_line_error(err)
        assert "is inconsistent" in err
    assert state.read_bytes() == kept


@pytest.mark.parametrize(
    "flags",
    [["--cluster-cidr=10.0.0.0/8"], ["--bogus=1"], ["--feature-gates=AllBeta=true"]],
    ids=["flags-edited", "flags-unknown", "flags-read-differently-now"],
)
def test_cli_state_file_commands_follow_the_snapshot_not_the_stored_flags(
    cluster_module, tmp_path, capsys, flags
):
    # The stored flags are a record; a later dualstack may read them differently
    # (AllBeta, for one), and the file must still open with the cluster it holds.
    state = _applied(capsys, tmp_path, "kind: Node\nmetadata: {name: n1}\n")
    document = json.loads(state.read_text())
    document["flags"] = flags
    state.write_text(json.dumps(document))
    assert call(capsys, "validate", "--state", str(state))[0] == 0
    code, out, _ = call(capsys, "get", "nodes", "--state", str(state))
    assert code == 0 and "n1" in out
    svg = tmp_path / "x.svg"
    assert (
        call(capsys, "map", "--range", "10.244.0.0/16", "-o", str(svg), "--state", str(state))[0]
        == 0
    )


@pytest.mark.parametrize(
    "command", [("simulate", "--nodes", "1"), ("get", "nodes"), ("validate",)]
)
def test_cli_empty_state_path_is_a_usage_error(cluster_module, capsys, command):
    code, out, err = call(capsys, *command, "--state", "")
    assert (code, out) == (2, "")
    assert "argument --state: expected a file name" in err


def test_cli_get_name_not_found_names_the_namespace_and_a_listing_that_shows_it(
    cluster_module, tmp_path, capsys
):
    state = _applied(
        capsys,
        tmp_path,
        "kind: Service\nmetadata: {name: web, namespace: team}\nspec: {ports: [{port: 80}]}\n",
    )
    code, out, err = call(capsys, "get", "svc", "web", "--state", str(state))
    assert (code, out) == (1, "")
    assert f"service 'web' not found in namespace 'default' of '{state}'" in err
    assert f"'dualstack get services -A --state {state}'" in err
    assert call(capsys, "get", "svc", "team/web", "--state", str(state))[0] == 0
    code, out, err = call(capsys, "get", "svc", "web", "-A", "--state", str(state))
    assert (code, out) == (2, "")
    assert "cannot be retrieved by name across all namespaces" in err


def test_cli_apply_yaml_number_and_boolean_keys_sent_as_strings_like_kubectl(
    cluster_module, tmp_path, capsys
):
    state = tmp_path / "s.json"
    manifests = tmp_path / "m.yaml"
    manifests.write_text(
        "kind: Service\nmetadata: {name: web, labels: {2024: x}}\n"
        "spec: {selector: {2024: release, true: on-call}, ports: [{port: 80}]}\n"
    )
    code, out, err = call(capsys, "apply", "-f", str(manifests), "--state", str(state))
    assert (code, err) == (0, ""), err
    code, out, _ = call(capsys, "get", "svc", "web", "-o", "json", "--state", str(state))
    stored = json.loads(out)
    assert stored["spec"]["selector"] == {"2024": "release", "true": "on-call"}
    assert stored["metadata"]["labels"] == {"2024": "x"}

"""The ``dualstack`` command: plan, simulate and inspect dual-stack clusters.

Purpose: answer the everyday questions of people who run dual-stack clusters, in the
style of ``kubectl`` and ``kubeadm``, on top of the library's public API. Subcommands:

- ``plan [FLAGS...]``: validate component flags, print capacity per family.
- ``simulate``: build a cluster (a built-in default dual-stack one without options),
  allocate, print a summary; ``--state`` keeps the result.
- ``apply -f``, ``get``, ``delete``, ``validate``: a local kubectl-like workflow over
  Node, Pod and Service manifests against a state file (``_statefile``).
- ``decode-range``: read a kube-apiserver ``RangeAllocation`` (JSON, YAML or the raw
  etcd value) and list what it allocates (``_k8sproto``).
- ``map``: an SVG picture of a range's use (``_svgmap``).

Key entry point: ``main(argv) -> int`` (the console script and ``python -m dualstack``).

Invariants: every failure is one line on stderr, ``dualstack <command>: <what> — <what
would work>``; exit status 2 for usage errors, 1 for errors and findings, 0 otherwise;
never a traceback (an unexpected exception is reported in one line too, with
``DUALSTACK_DEBUG=1`` showing the traceback). Commands that change the state file hold
its lock from the read to the atomic write. Component flags (``--cluster-cidr=...``) are
passed through in ``--name=value`` form to ``ClusterConfig.from_flags``. The modules
behind the facade are imported when a command needs them, so ``--help`` and
``decode-range`` work on their own.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any, Final, NoReturn

import yaml

from dualstack._k8sproto import decode_range_allocation
from dualstack._statefile import DEFAULT_STATE_PATH, LockedState, StateFile
from dualstack._svgmap import MAX_CELLS, OwnerKind, aggregate_spans, cell_plan, render_svg
from dualstack.errors import ConfigError, DualStackError
from dualstack.families import IPFamily, format_cidr, format_ip, parse_cidr
from dualstack.profiles import NEWEST, OLDEST, Profile

if TYPE_CHECKING:
    from dualstack.cluster import Cluster  # type: ignore[import-not-found, unused-ignore]
    from dualstack.config import ClusterConfig

__all__ = ["DEFAULT_FLAGS", "STATE_FORMAT", "build_parser", "default_flags", "main"]

PROG: Final = "dualstack"

DEFAULT_FLAGS: Final = (
    "--cluster-cidr=10.244.0.0/16,fd00:10:244::/56",
    "--node-cidr-mask-size-ipv4=24",
    "--node-cidr-mask-size-ipv6=64",
    "--service-cluster-ip-range=10.96.0.0/16,fd00:10:96::/112",
)
"""The built-in dual-stack configuration of ``simulate`` and a new state file."""

STATE_FORMAT: Final = 1
"""The version of the state document this command writes (``"format"`` key)."""

EXIT_OK: Final = 0
EXIT_FAILURE: Final = 1
EXIT_USAGE: Final = 2


class _CommandError(Exception):
    """A command failed; ``str()`` is the one-line message, ``code`` the exit status,
    ``command`` the prefix of the printed line when it is known better than ``main`` does
    (argparse errors of a subcommand are raised while ``main`` is still parsing)."""

    def __init__(self, message: str, code: int = EXIT_FAILURE, command: str | None = None):
        super().__init__(message)
        self.code = code
        self.command = command


def _one_line(error: BaseException) -> str:
    """An exception as one line (ConfigError lists several violations)."""
    if isinstance(error, ConfigError) and len(error.errors) > 1:
        return f"{len(error.errors)} configuration errors: " + "; ".join(error.errors)
    return " ".join(str(error).split("\n"))


# --- argument parsing ----------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (exit status 2)."""

    def error(self, message: str) -> NoReturn:
        raise _CommandError(f"{message} (see '{self.prog} --help')", EXIT_USAGE, self.prog)


def _add_version(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--version",
        metavar="V",
        help=f"Kubernetes minor release to model, 1.{OLDEST} to 1.{NEWEST} (default: the newest)",
    )


def _add_state(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state",
        metavar="FILE",
        default=DEFAULT_STATE_PATH,
        help=f"the state file (default: ./{DEFAULT_STATE_PATH})",
    )


_FLAGS_EPILOG: Final = (
    "FLAGS are kube-controller-manager / kube-apiserver flags in --name=value form, e.g. "
    "--cluster-cidr=10.244.0.0/16,fd00:10:244::/56 "
    "--service-cluster-ip-range=10.96.0.0/16,fd00:10:96::/112 "
    "--node-cidr-mask-size-ipv6=64 --feature-gates=IPv6DualStack=true"
)

_KIND_ALIASES: Final = {
    "node": "node",
    "nodes": "node",
    "no": "node",
    "pod": "pod",
    "pods": "pod",
    "po": "pod",
    "service": "service",
    "services": "service",
    "svc": "service",
}


def build_parser() -> argparse.ArgumentParser:
    """The ``dualstack`` argument parser (subcommands and their options)."""
    parser = _Parser(
        prog=PROG,
        allow_abbrev=False,
        description="Plan, simulate and inspect Kubernetes dual-stack IPv4/IPv6 "
        "address allocation, exactly as Kubernetes does it.",
        epilog="Run 'dualstack simulate' for a dual-stack simulation on a built-in "
        "configuration. Docs: docs/cli.md.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    with_flags: list[argparse.ArgumentParser] = []

    def command(name: str, help_text: str, *, flags: bool = False) -> argparse.ArgumentParser:
        p = sub.add_parser(
            name,
            help=help_text,
            description=help_text,
            allow_abbrev=False,
            epilog=_FLAGS_EPILOG if flags else None,
        )
        p.set_defaults(accepts_flags=flags)
        if flags:
            with_flags.append(p)
        return p

    p = command("plan", "validate a configuration and print its capacity per family", flags=True)
    _add_version(p)

    p = command("simulate", "build a cluster, allocate, print a summary", flags=True)
    p.add_argument("--nodes", type=_count, default=50, metavar="N", help="nodes (default 50)")
    p.add_argument(
        "--pods-per-node", type=_count, default=20, metavar="P", help="Pods per node (default 20)"
    )
    p.add_argument(
        "--services", type=_count, default=100, metavar="S", help="Services (default 100)"
    )
    p.add_argument(
        "--policy",
        choices=("SingleStack", "PreferDualStack", "RequireDualStack"),
        help="ipFamilyPolicy of the Services (default: PreferDualStack on a dual-stack "
        "cluster of a release with the GA API, else none)",
    )
    p.add_argument("--seed", type=int, default=1, metavar="N", help="random seed (default 1)")
    _add_version(p)
    p.add_argument("--state", metavar="FILE", help="also save the cluster to this new state file")

    p = command("apply", "create or update Nodes, Pods and Services from manifests", flags=True)
    p.add_argument(
        "-f",
        "--filename",
        required=True,
        metavar="FILE",
        help="a YAML/JSON file of manifests (multi-document), or - for standard input",
    )
    _add_state(p)
    _add_version(p)

    p = command("get", "list nodes, pods or services of the state file")
    p.add_argument("kind", metavar="KIND", help="nodes, pods or services")
    p.add_argument("name", nargs="?", metavar="NAME", help="one object (NAME or NAMESPACE/NAME)")
    p.add_argument("-o", "--output", choices=("yaml", "json", "wide"), help="output format")
    p.add_argument("-n", "--namespace", default="default", help="namespace (default: default)")
    p.add_argument(
        "-A",
        "--all-namespaces",
        action="store_true",
        help="list Pods and Services of every namespace",
    )
    _add_state(p)

    p = command("delete", "delete a node, pod or service from the state file")
    p.add_argument("kind", metavar="KIND", help="node, pod or service")
    p.add_argument("name", metavar="NAME", help="its name (NAME or NAMESPACE/NAME)")
    p.add_argument("-n", "--namespace", default="default", help="namespace (default: default)")
    _add_state(p)

    p = command("validate", "the dual-stack validation report of the state file")
    _add_state(p)

    p = command(
        "decode-range", "list what a kube-apiserver RangeAllocation (JSON, YAML, etcd) allocates"
    )
    p.add_argument("file", metavar="FILE", help="the RangeAllocation, or - for standard input")
    p.add_argument(
        "--version",
        metavar="V",
        help="the release that wrote it, for the usable size (default: the newest release "
        "that stores a RangeAllocation)",
    )
    p.add_argument("-o", "--output", choices=("text", "json"), default="text")

    p = command("map", "draw an SVG map of a range's use")
    p.add_argument("--range", required=True, metavar="CIDR", help="the range to draw")
    p.add_argument("-o", "--output", required=True, metavar="FILE.svg", help="where to write")
    source = p.add_mutually_exclusive_group()
    source.add_argument(
        "--state", metavar="FILE", help=f"the state file (default: ./{DEFAULT_STATE_PATH})"
    )
    source.add_argument(
        "--allocation",
        metavar="FILE",
        help="draw a RangeAllocation (as decode-range reads it) instead of a state file",
    )
    p.add_argument(
        "--max-cells",
        type=_power_of_two,
        default=MAX_CELLS,
        metavar="N",
        help=f"aggregate to at most N cells, a power of two (default and most {MAX_CELLS})",
    )
    p.add_argument("--version", metavar="V", help="release, with --allocation")
    for p in with_flags:
        # The component flags are not argparse options (parse_known_args passes them
        # through): name them in the usage line, which is what the command is about.
        p.usage = p.format_usage().removeprefix("usage: ").strip() + " [FLAGS...]"
    return parser


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is negative; give 0 or more")
    return value


def _power_of_two(text: str) -> int:
    value = _count(text)
    if value < 1 or value & (value - 1) or value > MAX_CELLS:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a power of two between 1 and {MAX_CELLS}"
        )
    return value


def _split_flags(args: argparse.Namespace, extra: Sequence[str]) -> list[str]:
    """The component flags among the arguments argparse did not know."""
    if not extra:
        return []
    if not getattr(args, "accepts_flags", False):
        raise _CommandError(
            f"unrecognized arguments: {' '.join(extra)} (see '{PROG} {args.command} --help')",
            EXIT_USAGE,
        )
    for item in extra:
        if not item.startswith("--") or "=" not in item:
            raise _CommandError(
                f"unexpected argument {item!r}: give component flags as --name=value "
                f"(see '{PROG} {args.command} --help')",
                EXIT_USAGE,
            )
    return list(extra)


# --- entry point ---------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``dualstack`` command; return its exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    command = "dualstack"
    try:
        parser = build_parser()
        args, extra = parser.parse_known_args(arguments)
        if args.command is None:
            raise _CommandError(
                f"a command is required: {', '.join(_HANDLERS)} (see 'dualstack --help')",
                EXIT_USAGE,
            )
        command = f"dualstack {args.command}"
        flags = _split_flags(args, extra)
        _check_version(getattr(args, "version", None))
        if getattr(args, "state", None) == "":
            raise _CommandError("argument --state: expected a file name", EXIT_USAGE)
        handler = _HANDLERS[args.command]
        return handler(args, flags)
    except _CommandError as failure:
        command = failure.command or command
        message = str(failure)
        if failure.code == EXIT_USAGE and "--help" not in message:
            message += f" (see '{command} --help')"
        _print_error(command, message)
        return failure.code
    except DualStackError as error:
        _print_error(command, _one_line(error))
        return EXIT_FAILURE
    except KeyboardInterrupt:
        _print_error(command, "interrupted")
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): point stdout at /dev/null so that the
        # interpreter's final flush does not fail again, and stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except Exception as error:
        if os.environ.get("DUALSTACK_DEBUG"):
            traceback.print_exc()
        _print_error(
            command,
            f"internal error: {type(error).__name__}: {_one_line(error)} — please report "
            "it; DUALSTACK_DEBUG=1 shows the traceback",
        )
        return EXIT_FAILURE


def _print_error(command: str, message: str) -> None:
    print(f"{command}: {message}", file=sys.stderr)


# --- shared helpers --------------------------------------------------------------------------


def _profile(version: str | None) -> Profile:
    return Profile.for_version(version)


def _check_version(version: str | None) -> None:
    """Refuse a ``--version`` the library does not model as a usage error (exit 2)."""
    if version is None:
        return
    try:
        Profile.for_version(version)
    except ConfigError as error:
        raise _CommandError(
            f"argument --version: {error.message} — give 1.{OLDEST} to 1.{NEWEST} "
            "(e.g. 1.30), or omit --version for the newest",
            EXIT_USAGE,
        ) from None


def default_flags(version: str | None = None) -> tuple[str, ...]:
    """The built-in dual-stack configuration, adapted to what ``version`` can express.

    Releases with one node mask for both families (1.16) get ``/24`` blocks from an
    IPv6 ``/16`` (node-and-pod-ips.md §2.11); releases whose ``IPv6DualStack`` gate is
    off by default get it switched on.
    """
    profile = _profile(version)
    flags = list(DEFAULT_FLAGS)
    if profile.single_node_mask:
        flags = [
            "--cluster-cidr=10.244.0.0/16,fd10::/16",
            "--node-cidr-mask-size=24",
            DEFAULT_FLAGS[3],
        ]
    if not profile.dual_stack_gate_default:
        flags.append("--feature-gates=IPv6DualStack=true")
    return tuple(flags)


def _config_from_flags(flags: Sequence[str], version: str | None) -> ClusterConfig:
    from dualstack.config import ClusterConfig

    return ClusterConfig.from_flags(flags, version=version)


def _read_input(name: str) -> bytes:
    if name == "-":
        return sys.stdin.buffer.read()
    try:
        with open(name, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise _CommandError(
            f"cannot read {name!r}: {exc.strerror} — give a readable file, or - for standard input"
        ) from None


class _Progress:
    """A progress bar on standard error when it is a terminal; silent otherwise."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.enabled = total > 0 and sys.stderr.isatty()
        self.drawn = False
        self.last = 0.0

    def update(self, label: str, done: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if done < self.total and now - self.last < 0.1:
            return  # redraw at most ten times a second
        self.last = now
        width = 30
        filled = width * done // self.total
        bar = "#" * filled + "-" * (width - filled)
        sys.stderr.write(f"\r[{bar}] {100 * done // self.total:3d}% {label:<10}")
        sys.stderr.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self.drawn = False


# --- plan ------------------------------------------------------------------------------------


def _cmd_plan(args: argparse.Namespace, flags: list[str]) -> int:
    out = sys.stdout
    used_flags = flags or list(default_flags(args.version))
    profile = _profile(args.version)
    print(f"Kubernetes {profile.version}", file=out)
    if not flags:
        print("(no flags given: the built-in dual-stack configuration)", file=out)
    for flag in used_flags:
        print(f"  {flag}", file=out)
    try:
        config = _config_from_flags(used_flags, args.version)
    except ConfigError as error:
        print(f"errors ({len(error.errors)}):", file=out)
        for item in error.errors:
            print(f"  - {item}", file=out)
        return EXIT_FAILURE
    capacity = config.capacity()
    rows = [("family", "node blocks", "pods/node", "service IPs", "static band")]
    for family, fc in capacity.per_family.items():
        rows.append(
            (
                str(family),
                str(fc.node_blocks),
                str(fc.pods_per_node),
                str(fc.service_ips),
                str(fc.static_band),
            )
        )
    print("", file=out)
    _print_table(rows, out)
    print("", file=out)
    print(f"max nodes: {capacity.max_nodes}", file=out)
    limiting = capacity.limiting_family
    if limiting is not None:
        print(f"limiting factor: {limiting} node blocks of the cluster CIDR", file=out)
    warnings = tuple(capacity.warnings)
    if warnings:
        print(f"warnings ({len(warnings)}):", file=out)
        for warning in warnings:
            print(f"  - {warning}", file=out)
    else:
        print("warnings: none", file=out)
    print("errors: none", file=out)
    return EXIT_OK


def _print_table(rows: Sequence[Sequence[str]], out: IO[str]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip(),
            file=out,
        )


# --- simulate --------------------------------------------------------------------------------


def _service_manifest(name: str, policy: str | None, family: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": {"app": name},
        "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}],
    }
    if policy is not None:
        spec["ipFamilyPolicy"] = policy
    if family is not None:
        spec["ipFamily"] = family  # the alpha API (1.16-1.19): one family per Service
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
    }


def _check_new_state_path(path: str) -> None:
    """Refuse, before any work, a ``--state`` path that simulate could not create."""
    if os.path.lexists(path):
        raise _CommandError(
            f"the state file {path!r} already exists — choose a new --state path; "
            "simulate never overwrites a state file"
        )
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise _CommandError(
            f"cannot create the state file {path!r}: the directory {directory!r} does not "
            "exist — create it first or choose another --state path"
        )
    if not os.access(directory, os.W_OK | os.X_OK):
        raise _CommandError(
            f"cannot create the state file {path!r}: the directory {directory!r} is not "
            "writable — choose another --state path"
        )


def _cmd_simulate(args: argparse.Namespace, flags: list[str]) -> int:
    from dualstack.cluster import Cluster  # type: ignore[import-not-found, unused-ignore]

    out = sys.stdout
    profile = _profile(args.version)
    used_flags = flags or list(default_flags(args.version))
    if args.state is not None:
        _check_new_state_path(args.state)
    config = _config_from_flags(used_flags, args.version)
    policy = args.policy
    if policy is not None and profile.service_api != "ga":
        raise _CommandError(
            f"--policy needs the GA dual-stack Service API, which {profile.version} "
            "does not have — drop --policy or give --version 1.20 or later",
            EXIT_USAGE,
        )
    if policy is None and profile.service_api == "ga" and config.is_dual_stack:
        policy = "PreferDualStack"

    started = time.perf_counter()
    cluster = Cluster(config, seed=args.seed)
    total = args.nodes + args.nodes * args.pods_per_node + args.services
    progress = _Progress(total)
    show = progress.update
    done = 0
    stopped: list[str] = []
    node_names: list[str] = []
    pods_created = services_created = 0
    for i in range(args.nodes):
        name = f"node-{i:04d}"
        try:
            cluster.add_node(name)
        except DualStackError as error:
            stopped.append(f"node {name}: {_one_line(error)}")
            break
        node_names.append(name)
        done += 1
        show("nodes", done)
    for name in node_names:
        for j in range(args.pods_per_node):
            try:
                cluster.add_pod(f"{name.replace('node', 'pod')}-{j:03d}", node=name)
            except DualStackError as error:
                stopped.append(f"pod on {name}: {_one_line(error)}")
                break
            done += 1
            pods_created += 1
            show("pods", done)
        if stopped and stopped[-1].startswith("pod"):
            break
    # Under the alpha API a Service has one family; alternate them so that both
    # Service ranges of a dual-stack cluster are exercised.
    alternate = profile.service_api == "alpha" and config.is_dual_stack
    for k in range(args.services):
        family = str(config.families[k % 2]) if alternate else None
        try:
            cluster.create_service(_service_manifest(f"svc-{k:04d}", policy, family))
        except DualStackError as error:
            stopped.append(f"service svc-{k:04d}: {_one_line(error)}")
            break
        done += 1
        services_created += 1
        show("services", done)
    progress.close()
    findings = list(cluster.validate())
    elapsed = time.perf_counter() - started

    print(f"dualstack simulation — Kubernetes {profile.version}, seed {args.seed}", file=out)
    if not flags:
        print("configuration: built-in default (dual-stack)", file=out)
    for flag in used_flags:
        print(f"  {flag}", file=out)
    print(
        f"created: {len(node_names)} nodes, {pods_created} Pods, "
        f"{services_created} Services in {elapsed:.2f} s",
        file=out,
    )
    print("", file=out)
    _print_table(_usage_rows(config, cluster), out)
    print("", file=out)
    _print_samples(cluster, out)
    for reason in stopped:
        print(f"stopped early: {reason}", file=out)
    _print_findings(findings, out)
    if args.state is not None:
        with StateFile(args.state).locked() as state:
            if state.exists():
                raise _CommandError(
                    f"the state file {args.state!r} appeared while simulating — "
                    "choose a new --state path"
                )
            _save_cluster(state, cluster, used_flags, profile.version)
        print(f"state saved to {args.state}", file=out)
    return EXIT_FAILURE if stopped or _has_errors(findings) else EXIT_OK


def _usage_rows(config: ClusterConfig, cluster: Cluster) -> list[tuple[str, ...]]:
    capacity = config.capacity()
    rows: list[tuple[str, ...]] = [("range", "family", "kind", "used", "capacity")]
    blocks: dict[str, int] = {}
    for node in cluster.nodes.values():
        for net in node.pod_cidrs:
            key = _matching_range(str(net), config.cluster_cidrs)
            if key is not None:
                blocks[key] = blocks.get(key, 0) + 1
    for cidr in config.cluster_cidrs:
        family = IPFamily.of(cidr)
        fc = capacity.per_family.get(family)
        rows.append(
            (
                cidr,
                str(family),
                "node blocks",
                str(blocks.get(cidr, 0)),
                str(fc.node_blocks) if fc is not None else "-",
            )
        )
    pod_ips: dict[IPFamily, int] = {}
    for pod in cluster.pods.values():
        for ip in pod.pod_ips:
            family = IPFamily.of(ip)
            pod_ips[family] = pod_ips.get(family, 0) + 1
    for family, count in sorted(pod_ips.items()):
        fc = capacity.per_family.get(family)
        per_node = fc.pods_per_node * len(cluster.nodes) if fc is not None else None
        rows.append(("(node blocks)", str(family), "Pod IPs", str(count), str(per_node or "-")))
    service_ips: dict[str, int] = {}
    for service in cluster.services.values():
        for address in _cluster_ips(service):
            key = _range_of_ip(address, config.service_cidrs)
            if key is not None:
                service_ips[key] = service_ips.get(key, 0) + 1
    for cidr in config.service_cidrs:
        family = IPFamily.of(cidr)
        fc = capacity.per_family.get(family)
        rows.append(
            (
                cidr,
                str(family),
                "Service IPs",
                str(service_ips.get(cidr, 0)),
                str(fc.service_ips) if fc is not None else "-",
            )
        )
    return rows


def _cluster_ips(service: Mapping[str, Any]) -> list[str]:
    """A stored Service's ClusterIPs: ``spec.clusterIPs``, or the alpha API's single
    ``spec.clusterIP`` (1.16-1.19); headless (``None``) and empty give none."""
    spec = service.get("spec") or {}
    ips = spec.get("clusterIPs") or [spec.get("clusterIP")]
    return [ip for ip in ips if isinstance(ip, str) and ip not in ("", "None")]


def _matching_range(block: str, ranges: Iterable[str]) -> str | None:
    net, prefix, family = parse_cidr(block)
    for cidr in ranges:
        first, plen, fam = parse_cidr(cidr)
        if (
            fam is family
            and plen <= prefix
            and net >> (family.width - plen) == first >> (family.width - plen)
        ):
            return cidr
    return None


def _range_of_ip(ip: str, ranges: Iterable[str]) -> str | None:
    if not isinstance(ip, str) or ip in ("", "None"):
        return None
    family = IPFamily.of(ip)
    return _matching_range(f"{ip}/{family.width}", ranges)


def _print_samples(cluster: Cluster, out: IO[str], count: int = 3) -> None:
    print("sample objects:", file=out)
    for node in list(cluster.nodes.values())[:count]:
        cidrs = ",".join(str(n) for n in node.pod_cidrs)
        print(f"  node/{node.name}  podCIDRs={cidrs}", file=out)
    for pod in list(cluster.pods.values())[:count]:
        ips = ",".join(str(ip) for ip in pod.pod_ips)
        print(f"  pod/{pod.namespace}/{pod.name}  node={pod.node}  podIPs={ips}", file=out)
    for key, service in list(cluster.services.items())[:count]:
        spec = service.get("spec", {})
        ips = ",".join(_cluster_ips(service)) or "None"
        families = ",".join(spec.get("ipFamilies") or [str(spec.get("ipFamily", "-"))])
        policy = spec.get("ipFamilyPolicy", "-")
        print(
            f"  service/{key}  clusterIPs={ips}  ipFamilies={families}  policy={policy}", file=out
        )


def _print_findings(findings: Sequence[Any], out: IO[str]) -> None:
    if not findings:
        print("validation: passed, no findings", file=out)
        return
    print(f"validation: {len(findings)} finding(s)", file=out)
    for finding in findings:
        print(f"  {finding.severity}: {finding.subject}: {finding.message}", file=out)


def _has_errors(findings: Iterable[Any]) -> bool:
    return any(f.severity == "error" for f in findings)


# --- the state file ----------------------------------------------------------------------


def _save_cluster(
    state: LockedState, cluster: Cluster, flags: Sequence[str], version: str
) -> None:
    state.write(
        {
            "format": STATE_FORMAT,
            "flags": list(flags),
            "version": version,
            "cluster": cluster.snapshot(),
        }
    )


def _load_cluster(state: LockedState) -> tuple[Cluster, list[str], str] | None:
    """The cluster, flags and release stored in the state file; ``None`` if absent."""
    from dualstack.cluster import Cluster  # type: ignore[import-not-found, unused-ignore]

    document = state.read()
    if document is None:
        return None
    name = str(state.path)
    if document.get("format") != STATE_FORMAT:
        raise _CommandError(
            f"the state file {name!r} has format {document.get('format')!r}, this "
            f"dualstack reads format {STATE_FORMAT} — use the dualstack release that wrote it"
        )
    flags = document.get("flags")
    version = document.get("version")
    if not isinstance(flags, list) or not isinstance(version, str) or "cluster" not in document:
        raise _CommandError(
            f"the state file {name!r} lacks its flags, version or cluster — restore it "
            "from a backup or move it away"
        )
    cluster = Cluster.from_snapshot(document["cluster"])
    used_flags = [str(f) for f in flags]
    # Every command works from the snapshot's own configuration; the stored flags are a
    # record of how it was made (they are not parsed again: a later dualstack may read
    # some flags differently, e.g. AllBeta, and the file must still open). The release
    # must agree, though: a file whose version was changed is refused.
    if version != cluster.config.profile.version:
        raise _CommandError(
            f"the state file {name!r} is inconsistent: its version {version!r} is not the "
            f"release of the cluster it holds ({cluster.config.profile.version}) — restore "
            "it from a backup or move it away"
        )
    return cluster, used_flags, version


def _need_cluster(state: LockedState) -> tuple[Cluster, list[str], str]:
    loaded = _load_cluster(state)
    if loaded is None:
        raise _CommandError(
            f"no state file {str(state.path)!r} — create one with "
            f"'dualstack apply -f FILE --state {state.path}' or "
            f"'dualstack simulate --state {state.path}'"
        )
    return loaded


# --- apply -----------------------------------------------------------------------------------


def _describe(value: object) -> str:
    """A YAML value for an error message: its YAML type and the value, e.g. ``string 'x'``."""
    names = {bool: "boolean", int: "number", float: "number", str: "string", list: "list"}
    if value is None:
        return "null"
    kind = names.get(type(value), "mapping" if isinstance(value, dict) else type(value).__name__)
    shown = repr(value)
    if len(shown) > 40:
        shown = shown[:37] + "..."
    return f"{kind} {shown}"


def _json_keys(value: object) -> object:
    """``value`` with YAML's number and boolean map keys written as JSON strings.

    kubectl converts YAML to JSON before sending it (sigs.k8s.io/yaml), which turns a
    key such as ``2024`` or ``true`` into ``"2024"`` / ``"true"``; the library's API
    takes dicts as JSON gives them and refuses other keys.
    """
    if isinstance(value, dict):
        out: dict[object, object] = {}
        for key, item in value.items():
            if isinstance(key, bool):
                key = "true" if key else "false"
            elif isinstance(key, int | float):
                key = repr(key) if isinstance(key, float) else str(key)
            out[key] = _json_keys(item)
        return out
    if isinstance(value, list):
        return [_json_keys(item) for item in value]
    return value


def _documents(text: str, source: str) -> Iterator[tuple[int, object]]:
    """The objects of a YAML/JSON stream, numbered from 1, ``kind: List`` items inlined.

    Only a stream that YAML cannot read at all is refused as a whole; a document that is
    not a manifest is yielded as it is, for ``_apply_one`` to refuse on its own (the
    others still apply). A ``kind: List`` whose ``items`` is not a list is yielded as
    itself, under its own number.
    """
    try:
        loaded = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise _CommandError(
            f"{source}: not valid YAML or JSON{where}: {problem} — give Node, Pod and "
            "Service manifests separated by '---'"
        ) from None
    index = 0
    for doc in map(_json_keys, loaded):
        if doc is None:
            continue
        items: object = [doc]
        if isinstance(doc, dict) and doc.get("kind") == "List":
            items = doc.get("items")
            if items is None:
                items = []  # an empty List, as kubectl reads it
            elif not isinstance(items, list):
                items = [doc]  # refused by _apply_one with what is wrong
        assert isinstance(items, list)
        for item in items:
            index += 1
            yield index, item


def _merge(live: Mapping[str, Any], manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The object ``kubectl apply`` would send: the manifest's fields over the live object.

    Maps merge key by key and the manifest wins; lists and scalars are replaced. Fields
    the manifest leaves out (``spec.clusterIP`` set by the API server, ...) keep their
    live values, which is what lets an unchanged manifest be re-applied.
    """
    merged: dict[str, Any] = dict(live)
    for key, value in manifest.items():
        current = merged.get(key)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            merged[key] = _merge(current, value)
        else:
            merged[key] = value
    return merged


def _apply_one(cluster: Cluster, manifest: object) -> str:
    """Apply one manifest; the line to print. Raises for a document it refuses, having
    checked the manifest's shape before touching ``cluster``."""
    if not isinstance(manifest, dict):
        raise _CommandError(
            f"not a manifest: got {_describe(manifest)} — give objects with kind, "
            "metadata.name and spec"
        )
    kind = manifest.get("kind")
    if kind == "List":
        raise _CommandError(
            f"kind List: items: invalid type: got {_describe(manifest.get('items'))}, "
            "expected a list of manifests — write items: [...]"
        )
    if kind not in ("Node", "Pod", "Service"):
        raise _CommandError(f"kind {kind!r} is not supported — give a Node, Pod or Service")
    metadata = manifest.get("metadata") or {}
    name = metadata.get("name") if isinstance(metadata, dict) else None
    if not isinstance(name, str) or not name:
        raise _CommandError("metadata.name is missing — give every object a name")
    label = f"{str(kind).lower()}/{name}"
    spec = manifest.get("spec")
    if spec is None:
        spec = {}
    if not isinstance(spec, dict):
        raise _CommandError(
            f"{label}: spec: invalid type: got {_describe(spec)}, expected a mapping — "
            "write spec as key: value pairs"
        )
    namespace = metadata.get("namespace") or "default"
    if not isinstance(namespace, str):
        raise _CommandError(
            f"{label}: metadata.namespace: invalid type: got {_describe(namespace)}, "
            "expected a string — write e.g. namespace: default"
        )
    if kind == "Node":
        cidrs: object = spec.get("podCIDRs") or (
            [spec["podCIDR"]] if spec.get("podCIDR") else None
        )
        if cidrs is not None and (
            not isinstance(cidrs, list) or not all(isinstance(c, str) for c in cidrs)
        ):
            raise _CommandError(
                f"node/{name}: spec.podCIDRs must be a list of CIDRs, got {cidrs!r} — "
                'write e.g. podCIDRs: ["10.244.1.0/24", "fd00:10:244:1::/64"]'
            )
        existing = cluster.nodes.get(name)
        if existing is not None:
            current = [str(n) for n in existing.pod_cidrs]
            if cidrs is None or [format_cidr(*parse_cidr(c)) for c in cidrs] == current:
                return f"node/{name} unchanged"
            raise _CommandError(
                f"node/{name}: spec.podCIDRs: Forbidden: node updates may not change podCIDR "
                f'except from "" to valid — delete the node first (it has {",".join(current)})'
            )
        cluster.add_node(name, pod_cidrs=cidrs)
        return f"node/{name} created"
    if kind == "Pod":
        node = spec.get("nodeName")
        if node is not None and not isinstance(node, str):
            raise _CommandError(
                f"pod/{name}: spec.nodeName: invalid type: got {_describe(node)}, expected "
                "a string — name the node the Pod runs on"
            )
        if not node:
            raise _CommandError(
                f"pod/{name}: spec.nodeName is missing — dualstack has no scheduler; "
                "name the node the Pod runs on"
            )
        existing_pod = cluster.pods.get(f"{namespace}/{name}")
        if existing_pod is not None:
            if existing_pod.node == node:
                return f"pod/{name} unchanged"
            raise _CommandError(
                f"pod/{name}: spec.nodeName: Forbidden: pod updates may not change "
                f"fields other than the allowed ones — delete the Pod first (it runs on "
                f"{existing_pod.node})"
            )
        cluster.add_pod(name, node=node, namespace=namespace)
        return f"pod/{name} created"
    # A Service.
    if f"{namespace}/{name}" in cluster.services:
        before = cluster.get_service(name, namespace=namespace)
        merged = _merge(before, manifest)
        if merged == before:
            return f"service/{name} unchanged"
        cluster.update_service(merged)
        return f"service/{name} configured"
    cluster.create_service(manifest)
    return f"service/{name} created"


def _cmd_apply(args: argparse.Namespace, flags: list[str]) -> int:
    from dualstack.cluster import Cluster  # type: ignore[import-not-found, unused-ignore]

    source = "standard input" if args.filename == "-" else repr(args.filename)
    text_bytes = _read_input(args.filename)
    try:
        text = text_bytes.decode("utf-8")
    except UnicodeDecodeError:
        raise _CommandError(f"{source} is not UTF-8 text — give YAML or JSON manifests") from None
    documents = list(_documents(text, source))
    status = EXIT_OK
    with StateFile(args.state).locked() as state:
        loaded = _load_cluster(state)
        if loaded is None:
            used_flags = flags or list(default_flags(args.version))
            version = _profile(args.version).version
            cluster = Cluster(_config_from_flags(used_flags, version), seed=0)
        else:
            if flags or args.version:
                raise _CommandError(
                    f"the state file {args.state!r} already has a configuration — drop the "
                    "flags and --version, or use a new --state path",
                    EXIT_USAGE,
                )
            cluster, used_flags, version = loaded
        changed = False
        for index, manifest in documents:
            try:
                line = _apply_one(cluster, manifest)
            except (_CommandError, DualStackError) as error:
                _print_error(f"dualstack apply: {source} document {index}", _one_line(error))
                status = EXIT_FAILURE
                continue
            print(line)
            changed = changed or not line.endswith(" unchanged")
        if changed or loaded is None:
            _save_cluster(state, cluster, used_flags, version)
    return status


# --- get / delete ----------------------------------------------------------------------------


def _kind(text: str) -> str:
    kind = _KIND_ALIASES.get(text.lower())
    if kind is None:
        raise _CommandError(f"unknown kind {text!r} — give nodes, pods or services", EXIT_USAGE)
    return kind


def _split_name(name: str, namespace: str) -> tuple[str, str]:
    if "/" in name:
        ns, _, bare = name.partition("/")
        return ns, bare
    return namespace, name


def _node_object(node: Any) -> dict[str, Any]:
    cidrs = [str(n) for n in node.pod_cidrs]
    spec: dict[str, Any] = {}
    if cidrs:
        spec = {"podCIDR": cidrs[0], "podCIDRs": cidrs}
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": node.name}, "spec": spec}


def _pod_object(pod: Any) -> dict[str, Any]:
    ips = [str(ip) for ip in pod.pod_ips]
    status: dict[str, Any] = {}
    if ips:
        status = {"podIP": ips[0], "podIPs": [{"ip": ip} for ip in ips]}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": pod.name, "namespace": pod.namespace},
        "spec": {"nodeName": pod.node},
        "status": status,
    }


def _not_found(kind: str, args: argparse.Namespace) -> _CommandError:
    """``<kind> NAME not found``, naming the namespace searched and a listing that shows it."""
    where = repr(args.state)
    listing = f"'dualstack get {kind}s --state {args.state}'"
    if kind != "node":
        ns, _ = _split_name(args.name, args.namespace)
        where = f"namespace {ns!r} of {where}"
        listing = f"'dualstack get {kind}s -A --state {args.state}'"
    return _CommandError(f"{kind} {args.name!r} not found in {where} — list them with {listing}")


def _cmd_get(args: argparse.Namespace, flags: list[str]) -> int:
    kind = _kind(args.kind)
    if args.name is not None and args.all_namespaces:
        raise _CommandError(
            "a resource cannot be retrieved by name across all namespaces: give -n NS or "
            "NS/NAME instead of -A",
            EXIT_USAGE,
        )
    with StateFile(args.state).locked(shared=True) as state:
        cluster, _, _ = _need_cluster(state)
    objects: list[dict[str, Any]]
    if kind == "node":
        nodes = list(cluster.nodes.values())
        if args.name is not None:
            nodes = [n for n in nodes if n.name == args.name]
        objects = [_node_object(n) for n in nodes]
    elif kind == "pod":
        pods = list(cluster.pods.values())
        if args.name is not None:
            ns, bare = _split_name(args.name, args.namespace)
            pods = [p for p in pods if (p.namespace, p.name) == (ns, bare)]
        elif not args.all_namespaces:
            # As kubectl: a listing shows one namespace, -n's (default: default).
            pods = [p for p in pods if p.namespace == args.namespace]
        objects = [_pod_object(p) for p in pods]
    else:
        services = list(cluster.services.items())
        if args.name is not None:
            ns, bare = _split_name(args.name, args.namespace)
            services = [(k, s) for k, s in services if k == f"{ns}/{bare}"]
        elif not args.all_namespaces:
            services = [(k, s) for k, s in services if k.partition("/")[0] == args.namespace]
        objects = [s for _, s in services]
    if args.name is not None and not objects:
        raise _not_found(kind, args)
    out = sys.stdout
    if args.output in ("json", "yaml"):
        document: Any = (
            objects[0]
            if args.name is not None
            else {"apiVersion": "v1", "kind": "List", "items": objects}
        )
        if args.output == "json":
            print(json.dumps(document, indent=2), file=out)
        else:
            out.write(yaml.safe_dump(document, sort_keys=False))
        return EXIT_OK
    wide = args.output == "wide"
    if kind == "node":
        header: tuple[str, ...] = ("NAME", "POD-CIDRS")
        rows = [header] + [
            (o["metadata"]["name"], ",".join(o["spec"].get("podCIDRs", [])) or "<none>")
            for o in objects
        ]
    elif kind == "pod":
        header = ("NAMESPACE", "NAME", "NODE", "IPS" if wide else "IP")
        rows = [header]
        for o in objects:
            ips = [p["ip"] for p in o["status"].get("podIPs", [])]
            shown = ",".join(ips) if wide else (ips[0] if ips else "<none>")
            rows.append(
                (o["metadata"]["namespace"], o["metadata"]["name"], o["spec"]["nodeName"], shown)
            )
    else:
        header = ("NAMESPACE", "NAME", "TYPE", "CLUSTER-IP")
        if wide:
            header = (*header, "CLUSTER-IPS", "IP-FAMILIES", "IP-FAMILY-POLICY")
        rows = [header]
        for o in objects:
            meta, spec = o.get("metadata", {}), o.get("spec", {})
            row: tuple[str, ...] = (
                meta.get("namespace", "default"),
                meta.get("name", ""),
                spec.get("type", "ClusterIP"),
                str(spec.get("clusterIP", "<none>")),
            )
            if wide:
                families = spec.get("ipFamilies") or [spec.get("ipFamily") or "<none>"]
                row = (
                    *row,
                    ",".join(_cluster_ips(o)) or "<none>",
                    ",".join(str(f) for f in families),
                    str(spec.get("ipFamilyPolicy", "<none>")),
                )
            rows.append(row)
    if len(rows) == 1:
        where = (
            f" in namespace {args.namespace!r}"
            if kind != "node" and not args.all_namespaces
            else ""
        )
        print(f"No {kind}s found{where} in {args.state}.", file=sys.stderr)
        return EXIT_OK
    _print_table(rows, out)
    return EXIT_OK


def _cmd_delete(args: argparse.Namespace, flags: list[str]) -> int:
    kind = _kind(args.kind)
    with StateFile(args.state).locked() as state:
        cluster, used_flags, version = _need_cluster(state)
        try:
            if kind == "node":
                cluster.remove_node(args.name)
                shown = args.name
            else:
                ns, bare = _split_name(args.name, args.namespace)
                shown = bare
                if kind == "pod":
                    cluster.remove_pod(bare, namespace=ns)
                else:
                    cluster.delete_service(bare, namespace=ns)
        except LookupError:
            raise _not_found(kind, args) from None
        _save_cluster(state, cluster, used_flags, version)
    print(f'{kind} "{shown}" deleted')
    return EXIT_OK


# --- validate --------------------------------------------------------------------------------


def _cmd_validate(args: argparse.Namespace, flags: list[str]) -> int:
    with StateFile(args.state).locked(shared=True) as state:
        cluster, _, _ = _need_cluster(state)
    findings = list(cluster.validate())
    _print_findings(findings, sys.stdout)
    return EXIT_FAILURE if findings else EXIT_OK


# --- decode-range ----------------------------------------------------------------------------


def _storing_profile(version: str | None) -> Profile:
    """The release to read a RangeAllocation with: the one given, or the newest that stores one."""
    if version is not None:
        return _profile(version)
    for minor in range(NEWEST, OLDEST - 1, -1):
        profile = Profile.for_version(f"1.{minor}")
        if profile.allocator != "multicidr":
            return profile
    return Profile.for_version(None)  # pragma: no cover - every modelled span has one


def _set_offsets(data: bytes) -> Iterator[int]:
    """Offsets of the set bits of a big-endian bitmap, ascending (service-ips.md §1.9)."""
    last = len(data) - 1
    # Walk from the last byte (offsets 0-7) upwards; zero bytes cost one comparison.
    for position in range(last, -1, -1):
        byte = data[position]
        if byte:
            base = (last - position) * 8
            for bit in range(8):
                if byte >> bit & 1:
                    yield base + bit


def _runs(values: Iterable[int]) -> Iterator[tuple[int, int]]:
    """Coalesce ascending ints into ``(first, last)`` runs of consecutive values."""
    start = prev = None
    for v in values:
        if prev is not None and v == prev + 1:
            prev = v
            continue
        if start is not None and prev is not None:
            yield start, prev
        start = prev = v
    if start is not None and prev is not None:
        yield start, prev


class _Decoded:
    """A decoded RangeAllocation with its usable range under one release."""

    def __init__(self, range_spec: str, data: bytes, profile: Profile) -> None:
        from dualstack.service_ips import range_offset, usable_size

        self.range_spec = range_spec
        self.data = data
        self.profile = profile
        self.network, self.prefixlen, self.family = parse_cidr(range_spec)
        host_bits = self.family.width - self.prefixlen
        self.size = usable_size(host_bits, self.family, profile)
        self.static = (
            range_offset(host_bits, self.family) if profile.static_subrange_default else 0
        )
        offsets = list(_set_offsets(data))
        self.allocated = [o for o in offsets if o < self.size]
        self.past = [o for o in offsets if o >= self.size]

    def ip(self, offset: int) -> str:
        return format_ip(self.network + 1 + offset, self.family)


def _decode_file(name: str, version: str | None) -> _Decoded:
    label = "standard input" if name == "-" else repr(name)
    blob = _read_input(name)
    try:
        range_spec, data = decode_range_allocation(blob)
    except DualStackError as error:
        raise _CommandError(f"{label}: {_one_line(error)}") from None
    profile = _storing_profile(version)
    try:
        return _Decoded(range_spec, data, profile)
    except DualStackError as error:
        raise _CommandError(
            f"{label}: the range {range_spec!r} is not a CIDR: {_one_line(error)}"
        ) from None


def _cmd_decode_range(args: argparse.Namespace, flags: list[str]) -> int:
    decoded = _decode_file(args.file, args.version)
    out = sys.stdout
    used = len(decoded.allocated)
    if args.output == "json":
        document = {
            "range": decoded.range_spec,
            "family": str(decoded.family),
            "version": decoded.profile.version,
            "size": decoded.size,
            "staticSize": decoded.static,
            "used": used,
            "free": decoded.size - used,
            "allocated": [decoded.ip(o) for o in decoded.allocated],
            "pastRange": [decoded.ip(o) for o in decoded.past],
        }
        print(json.dumps(document, indent=2), file=out)
        return EXIT_OK
    d = decoded
    print(f"range:     {d.range_spec}", file=out)
    print(f"family:    {d.family}", file=out)
    print(
        f"release:   {d.profile.version}" + ("" if args.version else " (--version to choose)"),
        file=out,
    )
    if d.size:
        print(
            f"usable:    {d.size} addresses ({d.ip(0)} - {d.ip(d.size - 1)})",
            file=out,
        )
    else:
        print("usable:    0 addresses", file=out)
    if d.static:
        print(f"static:    {d.static} addresses ({d.ip(0)} - {d.ip(d.static - 1)})", file=out)
    print(f"used:      {used}", file=out)
    print(f"free:      {d.size - used}", file=out)
    if d.past:
        print(
            f"warning:   {len(d.past)} bit(s) set past the usable range "
            f"({', '.join(d.ip(o) for o in d.past[:5])}{', ...' if len(d.past) > 5 else ''}); "
            "kube-apiserver counts them as used",
            file=out,
        )
    if used:
        print("allocated:", file=out)
        for first, last in _runs(d.allocated):
            if first == last:
                print(f"  {d.ip(first)}", file=out)
            else:
                print(f"  {d.ip(first)} - {d.ip(last)} ({last - first + 1})", file=out)
    return EXIT_OK


# --- map ---------------------------------------------------------------------------------------


def _service_range_spans(
    first: int, units: int, size: int, static: int, taken: Iterable[int]
) -> list[tuple[int, int, OwnerKind]]:
    """Owner spans of a Service range, in address indexes (``ip - network``)."""
    spans: list[tuple[int, int, OwnerKind]] = [(0, 0, "reserved")]
    # The IPv4 broadcast address, and IPv6 addresses past the release's 16-bit window.
    spans.append((1 + size, units - 1, "reserved"))
    spans.append((1, static, "static"))
    spans.extend((value - first, value - first, "service") for value in taken)
    return spans


def _write_svg(path: str, text: str) -> None:
    try:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise _CommandError(
            f"cannot write {path!r}: {exc.strerror} — choose a writable -o path"
        ) from None


def _cmd_map(args: argparse.Namespace, flags: list[str]) -> int:
    try:
        first, prefixlen, family = parse_cidr(args.range)
    except DualStackError as error:
        raise _CommandError(f"--range {args.range!r}: {_one_line(error)}", EXIT_USAGE) from None
    canonical = format_cidr(first, prefixlen, family)
    units = 1 << (family.width - prefixlen)
    unit = "address"
    if args.allocation is not None:
        decoded = _decode_file(args.allocation, args.version)
        if (decoded.network, decoded.prefixlen, decoded.family) != (first, prefixlen, family):
            raise _CommandError(
                f"--range {args.range!r} is not the allocation's range "
                f"{decoded.range_spec!r} — give --range {decoded.range_spec}"
            )
        taken = [decoded.network + 1 + o for o in decoded.allocated]
        spans = _service_range_spans(first, units, decoded.size, decoded.static, taken)
        heading = f"Service range {canonical}: {len(taken)} of {decoded.size} addresses allocated"
    else:
        spans, units, unit, heading = _state_spans(args, first, prefixlen, family, canonical)
    count, per_cell = cell_plan(units, args.max_cells)
    cells = aggregate_spans(spans, per_cell)
    labels = None
    if count <= 4096:
        # Cell i starts at address first + i * (units per cell) * (addresses per unit).
        step = per_cell * ((1 << (family.width - prefixlen)) // units)
        labels = {
            i: f"{format_ip(first + i * step, family)}: {cells.get(i, 'free')}"
            for i in range(count)
        }
    svg = render_svg(
        canonical, count, cells, title=heading, unit=unit, per_cell=per_cell, cell_labels=labels
    )
    _write_svg(args.output, svg)
    plural = unit + ("es" if unit.endswith("s") else "s")
    each = f"one per {unit}" if per_cell == 1 else f"one per {per_cell} {plural}"
    print(f"wrote {args.output}: {count} cells, {each}")
    return EXIT_OK


def _canonical(cidr: object) -> str:
    return format_cidr(*parse_cidr(str(cidr)))


def _state_spans(
    args: argparse.Namespace, first: int, prefixlen: int, family: IPFamily, canonical: str
) -> tuple[list[tuple[int, int, OwnerKind]], int, str, str]:
    """What ``map --state`` draws: owner spans, unit count, unit name and heading."""
    state_path = args.state or DEFAULT_STATE_PATH
    with StateFile(state_path).locked(shared=True) as state:
        cluster, _, _ = _need_cluster(state)
    config = cluster.config
    services = [_canonical(c) for c in config.service_cidrs]
    clusters = [_canonical(c) for c in config.cluster_cidrs]
    host_bits = family.width - prefixlen
    units = 1 << host_bits
    if canonical in services:
        from dualstack.service_ips import range_offset, usable_size

        size = usable_size(host_bits, family, config.profile)
        static = range_offset(host_bits, family) if config.static_subrange else 0
        taken = [
            parse_cidr(f"{ip}/{family.width}")[0]
            for service in cluster.services.values()
            for ip in _cluster_ips(service)
            if _range_of_ip(ip, [canonical]) is not None
        ]
        spans = _service_range_spans(first, units, size, static, taken)
        return spans, units, "address", f"Service range {canonical}: {len(taken)} ClusterIPs"
    if canonical in clusters:
        mask = config.node_mask_size(family)
        blocks = 1 << (mask - prefixlen)
        used = set()
        for node in cluster.nodes.values():
            for net in node.pod_cidrs:
                value, _, fam = parse_cidr(str(net))
                if fam is family and _matching_range(str(net), [canonical]) is not None:
                    used.add((value - first) >> (family.width - mask))
        spans = [(index, index, "node") for index in sorted(used)]
        heading = f"Cluster CIDR {canonical}: {len(used)} of {blocks} /{mask} node blocks"
        return spans, blocks, f"/{mask} node block", heading
    for node in cluster.nodes.values():
        if canonical not in (_canonical(n) for n in node.pod_cidrs):
            continue
        # The network address and the gateway (CNI host-local's default), and the
        # IPv4 broadcast address, are never Pod IPs.
        spans = [(0, 1, "reserved")]
        if family is IPFamily.IPv4:
            spans.append((units - 1, units - 1, "reserved"))
        for pod in cluster.pods.values():
            if pod.node != node.name:
                continue
            for ip in pod.pod_ips:
                if IPFamily.of(ip) is family:
                    index = parse_cidr(f"{ip}/{family.width}")[0] - first
                    spans.append((index, index, "pod"))
        return spans, units, "address", f"node {node.name}: Pod CIDR {canonical}"
    known = ", ".join([*services, *clusters]) or "none"
    raise _CommandError(
        f"--range {args.range!r} is not a Service range, cluster CIDR or node Pod CIDR of "
        f"{state_path!r} — give one of: {known}, or a node's Pod CIDR"
    )


_HANDLERS: Final[Mapping[str, Callable[[argparse.Namespace, list[str]], int]]] = {
    "plan": _cmd_plan,
    "simulate": _cmd_simulate,
    "apply": _cmd_apply,
    "get": _cmd_get,
    "delete": _cmd_delete,
    "validate": _cmd_validate,
    "decode-range": _cmd_decode_range,
    "map": _cmd_map,
}

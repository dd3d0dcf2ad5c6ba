"""Pure Kubernetes rules for a cluster's address flags, one small function per rule.

Purpose: everything kube-apiserver and kube-controller-manager check about
``--service-cluster-ip-range``, ``--cluster-cidr``, the node mask flags and the feature
gates that change those checks, per release, plus the capacity formulas (how many
Service IPs, node blocks and Pod IPs a CIDR yields). ``config.ClusterConfig`` strings
them together in upstream's order (node-and-pod-ips.md §2.0); nothing here keeps state.

Key functions:
- capacity: ``range_size``, ``service_usable``, ``static_band_size``,
  ``node_block_count``, ``host_local_usable``;
- feature gates: ``GATES``, ``gate_known``, ``resolve_gates``, ``parse_feature_gates``;
- kube-apiserver: ``apiserver_service_range``;
- kube-controller-manager: ``kcm_option_errors``, ``validate_cluster_cidrs``,
  ``kcm_service_cidr_error``, ``node_mask_sizes``, ``node_mask_width_error``,
  ``controller_cidr_error``, ``cidr_set_error``;
- flags: ``parse_go_int32``, ``parse_go_bool``.

Every message is Kubernetes' text byte for byte (typos included), optionally followed by
``" — "`` and a hint (``errors.with_hint``). Release differences come from ``Profile``;
where ``Profile`` has no switch, a private helper keyed on ``profile.minor`` says which
releases it covers (``_gate_*``, ``_old_apiserver_texts``, ``_old_cluster_count_text``).

Invariants: pure functions of their arguments; no function raises for a configuration
problem (they return messages), only for programming errors.
"""

from __future__ import annotations

import re as _re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from dualstack.errors import InvalidAddressError, go_repr, with_hint
from dualstack.families import IPFamily, format_cidr
from dualstack.pools import CIDRPool
from dualstack.profiles import Allocator, Profile
from dualstack.service_ips import ipv4_mapped_overlap, usable_size

__all__ = [
    "ALL_ALPHA",
    "ALL_BETA",
    "DEFAULT_NODE_MASK",
    "DEFAULT_SERVICE_RANGE",
    "DNS1123_LABEL_DETAIL",
    "DNS1123_LABEL_RE",
    "DNS1123_SUBDOMAIN_DETAIL",
    "DNS1123_SUBDOMAIN_RE",
    "GATES",
    "KUBELET_DEFAULT_MAX_PODS",
    "MAX_SERVICE_HOST_BITS",
    "ApiserverRanges",
    "GateSpec",
    "Stage",
    "apiserver_service_range",
    "cidr_set_error",
    "controller_cidr_error",
    "effective_allocator",
    "gate_known",
    "gate_value",
    "host_local_usable",
    "kcm_option_errors",
    "kcm_service_cidr_error",
    "node_block_count",
    "node_mask_sizes",
    "node_mask_width_error",
    "parse_feature_gates",
    "parse_go_bool",
    "parse_go_int32",
    "range_size",
    "resolve_gates",
    "service_flag_limits_apply",
    "service_usable",
    "static_band_size",
    "validate_cluster_cidrs",
]

# apimachinery's IsDNS1123Label / IsDNS1123Subdomain: the pattern and the text of its
# error, for object names and namespaces (Nodes, Pods, Services) and Service fields.
DNS1123_LABEL_RE: Final = _re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS1123_LABEL_DETAIL: Final = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
    "'-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "
    "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
DNS1123_SUBDOMAIN_RE: Final = _re.compile(
    r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
)
DNS1123_SUBDOMAIN_DETAIL: Final = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
    "'-' or '.', and must start and end with an alphanumeric character (e.g. "
    "'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)

DEFAULT_NODE_MASK: Final = {IPFamily.IPv4: 24, IPFamily.IPv6: 64}
"""``defaultNodeMaskCIDRIPv4/IPv6`` of kube-controller-manager (node §2.2, 1.17+)."""
DEFAULT_SERVICE_RANGE: Final = "10.0.0.0/24"
"""kube-apiserver's deprecated default ``--service-cluster-ip-range`` (service §1.11)."""
MAX_SERVICE_HOST_BITS: Final = 20
"""``maxCIDRBits`` of the kube-apiserver flag validation (service §2.2)."""
KUBELET_DEFAULT_MAX_PODS: Final = 110
"""The kubelet's default ``--max-pods``."""
_IPV6_GAP: Final = 16
"""``clusterSubnetMaxDiff`` of the CIDRSet (node §1.1)."""
_MIN_SERVICE_ADDRESSES: Final = 8
_MAX_INT64: Final = (1 << 63) - 1
_HOSTS_CAP: Final = (1 << 64) - 1

# ---------------------------------------------------------------------------------------
# Capacity formulas
# ---------------------------------------------------------------------------------------


def range_size(prefixlen: int, family: IPFamily) -> int:
    """``RangeSize`` of kubernetes/utils (service-ips §1.2).

    0 for IPv4 /0-/1 and IPv6 /0-/1, 2^63-1 for 63 or more host bits, else 2^host bits.
    """
    host = family.width - prefixlen
    if host >= family.width - 1:
        return 0
    if host >= 63:
        return _MAX_INT64
    return 1 << host


def service_usable(prefixlen: int, family: IPFamily, *, window: int | None) -> int:
    """Allocatable Service IPs of a range (service-ips §1.3; §1.12 when ``window`` is None).

    ``window`` is the IPv6 bitmap cap (65536) of the bitmap allocator, or ``None`` for the
    IPAddress allocator (v1.34+), which serves the whole prefix (``hostsPerNetwork``:
    2^h-2 for IPv4, 2^h-1 for IPv6, saturating at 2^64-1).
    """
    host = family.width - prefixlen
    if window is None:
        total = (1 << host) - (2 if family is IPFamily.IPv4 else 1)
        return max(0, min(total, _HOSTS_CAP))
    size = range_size(prefixlen, family)
    usable = min(size, window) if family is IPFamily.IPv6 else size - 1
    return max(0, usable - 1)


def static_band_size(prefixlen: int, family: IPFamily) -> int:
    """Offset of the dynamic band, i.e. the static band's size (service-ips §1.5).

    ``calculateRangeOffset``: 0 when the CIDR has 16 addresses or fewer, else
    ``clamp(RangeSize // 16, 16, 256)``. Callers apply it only where
    ``ServiceIPStaticSubrange`` is on.
    """
    size = range_size(prefixlen, family)
    if size <= 16:
        return 0
    return min(max(size // 16, 16), 256)


def node_block_count(cluster_prefix: int, node_mask: int) -> int:
    """Node blocks of one CIDRSet (node §1.1 step 4): ``2^(N-C)``, 0 when ``N < C``."""
    return 1 << (node_mask - cluster_prefix) if node_mask >= cluster_prefix else 0


def host_local_usable(prefixlen: int, family: IPFamily) -> int:
    """Pod IPs CNI host-local hands out in one node CIDR with defaults (node §3.2).

    IPv4 ``2^h - 3`` (network, gateway, broadcast), IPv6 ``2^h - 2`` (network, gateway);
    0 for a CIDR host-local refuses as too small (IPv4 /31-/32, IPv6 /127-/128).
    """
    host = family.width - prefixlen
    if host < 2:
        return 0
    return (1 << host) - (3 if family is IPFamily.IPv4 else 2)


# ---------------------------------------------------------------------------------------
# Feature gates (service-ips §0.1)
# ---------------------------------------------------------------------------------------


Stage = Literal["alpha", "beta", "ga"]


@dataclass(frozen=True, slots=True)
class GateSpec:
    """Lifetime of one feature gate: known from ``first`` to ``last`` (minor numbers),
    alpha until ``beta``, beta until ``ga`` (``None``: not reached in a modelled release).
    """

    name: str
    first: int
    last: int | None
    beta: int | None = None
    ga: int | None = None

    def known(self, profile: Profile) -> bool:
        """Whether the release knows the gate (setting an unknown one is an error)."""
        return self.first <= profile.minor and (self.last is None or profile.minor <= self.last)

    def stage(self, profile: Profile) -> Stage:
        """The gate's maturity in the release (what ``AllAlpha``/``AllBeta`` select)."""
        if self.ga is not None and profile.minor >= self.ga:
            return "ga"
        if self.beta is not None and profile.minor >= self.beta:
            return "beta"
        return "alpha"


GATES: Final = (
    GateSpec("IPv6DualStack", 15, 24, beta=21, ga=23),
    GateSpec("ServiceIPStaticSubrange", 24, 27, beta=25, ga=26),
    GateSpec("MultiCIDRServiceAllocator", 27, None, beta=31, ga=33),
    GateSpec("DisableAllocatorDualWrite", 31, None, beta=33, ga=34),
    GateSpec("StrictIPCIDRValidation", 33, None),
)
"""The gates that change address behaviour, with the releases that know them and their
stages (service-ips §0.1 table)."""
_GATE_BY_NAME: Final = {g.name: g for g in GATES}

ALL_ALPHA: Final = "AllAlpha"
ALL_BETA: Final = "AllBeta"
_STAGE_SWITCHES: Final[Mapping[str, Stage]] = {ALL_ALPHA: "alpha", ALL_BETA: "beta"}
_ALL_BETA_FIRST: Final = 17
"""component-base's ``AllBeta`` arrived in 1.17 (kubernetes/kubernetes#84304); ``AllAlpha``
is older than every modelled release."""


def gate_known(name: str, profile: Profile) -> bool:
    """Whether ``name`` is a modelled gate that ``profile``'s release knows."""
    spec = _GATE_BY_NAME.get(name)
    return spec is not None and spec.known(profile)


def _gate_default(name: str, profile: Profile) -> tuple[bool, bool]:
    """``(default, locked)`` of a gate in a release (service-ips §0.1 table).

    MultiCIDRServiceAllocator and DisableAllocatorDualWrite have no ``Profile`` field:
    their stages are keyed on ``profile.minor`` here (MultiCIDR on from 1.33, locked from
    1.34; DisableAllocatorDualWrite on from 1.34, locked from 1.35). StrictIPCIDRValidation
    (read by the Service rules, not here) is alpha and off from 1.33.
    """
    minor = profile.minor
    if name == "IPv6DualStack":
        return profile.dual_stack_gate_default, profile.dual_stack_gate_locked
    if name == "ServiceIPStaticSubrange":
        return profile.static_subrange_default, profile.static_subrange_locked
    if name == "MultiCIDRServiceAllocator":
        return minor >= 33, minor >= 34
    if name == "DisableAllocatorDualWrite":
        return minor >= 34, minor >= 35
    if name == "StrictIPCIDRValidation":
        # Alpha, off, from 1.33 through the newest modelled release (service-ips §0.1).
        return False, False
    raise KeyError(name)


def _gate_value_when_gone(name: str, profile: Profile) -> bool:
    """The behaviour a gate stands for in releases that no longer (or not yet) know it."""
    # Removed gates were GA (locked on) before removal; future ones are not there yet.
    return profile.minor >= _GATE_BY_NAME[name].first


def parse_go_bool(text: str) -> bool | None:
    """Go's ``strconv.ParseBool``: ``None`` when the text is not one of its spellings."""
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    return None


def parse_feature_gates(value: str) -> tuple[list[tuple[str, bool]], str | None]:
    """Parse a ``--feature-gates`` value as component-base does (``featureGate.Set``).

    Returns the ``(name, value)`` pairs in order and the first parse error text, if any:
    ``missing bool value for <k>`` or
    ``invalid value of <k>=<v>, err: strconv.ParseBool: parsing "<v>": invalid syntax``.
    """
    pairs: list[tuple[str, bool]] = []
    for item in value.split(","):
        if not item:
            continue
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep:
            return pairs, f"missing bool value for {key}"
        raw = raw.strip()
        parsed = parse_go_bool(raw)
        if parsed is None:
            return pairs, (
                f"invalid value of {key}={raw}, err: strconv.ParseBool: parsing "
                f"{go_repr(raw)}: invalid syntax"
            )
        pairs.append((key, parsed))
    return pairs, None


def resolve_gates(
    requested: Mapping[str, bool], profile: Profile
) -> tuple[dict[str, bool], list[str], list[str]]:
    """Resolve the modelled gates of a release against what the user set.

    Returns ``(values, errors, ignored)``: ``values`` holds every modelled gate the release
    knows (its default unless set); ``errors`` the component-base texts
    (``unrecognized feature gate: <k>`` for a modelled gate the release does not know,
    ``cannot set feature gate <k> to <v>, feature is locked to <d>``), each with a hint;
    ``ignored`` the names the library does not model (Kubernetes knows many more gates).

    ``AllAlpha=<v>`` / ``AllBeta=<v>`` (the latter from 1.17) set every alpha / beta gate
    of the release that is not set by name to ``<v>``, as component-base's
    ``setUnsetAlphaGates`` / ``setUnsetBetaGates`` do: a gate named explicitly wins
    whatever the order, and ``AllBeta=false`` turns beta gates that default to on off.
    """
    values: dict[str, bool] = {}
    for spec in GATES:
        if spec.known(profile):
            values[spec.name] = _gate_default(spec.name, profile)[0]
    errors: list[str] = []
    ignored: list[str] = []
    stage_values: dict[Stage, bool] = {}
    for name, value in requested.items():
        stage = _STAGE_SWITCHES.get(name)
        if stage is not None:
            if name == ALL_BETA and profile.minor < _ALL_BETA_FIRST:
                errors.append(
                    with_hint(
                        f"unrecognized feature gate: {name}",
                        f"{profile.version} does not know {name} (it exists from "
                        f"1.{_ALL_BETA_FIRST}); drop it from --feature-gates",
                    )
                )
            else:
                stage_values[stage] = value
            continue
        found = _GATE_BY_NAME.get(name)
        if found is None:
            ignored.append(name)
            continue
        spec = found
        if not spec.known(profile):
            when = (
                f"it was removed after 1.{spec.last}"
                if spec.last is not None and profile.minor > spec.last
                else f"it exists from 1.{spec.first}"
            )
            errors.append(
                with_hint(
                    f"unrecognized feature gate: {name}",
                    f"{profile.version} does not know {name} ({when}); drop it from "
                    "--feature-gates",
                )
            )
            continue
        default, locked = _gate_default(name, profile)
        if locked and value != default:
            errors.append(
                with_hint(
                    f"cannot set feature gate {name} to {_go_bool(value)}, "
                    f"feature is locked to {_go_bool(default)}",
                    f"{name} is GA in {profile.version}; drop it from --feature-gates",
                )
            )
            continue
        values[name] = value
    for spec in GATES:
        stage = spec.stage(profile)
        if spec.known(profile) and spec.name not in requested and stage in stage_values:
            values[spec.name] = stage_values[stage]
    return values, errors, ignored


def _go_bool(value: bool) -> str:
    return "true" if value else "false"


def gate_value(gates: Mapping[str, bool], name: str, profile: Profile) -> bool:
    """A gate's resolved value, or the behaviour it stands for where it does not exist."""
    if name in gates:
        return gates[name]
    return _gate_value_when_gone(name, profile)


def effective_allocator(gates: Mapping[str, bool], profile: Profile) -> Allocator:
    """Which Service IP allocator the gates select (service-ips §0.1, §1.12, §1.12a).

    ``"multicidr"`` when MultiCIDRServiceAllocator is on and the bitmap is not written
    (DisableAllocatorDualWrite on, or a release before 1.31 that had no dual write),
    ``"multicidr-dualwrite"`` when MultiCIDR is on with dual write, else ``"bitmap"``.
    """
    if not gate_value(gates, "MultiCIDRServiceAllocator", profile):
        return "bitmap"
    if "DisableAllocatorDualWrite" not in gates and profile.minor < 31:
        return "multicidr"
    if gate_value(gates, "DisableAllocatorDualWrite", profile):
        return "multicidr"
    return "multicidr-dualwrite"


def service_flag_limits_apply(gates: Mapping[str, bool], profile: Profile) -> bool:
    """Whether the 20-host-bit limit of the flag applies (service-ips §2.2).

    Lifted only when MultiCIDRServiceAllocator and DisableAllocatorDualWrite are both on
    (the default from 1.34, ``Profile.service_flag_limits``).
    """
    return effective_allocator(gates, profile) != "multicidr"


# ---------------------------------------------------------------------------------------
# Flag value parsing
# ---------------------------------------------------------------------------------------


def parse_go_int32(text: str) -> tuple[int | None, str | None]:
    """``strconv.ParseInt(text, 0, 32)`` as pflag's int32 flags use it.

    Go's base-0 rules: an optional sign; ``0x``/``0o``/``0b`` prefixes (with at least one
    more character) and a leading ``0`` (octal); ASCII digits and letters only; ``_``
    allowed between digits or after a prefix (``1_8``, ``0x_18``) but not at either end
    or doubled. The digits are read left to right and an overflow is reported as soon as
    it happens, before a later bad character, as Go does.
    Returns ``(value, None)`` or ``(None, "<strconv error>")``, the text Go-quoted.
    """
    syntax = f"strconv.ParseInt: parsing {go_repr(text)}: invalid syntax"
    out_of_range = f"strconv.ParseInt: parsing {go_repr(text)}: value out of range"
    body = text[1:] if text[:1] in ("+", "-") else text
    negative = text.startswith("-")
    if not body:
        return None, syntax
    base, digits = 10, body
    if body[0] == "0":
        prefix = body[1:2].lower()
        if len(body) >= 3 and prefix in ("b", "o", "x"):
            base, digits = {"b": 2, "o": 8, "x": 16}[prefix], body[2:]
        else:
            base, digits = 8, body[1:]
    limit = (1 << 32) - 1  # ParseUint's bound for bitSize 32
    value = 0
    underscores = False
    for char in digits:
        if char == "_":
            underscores = True
            continue
        lowered = char.lower() if char.isascii() else char
        if "0" <= lowered <= "9":
            digit = ord(lowered) - ord("0")
        elif "a" <= lowered <= "z":
            digit = ord(lowered) - ord("a") + 10
        else:
            return None, syntax
        if digit >= base:
            return None, syntax
        value = value * base + digit
        if value > limit:
            return None, out_of_range
    if underscores and not _underscores_ok(body):
        return None, syntax
    value = -value if negative else value
    if not -(1 << 31) <= value < (1 << 31):
        return None, out_of_range
    return value, None


def _underscores_ok(body: str) -> bool:
    """Go's ``underscoreOK``: each ``_`` sits between digits (a base prefix counts as one)."""
    saw = "^"  # ^ start, 0 digit or prefix, _ underscore, ! anything else
    index = 0
    hexadecimal = False
    if len(body) >= 2 and body[0] == "0" and body[1].lower() in ("b", "o", "x"):
        index, saw, hexadecimal = 2, "0", body[1].lower() == "x"
    for char in body[index:]:
        if "0" <= char <= "9" or (hexadecimal and "a" <= char.lower() <= "f"):
            saw = "0"
        elif char == "_":
            if saw != "0":
                return False
            saw = "_"
        elif saw == "_":
            return False
        else:
            saw = "!"
    return saw != "_"


def _parse(text: str) -> CIDRPool | None:
    try:
        return CIDRPool(text)
    except InvalidAddressError:
        return None


# ---------------------------------------------------------------------------------------
# kube-apiserver --service-cluster-ip-range (service-ips §2)
# ---------------------------------------------------------------------------------------


def _old_apiserver_texts(profile: Profile) -> bool:
    """1.16-1.19 print the "secondary-service-cluster-ip-range" texts (service-ips §2.3)."""
    return profile.minor <= 19


@dataclass(frozen=True, slots=True)
class ApiserverRanges:
    """What kube-apiserver made of ``--service-cluster-ip-range``.

    ``ranges`` are the parsed ranges (primary first; empty after a parse error),
    ``errors`` every kube-apiserver error in its order, each with a hint.
    """

    ranges: tuple[CIDRPool, ...]
    errors: tuple[str, ...]


def _too_large(flag: str, pool: CIDRPool, profile: Profile) -> str | None:
    if pool.host_bits <= MAX_SERVICE_HOST_BITS:
        return None
    bits = pool.family.width
    shortest = bits - MAX_SERVICE_HOST_BITS
    hint = (
        f"{pool.cidr} has {pool.host_bits} host bits, at most {MAX_SERVICE_HOST_BITS} are "
        f"allowed: use a /{shortest} or longer prefix, e.g. "
        f"{format_cidr(pool.first, shortest, pool.family)}"
    )
    if _old_apiserver_texts(profile):
        old = (
            "--service-cluster-ip-range"
            if flag.endswith("range")
            else ("--secondary-service-cluster-ip-range")
        )
        return with_hint(f"specified {old} is too large", hint)
    return with_hint(
        f"specified {flag} is too large; for {bits}-bit addresses, the mask must be >= {shortest}",
        hint,
    )


def apiserver_service_range(
    flag: str, profile: Profile, gates: Mapping[str, bool]
) -> ApiserverRanges:
    """kube-apiserver's parsing and validation of ``--service-cluster-ip-range``.

    Parsing (service-ips §2.1) stops at its first error; validation (§2.2, texts of §2.3
    up to 1.19) collects all; then the library's IPv6 /64 minimum (§1.12) where the
    IPAddress allocator serves the range without flag limits. An empty flag means the
    deprecated default ``10.0.0.0/24``.
    """
    entries = flag.split(",") if flag else []
    if not entries:
        return ApiserverRanges((CIDRPool(DEFAULT_SERVICE_RANGE),), ())
    primary = _parse(entries[0])
    if primary is None:
        return ApiserverRanges(
            (),
            (
                with_hint(
                    "service-cluster-ip-range[0] is not a valid cidr",
                    f"{entries[0]!r} is not a CIDR: give e.g. '10.96.0.0/12' "
                    "(no spaces around the comma)",
                ),
            ),
        )
    if min(range_size(primary.prefixlen, primary.family), 1 << 16) < _MIN_SERVICE_ADDRESSES:
        longest = primary.family.width - 3
        return ApiserverRanges(
            (),
            (
                with_hint(
                    "error determining service IP ranges for primary service cidr: "
                    "the service cluster IP range must be at least 8 IP addresses",
                    f"{primary.cidr} is too small: use a /{longest} or shorter prefix, e.g. "
                    f"{format_cidr(primary.first & _mask(primary.family, longest), longest, primary.family)}",  # noqa: E501
                ),
            ),
        )
    ranges = [primary]
    if len(entries) > 1:
        secondary = _parse(entries[1])
        if secondary is None:
            return ApiserverRanges(
                (),
                (
                    with_hint(
                        "service-cluster-ip-range[1] is not an ip net",
                        f"{entries[1]!r} is not a CIDR: give e.g. 'fd00:10:96::/112' "
                        "(no spaces, no trailing comma)",
                    ),
                ),
            )
        ranges.append(secondary)

    errors: list[str] = []
    old = _old_apiserver_texts(profile)
    if len(entries) > 2:
        errors.append(
            with_hint(
                "--service-cluster-ip-range must not contain more than two entries",
                _two_ranges_hint(entries),
            )
        )
    limits = service_flag_limits_apply(gates, profile)
    if limits:
        message = _too_large("--service-cluster-ip-range", primary, profile)
        if message:
            errors.append(message)
    if len(ranges) > 1:
        secondary = ranges[1]
        dual_gate = gate_value(gates, "IPv6DualStack", profile)
        if not dual_gate:
            hint = "set --feature-gates=IPv6DualStack=true or give one range"
            if old:
                errors.append(
                    with_hint(
                        "--secondary-service-cluster-ip-range can only be used if "
                        "IPv6DualStack feature is enabled",
                        hint,
                    )
                )
            else:
                errors.append(
                    with_hint(
                        "secondary service cluster-ip range(--service-cluster-ip-range[1]) "
                        "can only be used if IPv6DualStack and EndpointSlice feature is enabled",
                        hint,
                    )
                )
        if secondary.family is primary.family:
            hint = (
                f"both ranges are {primary.family}: replace {secondary.cidr} with an "
                f"{primary.family.other} range, e.g. "
                + ("fd00:10:96::/112" if primary.family is IPFamily.IPv4 else "10.96.0.0/12")
            )
            errors.append(
                with_hint(
                    "--service-cluster-ip-range and --secondary-service-cluster-ip-range "
                    "must be of different IP family"
                    if old
                    else "--service-cluster-ip-range[0] and --service-cluster-ip-range[1] "
                    "must be of different IP family",
                    hint,
                )
            )
        if limits:
            message = _too_large("--service-cluster-ip-range[1]", secondary, profile)
            if message:
                errors.append(message)
    if not limits and effective_allocator(gates, profile) != "bitmap":
        for pool in ranges:
            if pool.family is IPFamily.IPv6 and pool.prefixlen < 64:
                errors.append(
                    with_hint(
                        f"shortest allowed prefix length for service CIDR is 64, "
                        f"got {pool.prefixlen}",
                        f"use a /64 or longer IPv6 range, e.g. "
                        f"{format_cidr(pool.first, 64, pool.family)}; kube-apiserver would "
                        "start but allocate no IPv6 ClusterIPs from it",
                    )
                )
    if not limits and effective_allocator(gates, profile) == "multicidr":
        # The library's own check (a difference from upstream, docs/service-ranges.md):
        # a whole IPv6 range that reaches ::ffff:0:0/96 cannot be served.
        whole = profile.with_service_allocator("multicidr")
        for pool in ranges:
            if pool.family is IPFamily.IPv6 and pool.prefixlen >= 64:
                size = usable_size(pool.host_bits, pool.family, whole)
                problem = ipv4_mapped_overlap(pool.first, size)
                if problem is not None:
                    errors.append(
                        with_hint(f"the Service range {pool.cidr} {problem[0]}", problem[1])
                    )
    return ApiserverRanges(tuple(ranges), tuple(errors))


def _mask(family: IPFamily, prefixlen: int) -> int:
    return family.max_int ^ ((1 << (family.width - prefixlen)) - 1)


# ---------------------------------------------------------------------------------------
# kube-controller-manager (node-and-pod-ips §2)
# ---------------------------------------------------------------------------------------


def _two_ranges_hint(entries: list[str]) -> str:
    """What to give instead of more than two service ranges: the first of each family."""
    first: dict[IPFamily, str] = {}
    for entry in entries:
        pool = _parse(entry)
        if pool is not None:
            first.setdefault(pool.family, pool.cidr)
    if len(first) == 2:
        return (
            "keep one range per family, e.g. "
            f"--service-cluster-ip-range={','.join(first.values())}"
        )
    return f"give at most two entries, one IPv4 and one IPv6 range, not {len(entries)}"


def kcm_option_errors(service_flag: str) -> list[str]:
    """kube-controller-manager's options validation of its service range (node §2.4)."""
    if service_flag and len(service_flag.split(",")) > 2:
        return [
            with_hint(
                "--service-cluster-ip-range can not contain more than two entries",
                _two_ranges_hint(service_flag.split(",")),
            )
        ]
    return []


def _old_cluster_count_text(profile: Profile) -> bool:
    """``len of clusters is:<n> > more than max allowed of 2`` (node §2.1) up to 1.24.

    kube-controller-manager's node IPAM start-up kept this text while it still checked
    the IPv6DualStack gate itself; the shared ``validateCIDRs`` helper with the
    route-controller text ``length of clusterCIDRs is:...`` replaced it after the gate
    was removed (stored core.go versions; the exact release is not pinned, 1.25 assumed).
    """
    return profile.minor <= 24


def validate_cluster_cidrs(
    flag: str, profile: Profile, dual_stack_gate: bool
) -> tuple[tuple[CIDRPool, ...], str | None]:
    """``--cluster-cidr`` as kube-controller-manager parses and checks it (node §2.1).

    The whole flag is trimmed, the items are not. Returns the parsed CIDRs (in flag
    order) and the first error, with its hint.
    """
    items = flag.strip().split(",")
    pools: list[CIDRPool] = []
    for index, item in enumerate(items):
        pool = _parse(item)
        if pool is None:
            go_error = f"invalid CIDR address: {item}"
            message = (
                f"invalid CIDR[{index}]: <nil> ({go_error})"
                if profile.parse_cidrs_new_text
                else f'failed to parse cidr value:"{item}" with error:{go_error}'
            )
            if item != item.strip():
                hint = f"remove the spaces around {item.strip()!r}"
            elif not item:
                hint = (
                    "give the Pod CIDRs, e.g. --cluster-cidr=10.244.0.0/16,fd00:10:244::/56"
                    if len(items) == 1
                    else "remove the empty entry (doubled or trailing comma)"
                )
            else:
                hint = f"{item!r} is not a CIDR: give e.g. '10.244.0.0/16' or 'fd00:10:244::/56'"
            return (), with_hint(message, hint)
        pools.append(pool)
    n = len(pools)
    families = {p.family for p in pools}
    if n > 1 and not dual_stack_gate:
        return tuple(pools), with_hint(
            f"len of ClusterCIDRs=={n} and dualstack feature is not enabled",
            "set --feature-gates=IPv6DualStack=true on kube-controller-manager "
            "(and kube-apiserver, kubelet, kube-proxy), or give one CIDR",
        )
    if n > 1 and len(families) < 2:
        only = pools[0].family
        return tuple(pools), with_hint(
            f"len of ClusterCIDRs=={n} and they are not configured as dual stack "
            "(at least one from each IPFamily",
            f"all {n} CIDRs are {only}: keep one {only} CIDR and add one {only.other} CIDR",
        )
    if n > 2:
        message = (
            f"len of clusters is:{n} > more than max allowed of 2"
            if _old_cluster_count_text(profile)
            else f"length of clusterCIDRs is:{n} more than max allowed of 2"
        )
        first = {f: next(p for p in pools if p.family is f).cidr for f in families}
        return tuple(pools), with_hint(
            message,
            f"give exactly one CIDR per family, e.g. "
            f"--cluster-cidr={first[pools[0].family]},{first[pools[0].family.other]}",
        )
    return tuple(pools), None


def kcm_service_cidr_error(service_flag: str, dual_stack_gate: bool) -> str | None:
    """kube-controller-manager's check of its two service CIDRs (node §2.4).

    An unparsable entry is only logged upstream and ignored here; with both present the
    gate must be on (while it exists) and the families must differ.
    """
    if not service_flag:
        return None
    entries = service_flag.split(",")
    first = _parse(entries[0]) if entries[0].strip() else None
    second = _parse(entries[1]) if len(entries) > 1 and entries[1].strip() else None
    if first is None or second is None:
        return None
    if not dual_stack_gate:
        return with_hint(
            "secondary service cidr is provided and IPv6DualStack feature is not enabled",
            "set --feature-gates=IPv6DualStack=true on kube-controller-manager or give "
            "one service range",
        )
    if first.family is second.family:
        return with_hint(
            "serviceCIDR and secondaryServiceCIDR are not dualstack (from different IPfamiles)",
            f"both are {first.family}: give one IPv4 and one IPv6 service range",
        )
    return None


def node_mask_sizes(
    pools: tuple[CIDRPool, ...],
    mask: int | None,
    mask_v4: int | None,
    mask_v6: int | None,
    profile: Profile,
    dual_stack_gate: bool,
) -> tuple[dict[IPFamily, int], str | None]:
    """The node mask of each cluster CIDR family (node §2.2, per release).

    From 1.17 ``None`` and 0 both mean "flag not set" (``setNodeCIDRMaskSizes`` tests
    ``!= 0``). In 1.16 only ``None`` does: the 24 was component config's default, set
    before the command line was read, and an explicit 0 went to the controller as it
    was (and fails its cluster-prefix check). Returns the masks by family and the error
    text (with hint) of the release's ``setNodeCIDRMaskSizes``.
    """
    if profile.mask_rules == "1.16":
        # One mask, defaulted to 24 by component config, for every family (node §2.11).
        single = 24 if mask is None else mask
        return {IPFamily.IPv4: single, IPFamily.IPv6: single}, None
    mask = mask or None
    mask_v4 = mask_v4 or None
    mask_v6 = mask_v6 or None
    families = [p.family for p in pools]
    dual = IPFamily.IPv4 in families and IPFamily.IPv6 in families
    if profile.mask_rules == "1.17":
        if dual_stack_gate:
            if mask is not None:
                return {}, with_hint(
                    "usage of --node-cidr-mask-size is not allowed with dual-stack clusters",
                    f"with IPv6DualStack on, {profile.version} takes "
                    f"{_per_family_flags(mask, mask_v4, mask_v6)} instead, even for a "
                    "single-stack cluster",
                )
            return {
                IPFamily.IPv4: mask_v4 or DEFAULT_NODE_MASK[IPFamily.IPv4],
                IPFamily.IPv6: mask_v6 or DEFAULT_NODE_MASK[IPFamily.IPv6],
            }, None
        if mask_v4 is not None or mask_v6 is not None:
            return {}, with_hint(
                "usage of --node-cidr-mask-size-ipv4 and --node-cidr-mask-size-ipv6 are "
                "not allowed with non dual-stack clusters",
                f"without IPv6DualStack give one --node-cidr-mask-size="
                f"{mask_v4 or mask_v6} for every family, or set "
                "--feature-gates=IPv6DualStack=true",
            )
        if mask is not None:
            return {IPFamily.IPv4: mask, IPFamily.IPv6: mask}, None
        return dict(DEFAULT_NODE_MASK), None
    # 1.19+ (kubernetes/kubernetes#90439)
    if dual:
        if mask is not None:
            return {}, with_hint(
                "usage of --node-cidr-mask-size is not allowed with dual-stack clusters",
                f"use {_per_family_flags(mask, mask_v4, mask_v6)} instead",
            )
        return {
            IPFamily.IPv4: mask_v4 or DEFAULT_NODE_MASK[IPFamily.IPv4],
            IPFamily.IPv6: mask_v6 or DEFAULT_NODE_MASK[IPFamily.IPv6],
        }, None
    family = families[0] if families else IPFamily.IPv4
    if mask is not None:
        if mask_v4 is not None or mask_v6 is not None:
            given = " and ".join(
                f"--node-cidr-mask-size-{f.name.lower()}={v}"
                for f, v in ((IPFamily.IPv4, mask_v4), (IPFamily.IPv6, mask_v6))
                if v is not None
            )
            return {}, with_hint(
                "usage of --node-cidr-mask-size-ipv4 and --node-cidr-mask-size-ipv6 is not "
                "allowed if --node-cidr-mask-size is set. For dual-stack clusters please "
                "unset it and use IPFamily specific flags",
                f"for this single-stack {family} cluster keep --node-cidr-mask-size={mask} "
                f"and drop {given}, or drop --node-cidr-mask-size",
            )
        masks = dict(DEFAULT_NODE_MASK)
        masks[family] = mask
        return masks, None
    if family is IPFamily.IPv6 and mask_v4 is not None:
        return {}, with_hint(
            "usage of --node-cidr-mask-size-ipv4 is not allowed for a single-stack IPv6 cluster",
            "drop --node-cidr-mask-size-ipv4, or add an IPv4 CIDR to --cluster-cidr",
        )
    if family is IPFamily.IPv4 and mask_v6 is not None:
        return {}, with_hint(
            "usage of --node-cidr-mask-size-ipv6 is not allowed for a single-stack IPv4 cluster",
            "drop --node-cidr-mask-size-ipv6, or add an IPv6 CIDR to --cluster-cidr",
        )
    return {
        IPFamily.IPv4: mask_v4 or DEFAULT_NODE_MASK[IPFamily.IPv4],
        IPFamily.IPv6: mask_v6 or DEFAULT_NODE_MASK[IPFamily.IPv6],
    }, None


def _per_family_flags(mask: int | None, mask_v4: int | None, mask_v6: int | None) -> str:
    """The per-family flags that replace ``--node-cidr-mask-size`` (for a hint).

    The single value moves to the family whose width it fits (a value above 32 can only
    be meant for IPv6); the other family keeps its given flag or its default.
    """
    v4 = mask_v4 or (mask if mask is not None and mask <= 32 else None)
    v6 = mask_v6 or (mask if mask is not None and mask > 32 else None)
    v4 = v4 or DEFAULT_NODE_MASK[IPFamily.IPv4]
    v6 = v6 or DEFAULT_NODE_MASK[IPFamily.IPv6]
    return f"--node-cidr-mask-size-ipv4={v4} and --node-cidr-mask-size-ipv6={v6}"


def node_mask_width_error(
    pools: tuple[CIDRPool, ...], masks: Mapping[IPFamily, int]
) -> str | None:
    """Library check (node §1.7 item 1): a node mask longer than the address."""
    for pool in pools:
        n = masks[pool.family]
        if n > pool.family.width:
            return with_hint(
                f"node mask size {n} is longer than the address ({pool.family.width} bits)",
                f"give an {pool.family} node mask between /{pool.prefixlen} and "
                f"/{pool.family.width}",
            )
    return None


def controller_cidr_error(
    pools: tuple[CIDRPool, ...], masks: Mapping[IPFamily, int], profile: Profile
) -> str | None:
    """``NewNodeIpamController``: every cluster prefix must be <= its node mask (node §2.3)."""
    for pool in pools:
        n = masks[pool.family]
        if pool.prefixlen <= n:
            continue
        if profile.single_node_mask:
            message = (
                "Controller: Invalid --cluster-cidr, mask size of cluster CIDR must be less "
                "than --node-cidr-mask-size"
            )
        else:
            message = (
                "Controller: Invalid --cluster-cidr, mask size of cluster CIDR must be less "
                "than or equal to --node-cidr-mask-size configured for CIDR family"
            )
        return with_hint(message, _prefix_hint(pool, n, profile))
    return None


def _prefix_hint(pool: CIDRPool, n: int, profile: Profile) -> str:
    family = pool.family
    if n == 0 and profile.single_node_mask:
        return (
            f"{profile.version} uses an explicit --node-cidr-mask-size=0 as given (0 means "
            "'not set' only from 1.17): drop the flag for the default /24, or give the "
            "node mask, e.g. --node-cidr-mask-size=24"
        )
    if n < 0:
        return f"the node mask /{n} is negative: give an {family} node mask of at least /{pool.prefixlen}"  # noqa: E501
    if profile.single_node_mask and family is IPFamily.IPv6:
        shortest = max(n - _IPV6_GAP, 0)
        return (
            f"in {profile.version} the single --node-cidr-mask-size (here /{n}) applies to "
            f"IPv6 too, so the IPv6 cluster prefix must be between /{shortest} and /{n}, "
            f"e.g. {format_cidr(pool.first & _mask(family, n), n, family)} (one node block); "
            "per-family masks arrived in 1.17"
        )
    flag = (
        "--node-cidr-mask-size"
        if profile.single_node_mask
        else (f"--node-cidr-mask-size-{family.name.lower()}")
    )
    longest_example = format_cidr(pool.first & _mask(family, n), n, family)
    return (
        f"{pool.cidr} is smaller than one /{n} node block: the longest {family} cluster "
        f"prefix that fits a /{n} node mask is /{n} (e.g. {longest_example}), or set "
        f"{flag} to at least {pool.prefixlen}"
    )


def cidr_set_error(
    pools: tuple[CIDRPool, ...],
    masks: Mapping[IPFamily, int],
    profile: Profile | None = None,
    *,
    dual_stack_gate: bool = True,
) -> str | None:
    """``NewCIDRSet``: an IPv6 node mask at most 16 bits longer than the cluster prefix.

    node §1.1 step 2 (``clusterSubnetMaxDiff``). The hint names the flag that sets the
    IPv6 node mask in ``profile``'s release: ``--node-cidr-mask-size`` in 1.16 (one mask
    for every family, IPv4 included) and in 1.17-1.18 with ``IPv6DualStack`` off (which
    refuse the per-family flags), ``--node-cidr-mask-size-ipv6`` otherwise (and without
    a profile).
    """
    for pool in pools:
        n = masks[pool.family]
        if pool.family is IPFamily.IPv6 and n - pool.prefixlen > _IPV6_GAP:
            shortest = n - _IPV6_GAP
            longest = pool.prefixlen + _IPV6_GAP
            example = format_cidr(pool.first, shortest, pool.family)
            advice = f"set --node-cidr-mask-size-ipv6 to at most {longest}"
            if profile is not None and profile.mask_rules == "1.16":
                advice = f"set --node-cidr-mask-size to at most {longest}"
                if any(p.family is IPFamily.IPv4 for p in pools):
                    advice += (
                        f", which sets the IPv4 node mask too ({profile.version} has one "
                        "mask for every family; per-family masks arrived in 1.17)"
                    )
            elif profile is not None and profile.mask_rules == "1.17" and not dual_stack_gate:
                advice = (
                    f"set --node-cidr-mask-size to at most {longest} (with IPv6DualStack "
                    f"off {profile.version} refuses the per-family mask flags)"
                )
            return with_hint(
                "New CIDR set failed; the node CIDR size is too big",
                f"a /{n} node mask allows IPv6 cluster prefixes from /{shortest} to /{n} "
                f"(65536 node blocks at most): use e.g. {example}, or {advice}",
            )
    return None

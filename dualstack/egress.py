"""EgressPolicy: ip-masq-agent's masquerade decision for a Pod's outgoing packet.

Purpose: say whether a packet leaving a node towards a destination is masqueraded
(SNAT to the node's address) or keeps the Pod's source address, as the
``ip-masq-agent`` DaemonSet configures iptables/ip6tables (spec: node-and-pod-ips.md §4).

Key types:
- ``EgressPolicy(*, non_masquerade_cidrs=None, masq_link_local=False,
  masq_link_local_ipv6=False, enable_ipv6=True, cidr_limit=64,
  nomasq_all_reserved_ranges=False, resync_interval="60s")``: a frozen value;
  ``None`` for the CIDRs means the agent's defaults (RFC 1918, plus the reserved ranges
  with ``nomasq_all_reserved_ranges``).
- ``EgressPolicy.from_config(text, *, enable_ipv6=True, nomasq_all_reserved_ranges=False)``:
  the agent's config file (``/etc/config/ip-masq-agent``, YAML or JSON).
- ``policy.should_masquerade(destination) -> bool``.

Invariants: a policy is valid by construction: every check of the agent's ``validate``
ran, in the agent's order, and the first failure raised ``ConfigError`` with the agent's
own message. ``non_masquerade_cidrs`` holds the canonical text of each entry, in the
given order (the agent writes its rules in that order; first match wins). The decision
ignores the source address and assumes the destination is not a LOCAL address of the
node (such packets never enter the agent's chain; the caller decides that).

Library choices (documented in docs/egress.md): IPv6 is on by default (the agent's
``--enable-ipv6`` defaults to false); CIDRs are parsed as the agent's Go does (strict:
no leading zeros), and IPv4-mapped IPv6 CIDRs are refused (the agent would accept one
and then fail to load its iptables rules).
"""

from __future__ import annotations

import datetime
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import netaddr as _netaddr

from dualstack.errors import ConfigError, InvalidAddressError, go_repr
from dualstack.families import IPFamily, format_ip, parse_cidr, parse_ip
from dualstack.pools import CIDRPool

__all__ = [
    "DEFAULT_NON_MASQUERADE_CIDRS",
    "LINK_LOCAL_CIDR",
    "LINK_LOCAL_CIDR_IPV6",
    "RESERVED_NON_MASQUERADE_CIDRS",
    "EgressPolicy",
]

DEFAULT_NON_MASQUERADE_CIDRS: Final = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
"""The agent's default ``nonMasqueradeCIDRs``: RFC 1918. No IPv6 range."""

RESERVED_NON_MASQUERADE_CIDRS: Final = (
    "100.64.0.0/10",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.88.99.0/24",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "240.0.0.0/4",
)
"""Added after the defaults by ``--nomasq-all-reserved-ranges``, in the agent's order."""

LINK_LOCAL_CIDR: Final = "169.254.0.0/16"
LINK_LOCAL_CIDR_IPV6: Final = "fe80::/10"

_LINK_LOCAL: Final = CIDRPool(LINK_LOCAL_CIDR)
_LINK_LOCAL_IPV6: Final = CIDRPool(LINK_LOCAL_CIDR_IPV6)
_DEFAULT_RESYNC: Final = datetime.timedelta(seconds=60)
_INT64_MAX: Final = (1 << 63) - 1

CIDRInput = str | _netaddr.IPNetwork | CIDRPool


def _cidr_text(cidr: object) -> str:
    """The text the agent would see for an entry (its own messages quote it)."""
    if isinstance(cidr, str):
        return cidr
    if isinstance(cidr, CIDRPool):
        return cidr.cidr
    return str(cidr)


def _validate_cidr(cidr: object, enable_ipv6: bool) -> CIDRPool:
    """The agent's ``validateCIDR`` plus its IPv6 check, for one entry (spec §4.1)."""
    text = _cidr_text(cidr)
    if isinstance(cidr, CIDRPool):
        pool = cidr
    else:
        if not isinstance(cidr, str | _netaddr.IPNetwork):
            raise ConfigError(
                f"CIDR {go_repr(text)} could not be parsed, invalid CIDR address: {text}",
                hint="give each non-masquerade CIDR as text such as '10.0.0.0/8'",
            )
        try:
            # The agent uses Go's own net.ParseCIDR: IPv4 octets with leading zeros
            # are errors there, unlike in Kubernetes' sloppy parser.
            network, prefixlen, family = parse_cidr(text, strict=True)
        except InvalidAddressError:
            hint = "give a CIDR such as '10.0.0.0/8' or 'fd00::/8'"
            if text.count(":") >= 2 and "." in text:
                hint = (
                    "IPv4-mapped IPv6 CIDRs cannot be used in iptables rules; give the IPv4 CIDR"
                )
            raise ConfigError(
                f"CIDR {go_repr(text)} could not be parsed, invalid CIDR address: {text}",
                hint=hint,
            ) from None
        # Go's validateCIDR compares the address as written with the network.
        written = text.partition("/")[0]
        address = parse_ip(written)[0] if isinstance(cidr, str) else int(cidr.ip)
        pool = CIDRPool.from_ints(network, prefixlen, family)
        if address != network:
            raise ConfigError(
                f"CIDR {go_repr(text)} is not aligned to a CIDR block, "
                f"ip: {go_repr(format_ip(address, family))} network: {go_repr(pool.cidr)}",
                hint=f"write the network address: {pool.cidr}",
            )
    if pool.family is IPFamily.IPv6 and not enable_ipv6:
        raise ConfigError(
            f"ipv6 is not enabled, but ipv6 cidr {text} provided. "
            "Enable ipv6 using --enable-ipv6 agent flag",
            hint="pass enable_ipv6=True or drop the IPv6 entries",
        )
    return pool


@dataclass(frozen=True, slots=True, init=False, repr=False)
class EgressPolicy:
    """ip-masq-agent's configuration as an immutable value (spec node-and-pod-ips.md §4).

    Args:
        non_masquerade_cidrs: destinations that keep the Pod's source address; ``None``
            means the agent's default (RFC 1918, plus the reserved ranges when
            ``nomasq_all_reserved_ranges``). An explicit list, even empty, replaces it.
        masq_link_local: masquerade ``169.254.0.0/16`` too (default: it is exempt).
        masq_link_local_ipv6: masquerade ``fe80::/10`` too (default: it is exempt).
        enable_ipv6: the agent's ``--enable-ipv6``; on by default in the library. Off,
            the agent leaves IPv6 traffic alone and refuses IPv6 entries.
        cidr_limit: the agent's ``cidrLimit``: at most this many entries.
        nomasq_all_reserved_ranges: the agent's ``--nomasq-all-reserved-ranges``; only
            affects the default list.
        resync_interval: the agent's ``resyncInterval`` (a ``timedelta`` or a Go
            duration such as ``"60s"``); kept for completeness, it changes no decision.

    Raises:
        ConfigError: the agent's first validation error, with its exact text.
    """

    non_masquerade_cidrs: tuple[str, ...]
    masq_link_local: bool
    masq_link_local_ipv6: bool
    enable_ipv6: bool
    cidr_limit: int
    nomasq_all_reserved_ranges: bool = field(compare=False)
    resync_interval: datetime.timedelta
    _pools: tuple[CIDRPool, ...] = field(init=False, compare=False)

    def __init__(
        self,
        *,
        non_masquerade_cidrs: Iterable[CIDRInput] | None = None,
        masq_link_local: bool = False,
        masq_link_local_ipv6: bool = False,
        enable_ipv6: bool = True,
        cidr_limit: int = 64,
        nomasq_all_reserved_ranges: bool = False,
        resync_interval: datetime.timedelta | str = _DEFAULT_RESYNC,
    ) -> None:
        if isinstance(non_masquerade_cidrs, str | _netaddr.IPNetwork | CIDRPool):
            raise ConfigError(
                f"non_masquerade_cidrs must be a list of CIDRs, got {non_masquerade_cidrs!r}",
                hint=f"wrap it in a list: [{_cidr_text(non_masquerade_cidrs)!r}]",
            )
        if isinstance(cidr_limit, bool) or not isinstance(cidr_limit, int):
            raise ConfigError(
                f"cidr_limit must be an int, got {cidr_limit!r}", hint="the agent's default is 64"
            )
        switches = {
            "masq_link_local": masq_link_local,
            "masq_link_local_ipv6": masq_link_local_ipv6,
            "enable_ipv6": enable_ipv6,
            "nomasq_all_reserved_ranges": nomasq_all_reserved_ranges,
        }
        for name, value in switches.items():
            # bool() would read "false" or "no" as True: only a real bool says what it means.
            if not isinstance(value, bool):
                raise ConfigError(
                    f"{name} must be True or False, got {value!r}",
                    hint=f"pass {name}=True or {name}=False",
                )
        if non_masquerade_cidrs is None:
            entries: list[CIDRInput] = list(DEFAULT_NON_MASQUERADE_CIDRS)
            if nomasq_all_reserved_ranges:
                entries.extend(RESERVED_NON_MASQUERADE_CIDRS)
        else:
            try:
                entries = list(non_masquerade_cidrs)
            except TypeError:
                raise ConfigError(
                    f"non_masquerade_cidrs must be a list of CIDRs, got {non_masquerade_cidrs!r}",
                    hint="give e.g. ['10.0.0.0/8', 'fd00::/8'], or None for the agent's default",
                ) from None
        if len(entries) > cidr_limit:
            raise ConfigError(
                f"the daemon can only accept up to {cidr_limit} CIDRs (excluding link-local), "
                f"but got {len(entries)} CIDRs (excluding link local)",
                hint=f"merge entries or raise cidrLimit to at least {len(entries)}",
            )
        pools = tuple(_validate_cidr(entry, enable_ipv6) for entry in entries)
        if isinstance(resync_interval, str):
            interval = _parse_go_duration(resync_interval)
        elif isinstance(resync_interval, datetime.timedelta):
            interval = resync_interval
        else:
            raise ConfigError(
                f"resync_interval must be a timedelta or a Go duration, got {resync_interval!r}",
                hint="for example '60s' or datetime.timedelta(seconds=60)",
            )
        setter = object.__setattr__
        setter(self, "non_masquerade_cidrs", tuple(p.cidr for p in pools))
        setter(self, "masq_link_local", masq_link_local)
        setter(self, "masq_link_local_ipv6", masq_link_local_ipv6)
        setter(self, "enable_ipv6", enable_ipv6)
        setter(self, "cidr_limit", int(cidr_limit))
        setter(self, "nomasq_all_reserved_ranges", nomasq_all_reserved_ranges)
        setter(self, "resync_interval", interval)
        setter(self, "_pools", pools)

    @classmethod
    def from_config(
        cls,
        text: str | bytes,
        *,
        enable_ipv6: bool = True,
        nomasq_all_reserved_ranges: bool = False,
    ) -> EgressPolicy:
        """Load the agent's config file, YAML or JSON, as the agent does.

        Only the keys present override the defaults (``nonMasqueradeCIDRs``,
        ``cidrLimit``, ``masqLinkLocal``, ``masqLinkLocalIPv6``, ``resyncInterval``;
        matched case-insensitively like Go's JSON decoder; unknown keys are ignored).
        A present ``nonMasqueradeCIDRs``, even ``[]`` or null, replaces the default
        list. An empty file means the defaults.

        Args:
            text: the file's content.
            enable_ipv6: the agent's ``--enable-ipv6`` (library default: on).
            nomasq_all_reserved_ranges: the agent's ``--nomasq-all-reserved-ranges``.

        Raises:
            ConfigError: unparsable file, a value of the wrong type (Go's ``json:``
                message), or the agent's validation error.
        """
        document = _load_document(text)
        kwargs = _config_kwargs(document)
        return cls(
            enable_ipv6=enable_ipv6,
            nomasq_all_reserved_ranges=nomasq_all_reserved_ranges,
            **kwargs,
        )

    def should_masquerade(self, destination: object) -> bool:
        """Whether a Pod's packet to ``destination`` is masqueraded (spec §4.2).

        IPv4: link-local is exempt unless ``masq_link_local``; then the IPv4 entries;
        anything else is masqueraded. IPv6: with ``enable_ipv6`` off the agent does
        nothing (``False``); otherwise ``fe80::/10`` is exempt unless
        ``masq_link_local_ipv6``, then the IPv6 entries, else masqueraded.
        IPv4-mapped IPv6 destinations count as IPv4.

        Raises:
            InvalidAddressError: ``destination`` is not an IP address.
        """
        value, family = parse_ip(destination)
        if family is IPFamily.IPv4:
            if not self.masq_link_local and _LINK_LOCAL.contains_int(value, family):
                return False
        else:
            if not self.enable_ipv6:
                return False
            if not self.masq_link_local_ipv6 and _LINK_LOCAL_IPV6.contains_int(value, family):
                return False
        return not any(pool.contains_int(value, family) for pool in self._pools)

    def __repr__(self) -> str:
        seconds = self.resync_interval.total_seconds()
        interval = f"{int(seconds)}s" if seconds == int(seconds) else f"{seconds}s"
        return (
            f"EgressPolicy(non_masquerade_cidrs={list(self.non_masquerade_cidrs)!r}, "
            f"masq_link_local={self.masq_link_local!r}, "
            f"masq_link_local_ipv6={self.masq_link_local_ipv6!r}, "
            f"enable_ipv6={self.enable_ipv6!r}, cidr_limit={self.cidr_limit!r}, "
            f"resync_interval={interval!r})"
        )


# --- the config file ---------------------------------------------------------------------


def _load_document(text: str | bytes) -> object:
    """Parse the file as the agent does: JSON when it starts with ``{``, else YAML."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"error reading the ip-masq-agent config: {exc}", hint="save it as UTF-8"
            ) from None
    stripped = text.strip()
    if not stripped:
        return None  # an empty document is JSON null: the defaults
    try:
        return json.loads(stripped, parse_float=_JSONFloat, parse_constant=_no_constant)
    except ValueError as exc:
        # The agent's YAML-to-JSON step passes anything that looks like JSON straight
        # to the JSON decoder, so a broken JSON object is a JSON error, not YAML.
        if stripped.startswith("{"):
            raise ConfigError(
                f"error parsing the ip-masq-agent config as JSON: {exc}",
                hint="fix the JSON, or write the file as YAML",
            ) from None
    try:
        import yaml
    except ImportError:
        raise ConfigError(
            "the ip-masq-agent config is not JSON, and reading YAML needs PyYAML",
            hint="install PyYAML (pip install pyyaml) or give the config as JSON",
        ) from None
    try:
        return yaml.safe_load(stripped)
    except yaml.YAMLError as exc:
        raise ConfigError(
            "error parsing the ip-masq-agent config as YAML: " + " ".join(str(exc).split()),
            hint="fix the YAML syntax; keys are nonMasqueradeCIDRs, cidrLimit, "
            "masqLinkLocal, masqLinkLocalIPv6 and resyncInterval",
        ) from None


_FIELDS: Final = {
    "nonmasqueradecidrs": ("nonMasqueradeCIDRs", "[]string"),
    "cidrlimit": ("cidrLimit", "int"),
    "masqlinklocal": ("masqLinkLocal", "bool"),
    "masqlinklocalipv6": ("masqLinkLocalIPv6", "bool"),
    "resyncinterval": ("resyncInterval", "main.Duration"),
}
_KWARG: Final = {
    "nonMasqueradeCIDRs": "non_masquerade_cidrs",
    "cidrLimit": "cidr_limit",
    "masqLinkLocal": "masq_link_local",
    "masqLinkLocalIPv6": "masq_link_local_ipv6",
    "resyncInterval": "resync_interval",
}


def _json_kind(value: object) -> str:
    """The JSON kind Go's ``UnmarshalTypeError`` names."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return "string"


def _type_error(kind: str, key: str, go_type: str) -> ConfigError:
    return ConfigError(
        f"json: cannot unmarshal {kind} into Go struct field MasqConfig.{key} of type {go_type}",
        hint=f"{key} must be a {_HUMAN_TYPE[go_type]}",
    )


_HUMAN_TYPE: Final = {
    "[]string": "list of CIDR strings",
    "string": "CIDR string",
    "int": "whole number",
    "bool": "boolean (true or false)",
}


def _config_kwargs(document: object) -> dict[str, Any]:
    """Map the present keys to constructor arguments, with Go's JSON type checks."""
    if document is None:
        return {}
    if not isinstance(document, Mapping):
        raise ConfigError(
            f"json: cannot unmarshal {_json_kind(document)} into Go value of type main.MasqConfig",
            hint="the config is a mapping with keys such as nonMasqueradeCIDRs",
        )
    kwargs: dict[str, Any] = {}
    for raw_key, value in document.items():
        known = _FIELDS.get(str(raw_key).lower())
        if known is None:
            continue  # Go's decoder ignores unknown keys
        key, go_type = known
        name = _KWARG[key]
        if go_type == "main.Duration":
            kwargs[name] = _duration_value(value)
        elif value is None:
            # JSON null sets a slice to nil and leaves other fields alone.
            if go_type == "[]string":
                kwargs[name] = []
        elif go_type == "[]string":
            if not isinstance(value, list):
                raise _type_error(_json_kind(value), key, go_type)
            for item in value:
                if not isinstance(item, str):
                    raise _type_error(_json_kind(item), key, "string")
            kwargs[name] = list(value)
        elif go_type == "int":
            kwargs[name] = _int_value(value, key)
        else:  # bool
            if not isinstance(value, bool):
                raise _type_error(_json_kind(value), key, go_type)
            kwargs[name] = value
    return kwargs


class _JSONFloat(float):
    """A JSON number written with a fraction or exponent, keeping its text.

    Go's decoder refuses such a literal for an int field, even ``64.0``, and names the
    literal in its message.
    """

    __slots__ = ("literal",)
    literal: str

    def __new__(cls, literal: str) -> _JSONFloat:
        number = super().__new__(cls, literal)
        number.literal = literal
        return number


def _no_constant(name: str) -> object:
    # Python's json accepts NaN and Infinity; Go's (and JSON itself) does not.
    raise ValueError(f"invalid character {name[0]!r} looking for beginning of value")


def _int_value(value: object, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _type_error(_json_kind(value), key, "int")
    if isinstance(value, _JSONFloat):
        raise _type_error(f"number {value.literal}", key, "int")
    if isinstance(value, float):
        # A YAML float reaches Go's JSON decoder re-encoded in its shortest form.
        if not math.isfinite(value) or value != int(value):
            raise _type_error(f"number {value}", key, "int")
        value = int(value)
    if not -_INT64_MAX - 1 <= value <= _INT64_MAX:
        raise _type_error(f"number {value}", key, "int")
    return value


def _duration_value(value: object) -> datetime.timedelta:
    if not isinstance(value, str):
        shown = "null" if value is None else json.dumps(value)
        raise ConfigError(
            f"expected string value for unmarshal to field of type Duration, got {go_repr(shown)}",
            hint='write resyncInterval as a quoted Go duration such as "60s"',
        )
    return _parse_go_duration(value)


_UNITS_NS: Final = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # U+00B5 MICRO SIGN
    "μs": 1_000,  # U+03BC GREEK SMALL LETTER MU
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_COMPONENT_RE: Final = re.compile(r"([0-9]*)(?:\.([0-9]*))?([^0-9.]*)")


def _parse_go_duration(text: str) -> datetime.timedelta:
    """Go's ``time.ParseDuration`` (its error texts), as a ``timedelta``."""
    invalid = ConfigError(
        f"time: invalid duration {go_repr(text)}",
        hint="use a Go duration such as '60s', '5m' or '1h30m'",
    )
    rest = text
    sign = 1
    if rest[:1] in ("-", "+"):
        sign = -1 if rest[0] == "-" else 1
        rest = rest[1:]
    if rest == "0":
        return datetime.timedelta(0)
    if not rest:
        raise invalid
    total_ns = 0
    while rest:
        match = _COMPONENT_RE.match(rest)
        assert match is not None  # the pattern matches the empty string
        whole, frac, unit = match.group(1), match.group(2), match.group(3)
        if not whole and not frac:
            raise invalid
        if not unit:
            raise ConfigError(
                f"time: missing unit in duration {go_repr(text)}",
                hint="add a unit: ns, us, ms, s, m or h",
            )
        if unit not in _UNITS_NS:
            raise ConfigError(
                f"time: unknown unit {go_repr(unit)} in duration {go_repr(text)}",
                hint="units are ns, us, ms, s, m and h",
            )
        scale = _UNITS_NS[unit]
        total_ns += int(whole or "0") * scale
        if frac:
            total_ns += int(frac) * scale // 10 ** len(frac)
        if total_ns > _INT64_MAX:
            raise invalid
        rest = rest[match.end() :]
    return datetime.timedelta(microseconds=sign * total_ns / 1000)

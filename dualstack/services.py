"""Service manifests as kube-apiserver treats them: shape, defaulting, validation, ClusterIPs.

Purpose: everything that happens to a Service between ``kubectl apply`` and etcd, for the
dual-stack fields, in the processing order of shared/spec/service-ips.md §3.1:
shape checks (the JSON decoder's job), v1 defaulting, ``normalizeClusterIPs`` and
``patchAllocatedValues``, ``initIPFamilyFields`` with the embedded
``ValidateServiceClusterIPsRelatedFields``, ClusterIP allocation, the type rules of
``ValidateService`` and the update rules of ``ValidateServiceUpdate`` — for the GA API
(1.20+, with the 1.20 / 1.21-1.22 / 1.23+ differences of §3.3a: before 1.23 a create
runs ``ValidateService`` first, before the family checks and allocation) and for the alpha
``spec.ipFamily`` API of 1.16-1.19 (§3.2). The functions work on plain dicts as
``yaml.safe_load`` returns them.

Key types and functions:
- ``ServiceRules``: what a cluster contributes (configured families in
  ``--service-cluster-ip-range`` order, the release ``Profile``, the effective
  ``IPv6DualStack`` and ``StrictIPCIDRValidation`` gates).
- ``create_service(manifest, rules, allocators)`` / ``update_service(manifest, stored,
  rules, allocators)`` -> ``ServiceOutcome`` (the object to store, the addresses to
  release once it is stored, warnings). ``service_addresses(stored)`` lists what a delete
  releases.
- The pure steps, each named after its upstream function and citing its section:
  ``check_manifest``, ``apply_v1_defaults``, ``normalize_cluster_ips``,
  ``patch_allocated_values``, ``init_ip_family_fields``,
  ``validate_cluster_ips_related_fields``, ``validate_service``,
  ``validate_service_update``, ``drop_type_dependent_fields``, ``default_on_read``,
  ``ip_warnings``.

Invariants: the caller's manifest is never mutated (the first step deep-copies it); a
call that raises has released every address it allocated and has drawn no random
number (dynamic addresses are drawn only once nothing can fail any more, or the
generators are restored); on a stored GA object ``clusterIP == clusterIPs[0]`` and
``clusterIPs[i]`` has family ``ipFamilies[i]``; errors are ``InvalidServiceError``
(kube-apiserver's 422, rendered as upstream renders it) or ``RangeFullError`` (its 500).

Hot path (benchmarks/bench_services.py, <= 30 us per create): ``check_manifest`` copies
and shape-checks in one pass, with ``type(x) is dict`` tests before the costlier ABC
``isinstance``; a create whose addresses are all "pick one" goes through
``_ga_create_dynamic`` (no transaction); error paths and texts are built only on error;
``_copy_created`` copies a stored object out, relying on ``check_manifest`` having
proved the string-only spec containers flat.
"""

from __future__ import annotations

import functools as _functools
import random as _random
import re as _re
import socket as _socket
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, NamedTuple, Protocol

from dualstack import rules as _rules
from dualstack.errors import (
    AllocationError,
    AlreadyExistsError,
    DualStackError,
    FieldError,
    FieldErrorType,
    InvalidServiceError,
    RangeFullError,
    go_repr,
)
from dualstack.families import IPFamily, format_ip, parse_ip
from dualstack.profiles import Profile

__all__ = [
    "CLUSTER_IP_NONE",
    "IP_FAMILY_POLICIES",
    "SERVICE_TYPES",
    "IPFamilyPolicy",
    "Manifest",
    "ServiceIPAllocatorLike",
    "ServiceOutcome",
    "ServiceRules",
    "ServiceType",
    "apply_v1_defaults",
    "check_manifest",
    "create_checked",
    "create_service",
    "default_on_read",
    "drop_type_dependent_fields",
    "init_ip_family_fields",
    "ip_warnings",
    "normalize_cluster_ips",
    "patch_allocated_values",
    "service_addresses",
    "service_key",
    "update_checked",
    "update_service",
    "validate_cluster_ips_related_fields",
    "validate_service",
    "validate_service_update",
]

Manifest = dict[str, Any]
"""A Service as ``yaml.safe_load``/``json.loads`` gives it (YAML-shaped, hence ``Any``)."""

ServiceType = Literal["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"]
IPFamilyPolicy = Literal["SingleStack", "PreferDualStack", "RequireDualStack"]

CLUSTER_IP_NONE: Final = "None"
"""The ``clusterIP`` of a headless Service."""
SERVICE_TYPES: Final = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
"""The supported ``spec.type`` values, in the (alphabetical) order upstream lists them."""
IP_FAMILY_POLICIES: Final = ("PreferDualStack", "RequireDualStack", "SingleStack")
"""The supported ``spec.ipFamilyPolicy`` values, in upstream's listing order."""

_inet_ntop = _socket.inet_ntop
_inet_ntoa = _socket.inet_ntoa
_AF_INET6: Final = _socket.AF_INET6

_SINGLE: Final = "SingleStack"
_PREFER: Final = "PreferDualStack"
_REQUIRE: Final = "RequireDualStack"
_EXTERNAL_NAME: Final = "ExternalName"
_HEADFUL_TYPES: Final = frozenset({"ClusterIP", "NodePort", "LoadBalancer"})
_FAMILY_NAMES: Final = ("IPv4", "IPv6")
_FAMILY_BY_NAME: Final = {f.value: f for f in IPFamily}
# The enum's class attributes and ``.value`` are Python-level lookups (~100-160 ns each
# on the benchmark machine); the hot path uses these instead.
_IPV4: Final = IPFamily.IPv4
_NAME_OF: Final = {f: f.value for f in IPFamily}
_OTHER_NAME: Final = {"IPv4": "IPv6", "IPv6": "IPv4"}
_FAMILY_SLICE: Final = "[]core.IPFamily"
_SESSION_AFFINITIES: Final = ("ClientIP", "None")
_PROTOCOLS: Final = ("SCTP", "TCP", "UDP")

_INVALID = FieldErrorType.INVALID
_REQUIRED = FieldErrorType.REQUIRED
_FORBIDDEN = FieldErrorType.FORBIDDEN
_NOT_SUPPORTED = FieldErrorType.NOT_SUPPORTED
_DUPLICATE = FieldErrorType.DUPLICATE

# apimachinery's validation texts (validation.go / IsDNS1035Label / IsDNS1123Label ...).
_VALID_IP_DETAIL: Final = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
_DNS1035_RE: Final = _re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_DNS1035_DETAIL: Final = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start "
    "with an alphabetic character, and end with an alphanumeric character (e.g. "
    "'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
_DNS1123_LABEL_RE: Final = _rules.DNS1123_LABEL_RE
_DNS1123_LABEL_DETAIL: Final = _rules.DNS1123_LABEL_DETAIL
_DNS1123_SUBDOMAIN_RE: Final = _rules.DNS1123_SUBDOMAIN_RE
_DNS1123_SUBDOMAIN_DETAIL: Final = _rules.DNS1123_SUBDOMAIN_DETAIL
_PORT_DETAIL: Final = "must be between 1 and 65535, inclusive"
# apimachinery IsQualifiedName / IsValidLabelValue (spec.selector, ValidateLabels).
_QNAME_RE: Final = _re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_QNAME_DETAIL: Final = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
    "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
_LABEL_VALUE_RE: Final = _re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_LABEL_VALUE_DETAIL: Final = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', "
    "'_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  "
    "or 'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
# apimachinery IsValidPortName (a named targetPort).
_PORT_NAME_CHARS_RE: Final = _re.compile(r"[-a-z0-9]+")
_PORT_NAME_LETTER_RE: Final = _re.compile(r"[a-z]")
_KUBELET_PORT: Final = 10250


@dataclass(frozen=True, slots=True)
class _ReleaseRules:
    """The release-dependent rules of defaulting and ``ValidateService`` beyond the IPs.

    Gated on ``Profile.minor`` here, in one place, because ``Profile`` has no switch
    for them (the reports of the changes that added them ask for four):
    ``kubelet_port``: ``type: LoadBalancer`` may not expose 10250 (removed by
    kubernetes/kubernetes#129174, first in 1.33); ``app_protocol``: ``core.ServicePort``
    has the ``AppProtocol`` field (1.18+), which shows in the Go ``%#v`` text of a
    duplicate (protocol, port) key; ``letter_text``: ``IsValidPortName``'s "at least one
    letter" text was corrected after kubernetes/kubernetes#107212 (Dec 2021) — the
    release is not pinned, 1.24 is assumed; ``etp_external_ips``: a ClusterIP Service
    with ``externalIPs`` is externally accessible, so ``externalTrafficPolicy`` is
    defaulted (kubernetes/kubernetes#119150, 1.28); ``wipe_node_ports``: an update to a
    type without node ports wipes the unchanged ``nodePort``s and ``healthCheckNodePort``
    before validation (strategy ``dropTypeDependentFields``, kubernetes/kubernetes#95196,
    1.20); ``wipe_lb_fields``: it also drops an unchanged
    ``allocateLoadBalancerNodePorts`` and ``loadBalancerClass`` when leaving LoadBalancer
    (1.21, the 1.21 strategy.go; the 1.20 one has neither); ``rest_clears_etp``: up to
    1.22 the REST update (``externalTrafficPolicyUpdate``, ``healthCheckNodePortUpdate``
    in pkg/registry/core/service/storage/rest.go) clears ``externalTrafficPolicy`` and
    ``healthCheckNodePort`` whenever the new type no longer uses them, whatever the
    request says; from 1.23 only the strategy's "drop it if unchanged" is left;
    ``app_protocol_checked``: a port's ``appProtocol`` is a qualified name (the
    ``ServiceAppProtocol`` gate, beta and on by default from 1.19); before, 1.16-1.17 do
    not know the field and 1.18's alpha gate is off, so it is dropped.
    """

    kubelet_port: bool
    app_protocol: bool
    letter_text: str
    etp_external_ips: bool
    wipe_node_ports: bool
    wipe_lb_fields: bool
    rest_clears_etp: bool
    app_protocol_checked: bool


def _release_rules(profile: Profile | None) -> _ReleaseRules:
    # Keyed by the minor (an int hashes at once; a Profile hashes all its fields).
    minor = profile.minor if profile is not None else 19  # (the alpha API's last)
    rules = _RELEASE_RULES.get(minor)
    if rules is None:
        rules = _RELEASE_RULES[minor] = _ReleaseRules(
            kubelet_port=minor <= 32,
            app_protocol=minor >= 18,
            letter_text="must contain at least one letter (a-z)"
            if minor >= 24
            else "must contain at least one letter or number (a-z, 0-9)",
            etp_external_ips=minor >= 28,
            wipe_node_ports=minor >= 20,
            wipe_lb_fields=minor >= 21,
            rest_clears_etp=minor <= 22,
            app_protocol_checked=minor >= 19,
        )
    return rules


_RELEASE_RULES: Final[dict[int, _ReleaseRules]] = {}


@dataclass(frozen=True, slots=True)
class _GoValueError(FieldError):
    """A ``FieldError`` whose ``value`` is already Go's ``%#v`` text (a struct)."""

    def __str__(self) -> str:
        return f"{self.field}: {self.type.value}: {self.value}"


def _service_port_key(protocol: object, port: object, rules: _ReleaseRules) -> str:
    """Go's ``%#v`` of the ``core.ServicePort{Protocol: p, Port: n}`` duplicate key."""
    shown = go_repr(protocol) if isinstance(protocol, str) else '""'
    app = "AppProtocol:(*string)(nil), " if rules.app_protocol else ""
    return (
        f'core.ServicePort{{Name:"", Protocol:{shown}, {app}Port:{port}, '
        'TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}'
    )


def _utf8_len(text: str) -> int:
    """``len`` in UTF-8 bytes, as Go counts a string, without failing on a lone surrogate.

    ``json.loads('"\\udcff"')`` gives such a string; it counts 3 bytes, as the U+FFFD
    Go's JSON decoder makes of it (the pattern checks then refuse it).
    """
    try:
        return len(text.encode())
    except UnicodeEncodeError:
        return len(text.encode("utf-8", "surrogatepass"))


def _port_name_errors(name: str, rules: _ReleaseRules) -> list[str]:
    """``IsValidPortName``: a named ``targetPort``."""
    errs: list[str] = []
    if _utf8_len(name) > 15:
        errs.append("must be no more than 15 characters")
    if not _PORT_NAME_CHARS_RE.fullmatch(name):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not _PORT_NAME_LETTER_RE.search(name):
        errs.append(rules.letter_text)
    if "--" in name:
        errs.append("must not contain consecutive hyphens")
    if name.startswith("-") or name.endswith("-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def _label_key_errors(key: str) -> list[str]:
    """``IsQualifiedName``: a label key (``[prefix/]name``)."""
    errs: list[str] = []
    parts = key.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            if _utf8_len(prefix) > 253:
                errs.append("prefix part must be no more than 253 characters")
            if not _DNS1123_SUBDOMAIN_RE.fullmatch(prefix):
                errs.append("prefix part " + _DNS1123_SUBDOMAIN_DETAIL)
    else:
        return [
            "a qualified name " + _QNAME_DETAIL + " with an optional DNS subdomain prefix "
            "and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part must be non-empty")
    elif _utf8_len(name) > 63:
        errs.append("name part must be no more than 63 characters")
    if not _QNAME_RE.fullmatch(name):
        errs.append("name part " + _QNAME_DETAIL)
    return errs


def _selector_errors(selector: Mapping[str, str]) -> list[FieldError]:
    """``ValidateLabels`` of ``spec.selector``: each key, then its value."""
    errs: list[FieldError] = []
    for item in selector.items():
        # The same few labels recur on every create: a good pair is remembered.
        if item not in _GOOD_LABELS:
            found = _label_errors(*item)
            if not found:
                if len(_GOOD_LABELS) < 4096:
                    _GOOD_LABELS.add(item)
                continue
            errs.extend(found)
    return errs


_GOOD_LABELS: Final[set[tuple[str, str]]] = set()


def _label_errors(key: str, value: str) -> list[FieldError]:
    errs = [FieldError(_INVALID, "spec.selector", key, m) for m in _label_key_errors(key)]
    if _utf8_len(value) > 63:
        errs.append(
            FieldError(_INVALID, "spec.selector", value, "must be no more than 63 characters")
        )
    if not _LABEL_VALUE_RE.fullmatch(value):
        errs.append(FieldError(_INVALID, "spec.selector", value, _LABEL_VALUE_DETAIL))
    return errs


# --------------------------------------------------------------------------------------
# The cluster's side
# --------------------------------------------------------------------------------------
class _ConfigLike(Protocol):
    """What ``ServiceRules.from_config`` reads from a ``ClusterConfig``."""

    @property
    def families(self) -> tuple[IPFamily, ...]: ...

    @property
    def profile(self) -> Profile: ...

    @property
    def feature_gates(self) -> Mapping[str, bool]: ...


@dataclass(frozen=True, slots=True)
class ServiceRules:
    """What the cluster contributes to the Service rules.

    Attributes:
        families: the configured families, in ``--service-cluster-ip-range`` order (the
            first is the default family, service-ips.md §2.4).
        profile: the release whose rules apply.
        dual_stack: the effective ``IPv6DualStack`` gate (on and locked from 1.23).
        strict_ips: the effective ``StrictIPCIDRValidation`` gate (§3.9).
    """

    families: tuple[IPFamily, ...]
    profile: Profile
    dual_stack: bool
    strict_ips: bool = False

    @classmethod
    def for_families(
        cls,
        families: Iterable[IPFamily | str],
        *,
        version: str | None = None,
        feature_gates: Mapping[str, bool] | None = None,
    ) -> ServiceRules:
        """Rules for a cluster serving ``families`` (in range order) under ``version``.

        Gates not named in ``feature_gates`` take the release's default; a gate the
        release has locked keeps its locked value.
        """
        profile = Profile.for_version(version)
        dual, strict = _gates_for(profile, feature_gates or {})
        return cls(tuple(IPFamily(f) for f in families), profile, dual, strict)

    @classmethod
    def from_config(cls, config: _ConfigLike) -> ServiceRules:
        """The rules of a ``ClusterConfig`` (its families, profile and feature gates)."""
        gates = getattr(config, "feature_gates", None) or {}
        dual, strict = _gates_for(config.profile, gates)
        return cls(tuple(IPFamily(f) for f in config.families), config.profile, dual, strict)

    @property
    def default_family(self) -> IPFamily:
        """The family of the first service range (§2.4)."""
        return self.families[0]

    @property
    def is_dual_stack(self) -> bool:
        """Whether both families are configured."""
        return len(self.families) == 2


def _gates_for(profile: Profile, gates: Mapping[str, bool]) -> tuple[bool, bool]:
    dual = profile.dual_stack_gate_default
    if not profile.dual_stack_gate_locked:
        dual = bool(gates.get("IPv6DualStack", dual))
    # StrictIPCIDRValidation exists from 1.33 (alpha, off); earlier releases ignore it.
    strict = profile.ip_warnings == "kep4858" and bool(gates.get("StrictIPCIDRValidation", False))
    return dual, strict


class ServiceIPAllocatorLike(Protocol):
    """The part of ``ServiceIPAllocator`` the Service rules use."""

    @property
    def free(self) -> int: ...

    def allocate(self, ip: str) -> object: ...  # returns the address (int() works)

    def allocate_next_int(self) -> int: ...

    def release(self, ip: str) -> None: ...


class ServiceOutcome(NamedTuple):
    """The result of a successful create or update.

    Attributes:
        service: the object to store (a fresh dict, owned by the caller).
        release: ``(family, ip)`` pairs to release once the object is stored (the old
            secondary on a downgrade, every old address on a change to ExternalName).
        warnings: the API server's warnings for the request (§3.9).
        addresses: on a create, every address the stored object holds as
            ``(family, int)`` (so that a later delete need not parse text); ``None``
            otherwise.
    """

    service: Manifest
    release: tuple[tuple[IPFamily, str], ...] = ()
    warnings: tuple[str, ...] = ()
    addresses: tuple[tuple[IPFamily, int], ...] | None = None


# --------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------
_SCALARS: Final = frozenset({str, int, bool, float, type(None)})


def _copy(value: Any) -> Any:
    """Deep copy of YAML-shaped data (dicts, lists, scalars).

    Several times faster than ``copy.deepcopy``: every create copies the manifest in
    and the stored object out (benchmarks/bench_services.py).
    """
    kind = type(value)
    if kind is dict:
        # dict.copy() runs in C; only nested containers need a Python-level step.
        # (Assigning to existing keys while iterating is safe: the size never changes.)
        out = value.copy()
        for k, v in out.items():
            if type(v) not in _SCALARS:
                out[k] = _copy(v)
        return out
    if kind is list:
        items = value.copy()
        for i, v in enumerate(items):
            if type(v) not in _SCALARS:
                items[i] = _copy(v)
        return items
    if kind in _SCALARS:
        return value
    if isinstance(value, Mapping):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_copy(v) for v in value]
    return value


class _NotJSONError(Exception):
    """Raised by ``_copy_input`` for what a JSON request body cannot carry.

    ``parts`` is the path below the copied value, innermost first (each level appends
    its key on the way out, so no path is built unless something is wrong).
    """

    def __init__(self, value: object, *, key: bool) -> None:
        super().__init__()
        self.value = value
        self.key = key
        self.parts: list[object] = []

    def field_error(self, path: str) -> FieldError:
        for part in reversed(self.parts):
            path += f"[{part}]" if type(part) is int else f".{part}"
        if self.key:
            value = self.value
            shown = value if isinstance(value, int | bool) or value is None else str(value)
            what = _type_name(value)
            return FieldError(_INVALID, path, shown, f"a key must be a string, not {what}")
        return _shape_error(path, self.value, "a string, number, boolean, list or mapping")


def _copy_input(value: Any) -> Any:
    """``_copy`` of request data, raising ``_NotJSONError`` for a non-string mapping key or a
    value JSON has no type for (bytes, a set, any other object).

    kube-apiserver decodes JSON, where every key is a string: its decoder refuses such a
    body (400), and a stored object must stay JSON for ``Cluster.snapshot()``.
    """
    kind = type(value)
    if kind is dict or (kind not in _SCALARS and isinstance(value, Mapping)):
        out = value.copy() if kind is dict else dict(value.items())
        for k, v in out.items():
            if type(k) is not str and not isinstance(k, str):
                raise _NotJSONError(k, key=True)
            if type(v) not in _SCALARS:
                try:
                    out[k] = _copy_input(v)
                except _NotJSONError as err:
                    err.parts.append(k)
                    raise
        return out
    if kind is list or isinstance(value, list | tuple):
        items = list(value)
        for i, v in enumerate(items):
            if type(v) not in _SCALARS:
                try:
                    items[i] = _copy_input(v)
                except _NotJSONError as err:
                    err.parts.append(i)
                    raise
        return items
    if kind in _SCALARS or isinstance(value, str | int | float):
        return value  # (a str/int subclass: JSON text as it stands)
    raise _NotJSONError(value, key=False)


def _copy_in(value: Any, path: str, errors: list[FieldError]) -> Any:
    """``_copy_input``, its complaint appended to ``errors`` (``value`` is then kept)."""
    try:
        return _copy_input(value)
    except _NotJSONError as err:
        errors.append(err.field_error(path))
        return value


def _key_error(path: str, key: object) -> FieldError:
    return _NotJSONError(key, key=True).field_error(path)


def _format_drawn(value: int, family: IPFamily) -> str:
    """Go's text of an address the allocator drew (``format_ip``, ~1 us for IPv6).

    ``inet_ntop`` writes RFC 5952 text exactly as Go does except inside ``::/80``
    (IPv4-mapped and -compatible forms), which goes to ``format_ip``; ``inet_ntoa``
    writes Go's dotted quad (and is cheaper than formatting the four bytes in Python).
    """
    if family is _IPV4:
        return _inet_ntoa(value.to_bytes(4, "big"))
    if value >> 48 == 0:
        return format_ip(value, family)
    return _inet_ntop(_AF_INET6, value.to_bytes(16, "big"))


def _invalid(
    name: str, errors: Iterable[FieldError], hint: str | None = None
) -> InvalidServiceError:
    return InvalidServiceError(name, errors, hint=hint)


def _family_of_text(ip: str) -> IPFamily:
    """``IsIPv6String``: IPv6 iff the text parses as a non-mapped IPv6 address."""
    try:
        return parse_ip(ip)[1]
    except DualStackError:
        return IPFamily.IPv4


def _is_ip(text: str) -> bool:
    try:
        parse_ip(text)
    except DualStackError:
        return False
    return True


def _is_headless(spec: Mapping[str, Any]) -> bool:
    """``isHeadlessService``: exactly one clusterIP, and it is ``None`` (§3.4)."""
    ips: Sequence[str] = spec.get("clusterIPs") or ()
    return len(ips) == 1 and ips[0] == CLUSTER_IP_NONE


def _needs_cluster_ip(spec: Mapping[str, Any]) -> bool:
    """strategy ``needsClusterIP``: every type but ExternalName ("None" is a value)."""
    return spec.get("type") != _EXTERNAL_NAME


def _gets_addresses(spec: Mapping[str, Any]) -> bool:
    """Whether addresses are allocated for the Service (not ExternalName, not headless)."""
    return spec.get("type") != _EXTERNAL_NAME and spec.get("clusterIP") != CLUSTER_IP_NONE


def service_key(service: Mapping[str, Any]) -> str:
    """``"<namespace>/<name>"`` of a checked manifest or stored Service."""
    meta = service["metadata"]
    return f"{meta.get('namespace') or 'default'}/{meta['name']}"


# --------------------------------------------------------------------------------------
# Shape: what kube-apiserver's JSON decoder refuses before any rule runs
# --------------------------------------------------------------------------------------
_SPEC_STRINGS: Final = (
    "type",
    "clusterIP",
    "ipFamilyPolicy",
    "ipFamily",
    "externalName",
    "sessionAffinity",
    "internalTrafficPolicy",
    "externalTrafficPolicy",
    "loadBalancerIP",
    "loadBalancerClass",
)
_SPEC_STRING_LISTS: Final = ("clusterIPs", "ipFamilies", "externalIPs", "loadBalancerSourceRanges")


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"


def _shape_error(path: str, value: object, want: str) -> FieldError:
    shown: object = value if isinstance(value, str | int | bool) or value is None else str(value)
    return FieldError(_INVALID, path, shown, f"must be {want}, not {_type_name(value)}")


def check_manifest(manifest: object) -> Manifest:
    """A deep copy of ``manifest`` after the checks the API's JSON decoder makes.

    Refuses what kube-apiserver would not even decode (HTTP 400 upstream): a manifest
    that is not a mapping, ``kind``/``apiVersion`` other than ``Service``/``v1``, a
    missing ``metadata.name``, a ``spec`` that is not a mapping, values of the wrong
    YAML type. Missing ``kind``/``apiVersion`` are accepted. ``metadata.namespace``
    defaults to ``default``.

    Raises:
        InvalidServiceError: one ``FieldError`` per problem, naming the field.
    """
    # ``type(...) is dict`` first: a plain dict is the usual input, and the ABC
    # ``isinstance`` check costs several times more (the hot path of every call).
    if type(manifest) is dict:
        obj: Manifest = manifest.copy()
    elif isinstance(manifest, Mapping):
        obj = dict(manifest.items())
    else:
        raise _invalid(
            "",
            [_shape_error("<manifest>", manifest, "a mapping")],
            hint="pass a Service as yaml.safe_load returns it: a dict with metadata and spec",
        )
    # One pass: the spec is copied and checked together. (Assigning to existing keys
    # while iterating is safe: the size never changes.)
    errors: list[FieldError] = []
    for key, value in obj.items():
        if type(key) is not str and not isinstance(key, str):
            errors.append(_key_error("<manifest>", key))
        elif type(value) not in _SCALARS:
            if key == "spec" and (type(value) is dict or isinstance(value, Mapping)):
                obj[key] = _copy_spec(value)
            else:
                try:
                    obj[key] = _copy_input(value)
                except _NotJSONError as err:
                    errors.append(err.field_error(key))
                    if isinstance(value, dict):
                        # The checks below still fill in (namespace, a plain name):
                        # never into the caller's own mapping.
                        obj[key] = dict(value)
    kind = obj.get("kind", "Service")
    if kind != "Service":
        errors.append(FieldError(_INVALID, "kind", kind, 'must be "Service"'))
    api_version = obj.get("apiVersion", "v1")
    if api_version != "v1":
        errors.append(FieldError(_INVALID, "apiVersion", api_version, 'must be "v1"'))
    meta = obj.get("metadata")
    name = ""
    if meta is None:
        meta = obj["metadata"] = {}
    if not isinstance(meta, dict):
        errors.append(_shape_error("metadata", meta, "a mapping"))
    else:
        raw_name = meta.get("name")
        if (raw_name is None or raw_name == "") and meta.get("generateName"):
            # kube-apiserver would make up a name; the library does not (not modelled)
            errors.append(
                FieldError(
                    _REQUIRED,
                    "metadata.name",
                    None,
                    "dualstack does not model generateName: give metadata.name",
                )
            )
        elif raw_name is None or raw_name == "":
            errors.append(
                FieldError(_REQUIRED, "metadata.name", None, "name or generateName is required")
            )
        elif not isinstance(raw_name, str):
            errors.append(_shape_error("metadata.name", raw_name, "a string"))
        else:
            name = raw_name
            if type(raw_name) is not str:
                name = meta["name"] = _plain(raw_name)
        namespace = meta.get("namespace")
        if namespace is None or namespace == "":
            meta["namespace"] = "default"
        elif not isinstance(namespace, str):
            errors.append(_shape_error("metadata.namespace", namespace, "a string"))
        elif type(namespace) is not str:
            meta["namespace"] = _plain(namespace)
        for key in ("labels", "annotations"):
            value = meta.get(key)
            if value is not None and not isinstance(value, dict):
                errors.append(_shape_error(f"metadata.{key}", value, "a mapping"))
    spec = obj.get("spec")
    if spec is None:
        spec = obj["spec"] = {}
    if not isinstance(spec, dict):
        errors.append(_shape_error("spec", spec, "a mapping"))
    else:
        errors.extend(spec.pop(_SHAPE_ERRORS, ()))
    if errors:
        raise _invalid(
            name, errors, hint="fix the fields named above; this is not a valid Service"
        )
    return obj


_SHAPE_ERRORS: Final = object()
"""Key under which ``_copy_spec`` hands its errors back (never a YAML key)."""


def _plain(text: str) -> str:
    """A ``str`` subclass (``IPFamily.IPv6``, a user's own) as the plain ``str`` it holds.

    The API sees JSON text: a subclass is its string value, and the stored object holds
    plain ``str`` (``str.__str__`` copies the characters, ignoring any ``__str__``).
    """
    return str.__str__(text)


def _plain_keys(mapping: dict[Any, Any]) -> dict[Any, Any]:
    """``mapping`` with ``str``-subclass keys made plain (order kept)."""
    return {(_plain(k) if isinstance(k, str) else k): v for k, v in mapping.items()}


def _copy_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``spec`` without null fields, checking the type of each known one.

    Errors go in the copy under ``_SHAPE_ERRORS`` (popped by ``check_manifest``).
    """
    out: dict[Any, Any] = {}
    errors: list[FieldError] = []
    for key, value in spec.items():
        if value is None:
            continue  # null is the same as absent for every optional field
        kind = _SPEC_KINDS.get(key)
        if kind == "str":
            if type(value) is not str:
                if isinstance(value, str):
                    value = _plain(value)
                else:
                    errors.append(_shape_error(f"spec.{key}", value, "a string"))
            out[key] = value
            continue
        if kind == "selector" and type(value) is dict:
            # The usual selector (a dict of strings) is copied and checked in one pass.
            selector = out[key] = value.copy()
            subclass_keys = False
            for k, v in selector.items():
                if type(k) is not str:
                    if not isinstance(k, str):
                        # (YAML ``{2024: x}``; kubectl would send the key as "2024", a
                        # dict handed to the library says it is a number)
                        errors.append(_key_error("spec.selector", k))
                        continue
                    subclass_keys = True
                if type(v) is not str:
                    if isinstance(v, str):
                        selector[k] = _plain(v)
                        continue
                    if type(v) not in _SCALARS:
                        v = selector[k] = _copy(v)
                    errors.append(_shape_error(f"spec.selector.{k}", v, "a string"))
            if subclass_keys:
                out[key] = _plain_keys(selector)
            continue
        if kind == "ports":
            # Copied and checked port by port in one pass; like ``_copy``, any list or
            # tuple becomes a list.
            if type(value) is list or isinstance(value, list | tuple):
                ports = out[key] = list(value)
                for i, port in enumerate(ports):
                    ports[i] = _copy_port(i, port, errors)
            else:
                value = out[key] = _copy(value)
                errors.append(_shape_error("spec.ports", value, "a list of mappings"))
            continue
        if kind is None:
            if type(key) is not str and not isinstance(key, str):
                errors.append(_key_error("spec", key))
            out[key] = value if type(value) in _SCALARS else _copy_in(value, f"spec.{key}", errors)
            continue
        if type(value) not in _SCALARS:
            found = len(errors)
            value = out[key] = _copy_in(value, f"spec.{key}", errors)
            if len(errors) > found:
                continue  # (not JSON: said once, its shape is not judged)
        else:
            out[key] = value
        if kind == "strs":
            if type(value) is not list:
                errors.append(_shape_error(f"spec.{key}", value, "a list of strings"))
            else:
                for i, item in enumerate(value):
                    if type(item) is not str:
                        if isinstance(item, str):
                            value[i] = _plain(item)
                        else:
                            errors.append(_shape_error(f"spec.{key}[{i}]", item, "a string"))
        elif kind == "selector":
            if type(value) is not dict:
                errors.append(_shape_error("spec.selector", value, "a mapping"))
            else:
                value = out[key] = _plain_keys(value)
                for k, v in value.items():  # (keys: ``_copy_in`` proved them strings)
                    if type(v) is not str:
                        if isinstance(v, str):
                            value[k] = _plain(v)
                        else:
                            errors.append(_shape_error(f"spec.selector.{k}", v, "a string"))
        elif kind == "bool" and type(value) is not bool:
            errors.append(_shape_error(f"spec.{key}", value, "a boolean"))
    if errors:
        out[_SHAPE_ERRORS] = errors
    return out


def _affinity_config_shape(config: Any) -> list[FieldError]:
    """The decoder's view of ``sessionAffinityConfig``: a mapping, ``clientIP`` a mapping.

    (Checked by ``apply_v1_defaults``, with the type of ``clientIP.timeoutSeconds``, not
    by ``check_manifest``: older releases of this library stored other shapes there, and
    the snapshot loader, which runs ``check_manifest`` on stored objects, must still
    read such a file.)
    """
    path = "spec.sessionAffinityConfig"
    if type(config) is not dict:
        return [_shape_error(path, config, "a mapping")]
    client_ip = config.get("clientIP")
    if client_ip is not None and type(client_ip) is not dict:
        return [_shape_error(path + ".clientIP", client_ip, "a mapping")]
    return []


def _affinity_timeout_shape(config: Mapping[str, Any]) -> list[FieldError]:
    """``sessionAffinityConfig.clientIP.timeoutSeconds`` is an integer (or absent).

    (Fixes an ``int`` subclass in place; ``config`` is the request's copy, its shape
    proved by ``_affinity_config_shape`` just before.)
    """
    client_ip = config.get("clientIP")
    if client_ip is None:
        return []
    timeout = client_ip.get("timeoutSeconds")
    if timeout is None or type(timeout) is int:
        return []
    if isinstance(timeout, int) and not isinstance(timeout, bool):
        client_ip["timeoutSeconds"] = int(timeout)  # an IntEnum member is its number
        return []
    path = "spec.sessionAffinityConfig.clientIP.timeoutSeconds"
    return [_shape_error(path, timeout, "an integer")]


_SPEC_KINDS: Final = {
    **dict.fromkeys(_SPEC_STRINGS, "str"),
    **dict.fromkeys(_SPEC_STRING_LISTS, "strs"),
    "selector": "selector",
    "ports": "ports",
    "allocateLoadBalancerNodePorts": "bool",
}


# The spec fields that, once ``check_manifest`` has accepted a manifest, are a list of
# str or (the selector) a dict of str values, and that the pipeline fills only with str.
_FLAT_SPEC_FIELDS: Final = frozenset({"selector", *_SPEC_STRING_LISTS})


def _copy_created(stored: Manifest) -> Manifest:
    """``_copy`` of an object a create just stored (it went through ``check_manifest``).

    The containers of ``_FLAT_SPEC_FIELDS`` need only a shallow copy, so this skips the
    per-item walk of the generic copy there (~0.7 us of every create's copy-out, see
    benchmarks/bench_services.py); everything else is copied by ``_copy``.
    """
    out = stored.copy()
    for key, value in out.items():
        if type(value) not in _SCALARS:
            if key == "spec" and type(value) is dict:
                spec = out[key] = value.copy()
                for k, v in spec.items():
                    if type(v) not in _SCALARS:
                        spec[k] = v.copy() if k in _FLAT_SPEC_FIELDS else _copy(v)
            else:
                out[key] = _copy(value)
    return out


_PORT_INTS: Final = frozenset({"port", "nodePort"})
_PORT_STRINGS: Final = frozenset({"name", "protocol", "appProtocol"})


def _copy_port(i: int, port: Any, errors: list[FieldError]) -> Any:
    """A deep copy of ``spec.ports[i]``, its shape checked (error paths built on error)."""
    port = port.copy() if type(port) is dict else _copy(port)
    if type(port) is not dict:
        errors.append(_shape_error(f"spec.ports[{i}]", port, "a mapping"))
        return port
    for key, value in port.items():
        if type(key) is not str and not isinstance(key, str):
            errors.append(_key_error(f"spec.ports[{i}]", key))
            continue
        if value is None:
            continue
        if type(value) not in _SCALARS:
            value = port[key] = _copy_in(value, f"spec.ports[{i}].{key}", errors)
        if key in _PORT_INTS:
            if type(value) is not int:
                if isinstance(value, int) and not isinstance(value, bool):
                    port[key] = int(value)  # an IntEnum member is its number
                else:
                    errors.append(_shape_error(f"spec.ports[{i}].{key}", value, "an integer"))
        elif key in _PORT_STRINGS:
            if type(value) is not str:
                if isinstance(value, str):
                    port[key] = _plain(value)
                else:
                    errors.append(_shape_error(f"spec.ports[{i}].{key}", value, "a string"))
        elif key == "targetPort" and type(value) is not int and type(value) is not str:
            if isinstance(value, str):
                port[key] = _plain(value)
            elif isinstance(value, int) and not isinstance(value, bool):
                port[key] = int(value)
            else:
                errors.append(
                    _shape_error(f"spec.ports[{i}].targetPort", value, "an integer or a string")
                )
    return port


# --------------------------------------------------------------------------------------
# Defaulting (§3.1 CREATE step 1)
# --------------------------------------------------------------------------------------
def apply_v1_defaults(obj: Manifest, rules: ServiceRules) -> None:
    """The v1 API defaults kube-apiserver applies to every Service it decodes (§3.1).

    ``type`` -> ``ClusterIP``; ``sessionAffinity`` -> ``None`` (which drops a
    ``sessionAffinityConfig``), ``ClientIP`` -> ``sessionAffinityConfig.clientIP.
    timeoutSeconds`` 10800 unless given; each port's ``protocol`` -> ``TCP`` and
    ``targetPort`` -> its ``port``; ``externalTrafficPolicy`` -> ``Cluster`` for NodePort
    and LoadBalancer, from 1.28 also for a ClusterIP Service with ``externalIPs``
    (kubernetes/kubernetes#119150). From 1.23 also
    ``internalTrafficPolicy`` -> ``Cluster`` (ClusterIP, NodePort, LoadBalancer) and
    ``allocateLoadBalancerNodePorts`` -> true (LoadBalancer). From 1.23 no IP-family
    field is defaulted here; 1.20-1.22 with ``IPv6DualStack`` on default a missing
    ``ipFamilyPolicy`` to ``RequireDualStack`` when the request carries two
    ``clusterIPs`` or two ``ipFamilies`` (§3.3a).

    Raises:
        InvalidServiceError: ``sessionAffinityConfig.clientIP.timeoutSeconds`` is not an
            integer (kube-apiserver could not decode the request).
    """
    spec = obj["spec"]
    config = spec.get("sessionAffinityConfig")
    if config is not None:
        shape = _affinity_config_shape(config) or _affinity_timeout_shape(config)
        if shape:
            raise _invalid(
                obj["metadata"]["name"],
                shape,
                hint="fix the fields named above; this is not a valid Service",
            )
    svc_type = spec.get("type") or "ClusterIP"
    spec["type"] = svc_type
    affinity = spec.get("sessionAffinity")
    if not affinity:
        spec["sessionAffinity"] = affinity = "None"
    if affinity == "None":
        if "sessionAffinityConfig" in spec:
            del spec["sessionAffinityConfig"]
    elif affinity == "ClientIP":
        _default_client_ip_config(spec)
    # (the type test first: the common ClusterIP create skips the rest)
    if (
        (svc_type == "NodePort" or svc_type == "LoadBalancer" or spec.get("externalIPs"))
        and not spec.get("externalTrafficPolicy")
        and _externally_accessible(spec, _release_rules(rules.profile))
    ):
        spec["externalTrafficPolicy"] = "Cluster"
    for port in spec.get("ports") or ():
        if not port.get("protocol"):
            port["protocol"] = "TCP"
        if port.get("targetPort") in (None, 0, "") and "port" in port:
            port["targetPort"] = port["port"]
    if (
        rules.profile.service_rules != "1.23"
        and rules.dual_stack
        and svc_type != _EXTERNAL_NAME
        and spec.get("ipFamilyPolicy") is None
        and (len(spec.get("clusterIPs") or ()) == 2 or len(spec.get("ipFamilies") or ()) == 2)
    ):
        # 1.20-1.22 (gate on): two clusterIPs or two families in the request meant
        # RequireDualStack. v1 defaulting sees the request as sent, so this also wins
        # over the stored policy an update would otherwise inherit (§3.3a).
        spec["ipFamilyPolicy"] = _REQUIRE
    if rules.profile.service_rules == "1.23":
        if svc_type in _HEADFUL_TYPES and not spec.get("internalTrafficPolicy"):
            spec["internalTrafficPolicy"] = "Cluster"
        if svc_type == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
            spec["allocateLoadBalancerNodePorts"] = True


def _default_client_ip_config(spec: dict[str, Any]) -> None:
    """``ClientIP`` affinity: a config without ``clientIP.timeoutSeconds`` gets 10800."""
    config = spec.get("sessionAffinityConfig")
    client_ip = config.get("clientIP") if isinstance(config, dict) else None
    if not isinstance(client_ip, dict) or client_ip.get("timeoutSeconds") is None:
        spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": 10800}}


def _externally_accessible(spec: Mapping[str, Any], release: _ReleaseRules) -> bool:
    """``ExternallyAccessible``: NodePort, LoadBalancer, and (1.28+) ClusterIP with externalIPs."""
    svc_type = spec.get("type")
    if svc_type == "NodePort" or svc_type == "LoadBalancer":
        return True
    return release.etp_external_ips and svc_type == "ClusterIP" and bool(spec.get("externalIPs"))


def _drop_external_traffic_policy(
    spec: dict[str, Any], old: Mapping[str, Any], rules: ServiceRules
) -> None:
    """On a change to a type that takes no ``externalTrafficPolicy``, drop it.

    1.23+: only an unchanged one (strategy ``dropTypeDependentFields``; a changed one is
    kept). 1.16-1.22: whatever its value, and likewise ``healthCheckNodePort`` when the
    Service stops being a LoadBalancer with the ``Local`` policy (the REST update's
    ``healthCheckNodePortUpdate`` and ``externalTrafficPolicyUpdate``).
    """
    release = _release_rules(rules.profile)
    if release.rest_clears_etp:
        if _uses_health_check_port(old) and not _uses_health_check_port(spec):
            spec.pop("healthCheckNodePort", None)
        if _externally_accessible(old, release) and not _externally_accessible(spec, release):
            spec.pop("externalTrafficPolicy", None)
        return
    if (
        "externalTrafficPolicy" in spec
        and _externally_accessible(old, release)
        and not _externally_accessible(spec, release)
        and spec["externalTrafficPolicy"] == old.get("externalTrafficPolicy")
    ):
        del spec["externalTrafficPolicy"]


# --------------------------------------------------------------------------------------
# ClusterIP linkage (§3.1)
# --------------------------------------------------------------------------------------
def normalize_cluster_ips(spec: dict[str, Any], old: Mapping[str, Any] | None) -> None:
    """``normalizeClusterIPs``: keep ``clusterIP`` and ``clusterIPs`` consistent (§3.1).

    Create: a ``clusterIP`` without ``clusterIPs`` gives ``clusterIPs = [clusterIP]``
    (never the other way round). Update: an old client that omitted ``clusterIPs`` gets
    the stored ones back; clearing ``clusterIP`` with unchanged ``clusterIPs`` clears
    both; changing ``clusterIP`` with unchanged ``clusterIPs`` replaces them (validation
    then refuses the change).
    """
    new_ip = spec.get("clusterIP", "")
    new_ips = spec.get("clusterIPs") or []
    if old is None:
        if new_ip and not new_ips:
            spec["clusterIPs"] = [new_ip]
        return
    old_ip = old.get("clusterIP", "")
    old_ips = old.get("clusterIPs") or []
    if old_ips and not new_ips and old_ip == new_ip:
        spec["clusterIPs"] = new_ips = list(old_ips)
    if old_ip != new_ip:
        if old_ip and not new_ip and list(old_ips) == list(new_ips):
            spec.pop("clusterIPs", None)
            new_ips = []
        if new_ip and list(old_ips) == list(new_ips):
            spec["clusterIPs"] = [new_ip]


def patch_allocated_values(spec: dict[str, Any], old: Mapping[str, Any]) -> None:
    """``patchAllocatedValues``: a PUT without the IP fields keeps the stored ones (§3.1).

    Only when both the old and the new Service need a ClusterIP (neither is
    ExternalName): an empty ``clusterIP`` takes the old one, empty ``clusterIPs`` the old
    list. Families and policy are never restored here.
    """
    if _needs_cluster_ip(old) and _needs_cluster_ip(spec):
        if not spec.get("clusterIP"):
            old_ip = old.get("clusterIP", "")
            if old_ip:
                spec["clusterIP"] = old_ip
        if not spec.get("clusterIPs") and old.get("clusterIPs"):
            spec["clusterIPs"] = list(old["clusterIPs"])


# --------------------------------------------------------------------------------------
# ValidateServiceClusterIPsRelatedFields (§3.4) and strict IP strings (§3.9)
# --------------------------------------------------------------------------------------
def _strict_ip_errors(path: str, value: str) -> list[FieldError]:
    """``IsValidIPForLegacyField`` in strict mode: no leading zeros, no IPv4-mapped IPv6."""
    # The dotted part (all of an IPv4 text, the tail of an IPv6 one) is where Go's
    # strict parser finds leading zeros; a text it cannot parse is not "IPv4-mapped".
    if "." in value and _embedded_leading_zero(value):
        return [FieldError(_INVALID, path, value, "must not have leading 0s")]
    if ":" in value and parse_ip(value)[1] is IPFamily.IPv4:
        return [FieldError(_INVALID, path, value, "must not be an IPv4-mapped IPv6 address")]
    return []


def validate_cluster_ips_related_fields(
    spec: Mapping[str, Any], rules: ServiceRules, old: Mapping[str, Any] | None = None
) -> list[FieldError]:
    """``ValidateServiceClusterIPsRelatedFields``: the checks of §3.4, in upstream order.

    ExternalName skips all of them. With ``StrictIPCIDRValidation`` on, IPs that have
    leading zeros or are IPv4-mapped are refused unless the stored object already held
    them (§3.9).

    Returns:
        The field errors (empty when the fields are consistent).
    """
    if spec.get("type") == _EXTERNAL_NAME:
        return []
    errs: list[FieldError] = []
    cluster_ip = spec.get("clusterIP", "")
    ips: list[str] = spec.get("clusterIPs") or []
    families: list[str] = spec.get("ipFamilies") or []
    policy = spec.get("ipFamilyPolicy")
    if cluster_ip and not ips:
        errs.append(FieldError(_REQUIRED, "spec.clusterIPs"))
    elif cluster_ip and ips[0] != cluster_ip:
        errs.append(
            FieldError(_INVALID, "spec.clusterIPs", ips, "first value must match `clusterIP`")
        )
    elif not cluster_ip and ips:
        errs.append(
            FieldError(
                _INVALID, "spec.clusterIPs", ips, "must be empty when `clusterIP` is not specified"
            )
        )
    seen: set[str] = set()
    for i, fam in enumerate(families):
        # Both checks run for every entry: a repeated unsupported value is reported
        # as unsupported and as a duplicate, as upstream does.
        if fam not in _FAMILY_NAMES:
            errs.append(
                FieldError(
                    _NOT_SUPPORTED,
                    f"spec.ipFamilies[{i}]",
                    fam,
                    'supported values: "IPv4", "IPv6"',
                )
            )
        if fam in seen:
            errs.append(FieldError(_DUPLICATE, f"spec.ipFamilies[{i}]", fam))
        seen.add(fam)
    if policy is not None and policy not in IP_FAMILY_POLICIES:
        errs.append(
            FieldError(
                _NOT_SUPPORTED,
                "spec.ipFamilyPolicy",
                policy,
                'supported values: "PreferDualStack", "RequireDualStack", "SingleStack"',
            )
        )
    bad_ips = False
    for i, ip in enumerate(ips):
        if i == 0 and ip == CLUSTER_IP_NONE:
            if len(ips) > 1:
                errs.append(
                    FieldError(
                        _INVALID, "spec.clusterIPs", ips, "'None' must be the first and only value"
                    )
                )
                bad_ips = True
            continue
        if not _is_ip(ip):
            errs.append(FieldError(_INVALID, f"spec.clusterIPs[{i}]", ip, _VALID_IP_DETAIL))
            bad_ips = True
        elif rules.strict_ips and (old is None or ip not in (old.get("clusterIPs") or ())):
            strict = _strict_ip_errors(f"spec.clusterIPs[{i}]", ip)
            if strict:
                errs.extend(strict)
                bad_ips = True
    if len(ips) > 2:
        errs.append(FieldError(_INVALID, "spec.clusterIPs", ips, "may only hold up to 2 values"))
    if bad_ips:
        return errs
    if len(ips) > 1 and {_family_of_text(ip) for ip in ips} != {IPFamily.IPv4, IPFamily.IPv6}:
        errs.append(
            FieldError(
                _INVALID,
                "spec.clusterIPs",
                ips,
                "may specify no more than one IP for each IP family",
            )
        )
    if ips and families and not _is_headless(spec):
        for i in range(min(len(ips), len(families))):
            fam = families[i]
            got = _family_of_text(ips[i])
            if fam == "IPv4" and got is not IPFamily.IPv4:
                errs.append(
                    FieldError(
                        _INVALID,
                        f"spec.clusterIPs[{i}]",
                        ips[i],
                        f"expected an IPv4 value as indicated by `ipFamilies[{i}]`",
                    )
                )
            elif fam == "IPv6" and got is not IPFamily.IPv6:
                errs.append(
                    FieldError(
                        _INVALID,
                        f"spec.clusterIPs[{i}]",
                        ips[i],
                        f"expected an IPv6 value as indicated by `ipFamilies[{i}]`",
                    )
                )
    return errs


# --------------------------------------------------------------------------------------
# initIPFamilyFields (§3.3, §3.3a)
# --------------------------------------------------------------------------------------
def _messages(rules: ServiceRules) -> _Texts:
    return _OLD_TEXTS if rules.profile.service_rules != "1.23" else _NEW_TEXTS


@dataclass(frozen=True, slots=True)
class _Texts:
    """The texts of the errors of ``initIPFamilyFields`` that changed in 1.23 (§3.3a)."""

    multi_ip: str
    multi_fam: str
    not_dual: str
    ip_fam_not_configured: Callable[[IPFamily], str]
    fam_not_configured: Callable[[str], str]
    fam_not_configured_value_is_ips: bool
    alloc_failed: Callable[[str, str], str]


_NEW_TEXTS: Final = _Texts(
    multi_ip="must be 'RequireDualStack' or 'PreferDualStack' when multiple cluster IPs "
    "are specified",
    multi_fam="must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families "
    "are specified",
    not_dual="this cluster is not configured for dual-stack services",
    ip_fam_not_configured=lambda f: f"{f} is not configured on this cluster",
    fam_not_configured=lambda f: "not configured on this cluster",
    fam_not_configured_value_is_ips=False,
    alloc_failed=lambda ip, err: f"failed to allocate IP {ip}: {err}",
)
_OLD_TEXTS: Final = _Texts(
    multi_ip="must be RequireDualStack or PreferDualStack when multiple 'clusterIPs' "
    "are specified",
    multi_fam="must be RequireDualStack or PreferDualStack when multiple 'ipFamilies' "
    "are specified",
    not_dual="Cluster is not configured for dual stack services",
    ip_fam_not_configured=lambda f: f"may not use {f} on a cluster which is not configured for it",
    fam_not_configured=lambda f: f"ipfamily {f} is not configured on cluster",
    fam_not_configured_value_is_ips=True,
    alloc_failed=lambda ip, err: f"failed to allocated ip:{ip} with error:{err}",
)


def init_ip_family_fields(
    spec: dict[str, Any], old: Mapping[str, Any] | None, rules: ServiceRules
) -> list[FieldError]:
    """``initIPFamilyFields``: default and check ``ipFamilyPolicy``/``ipFamilies`` (§3.3).

    Mutates ``spec`` (the policy and the families it defaults, the lists it trims on a
    downgrade) and returns the errors; the caller refuses the request when there are
    any. The steps are numbered as in the spec's pseudocode.
    """
    svc_type = spec.get("type")
    if svc_type == _EXTERNAL_NAME:  # 1
        return []
    ips: list[str] = spec.get("clusterIPs") or []
    families: list[str] = spec.get("ipFamilies") or []
    policy = spec.get("ipFamilyPolicy")
    if (  # 2: the PreferDualStack freeze
        old is not None
        and policy == _PREFER
        and svc_type == old.get("type")
        and svc_type in _HEADFUL_TYPES
        and old.get("ipFamilyPolicy") in (None, _PREFER)
        and ips == list(old.get("clusterIPs") or ())
        and families == list(old.get("ipFamilies") or ())
    ):
        return []
    selectorless = not spec.get("selector")
    headless = spec.get("clusterIP") == CLUSTER_IP_NONE
    era = rules.profile.service_rules
    if policy is None:  # 3
        if old is not None and old.get("ipFamilyPolicy") is not None:
            policy = old["ipFamilyPolicy"]
        elif era != "1.23" and (len(families) == 2 or len(ips) == 2):
            policy = _REQUIRE  # 1.20-1.22: two of either meant RequireDualStack (§3.3a)
        elif headless and selectorless:
            policy = _REQUIRE
        else:
            policy = _SINGLE
        spec["ipFamilyPolicy"] = policy
    errs = validate_cluster_ips_related_fields(spec, rules, old)  # 4
    if errs:
        return errs
    if old is not None:  # 5
        old_ips = list(old.get("clusterIPs") or ())
        old_families = list(old.get("ipFamilies") or ())
        if policy == _SINGLE:
            if ips == old_ips and len(ips) > 1:
                ips = spec["clusterIPs"] = ips[:1]
            if families == old_families and len(families) > 1:
                families = spec["ipFamilies"] = families[:1]
        else:
            if ips and len(ips) < len(old_ips):
                errs.append(
                    FieldError(
                        _INVALID,
                        "spec.ipFamilyPolicy",
                        policy,
                        "must be 'SingleStack' to release the secondary cluster IP",
                    )
                )
            if families and len(families) < len(old_families):
                errs.append(
                    FieldError(
                        _INVALID,
                        "spec.ipFamilyPolicy",
                        policy,
                        "must be 'SingleStack' to release the secondary IP family",
                    )
                )
    if policy == _SINGLE:  # 6
        if len(ips) == 2:
            errs.append(
                FieldError(_INVALID, "spec.ipFamilyPolicy", policy, _messages(rules).multi_ip)
            )
        if len(families) == 2:
            errs.append(
                FieldError(_INVALID, "spec.ipFamilyPolicy", policy, _messages(rules).multi_fam)
            )
        if errs and era == "1.20":
            # 1.20's tryDefaultValidateServiceClusterIPFields answered these alone,
            # before looking at the families of the addresses.
            return errs
    configured = rules.families
    for i, ip in enumerate(ips):  # 7
        if ip == CLUSTER_IP_NONE:
            break
        ip_family = _family_of_text(ip)
        if i >= len(families):
            if ip_family not in configured:
                errs.append(
                    FieldError(
                        _INVALID,
                        f"spec.clusterIPs[{i}]",
                        ips,
                        _messages(rules).ip_fam_not_configured(ip_family),
                    )
                )
            else:
                families.append(ip_family.value)
    if errs:  # 8
        return errs
    if families:
        spec["ipFamilies"] = families
    dual_stack_cluster = len(configured) == 2
    if headless and selectorless:  # 9: not checked against the cluster
        if not families:
            families.append(_NAME_OF[configured[0]])
        # 1.20 gave a PreferDualStack headless Service one family on a single-stack
        # cluster; 1.21 made it two (kubernetes/kubernetes#99555, §3.3a).
        prefer_single = era == "1.20" and policy == _PREFER and not dual_stack_cluster
        if len(families) < 2 and policy != _SINGLE and not prefer_single:
            families.append(_OTHER_NAME[families[0]])
        spec["ipFamilies"] = families
        return []
    if policy == _REQUIRE and not dual_stack_cluster:  # 10
        errs.append(FieldError(_INVALID, "spec.ipFamilyPolicy", policy, _messages(rules).not_dual))
    for i, fam in enumerate(families):  # 11
        if _FAMILY_BY_NAME[fam] not in configured:
            texts = _messages(rules)
            value: object = (
                spec.get("clusterIPs") if texts.fam_not_configured_value_is_ips else fam
            )
            go_type = "[]string" if texts.fam_not_configured_value_is_ips else None
            errs.append(
                FieldError(
                    _INVALID,
                    f"spec.ipFamilies[{i}]",
                    value,
                    texts.fam_not_configured(fam),
                    go_type=go_type,
                )
            )
    if errs:  # 12
        return errs
    if not families:  # 13
        families.append(_NAME_OF[configured[0]])
    if policy != _SINGLE and len(families) == 1 and dual_stack_cluster:  # 14
        families.append(_OTHER_NAME[families[0]])
    spec["ipFamilies"] = families
    return []


# --------------------------------------------------------------------------------------
# ValidateService / ValidateServiceUpdate (§3.4) — the type rules and the update rules
# --------------------------------------------------------------------------------------
def _validate_meta(obj: Mapping[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    meta = obj["metadata"]
    name = meta["name"]
    if len(name) > 63:
        errs.append(
            FieldError(_INVALID, "metadata.name", name, "must be no more than 63 characters")
        )
    if not _DNS1035_RE.fullmatch(name):
        errs.append(FieldError(_INVALID, "metadata.name", name, _DNS1035_DETAIL))
    errs.extend(_namespace_errors(meta["namespace"]))
    return errs


@_functools.lru_cache(maxsize=256)
def _namespace_errors(namespace: str) -> tuple[FieldError, ...]:
    """The namespace checks of ``ValidateObjectMeta`` (cached: a few namespaces recur)."""
    errs: list[FieldError] = []
    if len(namespace) > 63:
        errs.append(
            FieldError(
                _INVALID, "metadata.namespace", namespace, "must be no more than 63 characters"
            )
        )
    if not _DNS1123_LABEL_RE.fullmatch(namespace):
        errs.append(FieldError(_INVALID, "metadata.namespace", namespace, _DNS1123_LABEL_DETAIL))
    return tuple(errs)


def _validate_ports(spec: Mapping[str, Any], rules: _ReleaseRules) -> list[FieldError]:
    """``validateServicePort`` of each port: name, number, protocol, ``targetPort``."""
    errs: list[FieldError] = []
    ports = spec.get("ports") or []
    several = len(ports) > 1
    names: set[str] = set()
    # The paths ("spec.ports[i]...") are built only for an error: this runs on every
    # create and update (benchmarks/bench_services.py).
    for i, port in enumerate(ports):
        name = port.get("name") or ""
        if several and not name:
            errs.append(FieldError(_REQUIRED, f"spec.ports[{i}].name"))
        elif name:
            if not _DNS1123_LABEL_RE.fullmatch(name):
                errs.append(
                    FieldError(_INVALID, f"spec.ports[{i}].name", name, _DNS1123_LABEL_DETAIL)
                )
            if name in names:
                errs.append(FieldError(_DUPLICATE, f"spec.ports[{i}].name", name))
            names.add(name)
        number = port.get("port", 0)
        if not 1 <= number <= 65535:
            errs.append(FieldError(_INVALID, f"spec.ports[{i}].port", number, _PORT_DETAIL))
        protocol = port.get("protocol", "")
        if protocol not in _PROTOCOLS:
            errs.append(
                FieldError(
                    _NOT_SUPPORTED,
                    f"spec.ports[{i}].protocol",
                    protocol,
                    'supported values: "SCTP", "TCP", "UDP"',
                )
            )
        target = port.get("targetPort")
        if type(target) is not int or not 0 < target <= 65535:  # (the usual port skips)
            errs.extend(_target_port_errors(i, target, number, rules))
        app = port.get("appProtocol")
        if app is not None and rules.app_protocol_checked:  # (upstream: a nil pointer)
            errs.extend(
                FieldError(_INVALID, f"spec.ports[{i}].appProtocol", app, m)
                for m in _label_key_errors(app)
            )
    return errs


def _target_port_errors(
    i: int, target: object, number: object, rules: _ReleaseRules
) -> list[FieldError]:
    """``ValidatePortNumOrName`` of ``spec.ports[i].targetPort``."""
    if target is None or target == 0 or target == "":
        target = number  # what v1 defaulting makes of it (objects not defaulted here)
    path = f"spec.ports[{i}].targetPort"
    if type(target) is int:
        return [] if 1 <= target <= 65535 else [FieldError(_INVALID, path, target, _PORT_DETAIL)]
    if isinstance(target, str):
        return [FieldError(_INVALID, path, target, m) for m in _port_name_errors(target, rules)]
    return []


def _kubelet_port_errors(spec: Mapping[str, Any], rules: _ReleaseRules) -> list[FieldError]:
    """Up to 1.32, a LoadBalancer may not expose the kubelet's port (in the type switch)."""
    if not rules.kubelet_port or spec.get("type") != "LoadBalancer":
        return []
    return [
        FieldError(
            _INVALID,
            f"spec.ports[{i}]",
            _KUBELET_PORT,
            f"may not expose port {_KUBELET_PORT} externally since it is used by kubelet",
        )
        for i, port in enumerate(spec.get("ports") or ())
        if port.get("port") == _KUBELET_PORT
    ]


def _port_tail_errors(spec: Mapping[str, Any], rules: _ReleaseRules) -> list[FieldError]:
    """After ``spec.type``: nodePort on ClusterIP, duplicate nodePorts, duplicate ports."""
    ports: Sequence[Mapping[str, Any]] = spec.get("ports") or ()
    if len(ports) == 1 and not ports[0].get("nodePort"):
        return []  # (the common case: nothing to refuse)
    errs: list[FieldError] = []
    if spec.get("type") == "ClusterIP":
        errs.extend(
            FieldError(_FORBIDDEN, f"spec.ports[{i}].nodePort", None, _NODE_PORT_ON_CLUSTER_IP)
            for i, port in enumerate(ports)
            if port.get("nodePort")
        )
    if len(ports) < 2:
        return errs
    node_ports: set[tuple[object, object]] = set()
    for i, port in enumerate(ports):
        node_port = port.get("nodePort")
        if node_port:
            key = (port.get("protocol", ""), node_port)
            if key in node_ports:
                errs.append(FieldError(_DUPLICATE, f"spec.ports[{i}].nodePort", node_port))
            node_ports.add(key)
    seen: set[tuple[object, object]] = set()
    for i, port in enumerate(ports):
        protocol, number = port.get("protocol", ""), port.get("port", 0)
        if (protocol, number) in seen:
            errs.append(
                _GoValueError(
                    _DUPLICATE, f"spec.ports[{i}]", _service_port_key(protocol, number, rules)
                )
            )
        seen.add((protocol, number))
    return errs


_NODE_PORT_ON_CLUSTER_IP: Final = "may not be used when `type` is 'ClusterIP'"


def _validate_external_name(spec: Mapping[str, Any]) -> list[FieldError]:
    cname = (spec.get("externalName") or "").removesuffix(".")
    if not cname:
        return [FieldError(_REQUIRED, "spec.externalName")]
    errs: list[FieldError] = []
    if len(cname) > 253:
        errs.append(
            FieldError(_INVALID, "spec.externalName", cname, "must be no more than 253 characters")
        )
    if not _DNS1123_SUBDOMAIN_RE.fullmatch(cname):
        errs.append(FieldError(_INVALID, "spec.externalName", cname, _DNS1123_SUBDOMAIN_DETAIL))
    return errs


def _affinity_timeout_errors(spec: Mapping[str, Any]) -> list[FieldError]:
    """``validateAffinityTimeout``: 1 to 86400 seconds (``ClientIP`` affinity).

    v1 defaulting has filled ``sessionAffinityConfig.clientIP.timeoutSeconds`` (so
    upstream's "Required value" errors cannot happen); read defensively all the same.
    """
    config = spec.get("sessionAffinityConfig")
    client_ip = config.get("clientIP") if isinstance(config, Mapping) else None
    timeout = client_ip.get("timeoutSeconds") if isinstance(client_ip, Mapping) else None
    if type(timeout) is not int or 0 < timeout <= _MAX_AFFINITY_SECONDS:
        return []
    return [
        FieldError(
            _INVALID,
            "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
            timeout,
            f"must be greater than 0 and less than {_MAX_AFFINITY_SECONDS}",
        )
    ]


_MAX_AFFINITY_SECONDS: Final = 86400
"""``core.MaxClientIPServiceAffinitySeconds`` (one day)."""


def _validate_common_tail(
    spec: Mapping[str, Any], cluster_ip_errors: Iterable[FieldError], port_rules: _ReleaseRules
) -> list[FieldError]:
    """``ValidateService`` from the ports on, in upstream's order."""
    errs = _validate_ports(spec, port_rules)
    selector = spec.get("selector")
    if selector:
        errs.extend(_selector_errors(selector))
    affinity = spec.get("sessionAffinity", "")
    if affinity not in _SESSION_AFFINITIES:
        errs.append(
            FieldError(
                _NOT_SUPPORTED,
                "spec.sessionAffinity",
                affinity,
                'supported values: "ClientIP", "None"',
            )
        )
    elif affinity == "ClientIP":
        errs.extend(_affinity_timeout_errors(spec))
    errs.extend(cluster_ip_errors)  # where ValidateService checks the dual-stack fields
    svc_type = spec.get("type", "")
    if svc_type not in SERVICE_TYPES:
        errs.append(
            FieldError(
                _NOT_SUPPORTED,
                "spec.type",
                svc_type,
                'supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"',
            )
        )
    errs.extend(_port_tail_errors(spec, port_rules))
    return errs


def validate_service(
    obj: Mapping[str, Any], rules: ServiceRules, *, with_cluster_ips: bool = False
) -> list[FieldError]:
    """``ValidateService`` (GA API): metadata, ports, the type rules, affinity, type (§3.4).

    The dual-stack field checks (``ValidateServiceClusterIPsRelatedFields``) normally
    already ran inside ``init_ip_family_fields`` and are not repeated;
    ``with_cluster_ips=True`` includes them where ``ValidateService`` makes them (after
    ``sessionAffinity``), for the 1.20-1.22 create path that validates first. For
    ExternalName they are replaced by the "may not be set" rules here.
    """
    spec = obj["spec"]
    errs = _validate_meta(obj)
    headless = _is_headless(spec)
    svc_type = spec.get("type")
    if not spec.get("ports") and not headless and svc_type != _EXTERNAL_NAME:
        errs.append(FieldError(_REQUIRED, "spec.ports"))
    port_rules = _release_rules(rules.profile)
    if svc_type == "LoadBalancer":
        errs.extend(_kubelet_port_errors(spec, port_rules))
    if svc_type in ("LoadBalancer", "NodePort") and headless:
        errs.append(
            FieldError(
                _INVALID,
                "spec.clusterIPs[0]",
                CLUSTER_IP_NONE,
                f"may not be set to 'None' for {svc_type} services",
            )
        )
    elif svc_type == _EXTERNAL_NAME:
        for key in ("clusterIPs", "ipFamilies"):
            if spec.get(key):
                errs.append(
                    FieldError(
                        _FORBIDDEN, f"spec.{key}", None, "may not be set for ExternalName services"
                    )
                )
        if spec.get("ipFamilyPolicy") is not None:
            errs.append(
                FieldError(
                    _FORBIDDEN,
                    "spec.ipFamilyPolicy",
                    None,
                    "may not be set for ExternalName services",
                )
            )
        errs.extend(_validate_external_name(spec))
    cluster_ip_errors = (
        validate_cluster_ips_related_fields(spec, rules) if with_cluster_ips else ()
    )
    errs.extend(_validate_common_tail(spec, cluster_ip_errors, port_rules))
    return errs


def _upgrade_downgrade_cluster_ips(
    spec: Mapping[str, Any], old: Mapping[str, Any], request_ips: object
) -> list[FieldError]:
    """``validateUpgradeDowngradeClusterIPs`` (§3.4)."""
    if spec.get("type") == _EXTERNAL_NAME or old.get("type") == _EXTERNAL_NAME:
        return []
    if _is_headless(spec) and _is_headless(old):
        return []
    errs: list[FieldError] = []
    new_ips: list[str] = spec.get("clusterIPs") or []
    old_ips: list[str] = old.get("clusterIPs") or []
    if len(old_ips) == len(new_ips):
        for i, ip in enumerate(old_ips):
            if ip != new_ips[i]:
                errs.append(
                    FieldError(
                        _INVALID, f"spec.clusterIPs[{i}]", new_ips, "may not change once set"
                    )
                )
    elif len(old_ips) > len(new_ips):
        if not new_ips:
            errs.append(
                FieldError(
                    _INVALID,
                    "spec.clusterIPs[0]",
                    request_ips,
                    "primary clusterIP can not be unset",
                    go_type="[]string",  # an absent list is Go's nil slice
                )
            )
        if old_ips and new_ips and new_ips[0] != old_ips[0]:
            errs.append(
                FieldError(_INVALID, "spec.clusterIPs[0]", new_ips, "may not change once set")
            )
        if len(new_ips) == 1 and spec.get("ipFamilyPolicy") != _SINGLE:
            errs.append(
                FieldError(
                    _INVALID,
                    "spec.ipFamilyPolicy",
                    spec.get("ipFamilyPolicy"),
                    "must be set to 'SingleStack' when releasing the secondary clusterIP",
                )
            )
    elif old_ips and new_ips[0] != old_ips[0]:
        errs.append(FieldError(_INVALID, "spec.clusterIPs[0]", new_ips, "may not change once set"))
    return errs


def _upgrade_downgrade_families(
    spec: Mapping[str, Any], old: Mapping[str, Any]
) -> list[FieldError]:
    """``validateUpgradeDowngradeIPFamilies`` (§3.4), quirks included."""
    if spec.get("type") == _EXTERNAL_NAME or old.get("type") == _EXTERNAL_NAME:
        return []
    new_headless = _is_headless(spec)
    if new_headless != _is_headless(old) or new_headless:
        return []
    errs: list[FieldError] = []
    new_fams: list[str] = spec.get("ipFamilies") or []
    old_fams: list[str] = old.get("ipFamilies") or []
    new_ips: list[str] = spec.get("clusterIPs") or []
    if len(old_fams) == len(new_fams):
        for i, fam in enumerate(old_fams):
            if fam != new_fams[i]:
                # upstream quirk: the path is always [0]
                errs.append(
                    FieldError(
                        _INVALID,
                        "spec.ipFamilies[0]",
                        new_fams,
                        "may not change once set",
                        go_type=_FAMILY_SLICE,
                    )
                )
    elif len(old_fams) > len(new_fams):
        if not new_ips:  # upstream quirk: tests clusterIPs, not ipFamilies
            errs.append(
                FieldError(
                    _INVALID,
                    "spec.ipFamilies[0]",
                    new_fams,
                    "primary ipFamily can not be unset",
                    go_type=_FAMILY_SLICE,
                )
            )
        if old_fams and new_fams and new_fams[0] != old_fams[0]:
            errs.append(
                FieldError(_INVALID, "spec.ipFamilies[0]", new_ips, "may not change once set")
            )
        if len(new_fams) == 1 and spec.get("ipFamilyPolicy") != _SINGLE:
            errs.append(
                FieldError(
                    _INVALID,
                    "spec.ipFamilyPolicy",
                    spec.get("ipFamilyPolicy"),
                    "must be set to 'SingleStack' when releasing the secondary ipFamily",
                )
            )
    elif old_fams and new_fams[0] != old_fams[0]:
        errs.append(FieldError(_INVALID, "spec.ipFamilies[0]", new_ips, "may not change once set"))
    return errs


def validate_service_update(
    obj: Mapping[str, Any],
    old: Mapping[str, Any],
    rules: ServiceRules,
    *,
    request_ips: object = None,
) -> list[FieldError]:
    """``ValidateServiceUpdate`` (GA API): upgrade/downgrade rules, then ``ValidateService``.

    ``request_ips`` is the request's own ``clusterIPs`` (``None`` when absent), printed
    by the nearly unreachable "primary clusterIP can not be unset" error.
    """
    spec = obj["spec"]
    old_spec = old["spec"]
    errs = _upgrade_downgrade_cluster_ips(spec, old_spec, request_ips)
    errs.extend(_upgrade_downgrade_families(spec, old_spec))
    errs.extend(validate_service(obj, rules))
    return errs


def drop_type_dependent_fields(
    spec: dict[str, Any], old: Mapping[str, Any], rules: ServiceRules | None = None
) -> None:
    """strategy ``dropTypeDependentFields``: wipe what the new ``type`` does not use (§3.6).

    On a change to ExternalName, the IP fields the user left as stored are wiped (the
    old addresses are released after the update commits). With ``rules`` (1.20 and
    later; the GA API) also, leaving NodePort/LoadBalancer, every port's ``nodePort``
    when the request adds no node port the stored object lacks, and leaving a
    LoadBalancer with ``externalTrafficPolicy: Local``, an unchanged
    ``healthCheckNodePort``; from 1.21, leaving LoadBalancer, an unchanged
    ``allocateLoadBalancerNodePorts`` and ``loadBalancerClass``. Fields the user changed
    are left for validation to refuse. This runs before ``ValidateService``, so a
    ``kubectl edit`` of ``type: NodePort`` to ``ClusterIP`` is accepted.
    """
    if _needs_cluster_ip(old) and not _needs_cluster_ip(spec):
        if spec.get("clusterIP", "") == old.get("clusterIP", "") and list(
            spec.get("clusterIPs") or ()
        ) == list(old.get("clusterIPs") or ()):
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
        if list(spec.get("ipFamilies") or ()) == list(old.get("ipFamilies") or ()):
            spec.pop("ipFamilies", None)
        if spec.get("ipFamilyPolicy") == old.get("ipFamilyPolicy"):
            spec.pop("ipFamilyPolicy", None)
    if rules is None:
        return
    release = _release_rules(rules.profile)
    if release.wipe_node_ports:
        _drop_node_ports(spec, old)
    if release.wipe_lb_fields and old.get("type") == "LoadBalancer":
        new_type = spec.get("type")
        if new_type != "LoadBalancer":
            # (both set and equal: upstream compares the two pointers' values)
            keep = spec.get("allocateLoadBalancerNodePorts")
            if keep is not None and keep == old.get("allocateLoadBalancerNodePorts"):
                del spec["allocateLoadBalancerNodePorts"]
            if spec.get("loadBalancerClass") == old.get("loadBalancerClass"):
                spec.pop("loadBalancerClass", None)


def _uses_node_ports(spec: Mapping[str, Any]) -> bool:
    return spec.get("type") in ("NodePort", "LoadBalancer")


def _uses_health_check_port(spec: Mapping[str, Any]) -> bool:
    return spec.get("type") == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"


def _drop_node_ports(spec: dict[str, Any], old: Mapping[str, Any]) -> None:
    """The node-port part of ``dropTypeDependentFields`` (1.20+)."""
    if _uses_node_ports(old) and not _uses_node_ports(spec):
        old_ports = {p.get("nodePort") for p in old.get("ports") or () if isinstance(p, dict)}
        ports = [p for p in spec.get("ports") or () if isinstance(p, dict)]
        # The user may edit, add or remove ports, but not ask for a node port the stored
        # object did not have (then validation refuses the ``nodePort``).
        if all(not p.get("nodePort") or p["nodePort"] in old_ports for p in ports):
            for port in ports:
                port.pop("nodePort", None)
    if (
        _uses_health_check_port(old)
        and not _uses_health_check_port(spec)
        and spec.get("healthCheckNodePort") == old.get("healthCheckNodePort")
    ):
        spec.pop("healthCheckNodePort", None)


def default_on_read(obj: Manifest, rules: ServiceRules) -> None:
    """``defaultOnRead`` for Services stored before 1.20 (§3.8); a no-op for others.

    ``clusterIPs`` is synthesised from ``clusterIP``; when ``ipFamilies`` is empty and
    the type is not ExternalName: headless without selector -> RequireDualStack with both
    families (primary first); headless with selector -> SingleStack, the primary;
    otherwise the families of the addresses, SingleStack for one, RequireDualStack for
    two. ExternalName Services lose ``internalTrafficPolicy``.
    """
    spec = obj["spec"]
    if spec.get("clusterIP") and not spec.get("clusterIPs"):
        spec["clusterIPs"] = [spec["clusterIP"]]
    if spec.get("type") == _EXTERNAL_NAME:
        spec.pop("internalTrafficPolicy", None)
        return
    if spec.get("ipFamilies"):
        return
    primary = rules.default_family
    if spec.get("clusterIP") == CLUSTER_IP_NONE:
        if not spec.get("selector"):
            spec["ipFamilyPolicy"] = _REQUIRE
            spec["ipFamilies"] = [primary.value, primary.other.value]
        else:
            spec["ipFamilyPolicy"] = _SINGLE
            spec["ipFamilies"] = [primary.value]
        return
    ips = spec.get("clusterIPs") or []
    if ips:
        spec["ipFamilies"] = [_family_of_text(ip).value for ip in ips]
        spec["ipFamilyPolicy"] = _SINGLE if len(ips) == 1 else _REQUIRE


# --------------------------------------------------------------------------------------
# Warnings (§3.9)
# --------------------------------------------------------------------------------------
def _go_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _embedded_leading_zero(ip: str) -> bool:
    dotted = ip.rpartition(":")[2]
    return any(len(p) > 1 and p.startswith("0") for p in dotted.split("."))


def ip_warnings(
    spec: Mapping[str, Any], rules: ServiceRules, *, canonical: Iterable[str] = ()
) -> list[str]:
    """The API server's warnings for the ``clusterIPs`` of a stored Service (§3.9).

    1.27-1.32: IPv4 octets with leading zeros, also in an IPv6 text's embedded dotted
    quad ("will be invalid in a future Kubernetes release", with Go 1.22's
    ``netip.ParseAddr`` error) and IPv6 not in RFC 5952 form; 1.33+: the KEP-4858
    texts, which also name IPv4-mapped IPv6. None before 1.27. Addresses in
    ``canonical`` (the ones the allocator just drew, in Go's form) are skipped.
    """
    style = rules.profile.ip_warnings
    if style is None or spec.get("clusterIP") in (None, "", CLUSTER_IP_NONE):
        return []
    out: list[str] = []
    skip = set(canonical)
    for i, ip in enumerate(spec.get("clusterIPs") or ()):
        if ip in skip:
            continue
        path = f"spec.clusterIPs[{i}]"
        try:
            value, family = parse_ip(ip)
        except DualStackError:
            continue
        leading_zero = ":" not in ip and any(
            len(p) > 1 and p.startswith("0") for p in ip.split(".")
        )
        mapped = ":" in ip and family is IPFamily.IPv4
        canonical = format_ip(value, family)
        if style == "legacy":
            # Any text netip.ParseAddr refuses is warned about with its error; of what
            # ParseIPSloppy accepts, that is a leading-zero octet, also inside an IPv6
            # text's embedded dotted quad (Go 1.22+ wording for both, see the docs).
            if leading_zero or (":" in ip and "." in ip and _embedded_leading_zero(ip)):
                out.append(
                    f"{path}: IP address was accepted, but will be invalid in a future "
                    f"Kubernetes release: ParseAddr({_go_quote(ip)}): IPv4 field has "
                    "octet with leading zero"
                )
            elif family is IPFamily.IPv6 or mapped:
                # netip keeps an IPv4-mapped address in its "::ffff:a.b.c.d" form
                go_text = "::ffff:" + canonical if mapped else canonical
                if go_text != ip:
                    out.append(
                        f"{path}: IPv6 address {_go_quote(ip)} is not in RFC 5952 canonical "
                        f"format ({_go_quote(go_text)}), which may cause controller "
                        "apply-loops"
                    )
        elif leading_zero or mapped:
            out.append(
                f"{path}: non-standard IP address {_go_quote(ip)} will be considered "
                f"invalid in a future Kubernetes release: use {_go_quote(canonical)}"
            )
        elif family is IPFamily.IPv6 and canonical != ip:
            out.append(
                f"{path}: IPv6 address {_go_quote(ip)} should be in RFC 5952 canonical "
                f"format ({_go_quote(canonical)})"
            )
    return out


# --------------------------------------------------------------------------------------
# Allocation (§3.5) with all-or-nothing semantics
# --------------------------------------------------------------------------------------
class _Txn:
    """The addresses one call has allocated, so that a failure can give them back.

    Dynamic requests are checked (``free > 0``) in request order together with the
    specific ones, but drawn only by ``draw()``, once the caller knows nothing else can
    fail; when a later check can still fail, the caller saves the generators first
    (``save_rngs``) and ``rollback()`` restores them.
    """

    __slots__ = ("_allocators", "_done", "_pending", "_rngs", "_saved", "values")

    def __init__(
        self,
        allocators: Mapping[IPFamily, ServiceIPAllocatorLike],
        rngs: Mapping[IPFamily, _random.Random] | None,
    ) -> None:
        self._allocators = allocators
        self._rngs = rngs
        self._done: list[tuple[IPFamily, str]] = []
        self._pending: list[tuple[int, IPFamily]] = []
        self._saved: list[tuple[_random.Random, object]] = []
        self.values: list[tuple[IPFamily, int]] = []

    def reserve(
        self,
        name: str,
        requests: Sequence[tuple[int, IPFamily, str]],
        shown: list[str],
        rules: ServiceRules,
        path: str = "spec.clusterIPs",
        alpha: bool = False,
    ) -> None:
        """Take every specific address and check every dynamic one, in request order."""
        for _index, family, ip in requests:
            allocator = self._allocators[family]
            if ip:
                try:
                    taken = allocator.allocate(ip)
                except AllocationError as err:
                    self.rollback()
                    if alpha:
                        raise _invalid(
                            name, [FieldError(_INVALID, path, ip, err.message)], hint=err.hint
                        ) from None
                    raise _invalid(
                        name,
                        [
                            FieldError(
                                _INVALID,
                                path,
                                list(shown),
                                _messages(rules).alloc_failed(ip, err.message),
                            )
                        ],
                        hint=err.hint,
                    ) from None
                self._done.append((family, ip))
                self.values.append((family, int(taken)))  # type: ignore[call-overload]
            elif allocator.free <= 0:
                self.rollback()
                raise RangeFullError(
                    "Internal error occurred: failed to allocate a serviceIP: range is full",
                    hint=f"every {family.value} Service address of the cluster is allocated; "
                    "delete a Service or use a larger --service-cluster-ip-range",
                )
            else:
                self._pending.append((_index, family))

    def save_rngs(self) -> None:
        """Remember the generators' states before drawing (for ``rollback``)."""
        if self._rngs is not None and not self._saved:
            self._saved = [(rng, rng.getstate()) for rng in self._rngs.values()]

    def draw(self) -> list[tuple[int, str]]:
        """Allocate the pending dynamic requests; returns ``(index, ip)`` pairs."""
        out: list[tuple[int, str]] = []
        for index, family in self._pending:
            value = self._allocators[family].allocate_next_int()
            ip = _format_drawn(value, family)
            self._done.append((family, ip))
            self.values.append((family, value))
            out.append((index, ip))
        self._pending = []
        return out

    def rollback(self) -> None:
        """Release everything this call allocated and restore the generators."""
        for family, ip in reversed(self._done):
            self._allocators[family].release(ip)
        self._done = []
        self._pending = []
        self.values = []
        for rng, state in self._saved:
            rng.setstate(state)  # type: ignore[arg-type]
        self._saved = []


def _ga_requests(
    spec: Mapping[str, Any], families: Sequence[str]
) -> tuple[list[tuple[int, IPFamily, str]], list[str]]:
    """``allocClusterIPs``: one request per family, ``""`` meaning "pick one" (§3.5)."""
    ips = list(spec.get("clusterIPs") or ())
    while len(ips) < len(families):
        ips.append("")
    return [(i, _FAMILY_BY_NAME[fam], ips[i]) for i, fam in enumerate(families)], ips


def _finish_ips(
    spec: dict[str, Any], shown: list[str], drawn: Iterable[tuple[int, str]], out: list[str]
) -> None:
    for index, ip in drawn:
        shown[index] = ip
        out.append(ip)
    spec["clusterIPs"] = shown
    spec["clusterIP"] = shown[0]


# --------------------------------------------------------------------------------------
# The whole pipeline
# --------------------------------------------------------------------------------------
def _omit_empty(spec: dict[str, Any]) -> None:
    """Drop empty IP fields, as the API's JSON (``omitempty``) never shows them."""
    for key in ("clusterIP", "clusterIPs", "ipFamilies"):
        if key in spec and not spec[key]:
            del spec[key]


def _drop_ga_only(spec: dict[str, Any]) -> None:
    for key in ("clusterIPs", "ipFamilies", "ipFamilyPolicy"):
        spec.pop(key, None)


def create_service(
    manifest: object,
    rules: ServiceRules,
    allocators: Mapping[IPFamily, ServiceIPAllocatorLike],
    *,
    rngs: Mapping[IPFamily, _random.Random] | None = None,
) -> ServiceOutcome:
    """kube-apiserver's create of a Service: the stored object, addresses allocated.

    Args:
        manifest: the Service as ``yaml.safe_load`` gives it (never mutated).
        rules: the cluster's families, release and gates.
        allocators: one ``ServiceIPAllocator`` per configured family.
        rngs: the allocators' generators (restored when a call fails after drawing).

    Returns:
        The object to store, with ``clusterIP(s)``, ``ipFamilies`` and
        ``ipFamilyPolicy`` (or ``ipFamily`` under the alpha API) filled in.

    Raises:
        InvalidServiceError: kube-apiserver's 422, rendered as upstream renders it.
        RangeFullError: ``Internal error occurred: failed to allocate a serviceIP: range is full``.
    """
    return create_checked(check_manifest(manifest), rules, allocators, rngs=rngs)


def create_checked(
    obj: Manifest,
    rules: ServiceRules,
    allocators: Mapping[IPFamily, ServiceIPAllocatorLike],
    *,
    rngs: Mapping[IPFamily, _random.Random] | None = None,
    exists: bool = False,
) -> ServiceOutcome:
    """``create_service`` for a manifest ``check_manifest`` returned (the caller's copy,
    which this call takes over and changes).

    ``exists=True`` (the caller stores a Service of that name already) answers
    ``AlreadyExistsError`` where kube-apiserver's storage would: only for a request
    that passes defaulting, allocation and validation — a 422 or the range-full 500
    comes first (the generic registry's ``Store.Create`` allocates and validates before
    it writes to etcd, which is what refuses the name). Nothing is allocated or drawn.
    """
    if rules.profile.service_api == "alpha":
        return _alpha_create(obj, rules, allocators, exists)
    return _ga_write(obj, None, rules, allocators, rngs, exists)


def _already_exists(obj: Manifest) -> AlreadyExistsError:
    meta = obj["metadata"]
    name, namespace = meta["name"], meta["namespace"]
    return AlreadyExistsError(
        f'services "{name}" already exists',
        hint=f"update_service() changes it; delete_service({name!r}, "
        f"namespace={namespace!r}) removes it",
    )


def update_service(
    manifest: object,
    stored: Manifest,
    rules: ServiceRules,
    allocators: Mapping[IPFamily, ServiceIPAllocatorLike],
    *,
    rngs: Mapping[IPFamily, _random.Random] | None = None,
) -> ServiceOutcome:
    """kube-apiserver's update (PUT) of a Service over the ``stored`` object (§3.6).

    The returned ``release`` pairs must be released by the caller once it has stored
    the new object.

    Raises:
        InvalidServiceError: kube-apiserver's 422.
        RangeFullError: the upgrade needs an address of a full range.
    """
    return update_checked(check_manifest(manifest), stored, rules, allocators, rngs=rngs)


def update_checked(
    obj: Manifest,
    stored: Manifest,
    rules: ServiceRules,
    allocators: Mapping[IPFamily, ServiceIPAllocatorLike],
    *,
    rngs: Mapping[IPFamily, _random.Random] | None = None,
) -> ServiceOutcome:
    """``update_service`` for a manifest ``check_manifest`` returned (taken over)."""
    old = _copy(stored)
    if rules.profile.service_api == "alpha":
        return _alpha_update(obj, old, rules, allocators)
    if rules.dual_stack or _dual_stack_fields_in_use(old["spec"]):
        default_on_read(old, rules)
    elif old["spec"].get("clusterIP") and not old["spec"].get("clusterIPs"):
        # Without IPv6DualStack a stored object that uses no dual-stack field keeps
        # none: only the plural clusterIPs is synthesised, so the update below drops
        # the fields as on create instead of upgrading the Service (§3.3a).
        old["spec"]["clusterIPs"] = [old["spec"]["clusterIP"]]
    return _ga_write(obj, old, rules, allocators, rngs)


def _dual_stack_fields_in_use(spec: Mapping[str, Any]) -> bool:
    """strategy ``serviceDualStackFieldsInUse``: a policy, families or two clusterIPs."""
    return (
        spec.get("ipFamilyPolicy") is not None
        or bool(spec.get("ipFamilies"))
        or len(spec.get("clusterIPs") or ()) > 1
    )


def service_addresses(stored: Mapping[str, Any]) -> list[tuple[IPFamily, str]]:
    """The ``(family, ip)`` pairs a delete releases (§3.7): IPv6 text to IPv6, else IPv4."""
    spec = stored["spec"]
    if spec.get("type") == _EXTERNAL_NAME:
        return []
    ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    return [(_family_of_text(ip), ip) for ip in ips if ip and ip != CLUSTER_IP_NONE]


def _ga_write(
    obj: Manifest,
    old_obj: Manifest | None,
    rules: ServiceRules,
    allocators: Mapping[IPFamily, ServiceIPAllocatorLike],
    rngs: Mapping[IPFamily, _random.Random] | None,
    exists: bool = False,
) -> ServiceOutcome:
    name = obj["metadata"]["name"]
    spec: dict[str, Any] = obj["spec"]
    old = old_obj["spec"] if old_obj is not None else None
    request_ips = list(spec["clusterIPs"]) if "clusterIPs" in spec else None
    typed_ips = request_ips is not None or "clusterIP" in spec or old_obj is not None
    spec.pop("ipFamily", None)  # the alpha field is unknown to the GA API: dropped
    apply_v1_defaults(obj, rules)
    obj["status"] = _copy(old_obj["status"]) if old_obj is not None else {"loadBalancer": {}}
    if old is not None:
        patch_allocated_values(spec, old)
    normalize_cluster_ips(spec, old)
    gate_off = not rules.dual_stack and not (old is not None and _dual_stack_fields_in_use(old))
    if gate_off:
        # dropServiceDisabledFields: without IPv6DualStack the dual-stack fields are
        # dropped and a Service has one address, from the primary range (§3.3a).
        spec.pop("ipFamilies", None)
        spec.pop("ipFamilyPolicy", None)
        if len(spec.get("clusterIPs") or ()) > 1:
            spec["clusterIPs"] = spec["clusterIPs"][:1]
    if old is None and rules.profile.service_rules != "1.23":
        # 1.20-1.22 REST.Create ran BeforeCreate (the strategy's field dropping, then
        # ValidateService with the dual-stack field syntax) before the cluster-dependent
        # family checks and allocation: its errors come first and alone (§3.3a).
        pre = validate_service(obj, rules, with_cluster_ips=True)
        if pre:
            raise _invalid(name, pre)
    if gate_off:
        errs = validate_cluster_ips_related_fields(spec, rules, old)
    else:
        errs = init_ip_family_fields(spec, old, rules)
    if errs:
        raise _invalid(name, errs)
    alloc_families: list[str]
    if not _gets_addresses(spec):
        alloc_families = []
    elif gate_off:
        alloc_families = [rules.default_family.value]
    else:
        alloc_families = spec.get("ipFamilies") or []  # only read below
    if old is None and not spec.get("clusterIPs"):
        # every address is "pick one": no transaction needed (the common create)
        return _ga_create_dynamic(obj, spec, alloc_families, rules, allocators, exists)
    release: list[tuple[IPFamily, str]] = []
    requests: list[tuple[int, IPFamily, str]] = []
    shown: list[str] = []
    if old is None or old.get("type") == _EXTERNAL_NAME:
        if alloc_families:
            requests, shown = _ga_requests(spec, alloc_families)
    elif not _gets_addresses(old):
        # A Service that was headless gets no ClusterIP management on update (alloc.go
        # updateClusterIPs): a request for an address is refused by "may not change
        # once set", never by the allocator.
        pass
    elif not _gets_addresses(spec):
        if spec.get("type") == _EXTERNAL_NAME:
            release = service_addresses(old_obj)  # type: ignore[arg-type]
    else:
        old_families = old.get("ipFamilies") or []
        if len(old_families) == 1 and len(alloc_families) == 2:  # upgrade
            requests, shown = _ga_requests(spec, alloc_families)
            requests = requests[1:]
        elif len(old_families) == 2 and len(alloc_families) == 1:  # downgrade
            old_ips = old.get("clusterIPs") or []
            if len(old_ips) > 1:
                release = [(IPFamily(old_families[1]), old_ips[1])]
    drawn: list[str] = []
    txn = _Txn(allocators, rngs)
    if requests:
        txn.reserve(name, requests, shown, rules)
    if old is None:
        # Nothing ValidateService checks depends on the drawn values: check first,
        # draw afterwards, so a refused create never touches a random generator.
        post = validate_service(obj, rules)
        if post:
            txn.rollback()
            raise _invalid(name, post)
        if exists:
            txn.rollback()
            raise _already_exists(obj)
        if requests:
            _finish_ips(spec, shown, txn.draw(), drawn)
    else:
        if requests:
            txn.save_rngs()
            _finish_ips(spec, shown, txn.draw(), drawn)
        drop_type_dependent_fields(spec, old, rules)
        _drop_external_traffic_policy(spec, old, rules)
        post = validate_service_update(obj, old_obj, rules, request_ips=request_ips)  # type: ignore[arg-type]
        if post:
            txn.rollback()
            raise _invalid(name, post)
    if gate_off:
        spec.pop("ipFamilies", None)
        spec.pop("ipFamilyPolicy", None)
    _omit_empty(spec)
    # Only typed addresses can draw a warning; drawn ones are canonical.
    warnings = tuple(ip_warnings(spec, rules, canonical=drawn)) if typed_ips else ()
    if old is None:
        return ServiceOutcome(obj, (), warnings, tuple(txn.values))
    return ServiceOutcome(obj, tuple(release), warnings)


def _ga_create_dynamic(
    obj: Manifest,
    spec: dict[str, Any],
    family_names: Sequence[str],
    rules: ServiceRules,
    allocators: Mapping[IPFamily, ServiceIPAllocatorLike],
    exists: bool = False,
) -> ServiceOutcome:
    """The create path when every address is "pick one" (the common case).

    Same steps as ``_ga_write`` without the transaction: the ranges are checked, then
    ``ValidateService``, and only then are the addresses drawn, so nothing can fail
    after the first draw (benchmarks/bench_services.py S1).
    """
    families: list[IPFamily] = []
    for name in family_names:  # (one loop: cheaper than a list comprehension first)
        family = _FAMILY_BY_NAME[name]
        families.append(family)
        if allocators[family].free <= 0:
            raise RangeFullError(
                "Internal error occurred: failed to allocate a serviceIP: range is full",
                hint=f"every {family.value} Service address of the cluster is allocated; "
                "delete a Service or use a larger --service-cluster-ip-range",
            )
    post = validate_service(obj, rules)
    if post:
        raise _invalid(obj["metadata"]["name"], post)
    if exists:
        raise _already_exists(obj)
    values: list[tuple[IPFamily, int]] = []
    if families:
        ips: list[str] = []
        for family in families:
            value = allocators[family].allocate_next_int()
            values.append((family, value))
            ips.append(_format_drawn(value, family))
        spec["clusterIPs"] = ips
        spec["clusterIP"] = ips[0]
        # (``ipFamilies`` is set whenever there are families: nothing to omit)
    else:
        _omit_empty(spec)
    # Every address was drawn (canonical): no warning can apply.
    return ServiceOutcome(obj, (), (), tuple(values))


# --------------------------------------------------------------------------------------
# The alpha API of 1.16-1.19 (§3.2)
# --------------------------------------------------------------------------------------
def _alpha_family_default(spec: dict[str, Any], rules: ServiceRules) -> None:
    """v1 defaulting of ``ipFamily`` from a given clusterIP (API defaults, gate on)."""
    cluster_ip = spec.get("clusterIP", "")
    if (
        spec.get("type") != _EXTERNAL_NAME
        and cluster_ip
        and cluster_ip != CLUSTER_IP_NONE
        and spec.get("ipFamily") is None
    ):
        spec["ipFamily"] = _family_of_text(cluster_ip).value


def _validate_alpha_ip_family(
    spec: Mapping[str, Any], old: Mapping[str, Any] | None, rules: ServiceRules
) -> list[FieldError]:
    """``validateIPFamily`` (1.18-1.19, conditional_validation.go), §3.2."""
    family = spec.get("ipFamily")
    old_family = old.get("ipFamily") if old is not None else None
    if old_family is not None and family is not None and old_family == family:
        return []
    if not rules.dual_stack:
        if family is not None:
            if old is not None:
                if family != old_family:
                    return [FieldError(_INVALID, "spec.ipFamily", family, "field is immutable")]
                return []
            return [
                FieldError(
                    _FORBIDDEN,
                    "spec.ipFamily",
                    None,
                    "programmer error, must be cleared when the dual-stack feature gate is off",
                )
            ]
        return []
    if family is None:
        return [
            FieldError(
                _REQUIRED,
                "spec.ipFamily",
                None,
                "programmer error, must be set or defaulted by other fields",
            )
        ]
    errs: list[FieldError] = []
    if old is not None and old_family is not None and spec.get("type") != _EXTERNAL_NAME:
        errs.append(FieldError(_INVALID, "spec.ipFamily", family, "field is immutable"))
    allowed = [f.value for f in rules.families]
    if family in allowed:
        cluster_ip = spec.get("clusterIP", "")
        if _is_ip(cluster_ip):
            got = _family_of_text(cluster_ip)
            if got is IPFamily.IPv6 and family != "IPv6":
                errs.append(
                    FieldError(_INVALID, "spec.ipFamily", family, "does not match IPv6 cluster IP")
                )
            elif got is IPFamily.IPv4 and family != "IPv4":
                errs.append(
                    FieldError(_INVALID, "spec.ipFamily", family, "does not match IPv4 cluster IP")
                )
    else:
        errs.append(
            FieldError(
                _INVALID,
                "spec.ipFamily",
                family,
                f"only the following families are allowed: {', '.join(allowed)}",
            )
        )
    return errs


def _validate_alpha_service(
    obj: Mapping[str, Any], rules: ServiceRules | None = None
) -> list[FieldError]:
    """``ValidateService`` of 1.16-1.19: one ``spec.clusterIP``, its type rules (§3.2)."""
    profile = rules.profile if rules is not None else None
    spec = obj["spec"]
    errs = _validate_meta(obj)
    cluster_ip = spec.get("clusterIP", "")
    svc_type = spec.get("type")
    headless = cluster_ip == CLUSTER_IP_NONE
    if not spec.get("ports") and not headless and svc_type != _EXTERNAL_NAME:
        errs.append(FieldError(_REQUIRED, "spec.ports"))
    errs.extend(_kubelet_port_errors(spec, _release_rules(profile)))
    if svc_type in ("LoadBalancer", "NodePort") and headless:
        errs.append(
            FieldError(
                _INVALID,
                "spec.clusterIP",
                cluster_ip,
                f"may not be set to 'None' for {svc_type} services",
            )
        )
    elif svc_type == _EXTERNAL_NAME:
        if cluster_ip:
            errs.append(
                FieldError(
                    _FORBIDDEN, "spec.clusterIP", None, "must be empty for ExternalName services"
                )
            )
        errs.extend(_validate_external_name(spec))
    cluster_ip_errors = []
    if cluster_ip and not headless and not _is_ip(cluster_ip):
        cluster_ip_errors.append(
            FieldError(
                _INVALID,
                "spec.clusterIP",
                cluster_ip,
                "must be empty, 'None', or a valid IP address",
            )
        )
    errs.extend(_validate_common_tail(spec, cluster_ip_errors, _release_rules(profile)))
    return errs


def _alpha_prepare(obj: Manifest, old: Manifest | None, rules: ServiceRules) -> None:
    spec = obj["spec"]
    _drop_ga_only(spec)
    if not _release_rules(rules.profile).app_protocol_checked:
        _drop_app_protocol(spec, old["spec"] if old is not None else None, rules)
    apply_v1_defaults(obj, rules)
    obj["status"] = _copy(old["status"]) if old is not None else {"loadBalancer": {}}
    old_spec = old["spec"] if old is not None else None
    if rules.dual_stack:
        _alpha_family_default(spec, rules)
        if spec.get("ipFamily") is None:
            if old_spec is not None and old_spec.get("ipFamily") is not None:
                spec["ipFamily"] = old_spec["ipFamily"]
            else:
                spec["ipFamily"] = rules.default_family.value
    elif old_spec is None or old_spec.get("ipFamily") is None:
        # dropServiceDisabledFields: the field is cleared unless already in use
        spec.pop("ipFamily", None)


def _drop_app_protocol(
    spec: dict[str, Any], old: Mapping[str, Any] | None, rules: ServiceRules
) -> None:
    """1.16-1.18: a port's ``appProtocol`` is not stored.

    1.16-1.17's decoder does not know the field; 1.18's ``dropServiceDisabledFields``
    (the ``ServiceAppProtocol`` alpha gate off, its default) keeps it only when the
    stored object already uses it.
    """
    if (
        old is not None
        and _release_rules(rules.profile).app_protocol  # (1.18: the field exists)
        and any(isinstance(p, dict) and "appProtocol" in p for p in old.get("ports") or ())
    ):
        return
    for port in spec.get("ports") or ():
        if isinstance(port, dict):
            port.pop("appProtocol", None)


def _alpha_allocate(
    obj: Manifest,
    rules: ServiceRules,
    allocators: Mapping[IPFamily, ServiceIPAllocatorLike],
    exists: bool = False,
) -> list[tuple[IPFamily, int]]:
    spec = obj["spec"]
    family_name = spec.get("ipFamily")
    family = IPFamily(family_name) if family_name else rules.default_family
    txn = _Txn(allocators, None)
    cluster_ip = spec.get("clusterIP", "")
    txn.reserve(
        obj["metadata"]["name"],
        [(0, family, cluster_ip)],
        [cluster_ip],
        rules,
        path="spec.clusterIP",
        alpha=True,
    )
    if exists:
        txn.rollback()
        raise _already_exists(obj)
    drawn = txn.draw()
    if drawn:
        spec["clusterIP"] = drawn[0][1]
    return txn.values


def _alpha_create(
    obj: Manifest,
    rules: ServiceRules,
    allocators: Mapping[IPFamily, ServiceIPAllocatorLike],
    exists: bool = False,
) -> ServiceOutcome:
    _alpha_prepare(obj, None, rules)
    spec = obj["spec"]
    errs = _validate_alpha_service(obj, rules)
    errs.extend(_validate_alpha_ip_family(spec, None, rules))
    if errs:
        raise _invalid(obj["metadata"]["name"], errs)
    values: list[tuple[IPFamily, int]] = []
    if _gets_addresses(spec):
        values = _alpha_allocate(obj, rules, allocators, exists)
    elif exists:
        raise _already_exists(obj)
    _omit_empty(spec)
    return ServiceOutcome(obj, addresses=tuple(values))


def _alpha_update(
    obj: Manifest,
    old: Manifest,
    rules: ServiceRules,
    allocators: Mapping[IPFamily, ServiceIPAllocatorLike],
) -> ServiceOutcome:
    _alpha_prepare(obj, old, rules)
    spec = obj["spec"]
    old_spec = old["spec"]
    _drop_external_traffic_policy(spec, old_spec, rules)
    errs: list[FieldError] = []
    old_ip = old_spec.get("clusterIP", "")
    if spec.get("type") != _EXTERNAL_NAME and old_spec.get("type") != _EXTERNAL_NAME and old_ip:
        new_ip = spec.get("clusterIP", "")
        if new_ip != old_ip:
            errs.append(FieldError(_INVALID, "spec.clusterIP", new_ip, "field is immutable"))
    errs.extend(_validate_alpha_service(obj, rules))
    errs.extend(_validate_alpha_ip_family(spec, old_spec, rules))
    if errs:
        raise _invalid(obj["metadata"]["name"], errs)
    release: list[tuple[IPFamily, str]] = []
    to_external = old_spec.get("type") != _EXTERNAL_NAME and spec.get("type") == _EXTERNAL_NAME
    from_external = old_spec.get("type") == _EXTERNAL_NAME and spec.get("type") != _EXTERNAL_NAME
    if from_external and _gets_addresses(spec):
        _alpha_allocate(obj, rules, allocators)
    if to_external and old_ip and old_ip != CLUSTER_IP_NONE:
        release.append((_family_of_text(old_ip), old_ip))
    _omit_empty(spec)
    return ServiceOutcome(obj, tuple(release))

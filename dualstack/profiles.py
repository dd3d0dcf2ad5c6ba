"""Profile: the behaviour switches of each Kubernetes release the library models.

Purpose: one frozen value per minor release (1.16 to ``NEWEST``) that says which rules
apply, so that no other module compares version numbers. The release map is
``shared/spec/service-ips.md`` §0.1 (authoritative for both specs); the node-side
markers come from node-and-pod-ips.md §2-§3.

Key types: ``Profile``, ``Profile.for_version(version)``; ``OLDEST`` and ``NEWEST``.

Invariants: profiles are immutable and hashable; ``Profile.for_version(None)`` is the
newest release; a version outside the modelled span raises ``ConfigError``.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from functools import cache
from typing import Final, Literal

from dualstack.errors import ConfigError

__all__ = ["NEWEST", "OLDEST", "Allocator", "Profile", "ServiceAPI"]

OLDEST: Final = 16
"""Oldest modelled minor release: 1.16, the first dual-stack (alpha) release."""
NEWEST: Final = 37
"""Newest modelled minor release: 1.37."""

ServiceAPI = Literal["alpha", "ga"]
Allocator = Literal["bitmap", "multicidr-dualwrite", "multicidr"]

_VERSION_RE: Final = re.compile(r"^v?1\.(\d{1,3})(?:\.\d+)?(?:[-+].*)?$")


@dataclass(frozen=True, slots=True)
class Profile:
    """The behaviour of one Kubernetes minor release.

    Attributes (each cites the spec section that defines it):
        version: ``"1.<minor>"``.
        minor: the minor number.
        service_api: ``"alpha"`` (1.16-1.19, single ``spec.ipFamily``, service-ips §3.2)
            or ``"ga"`` (1.20+, ``ipFamilyPolicy``/``ipFamilies``/``clusterIPs``).
        dual_stack_gate_default: ``IPv6DualStack`` default (off 1.16-1.20, on 1.21+).
        dual_stack_gate_locked: the gate can no longer be turned off (1.23+).
        static_subrange_default: ``ServiceIPStaticSubrange`` default (on from 1.25).
        static_subrange_locked: GA and locked (1.26+).
        allocator: ``"bitmap"`` (1.16-1.32), ``"multicidr-dualwrite"`` (1.33),
            ``"multicidr"`` (1.34+) — service-ips §0.1, §1.12, §1.12a.
        ipv6_service_window: the IPv6 bitmap cap of 65536 addresses, or ``None`` when
            the whole prefix is usable (1.34+).
        service_flag_limits: the 20-host-bit limit on ``--service-cluster-ip-range``
            (up to 1.33; service-ips §2.2).
        min_ipv6_service_prefix: the shortest IPv6 service prefix the allocator accepts
            (64 from 1.33, ``None`` before; service-ips §1.12).
        not_in_range_style: which ``ErrNotInRange`` text the release prints
            (service-ips §1.7): ``"short"`` = ``provided IP is not in the valid range.
            The range of valid IPs is <cidr>``, ``"long"`` = ``the provided IP (<ip>) is
            not in the valid range. The range of valid IPs is <cidr>``.
        service_rules: the Service defaulting/validation era: ``"1.20"``, ``"1.21"``
            (1.21-1.22) or ``"1.23"`` (1.23+), service-ips §3.3/§3.3a.
        ip_warnings: which clusterIP warning texts apply: ``None`` (up to 1.26),
            ``"legacy"`` (1.27-1.32), ``"kep4858"`` (1.33+), service-ips §3.9.
        single_node_mask: one ``--node-cidr-mask-size`` for both families (1.16 only).
        mask_rules: ``"1.16"``, ``"1.17"`` (1.17-1.18, gate-dependent) or ``"1.19"``
            (1.19+), node-and-pod-ips §2.2.
        parse_cidrs_new_text: ``invalid CIDR[<i>]: <nil> (...)`` (1.27+) instead of
            ``failed to parse cidr value:...`` (node §2.1).
        kubelet_sorts_pod_ips: the kubelet reports the node's primary family first
            (1.21+, node §3.5).
        kubenet_available: kubenet (dockershim) exists (up to 1.23).
    """

    version: str
    minor: int
    service_api: ServiceAPI
    dual_stack_gate_default: bool
    dual_stack_gate_locked: bool
    static_subrange_default: bool
    static_subrange_locked: bool
    allocator: Allocator
    ipv6_service_window: int | None
    service_flag_limits: bool
    min_ipv6_service_prefix: int | None
    not_in_range_style: Literal["short", "long"]
    service_rules: Literal["1.20", "1.21", "1.23"]
    ip_warnings: Literal["legacy", "kep4858"] | None
    single_node_mask: bool
    mask_rules: Literal["1.16", "1.17", "1.19"]
    parse_cidrs_new_text: bool
    kubelet_sorts_pod_ips: bool
    kubenet_available: bool

    @classmethod
    def for_version(cls, version: str | None = None) -> Profile:
        """The profile of a Kubernetes minor release (``"1.16"`` ... ``"1.37"``).

        Accepts ``"1.16"``, ``"v1.16"`` and patch versions such as ``"1.29.3"``;
        ``None`` is the newest modelled release.

        Raises:
            ConfigError: the version is not a Kubernetes 1.x version the library models.
        """
        if version is None:
            return _build(NEWEST)
        if isinstance(version, Profile):
            return version
        match = _VERSION_RE.match(version.strip()) if isinstance(version, str) else None
        if match is None:
            raise ConfigError(
                f"unsupported Kubernetes version {version!r}",
                hint=f"give a minor version such as '1.{NEWEST}' "
                f"(1.{OLDEST} to 1.{NEWEST} are modelled) or None for the newest",
            )
        minor = int(match.group(1))
        if not OLDEST <= minor <= NEWEST:
            raise ConfigError(
                f"unsupported Kubernetes version {version!r}: "
                f"dualstack models 1.{OLDEST} to 1.{NEWEST}",
                hint=f"1.{OLDEST} is the first release with dual-stack; "
                f"use None for the newest (1.{NEWEST})",
            )
        return _build(minor)

    def with_service_allocator(self, allocator: Allocator) -> Profile:
        """This release with another Service IP allocator model, as feature gates select.

        ``MultiCIDRServiceAllocator`` and ``DisableAllocatorDualWrite`` can move a
        release off its default model (service-ips.md §0.1): ``"multicidr"`` has no IPv6
        window, every model but ``"bitmap"`` refuses IPv6 prefixes shorter than /64
        (§1.12, §1.12a).
        """
        if allocator == self.allocator:
            return self
        if allocator not in ("bitmap", "multicidr-dualwrite", "multicidr"):
            raise ConfigError(
                f"unknown Service IP allocator {allocator!r}",
                hint="use 'bitmap', 'multicidr-dualwrite' or 'multicidr'",
            )
        return dataclasses.replace(
            self,
            allocator=allocator,
            ipv6_service_window=None if allocator == "multicidr" else 65536,
            min_ipv6_service_prefix=None if allocator == "bitmap" else 64,
        )

    def __repr__(self) -> str:
        text = f"Profile.for_version({self.version!r})"
        if self.allocator != _build(self.minor).allocator:
            text += f".with_service_allocator({self.allocator!r})"
        return text


@cache
def _build(minor: int) -> Profile:
    if minor <= 32:
        allocator: Allocator = "bitmap"
    elif minor == 33:
        allocator = "multicidr-dualwrite"
    else:
        allocator = "multicidr"
    if minor <= 19:
        mask_rules: Literal["1.16", "1.17", "1.19"] = "1.16" if minor == 16 else "1.17"
        if minor == 19:
            mask_rules = "1.19"
    else:
        mask_rules = "1.19"
    if minor == 20:
        service_rules: Literal["1.20", "1.21", "1.23"] = "1.20"
    elif minor <= 22:
        service_rules = "1.21"
    else:
        service_rules = "1.23"
    ip_warnings: Literal["legacy", "kep4858"] | None
    if minor <= 26:
        ip_warnings = None
    elif minor <= 32:
        ip_warnings = "legacy"
    else:
        ip_warnings = "kep4858"
    return Profile(
        version=f"1.{minor}",
        minor=minor,
        service_api="alpha" if minor <= 19 else "ga",
        dual_stack_gate_default=minor >= 21,
        dual_stack_gate_locked=minor >= 23,
        static_subrange_default=minor >= 25,
        static_subrange_locked=minor >= 26,
        allocator=allocator,
        ipv6_service_window=65536 if minor <= 33 else None,
        service_flag_limits=minor <= 33,
        min_ipv6_service_prefix=64 if minor >= 33 else None,
        not_in_range_style="short" if minor <= _LAST_SHORT_NOT_IN_RANGE else "long",
        service_rules=service_rules,
        ip_warnings=ip_warnings,
        single_node_mask=minor == 16,
        mask_rules=mask_rules,
        parse_cidrs_new_text=minor >= 27,
        kubelet_sorts_pod_ips=minor >= 21,
        kubenet_available=minor <= 23,
    )


# The last release whose ipallocator printed the short ErrNotInRange text (service-ips
# §1.7). Every stored kubernetes allocator.go with the long text already has the 1.23
# API (NewInMemory from PR #104378, Aug 2021; DryRun from the 1.23 Service REST rework)
# and every one with the short text predates it; see docs/service-ranges.md.
_LAST_SHORT_NOT_IN_RANGE: Final = 22

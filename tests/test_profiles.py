"""Tests for dualstack.profiles: one Profile per release 1.16 .. 1.37.

The expected table is written from the release map (service-ips.md §0.1, authoritative
for both specs) and node-and-pod-ips.md §2-§3, not from the code.
"""

from __future__ import annotations

import dataclasses

import pytest

from dualstack.errors import ConfigError
from dualstack.profiles import NEWEST, OLDEST, Profile

# Columns: service_api, dual_stack_gate_default, dual_stack_gate_locked,
# static_subrange_default, static_subrange_locked, allocator, ipv6_service_window,
# service_flag_limits, min_ipv6_service_prefix, service_rules (None: the spec gives the
# alpha releases no GA-rules era), ip_warnings, single_node_mask, mask_rules,
# parse_cidrs_new_text, kubelet_sorts_pod_ips, kubenet_available.
_B, _DW, _MC = "bitmap", "multicidr-dualwrite", "multicidr"
_W = 65536
A, G, T, F = "alpha", "ga", True, False
RELEASES: dict[str, tuple[object, ...]] = {
    # 1.16-1.19: alpha ipFamily, gate off; 1.16 one node mask; 1.17-1.18 gated masks.
    "1.16": (A, F, F, F, F, _B, _W, T, None, None, None, T, "1.16", F, F, T),
    "1.17": (A, F, F, F, F, _B, _W, T, None, None, None, F, "1.17", F, F, T),
    "1.18": (A, F, F, F, F, _B, _W, T, None, None, None, F, "1.17", F, F, T),
    "1.19": (A, F, F, F, F, _B, _W, T, None, None, None, F, "1.19", F, F, T),
    # 1.20: GA fields, gate alpha off.
    "1.20": (G, F, F, F, F, _B, _W, T, None, "1.20", None, F, "1.19", F, F, T),
    # 1.21-1.22: gate beta on; kubelet sorts Pod IPs.
    "1.21": (G, T, F, F, F, _B, _W, T, None, "1.21", None, F, "1.19", F, T, T),
    "1.22": (G, T, F, F, F, _B, _W, T, None, "1.21", None, F, "1.19", F, T, T),
    # 1.23-1.24: gate GA, locked; kubenet last present in 1.23; no band split.
    "1.23": (G, T, T, F, F, _B, _W, T, None, "1.23", None, F, "1.19", F, T, T),
    "1.24": (G, T, T, F, F, _B, _W, T, None, "1.23", None, F, "1.19", F, T, F),
    # 1.25 band split beta on, 1.26 GA.
    "1.25": (G, T, T, T, F, _B, _W, T, None, "1.23", None, F, "1.19", F, T, F),
    "1.26": (G, T, T, T, T, _B, _W, T, None, "1.23", None, F, "1.19", F, T, F),
    # 1.27-1.32: legacy warnings, new ParseCIDRs text.
    "1.27": (G, T, T, T, T, _B, _W, T, None, "1.23", "legacy", F, "1.19", T, T, F),
    "1.28": (G, T, T, T, T, _B, _W, T, None, "1.23", "legacy", F, "1.19", T, T, F),
    "1.29": (G, T, T, T, T, _B, _W, T, None, "1.23", "legacy", F, "1.19", T, T, F),
    "1.30": (G, T, T, T, T, _B, _W, T, None, "1.23", "legacy", F, "1.19", T, T, F),
    "1.31": (G, T, T, T, T, _B, _W, T, None, "1.23", "legacy", F, "1.19", T, T, F),
    "1.32": (G, T, T, T, T, _B, _W, T, None, "1.23", "legacy", F, "1.19", T, T, F),
    # 1.33: MultiCIDR with dual-write: bitmap window and flag limits stay; /64 minimum.
    "1.33": (G, T, T, T, T, _DW, _W, T, 64, "1.23", "kep4858", F, "1.19", T, T, F),
    # 1.34+: no bitmap, no flag limits, whole-prefix IPv6.
    "1.34": (G, T, T, T, T, _MC, None, F, 64, "1.23", "kep4858", F, "1.19", T, T, F),
    "1.35": (G, T, T, T, T, _MC, None, F, 64, "1.23", "kep4858", F, "1.19", T, T, F),
    "1.36": (G, T, T, T, T, _MC, None, F, 64, "1.23", "kep4858", F, "1.19", T, T, F),
    "1.37": (G, T, T, T, T, _MC, None, F, 64, "1.23", "kep4858", F, "1.19", T, T, F),
}  # fmt: skip
_FIELDS = (
    "service_api",
    "dual_stack_gate_default",
    "dual_stack_gate_locked",
    "static_subrange_default",
    "static_subrange_locked",
    "allocator",
    "ipv6_service_window",
    "service_flag_limits",
    "min_ipv6_service_prefix",
    "service_rules",
    "ip_warnings",
    "single_node_mask",
    "mask_rules",
    "parse_cidrs_new_text",
    "kubelet_sorts_pod_ips",
    "kubenet_available",
)


def test_release_table_covers_every_modelled_release():
    assert list(RELEASES) == [f"1.{m}" for m in range(OLDEST, NEWEST + 1)]
    assert (OLDEST, NEWEST) == (16, 37)


@pytest.mark.parametrize("version", list(RELEASES), ids=list(RELEASES))
def test_profile_for_version_release_matches_release_map(version):
    profile = Profile.for_version(version)
    expected = dict(zip(_FIELDS, RELEASES[version], strict=True))
    if expected["service_rules"] is None:
        del expected["service_rules"]  # alpha releases: not a GA rules era
    actual = {name: getattr(profile, name) for name in expected}
    assert actual == expected
    assert profile.version == version
    assert profile.minor == int(version.split(".")[1])


@pytest.mark.parametrize("version", list(RELEASES), ids=list(RELEASES))
def test_profile_not_in_range_style_release_matches_message_history(version):
    # service-ips.md §1.7: the short text is the 1.1x-early 1.2x form, the long one the
    # later 1.2x/1.3x form; the exact switch release is [UNSURE] and settled elsewhere.
    style = Profile.for_version(version).not_in_range_style
    minor = int(version.split(".")[1])
    if minor <= 20:
        assert style == "short"
    elif minor >= 30:
        assert style == "long"
    else:
        assert style in ("short", "long")


def test_profile_not_in_range_style_switches_once():
    styles = [Profile.for_version(v).not_in_range_style for v in RELEASES]
    switch = styles.index("long")
    assert styles[:switch] == ["short"] * switch
    assert set(styles[switch:]) == {"long"}


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("1.16", "1.16"),
        ("v1.16", "1.16"),
        ("1.29.3", "1.29"),
        ("v1.30.0", "1.30"),
        ("1.31.0-rc.1", "1.31"),
        (" 1.20 ", "1.20"),
        ("1.037", "1.37"),
    ],
    ids=["minor", "v-prefix", "patch", "v-patch", "pre-release", "spaces", "zero-padded"],
)
def test_profile_for_version_spellings_accepted(given, expected):
    assert Profile.for_version(given).version == expected


def test_profile_for_version_none_is_newest():
    assert Profile.for_version(None) == Profile.for_version(f"1.{NEWEST}")
    assert Profile.for_version() == Profile.for_version("1.37")


def test_profile_for_version_profile_passes_through():
    profile = Profile.for_version("1.25")
    assert Profile.for_version(profile) is profile  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "version",
    ["1.15", "1.38", "1.0", "2.0", "0.16", "", "abc", "1", "1.x", "1.16a", "116", "v2.1"],
    ids=[
        "too-old",
        "too-new",
        "one-zero",
        "two",
        "zero",
        "empty",
        "word",
        "major-only",
        "letter-minor",
        "suffix",
        "no-dot",
        "v2",
    ],
)
def test_profile_for_version_bad_version_raises_config_error_quoting_it(version):
    with pytest.raises(ConfigError) as info:
        Profile.for_version(version)
    assert repr(version) in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("version", ["1.15", "1.38"], ids=["too-old", "too-new"])
def test_profile_for_version_out_of_span_says_what_is_modelled(version):
    with pytest.raises(ConfigError, match=r"models 1\.16 to 1\.37"):
        Profile.for_version(version)


@pytest.mark.parametrize("version", [1.16, 16, b"1.16"], ids=["float", "int", "bytes"])
def test_profile_for_version_non_string_raises_config_error(version):
    with pytest.raises(ConfigError):
        Profile.for_version(version)  # type: ignore[arg-type]


def test_profile_is_frozen_hashable_value():
    profile = Profile.for_version("1.28")
    with pytest.raises(dataclasses.FrozenInstanceError):
        profile.minor = 29  # type: ignore[misc]
    assert hash(profile) == hash(Profile.for_version("v1.28.4"))
    assert profile == Profile.for_version("1.28")
    assert profile != Profile.for_version("1.29")
    assert len({Profile.for_version(v) for v in RELEASES}) == len(RELEASES)


def test_profile_repr_rebuilds_it():
    profile = Profile.for_version("1.33")
    assert repr(profile) == "Profile.for_version('1.33')"
    assert eval(repr(profile), {"Profile": Profile}) == profile


@pytest.mark.parametrize("version", list(RELEASES), ids=list(RELEASES))
def test_profile_switches_consistent_with_each_other(version):
    p = Profile.for_version(version)
    # A locked gate is on; the alpha API only exists with the gate off.
    assert not p.dual_stack_gate_locked or p.dual_stack_gate_default
    assert not p.static_subrange_locked or p.static_subrange_default
    assert (p.service_api == "alpha") <= (not p.dual_stack_gate_default)
    # The IPv6 window belongs to the bitmap, which also carries the flag limits.
    assert (p.ipv6_service_window is None) == (p.allocator == "multicidr")
    assert p.service_flag_limits == (p.allocator != "multicidr")
    assert p.single_node_mask == (p.mask_rules == "1.16")


def test_profile_with_service_allocator_changes_only_the_model_and_repr_rebuilds():
    base = Profile.for_version("1.33")
    gated = base.with_service_allocator("multicidr")
    assert (gated.allocator, gated.ipv6_service_window, gated.min_ipv6_service_prefix) == (
        "multicidr",
        None,
        64,
    )
    assert gated.version == base.version and gated.static_subrange_default
    assert eval(repr(gated), {"Profile": Profile}) == gated
    assert base.with_service_allocator("multicidr-dualwrite") is base
    assert Profile.for_version("1.32").with_service_allocator("bitmap") is Profile.for_version(
        "1.32"
    )

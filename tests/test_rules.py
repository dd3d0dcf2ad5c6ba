"""Tests of dualstack.rules: capacity formulas, gates, flag values and each rule per release.

The upstream texts are the specs' (node-and-pod-ips.md §2, service-ips.md §2); each case
is checked on the part before the library's " — " hint, and the hint is checked to be
present where the rule promises one.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dualstack import rules
from dualstack.families import IPFamily
from dualstack.pools import CIDRPool
from dualstack.profiles import Profile

V4 = IPFamily.IPv4
V6 = IPFamily.IPv6
SEP = " — "

LOCKED_MULTICIDR = (
    "cannot set feature gate MultiCIDRServiceAllocator to false, feature is locked to true"
)
LOCKED_DUALWRITE = (
    "cannot set feature gate DisableAllocatorDualWrite to false, feature is locked to true"
)
TOO_LARGE_V4 = (
    "specified --service-cluster-ip-range is too large; for 32-bit addresses, "
    "the mask must be >= 12"
)
TOO_LARGE_V6 = (
    "specified --service-cluster-ip-range is too large; for 128-bit addresses, "
    "the mask must be >= 108"
)
SAME_FAMILY = (
    "--service-cluster-ip-range[0] and --service-cluster-ip-range[1] "
    "must be of different IP family"
)
GATE_OFF_OLD = (
    "--secondary-service-cluster-ip-range can only be used if IPv6DualStack feature is enabled"
)
SAME_FAMILY_OLD = (
    "--service-cluster-ip-range and --secondary-service-cluster-ip-range must be of "
    "different IP family"
)
NOT_DUAL_2 = (
    "len of ClusterCIDRs==2 and they are not configured as dual stack "
    "(at least one from each IPFamily"
)
NOT_DUAL_3 = NOT_DUAL_2.replace("==2", "==3")
CONTROLLER_TEXT = (
    "Controller: Invalid --cluster-cidr, mask size of cluster CIDR must be less than or "
    "equal to --node-cidr-mask-size configured for CIDR family"
)


def upstream(message: str | None) -> str | None:
    """The upstream part of a hinted message."""
    return None if message is None else message.split(SEP)[0]


def pools(*cidrs: str) -> tuple[CIDRPool, ...]:
    return tuple(CIDRPool(c) for c in cidrs)


# -- capacity formulas -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "family", "window", "expected"),
    [
        (32, V4, 65536, 0),
        (31, V4, 65536, 0),
        (30, V4, 65536, 2),
        (29, V4, 65536, 6),
        (24, V4, 65536, 254),
        (15, V4, 65536, 131070),
        (12, V4, 65536, 1048574),
        (1, V4, 65536, 0),
        (0, V4, 65536, 0),
        (128, V6, 65536, 0),
        (127, V6, 65536, 1),
        (126, V6, 65536, 3),
        (124, V6, 65536, 15),
        (112, V6, 65536, 65535),
        (108, V6, 65536, 65535),
        (64, V6, 65536, 65535),
        (116, V6, None, 4095),
        (64, V6, None, (1 << 64) - 1),
        (8, V4, None, (1 << 24) - 2),
        (31, V4, None, 0),
        (128, V6, None, 0),
    ],
    ids=lambda v: str(v),
)
def test_service_usable_table_matches_spec(prefix, family, window, expected):
    assert rules.service_usable(prefix, family, window=window) == expected


@pytest.mark.parametrize(
    ("prefix", "family", "expected"),
    [
        (28, V4, 0),
        (27, V4, 16),
        (24, V4, 16),
        (23, V4, 32),
        (22, V4, 64),
        (21, V4, 128),
        (20, V4, 256),
        (12, V4, 256),
        (32, V4, 0),
        (124, V6, 0),
        (123, V6, 16),
        (118, V6, 64),
        (112, V6, 256),
        (64, V6, 256),
        (12, V6, 256),
    ],
    ids=lambda v: str(v),
)
def test_static_band_size_table_matches_spec(prefix, family, expected):
    assert rules.static_band_size(prefix, family) == expected


@pytest.mark.parametrize(
    ("cluster", "node", "expected"),
    [(16, 24, 256), (24, 24, 1), (25, 24, 0), (48, 64, 65536), (8, 32, 1 << 24)],
    ids=["v4-16-24", "equal", "node-shorter", "v6-48-64", "v4-8-32"],
)
def test_node_block_count_formula(cluster, node, expected):
    assert rules.node_block_count(cluster, node) == expected


@pytest.mark.parametrize(
    ("prefix", "family", "expected"),
    [(24, V4, 253), (29, V4, 5), (30, V4, 1), (31, V4, 0), (64, V6, (1 << 64) - 2), (126, V6, 2)],
    ids=["v4-24", "v4-29", "v4-30", "v4-31-too-small", "v6-64", "v6-126"],
)
def test_host_local_usable_formula(prefix, family, expected):
    assert rules.host_local_usable(prefix, family) == expected


# -- flag values -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value", "error"),
    [
        ("24", 24, None),
        ("0", 0, None),
        ("-1", -1, None),
        ("+24", 24, None),
        ("0x18", 24, None),
        ("030", 24, None),
        ("abc", None, 'strconv.ParseInt: parsing "abc": invalid syntax'),
        ("", None, 'strconv.ParseInt: parsing "": invalid syntax'),
        ("24.0", None, 'strconv.ParseInt: parsing "24.0": invalid syntax'),
        ("99999999999", None, 'strconv.ParseInt: parsing "99999999999": value out of range'),
        ("1_8", 18, None),
        ("0_30", 24, None),
        ("0x_18", 24, None),
        ("0x18_", None, 'strconv.ParseInt: parsing "0x18_": invalid syntax'),
        ("1__8", None, 'strconv.ParseInt: parsing "1__8": invalid syntax'),
        ("_18", None, 'strconv.ParseInt: parsing "_18": invalid syntax'),
        ("0x\u0662", None, 'strconv.ParseInt: parsing "0x\u0662": invalid syntax'),
        ("\uff11", None, 'strconv.ParseInt: parsing "\uff11": invalid syntax'),
        ("0x", None, 'strconv.ParseInt: parsing "0x": invalid syntax'),
        ("0", 0, None),
        ("+", None, 'strconv.ParseInt: parsing "+": invalid syntax'),
        ("-0x80000000", -(1 << 31), None),
        ("0x80000000", None, 'strconv.ParseInt: parsing "0x80000000": value out of range'),
        ("99999999999x", None, 'strconv.ParseInt: parsing "99999999999x": value out of range'),
        ('2"4', None, 'strconv.ParseInt: parsing "2\\"4": invalid syntax'),
    ],
    ids=[
        "plain",
        "zero",
        "negative",
        "plus",
        "hex",
        "octal",
        "text",
        "empty",
        "float",
        "big",
        "underscore-decimal",
        "underscore-octal",
        "underscore-after-prefix",
        "underscore-trailing",
        "underscore-doubled",
        "underscore-leading",
        "arabic-indic-digit",
        "fullwidth-digit",
        "prefix-alone",
        "single-zero",
        "sign-alone",
        "int32-min",
        "int32-max-plus-one",
        "overflow-before-bad-char",
        "go-quoted",
    ],
)
def test_parse_go_int32_like_strconv(text, value, error):
    assert rules.parse_go_int32(text) == (value, error)


@pytest.mark.parametrize(
    ("text", "pairs", "error"),
    [
        ("IPv6DualStack=true", [("IPv6DualStack", True)], None),
        (" IPv6DualStack = false ,A=1", [("IPv6DualStack", False), ("A", True)], None),
        ("A=true,,B=F", [("A", True), ("B", False)], None),
        ("IPv6DualStack", [], "missing bool value for IPv6DualStack"),
        (
            "IPv6DualStack=yes",
            [],
            'invalid value of IPv6DualStack=yes, err: strconv.ParseBool: parsing "yes": '
            "invalid syntax",
        ),
    ],
    ids=["one", "spaces", "empty-item", "missing", "not-bool"],
)
def test_parse_feature_gates_like_component_base(text, pairs, error):
    assert rules.parse_feature_gates(text) == (pairs, error)


# -- gates -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "requested", "expected_error"),
    [
        ("1.16", {"IPv6DualStack": True}, None),
        ("1.22", {"IPv6DualStack": False}, None),
        (
            "1.23",
            {"IPv6DualStack": False},
            "cannot set feature gate IPv6DualStack to false, feature is locked to true",
        ),
        ("1.25", {"IPv6DualStack": True}, "unrecognized feature gate: IPv6DualStack"),
        ("1.24", {"ServiceIPStaticSubrange": True}, None),
        (
            "1.26",
            {"ServiceIPStaticSubrange": False},
            "cannot set feature gate ServiceIPStaticSubrange to false, feature is locked to true",
        ),
        (
            "1.28",
            {"ServiceIPStaticSubrange": True},
            "unrecognized feature gate: ServiceIPStaticSubrange",
        ),
        (
            "1.26",
            {"MultiCIDRServiceAllocator": True},
            "unrecognized feature gate: MultiCIDRServiceAllocator",
        ),
        ("1.33", {"MultiCIDRServiceAllocator": False}, None),
        (
            "1.34",
            {"MultiCIDRServiceAllocator": False},
            LOCKED_MULTICIDR,
        ),
        ("1.34", {"DisableAllocatorDualWrite": False}, None),
        ("1.33", {"StrictIPCIDRValidation": True}, None),
        (
            "1.32",
            {"StrictIPCIDRValidation": True},
            "unrecognized feature gate: StrictIPCIDRValidation",
        ),
        (
            "1.35",
            {"DisableAllocatorDualWrite": False},
            LOCKED_DUALWRITE,
        ),
    ],
    ids=lambda v: str(v),
)
def test_resolve_gates_per_release(version, requested, expected_error):
    values, errors, ignored = rules.resolve_gates(requested, Profile.for_version(version))
    assert ignored == []
    if expected_error is None:
        assert errors == []
        for name, value in requested.items():
            assert values[name] is value
    else:
        assert [upstream(e) for e in errors] == [expected_error]
        assert SEP in errors[0]


def test_resolve_gates_unmodelled_gate_ignored():
    values, errors, ignored = rules.resolve_gates(
        {"SomeOtherGate": True}, Profile.for_version("1.30")
    )
    assert errors == [] and ignored == ["SomeOtherGate"]
    assert "SomeOtherGate" not in values


@pytest.mark.parametrize(
    ("version", "requested", "expected"),
    [
        pytest.param("1.16", {"AllAlpha": True}, {"IPv6DualStack": True}, id="1.16-allalpha"),
        pytest.param("1.18", {"AllAlpha": True}, {"IPv6DualStack": True}, id="1.18-allalpha"),
        pytest.param(
            "1.20",
            {"AllAlpha": True, "IPv6DualStack": False},
            {"IPv6DualStack": False},
            id="1.20-explicit-wins",
        ),
        pytest.param(
            "1.20",
            {"IPv6DualStack": False, "AllAlpha": True},
            {"IPv6DualStack": False},
            id="1.20-explicit-wins-any-order",
        ),
        pytest.param("1.20", {"AllBeta": True}, {"IPv6DualStack": False}, id="1.20-allbeta"),
        pytest.param("1.21", {"AllBeta": False}, {"IPv6DualStack": False}, id="1.21-allbeta-off"),
        pytest.param("1.23", {"AllBeta": False}, {"IPv6DualStack": True}, id="1.23-ga-untouched"),
        pytest.param(
            "1.24",
            {"AllAlpha": True},
            {"IPv6DualStack": True, "ServiceIPStaticSubrange": True},
            id="1.24-allalpha",
        ),
        pytest.param(
            "1.25", {"AllBeta": False}, {"ServiceIPStaticSubrange": False}, id="1.25-allbeta-off"
        ),
        pytest.param(
            "1.28", {"AllAlpha": True}, {"MultiCIDRServiceAllocator": True}, id="1.28-allalpha"
        ),
        pytest.param(
            "1.31",
            {"AllBeta": True},
            {"MultiCIDRServiceAllocator": True, "DisableAllocatorDualWrite": False},
            id="1.31-allbeta",
        ),
        pytest.param(
            "1.31",
            {"AllAlpha": True, "AllBeta": True},
            {"MultiCIDRServiceAllocator": True, "DisableAllocatorDualWrite": True},
            id="1.31-both",
        ),
        pytest.param(
            "1.33",
            {"AllAlpha": True, "AllBeta": True},
            {
                "MultiCIDRServiceAllocator": True,
                "DisableAllocatorDualWrite": True,
                "StrictIPCIDRValidation": True,
            },
            id="1.33-both",
        ),
        pytest.param(
            "1.37",
            {"AllAlpha": False, "AllBeta": False},
            {"StrictIPCIDRValidation": False, "MultiCIDRServiceAllocator": True},
            id="1.37-off",
        ),
    ],
)
def test_resolve_gates_all_alpha_all_beta_set_unset_gates_of_their_stage(
    version, requested, expected
):
    values, errors, ignored = rules.resolve_gates(requested, Profile.for_version(version))
    assert (errors, ignored) == ([], [])
    for name, value in expected.items():
        assert values[name] is value
    assert "AllAlpha" not in values and "AllBeta" not in values


def test_resolve_gates_all_beta_unknown_in_1_16():
    _, errors, ignored = rules.resolve_gates({"AllBeta": True}, Profile.for_version("1.16"))
    assert [upstream(e) for e in errors] == ["unrecognized feature gate: AllBeta"]
    assert ignored == []


@pytest.mark.parametrize("version", [f"1.{m}" for m in range(16, 38)])
def test_gate_stages_match_defaults(version):
    # A gate that is on by default is past alpha; a GA gate of a modelled release is on.
    profile = Profile.for_version(version)
    values, _, _ = rules.resolve_gates({}, profile)
    for spec in rules.GATES:
        if not spec.known(profile):
            continue
        if values[spec.name]:
            assert spec.stage(profile) != "alpha"
        if spec.stage(profile) == "ga":
            assert values[spec.name]


@pytest.mark.parametrize(
    ("version", "gates", "expected"),
    [
        ("1.16", {}, "bitmap"),
        ("1.30", {"MultiCIDRServiceAllocator": True}, "multicidr"),
        ("1.32", {"MultiCIDRServiceAllocator": True}, "multicidr-dualwrite"),
        (
            "1.32",
            {"MultiCIDRServiceAllocator": True, "DisableAllocatorDualWrite": True},
            "multicidr",
        ),
        ("1.33", {}, "multicidr-dualwrite"),
        ("1.33", {"MultiCIDRServiceAllocator": False}, "bitmap"),
        ("1.34", {}, "multicidr"),
        ("1.37", {}, "multicidr"),
    ],
    ids=lambda v: str(v),
)
def test_effective_allocator_follows_gates(version, gates, expected):
    profile = Profile.for_version(version)
    values, errors, _ = rules.resolve_gates(gates, profile)
    assert errors == []
    assert rules.effective_allocator(values, profile) == expected
    assert rules.service_flag_limits_apply(values, profile) is (expected != "multicidr")


@pytest.mark.parametrize("minor", range(16, 38))
def test_effective_allocator_defaults_match_profile(minor):
    profile = Profile.for_version(f"1.{minor}")
    values, _, _ = rules.resolve_gates({}, profile)
    assert rules.effective_allocator(values, profile) == profile.allocator
    assert rules.service_flag_limits_apply(values, profile) is profile.service_flag_limits


# -- kube-apiserver --------------------------------------------------------------------


def apiserver(flag: str, version: str, gates: dict[str, bool] | None = None) -> list[str]:
    profile = Profile.for_version(version)
    values, errors, _ = rules.resolve_gates(gates or {}, profile)
    assert errors == []
    result = rules.apiserver_service_range(flag, profile, values)
    for message in result.errors:
        assert SEP in message, message
    return [upstream(m) or "" for m in result.errors]


@pytest.mark.parametrize(
    ("flag", "version", "gates", "expected"),
    [
        ("10.96.0.0/12,fd00::/108", "1.30", None, []),
        ("", "1.30", None, []),
        (
            "10.96.0.0/12, fd00::/108",
            "1.30",
            None,
            ["service-cluster-ip-range[1] is not an ip net"],
        ),
        ("10.96.0.0/12,", "1.30", None, ["service-cluster-ip-range[1] is not an ip net"]),
        (" 10.96.0.0/12", "1.30", None, ["service-cluster-ip-range[0] is not a valid cidr"]),
        ("bogus", "1.16", None, ["service-cluster-ip-range[0] is not a valid cidr"]),
        (
            "10.96.0.0/30",
            "1.30",
            None,
            [
                "error determining service IP ranges for primary service cidr: the service "
                "cluster IP range must be at least 8 IP addresses"
            ],
        ),
        ("10.96.0.0/29,fd00::/126", "1.30", None, []),
        ("fd00::/125", "1.30", None, []),
        (
            "10.0.0.0/8",
            "1.30",
            None,
            [TOO_LARGE_V4],
        ),
        ("10.0.0.0/8", "1.16", None, ["specified --service-cluster-ip-range is too large"]),
        ("10.0.0.0/8", "1.34", None, []),
        (
            "fd00::/64",
            "1.33",
            None,
            [TOO_LARGE_V6],
        ),
        ("fd00::/64", "1.34", None, []),
        (
            "fd00::/48",
            "1.34",
            None,
            ["shortest allowed prefix length for service CIDR is 64, got 48"],
        ),
        (
            "10.96.0.0/12,fd00::/64",
            "1.23",
            None,
            [
                "specified --service-cluster-ip-range[1] is too large; for 128-bit addresses, "
                "the mask must be >= 108"
            ],
        ),
        (
            "10.96.0.0/12,fd00::/64",
            "1.18",
            {"IPv6DualStack": True},
            ["specified --secondary-service-cluster-ip-range is too large"],
        ),
        (
            "10.96.0.0/12,10.1.0.0/16",
            "1.23",
            None,
            [SAME_FAMILY],
        ),
        (
            "10.96.0.0/12,10.1.0.0/16",
            "1.16",
            None,
            [
                GATE_OFF_OLD,
                SAME_FAMILY_OLD,
            ],
        ),
        (
            "10.96.0.0/12,fd00::/108",
            "1.20",
            None,
            [
                "secondary service cluster-ip range(--service-cluster-ip-range[1]) can only be "
                "used if IPv6DualStack and EndpointSlice feature is enabled"
            ],
        ),
        ("10.96.0.0/12,fd00::/108", "1.20", {"IPv6DualStack": True}, []),
        (
            "10.96.0.0/12,fd00::/108,10.1.0.0/16",
            "1.30",
            None,
            ["--service-cluster-ip-range must not contain more than two entries"],
        ),
        (
            "10.0.0.0/8,10.1.0.0/16,x",
            "1.30",
            None,
            [
                "--service-cluster-ip-range must not contain more than two entries",
                TOO_LARGE_V4,
                SAME_FAMILY,
            ],
        ),
    ],
    ids=[
        "dual-ok",
        "empty-default",
        "space-after-comma",
        "trailing-comma",
        "leading-space",
        "garbage-1.16",
        "too-small",
        "minimum-sizes",
        "v6-minimum",
        "too-large-v4",
        "too-large-1.16-text",
        "no-limit-1.34",
        "too-large-v6-1.33",
        "v6-64-ok-1.34",
        "v6-shorter-than-64-1.34",
        "secondary-too-large",
        "secondary-too-large-1.18-text",
        "same-family",
        "gate-off-1.16-texts",
        "gate-off-1.20",
        "gate-on-1.20",
        "three-entries",
        "all-collected",
    ],
)
def test_apiserver_service_range_messages(flag, version, gates, expected):
    assert apiserver(flag, version, gates) == expected


def test_apiserver_service_range_default_is_10_0_0_0_24():
    profile = Profile.for_version(None)
    values, _, _ = rules.resolve_gates({}, profile)
    result = rules.apiserver_service_range("", profile, values)
    assert [p.cidr for p in result.ranges] == ["10.0.0.0/24"]


def test_apiserver_service_range_hint_gives_fitting_prefix():
    profile = Profile.for_version("1.30")
    values, _, _ = rules.resolve_gates({}, profile)
    (message,) = rules.apiserver_service_range("10.0.0.0/8", profile, values).errors
    assert message.endswith("e.g. 10.0.0.0/12")


# -- kube-controller-manager: --cluster-cidr ---------------------------------------------


@pytest.mark.parametrize(
    ("flag", "version", "gate", "expected"),
    [
        ("10.244.0.0/16,fd00::/48", "1.30", True, None),
        ("fd00::/48,10.244.0.0/16", "1.30", True, None),
        (" 10.244.0.0/16,fd00::/48 ", "1.30", True, None),
        (
            "10.0.0.0/8, fd00::/48",
            "1.30",
            True,
            "invalid CIDR[1]: <nil> (invalid CIDR address:  fd00::/48)",
        ),
        (
            "10.0.0.0/8, fd00::/48",
            "1.26",
            True,
            'failed to parse cidr value:" fd00::/48" with error:invalid CIDR address:  fd00::/48',
        ),
        ("", "1.30", True, "invalid CIDR[0]: <nil> (invalid CIDR address: )"),
        ("10.0.0.0/8,", "1.30", True, "invalid CIDR[1]: <nil> (invalid CIDR address: )"),
        ("10.0.0.0/8,,fd00::/48", "1.30", True, "invalid CIDR[1]: <nil> (invalid CIDR address: )"),
        (
            "10.256.0.0/16",
            "1.30",
            True,
            "invalid CIDR[0]: <nil> (invalid CIDR address: 10.256.0.0/16)",
        ),
        (
            "10.0.0.0/33",
            "1.30",
            True,
            "invalid CIDR[0]: <nil> (invalid CIDR address: 10.0.0.0/33)",
        ),
        (
            "10.0.0.0/16,192.168.0.0/16",
            "1.30",
            True,
            NOT_DUAL_2,
        ),
        (
            "fd00::/48,fd01::/48",
            "1.30",
            True,
            NOT_DUAL_2,
        ),
        (
            "10.0.0.0/16,fd00::/48,192.168.0.0/16",
            "1.30",
            True,
            "length of clusterCIDRs is:3 more than max allowed of 2",
        ),
        (
            "10.0.0.0/16,fd00::/48,192.168.0.0/16",
            "1.16",
            True,
            "len of clusters is:3 > more than max allowed of 2",
        ),
        (
            "10.0.0.0/16,fd00::/48,192.168.0.0/16",
            "1.24",
            True,
            "len of clusters is:3 > more than max allowed of 2",
        ),
        (
            "10.0.0.0/16,fd00::/48,192.168.0.0/16",
            "1.25",
            True,
            "length of clusterCIDRs is:3 more than max allowed of 2",
        ),
        (
            "10.0.0.0/16,10.1.0.0/16,10.2.0.0/16",
            "1.30",
            True,
            NOT_DUAL_3,
        ),
        (
            "10.244.0.0/16,fc00::/24",
            "1.16",
            False,
            "len of ClusterCIDRs==2 and dualstack feature is not enabled",
        ),
    ],
    ids=[
        "v4-v6",
        "v6-v4",
        "outer-whitespace-trimmed",
        "inner-space-new-text",
        "inner-space-old-text",
        "empty",
        "trailing-comma",
        "empty-middle",
        "bad-octet",
        "bad-prefix",
        "same-family-v4",
        "same-family-v6",
        "three-mixed",
        "three-mixed-1.16",
        "three-mixed-1.24",
        "three-mixed-1.25",
        "three-v4",
        "gate-off",
    ],
)
def test_validate_cluster_cidrs_messages(flag, version, gate, expected):
    parsed, error = rules.validate_cluster_cidrs(flag, Profile.for_version(version), gate)
    assert upstream(error) == expected
    if expected is None:
        assert [p.cidr for p in parsed] == [p.strip() for p in flag.strip().split(",")]
    else:
        assert error is not None and SEP in error


def test_validate_cluster_cidrs_host_bits_cleared_not_refused():
    parsed, error = rules.validate_cluster_cidrs(
        "10.244.1.7/16,fd00::5/48", Profile.for_version("1.30"), True
    )
    assert error is None
    assert [p.cidr for p in parsed] == ["10.244.0.0/16", "fd00::/48"]


# -- kube-controller-manager: service CIDRs --------------------------------------------


@pytest.mark.parametrize(
    ("flag", "gate", "expected"),
    [
        ("10.96.0.0/12,fd00::/108", True, None),
        ("", True, None),
        ("10.96.0.0/12,garbage", True, None),
        (
            "10.96.0.0/12,10.1.0.0/16",
            True,
            "serviceCIDR and secondaryServiceCIDR are not dualstack (from different IPfamiles)",
        ),
        (
            "10.96.0.0/12,fd00::/108",
            False,
            "secondary service cidr is provided and IPv6DualStack feature is not enabled",
        ),
    ],
    ids=["dual", "none", "unparsable-logged", "same-family", "gate-off"],
)
def test_kcm_service_cidr_error_messages(flag, gate, expected):
    assert upstream(rules.kcm_service_cidr_error(flag, gate)) == expected


def test_kcm_option_errors_three_entries():
    (message,) = rules.kcm_option_errors("10.0.0.0/16,fd00::/108,10.1.0.0/16")
    assert upstream(message) == "--service-cluster-ip-range can not contain more than two entries"
    assert rules.kcm_option_errors("10.0.0.0/16,fd00::/108") == []


# -- node masks --------------------------------------------------------------------------

DUAL_MASK_TEXT = "usage of --node-cidr-mask-size is not allowed with dual-stack clusters"
BOTH_TEXT = (
    "usage of --node-cidr-mask-size-ipv4 and --node-cidr-mask-size-ipv6 is not allowed if "
    "--node-cidr-mask-size is set. For dual-stack clusters please unset it and use IPFamily "
    "specific flags"
)
NON_DUAL_TEXT = (
    "usage of --node-cidr-mask-size-ipv4 and --node-cidr-mask-size-ipv6 are not allowed with "
    "non dual-stack clusters"
)


@pytest.mark.parametrize(
    ("cidrs", "flags", "version", "gate", "masks", "error"),
    [
        (("10.0.0.0/16", "fd00::/48"), (None, None, None), "1.30", True, {V4: 24, V6: 64}, None),
        (("10.0.0.0/16", "fd00::/48"), (None, 26, None), "1.30", True, {V4: 26, V6: 64}, None),
        (("10.0.0.0/16", "fd00::/48"), (None, None, 56), "1.30", True, {V4: 24, V6: 56}, None),
        (("10.0.0.0/16", "fd00::/48"), (24, None, None), "1.30", True, None, DUAL_MASK_TEXT),
        (("10.0.0.0/16",), (None, None, None), "1.30", True, {V4: 24, V6: 64}, None),
        (("fd00::/48",), (None, None, None), "1.30", True, {V4: 24, V6: 64}, None),
        (("fd00::/48",), (56, None, None), "1.30", True, {V4: 24, V6: 56}, None),
        (("10.0.0.0/16",), (26, None, None), "1.30", True, {V4: 26, V6: 64}, None),
        (("10.0.0.0/16",), (26, 24, None), "1.30", True, None, BOTH_TEXT),
        (("fd00::/48",), (56, None, 64), "1.30", True, None, BOTH_TEXT),
        (
            ("fd00::/48",),
            (None, 24, None),
            "1.30",
            True,
            None,
            "usage of --node-cidr-mask-size-ipv4 is not allowed for a single-stack IPv6 cluster",
        ),
        (
            ("10.0.0.0/16",),
            (None, None, 64),
            "1.30",
            True,
            None,
            "usage of --node-cidr-mask-size-ipv6 is not allowed for a single-stack IPv4 cluster",
        ),
        (("10.0.0.0/16",), (0, 0, 0), "1.30", True, {V4: 24, V6: 64}, None),
        (("10.0.0.0/16",), (26, None, None), "1.18", True, None, DUAL_MASK_TEXT),
        (("10.0.0.0/16", "fd00::/48"), (None, 25, 60), "1.17", True, {V4: 25, V6: 60}, None),
        (("10.0.0.0/16",), (None, 25, None), "1.18", False, None, NON_DUAL_TEXT),
        (("10.0.0.0/16",), (26, None, None), "1.18", False, {V4: 26, V6: 26}, None),
        (("fd00::/48",), (None, None, None), "1.17", False, {V4: 24, V6: 64}, None),
        (("10.244.0.0/16", "fc00::/24"), (None, None, None), "1.16", True, {V4: 24, V6: 24}, None),
        (("fd00::/48",), (64, None, None), "1.16", False, {V4: 64, V6: 64}, None),
    ],
    ids=[
        "dual-defaults",
        "dual-v4-only",
        "dual-v6-only",
        "dual-single-flag",
        "v4-defaults",
        "v6-defaults",
        "v6-single-flag",
        "v4-single-flag",
        "single-and-v4",
        "single-and-v6",
        "v6-cluster-v4-flag",
        "v4-cluster-v6-flag",
        "zero-means-unset",
        "1.18-gate-on-single-flag",
        "1.17-gate-on-per-family",
        "1.18-gate-off-per-family",
        "1.18-gate-off-single",
        "1.17-gate-off-v6-default",
        "1.16-default-24-for-both",
        "1.16-single",
    ],
)
def test_node_mask_sizes_per_release(cidrs, flags, version, gate, masks, error):
    got, message = rules.node_mask_sizes(pools(*cidrs), *flags, Profile.for_version(version), gate)
    assert upstream(message) == error
    if masks is not None:
        assert got == masks


@pytest.mark.parametrize(
    ("cidrs", "masks", "version", "expected"),
    [
        (("10.0.0.0/16",), {V4: 24}, "1.30", None),
        (("10.0.0.0/24",), {V4: 24}, "1.30", None),
        (
            ("10.0.0.0/25",),
            {V4: 24},
            "1.30",
            "Controller: Invalid --cluster-cidr, mask size of cluster CIDR must be less than or "
            "equal to --node-cidr-mask-size configured for CIDR family",
        ),
        (
            ("fd00::/96",),
            {V6: 64},
            "1.30",
            "Controller: Invalid --cluster-cidr, mask size of cluster CIDR must be less than or "
            "equal to --node-cidr-mask-size configured for CIDR family",
        ),
        (
            ("10.244.0.0/16", "fd00::/48"),
            {V4: 24, V6: 24},
            "1.16",
            "Controller: Invalid --cluster-cidr, mask size of cluster CIDR must be less than "
            "--node-cidr-mask-size",
        ),
        (("10.244.0.0/16", "fc00::/24"), {V4: 24, V6: 24}, "1.16", None),
        (
            ("10.0.0.0/16",),
            {V4: -1},
            "1.30",
            CONTROLLER_TEXT,
        ),
    ],
    ids=[
        "fits",
        "equal",
        "v4-too-long",
        "fd00-96-default",
        "1.16-caution",
        "1.16-fc00-24",
        "negative",
    ],
)
def test_controller_cidr_error_messages(cidrs, masks, version, expected):
    message = rules.controller_cidr_error(pools(*cidrs), masks, Profile.for_version(version))
    assert upstream(message) == expected


def test_controller_cidr_error_hint_names_longest_prefix():
    message = rules.controller_cidr_error(
        pools("fd00::/96"), {V6: 64}, Profile.for_version("1.30")
    )
    assert message is not None
    assert (
        "the longest IPv6 cluster prefix that fits a /64 node mask is /64 (e.g. fd00::/64)"
        in message
    )


def test_controller_cidr_error_1_16_hint_explains_caution():
    message = rules.controller_cidr_error(
        pools("10.244.0.0/16", "fd00::/48"), {V4: 24, V6: 24}, Profile.for_version("1.16")
    )
    assert message is not None and "between /8 and /24" in message


@pytest.mark.parametrize(
    ("cidr", "mask", "expected"),
    [
        ("fd00::/48", 64, None),
        ("fd00::/47", 64, "New CIDR set failed; the node CIDR size is too big"),
        ("fd00::/40", 64, "New CIDR set failed; the node CIDR size is too big"),
        ("fc00::/8", 24, None),
        ("fc00::/7", 24, "New CIDR set failed; the node CIDR size is too big"),
        ("10.0.0.0/8", 32, None),
        ("0.0.0.0/0", 32, None),
    ],
    ids=["v6-48", "v6-47", "fd00-40-default", "1.16-v6-8", "1.16-v6-7", "v4-no-limit", "v4-zero"],
)
def test_cidr_set_error_ipv6_gap(cidr, mask, expected):
    family = CIDRPool(cidr).family
    message = rules.cidr_set_error(pools(cidr), {family: mask})
    assert upstream(message) == expected
    if expected:
        assert message is not None and SEP in message


def test_cidr_set_error_hint_gives_shortest_prefix():
    message = rules.cidr_set_error(pools("fd00::/40"), {V6: 64})
    assert message is not None and "e.g. fd00::/48" in message


@pytest.mark.parametrize(
    ("cidr", "mask", "expected"),
    [
        ("fd00::/48", 129, "node mask size 129 is longer than the address (128 bits)"),
        ("10.0.0.0/8", 33, "node mask size 33 is longer than the address (32 bits)"),
        ("10.0.0.0/8", 32, None),
    ],
    ids=["v6-129", "v4-33", "v4-32"],
)
def test_node_mask_width_error_library_check(cidr, mask, expected):
    family = CIDRPool(cidr).family
    assert upstream(rules.node_mask_width_error(pools(cidr), {family: mask})) == expected


# -- properties --------------------------------------------------------------------------


@given(prefix=st.integers(0, 32))
def test_service_usable_ipv4_bitmap_never_exceeds_range(prefix):
    usable = rules.service_usable(prefix, V4, window=65536)
    assert 0 <= usable <= max(0, (1 << (32 - prefix)) - 2)


@given(prefix=st.integers(0, 128))
def test_service_usable_ipv6_bitmap_capped_by_window(prefix):
    assert 0 <= rules.service_usable(prefix, V6, window=65536) <= 65535


@given(prefix=st.integers(0, 128), family=st.sampled_from([V4, V6]))
def test_static_band_within_bounds(prefix, family):
    if prefix > family.width:
        return
    band = rules.static_band_size(prefix, family)
    assert band == 0 or 16 <= band <= 256


# -- ported: kubernetes cmd/kube-apiserver/app/options/validation_test.go ----------------


@pytest.mark.parametrize(
    ("flag", "fails"),
    [
        (",10.0.0.0/16", True),
        ("10.0.0.0/16,11.0.0.0/16", True),
        ("2000::/108,3000::/108", True),
        ("10.0.0.0/8", True),
        ("10.0.0.0/16,3000::/64", True),
        ("10.0.0.0/16", False),
        ("244.0.0.0/16", False),
        ("10.0.0.0/16,3000::/108", False),
        ("3000::/108,10.0.0.0/16", False),
    ],
    ids=[
        "only secondary service cidr",
        "not dual stack v4-v4",
        "not dual stack v6-v6",
        "service cidr is too big",
        "dual-stack secondary cidr too big",
        "valid primary",
        "valid primary, class E range",
        "valid v4-v6 dual stack",
        "valid v6-v4 dual stack",
    ],
)
def test_apiserver_service_range_upstream_test_cluster_service_ip_range(flag, fails):
    # TestClusterServiceIPRange (bitmap era: gates at 1.30's defaults, dual-stack GA).
    profile = Profile.for_version("1.30")
    gates, _, _ = rules.resolve_gates({}, profile)
    result = rules.apiserver_service_range(flag, profile, gates)
    assert bool(result.errors) is fails


@pytest.mark.parametrize(
    ("cidr", "expected"),
    [
        ("10.92.0.0/12", None),
        ("3000::/108", None),
        ("10.92.0.0/8", TOO_LARGE_V4),
        ("3000::/64", TOO_LARGE_V6),
    ],
    ids=["valid ipv4 cidr", "valid ipv6 cidr", "ipv4 cidr to big", "ipv6 cidr to big"],
)
def test_apiserver_service_range_upstream_test_validate_max_cidr_range(cidr, expected):
    # TestValidateMaxCIDRRange, through the whole flag check of a release with the limit.
    profile = Profile.for_version("1.30")
    gates, _, _ = rules.resolve_gates({}, profile)
    errors = rules.apiserver_service_range(cidr, profile, gates).errors
    assert [e.split(SEP)[0] for e in errors] == ([expected] if expected else [])


@pytest.mark.parametrize(
    ("cidrs", "flags", "version", "gate", "hint"),
    [
        (
            "10.0.0.0/8,fd00::/48",
            (64, None, None),
            "1.37",
            True,
            "--node-cidr-mask-size-ipv4=24 and --node-cidr-mask-size-ipv6=64",
        ),
        (
            "10.0.0.0/8,fd00::/48",
            (26, None, 60),
            "1.37",
            True,
            "--node-cidr-mask-size-ipv4=26 and --node-cidr-mask-size-ipv6=60",
        ),
        (
            "10.0.0.0/8",
            (26, None, None),
            "1.17",
            True,
            "--node-cidr-mask-size-ipv4=26 and --node-cidr-mask-size-ipv6=64",
        ),
        (
            "10.0.0.0/8",
            (20, None, 60),
            "1.37",
            False,
            "keep --node-cidr-mask-size=20 and drop --node-cidr-mask-size-ipv6=60",
        ),
        (
            "fd00::/48",
            (None, None, 60),
            "1.18",
            False,
            "give one --node-cidr-mask-size=60 for every family",
        ),
    ],
    ids=[
        "dual-64-goes-to-ipv6",
        "dual-keeps-given",
        "1.17-gate-on",
        "single-stack-mixed",
        "1.17-gate-off",
    ],
)
def test_node_mask_sizes_hint_names_flags_that_work(cidrs, flags, version, gate, hint):
    pools = tuple(CIDRPool(c) for c in cidrs.split(","))
    masks, error = rules.node_mask_sizes(pools, *flags, Profile.for_version(version), gate)
    assert masks == {} and error is not None
    assert hint in error.split(SEP)[1]


def test_more_than_two_service_ranges_hint_keeps_first_of_each_family():
    flag = "10.0.0.0/16,10.1.0.0/16,fd00::/112"
    (kcm,) = rules.kcm_option_errors(flag)
    profile = Profile.for_version("1.37")
    apiserver = rules.apiserver_service_range(flag, profile, rules.resolve_gates({}, profile)[0])
    for message in (kcm, apiserver.errors[0]):
        assert "--service-cluster-ip-range=10.0.0.0/16,fd00::/112" in message.split(SEP)[1]


# --- hints that name the flags the release has (review: nodes finding 7) ------------------


@pytest.mark.parametrize(
    ("cidrs", "masks", "version", "gate", "flag", "absent"),
    [
        pytest.param(
            "10.244.0.0/16,fc00::/7",
            {V4: 24, V6: 24},
            "1.16",
            True,
            "set --node-cidr-mask-size to at most 23, which sets the IPv4 node mask too",
            "--node-cidr-mask-size-ipv6",
            id="1.16-dual",
        ),
        pytest.param(
            "fd00::/40",
            {V4: 24, V6: 64},
            "1.17",
            False,
            "set --node-cidr-mask-size to at most 56 (with IPv6DualStack off 1.17 refuses",
            "--node-cidr-mask-size-ipv6",
            id="1.17-gate-off",
        ),
        pytest.param(
            "fd00::/40",
            {V4: 24, V6: 64},
            "1.18",
            True,
            "set --node-cidr-mask-size-ipv6 to at most 56",
            "which sets the IPv4",
            id="1.18-gate-on",
        ),
        pytest.param(
            "fd00::/40",
            {V4: 24, V6: 64},
            "1.30",
            True,
            "set --node-cidr-mask-size-ipv6 to at most 56",
            "which sets the IPv4",
            id="1.30",
        ),
    ],
)
def test_cidr_set_error_hint_names_the_release_mask_flag(
    cidrs, masks, version, gate, flag, absent
):
    message = rules.cidr_set_error(
        pools(*cidrs.split(",")), masks, Profile.for_version(version), dual_stack_gate=gate
    )
    assert upstream(message) == "New CIDR set failed; the node CIDR size is too big"
    hint = message.split(SEP)[1]
    assert flag in hint
    assert absent not in hint


def test_node_mask_sizes_1_16_explicit_zero_used_as_given():
    profile = Profile.for_version("1.16")
    masks, error = rules.node_mask_sizes(pools("10.244.0.0/16"), 0, None, None, profile, False)
    assert (masks, error) == ({V4: 0, V6: 0}, None)
    message = rules.controller_cidr_error(pools("10.244.0.0/16"), masks, profile)
    assert upstream(message) == (
        "Controller: Invalid --cluster-cidr, mask size of cluster CIDR must be less than "
        "--node-cidr-mask-size"
    )
    assert "drop the flag for the default /24" in message.split(SEP)[1]
    # From 1.17, 0 means "not set".
    masks, _ = rules.node_mask_sizes(
        pools("10.244.0.0/16"), 0, None, None, Profile.for_version("1.17"), False
    )
    assert masks[V4] == 24

"""Tests for dualstack.egress: ip-masq-agent's configuration and masquerade decision.

The upstream cases are ported from kubernetes-sigs/ip-masq-agent
cmd/ip-masq-agent/ip-masq-agent_test.go (TestConfigValidate, TestSyncConfig,
TestSyncMasqRules, TestSyncMasqRulesIPv6): their inputs and expectations, with the
iptables rules each expected rule set implies turned into decisions. Spec:
node-and-pod-ips.md §4.
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import json

import netaddr
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dualstack.egress import (
    DEFAULT_NON_MASQUERADE_CIDRS,
    RESERVED_NON_MASQUERADE_CIDRS,
    EgressPolicy,
)
from dualstack.errors import ConfigError, InvalidAddressError
from dualstack.pools import CIDRPool

try:
    import yaml  # noqa: F401

    HAVE_YAML = True
except ImportError:  # pragma: no cover
    HAVE_YAML = False

needs_yaml = pytest.mark.skipif(not HAVE_YAML, reason="PyYAML is not installed")

_PARSE = 'CIDR "{0}" could not be parsed, invalid CIDR address: {0}'
_SECONDS = datetime.timedelta(seconds=1)


def _message(error: pytest.ExceptionInfo[ConfigError]) -> str:
    return error.value.errors[0].split(" — ")[0]


# --- TestConfigValidate ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cidrs", "expected"),
    [
        ([], None),
        (list(DEFAULT_NON_MASQUERADE_CIDRS), None),
        (["abcdefg"], _PARSE.format("abcdefg")),
        (["10.0.0.0/8", "abcdefg"], _PARSE.format("abcdefg")),
        (["10.256.0.0/16"], _PARSE.format("10.256.0.0/16")),
        (
            ["10.0.0.1/8"],
            'CIDR "10.0.0.1/8" is not aligned to a CIDR block, '
            'ip: "10.0.0.1" network: "10.0.0.0/8"',
        ),
    ],
    ids=[
        "empty-cidr-list",
        "default-config",
        "cidr-not-matching-regex",
        "one-of-several-not-matching",
        "matches-regex-but-unparsable",
        "misaligned-cidr",
    ],
)
def test_egress_policy_upstream_validate_cases_config_validate(cidrs, expected):
    if expected is None:
        policy = EgressPolicy(non_masquerade_cidrs=cidrs, cidr_limit=64)
        assert policy.non_masquerade_cidrs == tuple(cidrs)
    else:
        with pytest.raises(ConfigError) as info:
            EgressPolicy(non_masquerade_cidrs=cidrs, cidr_limit=64)
        assert _message(info) == expected
        assert str(info.value).startswith(expected + " — ")


# --- TestSyncConfig (enable-ipv6 on) --------------------------------------------------------

_DEFAULTS = {
    "non_masquerade_cidrs": DEFAULT_NON_MASQUERADE_CIDRS,
    "masq_link_local": False,
    "masq_link_local_ipv6": False,
    "cidr_limit": 64,
    "resync_interval": 60 * _SECONDS,
}

_YAML_CASES = [
    pytest.param(
        "\nnonMasqueradeCIDRs:\n  - 172.16.0.0/12\n  - 10.0.0.0/8\ncidrLimit: 64\n"
        "masqLinkLocal: true\nresyncInterval: 5s\n",
        {
            "non_masquerade_cidrs": ("172.16.0.0/12", "10.0.0.0/8"),
            "masq_link_local": True,
            "resync_interval": 5 * _SECONDS,
        },
        id="valid-yaml-all-keys",
    ),
    pytest.param(
        "\nnonMasqueradeCIDRs:\n  - 192.168.0.0/16\n",
        {"non_masquerade_cidrs": ("192.168.0.0/16",)},
        id="valid-yaml-just-nonMasqueradeCIDRs",
    ),
    pytest.param(
        "\nmasqLinkLocal: true\n", {"masq_link_local": True}, id="valid-yaml-just-masqLinkLocal"
    ),
    pytest.param(
        "\nresyncInterval: 5m\n",
        {"resync_interval": 300 * _SECONDS},
        id="valid-yaml-just-resyncInterval",
    ),
]

_JSON_CASES = [
    pytest.param(
        '\n{\n  "nonMasqueradeCIDRs": ["172.16.0.0/12", "10.0.0.0/8"],\n'
        '  "masqLinkLocal": true,\n  "resyncInterval": "5s"\n}\n',
        {
            "non_masquerade_cidrs": ("172.16.0.0/12", "10.0.0.0/8"),
            "masq_link_local": True,
            "resync_interval": 5 * _SECONDS,
        },
        id="valid-json-all-keys",
    ),
    pytest.param(
        '\n{\n\t"nonMasqueradeCIDRs": ["192.168.0.0/16"]\n}\n',
        {"non_masquerade_cidrs": ("192.168.0.0/16",)},
        id="valid-json-just-nonMasqueradeCIDRs",
    ),
    pytest.param(
        '\n{\n\t"masqLinkLocal": true\n}\n',
        {"masq_link_local": True},
        id="valid-json-just-masqLinkLocal",
    ),
    pytest.param(
        '\n{\n\t"resyncInterval": "5m"\n}\n',
        {"resync_interval": 300 * _SECONDS},
        id="valid-json-just-resyncInterval",
    ),
    pytest.param(
        '\n\t\t{\n\t\t  "nonMasqueradeCIDRs": ["172.16.0.0/12", "10.0.0.0/8", "fc00::/7"],\n'
        '\t\t  "masqLinkLocal": true,\n\t\t  "resyncInterval": "5s"\n\t\t}\n\t\t',
        {
            "non_masquerade_cidrs": ("172.16.0.0/12", "10.0.0.0/8", "fc00::/7"),
            "masq_link_local": True,
            "resync_interval": 5 * _SECONDS,
        },
        id="valid-json-all-keys-with-ipv6-cidr",
    ),
]


def _assert_loaded(policy: EgressPolicy, overrides: dict[str, object]) -> None:
    expected = {**_DEFAULTS, **overrides}
    actual = {name: getattr(policy, name) for name in expected}
    assert actual == expected


@needs_yaml
@pytest.mark.parametrize(("text", "overrides"), _YAML_CASES)
def test_egress_policy_from_config_upstream_yaml_cases_load(text, overrides):
    _assert_loaded(EgressPolicy.from_config(text), overrides)


@pytest.mark.parametrize(("text", "overrides"), _JSON_CASES)
def test_egress_policy_from_config_upstream_json_cases_load(text, overrides):
    _assert_loaded(EgressPolicy.from_config(text), overrides)


@needs_yaml
def test_egress_policy_from_config_upstream_invalid_yaml_raises():
    with pytest.raises(ConfigError, match="as YAML"):
        EgressPolicy.from_config("*")


def test_egress_policy_from_config_upstream_invalid_json_raises_json_error():
    # A file that starts with "{" goes to the JSON decoder, never to YAML.
    with pytest.raises(ConfigError, match="as JSON"):
        EgressPolicy.from_config("{*")


def test_egress_policy_no_config_file_is_defaults():
    _assert_loaded(EgressPolicy(), {})


@pytest.mark.parametrize("text", ["", "   \n", "null"], ids=["empty", "blank", "null"])
def test_egress_policy_from_config_empty_document_is_defaults(text):
    assert EgressPolicy.from_config(text) == EgressPolicy()


def test_egress_policy_from_config_bytes_accepted():
    policy = EgressPolicy.from_config(b'{"masqLinkLocal": true}')
    assert policy.masq_link_local is True


# --- TestSyncMasqRules / TestSyncMasqRulesIPv6 as decisions -----------------------------------


@pytest.mark.parametrize(
    ("destination", "expected"),
    [
        ("169.254.169.254", False),
        ("10.1.2.3", True),
        ("172.16.0.1", True),
        ("8.8.8.8", True),
        ("fe80::1", False),
        ("fc00::1", True),
        ("2001:db8::1", True),
    ],
    ids=["link-local", "rfc1918-10", "rfc1918-172", "public", "v6-link-local", "ula", "v6"],
)
def test_egress_policy_upstream_empty_config_only_link_local_exempt(destination, expected):
    policy = EgressPolicy(non_masquerade_cidrs=[], cidr_limit=0)
    assert policy.should_masquerade(destination) is expected


@pytest.mark.parametrize(
    ("destination", "expected"),
    [
        ("169.254.0.1", False),
        ("10.0.0.0", False),
        ("10.255.255.255", False),
        ("172.16.0.1", False),
        ("172.31.255.255", False),
        ("172.32.0.0", True),
        ("192.168.1.1", False),
        ("192.169.0.1", True),
        ("100.64.0.1", True),
        ("8.8.8.8", True),
    ],
    ids=[
        "link-local",
        "10-first",
        "10-last",
        "172-first",
        "172-last",
        "172-past",
        "192-168",
        "192-169",
        "cgnat-masqueraded",
        "public",
    ],
)
def test_egress_policy_upstream_default_config_rfc1918_exempt(destination, expected):
    assert EgressPolicy().should_masquerade(destination) is expected


@pytest.mark.parametrize("cidr", RESERVED_NON_MASQUERADE_CIDRS)
def test_egress_policy_upstream_reserved_ranges_config_exempts_each(cidr):
    policy = EgressPolicy(nomasq_all_reserved_ranges=True)
    pool = CIDRPool(cidr)
    assert (
        policy.non_masquerade_cidrs == DEFAULT_NON_MASQUERADE_CIDRS + RESERVED_NON_MASQUERADE_CIDRS
    )
    assert not policy.should_masquerade(str(pool.network))
    assert EgressPolicy().should_masquerade(str(pool.network))


@pytest.mark.parametrize(
    ("destination", "expected"),
    [
        ("169.254.1.1", False),
        ("10.244.3.4", False),
        ("10.245.0.1", True),
        ("fe80::1", False),
        ("fc00::1", False),
        ("fdff::1", False),
        ("fe00::1", True),
        ("2001:db8::1", True),
    ],
    ids=["link-local", "in-v4", "past-v4", "v6-link-local", "fc00", "fd", "past-ula", "v6"],
)
def test_egress_policy_upstream_ipv4_and_ipv6_cidrs_each_family_its_own(destination, expected):
    policy = EgressPolicy(non_masquerade_cidrs=["10.244.0.0/16", "fc00::/7"])
    assert policy.should_masquerade(destination) is expected


def test_egress_policy_upstream_masq_link_local_ipv6_masquerades_fe80():
    policy = EgressPolicy(non_masquerade_cidrs=[], masq_link_local_ipv6=True)
    assert policy.should_masquerade("fe80::1") is True
    assert policy.should_masquerade("169.254.0.1") is False  # IPv4 link-local still exempt


def test_egress_policy_masq_link_local_masquerades_169_254():
    policy = EgressPolicy(masq_link_local=True)
    assert policy.should_masquerade("169.254.169.254") is True
    assert policy.should_masquerade("fe80::1") is False


def test_egress_policy_link_local_listed_still_exempt_with_masq_link_local():
    # The user's entries are RETURN rules too: listing 169.254.0.0/16 keeps it exempt.
    policy = EgressPolicy(non_masquerade_cidrs=["169.254.0.0/16"], masq_link_local=True)
    assert policy.should_masquerade("169.254.1.1") is False


# --- IPv6 off ---------------------------------------------------------------------------------


@pytest.mark.parametrize("destination", ["2001:db8::1", "fe80::1", "fc00::1"])
def test_egress_policy_ipv6_disabled_never_masquerades_ipv6(destination):
    policy = EgressPolicy(enable_ipv6=False, masq_link_local_ipv6=True)
    assert policy.should_masquerade(destination) is False
    assert policy.should_masquerade("8.8.8.8") is True


def test_egress_policy_ipv6_disabled_ipv6_cidr_raises_agent_message():
    with pytest.raises(ConfigError) as info:
        EgressPolicy(non_masquerade_cidrs=["10.0.0.0/8", "fc00::/7"], enable_ipv6=False)
    assert _message(info) == (
        "ipv6 is not enabled, but ipv6 cidr fc00::/7 provided. "
        "Enable ipv6 using --enable-ipv6 agent flag"
    )


def test_egress_policy_from_config_ipv6_disabled_ipv6_cidr_raises():
    text = json.dumps({"nonMasqueradeCIDRs": ["fc00::/7"]})
    with pytest.raises(ConfigError, match=r"^ipv6 is not enabled, but ipv6 cidr fc00::/7"):
        EgressPolicy.from_config(text, enable_ipv6=False)
    assert EgressPolicy.from_config(text).non_masquerade_cidrs == ("fc00::/7",)


# --- validation details -------------------------------------------------------------------------


def test_egress_policy_cidr_limit_exceeded_raises_agent_message():
    cidrs = [f"10.{i}.0.0/16" for i in range(5)]
    with pytest.raises(ConfigError) as info:
        EgressPolicy(non_masquerade_cidrs=cidrs, cidr_limit=4)
    assert _message(info) == (
        "the daemon can only accept up to 4 CIDRs (excluding link-local), "
        "but got 5 CIDRs (excluding link local)"
    )
    assert len(EgressPolicy(non_masquerade_cidrs=cidrs, cidr_limit=5).non_masquerade_cidrs) == 5


def test_egress_policy_cidr_limit_counts_both_families():
    with pytest.raises(ConfigError, match="up to 1 CIDRs"):
        EgressPolicy(non_masquerade_cidrs=["10.0.0.0/8", "fd00::/8"], cidr_limit=1)


def test_egress_policy_cidr_limit_checked_before_parsing():
    with pytest.raises(ConfigError, match=r"^the daemon can only accept up to 1 CIDRs"):
        EgressPolicy(non_masquerade_cidrs=["nope", "nope"], cidr_limit=1)


def test_egress_policy_from_config_cidr_limit_applies_to_default_list():
    with pytest.raises(ConfigError, match=r"up to 2 CIDRs .* but got 3 CIDRs"):
        EgressPolicy.from_config('{"cidrLimit": 2}')


def test_egress_policy_first_bad_entry_reported():
    with pytest.raises(ConfigError) as info:
        EgressPolicy(non_masquerade_cidrs=["10.0.0.1/8", "abcdefg"])
    assert "10.0.0.1/8" in _message(info)


def test_egress_policy_parse_checked_before_ipv6_switch_for_one_entry():
    with pytest.raises(ConfigError) as info:
        EgressPolicy(non_masquerade_cidrs=["fd00::1/8"], enable_ipv6=False)
    assert _message(info) == (
        'CIDR "fd00::1/8" is not aligned to a CIDR block, ip: "fd00::1" network: "fd00::/8"'
    )


@pytest.mark.parametrize(
    "cidr",
    ["010.0.0.0/8", "10.0.0.0/33", "10.0.0.0", "fd00::/129", "fe80::%eth0/64", " 10.0.0.0/8"],
    ids=["leading-zero", "prefix", "no-prefix", "v6-prefix", "zone", "space"],
)
def test_egress_policy_unparsable_cidr_raises_agent_message(cidr):
    with pytest.raises(ConfigError) as info:
        EgressPolicy(non_masquerade_cidrs=[cidr])
    assert _message(info) == _PARSE.format(cidr)


def test_egress_policy_ipv4_mapped_cidr_refused_with_hint():
    with pytest.raises(ConfigError) as info:
        EgressPolicy(non_masquerade_cidrs=["::ffff:10.0.0.0/104"])
    assert _message(info) == _PARSE.format("::ffff:10.0.0.0/104")
    assert "IPv4-mapped" in str(info.value)


def test_egress_policy_go_quoting_in_cidr_message():
    with pytest.raises(ConfigError) as info:
        EgressPolicy(non_masquerade_cidrs=['a"b'])
    assert _message(info) == 'CIDR "a\\"b" could not be parsed, invalid CIDR address: a"b'


def test_egress_policy_ipv6_entries_canonicalised():
    policy = EgressPolicy(non_masquerade_cidrs=["FD00:0:0::/8", "2001:DB8:0:0::/32"])
    assert policy.non_masquerade_cidrs == ("fd00::/8", "2001:db8::/32")


def test_egress_policy_netaddr_and_pool_entries_accepted():
    policy = EgressPolicy(
        non_masquerade_cidrs=[netaddr.IPNetwork("10.0.0.0/8"), CIDRPool("fd00::/8")]
    )
    assert policy.non_masquerade_cidrs == ("10.0.0.0/8", "fd00::/8")
    with pytest.raises(ConfigError, match="not aligned"):
        EgressPolicy(non_masquerade_cidrs=[netaddr.IPNetwork("10.0.0.1/8")])


@pytest.mark.parametrize("value", ["10.0.0.0/8", CIDRPool("10.0.0.0/8")], ids=["string", "pool"])
def test_egress_policy_single_cidr_instead_of_list_refused(value):
    with pytest.raises(ConfigError, match="must be a list"):
        EgressPolicy(non_masquerade_cidrs=value)  # type: ignore[arg-type]


def test_egress_policy_explicit_list_ignores_reserved_ranges_flag():
    policy = EgressPolicy(non_masquerade_cidrs=["10.0.0.0/8"], nomasq_all_reserved_ranges=True)
    assert policy.non_masquerade_cidrs == ("10.0.0.0/8",)


def test_egress_policy_from_config_present_list_replaces_reserved_defaults():
    policy = EgressPolicy.from_config(
        '{"nonMasqueradeCIDRs": []}', nomasq_all_reserved_ranges=True
    )
    assert policy.non_masquerade_cidrs == ()
    assert policy.should_masquerade("10.0.0.1") is True


# --- from_config: Go's JSON decoding -----------------------------------------------------


def test_egress_policy_from_config_keys_matched_case_insensitively():
    policy = EgressPolicy.from_config('{"MASQLINKLOCAL": true, "nonmasqueradecidrs": []}')
    assert policy.masq_link_local is True
    assert policy.non_masquerade_cidrs == ()


def test_egress_policy_from_config_unknown_keys_ignored():
    assert EgressPolicy.from_config('{"masqChain": "X", "other": 1}') == EgressPolicy()


def test_egress_policy_from_config_null_list_replaces_defaults_null_bool_ignored():
    policy = EgressPolicy.from_config(
        '{"nonMasqueradeCIDRs": null, "masqLinkLocal": null, "cidrLimit": null}'
    )
    assert policy.non_masquerade_cidrs == ()
    assert policy.masq_link_local is False
    assert policy.cidr_limit == 64


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '{"cidrLimit": "5"}',
            "json: cannot unmarshal string into Go struct field MasqConfig.cidrLimit of type int",
        ),
        (
            '{"cidrLimit": true}',
            "json: cannot unmarshal bool into Go struct field MasqConfig.cidrLimit of type int",
        ),
        (
            '{"cidrLimit": 1.5}',
            "json: cannot unmarshal number 1.5 into Go struct field MasqConfig.cidrLimit "
            "of type int",
        ),
        (
            '{"masqLinkLocal": "true"}',
            "json: cannot unmarshal string into Go struct field MasqConfig.masqLinkLocal "
            "of type bool",
        ),
        (
            '{"masqLinkLocalIPv6": 1}',
            "json: cannot unmarshal number into Go struct field MasqConfig.masqLinkLocalIPv6 "
            "of type bool",
        ),
        (
            '{"nonMasqueradeCIDRs": "10.0.0.0/8"}',
            "json: cannot unmarshal string into Go struct field MasqConfig.nonMasqueradeCIDRs "
            "of type []string",
        ),
        (
            '{"nonMasqueradeCIDRs": [10]}',
            "json: cannot unmarshal number into Go struct field MasqConfig.nonMasqueradeCIDRs "
            "of type string",
        ),
        (
            '{"resyncInterval": 60}',
            'expected string value for unmarshal to field of type Duration, got "60"',
        ),
        (
            '{"resyncInterval": null}',
            'expected string value for unmarshal to field of type Duration, got "null"',
        ),
        ("[]", "json: cannot unmarshal array into Go value of type main.MasqConfig"),
        ('"x"', "json: cannot unmarshal string into Go value of type main.MasqConfig"),
        ("5", "json: cannot unmarshal number into Go value of type main.MasqConfig"),
    ],
    ids=[
        "limit-string",
        "limit-bool",
        "limit-fraction",
        "bool-string",
        "bool-number",
        "list-string",
        "list-item-number",
        "duration-number",
        "duration-null",
        "top-array",
        "top-string",
        "top-number",
    ],
)
def test_egress_policy_from_config_wrong_type_raises_go_json_message(text, expected):
    with pytest.raises(ConfigError) as info:
        EgressPolicy.from_config(text)
    assert _message(info) == expected


@pytest.mark.parametrize(
    ("duration", "expected"),
    [
        ("60s", 60 * _SECONDS),
        ("5m", 300 * _SECONDS),
        ("1h30m", 5400 * _SECONDS),
        ("1.5s", 1.5 * _SECONDS),
        (".5s", 0.5 * _SECONDS),
        ("1.s", _SECONDS),
        ("500ms", 0.5 * _SECONDS),
        ("250us", datetime.timedelta(microseconds=250)),
        ("250µs", datetime.timedelta(microseconds=250)),
        ("0", datetime.timedelta(0)),
        ("-5s", -5 * _SECONDS),
        ("+5s", 5 * _SECONDS),
    ],
    ids=[
        "seconds",
        "minutes",
        "compound",
        "fraction",
        "leading-dot",
        "trailing-dot",
        "millis",
        "micros",
        "micro-sign",
        "zero",
        "negative",
        "plus",
    ],
)
def test_egress_policy_from_config_go_duration_parsed(duration, expected):
    policy = EgressPolicy.from_config(json.dumps({"resyncInterval": duration}))
    assert policy.resync_interval == expected


@pytest.mark.parametrize(
    ("duration", "expected"),
    [
        ("", 'time: invalid duration ""'),
        ("abc", 'time: invalid duration "abc"'),
        ("5", 'time: missing unit in duration "5"'),
        ("5x", 'time: unknown unit "x" in duration "5x"'),
        (".s", 'time: invalid duration ".s"'),
        ("-", 'time: invalid duration "-"'),
        ("3000000h", 'time: invalid duration "3000000h"'),
    ],
    ids=["empty", "word", "no-unit", "bad-unit", "dot-only", "sign-only", "overflow"],
)
def test_egress_policy_from_config_bad_go_duration_raises_time_message(duration, expected):
    with pytest.raises(ConfigError) as info:
        EgressPolicy.from_config(json.dumps({"resyncInterval": duration}))
    assert _message(info) == expected


@needs_yaml
def test_egress_policy_from_config_yaml_one_one_booleans_as_go_yaml_v2():
    policy = EgressPolicy.from_config("masqLinkLocal: yes\nmasqLinkLocalIPv6: on\n")
    assert (policy.masq_link_local, policy.masq_link_local_ipv6) == (True, True)


@needs_yaml
def test_egress_policy_from_config_yaml_empty_list_key_replaces_defaults():
    policy = EgressPolicy.from_config("nonMasqueradeCIDRs:\n")
    assert policy.non_masquerade_cidrs == ()


@needs_yaml
def test_egress_policy_from_config_yaml_wrong_type_raises_go_message():
    with pytest.raises(ConfigError, match=r"MasqConfig\.cidrLimit of type int"):
        EgressPolicy.from_config("cidrLimit: lots\n")


# --- value semantics and destinations ------------------------------------------------------------


def test_egress_policy_is_frozen():
    policy = EgressPolicy()
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.masq_link_local = True  # type: ignore[misc]


def test_egress_policy_equal_values_hash_equal():
    a = EgressPolicy()
    b = EgressPolicy(non_masquerade_cidrs=list(DEFAULT_NON_MASQUERADE_CIDRS))
    assert a == b
    assert hash(a) == hash(b)
    assert a != EgressPolicy(masq_link_local=True)
    assert EgressPolicy(nomasq_all_reserved_ranges=True) == EgressPolicy(
        non_masquerade_cidrs=DEFAULT_NON_MASQUERADE_CIDRS + RESERVED_NON_MASQUERADE_CIDRS
    )


@pytest.mark.parametrize(
    "policy",
    [
        EgressPolicy(),
        EgressPolicy(
            non_masquerade_cidrs=["fd00::/8"],
            masq_link_local=True,
            masq_link_local_ipv6=True,
            cidr_limit=3,
            resync_interval="1.5s",
        ),
        EgressPolicy(non_masquerade_cidrs=[], enable_ipv6=False),
    ],
    ids=["default", "everything", "ipv6-off"],
)
def test_egress_policy_repr_rebuilds_equal_value(policy):
    assert eval(repr(policy), {"EgressPolicy": EgressPolicy}) == policy


@pytest.mark.parametrize(
    "destination",
    ["10.1.2.3", netaddr.IPAddress("10.1.2.3"), "::ffff:10.1.2.3", "010.001.002.003"],
    ids=["text", "netaddr", "ipv4-mapped", "leading-zeros"],
)
def test_egress_policy_should_masquerade_ipv4_forms_agree(destination):
    assert EgressPolicy().should_masquerade(destination) is False
    assert EgressPolicy(non_masquerade_cidrs=[]).should_masquerade(destination) is True


@pytest.mark.parametrize("destination", ["nope", "10.0.0.0/8", None, ""])
def test_egress_policy_should_masquerade_invalid_destination_raises(destination):
    with pytest.raises(InvalidAddressError):
        EgressPolicy().should_masquerade(destination)


# --- property: the decision against a naive model ----------------------------------------

_v4_cidrs = st.builds(
    lambda v, p: str(ipaddress.IPv4Network((v, p), strict=False)),
    st.integers(0, 2**32 - 1),
    st.integers(0, 32),
)
_v6_cidrs = st.builds(
    lambda v, p: str(ipaddress.IPv6Network((v, p), strict=False)),
    st.integers(0, 2**128 - 1),
    st.integers(0, 128),
).filter(lambda c: not c.startswith("::ffff:") or c.endswith("/0"))
_destinations = st.one_of(
    st.integers(0, 2**32 - 1).map(lambda v: str(ipaddress.IPv4Address(v))),
    st.integers(0, 2**128 - 1)
    .filter(lambda v: v >> 32 != 0xFFFF)
    .map(lambda v: str(ipaddress.IPv6Address(v))),
    st.sampled_from(["169.254.1.1", "fe80::1", "10.0.0.1", "fd00::1", "febf::1"]),
)


def _naive(cidrs, masq_ll, masq_ll6, ipv6, destination) -> bool:
    address = ipaddress.ip_address(destination)
    if address.version == 4:
        if not masq_ll and address in ipaddress.ip_network("169.254.0.0/16"):
            return False
    else:
        if not ipv6:
            return False
        if not masq_ll6 and address in ipaddress.ip_network("fe80::/10"):
            return False
    for cidr in cidrs:
        network = ipaddress.ip_network(cidr)
        if network.version == address.version and address in network:
            return False
    return True


@given(
    cidrs=st.lists(st.one_of(_v4_cidrs, _v6_cidrs), max_size=6),
    masq_ll=st.booleans(),
    masq_ll6=st.booleans(),
    destinations=st.lists(_destinations, min_size=1, max_size=8),
)
def test_egress_policy_any_config_decision_matches_naive_model(
    cidrs, masq_ll, masq_ll6, destinations
):
    policy = EgressPolicy(
        non_masquerade_cidrs=cidrs, masq_link_local=masq_ll, masq_link_local_ipv6=masq_ll6
    )
    for destination in destinations:
        expected = _naive(cidrs, masq_ll, masq_ll6, True, destination)
        assert policy.should_masquerade(destination) is expected


@given(
    cidrs=st.lists(_v4_cidrs, max_size=6),
    masq_ll=st.booleans(),
    masq_ll6=st.booleans(),
    limit=st.integers(0, 8),
)
def test_egress_policy_any_config_json_file_equals_constructor(cidrs, masq_ll, masq_ll6, limit):
    text = json.dumps(
        {
            "nonMasqueradeCIDRs": cidrs,
            "masqLinkLocal": masq_ll,
            "masqLinkLocalIPv6": masq_ll6,
            "cidrLimit": limit,
        }
    )
    try:
        expected = EgressPolicy(
            non_masquerade_cidrs=cidrs,
            masq_link_local=masq_ll,
            masq_link_local_ipv6=masq_ll6,
            cidr_limit=limit,
        )
    except ConfigError as error:
        with pytest.raises(ConfigError) as info:
            EgressPolicy.from_config(text)
        assert info.value.errors == error.errors
    else:
        assert EgressPolicy.from_config(text) == expected


def test_egress_policy_from_config_without_pyyaml_yaml_raises_json_still_works(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "yaml", None)  # makes `import yaml` fail
    with pytest.raises(ConfigError, match="needs PyYAML"):
        EgressPolicy.from_config("masqLinkLocal: true\n")
    assert EgressPolicy.from_config('{"masqLinkLocal": true}').masq_link_local is True
    assert EgressPolicy.from_config("") == EgressPolicy()


@pytest.mark.parametrize(
    "literal", ["64.0", "1e2", "6.4E1"], ids=["point-zero", "exp", "upper-exp"]
)
def test_egress_policy_from_config_json_float_literal_for_int_raises_naming_literal(literal):
    with pytest.raises(ConfigError) as info:
        EgressPolicy.from_config(f'{{"cidrLimit": {literal}}}')
    assert _message(info) == (
        f"json: cannot unmarshal number {literal} into Go struct field "
        "MasqConfig.cidrLimit of type int"
    )


@needs_yaml
def test_egress_policy_from_config_yaml_integral_float_accepted_as_int():
    # The YAML-to-JSON step re-encodes 64.0 as 64, which Go's int field accepts.
    assert EgressPolicy.from_config("cidrLimit: 64.0\n").cidr_limit == 64


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_egress_policy_from_config_json_non_finite_constant_is_syntax_error(constant):
    with pytest.raises(ConfigError, match="as JSON"):
        EgressPolicy.from_config(f'{{"cidrLimit": {constant}}}')


def test_egress_policy_pickle_copy_and_replace_keep_behaviour():
    import copy
    import pickle

    policy = EgressPolicy(non_masquerade_cidrs=["10.244.0.0/16", "fd00::/8"])
    for clone in (pickle.loads(pickle.dumps(policy)), copy.copy(policy), copy.deepcopy(policy)):
        assert clone == policy
        assert clone.should_masquerade("10.244.0.1") is False
        assert clone.should_masquerade("fd00::1") is False
    changed = dataclasses.replace(policy, masq_link_local=True)
    assert changed.masq_link_local is True
    assert changed.non_masquerade_cidrs == policy.non_masquerade_cidrs
    assert changed.should_masquerade("169.254.0.1") is True
    with pytest.raises(ConfigError, match="not aligned"):
        dataclasses.replace(policy, non_masquerade_cidrs=("10.0.0.1/8",))


@pytest.mark.parametrize(
    "name",
    ["masq_link_local", "masq_link_local_ipv6", "enable_ipv6", "nomasq_all_reserved_ranges"],
)
@pytest.mark.parametrize("value", ["no", "false", 0, 1, None], ids=str)
def test_egress_policy_switch_not_bool_refused(name, value):
    # bool("no") is True: a coerced value would mean the opposite of what was written.
    with pytest.raises(ConfigError) as info:
        EgressPolicy(**{name: value})
    assert str(info.value).startswith(f"{name} must be True or False, got {value!r} — ")


@pytest.mark.parametrize("value", [5, 1.5, object()], ids=["int", "float", "object"])
def test_egress_policy_non_masquerade_cidrs_not_iterable_refused(value):
    with pytest.raises(ConfigError) as info:
        EgressPolicy(non_masquerade_cidrs=value)
    assert str(info.value).startswith(
        f"non_masquerade_cidrs must be a list of CIDRs, got {value!r}"
    )

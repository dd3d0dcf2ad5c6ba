"""Tests of dualstack.services: the Service pipeline of shared/spec/service-ips.md §3.

The pipeline is driven with real ``ServiceIPAllocator`` objects through a small harness
(no ``ClusterConfig``), so that every rule is checked on single-stack IPv4, single-stack
IPv6 and dual-stack clusters in both orders.
"""

from __future__ import annotations

import random
from types import MappingProxyType
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from dualstack.errors import FieldError, FieldErrorType, InvalidServiceError, RangeFullError
from dualstack.families import IPFamily, format_ip
from dualstack.service_ips import ServiceIPAllocator
from dualstack.services import (
    ServiceRules,
    _format_drawn,
    apply_v1_defaults,
    check_manifest,
    create_service,
    default_on_read,
    ip_warnings,
    normalize_cluster_ips,
    patch_allocated_values,
    service_addresses,
    update_service,
    validate_cluster_ips_related_fields,
    validate_service_update,
)

V4 = "10.0.0.0/16"
V6 = "fd00::/108"
CLUSTERS = {"v4": (V4,), "v6": (V6,), "v4v6": (V4, V6), "v6v4": (V6, V4)}

INVALID = FieldErrorType.INVALID
REQUIRED = FieldErrorType.REQUIRED
FORBIDDEN = FieldErrorType.FORBIDDEN
NOT_SUPPORTED = FieldErrorType.NOT_SUPPORTED
DUPLICATE = FieldErrorType.DUPLICATE


class Harness:
    """A Service registry over real allocators: what ``Cluster`` does, minus config."""

    def __init__(
        self,
        cidrs: tuple[str, ...],
        *,
        version: str | None = None,
        gates: dict[str, bool] | None = None,
        seed: int = 7,
    ) -> None:
        self.allocators: dict[IPFamily, ServiceIPAllocator] = {}
        self.rngs: dict[IPFamily, random.Random] = {}
        for i, cidr in enumerate(cidrs):
            rng = random.Random(seed + i)
            alloc = ServiceIPAllocator(cidr, version=version, rng=rng)
            self.allocators[alloc.family] = alloc
            self.rngs[alloc.family] = rng
        self.version = version
        self.rules = ServiceRules.for_families(
            list(self.allocators), version=version, feature_gates=gates
        )
        self.stored: dict[str, dict[str, Any]] = {}

    def with_families(self, cidrs: tuple[str, ...]) -> Harness:
        """The same stored Services on a cluster whose ranges changed (kept allocators)."""
        other = Harness(cidrs, version=self.version)
        for family, alloc in self.allocators.items():
            if family in other.allocators:
                other.allocators[family] = alloc
                other.rngs[family] = self.rngs[family]
        other.stored = self.stored
        return other

    def create(self, spec: dict[str, Any], name: str = "web") -> dict[str, Any]:
        outcome = create_service(
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec},
            self.rules,
            self.allocators,
            rngs=self.rngs,
        )
        self.stored[name] = outcome.service
        return outcome.service

    def update(self, spec: dict[str, Any], name: str = "web") -> dict[str, Any]:
        outcome = update_service(
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec},
            self.stored[name],
            self.rules,
            self.allocators,
            rngs=self.rngs,
        )
        for family, ip in outcome.release:
            self.allocators[family].release(ip)
        self.stored[name] = outcome.service
        return outcome.service

    def state(self) -> tuple[object, ...]:
        return tuple(
            (f, tuple(a.iter_ints()), self.rngs[f].getstate())
            for f, a in sorted(self.allocators.items())
        )

    def allocated(self) -> set[str]:
        return {str(ip) for a in self.allocators.values() for ip in a}


def svc(selector: bool = True, ports: bool = True, **fields: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if selector:
        spec["selector"] = {"app": "web"}
    if ports:
        spec["ports"] = [{"port": 80}]
    spec.update(fields)
    return spec


def invalid_text(err: InvalidServiceError) -> str:
    prefix = f'Service "{err.name}" is invalid: '
    text = err.message
    assert text.startswith(prefix)
    return text[len(prefix) :]


S, P, R = "SingleStack", "PreferDualStack", "RequireDualStack"
NOT_DUAL = (
    'spec.ipFamilyPolicy: Invalid value: "RequireDualStack": '
    "this cluster is not configured for dual-stack services"
)
MULTI_FAM = (
    "spec.ipFamilyPolicy: Invalid value: \"SingleStack\": must be 'RequireDualStack' or "
    "'PreferDualStack' when multiple IP families are specified"
)


def fam_not_configured(i: int, fam: str) -> str:
    return f'spec.ipFamilies[{i}]: Invalid value: "{fam}": not configured on this cluster'


# (id, spec, {cluster: (policy, families, number of addresses) or error text})
CREATE_TABLE: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "nothing-set",
        svc(),
        {
            "v4": (S, ["IPv4"], 1),
            "v6": (S, ["IPv6"], 1),
            "v4v6": (S, ["IPv4"], 1),
            "v6v4": (S, ["IPv6"], 1),
        },
    ),
    (
        "ipFamilies-IPv4",
        svc(ipFamilies=["IPv4"]),
        {
            "v4": (S, ["IPv4"], 1),
            "v6": fam_not_configured(0, "IPv4"),
            "v4v6": (S, ["IPv4"], 1),
            "v6v4": (S, ["IPv4"], 1),
        },
    ),
    (
        "ipFamilies-IPv6",
        svc(ipFamilies=["IPv6"]),
        {
            "v4": fam_not_configured(0, "IPv6"),
            "v6": (S, ["IPv6"], 1),
            "v4v6": (S, ["IPv6"], 1),
            "v6v4": (S, ["IPv6"], 1),
        },
    ),
    (
        "clusterIP-v4",
        svc(clusterIP="10.0.0.50"),
        {
            "v4": (S, ["IPv4"], 1),
            "v6": 'spec.clusterIPs[0]: Invalid value: []string{"10.0.0.50"}: '
            "IPv4 is not configured on this cluster",
            "v4v6": (S, ["IPv4"], 1),
            "v6v4": (S, ["IPv4"], 1),
        },
    ),
    (
        "clusterIPs-v6",
        svc(clusterIP="fd00::50", clusterIPs=["fd00::50"]),
        {
            "v4": 'spec.clusterIPs[0]: Invalid value: []string{"fd00::50"}: '
            "IPv6 is not configured on this cluster",
            "v6": (S, ["IPv6"], 1),
            "v4v6": (S, ["IPv6"], 1),
            "v6v4": (S, ["IPv6"], 1),
        },
    ),
    (
        "prefer",
        svc(ipFamilyPolicy=P),
        {
            "v4": (P, ["IPv4"], 1),
            "v6": (P, ["IPv6"], 1),
            "v4v6": (P, ["IPv4", "IPv6"], 2),
            "v6v4": (P, ["IPv6", "IPv4"], 2),
        },
    ),
    (
        "prefer-ipFamilies-IPv6",
        svc(ipFamilyPolicy=P, ipFamilies=["IPv6"]),
        {
            "v4": fam_not_configured(0, "IPv6"),
            "v6": (P, ["IPv6"], 1),
            "v4v6": (P, ["IPv6", "IPv4"], 2),
            "v6v4": (P, ["IPv6", "IPv4"], 2),
        },
    ),
    (
        "prefer-clusterIP-v6",
        svc(ipFamilyPolicy=P, clusterIP="fd00::50"),
        {
            "v4": 'spec.clusterIPs[0]: Invalid value: []string{"fd00::50"}: '
            "IPv6 is not configured on this cluster",
            "v6": (P, ["IPv6"], 1),
            "v4v6": (P, ["IPv6", "IPv4"], 2),
            "v6v4": (P, ["IPv6", "IPv4"], 2),
        },
    ),
    (
        "require",
        svc(ipFamilyPolicy=R),
        {
            "v4": NOT_DUAL,
            "v6": NOT_DUAL,
            "v4v6": (R, ["IPv4", "IPv6"], 2),
            "v6v4": (R, ["IPv6", "IPv4"], 2),
        },
    ),
    (
        "require-IPv6-first",
        svc(ipFamilyPolicy=R, ipFamilies=["IPv6", "IPv4"]),
        {
            "v4": f"[{NOT_DUAL}, {fam_not_configured(0, 'IPv6')}]",
            "v6": f"[{NOT_DUAL}, {fam_not_configured(1, 'IPv4')}]",
            "v4v6": (R, ["IPv6", "IPv4"], 2),
            "v6v4": (R, ["IPv6", "IPv4"], 2),
        },
    ),
    (
        "single-two-families",
        svc(ipFamilyPolicy=S, ipFamilies=["IPv4", "IPv6"]),
        dict.fromkeys(CLUSTERS, MULTI_FAM),
    ),
    (
        "no-policy-two-families",
        svc(ipFamilies=["IPv4", "IPv6"]),
        dict.fromkeys(CLUSTERS, MULTI_FAM),
    ),
    (
        "headless-with-selector",
        svc(clusterIP="None"),
        {
            "v4": (S, ["IPv4"], 0),
            "v6": (S, ["IPv6"], 0),
            "v4v6": (S, ["IPv4"], 0),
            "v6v4": (S, ["IPv6"], 0),
        },
    ),
    (
        "headless-with-selector-prefer",
        svc(clusterIP="None", ipFamilyPolicy=P),
        {
            "v4": (P, ["IPv4"], 0),
            "v6": (P, ["IPv6"], 0),
            "v4v6": (P, ["IPv4", "IPv6"], 0),
            "v6v4": (P, ["IPv6", "IPv4"], 0),
        },
    ),
    (
        "headless-with-selector-IPv6-on-v4",
        svc(clusterIP="None", ipFamilies=["IPv6"]),
        {
            "v4": fam_not_configured(0, "IPv6"),
            "v6": (S, ["IPv6"], 0),
            "v4v6": (S, ["IPv6"], 0),
            "v6v4": (S, ["IPv6"], 0),
        },
    ),
    (
        "headless-selectorless",
        svc(selector=False, ports=False, clusterIP="None"),
        {
            "v4": (R, ["IPv4", "IPv6"], 0),
            "v6": (R, ["IPv6", "IPv4"], 0),
            "v4v6": (R, ["IPv4", "IPv6"], 0),
            "v6v4": (R, ["IPv6", "IPv4"], 0),
        },
    ),
    (
        "headless-selectorless-single-IPv6",
        svc(selector=False, clusterIP="None", ipFamilyPolicy=S, ipFamilies=["IPv6"]),
        dict.fromkeys(CLUSTERS, (S, ["IPv6"], 0)),
    ),
    (
        "headless-selectorless-prefer-v6-v4",
        svc(selector=False, clusterIP="None", ipFamilyPolicy=P, ipFamilies=["IPv6", "IPv4"]),
        dict.fromkeys(CLUSTERS, (P, ["IPv6", "IPv4"], 0)),
    ),
    (
        "headless-selectorless-require",
        svc(selector=False, clusterIP="None", ipFamilyPolicy=R),
        {
            "v4": (R, ["IPv4", "IPv6"], 0),
            "v6": (R, ["IPv6", "IPv4"], 0),
            "v4v6": (R, ["IPv4", "IPv6"], 0),
            "v6v4": (R, ["IPv6", "IPv4"], 0),
        },
    ),
    (
        "nodeport",
        svc(type="NodePort"),
        {
            "v4": (S, ["IPv4"], 1),
            "v6": (S, ["IPv6"], 1),
            "v4v6": (S, ["IPv4"], 1),
            "v6v4": (S, ["IPv6"], 1),
        },
    ),
    (
        "loadbalancer-prefer",
        svc(type="LoadBalancer", ipFamilyPolicy=P),
        {
            "v4": (P, ["IPv4"], 1),
            "v6": (P, ["IPv6"], 1),
            "v4v6": (P, ["IPv4", "IPv6"], 2),
            "v6v4": (P, ["IPv6", "IPv4"], 2),
        },
    ),
    (
        "externalname",
        svc(ports=False, type="ExternalName", externalName="db.example.com"),
        dict.fromkeys(CLUSTERS, (None, None, 0)),
    ),
]

CREATE_CASES = [
    pytest.param(spec, kind, expected[kind], id=f"{row_id}-{kind}")
    for row_id, spec, expected in CREATE_TABLE
    for kind in CLUSTERS
]


@pytest.mark.parametrize(("spec", "kind", "expected"), CREATE_CASES)
def test_create_defaulting_table_row_matches_spec(spec, kind, expected):
    h = Harness(CLUSTERS[kind])
    if isinstance(expected, str):
        before = h.state()
        with pytest.raises(InvalidServiceError) as info:
            h.create(spec)
        assert invalid_text(info.value) == expected
        assert h.state() == before
        return
    policy, families, count = expected
    stored = h.create(spec)["spec"]
    assert stored.get("ipFamilyPolicy") == policy
    assert stored.get("ipFamilies") == families
    ips = stored.get("clusterIPs") or []
    real = [ip for ip in ips if ip != "None"]
    assert len(real) == count
    assert h.allocated() == set(real)
    if real:
        assert stored["clusterIP"] == ips[0]
        assert [IPFamily.of(ip).value for ip in ips] == families[: len(ips)]
    if spec.get("clusterIP") == "None":
        assert ips == ["None"] and stored["clusterIP"] == "None"
    if stored["type"] == "ExternalName":
        assert "clusterIP" not in stored and "clusterIPs" not in stored
    requested = spec.get("clusterIP")
    if requested and requested != "None":
        assert ips[0] == requested


def test_create_no_policy_two_families_before_1_23_defaults_require():
    h = Harness((V4, V6), version="1.21")
    stored = h.create(svc(ipFamilies=["IPv6", "IPv4"]))["spec"]
    assert stored["ipFamilyPolicy"] == R
    assert stored["ipFamilies"] == ["IPv6", "IPv4"]
    assert len(stored["clusterIPs"]) == 2


def test_create_headless_selectorless_prefer_1_20_single_stack_one_family():
    h = Harness((V4,), version="1.20", gates={"IPv6DualStack": True})
    stored = h.create(svc(selector=False, clusterIP="None", ipFamilyPolicy=P))["spec"]
    assert stored["ipFamilies"] == ["IPv4"]
    h21 = Harness((V4,), version="1.21")
    assert h21.create(svc(selector=False, clusterIP="None", ipFamilyPolicy=P))["spec"][
        "ipFamilies"
    ] == ["IPv4", "IPv6"]


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        pytest.param(
            "1.21",
            'spec.ipFamilyPolicy: Invalid value: "RequireDualStack": '
            "Cluster is not configured for dual stack services",
            id="1.21",
        ),
        pytest.param("1.23", NOT_DUAL, id="1.23"),
    ],
)
def test_create_require_single_stack_text_per_release(version, expected):
    h = Harness((V4,), version=version)
    with pytest.raises(InvalidServiceError) as info:
        h.create(svc(ipFamilyPolicy=R))
    assert invalid_text(info.value) == expected


def test_create_gate_off_1_20_drops_dual_stack_fields():
    h = Harness((V4,), version="1.20")
    stored = h.create(svc(ipFamilyPolicy=P, ipFamilies=["IPv4"]))["spec"]
    assert "ipFamilies" not in stored and "ipFamilyPolicy" not in stored
    assert stored["clusterIPs"] == [stored["clusterIP"]]
    assert h.allocated() == {stored["clusterIP"]}


def test_create_gate_off_1_20_trims_cluster_ips_to_one():
    h = Harness((V4,), version="1.20")
    stored = h.create(svc(clusterIP="10.0.0.7", clusterIPs=["10.0.0.7", "fd00::7"]))["spec"]
    assert stored["clusterIPs"] == ["10.0.0.7"]


# --- §3.4 error texts --------------------------------------------------------------------
def fe(type_: FieldErrorType, path: str, text: str) -> tuple[FieldErrorType, str, str]:
    return (type_, path, text)


DIRECT_CASES = [
    pytest.param(
        {"clusterIP": "10.0.0.1"},
        [fe(REQUIRED, "spec.clusterIPs", "spec.clusterIPs: Required value")],
        id="clusterIPs-required",
    ),
    pytest.param(
        {"clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.2"]},
        [
            fe(
                INVALID,
                "spec.clusterIPs",
                'spec.clusterIPs: Invalid value: []string{"10.0.0.2"}: '
                "first value must match `clusterIP`",
            )
        ],
        id="first-must-match",
    ),
    pytest.param(
        {"clusterIPs": ["10.0.0.2"]},
        [
            fe(
                INVALID,
                "spec.clusterIPs",
                'spec.clusterIPs: Invalid value: []string{"10.0.0.2"}: '
                "must be empty when `clusterIP` is not specified",
            )
        ],
        id="must-be-empty",
    ),
    pytest.param(
        {"ipFamilies": ["IPv5"]},
        [
            fe(
                NOT_SUPPORTED,
                "spec.ipFamilies[0]",
                'spec.ipFamilies[0]: Unsupported value: "IPv5": supported values: "IPv4", "IPv6"',
            )
        ],
        id="family-unsupported",
    ),
    pytest.param(
        {"ipFamilies": ["IPv4", "IPv4"]},
        [fe(DUPLICATE, "spec.ipFamilies[1]", 'spec.ipFamilies[1]: Duplicate value: "IPv4"')],
        id="family-duplicate",
    ),
    pytest.param(
        {"ipFamilyPolicy": "DualStack"},
        [
            fe(
                NOT_SUPPORTED,
                "spec.ipFamilyPolicy",
                'spec.ipFamilyPolicy: Unsupported value: "DualStack": supported values: '
                '"PreferDualStack", "RequireDualStack", "SingleStack"',
            )
        ],
        id="policy-unsupported",
    ),
    pytest.param(
        {"clusterIP": "None", "clusterIPs": ["None", "10.0.0.1"]},
        [
            fe(
                INVALID,
                "spec.clusterIPs",
                'spec.clusterIPs: Invalid value: []string{"None", "10.0.0.1"}: '
                "'None' must be the first and only value",
            )
        ],
        id="none-first-and-only",
    ),
    pytest.param(
        {"clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.1", "foo"]},
        [
            fe(
                INVALID,
                "spec.clusterIPs[1]",
                'spec.clusterIPs[1]: Invalid value: "foo": must be a valid IP address, '
                "(e.g. 10.9.8.7 or 2001:db8::ffff)",
            )
        ],
        id="invalid-ip",
    ),
    pytest.param(
        {"clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.1", "fd00::1", "10.0.0.2"]},
        [
            fe(
                INVALID,
                "spec.clusterIPs",
                'spec.clusterIPs: Invalid value: []string{"10.0.0.1", "fd00::1", "10.0.0.2"}: '
                "may only hold up to 2 values",
            )
        ],
        id="three-ips",
    ),
    pytest.param(
        {"clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.1", "10.0.0.2"]},
        [
            fe(
                INVALID,
                "spec.clusterIPs",
                'spec.clusterIPs: Invalid value: []string{"10.0.0.1", "10.0.0.2"}: '
                "may specify no more than one IP for each IP family",
            )
        ],
        id="one-ip-per-family",
    ),
    pytest.param(
        {"clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.1"], "ipFamilies": ["IPv6"]},
        [
            fe(
                INVALID,
                "spec.clusterIPs[0]",
                'spec.clusterIPs[0]: Invalid value: "10.0.0.1": '
                "expected an IPv6 value as indicated by `ipFamilies[0]`",
            )
        ],
        id="expected-ipv6",
    ),
    pytest.param(
        {
            "clusterIP": "::ffff:10.0.0.1",
            "clusterIPs": ["::ffff:10.0.0.1"],
            "ipFamilies": ["IPv6"],
        },
        [
            fe(
                INVALID,
                "spec.clusterIPs[0]",
                'spec.clusterIPs[0]: Invalid value: "::ffff:10.0.0.1": '
                "expected an IPv6 value as indicated by `ipFamilies[0]`",
            )
        ],
        id="ipv4-mapped-counts-as-ipv4",
    ),
    pytest.param(
        {"clusterIP": "fd00::1", "clusterIPs": ["fd00::1"], "ipFamilies": ["IPv4"]},
        [
            fe(
                INVALID,
                "spec.clusterIPs[0]",
                'spec.clusterIPs[0]: Invalid value: "fd00::1": '
                "expected an IPv4 value as indicated by `ipFamilies[0]`",
            )
        ],
        id="expected-ipv4",
    ),
]


@pytest.mark.parametrize(("spec", "expected"), DIRECT_CASES)
def test_validate_cluster_ips_related_fields_case_gives_upstream_error(spec, expected):
    rules = ServiceRules.for_families(["IPv4", "IPv6"])
    errs = validate_cluster_ips_related_fields({"type": "ClusterIP", **spec}, rules)
    assert [(e.type, e.field, str(e)) for e in errs] == expected


def test_validate_cluster_ips_related_fields_external_name_skipped():
    rules = ServiceRules.for_families(["IPv4"])
    spec = {"type": "ExternalName", "clusterIPs": ["foo"], "ipFamilies": ["IPv9"]}
    assert validate_cluster_ips_related_fields(spec, rules) == []


def test_validate_strict_ips_refuses_leading_zeros_and_mapped_ratcheted():
    rules = ServiceRules.for_families(
        ["IPv4", "IPv6"], version="1.33", feature_gates={"StrictIPCIDRValidation": True}
    )
    spec = {"type": "ClusterIP", "clusterIP": "010.0.0.1", "clusterIPs": ["010.0.0.1"]}
    errs = validate_cluster_ips_related_fields(spec, rules)
    assert [str(e) for e in errs] == [
        'spec.clusterIPs[0]: Invalid value: "010.0.0.1": must not have leading 0s'
    ]
    mapped = {"type": "ClusterIP", "clusterIP": "::ffff:1.2.3.4", "clusterIPs": ["::ffff:1.2.3.4"]}
    assert [str(e) for e in validate_cluster_ips_related_fields(mapped, rules)] == [
        'spec.clusterIPs[0]: Invalid value: "::ffff:1.2.3.4": '
        "must not be an IPv4-mapped IPv6 address"
    ]
    assert validate_cluster_ips_related_fields(spec, rules, old=spec) == []


CREATE_ERROR_CASES = [
    pytest.param(
        "v4",
        svc(type="LoadBalancer", clusterIP="None"),
        [
            fe(
                INVALID,
                "spec.clusterIPs[0]",
                'spec.clusterIPs[0]: Invalid value: "None": '
                "may not be set to 'None' for LoadBalancer services",
            )
        ],
        id="loadbalancer-headless",
    ),
    pytest.param(
        "v4",
        svc(type="NodePort", clusterIP="None"),
        [
            fe(
                INVALID,
                "spec.clusterIPs[0]",
                'spec.clusterIPs[0]: Invalid value: "None": '
                "may not be set to 'None' for NodePort services",
            )
        ],
        id="nodeport-headless",
    ),
    pytest.param(
        "v4v6",
        svc(
            type="ExternalName",
            externalName="db.example.com",
            clusterIP="10.0.0.9",
            ipFamilies=["IPv4"],
            ipFamilyPolicy=S,
        ),
        [
            fe(
                FORBIDDEN,
                "spec.clusterIPs",
                "spec.clusterIPs: Forbidden: may not be set for ExternalName services",
            ),
            fe(
                FORBIDDEN,
                "spec.ipFamilies",
                "spec.ipFamilies: Forbidden: may not be set for ExternalName services",
            ),
            fe(
                FORBIDDEN,
                "spec.ipFamilyPolicy",
                "spec.ipFamilyPolicy: Forbidden: may not be set for ExternalName services",
            ),
        ],
        id="externalname-fields-set",
    ),
    pytest.param(
        "v4",
        svc(type="ExternalName"),
        [fe(REQUIRED, "spec.externalName", "spec.externalName: Required value")],
        id="externalname-missing-name",
    ),
    pytest.param(
        "v4",
        svc(ports=False),
        [fe(REQUIRED, "spec.ports", "spec.ports: Required value")],
        id="ports-required",
    ),
    pytest.param(
        "v4",
        svc(type="Foo"),
        [
            fe(
                NOT_SUPPORTED,
                "spec.type",
                'spec.type: Unsupported value: "Foo": supported values: '
                '"ClusterIP", "ExternalName", "LoadBalancer", "NodePort"',
            )
        ],
        id="type-unsupported",
    ),
]


@pytest.mark.parametrize(("kind", "spec", "expected"), CREATE_ERROR_CASES)
def test_create_type_rule_violated_gives_upstream_error(kind, spec, expected):
    h = Harness(CLUSTERS[kind])
    before = h.state()
    with pytest.raises(InvalidServiceError) as info:
        h.create(spec)
    assert [(e.type, e.field, str(e)) for e in info.value.field_errors] == expected
    assert h.state() == before


def test_create_taken_ip_already_allocated_text():
    h = Harness((V4,))
    h.create(svc(clusterIP="10.0.0.10"), name="a")
    with pytest.raises(InvalidServiceError) as info:
        h.create(svc(clusterIP="10.0.0.10"), name="b")
    assert str(info.value).startswith(
        'Service "b" is invalid: spec.clusterIPs: Invalid value: []string{"10.0.0.10"}: '
        "failed to allocate IP 10.0.0.10: provided IP is already allocated"
    )
    (err,) = info.value.field_errors
    assert (err.type, err.field) == (INVALID, "spec.clusterIPs")


def test_create_prefer_taken_primary_shows_empty_marker():
    h = Harness((V4, V6))
    h.create(svc(clusterIP="10.0.0.10"), name="a")
    before = h.state()
    with pytest.raises(InvalidServiceError) as info:
        h.create(svc(clusterIP="10.0.0.10", ipFamilyPolicy=P), name="b")
    assert invalid_text(info.value) == (
        'spec.clusterIPs: Invalid value: []string{"10.0.0.10", ""}: '
        "failed to allocate IP 10.0.0.10: provided IP is already allocated"
    )
    assert h.state() == before


@pytest.mark.parametrize(
    ("version", "detail"),
    [
        pytest.param(
            "1.22",
            "failed to allocated ip:1.1.1.1 with error:provided IP is not in the valid range. "
            "The range of valid IPs is 10.0.0.0/16",
            id="1.22",
        ),
        pytest.param(
            "1.25",
            "failed to allocate IP 1.1.1.1: the provided IP (1.1.1.1) is not in the valid "
            "range. The range of valid IPs is 10.0.0.0/16",
            id="1.25",
        ),
        pytest.param(
            "1.30",
            "failed to allocate IP 1.1.1.1: the provided IP (1.1.1.1) is not in the valid "
            "range. The range of valid IPs is 10.0.0.0/16",
            id="1.30",
        ),
        pytest.param(
            None,
            "failed to allocate IP 1.1.1.1: the provided network does not match the current range",
            id="newest",
        ),
    ],
)
def test_create_out_of_range_text_per_release(version, detail):
    h = Harness((V4,), version=version)
    with pytest.raises(InvalidServiceError) as info:
        h.create(svc(clusterIP="1.1.1.1"))
    assert (
        invalid_text(info.value)
        == f'spec.clusterIPs: Invalid value: []string{{"1.1.1.1"}}: {detail}'
    )


def test_create_range_full_raises_range_full_and_changes_nothing():
    h = Harness(("10.0.0.0/29", "fd00::/125"))
    for i in range(6):
        h.create(svc(), name=f"s{i}")
    before = h.state()
    with pytest.raises(RangeFullError) as info:
        h.create(svc(ipFamilyPolicy=P, ipFamilies=["IPv6"]), name="late")
    assert str(info.value).startswith(
        "Internal error occurred: failed to allocate a serviceIP: range is full"
    )
    assert h.state() == before


def test_create_post_validation_failure_draws_no_random_number():
    h = Harness((V4, V6))
    before = h.state()
    with pytest.raises(InvalidServiceError):
        h.create(svc(ipFamilyPolicy=P, sessionAffinity="Sticky"))
    assert h.state() == before


def test_create_manifest_not_mutated():
    h = Harness((V4, V6))
    manifest = {"metadata": {"name": "web"}, "spec": svc(ipFamilyPolicy=P)}
    frozen = repr(manifest)
    create_service(manifest, h.rules, h.allocators, rngs=h.rngs)
    assert repr(manifest) == frozen


# --- shape --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("manifest", "field_path"),
    [
        pytest.param(["not", "a", "dict"], "<manifest>", id="not-mapping"),
        pytest.param({"kind": "Pod", "metadata": {"name": "x"}}, "kind", id="wrong-kind"),
        pytest.param({"apiVersion": "apps/v1", "metadata": {"name": "x"}}, "apiVersion", id="api"),
        pytest.param({"spec": {}}, "metadata.name", id="missing-name"),
        pytest.param({"metadata": {"name": 5}}, "metadata.name", id="name-not-string"),
        pytest.param({"metadata": {"name": "x"}, "spec": []}, "spec", id="spec-list"),
        pytest.param(
            {"metadata": {"name": "x"}, "spec": {"clusterIPs": "10.0.0.1"}},
            "spec.clusterIPs",
            id="clusterIPs-string",
        ),
        pytest.param(
            {"metadata": {"name": "x"}, "spec": {"ipFamilies": ["IPv4", 6]}},
            "spec.ipFamilies[1]",
            id="family-number",
        ),
        pytest.param(
            {"metadata": {"name": "x"}, "spec": {"ports": [{"port": "80"}]}},
            "spec.ports[0].port",
            id="port-string",
        ),
        pytest.param(
            {"metadata": {"name": "x"}, "spec": {"type": 3}}, "spec.type", id="type-number"
        ),
    ],
)
def test_check_manifest_bad_shape_names_field(manifest, field_path):
    with pytest.raises(InvalidServiceError) as info:
        check_manifest(manifest)
    assert field_path in [e.field for e in info.value.field_errors]
    assert field_path in str(info.value)


def test_check_manifest_nulls_are_absent_and_namespace_defaults():
    obj = check_manifest({"metadata": {"name": "x"}, "spec": {"clusterIP": None, "ports": None}})
    assert obj["metadata"]["namespace"] == "default"
    assert obj["spec"] == {}


def test_create_bad_name_dns1035_error():
    h = Harness((V4,))
    with pytest.raises(InvalidServiceError) as info:
        h.create(svc(), name="Web_1")
    assert [e.field for e in info.value.field_errors] == ["metadata.name"]
    assert "a DNS-1035 label must consist of lower case alphanumeric" in str(info.value)


# --- linkage helpers -------------------------------------------------------------------------
def test_normalize_cluster_ips_create_fills_plural_only():
    spec: dict[str, Any] = {"clusterIP": "10.0.0.1"}
    normalize_cluster_ips(spec, None)
    assert spec["clusterIPs"] == ["10.0.0.1"]
    spec2: dict[str, Any] = {"clusterIPs": ["10.0.0.1"]}
    normalize_cluster_ips(spec2, None)
    assert "clusterIP" not in spec2


def test_normalize_cluster_ips_update_cases():
    old = {"clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.1", "fd00::1"]}
    restored: dict[str, Any] = {"clusterIP": "10.0.0.1"}
    normalize_cluster_ips(restored, old)
    assert restored["clusterIPs"] == ["10.0.0.1", "fd00::1"]
    cleared: dict[str, Any] = {"clusterIP": "", "clusterIPs": ["10.0.0.1", "fd00::1"]}
    normalize_cluster_ips(cleared, old)
    assert "clusterIPs" not in cleared
    changed: dict[str, Any] = {"clusterIP": "10.0.0.2", "clusterIPs": ["10.0.0.1", "fd00::1"]}
    normalize_cluster_ips(changed, old)
    assert changed["clusterIPs"] == ["10.0.0.2"]


def test_patch_allocated_values_skips_external_name():
    old = {"type": "ClusterIP", "clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.1"]}
    spec: dict[str, Any] = {"type": "ExternalName"}
    patch_allocated_values(spec, old)
    assert "clusterIP" not in spec
    spec2: dict[str, Any] = {"type": "NodePort"}
    patch_allocated_values(spec2, old)
    assert spec2["clusterIPs"] == ["10.0.0.1"] and spec2["clusterIP"] == "10.0.0.1"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param(
            {"clusterIP": "None"},
            {"ipFamilyPolicy": R, "ipFamilies": ["IPv6", "IPv4"]},
            id="headless-selectorless",
        ),
        pytest.param(
            {"clusterIP": "None", "selector": {"a": "b"}},
            {"ipFamilyPolicy": S, "ipFamilies": ["IPv6"]},
            id="headless-selector",
        ),
        pytest.param(
            {"clusterIP": "10.0.0.1"},
            {"ipFamilyPolicy": S, "ipFamilies": ["IPv4"], "clusterIPs": ["10.0.0.1"]},
            id="headful",
        ),
    ],
)
def test_default_on_read_legacy_object_gets_families(spec, expected):
    rules = ServiceRules.for_families(["IPv6", "IPv4"])
    obj = {"spec": {"type": "ClusterIP", **spec}}
    default_on_read(obj, rules)
    for key, value in expected.items():
        assert obj["spec"][key] == value


def test_apply_v1_defaults_per_release():
    new = {"spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}}
    apply_v1_defaults(new, ServiceRules.for_families(["IPv4"]))
    assert new["spec"]["internalTrafficPolicy"] == "Cluster"
    assert new["spec"]["allocateLoadBalancerNodePorts"] is True
    assert new["spec"]["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 80}]
    old: dict[str, Any] = {"spec": {}}
    apply_v1_defaults(old, ServiceRules.for_families(["IPv4"], version="1.16"))
    assert old["spec"] == {"type": "ClusterIP", "sessionAffinity": "None"}


# --- updates (§3.6) -----------------------------------------------------------------------
def test_update_resubmit_stored_object_keeps_everything():
    h = Harness((V4, V6))
    stored = h.create(svc(ipFamilyPolicy=P))
    again = h.update(stored["spec"])
    assert again["spec"] == stored["spec"]
    assert h.allocated() == set(stored["spec"]["clusterIPs"])


def test_update_manifest_without_ip_fields_keeps_addresses():
    h = Harness((V4, V6))
    stored = h.create(svc(ipFamilyPolicy=P))
    again = h.update(svc(ipFamilyPolicy=P))
    assert again["spec"]["clusterIPs"] == stored["spec"]["clusterIPs"]


def test_update_policy_omitted_inherits_stored_policy():
    h = Harness((V4, V6))
    stored = h.create(svc(ipFamilyPolicy=P))
    again = h.update(svc())
    assert again["spec"]["ipFamilyPolicy"] == P
    assert again["spec"]["clusterIPs"] == stored["spec"]["clusterIPs"]


def test_update_change_cluster_ip_may_not_change():
    h = Harness((V4,))
    h.create(svc(clusterIP="10.0.0.5"))
    before = h.state()
    with pytest.raises(InvalidServiceError) as info:
        h.update(svc(clusterIP="10.0.0.99"))
    assert invalid_text(info.value) == (
        'spec.clusterIPs[0]: Invalid value: []string{"10.0.0.99"}: may not change once set'
    )
    assert h.state() == before


@pytest.mark.parametrize("policy", [P, R])
def test_update_upgrade_single_to_dual_allocates_secondary(policy):
    h = Harness((V4, V6))
    stored = h.create(svc())
    primary = stored["spec"]["clusterIP"]
    new = h.update(svc(ipFamilyPolicy=policy))["spec"]
    assert new["ipFamilies"] == ["IPv4", "IPv6"]
    assert new["clusterIPs"][0] == primary
    assert IPFamily.of(new["clusterIPs"][1]) is IPFamily.IPv6
    assert h.allocated() == set(new["clusterIPs"])


def test_update_upgrade_with_given_secondary_reserves_it():
    h = Harness((V4, V6))
    primary = h.create(svc())["spec"]["clusterIP"]
    new = h.update(svc(ipFamilyPolicy=R, clusterIP=primary, clusterIPs=[primary, "fd00::77"]))[
        "spec"
    ]
    assert new["clusterIPs"] == [primary, "fd00::77"]
    assert "fd00::77" in h.allocators[IPFamily.IPv6]


def test_update_require_on_single_stack_cluster_not_dual():
    h = Harness((V4,))
    h.create(svc())
    with pytest.raises(InvalidServiceError) as info:
        h.update(svc(ipFamilyPolicy=R))
    assert invalid_text(info.value) == NOT_DUAL


def test_update_prefer_on_single_stack_cluster_stays_single():
    h = Harness((V4,))
    stored = h.create(svc())
    new = h.update(svc(ipFamilyPolicy=P))["spec"]
    assert new["ipFamilyPolicy"] == P
    assert new["clusterIPs"] == stored["spec"]["clusterIPs"]


def test_update_downgrade_to_single_stack_releases_secondary():
    h = Harness((V4, V6))
    stored = h.create(svc(ipFamilyPolicy=R))["spec"]
    new = h.update(svc(ipFamilyPolicy=S))["spec"]
    assert new["clusterIPs"] == stored["clusterIPs"][:1]
    assert new["ipFamilies"] == ["IPv4"]
    assert h.allocated() == {stored["clusterIP"]}


def test_update_shrink_without_single_stack_is_refused():
    h = Harness((V4, V6))
    stored = h.create(svc(ipFamilyPolicy=P))["spec"]
    before = h.state()
    with pytest.raises(InvalidServiceError) as info:
        h.update(
            svc(ipFamilyPolicy=P, clusterIP=stored["clusterIP"], clusterIPs=[stored["clusterIP"]])
        )
    assert invalid_text(info.value) == (
        'spec.ipFamilyPolicy: Invalid value: "PreferDualStack": '
        "must be 'SingleStack' to release the secondary cluster IP"
    )
    assert h.state() == before


def test_update_prefer_freeze_keeps_single_after_cluster_gains_family():
    h4 = Harness((V4,))
    stored = h4.create(svc(ipFamilyPolicy=P))
    dual = h4.with_families((V4, V6))
    frozen = dual.update(stored["spec"])["spec"]
    assert frozen["ipFamilies"] == ["IPv4"]
    upgraded = dual.update(svc(ipFamilyPolicy=P))["spec"]
    assert upgraded["ipFamilies"] == ["IPv4", "IPv6"]
    assert len(upgraded["clusterIPs"]) == 2


def test_update_after_cluster_lost_family_fails_not_configured():
    h = Harness((V4, V6))
    stored = h.create(svc(ipFamilyPolicy=P))["spec"]
    single = h.with_families((V4,))
    with pytest.raises(InvalidServiceError) as info:
        single.update(svc(ipFamilyPolicy=P))
    v4, v6 = stored["clusterIPs"]
    assert invalid_text(info.value) == (
        f'spec.clusterIPs[1]: Invalid value: []string{{"{v4}", "{v6}"}}: '
        "IPv6 is not configured on this cluster"
    )


def test_update_to_external_name_wipes_and_releases():
    h = Harness((V4, V6))
    stored = h.create(svc(ipFamilyPolicy=P))["spec"]
    spec = dict(stored, type="ExternalName", externalName="db.example.com")
    new = h.update(spec)["spec"]
    for key in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
        assert key not in new
    assert h.allocated() == set()


def test_update_to_external_name_with_changed_ip_forbidden():
    h = Harness((V4,))
    h.create(svc())
    with pytest.raises(InvalidServiceError) as info:
        h.update(
            svc(
                type="ExternalName",
                externalName="db.example.com",
                clusterIP="10.0.0.3",
                clusterIPs=["10.0.0.3"],
            )
        )
    assert "spec.clusterIPs: Forbidden: may not be set for ExternalName services" in str(
        info.value
    )


def test_update_from_external_name_allocates_as_create():
    h = Harness((V4, V6))
    h.create(svc(ports=False, type="ExternalName", externalName="db.example.com"))
    new = h.update(svc())["spec"]
    assert new["ipFamilyPolicy"] == S
    assert new["ipFamilies"] == ["IPv4"]
    assert h.allocated() == {new["clusterIP"]}


def test_update_nodeport_and_loadbalancer_keep_cluster_ips():
    h = Harness((V4, V6))
    stored = h.create(svc(ipFamilyPolicy=P))["spec"]
    for svc_type in ("NodePort", "LoadBalancer", "ClusterIP"):
        new = h.update(svc(type=svc_type))["spec"]
        assert new["clusterIPs"] == stored["clusterIPs"]


def test_update_ip_families_change_reports_expected_value_first():
    h = Harness((V4, V6))
    ip = h.create(svc())["spec"]["clusterIP"]
    with pytest.raises(InvalidServiceError) as info:
        h.update(svc(ipFamilies=["IPv6"]))
    assert invalid_text(info.value) == (
        f'spec.clusterIPs[0]: Invalid value: "{ip}": '
        "expected an IPv6 value as indicated by `ipFamilies[0]`"
    )


def test_validate_service_update_family_change_uses_index_zero_quirk():
    rules = ServiceRules.for_families(["IPv4", "IPv6"])
    old = {
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "type": "ClusterIP",
            "ports": [{"port": 80, "protocol": "TCP"}],
            "sessionAffinity": "None",
            "clusterIP": "10.0.0.1",
            "clusterIPs": ["10.0.0.1", "fd00::1"],
            "ipFamilies": ["IPv4", "IPv6"],
            "ipFamilyPolicy": R,
        },
    }
    new = {"metadata": old["metadata"], "spec": dict(old["spec"], ipFamilies=["IPv4", "IPv4"])}
    errs = validate_service_update(new, old, rules)
    assert [str(e) for e in errs] == [
        'spec.ipFamilies[0]: Invalid value: []core.IPFamily{"IPv4", "IPv4"}: '
        "may not change once set"
    ]
    assert isinstance(errs[0], FieldError)


def test_service_addresses_routes_by_text():
    stored = {"spec": {"type": "ClusterIP", "clusterIPs": ["10.0.0.1", "fd00::1"]}}
    assert service_addresses(stored) == [(IPFamily.IPv4, "10.0.0.1"), (IPFamily.IPv6, "fd00::1")]
    assert service_addresses({"spec": {"type": "ClusterIP", "clusterIPs": ["None"]}}) == []


# --- warnings (§3.9) ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("version", "ip", "expected"),
    [
        pytest.param("1.26", "10.000.0.1", [], id="none-before-1.27"),
        pytest.param(
            "1.30",
            "10.000.0.1",
            [
                "spec.clusterIPs[0]: IP address was accepted, but will be invalid in a future "
                'Kubernetes release: ParseAddr("10.000.0.1"): IPv4 field has octet with '
                "leading zero"
            ],
            id="legacy-leading-zero",
        ),
        pytest.param(
            "1.30",
            "fd00:0:0:0::7",
            [
                'spec.clusterIPs[0]: IPv6 address "fd00:0:0:0::7" is not in RFC 5952 '
                'canonical format ("fd00::7"), which may cause controller apply-loops'
            ],
            id="legacy-ipv6",
        ),
        pytest.param("1.30", "::ffff:10.0.0.1", [], id="legacy-mapped-silent"),
        pytest.param(
            "1.33",
            "::ffff:10.0.0.1",
            [
                'spec.clusterIPs[0]: non-standard IP address "::ffff:10.0.0.1" will be '
                'considered invalid in a future Kubernetes release: use "10.0.0.1"'
            ],
            id="kep4858-mapped",
        ),
        pytest.param(
            "1.33",
            "fd00:0:0:0::7",
            [
                'spec.clusterIPs[0]: IPv6 address "fd00:0:0:0::7" should be in RFC 5952 '
                'canonical format ("fd00::7")'
            ],
            id="kep4858-ipv6",
        ),
    ],
)
def test_ip_warnings_per_release(version, ip, expected):
    rules = ServiceRules.for_families(["IPv4", "IPv6"], version=version)
    assert ip_warnings({"clusterIP": ip, "clusterIPs": [ip]}, rules) == expected


# --- the alpha API (§3.2) -------------------------------------------------------------------
def alpha(cidrs: tuple[str, ...] = (V4, V6), gate: bool = True) -> Harness:
    return Harness(cidrs, version="1.16", gates={"IPv6DualStack": gate})


@pytest.mark.parametrize(
    ("spec", "family"),
    [
        pytest.param(svc(), "IPv4", id="default"),
        pytest.param(svc(ipFamily="IPv6"), "IPv6", id="ipFamily-IPv6"),
        pytest.param(svc(ipFamily="IPv4"), "IPv4", id="ipFamily-IPv4"),
        pytest.param(svc(clusterIP="fd00::9"), "IPv6", id="family-from-clusterIP"),
    ],
)
def test_alpha_create_sets_ip_family_and_allocates_from_it(spec, family):
    h = alpha()
    stored = h.create(spec)["spec"]
    assert stored["ipFamily"] == family
    assert IPFamily.of(stored["clusterIP"]).value == family
    for key in ("clusterIPs", "ipFamilies", "ipFamilyPolicy"):
        assert key not in stored


@pytest.mark.parametrize(
    ("cidrs", "spec", "expected"),
    [
        pytest.param(
            (V4,),
            svc(ipFamily="IPv6"),
            'spec.ipFamily: Invalid value: "IPv6": only the following families are allowed: IPv4',
            id="not-allowed",
        ),
        pytest.param(
            (V4, V6),
            svc(ipFamily="IPv4", clusterIP="fd00::1"),
            'spec.ipFamily: Invalid value: "IPv4": does not match IPv6 cluster IP',
            id="mismatch-v6",
        ),
        pytest.param(
            (V4, V6),
            svc(ipFamily="IPv6", clusterIP="10.0.0.1"),
            'spec.ipFamily: Invalid value: "IPv6": does not match IPv4 cluster IP',
            id="mismatch-v4",
        ),
        pytest.param(
            (V4,),
            svc(clusterIP="10.0.0.1.1"),
            "spec.clusterIP: Invalid value: \"10.0.0.1.1\": must be empty, 'None', or a "
            "valid IP address",
            id="bad-ip",
        ),
        pytest.param(
            (V4,),
            svc(clusterIP="192.168.100.13"),
            'spec.clusterIP: Invalid value: "192.168.100.13": provided IP is not in the valid '
            "range. The range of valid IPs is 10.0.0.0/16",
            id="out-of-range",
        ),
        pytest.param(
            (V4,),
            svc(type="ExternalName", externalName="a.example.com", clusterIP="10.0.0.1"),
            "spec.clusterIP: Forbidden: must be empty for ExternalName services",
            id="externalname-clusterIP",
        ),
        pytest.param(
            (V4,),
            svc(type="NodePort", clusterIP="None"),
            "spec.clusterIP: Invalid value: \"None\": may not be set to 'None' for NodePort "
            "services",
            id="nodeport-headless",
        ),
    ],
)
def test_alpha_create_invalid_gives_upstream_text(cidrs, spec, expected):
    h = alpha(cidrs)
    before = h.state()
    with pytest.raises(InvalidServiceError) as info:
        h.create(spec)
    assert invalid_text(info.value) == expected
    assert h.state() == before


def test_alpha_gate_off_drops_ip_family():
    h = alpha((V4,), gate=False)
    stored = h.create(svc(ipFamily="IPv6"))["spec"]
    assert "ipFamily" not in stored
    assert IPFamily.of(stored["clusterIP"]) is IPFamily.IPv4


def test_alpha_update_ip_family_immutable_and_cluster_ip_required():
    h = alpha()
    stored = h.create(svc())["spec"]
    with pytest.raises(InvalidServiceError) as info:
        h.update(svc(ipFamily="IPv6", clusterIP=stored["clusterIP"]))
    assert invalid_text(info.value) == (
        '[spec.ipFamily: Invalid value: "IPv6": field is immutable, '
        'spec.ipFamily: Invalid value: "IPv6": does not match IPv4 cluster IP]'
    )
    with pytest.raises(InvalidServiceError) as info:
        h.update(svc())
    assert invalid_text(info.value) == 'spec.clusterIP: Invalid value: "": field is immutable'
    kept = h.update(svc(clusterIP=stored["clusterIP"]))["spec"]
    assert kept["ipFamily"] == "IPv4"


def test_alpha_update_to_external_name_and_back():
    h = alpha()
    stored = h.create(svc(ipFamily="IPv6"))["spec"]
    h.update(svc(type="ExternalName", externalName="a.example.com"))
    assert h.allocated() == set()
    back = h.update(svc())["spec"]
    assert back["ipFamily"] == "IPv6"
    assert h.allocated() == {back["clusterIP"]}
    assert IPFamily.of(stored["clusterIP"]) is IPFamily.IPv6


# --- the fast address formatter ---------------------------------------------------------------
@given(st.integers(0, (1 << 128) - 1))
@settings(max_examples=300)
def test_format_drawn_ipv6_matches_go_text(value):
    """``inet_ntop`` text equals ``format_ip`` (Go's RFC 5952 text), ::/80 included."""
    assert _format_drawn(value, IPFamily.IPv6) == format_ip(value, IPFamily.IPv6)


@given(st.integers(0, (1 << 32) - 1))
@settings(max_examples=100)
def test_format_drawn_ipv4_matches_format_ip(value):
    assert _format_drawn(value, IPFamily.IPv4) == format_ip(value, IPFamily.IPv4)


@given(
    st.lists(st.sampled_from(range(8)), min_size=0, max_size=8).map(
        lambda zeros: sum((0 if i in zeros else (0x1234 + i)) << (16 * i) for i in range(8))
    )
)
@settings(max_examples=200)
def test_format_drawn_ipv6_zero_runs_match_go_text(value):
    assert _format_drawn(value, IPFamily.IPv6) == format_ip(value, IPFamily.IPv6)


def test_create_family_not_configured_1_21_text_prints_cluster_ips():
    h = Harness((V4,), version="1.21")
    with pytest.raises(InvalidServiceError) as info:
        h.create(svc(ipFamilies=["IPv6"]))
    assert invalid_text(info.value) == (
        "spec.ipFamilies[0]: Invalid value: []string(nil): "
        "ipfamily IPv6 is not configured on cluster"
    )


def _stored(**spec: Any) -> dict[str, Any]:
    base = {
        "type": "ClusterIP",
        "ports": [{"port": 80, "protocol": "TCP"}],
        "sessionAffinity": "None",
        "clusterIP": "10.0.0.1",
        "clusterIPs": ["10.0.0.1", "fd00::1"],
        "ipFamilies": ["IPv4", "IPv6"],
        "ipFamilyPolicy": R,
    }
    base.update(spec)
    return {"metadata": {"name": "web", "namespace": "default"}, "spec": base}


UPDATE_RULE_CASES = [
    pytest.param(
        {"clusterIPs": ["10.0.0.1"], "ipFamilies": ["IPv4"]},
        None,
        [
            (
                INVALID,
                "spec.ipFamilyPolicy",
                'spec.ipFamilyPolicy: Invalid value: "RequireDualStack": must be set to '
                "'SingleStack' when releasing the secondary clusterIP",
            ),
            (
                INVALID,
                "spec.ipFamilyPolicy",
                'spec.ipFamilyPolicy: Invalid value: "RequireDualStack": must be set to '
                "'SingleStack' when releasing the secondary ipFamily",
            ),
        ],
        id="release-secondary-without-single-stack",
    ),
    pytest.param(
        {"clusterIP": "", "clusterIPs": [], "ipFamilies": ["IPv4"], "ipFamilyPolicy": S},
        [],
        [
            (
                INVALID,
                "spec.clusterIPs[0]",
                "spec.clusterIPs[0]: Invalid value: []string{}: "
                "primary clusterIP can not be unset",
            ),
            (
                INVALID,
                "spec.ipFamilies[0]",
                'spec.ipFamilies[0]: Invalid value: []core.IPFamily{"IPv4"}: '
                "primary ipFamily can not be unset",
            ),
        ],
        id="primary-unset",
    ),
    pytest.param(
        {
            "clusterIP": "fd00::1",
            "clusterIPs": ["fd00::1"],
            "ipFamilies": ["IPv6"],
            "ipFamilyPolicy": S,
        },
        None,
        [
            (
                INVALID,
                "spec.clusterIPs[0]",
                'spec.clusterIPs[0]: Invalid value: []string{"fd00::1"}: may not change once set',
            ),
            (
                INVALID,
                "spec.ipFamilies[0]",
                'spec.ipFamilies[0]: Invalid value: []string{"fd00::1"}: may not change once set',
            ),
        ],
        id="primary-changed-on-downgrade",
    ),
]


@pytest.mark.parametrize(("change", "request_ips", "expected"), UPDATE_RULE_CASES)
def test_validate_service_update_rule_gives_upstream_error(change, request_ips, expected):
    rules = ServiceRules.for_families(["IPv4", "IPv6"])
    old = _stored()
    new = _stored(**change)
    errs = validate_service_update(new, old, rules, request_ips=request_ips)
    assert [(e.type, e.field, str(e)) for e in errs] == expected


# --- adversarial review: upstream cases the tables above missed -----------------------
# The expected texts follow kubernetes/kubernetes pkg/apis/core/validation/validation.go
# (ValidateServiceClusterIPsRelatedFields, validateUpgradeDowngradeClusterIPs,
# validateUpgradeDowngradeIPFamilies) and pkg/registry/core/service/storage/alloc.go
# (initIPFamilyFields, allocIPs); the upstream test that asserts a case is named.
UNSUPPORTED_FAMILY = 'Unsupported value: "{}": supported values: "IPv4", "IPv6"'


@pytest.mark.parametrize(
    ("families", "expected"),
    [
        pytest.param(
            ["foo", "foo"],
            [
                "spec.ipFamilies[0]: " + UNSUPPORTED_FAMILY.format("foo"),
                "spec.ipFamilies[1]: " + UNSUPPORTED_FAMILY.format("foo"),
                'spec.ipFamilies[1]: Duplicate value: "foo"',
            ],
            id="repeated-unsupported-is-also-duplicate",
        ),
        pytest.param(
            ["IPv4", "IPv6", "IPv4"],
            ['spec.ipFamilies[2]: Duplicate value: "IPv4"'],
            id="third-entry-duplicate-no-max-check",
        ),
        pytest.param(
            ["IPv4", "ipv6"],
            ["spec.ipFamilies[1]: " + UNSUPPORTED_FAMILY.format("ipv6")],
            id="case-sensitive",
        ),
    ],
)
def test_validate_ip_families_each_entry_checked_for_both_rules(families, expected):
    """ValidateServiceClusterIPsRelatedFields: the supported-value and the duplicate
    checks are independent (no ``else``), so a repeated bad value gives both."""
    rules = ServiceRules.for_families(["IPv4", "IPv6"])
    errs = validate_cluster_ips_related_fields({"ipFamilies": families}, rules)
    assert [str(e) for e in errs] == expected


def test_create_cluster_ips_errors_accumulate_in_upstream_order():
    """All of §3.4 steps 1-5 report together, bracketed, in check order."""
    h = Harness((V4, V6))
    before = h.state()
    with pytest.raises(InvalidServiceError) as info:
        h.create(
            svc(
                clusterIP="10.0.0.1",
                clusterIPs=["None", "10.0.0.1", "fd00::1"],
                ipFamilies=["IPv4", "IPv5"],
                ipFamilyPolicy="DualStack",
            )
        )
    ips = '[]string{"None", "10.0.0.1", "fd00::1"}'
    assert invalid_text(info.value) == (
        f"[spec.clusterIPs: Invalid value: {ips}: first value must match `clusterIP`, "
        f"spec.ipFamilies[1]: {UNSUPPORTED_FAMILY.format('IPv5')}, "
        'spec.ipFamilyPolicy: Unsupported value: "DualStack": supported values: '
        '"PreferDualStack", "RequireDualStack", "SingleStack", '
        f"spec.clusterIPs: Invalid value: {ips}: 'None' must be the first and only value, "
        f"spec.clusterIPs: Invalid value: {ips}: may only hold up to 2 values]"
    )
    assert h.state() == before


@pytest.mark.parametrize(
    ("ips", "expected"),
    [
        pytest.param(
            ["10.0.0.1", "fd00::1", "10.0.0.2"],
            'spec.clusterIPs: Invalid value: []string{"10.0.0.1", "fd00::1", "10.0.0.2"}: '
            "may only hold up to 2 values",
            id="v4-v6-v4-only-max-two",
        ),
        pytest.param(
            ["10.0.0.1", "10.0.0.2"],
            'spec.clusterIPs: Invalid value: []string{"10.0.0.1", "10.0.0.2"}: '
            "may specify no more than one IP for each IP family",
            id="v4-v4",
        ),
        pytest.param(
            ["10.0.0.1", "::ffff:10.0.0.2"],
            'spec.clusterIPs: Invalid value: []string{"10.0.0.1", "::ffff:10.0.0.2"}: '
            "may specify no more than one IP for each IP family",
            id="v4-mapped-counts-as-v4",
        ),
        pytest.param(
            ["10.0.0.1", "None"],
            'spec.clusterIPs[1]: Invalid value: "None": must be a valid IP address, '
            "(e.g. 10.9.8.7 or 2001:db8::ffff)",
            id="none-second-is-an-ip-error",
        ),
        pytest.param(
            ["10.0.0.1", "x", "y"],
            '[spec.clusterIPs[1]: Invalid value: "x": must be a valid IP address, '
            "(e.g. 10.9.8.7 or 2001:db8::ffff), "
            'spec.clusterIPs[2]: Invalid value: "y": must be a valid IP address, '
            "(e.g. 10.9.8.7 or 2001:db8::ffff), "
            'spec.clusterIPs: Invalid value: []string{"10.0.0.1", "x", "y"}: '
            "may only hold up to 2 values]",
            id="bad-ips-then-max-two-then-stop",
        ),
    ],
)
def test_create_cluster_ips_list_rules_give_upstream_error(ips, expected):
    h = Harness((V4, V6))
    with pytest.raises(InvalidServiceError) as info:
        h.create(svc(clusterIP=ips[0], clusterIPs=ips, ipFamilyPolicy=R))
    assert invalid_text(info.value) == expected


HEADLESS_CASES = [
    # (id, cluster, spec fields, expected (policy, families) or error)
    ("unset-v6", "v6", {}, (R, ["IPv6", "IPv4"])),
    ("unset-IPv4-on-v6", "v6", {"ipFamilies": ["IPv4"]}, (R, ["IPv4", "IPv6"])),
    ("single-IPv4-on-v6", "v6", {"ipFamilyPolicy": S, "ipFamilies": ["IPv4"]}, (S, ["IPv4"])),
    ("single-unset-v6", "v6", {"ipFamilyPolicy": S}, (S, ["IPv6"])),
    ("prefer-unset-v6", "v6", {"ipFamilyPolicy": P}, (P, ["IPv6", "IPv4"])),
    ("require-v4-first-on-v6v4", "v6v4", {"ipFamilies": ["IPv4"]}, (R, ["IPv4", "IPv6"])),
    ("single-v6v4", "v6v4", {"ipFamilyPolicy": S}, (S, ["IPv6"])),
    ("prefer-v4v6", "v4v6", {"ipFamilyPolicy": P}, (P, ["IPv4", "IPv6"])),
    (
        "two-families-single",
        "v6",
        {"ipFamilyPolicy": S, "ipFamilies": ["IPv6", "IPv4"]},
        MULTI_FAM,
    ),
]


@pytest.mark.parametrize(
    ("kind", "fields", "expected"),
    [pytest.param(k, f, e, id=i) for i, k, f, e in HEADLESS_CASES],
)
def test_create_headless_selectorless_families_not_checked_against_cluster(kind, fields, expected):
    """TestCreateInitIPFields ("headless+selectorless" cases): RequireDualStack by
    default, families completed and never checked against the cluster."""
    h = Harness(CLUSTERS[kind])
    spec = svc(selector=False, ports=False, clusterIP="None", **fields)
    if isinstance(expected, str):
        with pytest.raises(InvalidServiceError) as info:
            h.create(spec)
        assert invalid_text(info.value) == expected
        return
    got = h.create(spec)["spec"]
    assert (got["ipFamilyPolicy"], got["ipFamilies"], got["clusterIPs"]) == (
        *expected,
        ["None"],
    )
    assert h.allocated() == set()


@pytest.mark.parametrize(
    ("kind", "fields", "expected"),
    [
        pytest.param("v6", {"ipFamilies": ["IPv4"]}, fam_not_configured(0, "IPv4"), id="v6"),
        pytest.param("v6", {"ipFamilyPolicy": R}, NOT_DUAL, id="require-v6"),
        pytest.param("v6v4", {}, (S, ["IPv6"]), id="v6v4-default"),
        pytest.param("v6v4", {"ipFamilyPolicy": R}, (R, ["IPv6", "IPv4"]), id="v6v4-require"),
    ],
)
def test_create_headless_with_selector_checked_like_headful(kind, fields, expected):
    h = Harness(CLUSTERS[kind])
    spec = svc(clusterIP="None", **fields)
    if isinstance(expected, str):
        with pytest.raises(InvalidServiceError) as info:
            h.create(spec)
        assert invalid_text(info.value) == expected
        return
    got = h.create(spec)["spec"]
    assert (got["ipFamilyPolicy"], got["ipFamilies"]) == expected
    assert h.allocated() == set()


def test_create_family_appended_from_second_cluster_ip():
    """initIPFamilyFields step 7: ipFamilies [IPv4] + two clusterIPs -> both families."""
    h = Harness((V6, V4))
    got = h.create(
        svc(
            ipFamilyPolicy=P,
            ipFamilies=["IPv4"],
            clusterIP="10.0.0.5",
            clusterIPs=["10.0.0.5", "fd00::5"],
        )
    )["spec"]
    assert got["ipFamilies"] == ["IPv4", "IPv6"]
    assert got["clusterIPs"] == ["10.0.0.5", "fd00::5"]
    assert h.allocated() == {"10.0.0.5", "fd00::5"}


def test_create_second_ip_of_unconfigured_family_stops_before_not_dual():
    """Step 7's error fails the request at step 8, before step 10 (E_not_dual)."""
    h = Harness((V4,))
    with pytest.raises(InvalidServiceError) as info:
        h.create(svc(ipFamilyPolicy=R, clusterIP="10.0.0.5", clusterIPs=["10.0.0.5", "fd00::5"]))
    assert invalid_text(info.value) == (
        'spec.clusterIPs[1]: Invalid value: []string{"10.0.0.5", "fd00::5"}: '
        "IPv6 is not configured on this cluster"
    )


def test_update_shrink_errors_accumulate_with_multi_family_error():
    """Step 5's E_rel_ip and step 6 accumulate; one bracketed response."""
    h = Harness((V4, V6))
    v4, _ = h.create(svc(ipFamilyPolicy=R))["spec"]["clusterIPs"]
    before = h.state()
    with pytest.raises(InvalidServiceError) as info:
        h.update(svc(ipFamilyPolicy=R, clusterIP=v4, clusterIPs=[v4], ipFamilies=["IPv4"]))
    assert invalid_text(info.value) == (
        '[spec.ipFamilyPolicy: Invalid value: "RequireDualStack": must be '
        "'SingleStack' to release the secondary cluster IP, "
        'spec.ipFamilyPolicy: Invalid value: "RequireDualStack": must be '
        "'SingleStack' to release the secondary IP family]"
    )
    assert h.state() == before


def test_update_nil_policy_prints_quoted_null():
    """apimachinery prints a nil pointer value as the string "null", Go-quoted."""
    rules = ServiceRules.for_families(["IPv4", "IPv6"])
    new = _stored(clusterIPs=["10.0.0.1"], ipFamilies=["IPv4"])
    del new["spec"]["ipFamilyPolicy"]
    errs = validate_service_update(new, _stored(), rules)
    assert [str(e) for e in errs] == [
        'spec.ipFamilyPolicy: Invalid value: "null": must be set to '
        "'SingleStack' when releasing the secondary clusterIP",
        'spec.ipFamilyPolicy: Invalid value: "null": must be set to '
        "'SingleStack' when releasing the secondary ipFamily",
    ]


def test_update_primary_cluster_ip_unset_absent_list_prints_nil_slice():
    """An absent clusterIPs is Go's nil slice: ``[]string(nil)``, not ``"null"``."""
    rules = ServiceRules.for_families(["IPv4", "IPv6"])
    new = _stored(clusterIP="", clusterIPs=[], ipFamilies=["IPv4"], ipFamilyPolicy=S)
    errs = validate_service_update(new, _stored(), rules, request_ips=None)
    assert str(errs[0]) == (
        "spec.clusterIPs[0]: Invalid value: []string(nil): primary clusterIP can not be unset"
    )


def test_update_family_swap_same_message_twice_deduplicated():
    """The ``spec.ipFamilies[0]`` path quirk makes both indices one message: once."""
    rules = ServiceRules.for_families(["IPv4", "IPv6"])
    new = _stored(ipFamilies=["IPv6", "IPv4"])
    errs = [e for e in validate_service_update(new, _stored(), rules) if "ipFamilies" in e.field]
    assert len(errs) == 2
    text = str(InvalidServiceError("web", errs))
    assert text.startswith(
        'Service "web" is invalid: spec.ipFamilies[0]: Invalid value: '
        '[]core.IPFamily{"IPv6", "IPv4"}: may not change once set'
    )
    assert text.count("may not change once set") == 1


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        pytest.param("::ffff:010.0.0.1", "must not have leading 0s", id="mapped-leading-zero"),
        pytest.param("::ffff:10.0.0.1", "must not be an IPv4-mapped IPv6 address", id="mapped"),
        pytest.param("010.0.0.1", "must not have leading 0s", id="leading-zero"),
        pytest.param("fd00::0001", None, id="ipv6-group-zeros-allowed"),
        pytest.param("fd00:0::1", None, id="ipv6-non-canonical-allowed"),
    ],
)
def test_create_strict_ip_validation_rejects_as_netip_does(ip, expected):
    """IsValidIPForLegacyField in strict mode: netip.ParseAddr's failure is "leading
    0s" (a mapped text with a zero-padded octet fails to parse, so it is not also
    "IPv4-mapped"); IPv6 spelling is never refused."""
    h = Harness((V4, V6), version="1.33", gates={"StrictIPCIDRValidation": True})
    if expected is None:
        assert h.create(svc(clusterIP=ip))["spec"]["clusterIPs"] == [ip]
        return
    with pytest.raises(InvalidServiceError) as info:
        h.create(svc(clusterIP=ip))
    assert invalid_text(info.value) == f'spec.clusterIPs[0]: Invalid value: "{ip}": {expected}'


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        pytest.param(
            "::FFFF:10.0.0.1",
            'spec.clusterIPs[0]: IPv6 address "::FFFF:10.0.0.1" is not in RFC 5952 '
            'canonical format ("::ffff:10.0.0.1"), which may cause controller apply-loops',
            id="mapped-upper-case",
        ),
        pytest.param(
            "0:0:0:0:0:ffff:10.0.0.1",
            'spec.clusterIPs[0]: IPv6 address "0:0:0:0:0:ffff:10.0.0.1" is not in RFC '
            '5952 canonical format ("::ffff:10.0.0.1"), which may cause controller '
            "apply-loops",
            id="mapped-long-form",
        ),
    ],
)
def test_ip_warnings_legacy_mapped_non_canonical_warned_in_netip_form(ip, expected):
    """pkg/api/service/warnings.go (1.27-1.32): netip keeps a mapped address in IPv6
    form, so only its non-canonical spellings warn."""
    rules = ServiceRules.for_families(["IPv4", "IPv6"], version="1.30")
    assert ip_warnings({"clusterIP": ip, "clusterIPs": [ip]}, rules) == [expected]


@pytest.mark.parametrize(
    ("version", "ip", "detail"),
    [
        pytest.param(
            "1.30",
            "192.168.001.1",
            "failed to allocate IP 192.168.001.1: the provided IP (192.168.1.1) is not in "
            "the valid range. The range of valid IPs is 10.0.0.0/16",
            id="typed-vs-canonical",
        ),
        pytest.param(
            "1.30",
            "::ffff:1.1.1.1",
            "failed to allocate IP ::ffff:1.1.1.1: the provided IP (1.1.1.1) is not in the "
            "valid range. The range of valid IPs is 10.0.0.0/16",
            id="mapped-shown-as-ipv4",
        ),
        pytest.param(
            "1.34",
            "::ffff:1.1.1.1",
            "failed to allocate IP ::ffff:1.1.1.1: the provided network does not match "
            "the current range",
            id="multicidr",
        ),
    ],
)
def test_create_out_of_range_shows_typed_ip_and_go_text(version, ip, detail):
    h = Harness((V4, V6), version=version)
    with pytest.raises(InvalidServiceError) as info:
        h.create(svc(clusterIP=ip))
    assert (
        invalid_text(info.value) == f'spec.clusterIPs: Invalid value: []string{{"{ip}"}}: {detail}'
    )


def test_create_typed_ip_stored_as_typed_and_released_by_value():
    h = Harness((V4, V6))
    got = h.create(svc(ipFamilyPolicy=P, clusterIP="010.000.000.011"))["spec"]
    assert got["clusterIPs"][0] == "010.000.000.011"
    assert "10.0.0.11" in h.allocated()
    for family, ip in service_addresses(h.stored["web"]):
        h.allocators[family].release(ip)
    assert h.allocated() == set()


@pytest.mark.parametrize(
    "ip",
    [
        pytest.param("10.0.0.10", id="taken"),
        pytest.param("1.1.1.1", id="out-of-range"),
        pytest.param("10.0.0.11", id="free"),
    ],
)
def test_update_headless_to_address_refused_by_immutability_not_allocator(ip):
    """alloc.go updateClusterIPs returns early for a Service that was headless: the
    update fails in validateUpgradeDowngradeClusterIPs, never in the allocator, and
    nothing is allocated."""
    h = Harness((V4, V6))
    h.create(svc(clusterIP="10.0.0.10"), "taken")
    h.create(svc(clusterIP="None"))
    before = h.state()
    with pytest.raises(InvalidServiceError) as info:
        h.update(svc(clusterIP=ip))
    assert invalid_text(info.value) == (
        f'spec.clusterIPs[0]: Invalid value: []string{{"{ip}"}}: may not change once set'
    )
    assert h.state() == before


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"ipFamilyPolicy": R}, id="require"),
        pytest.param({"ipFamilyPolicy": P, "ipFamilies": ["IPv4", "IPv6"]}, id="prefer-two"),
        pytest.param({"ipFamilyPolicy": P, "ipFamilies": ["IPv6"]}, id="prefer-other-family"),
    ],
)
def test_update_gate_off_1_20_stored_single_stack_never_upgraded(fields):
    """strategy dropServiceDisabledFields (1.20, IPv6DualStack off): a stored object
    using no dual-stack field keeps none on update, whatever the request carries; the
    families default-on-read would add must not count as "in use"."""
    h = Harness((V4, V6), version="1.20")
    ip = h.create(svc())["spec"]["clusterIP"]
    before = h.state()
    got = h.update(svc(**fields))["spec"]
    assert got["clusterIPs"] == [ip]
    for key in ("ipFamilies", "ipFamilyPolicy"):
        assert key not in got
    assert h.state() == before


def test_update_gate_off_1_20_fields_in_use_are_kept():
    """A Service that already uses the fields (created with the gate on) keeps them."""
    on = Harness((V4, V6), version="1.20", gates={"IPv6DualStack": True})
    stored = on.create(svc(ipFamilyPolicy=R))
    off = Harness((V4, V6), version="1.20")
    off.allocators, off.rngs, off.stored = on.allocators, on.rngs, on.stored
    got = off.update(stored["spec"])["spec"]
    assert got["ipFamilies"] == ["IPv4", "IPv6"]
    assert got["clusterIPs"] == stored["spec"]["clusterIPs"]


@pytest.mark.parametrize("version", ["1.21", "1.22"])
def test_update_two_cluster_ips_without_policy_1_21_defaults_require_over_stored(version):
    """v1 defaulting (1.20-1.22) sees the request before any stored policy is
    inherited: two clusterIPs and no policy mean RequireDualStack on update too."""
    h = Harness((V4, V6), version=version)
    stored = h.create(svc(ipFamilyPolicy=P))["spec"]
    ips = stored["clusterIPs"]
    got = h.update(svc(clusterIP=ips[0], clusterIPs=ips))["spec"]
    assert got["ipFamilyPolicy"] == R
    assert got["clusterIPs"] == ips


@pytest.mark.parametrize("version", ["1.21", "1.23"])
def test_update_without_ip_fields_inherits_stored_policy(version):
    """Fields filled by patchAllocatedValues are not in the request: no defaulting."""
    h = Harness((V4, V6), version=version)
    stored = h.create(svc(ipFamilyPolicy=P))["spec"]
    got = h.update(svc())["spec"]
    assert got["ipFamilyPolicy"] == P
    assert got["clusterIPs"] == stored["clusterIPs"]


def test_update_prefer_freeze_lifted_by_type_change():
    """isMatchingPreferDualStackClusterIPFields requires the same type: a NodePort
    change of a frozen Service on a cluster that lost IPv6 is checked in full."""
    h = Harness((V4, V6))
    stored = h.create(svc(ipFamilyPolicy=P))["spec"]
    single = h.with_families((V4,))
    assert single.update(dict(stored))["spec"]["clusterIPs"] == stored["clusterIPs"]
    with pytest.raises(InvalidServiceError) as info:
        single.update(dict(stored, type="NodePort"))
    assert invalid_text(info.value) == fam_not_configured(1, "IPv6")


def test_update_prefer_freeze_needs_policy_in_request():
    """The stored manifest minus ``ipFamilyPolicy`` is not frozen: the inherited
    PreferDualStack is completed after the cluster gained IPv6 (§3.6)."""
    h = Harness((V4,))
    stored = h.create(svc(ipFamilyPolicy=P))["spec"]
    dual = h.with_families((V4, V6))
    spec = {k: v for k, v in stored.items() if k != "ipFamilyPolicy"}
    got = dual.update(spec)["spec"]
    assert (got["ipFamilyPolicy"], got["ipFamilies"]) == (P, ["IPv4", "IPv6"])
    assert got["clusterIPs"][0] == stored["clusterIP"]
    assert len(got["clusterIPs"]) == 2


@pytest.mark.parametrize(
    ("version", "cidrs", "ip", "detail"),
    [
        pytest.param(
            "1.33",
            (V4,),
            "1.1.1.1",
            "the provided network does not match the current range",
            id="1.33-outside-cidr",
        ),
        pytest.param(
            "1.33",
            (V4,),
            "10.0.0.0",
            "the provided network does not match the current range",
            id="1.33-network-address",
        ),
        pytest.param(
            "1.33",
            (V4,),
            "10.0.255.255",
            "the provided network does not match the current range",
            id="1.33-broadcast",
        ),
        pytest.param(
            "1.33",
            ("fd00::/64",),
            "fd00::1:0",
            "the provided IP (fd00::1:0) is not in the valid range. The range of valid IPs "
            "is fd00::/64",
            id="1.33-ipv6-past-bitmap-window",
        ),
        pytest.param(
            "1.34",
            (V6,),
            "fd01::1",
            "the provided network does not match the current range",
            id="1.34-ipv6-outside",
        ),
    ],
)
def test_create_requested_ip_not_served_text_multicidr(version, cidrs, ip, detail):
    """§1.14: the allocator text of v1.33 (dual-write bitmap first) and v1.34+."""
    h = Harness(cidrs, version=version)
    before = h.state()
    with pytest.raises(InvalidServiceError) as info:
        h.create(svc(clusterIP=ip))
    assert invalid_text(info.value) == (
        f'spec.clusterIPs: Invalid value: []string{{"{ip}"}}: failed to allocate IP {ip}: {detail}'
    )
    assert h.state() == before


def test_create_1_34_ipv6_past_old_window_allocated():
    h = Harness(("fd00::/64",), version="1.34")
    assert h.create(svc(clusterIP="fd00::1:0"))["spec"]["clusterIP"] == "fd00::1:0"


@pytest.mark.parametrize(
    ("version", "detail"),
    [
        pytest.param(
            "1.16",
            "provided IP is not in the valid range. The range of valid IPs is 10.0.0.0/16",
            id="1.16",
        ),
        pytest.param(
            "1.19",
            "provided IP is not in the valid range. The range of valid IPs is 10.0.0.0/16",
            id="1.19",
        ),
    ],
)
def test_alpha_create_out_of_range_on_singular_path(version, detail):
    """§3.2: the alpha era reports on ``spec.clusterIP`` with the IP as the value."""
    h = Harness((V4,), version=version)
    with pytest.raises(InvalidServiceError) as info:
        h.create(svc(clusterIP="1.1.1.1"))
    assert invalid_text(info.value) == f'spec.clusterIP: Invalid value: "1.1.1.1": {detail}'


def test_update_headless_to_external_name_releases_nothing():
    h = Harness((V4, V6))
    h.create(svc(clusterIP="None"))
    outcome = update_service(
        {
            "metadata": {"name": "web"},
            "spec": {"type": "ExternalName", "externalName": "db.example.com"},
        },
        h.stored["web"],
        h.rules,
        h.allocators,
    )
    assert outcome.release == ()
    assert "clusterIPs" not in outcome.service["spec"]


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        pytest.param("1.21", "spec.ports: Required value", id="1.21-validate-first"),
        pytest.param(
            "1.23",
            'spec.ipFamilies[0]: Invalid value: "IPv6": not configured on this cluster',
            id="1.23-families-first",
        ),
    ],
)
def test_create_family_error_and_missing_ports_order_per_release(version, expected):
    """1.20-1.22 REST.Create (pkg/registry/core/service/storage/rest.go) ran
    BeforeCreate, i.e. ValidateService, before tryDefaultValidateServiceClusterIPFields;
    from 1.23 initIPFamilyFields runs in BeginCreate, before ValidateService."""
    h = Harness((V4,), version=version)
    with pytest.raises(InvalidServiceError) as info:
        h.create(svc(ports=False, ipFamilies=["IPv6"]))
    assert invalid_text(info.value) == expected


def test_create_1_21_validation_before_allocation_taken_ip():
    """The allocator is not asked before ValidateService passed (1.20-1.22)."""
    h = Harness((V4,), version="1.21")
    h.create(svc(clusterIP="10.0.0.10"), "taken")
    with pytest.raises(InvalidServiceError) as info:
        h.create(svc(ports=False, clusterIP="10.0.0.10"))
    assert invalid_text(info.value) == "spec.ports: Required value"


def test_create_1_21_cluster_ips_syntax_sits_in_validate_service_order():
    """In ValidateService the dual-stack field checks come after sessionAffinity."""
    h = Harness((V4,), version="1.21")
    with pytest.raises(InvalidServiceError) as info:
        h.create(svc(ports=False, clusterIP="bogus", sessionAffinity="Sticky"))
    assert invalid_text(info.value) == (
        "[spec.ports: Required value, "
        'spec.sessionAffinity: Unsupported value: "Sticky": supported values: "ClientIP", '
        '"None", '
        'spec.clusterIPs[0]: Invalid value: "bogus": must be a valid IP address, '
        "(e.g. 10.9.8.7 or 2001:db8::ffff)]"
    )


def test_create_1_20_gate_off_dropped_fields_not_validated():
    """dropServiceDisabledFields runs in PrepareForCreate, before validation."""
    h = Harness((V4,), version="1.20")
    got = h.create(svc(ipFamilies=["IPv5"], ipFamilyPolicy="Bogus"))["spec"]
    assert "ipFamilies" not in got and "ipFamilyPolicy" not in got


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        pytest.param(
            "1.20",
            'spec.ipFamilyPolicy: Invalid value: "SingleStack": must be RequireDualStack or '
            "PreferDualStack when multiple 'clusterIPs' are specified",
            id="1.20-alone",
        ),
        pytest.param(
            "1.23",
            "[spec.ipFamilyPolicy: Invalid value: \"SingleStack\": must be 'RequireDualStack' "
            "or 'PreferDualStack' when multiple cluster IPs are specified, "
            'spec.clusterIPs[1]: Invalid value: []string{"10.0.0.5", "fd00::5"}: '
            "IPv6 is not configured on this cluster]",
            id="1.23-accumulated",
        ),
    ],
)
def test_create_single_stack_two_ips_on_single_stack_cluster_per_release(version, expected):
    """1.20 rest.go tryDefaultValidateServiceClusterIPFields returns the SingleStack
    errors before inferring families; 1.23+ initIPFamilyFields accumulates them."""
    gates = {"IPv6DualStack": True} if version == "1.20" else None
    h = Harness((V4,), version=version, gates=gates)
    with pytest.raises(InvalidServiceError) as info:
        h.create(svc(ipFamilyPolicy=S, clusterIP="10.0.0.5", clusterIPs=["10.0.0.5", "fd00::5"]))
    assert invalid_text(info.value) == expected


# --- str and int subclasses are their plain values (review F1) -------------------------------
class _OddStr(str):
    """A str subclass whose ``str()`` lies: the stored value must still be the text."""

    def __str__(self) -> str:
        return "odd"


def _plain_types(value: Any) -> bool:
    if isinstance(value, dict):
        return all(type(k) is str and _plain_types(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain_types(v) for v in value)
    return type(value) in (str, int, bool, float, type(None))


@pytest.mark.parametrize(
    ("spec", "field", "expected"),
    [
        pytest.param(
            {"ipFamilies": [IPFamily.IPv6]}, "ipFamilies", ["IPv6"], id="IPFamily-member"
        ),
        pytest.param(
            {"clusterIP": _OddStr("fd00::33")}, "clusterIPs", ["fd00::33"], id="clusterIP"
        ),
        pytest.param(
            {"ipFamilyPolicy": _OddStr("SingleStack")},
            "ipFamilyPolicy",
            "SingleStack",
            id="policy",
        ),
        pytest.param({"type": _OddStr("NodePort")}, "type", "NodePort", id="type"),
        pytest.param(
            {"selector": {_OddStr("app"): _OddStr("x")}}, "selector", {"app": "x"}, id="selector"
        ),
        pytest.param(
            {"ports": [{"port": 80, "name": _OddStr("http"), "targetPort": _OddStr("web")}]},
            "ports",
            [{"port": 80, "name": "http", "targetPort": "web", "protocol": "TCP"}],
            id="port-strings",
        ),
    ],
)
def test_create_str_subclass_accepted_stored_plain(spec, field, expected):
    h = Harness((V6, V4))
    stored = h.create({**svc(), **spec})
    assert stored["spec"][field] == expected
    assert _plain_types(stored)


def test_check_manifest_str_subclass_metadata_stored_plain():
    obj = check_manifest({"metadata": {"name": _OddStr("web"), "namespace": _OddStr("team")}})
    assert obj["metadata"] == {"name": "web", "namespace": "team"}
    assert _plain_types(obj)


def test_check_manifest_int_subclass_port_plain_bool_refused():
    import enum

    class Port(enum.IntEnum):
        HTTP = 80

    obj = check_manifest({"metadata": {"name": "x"}, "spec": {"ports": [{"port": Port.HTTP}]}})
    assert type(obj["spec"]["ports"][0]["port"]) is int
    with pytest.raises(InvalidServiceError, match=r"spec\.ports\[0\]\.port: .*must be an integer"):
        check_manifest({"metadata": {"name": "x"}, "spec": {"ports": [{"port": True}]}})


# --- ports and selector: the rest of ValidateService's checks (review F2) --------------------
_DUP_KEY_NEW = (
    'core.ServicePort{Name:"", Protocol:"TCP", AppProtocol:(*string)(nil), Port:80, '
    'TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}'
)
_DUP_KEY_OLD = _DUP_KEY_NEW.replace("AppProtocol:(*string)(nil), ", "")
_TWO_80 = [{"name": "a", "port": 80}, {"name": "b", "port": 80}]
_QNAME = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
    "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
_KUBELET = (
    "spec.ports[0]: Invalid value: 10250: may not expose port 10250 externally since it is "
    "used by kubelet"
)


@pytest.mark.parametrize(
    ("version", "fields", "expected"),
    [
        pytest.param(
            None,
            {"ports": _TWO_80},
            f"spec.ports[1]: Duplicate value: {_DUP_KEY_NEW}",
            id="dup-1.37",
        ),
        pytest.param(
            "1.18",
            {"ports": _TWO_80},
            f"spec.ports[1]: Duplicate value: {_DUP_KEY_NEW}",
            id="dup-1.18",
        ),
        pytest.param(
            "1.17",
            {"ports": _TWO_80},
            f"spec.ports[1]: Duplicate value: {_DUP_KEY_OLD}",
            id="dup-1.17",
        ),
        pytest.param(
            None,
            {"ports": [{"name": "a", "port": 80}, {"name": "b", "port": 80, "protocol": "UDP"}]},
            None,
            id="same-port-other-protocol-ok",
        ),
        pytest.param(
            "1.32",
            {"type": "LoadBalancer", "ports": [{"port": 10250}]},
            _KUBELET,
            id="kubelet-1.32",
        ),
        pytest.param(
            "1.16",
            {"type": "LoadBalancer", "ports": [{"port": 10250}]},
            _KUBELET,
            id="kubelet-1.16",
        ),
        pytest.param(
            "1.33",
            {"type": "LoadBalancer", "ports": [{"port": 10250}]},
            None,
            id="kubelet-1.33-ok",
        ),
        pytest.param(
            None, {"type": "NodePort", "ports": [{"port": 10250}]}, None, id="kubelet-nodeport-ok"
        ),
        pytest.param(
            None,
            {"ports": [{"port": 80, "nodePort": 30080}]},
            "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'",
            id="nodeport-on-clusterip",
        ),
        pytest.param(
            None,
            {
                "type": "NodePort",
                "ports": [
                    {"name": "a", "port": 80, "nodePort": 30080},
                    {"name": "b", "port": 81, "nodePort": 30080},
                ],
            },
            "spec.ports[1].nodePort: Duplicate value: 30080",
            id="dup-nodeport",
        ),
        pytest.param(
            None,
            {"ports": [{"port": 80, "targetPort": 70000}]},
            "spec.ports[0].targetPort: Invalid value: 70000: "
            "must be between 1 and 65535, inclusive",
            id="targetport-number",
        ),
        pytest.param(
            None,
            {"ports": [{"port": 80, "targetPort": "-Bad_Name--xx-"}]},
            '[spec.ports[0].targetPort: Invalid value: "-Bad_Name--xx-": must contain only '
            "alpha-numeric characters (a-z, 0-9), and hyphens (-), "
            'spec.ports[0].targetPort: Invalid value: "-Bad_Name--xx-": must not contain '
            "consecutive hyphens, "
            'spec.ports[0].targetPort: Invalid value: "-Bad_Name--xx-": must not begin or '
            "end with a hyphen]",
            id="targetport-name",
        ),
        pytest.param(
            None,
            {"ports": [{"port": 80, "targetPort": "8080"}]},
            'spec.ports[0].targetPort: Invalid value: "8080": '
            "must contain at least one letter (a-z)",
            id="targetport-digits-new-text",
        ),
        pytest.param(
            "1.23",
            {"ports": [{"port": 80, "targetPort": "8080"}]},
            'spec.ports[0].targetPort: Invalid value: "8080": must contain at least one '
            "letter or number (a-z, 0-9)",
            id="targetport-digits-old-text",
        ),
        pytest.param(
            None, {"ports": [{"port": 80, "targetPort": "http"}]}, None, id="targetport-name-ok"
        ),
        pytest.param(
            None,
            {"selector": {"bad key!": "x"}},
            f'spec.selector: Invalid value: "bad key!": name part {_QNAME}',
            id="selector-key",
        ),
        pytest.param(
            None,
            {"selector": {"/x": "ok"}},
            'spec.selector: Invalid value: "/x": prefix part must be non-empty',
            id="selector-empty-prefix",
        ),
        pytest.param(
            None,
            {"selector": {"app": "-x"}},
            'spec.selector: Invalid value: "-x": a valid label must be an empty string or '
            "consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
            "an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex "
            "used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
            id="selector-value",
        ),
        pytest.param(
            None,
            {"selector": {"example.com/app": "", "app.kubernetes.io/name": "x" * 63}},
            None,
            id="selector-ok",
        ),
    ],
)
def test_create_ports_and_selector_validate_service_rules(version, fields, expected):
    h = Harness((V4,), version=version)
    before = h.state()
    spec = {**svc(), **fields}
    if expected is None:
        h.create(spec)
        return
    with pytest.raises(InvalidServiceError) as info:
        h.create(spec)
    assert invalid_text(info.value) == expected
    assert h.state() == before


def test_create_kubelet_port_error_before_headless_load_balancer_error():
    h = Harness((V4,), version="1.30")
    with pytest.raises(InvalidServiceError) as info:
        h.create(
            {**svc(), "type": "LoadBalancer", "clusterIP": "None", "ports": [{"port": 10250}]}
        )
    assert invalid_text(info.value).startswith(f"[{_KUBELET}, spec.clusterIPs[0]: ")


def test_create_port_errors_in_upstream_order():
    # ports, selector, sessionAffinity, type, then nodePort/duplicate checks
    h = Harness((V4,))
    with pytest.raises(InvalidServiceError) as info:
        h.create(
            {
                **svc(sessionAffinity="Sticky"),
                "ports": [{"name": "a", "port": 80, "nodePort": 30001}, {"name": "b", "port": 80}],
                "selector": {"k": "bad value!"},
            }
        )
    fields = [e.field for e in info.value.field_errors]
    assert fields == [
        "spec.selector",
        "spec.sessionAffinity",
        "spec.ports[0].nodePort",
        "spec.ports[1]",
    ]


# --- v1 defaults: externalTrafficPolicy and sessionAffinityConfig (review F3) ----------------
_CLIENT_IP_DEFAULT = {"clientIP": {"timeoutSeconds": 10800}}


@pytest.mark.parametrize(
    ("version", "fields", "expected"),
    [
        pytest.param(None, {"type": "NodePort"}, {"externalTrafficPolicy": "Cluster"}, id="np"),
        pytest.param(
            "1.16", {"type": "LoadBalancer"}, {"externalTrafficPolicy": "Cluster"}, id="lb-1.16"
        ),
        pytest.param(
            None,
            {"type": "NodePort", "externalTrafficPolicy": "Local"},
            {"externalTrafficPolicy": "Local"},
            id="np-local-kept",
        ),
        pytest.param(None, {}, {"externalTrafficPolicy": None}, id="clusterip-none"),
        pytest.param(
            "1.28",
            {"externalIPs": ["192.0.2.7"]},
            {"externalTrafficPolicy": "Cluster"},
            id="external-ips-1.28",
        ),
        pytest.param(
            "1.27",
            {"externalIPs": ["192.0.2.7"]},
            {"externalTrafficPolicy": None},
            id="external-ips-1.27",
        ),
        pytest.param(
            None,
            {"sessionAffinity": "ClientIP"},
            {"sessionAffinityConfig": _CLIENT_IP_DEFAULT},
            id="client-ip",
        ),
        pytest.param(
            "1.16",
            {"sessionAffinity": "ClientIP", "sessionAffinityConfig": {"clientIP": {}}},
            {"sessionAffinityConfig": _CLIENT_IP_DEFAULT},
            id="client-ip-no-timeout-1.16",
        ),
        pytest.param(
            None,
            {
                "sessionAffinity": "ClientIP",
                "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}},
            },
            {"sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}}},
            id="client-ip-timeout-kept",
        ),
        pytest.param(
            None,
            {"sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}}},
            {"sessionAffinityConfig": None},
            id="none-drops-config",
        ),
    ],
)
def test_create_v1_defaults_traffic_policy_and_affinity(version, fields, expected):
    stored = Harness((V4,), version=version).create({**svc(), **fields})
    for key, value in expected.items():
        assert stored["spec"].get(key) == value


@pytest.mark.parametrize(
    ("new_fields", "expected"),
    [
        pytest.param({}, None, id="unchanged-dropped"),
        pytest.param({"type": "NodePort"}, "Cluster", id="still-nodeport-kept"),
    ],
)
def test_update_external_traffic_policy_dropped_when_type_stops_needing_it(new_fields, expected):
    h = Harness((V4,))
    stored = h.create(svc(type="NodePort"))
    spec = {**stored["spec"], "type": "ClusterIP", **new_fields}
    updated = h.update(spec)
    assert updated["spec"].get("externalTrafficPolicy") == expected


# --- 1.27-1.32: a leading zero inside an IPv6 text's dotted quad (review F4) ---------------
@pytest.mark.parametrize(
    ("version", "ip", "expected"),
    [
        pytest.param(
            "1.27",
            "::ffff:010.0.0.11",
            "spec.clusterIPs[0]: IP address was accepted, but will be invalid in a future "
            'Kubernetes release: ParseAddr("::ffff:010.0.0.11"): IPv4 field has octet with '
            "leading zero",
            id="1.27-mapped",
        ),
        pytest.param(
            "1.32",
            "::ffff:010.0.0.11",
            "spec.clusterIPs[0]: IP address was accepted, but will be invalid in a future "
            'Kubernetes release: ParseAddr("::ffff:010.0.0.11"): IPv4 field has octet with '
            "leading zero",
            id="1.32-mapped",
        ),
        pytest.param("1.32", "::ffff:10.0.0.12", None, id="1.32-mapped-no-zero"),
        pytest.param("1.26", "::ffff:010.0.0.11", None, id="1.26-none"),
    ],
)
def test_create_legacy_warning_embedded_leading_zero(version, ip, expected):
    h = Harness((V4,), version=version)
    outcome = create_service(
        {"metadata": {"name": "w"}, "spec": svc(clusterIP=ip)}, h.rules, h.allocators, rngs=h.rngs
    )
    assert list(outcome.warnings) == ([expected] if expected else [])


def test_check_manifest_generate_name_says_not_modelled():
    with pytest.raises(InvalidServiceError) as info:
        check_manifest({"metadata": {"generateName": "web-"}, "spec": {"ports": [{"port": 80}]}})
    assert info.value.message == (
        'Service "" is invalid: metadata.name: Required value: dualstack does not model '
        "generateName: give metadata.name"
    )
    with pytest.raises(InvalidServiceError, match="name or generateName is required"):
        check_manifest({"metadata": {}, "spec": {"ports": [{"port": 80}]}})


# --- dropTypeDependentFields beyond the IP fields (review 2 F1, F9) -----------------------
_NP_FORBIDDEN = "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"


@pytest.mark.parametrize(
    ("version", "old_type", "new_type"),
    [
        pytest.param("1.20", "NodePort", "ClusterIP", id="1.20-np-clusterip"),
        pytest.param("1.21", "LoadBalancer", "ClusterIP", id="1.21-lb-clusterip"),
        pytest.param("1.23", "NodePort", "ClusterIP", id="1.23-np-clusterip"),
        pytest.param(None, "NodePort", "ClusterIP", id="newest-np-clusterip"),
        pytest.param(None, "LoadBalancer", "ClusterIP", id="newest-lb-clusterip"),
        pytest.param(None, "LoadBalancer", "ExternalName", id="newest-lb-externalname"),
    ],
)
def test_update_type_change_unchanged_node_ports_wiped(version, old_type, new_type):
    h = Harness((V4,), version=version)
    stored = h.create({**svc(type=old_type), "ports": [{"port": 80, "nodePort": 30080}]})
    spec = {**stored["spec"], "type": new_type}
    if new_type == "ExternalName":
        spec["externalName"] = "db.example.com"
    updated = h.update(spec)
    assert updated["spec"]["type"] == new_type
    assert [p.get("nodePort") for p in updated["spec"]["ports"]] == [None]
    assert [p.get("nodePort") for p in stored["spec"]["ports"]] == [30080]  # (a copy)


@pytest.mark.parametrize(
    ("ports", "expected"),
    [
        pytest.param([{"port": 81, "nodePort": 30080}], [None], id="port-edited"),
        pytest.param(
            [{"name": "a", "port": 80, "nodePort": 30080}, {"name": "b", "port": 81}],
            [None, None],
            id="port-added-without-node-port",
        ),
        pytest.param([{"port": 80}], [None], id="node-port-omitted"),
    ],
)
def test_update_type_change_no_new_node_port_wiped(ports, expected):
    h = Harness((V4,))
    stored = h.create(
        {
            **svc(type="NodePort"),
            "ports": [
                {"name": "a", "port": 80, "nodePort": 30080},
                {"name": "b", "port": 82, "nodePort": 30082},
            ],
        }
    )
    updated = h.update({**stored["spec"], "type": "ClusterIP", "ports": ports})
    assert [p.get("nodePort") for p in updated["spec"]["ports"]] == expected


@pytest.mark.parametrize(
    "version",
    [pytest.param("1.19", id="1.19-alpha"), pytest.param(None, id="newest-new-node-port")],
)
def test_update_type_change_node_port_refused(version):
    # 1.16-1.19 had no strategy wipe; from 1.20 a node port the stored object lacks is
    # the user's own and is refused by validation.
    h = Harness((V4,), version=version)
    stored = h.create({**svc(type="NodePort"), "ports": [{"port": 80, "nodePort": 30080}]})
    new_port = 30080 if version == "1.19" else 30099
    before = h.state()
    with pytest.raises(InvalidServiceError) as info:
        h.update(
            {**stored["spec"], "type": "ClusterIP", "ports": [{"port": 80, "nodePort": new_port}]}
        )
    assert invalid_text(info.value) == _NP_FORBIDDEN
    assert h.state() == before


@pytest.mark.parametrize(
    ("version", "field", "stored_value", "sent", "expected"),
    [
        pytest.param(None, "allocateLoadBalancerNodePorts", None, None, None, id="alnp-default"),
        pytest.param(
            "1.21", "allocateLoadBalancerNodePorts", False, False, None, id="alnp-1.21-same"
        ),
        pytest.param(
            None, "allocateLoadBalancerNodePorts", True, False, False, id="alnp-changed-kept"
        ),
        pytest.param("1.21", "loadBalancerClass", "x.io/lb", "x.io/lb", None, id="class-same"),
        pytest.param(None, "loadBalancerClass", "x.io/lb", "y.io/lb", "y.io/lb", id="class-kept"),
        pytest.param(
            "1.20", "loadBalancerClass", "x.io/lb", "x.io/lb", "x.io/lb", id="class-1.20"
        ),
    ],
)
def test_update_leaving_load_balancer_unchanged_fields_dropped(
    version, field, stored_value, sent, expected
):
    h = Harness((V4,), version=version)
    fields = {} if stored_value is None else {field: stored_value}
    stored = h.create(svc(type="LoadBalancer", **fields))
    spec = {**stored["spec"], "type": "ClusterIP"}
    spec.pop("externalTrafficPolicy", None)
    spec.pop(field, None)
    if sent is not None:
        spec[field] = sent
    elif field in stored["spec"]:
        spec[field] = stored["spec"][field]
    updated = h.update(spec)
    assert updated["spec"].get(field) == expected


@pytest.mark.parametrize(
    ("new_fields", "expected"),
    [
        pytest.param({"type": "ClusterIP"}, None, id="to-clusterip"),
        pytest.param({"externalTrafficPolicy": "Cluster"}, None, id="etp-cluster"),
        pytest.param({"type": "NodePort", "healthCheckNodePort": 30501}, 30501, id="changed"),
        pytest.param({}, 30500, id="still-needed"),
    ],
)
def test_update_health_check_node_port_dropped_when_unused(new_fields, expected):
    h = Harness((V4,))
    stored = h.create(
        svc(type="LoadBalancer", externalTrafficPolicy="Local", healthCheckNodePort=30500)
    )
    updated = h.update({**stored["spec"], **new_fields})
    assert updated["spec"].get("healthCheckNodePort") == expected


# --- 1.16-1.22: the REST update clears externalTrafficPolicy whatever it is (review 2 F6) --
@pytest.mark.parametrize(
    ("version", "expected"),
    [
        pytest.param("1.16", None, id="1.16"),
        pytest.param("1.19", None, id="1.19"),
        pytest.param("1.20", None, id="1.20"),
        pytest.param("1.22", None, id="1.22"),
        pytest.param("1.23", "Cluster", id="1.23-changed-kept"),
        pytest.param(None, "Cluster", id="newest-changed-kept"),
    ],
)
def test_update_leaving_node_port_changed_external_traffic_policy(version, expected):
    h = Harness((V4,), version=version)
    stored = h.create(svc(type="NodePort", externalTrafficPolicy="Local"))
    spec = svc(type="ClusterIP", clusterIP=stored["spec"]["clusterIP"])
    updated = h.update({**spec, "externalTrafficPolicy": "Cluster"})
    assert updated["spec"].get("externalTrafficPolicy") == expected


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        pytest.param("1.16", (None, None), id="1.16"),
        pytest.param("1.22", (None, None), id="1.22"),
        pytest.param(None, (None, 30501), id="newest-etp-same-dropped-hc-changed-kept"),
    ],
)
def test_update_load_balancer_to_external_name_traffic_fields(version, expected):
    h = Harness((V4,), version=version)
    h.create(svc(type="LoadBalancer", externalTrafficPolicy="Local", healthCheckNodePort=30500))
    updated = h.update(
        svc(
            type="ExternalName",
            externalName="db.example.com",
            externalTrafficPolicy="Local",
            healthCheckNodePort=30501,
        )
    )["spec"]
    assert (updated.get("externalTrafficPolicy"), updated.get("healthCheckNodePort")) == expected


# --- what a JSON body cannot carry: non-string keys, other objects (review 2 F3) ----------
@pytest.mark.parametrize(
    ("manifest", "expected"),
    [
        pytest.param(
            {"selector": {2024: "release"}},
            "spec.selector: Invalid value: 2024: a key must be a string, not a number",
            id="selector-int-key",
        ),
        pytest.param(
            {"selector": {True: "x"}},
            "spec.selector: Invalid value: true: a key must be a string, not a boolean",
            id="selector-bool-key",
        ),
        pytest.param(
            {"selector": MappingProxyType({1.5: "x"})},
            'spec.selector: Invalid value: "1.5": a key must be a string, not a number',
            id="selector-mapping-float-key",
        ),
        pytest.param(
            {"ports": [{"port": 80, 7: "x"}]},
            "spec.ports[0]: Invalid value: 7: a key must be a string, not a number",
            id="port-key",
        ),
        pytest.param(
            {"x-extra": {"a": [1, {2: "b"}]}},
            "spec.x-extra.a[1]: Invalid value: 2: a key must be a string, not a number",
            id="nested-unknown-field-key",
        ),
        pytest.param(
            {"x-extra": b"raw"},
            "spec.x-extra: Invalid value: \"b'raw'\": must be a string, number, boolean, list "
            "or mapping, not a bytes",
            id="bytes-value",
        ),
    ],
)
def test_create_non_json_content_refused(manifest, expected):
    h = Harness((V4,))
    before = h.state()
    with pytest.raises(InvalidServiceError) as info:
        h.create({**svc(), **manifest})
    assert invalid_text(info.value) == expected
    assert h.state() == before and h.stored == {}


def test_create_yaml_number_selector_key_refused():
    manifest = yaml.safe_load(
        "metadata: {name: y}\nspec:\n  ports: [{port: 80}]\n  selector: {2024: release}\n"
    )
    with pytest.raises(InvalidServiceError, match="a key must be a string, not a number"):
        check_manifest(manifest)


@pytest.mark.parametrize(
    ("manifest", "expected"),
    [
        pytest.param(
            {"metadata": {"name": "w", "labels": {1: "x"}}},
            "metadata.labels: Invalid value: 1: a key must be a string, not a number",
            id="label-key",
        ),
        pytest.param(
            {"metadata": {"name": "w"}, None: 1},
            '<manifest>: Invalid value: "null": a key must be a string, not null',
            id="top-level-key",
        ),
    ],
)
def test_check_manifest_non_string_key_refused(manifest, expected):
    with pytest.raises(InvalidServiceError) as info:
        check_manifest(manifest)
    assert invalid_text(info.value) == expected


# --- a lone surrogate (json.loads of "\udcff") is refused, not a crash (review 2 F4) -------
@pytest.mark.parametrize(
    ("fields", "path"),
    [
        pytest.param({"selector": {"app": "\udcff"}}, "spec.selector", id="selector-value"),
        pytest.param({"selector": {"\udcff": "x"}}, "spec.selector", id="selector-key"),
        pytest.param({"selector": {"a\udcff.io/x": "y"}}, "spec.selector", id="selector-prefix"),
        pytest.param(
            {"ports": [{"port": 80, "targetPort": "\udcff"}]},
            "spec.ports[0].targetPort",
            id="target-port",
        ),
    ],
)
def test_create_lone_surrogate_refused(fields, path):
    h = Harness((V4,))
    before = h.state()
    with pytest.raises(InvalidServiceError) as info:
        h.create({**svc(), **fields})
    assert [e.field for e in info.value.field_errors] == [path] * len(info.value.field_errors)
    assert h.state() == before


# --- sessionAffinityConfig: shape and timeout range (review 2 F10) ------------------------
_TIMEOUT_PATH = "spec.sessionAffinityConfig.clientIP.timeoutSeconds"


@pytest.mark.parametrize(
    ("version", "config", "expected"),
    [
        pytest.param(
            None,
            [1],
            'spec.sessionAffinityConfig: Invalid value: "[1]": must be a mapping, not a list',
            id="config-list",
        ),
        pytest.param(
            None,
            {"clientIP": "x"},
            'spec.sessionAffinityConfig.clientIP: Invalid value: "x": must be a mapping, '
            "not a string",
            id="client-ip-string",
        ),
        pytest.param(
            None,
            {"clientIP": {"timeoutSeconds": "x"}},
            f'{_TIMEOUT_PATH}: Invalid value: "x": must be an integer, not a string',
            id="timeout-string",
        ),
        pytest.param(
            None,
            {"clientIP": {"timeoutSeconds": True}},
            f"{_TIMEOUT_PATH}: Invalid value: true: must be an integer, not a boolean",
            id="timeout-bool",
        ),
        pytest.param(
            None,
            {"clientIP": {"timeoutSeconds": 0}},
            f"{_TIMEOUT_PATH}: Invalid value: 0: must be greater than 0 and less than 86400",
            id="timeout-zero",
        ),
        pytest.param(
            "1.16",
            {"clientIP": {"timeoutSeconds": 86401}},
            f"{_TIMEOUT_PATH}: Invalid value: 86401: must be greater than 0 and less than 86400",
            id="timeout-too-long-1.16",
        ),
    ],
)
def test_create_session_affinity_config_refused(version, config, expected):
    h = Harness((V4,), version=version)
    before = h.state()
    with pytest.raises(InvalidServiceError) as info:
        h.create(svc(sessionAffinity="ClientIP", sessionAffinityConfig=config))
    assert invalid_text(info.value) == expected
    assert h.state() == before


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        pytest.param({"clientIP": {"timeoutSeconds": 86400}}, 86400, id="one-day"),
        pytest.param({"clientIP": {"timeoutSeconds": 1}}, 1, id="one-second"),
        pytest.param({"clientIP": None}, 10800, id="client-ip-null-defaulted"),
    ],
)
def test_create_session_affinity_config_accepted(config, expected):
    stored = Harness((V4,)).create(svc(sessionAffinity="ClientIP", sessionAffinityConfig=config))
    assert stored["spec"]["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": expected}}


# --- appProtocol: a qualified name from 1.19, not stored before (review 2 F8) -------------
_APP_PROTOCOL_TEXT = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
    "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
    "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)


@pytest.mark.parametrize(
    ("version", "app", "expected"),
    [
        pytest.param(
            None,
            "bad value!",
            [f'spec.ports[0].appProtocol: Invalid value: "bad value!": {_APP_PROTOCOL_TEXT}'],
            id="newest-bad",
        ),
        pytest.param(
            "1.19",
            "",
            [
                'spec.ports[0].appProtocol: Invalid value: "": name part must be non-empty',
                f'spec.ports[0].appProtocol: Invalid value: "": {_APP_PROTOCOL_TEXT}',
            ],
            id="1.19-empty",
        ),
    ],
)
def test_create_app_protocol_refused(version, app, expected):
    h = Harness((V4,), version=version)
    with pytest.raises(InvalidServiceError) as info:
        h.create({**svc(), "ports": [{"port": 80, "appProtocol": app}]})
    assert [str(e) for e in info.value.field_errors] == expected


@pytest.mark.parametrize(
    ("version", "app", "expected"),
    [
        pytest.param(None, "kubernetes.io/h2c", "kubernetes.io/h2c", id="newest-prefixed"),
        pytest.param("1.19", "https", "https", id="1.19-kept"),
        pytest.param("1.18", "bad value!", None, id="1.18-dropped"),
        pytest.param("1.16", "https", None, id="1.16-unknown-field"),
    ],
)
def test_create_app_protocol_stored(version, app, expected):
    stored = Harness((V4,), version=version).create(
        {**svc(), "ports": [{"port": 80, "appProtocol": app}]}
    )
    assert stored["spec"]["ports"][0].get("appProtocol") == expected


def test_update_app_protocol_in_use_kept_on_1_18():
    h = Harness((V4,), version="1.18")
    stored = h.create({**svc(), "ports": [{"port": 80}]})
    stored["spec"]["ports"][0]["appProtocol"] = "https"  # (stored with the gate on)
    spec = {**svc(clusterIP=stored["spec"]["clusterIP"]), "ports": [{"port": 80}]}
    spec["ports"][0]["appProtocol"] = "http"
    updated = h.update(spec)
    assert updated["spec"]["ports"][0]["appProtocol"] == "http"

"""Tests for dualstack.errors: the exception tree, FieldError rendering, aggregation.

Rendering follows service-ips.md §0.2 and apimachinery's ``field.Error.ErrorBody``
(kubernetes/kubernetes:staging/src/k8s.io/apimachinery/pkg/util/validation/field).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dualstack.errors import (
    AllocationError,
    AlreadyAllocatedError,
    ConfigError,
    DualStackError,
    FieldError,
    FieldErrorType,
    InvalidAddressError,
    InvalidServiceError,
    MismatchedNetworkError,
    NotFoundError,
    NotInRangeError,
    RangeFullError,
    go_repr,
    with_hint,
)

# --- the tree --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "bases"),
    [
        (InvalidAddressError, (DualStackError, ValueError)),
        (ConfigError, (DualStackError, ValueError)),
        (InvalidServiceError, (DualStackError, ValueError)),
        (AllocationError, (DualStackError,)),
        (RangeFullError, (AllocationError, DualStackError)),
        (AlreadyAllocatedError, (AllocationError, DualStackError)),
        (NotInRangeError, (AllocationError, DualStackError, ValueError)),
        (MismatchedNetworkError, (AllocationError, DualStackError)),
        (NotFoundError, (DualStackError, LookupError)),
        (DualStackError, (Exception,)),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else None,
)
def test_error_tree_class_subclasses_contract_bases(cls, bases):
    for base in bases:
        assert issubclass(cls, base)


@pytest.mark.parametrize(
    ("cls", "not_base"),
    [
        (AllocationError, ValueError),
        (RangeFullError, ValueError),
        (AlreadyAllocatedError, ValueError),
        (MismatchedNetworkError, ValueError),
        (NotFoundError, ValueError),
        (ConfigError, LookupError),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else None,
)
def test_error_tree_class_not_subclass_of_unrelated_builtin(cls, not_base):
    assert not issubclass(cls, not_base)


def test_not_found_error_caught_as_lookup_error():
    with pytest.raises(LookupError):
        raise NotFoundError('node "n1" not found')


def test_dual_stack_error_with_hint_joins_with_em_dash():
    error = RangeFullError("range is full", hint="use a larger range")
    assert str(error) == "range is full — use a larger range"
    assert error.message == "range is full"
    assert error.hint == "use a larger range"


def test_dual_stack_error_without_hint_is_message_only():
    error = AlreadyAllocatedError("provided IP is already allocated")
    assert str(error) == "provided IP is already allocated"
    assert error.hint is None


@pytest.mark.parametrize(
    ("message", "hint", "expected"),
    [
        ("range is full", None, "range is full"),
        ("range is full", "", "range is full"),
        ("range is full", "free one", "range is full — free one"),
    ],
    ids=["none", "empty", "hint"],
)
def test_with_hint_forms_expected_text(message, hint, expected):
    assert with_hint(message, hint) == expected


def test_invalid_address_error_keeps_value():
    error = InvalidAddressError("invalid IP address: 'x'", value="x", hint="give an IP")
    assert error.value == "x"
    assert str(error) == "invalid IP address: 'x' — give an IP"


# --- ConfigError -------------------------------------------------------------------------


def test_config_error_single_string_is_one_error_with_hint():
    error = ConfigError("bad flag", hint="fix it")
    assert error.errors == ("bad flag — fix it",)
    assert str(error) == "bad flag — fix it"
    assert error.message == "bad flag" and error.hint == "fix it"


def test_config_error_several_lists_every_error():
    error = ConfigError(["first", "second"])
    assert error.errors == ("first", "second")
    assert str(error) == "2 configuration errors:\n- first\n- second"


def test_config_error_one_item_list_is_bare():
    assert str(ConfigError(["only"])) == "only"


def test_config_error_empty_list_refused():
    with pytest.raises(ValueError, match="at least one error"):
        ConfigError([])


# --- go_repr ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "go_type", "expected"),
    [
        ("10.0.0.1", None, '"10.0.0.1"'),
        ("", None, '""'),
        ('a"b', None, '"a\\"b"'),
        ("a\\b", None, '"a\\\\b"'),
        ("a\nb", None, '"a\\nb"'),
        ("a\tb", None, '"a\\tb"'),
        ("\x00", None, '"\\x00"'),
        ("\x7f", None, '"\\x7f"'),
        ("é", None, '"é"'),
        ("日本", None, '"日本"'),
        ("\u00a0", None, '"\\u00a0"'),
        (True, None, "true"),
        (False, None, "false"),
        (7, None, "7"),
        (-1, None, "-1"),
        (None, "[]string", "[]string(nil)"),
        (None, "[]core.IPFamily", "[]core.IPFamily(nil)"),
        (["10.0.0.1", "2000::1"], None, '[]string{"10.0.0.1", "2000::1"}'),
        ([], None, "[]string{}"),
        (("a",), None, '[]string{"a"}'),
        (["IPv4"], "[]core.IPFamily", '[]core.IPFamily{"IPv4"}'),
        (["IPv6", "IPv4"], "[]core.IPFamily", '[]core.IPFamily{"IPv6", "IPv4"}'),
    ],
    ids=[
        "string",
        "empty-string",
        "quote",
        "backslash",
        "newline",
        "tab",
        "nul",
        "del",
        "latin-letter",
        "cjk",
        "nbsp",
        "true",
        "false",
        "int",
        "negative-int",
        "nil-string-slice",
        "nil-family-slice",
        "string-slice",
        "empty-slice",
        "tuple",
        "family-slice",
        "family-slice-two",
    ],
)
def test_go_repr_value_renders_as_go(value, go_type, expected):
    assert go_repr(value, go_type) == expected


def test_go_repr_named_string_type_prints_quoted():
    # IPFamilyPolicy and IPFamily are named string types: %#v / %q print them quoted.
    from dualstack.families import IPFamily

    assert go_repr(IPFamily.IPv6) == '"IPv6"'
    assert go_repr("SingleStack") == '"SingleStack"'


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a\rb", '"a\\rb"'),
        ("\x07", '"\\a"'),
        ("\x08", '"\\b"'),
        ("\x0c", '"\\f"'),
        ("\x0b", '"\\v"'),
    ],
    ids=["cr", "bell", "backspace", "formfeed", "vtab"],
)
def test_go_repr_control_character_uses_go_short_escape(value, expected):
    assert go_repr(value) == expected


def test_go_repr_non_printable_astral_rune_uses_capital_u_escape():
    assert go_repr("\U0001d173") == '"\\U0001d173"'


@given(st.text())
def test_go_repr_any_string_round_trips_through_go_quote_rules(text):
    rendered = go_repr(text)
    assert rendered.startswith('"')
    assert rendered.endswith('"')
    inner = rendered[1:-1]
    # Every quote and backslash of the input is escaped, so none is left bare.
    stripped = inner.replace("\\\\", "").replace('\\"', "")
    assert '"' not in stripped
    # Printable characters other than quote and backslash pass through unchanged.
    assert all(ch in inner for ch in text if ch.isprintable() and ch not in '"\\')


# --- FieldError -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            FieldError(
                FieldErrorType.INVALID,
                "spec.ipFamilies[0]",
                "IPv6",
                "not configured on this cluster",
            ),
            'spec.ipFamilies[0]: Invalid value: "IPv6": not configured on this cluster',
        ),
        (
            FieldError(
                FieldErrorType.REQUIRED, "spec.ipFamilyPolicy", "SingleStack", "must be set"
            ),
            "spec.ipFamilyPolicy: Required value: must be set",
        ),
        (
            FieldError(
                FieldErrorType.FORBIDDEN, "spec.clusterIPs[1]", "10.0.0.1", "may not be set"
            ),
            "spec.clusterIPs[1]: Forbidden: may not be set",
        ),
        (
            FieldError(FieldErrorType.INTERNAL, "spec.clusterIPs", "ignored", "boom"),
            "spec.clusterIPs: Internal error: boom",
        ),
        (
            FieldError(FieldErrorType.REQUIRED, "spec.ipFamilies"),
            "spec.ipFamilies: Required value",
        ),
        (
            FieldError(
                FieldErrorType.NOT_SUPPORTED,
                "spec.ipFamilyPolicy",
                "Both",
                'supported values: "PreferDualStack", "RequireDualStack", "SingleStack"',
            ),
            'spec.ipFamilyPolicy: Unsupported value: "Both": supported values: '
            '"PreferDualStack", "RequireDualStack", "SingleStack"',
        ),
        (
            FieldError(FieldErrorType.DUPLICATE, "spec.ipFamilies[1]", "IPv4"),
            'spec.ipFamilies[1]: Duplicate value: "IPv4"',
        ),
        (
            FieldError(
                FieldErrorType.INVALID,
                "spec.clusterIPs",
                ["10.0.0.1", "2000::1"],
                "may specify no more than one IP for each IP family",
            ),
            'spec.clusterIPs: Invalid value: []string{"10.0.0.1", "2000::1"}: '
            "may specify no more than one IP for each IP family",
        ),
        (
            FieldError(FieldErrorType.INVALID, "spec.clusterIPs", None, "x", go_type="[]string"),
            "spec.clusterIPs: Invalid value: []string(nil): x",
        ),
        (
            FieldError(
                FieldErrorType.INVALID,
                "spec.ipFamilies",
                ["IPv4", "IPv4"],
                "x",
                go_type="[]core.IPFamily",
            ),
            'spec.ipFamilies: Invalid value: []core.IPFamily{"IPv4", "IPv4"}: x',
        ),
        (
            FieldError(FieldErrorType.INVALID, "spec.clusterIP", 'a"b', "bad"),
            'spec.clusterIP: Invalid value: "a\\"b": bad',
        ),
        (
            FieldError(FieldErrorType.INVALID, "spec.ports[0].port", 0, ""),
            "spec.ports[0].port: Invalid value: 0",
        ),
        (
            FieldError(FieldErrorType.INVALID, "spec.allocateLoadBalancerNodePorts", False, "x"),
            "spec.allocateLoadBalancerNodePorts: Invalid value: false: x",
        ),
    ],
    ids=[
        "invalid-string",
        "required-hides-value",
        "forbidden-hides-value",
        "internal-hides-value",
        "required-no-detail",
        "not-supported",
        "duplicate-no-detail",
        "string-slice",
        "nil-slice",
        "family-slice",
        "go-quoting",
        "int-no-detail",
        "bool",
    ],
)
def test_field_error_str_renders_as_apimachinery(error, expected):
    assert str(error) == expected


def test_field_error_nil_value_renders_quoted_null_as_upstream():
    error = FieldError(FieldErrorType.INVALID, "bla", None, "details")
    assert str(error) == 'bla: Invalid value: "null": details'


def test_field_error_is_frozen_value():
    error = FieldError(FieldErrorType.INVALID, "f", "v", "d")
    with pytest.raises(AttributeError):
        error.field = "g"  # type: ignore[misc]
    assert error == FieldError(FieldErrorType.INVALID, "f", "v", "d")
    assert hash(error) == hash(FieldError(FieldErrorType.INVALID, "f", "v", "d"))


def test_field_error_type_values_are_upstream_strings():
    assert [t.value for t in FieldErrorType] == [
        "Required value",
        "Invalid value",
        "Unsupported value",
        "Duplicate value",
        "Forbidden",
        "Internal error",
    ]


@given(
    st.sampled_from([FieldErrorType.REQUIRED, FieldErrorType.FORBIDDEN, FieldErrorType.INTERNAL]),
    st.text(min_size=1, alphabet=st.characters(codec="ascii", categories=["L", "N"])),
)
def test_field_error_valueless_type_any_value_never_printed(error_type, value):
    error = FieldError(error_type, "spec.x", "SECRET" + value, "detail")
    assert str(error) == f"spec.x: {error_type.value}: detail"


# --- InvalidServiceError ---------------------------------------------------------------------

_E1 = FieldError(FieldErrorType.INVALID, "spec.clusterIP", "x", "must be a valid IP address")
_E2 = FieldError(FieldErrorType.REQUIRED, "spec.ipFamilies", None, "")


def test_invalid_service_error_one_error_is_bare():
    error = InvalidServiceError("web", [_E1])
    assert str(error) == (
        'Service "web" is invalid: spec.clusterIP: Invalid value: "x": must be a valid IP address'
    )
    assert error.field_errors == (_E1,)
    assert error.name == "web"


def test_invalid_service_error_several_errors_are_bracketed_in_order():
    error = InvalidServiceError("web", [_E2, _E1])
    assert str(error) == (
        'Service "web" is invalid: [spec.ipFamilies: Required value, '
        'spec.clusterIP: Invalid value: "x": must be a valid IP address]'
    )


def test_invalid_service_error_duplicate_messages_shown_once():
    twin = FieldError(FieldErrorType.INVALID, "spec.clusterIP", "x", "must be a valid IP address")
    error = InvalidServiceError("web", [_E1, _E2, twin])
    assert str(error).count("must be a valid IP address") == 1
    assert str(error).startswith('Service "web" is invalid: [')
    assert len(error.field_errors) == 3  # the list itself keeps every entry


def test_invalid_service_error_only_duplicates_is_bare():
    error = InvalidServiceError("web", [_E1, _E1])
    assert not str(error).endswith("]")
    assert str(error).startswith('Service "web" is invalid: spec.clusterIP')


def test_invalid_service_error_same_text_different_types_deduplicated_by_text():
    # Forbidden hides the value, so two Forbidden errors differing only in value render
    # the same and are shown once, as upstream's ToAggregate dedupes by message.
    a = FieldError(FieldErrorType.FORBIDDEN, "spec.clusterIPs", "1", "no")
    b = FieldError(FieldErrorType.FORBIDDEN, "spec.clusterIPs", "2", "no")
    assert str(InvalidServiceError("s", [a, b])) == (
        'Service "s" is invalid: spec.clusterIPs: Forbidden: no'
    )


def test_invalid_service_error_hint_follows_em_dash():
    error = InvalidServiceError("web", [_E1], hint="give an address inside 10.96.0.0/12")
    assert str(error).endswith("must be a valid IP address — give an address inside 10.96.0.0/12")
    assert error.hint == "give an address inside 10.96.0.0/12"


def test_invalid_service_error_name_go_quoted():
    assert str(InvalidServiceError('a"b', [_E1])).startswith('Service "a\\"b" is invalid: ')


def test_invalid_service_error_is_value_error():
    with pytest.raises(ValueError):
        raise InvalidServiceError("web", [_E1])


@given(st.lists(st.sampled_from([_E1, _E2]), min_size=1, max_size=6))
def test_invalid_service_error_any_list_brackets_iff_distinct_messages(errors):
    text = str(InvalidServiceError("svc", errors))
    distinct = {str(e) for e in errors}
    body = text.removeprefix('Service "svc" is invalid: ')
    if len(distinct) == 1:
        assert body == str(errors[0])
    else:
        assert body == "[" + ", ".join(dict.fromkeys(str(e) for e in errors)) + "]"


def test_config_error_message_and_hint_split_from_a_joined_error():
    # Configuration checks join upstream text and hint before collecting them.
    error = ConfigError(["upstream text — what would work", "second — its hint"])
    assert error.message == "upstream text" and error.hint == "what would work"
    assert error.errors == ("upstream text — what would work", "second — its hint")
    plain = ConfigError("upstream text")
    assert plain.message == "upstream text" and plain.hint is None

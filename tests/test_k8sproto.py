"""RangeAllocation wire forms: the etcd protobuf envelope, JSON and YAML (service-ips.md §1.9)."""

from __future__ import annotations

import base64
import contextlib
import json

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from dualstack._k8sproto import (
    ENVELOPE_PREFIX,
    decode_envelope,
    decode_manifest,
    decode_range_allocation,
    encode_envelope,
    encode_json,
    encode_yaml,
)
from dualstack.errors import DualStackError


def _ld(number: int, payload: bytes) -> bytes:
    """A length-delimited field written by hand (payloads here are < 128 bytes)."""
    assert len(payload) < 128
    return bytes([(number << 3) | 2, len(payload)]) + payload


# The envelope of range 10.0.0.0/24 with 10.0.0.1 and 10.0.0.10 allocated (data 02 01),
# spelled out field by field as apimachinery's serializer lays it out.
_TYPE_META = _ld(1, b"v1") + _ld(2, b"RangeAllocation")
_OBJECT = _ld(1, b"") + _ld(2, b"10.0.0.0/24") + _ld(3, b"\x02\x01")
_EXPECTED = b"k8s\x00" + _ld(1, _TYPE_META) + _ld(2, _OBJECT) + _ld(3, b"") + _ld(4, b"")


def test_encode_envelope_known_example_matches_field_layout():
    assert encode_envelope("10.0.0.0/24", b"\x02\x01") == _EXPECTED


def test_decode_envelope_known_example_returns_range_and_data():
    assert decode_envelope(_EXPECTED) == ("10.0.0.0/24", b"\x02\x01")


def test_decode_envelope_full_object_meta_and_unknown_fields_skipped():
    # ObjectMeta as gogo-protobuf writes it for a stored object: strings, a varint
    # (generation, field 7), a nested creationTimestamp (field 8), plus fixed-width
    # fields a future release might add, at both levels.
    timestamp = bytes([0x08, 0x96, 0x01]) + bytes([0x10, 0x00])  # seconds=150, nanos=0
    metadata = (
        _ld(1, b"kubernetes")
        + _ld(3, b"")
        + _ld(6, b"")
        + bytes([7 << 3, 0x05])
        + _ld(8, timestamp)
        + bytes([(20 << 3) | 1])
        + b"\x00" * 8
        + bytes([(21 << 3) | 5])
        + b"\x00" * 4
    )
    obj = _ld(1, metadata) + _ld(2, b"fd00:10:96::/112") + _ld(3, b"\x40") + bytes([9 << 3, 1])
    blob = ENVELOPE_PREFIX + _ld(1, _TYPE_META) + _ld(2, obj) + _ld(3, b"") + _ld(4, b"")
    assert decode_envelope(blob) == ("fd00:10:96::/112", b"\x40")


def test_decode_envelope_repeated_field_last_one_wins():
    obj = _ld(2, b"10.0.0.0/24") + _ld(2, b"10.1.0.0/24")
    blob = ENVELOPE_PREFIX + _ld(1, _TYPE_META) + _ld(2, obj)
    assert decode_envelope(blob) == ("10.1.0.0/24", b"")


@pytest.mark.parametrize(
    ("blob", "needle"),
    [
        (b"", "not a Kubernetes protobuf value"),
        (b"k8s\x00", "empty protobuf body"),
        (b"\x89PNG....", "not a Kubernetes protobuf value"),
        (b"k8s:enc:aescbc:v1:key1:\x00\x01\x02", "encrypted at rest (k8s:enc:aescbc:v1)"),
        (b"k8s\x00\x0a\x05\x0a\x02v1", "truncated"),
        (b"k8s\x00\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", "varint longer"),
        (b"k8s\x00\x0b", "wire type 3"),
        (b"k8s\x00\x02\x00", "numbered 0"),
    ],
    ids=["empty", "prefix-only", "png", "encrypted", "truncated", "long-varint", "group", "zero"],
)
def test_decode_envelope_malformed_raises_dualstack_error(blob, needle):
    with pytest.raises(DualStackError) as info:
        decode_envelope(blob)
    assert needle in str(info.value)


def test_decode_envelope_other_kind_names_it():
    type_meta = _ld(1, b"v1") + _ld(2, b"Service")
    blob = ENVELOPE_PREFIX + _ld(1, type_meta) + _ld(2, b"")
    with pytest.raises(DualStackError, match="is a Service, not a RangeAllocation"):
        decode_envelope(blob)


def test_decode_envelope_other_api_version_refused():
    type_meta = _ld(1, b"v2") + _ld(2, b"RangeAllocation")
    blob = ENVELOPE_PREFIX + _ld(1, type_meta) + _ld(2, _OBJECT)
    with pytest.raises(DualStackError, match="apiVersion 'v2'"):
        decode_envelope(blob)


def test_decode_envelope_empty_range_refused():
    blob = ENVELOPE_PREFIX + _ld(1, _TYPE_META) + _ld(2, _ld(3, b"\x01"))
    with pytest.raises(DualStackError, match="empty range"):
        decode_envelope(blob)


def test_decode_envelope_every_truncation_fails_cleanly_or_decodes():
    blob = encode_envelope("10.96.0.0/12", bytes(range(1, 200)))
    for cut in range(len(blob)):
        try:
            result = decode_envelope(blob[:cut])
        except DualStackError:
            continue
        # A cut at a field boundary after the object is still a complete message.
        assert result == ("10.96.0.0/12", bytes(range(1, 200)))


_ranges = st.sampled_from(["10.96.0.0/12", "10.0.0.0/24", "fd00:10:96::/112", "2001:db8::/64"])


@settings(max_examples=60)
@given(range_spec=_ranges, data=st.binary(max_size=600))
def test_encoders_round_trip_through_autodetect(range_spec, data):
    for blob in (
        encode_envelope(range_spec, data),
        encode_json(range_spec, data).encode(),
        encode_yaml(range_spec, data).encode(),
    ):
        assert decode_range_allocation(blob) == (range_spec, data)


@settings(max_examples=100)
@given(junk=st.binary(max_size=64))
def test_decode_range_allocation_junk_raises_only_dualstack_error(junk):
    for blob in (ENVELOPE_PREFIX + junk, junk):
        with contextlib.suppress(DualStackError):
            decode_range_allocation(blob)


def test_decode_range_allocation_etcdctl_text_output_with_key_line():
    value = encode_envelope("10.0.0.0/24", b"\x01")
    blob = b"/registry/ranges/serviceips\n" + value + b"\n"
    assert decode_range_allocation(blob) == ("10.0.0.0/24", b"\x01")


def test_decode_range_allocation_print_value_only_trailing_newline():
    value = encode_envelope("10.0.0.0/24", b"\x01")
    assert decode_range_allocation(value + b"\n") == ("10.0.0.0/24", b"\x01")


def test_decode_range_allocation_etcdctl_json_output():
    value = encode_envelope("fd00::/112", b"\x03")
    blob = json.dumps(
        {
            "header": {"revision": 7},
            "kvs": [
                {
                    "key": base64.b64encode(b"/registry/ranges/serviceips").decode(),
                    "value": base64.b64encode(value).decode(),
                }
            ],
            "count": 1,
        }
    ).encode()
    assert decode_range_allocation(blob) == ("fd00::/112", b"\x03")


def test_decode_range_allocation_etcdctl_json_no_keys_says_so():
    with pytest.raises(DualStackError, match="holds no key"):
        decode_range_allocation(b'{"kvs": []}')


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '{"kind":"RangeAllocation","apiVersion":"v1","range":"10.0.0.0/24","data":"AgE="}',
            ("10.0.0.0/24", b"\x02\x01"),
        ),
        ('{"range":"10.0.0.0/24","data":""}', ("10.0.0.0/24", b"")),
        ('{"range":"10.0.0.0/24"}', ("10.0.0.0/24", b"")),
        ("range: 10.0.0.0/24\ndata: AgA=\n", ("10.0.0.0/24", b"\x02\x00")),
        (
            "kind: RangeAllocation\nrange: 10.0.0.0/24\ndata: !!binary AQ==\n",
            ("10.0.0.0/24", b"\x01"),
        ),
        ('{"range":"10.0.0.0/24","data":"Ag\\nE="}', ("10.0.0.0/24", b"\x02\x01")),
    ],
    ids=["json-spec-example", "json-empty-data", "json-no-data", "yaml", "yaml-binary", "wrapped"],
)
def test_decode_range_allocation_manifests_spec_examples(text, expected):
    assert decode_range_allocation(text.encode()) == expected


@pytest.mark.parametrize(
    ("obj", "needle"),
    [
        ([1, 2], "expected a RangeAllocation object, got list"),
        ({"data": "AQ=="}, "has no range"),
        ({"range": 5}, "has no range"),
        ({"range": "10.0.0.0/24", "data": "!!"}, "not valid base64"),
        ({"range": "10.0.0.0/24", "data": 5}, "data is a int"),
        ({"kind": "Service", "range": "10.0.0.0/24"}, "is a Service"),
    ],
    ids=["list", "no-range", "range-int", "bad-base64", "data-int", "wrong-kind"],
)
def test_decode_manifest_invalid_raises_with_hint(obj, needle):
    with pytest.raises(DualStackError) as info:
        decode_manifest(obj)
    assert needle in str(info.value)
    assert " — " in str(info.value)


@pytest.mark.parametrize(
    ("blob", "needle"),
    [
        (b"", "empty"),
        (b"  \n", "empty"),
        (b"\xff\xfe\x00garbage", "neither a protobuf envelope"),
        (b"{unclosed: [", "not valid JSON or YAML"),
    ],
    ids=["empty", "blank", "binary", "bad-yaml"],
)
def test_decode_range_allocation_unrecognised_input_says_what_works(blob, needle):
    with pytest.raises(DualStackError) as info:
        decode_range_allocation(blob)
    assert needle in str(info.value)


def test_encode_yaml_is_plain_yaml_with_base64_data():
    loaded = yaml.safe_load(encode_yaml("10.0.0.0/24", b"\x02\x01"))
    assert loaded == {
        "kind": "RangeAllocation",
        "apiVersion": "v1",
        "metadata": {},
        "range": "10.0.0.0/24",
        "data": "AgE=",
    }

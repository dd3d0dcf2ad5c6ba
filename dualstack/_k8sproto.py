"""The wire forms of a kube-apiserver ``RangeAllocation``: protobuf envelope, JSON, YAML.

Purpose: let an operator read the Service IP allocation of a live cluster from what
kube-apiserver left in etcd (``/registry/ranges/serviceips``) or from a JSON/YAML
dump, without a protobuf dependency. Spec: service-ips.md §1.9.

The etcd value is Kubernetes' storage envelope (apimachinery's protobuf serializer):

* four magic bytes ``k8s\\x00`` (the fourth byte names the encoding style; 0 is the
  only one defined), then
* a proto2 ``runtime.Unknown`` message: field 1 ``typeMeta`` (a message with field 1
  ``apiVersion`` and field 2 ``kind``, both strings), field 2 ``raw`` (the object's
  own protobuf bytes), field 3 ``contentEncoding`` and field 4 ``contentType`` (strings,
  written empty by kube-apiserver);
* ``raw`` is a core/v1 ``RangeAllocation``: field 1 ``metadata`` (ObjectMeta, skipped
  here), field 2 ``range`` (string), field 3 ``data`` (bytes, the big-endian bitmap).

Key functions: ``decode_range_allocation(blob)`` (auto-detects the form) ->
``(range, data)``; ``decode_envelope``, ``decode_manifest``;
``encode_envelope(range, data)`` and ``encode_json``/``encode_yaml`` (for tests and
round trips).

Invariants: unknown protobuf fields of every wire type are skipped, as any protobuf
reader does; every malformed input raises ``DualStackError`` naming what is wrong and
what would work, never ``IndexError``/``UnicodeDecodeError``. Values encrypted at rest
(``k8s:enc:``) are recognised and refused with a hint.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Final

import yaml

from dualstack.errors import DualStackError

__all__ = [
    "ENVELOPE_PREFIX",
    "decode_envelope",
    "decode_manifest",
    "decode_range_allocation",
    "encode_envelope",
    "encode_json",
    "encode_yaml",
]

ENVELOPE_PREFIX: Final = b"k8s\x00"
"""The magic bytes before every protobuf object kube-apiserver stores."""

_ENCRYPTED_PREFIX: Final = b"k8s:enc:"
_KIND: Final = "RangeAllocation"
_API_VERSION: Final = "v1"

# Protobuf wire types (the low three bits of a field key).
_VARINT: Final = 0
_FIXED64: Final = 1
_LEN: Final = 2
_FIXED32: Final = 5

_FIX_ENVELOPE_HINT: Final = (
    "give the value exactly as `etcdctl get --print-value-only "
    "/registry/ranges/serviceips` writes it, or a JSON/YAML RangeAllocation"
)


def _error(message: str, hint: str = _FIX_ENVELOPE_HINT) -> DualStackError:
    return DualStackError(message, hint=hint)


# --- a minimal protobuf reader and writer ------------------------------------------


def _read_varint(buf: bytes, pos: int, what: str) -> tuple[int, int]:
    """Decode a base-128 varint at ``pos``; return ``(value, next position)``."""
    value = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise _error(f"truncated protobuf: {what} ends inside a varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift >= 64:
            raise _error(f"invalid protobuf: {what} has a varint longer than 10 bytes")


def _fields(buf: bytes, what: str) -> dict[int, list[int | bytes]]:
    """Split a protobuf message into ``{field number: [values in order]}``.

    Length-delimited values come back as ``bytes``, varints and fixed-width values as
    ``int``. Groups (wire types 3 and 4, unused by Kubernetes) are refused.
    """
    out: dict[int, list[int | bytes]] = {}
    pos = 0
    while pos < len(buf):
        key, pos = _read_varint(buf, pos, what)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise _error(f"invalid protobuf: {what} has a field numbered 0")
        value: int | bytes
        if wire == _VARINT:
            value, pos = _read_varint(buf, pos, what)
        elif wire == _LEN:
            length, pos = _read_varint(buf, pos, what)
            if pos + length > len(buf):
                raise _error(
                    f"truncated protobuf: field {number} of {what} needs {length} bytes, "
                    f"{len(buf) - pos} left"
                )
            value = bytes(buf[pos : pos + length])
            pos += length
        elif wire in (_FIXED64, _FIXED32):
            width = 8 if wire == _FIXED64 else 4
            if pos + width > len(buf):
                raise _error(f"truncated protobuf: field {number} of {what} is cut short")
            value = int.from_bytes(buf[pos : pos + width], "little")
            pos += width
        else:
            raise _error(f"invalid protobuf: {what} uses wire type {wire} in field {number}")
        out.setdefault(number, []).append(value)
    return out


def _last_bytes(fields: Mapping[int, list[int | bytes]], number: int, what: str) -> bytes:
    """The last occurrence of a length-delimited field (protobuf's last-one-wins rule)."""
    values = fields.get(number)
    if not values:
        return b""
    value = values[-1]
    if not isinstance(value, bytes):
        raise _error(f"invalid protobuf: field {number} of {what} is not length-delimited")
    return value


def _last_text(fields: Mapping[int, list[int | bytes]], number: int, what: str) -> str:
    raw = _last_bytes(fields, number, what)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _error(f"invalid protobuf: field {number} of {what} is not UTF-8 text") from None


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _len_field(number: int, payload: bytes) -> bytes:
    return _varint((number << 3) | _LEN) + _varint(len(payload)) + payload


# --- the envelope --------------------------------------------------------------------


def encode_envelope(range_spec: str, data: bytes, *, name: str = "") -> bytes:
    """Encode a ``RangeAllocation`` as kube-apiserver stores it in etcd.

    The layout follows apimachinery's serializer: the ``k8s\\x00`` prefix, then a
    ``runtime.Unknown`` whose ``typeMeta`` is ``v1``/``RangeAllocation``, whose ``raw``
    holds the object, and whose content encoding and type are written empty.

    Args:
        range_spec: the canonical range, e.g. ``"10.96.0.0/12"``.
        data: the big-endian allocation bitmap (``big.Int.Bytes()``).
        name: an optional ``metadata.name`` (kube-apiserver leaves it empty).
    """
    metadata = _len_field(1, name.encode()) if name else b""
    obj = _len_field(1, metadata) + _len_field(2, range_spec.encode()) + _len_field(3, data)
    type_meta = _len_field(1, _API_VERSION.encode()) + _len_field(2, _KIND.encode())
    unknown = (
        _len_field(1, type_meta) + _len_field(2, obj) + _len_field(3, b"") + _len_field(4, b"")
    )
    return ENVELOPE_PREFIX + unknown


def decode_envelope(blob: bytes) -> tuple[str, bytes]:
    """Decode the etcd value of a ``RangeAllocation`` (protobuf storage envelope).

    Returns:
        ``(range, data)``: the range text as stored and the raw bitmap bytes.

    Raises:
        DualStackError: the bytes are encrypted, truncated, not an envelope, or hold
            another kind of object.
    """
    if blob.startswith(_ENCRYPTED_PREFIX):
        provider = blob[len(_ENCRYPTED_PREFIX) :].split(b":", 2)[:2]
        label = ":".join(p.decode("ascii", "replace") for p in provider)
        raise _error(
            f"the value is encrypted at rest (k8s:enc:{label})",
            hint="dump it through kube-apiserver instead (its RangeAllocation is not "
            "served by the API), or decrypt the etcd snapshot with the cluster's "
            "encryption key first",
        )
    if not blob.startswith(ENVELOPE_PREFIX):
        raise _error(
            f"not a Kubernetes protobuf value: it starts with {blob[:4]!r}, "
            f"expected {ENVELOPE_PREFIX!r}"
        )
    body = blob[len(ENVELOPE_PREFIX) :]
    if not body:
        raise _error("empty protobuf body after the k8s\\x00 prefix")
    unknown = _fields(body, "runtime.Unknown")
    type_meta = _fields(_last_bytes(unknown, 1, "runtime.Unknown"), "runtime.TypeMeta")
    api_version = _last_text(type_meta, 1, "runtime.TypeMeta")
    kind = _last_text(type_meta, 2, "runtime.TypeMeta")
    content_type = _last_text(unknown, 4, "runtime.Unknown")
    if content_type not in ("", "application/vnd.kubernetes.protobuf"):
        raise _error(f"the envelope holds {content_type!r} content, not protobuf")
    _check_kind(kind, api_version)
    obj = _fields(_last_bytes(unknown, 2, "runtime.Unknown"), "RangeAllocation")
    range_spec = _last_text(obj, 2, "RangeAllocation")
    if not range_spec:
        raise _error("the RangeAllocation has an empty range (field 2)")
    return range_spec, _last_bytes(obj, 3, "RangeAllocation")


def _check_kind(kind: object, api_version: object) -> None:
    if kind != _KIND:
        raise _error(
            f"the object is a {kind or 'object without kind'!s}, not a {_KIND}",
            hint="decode the value of /registry/ranges/serviceips or "
            "/registry/ranges/secondaryserviceips",
        )
    if api_version != _API_VERSION:
        raise _error(
            f"the {_KIND} has apiVersion {api_version!r}, expected 'v1'",
            hint="give a core/v1 RangeAllocation",
        )


# --- JSON and YAML ---------------------------------------------------------------------


def _manifest_dict(range_spec: str, data: bytes) -> dict[str, object]:
    return {
        "kind": _KIND,
        "apiVersion": _API_VERSION,
        "metadata": {},
        "range": range_spec,
        "data": base64.b64encode(data).decode("ascii"),
    }


def encode_json(range_spec: str, data: bytes) -> str:
    """The JSON form of a ``RangeAllocation`` (``data`` base64, as Go's encoding/json)."""
    return json.dumps(_manifest_dict(range_spec, data))


def encode_yaml(range_spec: str, data: bytes) -> str:
    """The YAML form of a ``RangeAllocation``."""
    return yaml.safe_dump(_manifest_dict(range_spec, data), sort_keys=False)


def decode_manifest(obj: object) -> tuple[str, bytes]:
    """Read ``(range, data)`` from a parsed JSON/YAML ``RangeAllocation``.

    ``kind`` and ``apiVersion`` may be omitted; when present they must be
    ``RangeAllocation`` and ``v1``. ``data`` is base64 (standard alphabet, padded) or,
    from YAML's ``!!binary``, bytes; missing or empty means no address is allocated.

    Raises:
        DualStackError: a field is missing or of the wrong type, or ``data`` is not base64.
    """
    if not isinstance(obj, Mapping):
        raise _error(
            f"expected a RangeAllocation object, got {type(obj).__name__}",
            hint='give {"kind": "RangeAllocation", "apiVersion": "v1", '
            '"range": "10.96.0.0/12", "data": "<base64>"}',
        )
    if "kind" in obj or "apiVersion" in obj:
        _check_kind(obj.get("kind"), obj.get("apiVersion", _API_VERSION))
    range_spec = obj.get("range")
    if not isinstance(range_spec, str) or not range_spec:
        raise _error(
            f"the RangeAllocation has no range (got {range_spec!r})",
            hint='add "range": "<cidr>", e.g. "10.96.0.0/12"',
        )
    raw = obj.get("data")
    if raw is None:
        return range_spec, b""
    if isinstance(raw, bytes):
        return range_spec, raw
    if not isinstance(raw, str):
        raise _error(
            f"the RangeAllocation's data is a {type(raw).__name__}, not base64 text",
            hint="give data as a base64 string, as kubectl and etcd dumps show it",
        )
    try:
        return range_spec, base64.b64decode("".join(raw.split()), validate=True)
    except (binascii.Error, ValueError):
        preview = raw if len(raw) <= 20 else raw[:20] + "..."
        raise _error(
            f"the RangeAllocation's data is not valid base64: {preview!r}",
            hint="give the standard base64 alphabet with '=' padding",
        ) from None


def _etcdctl_json_value(obj: Mapping[str, object]) -> bytes | None:
    """The first value of ``etcdctl get -w json`` output, or ``None`` if not that form."""
    kvs = obj.get("kvs")
    if not isinstance(kvs, list):
        return None
    if not kvs:
        raise _error(
            "the etcdctl output holds no key",
            hint="check the key: /registry/ranges/serviceips (or secondaryserviceips)",
        )
    first = kvs[0]
    value = first.get("value") if isinstance(first, Mapping) else None
    if not isinstance(value, str):
        raise _error("the etcdctl output's first key has no value")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise _error("the etcdctl output's value is not valid base64") from None


def _decode_printed_envelope(blob: bytes) -> tuple[str, bytes]:
    """Decode an envelope that may carry the newline etcdctl prints after a value."""
    try:
        return decode_envelope(blob)
    except DualStackError:
        # kube-apiserver's envelope ends with the empty contentType field (0x22 0x00),
        # so a final newline can only be etcdctl's.
        if blob.endswith(b"\n"):
            return decode_envelope(blob[:-1])
        raise


def decode_range_allocation(blob: bytes) -> tuple[str, bytes]:
    """Decode a ``RangeAllocation`` in any form an operator is likely to have.

    Recognised, in this order: the protobuf envelope (``k8s\\x00...``); ``etcdctl get``
    text output (the key line, then the envelope); JSON, including ``etcdctl get -w
    json`` output; YAML. An encrypted value is refused with a hint.

    Returns:
        ``(range, data)`` as stored (the range text is not canonicalised here).

    Raises:
        DualStackError: naming what is wrong with the input and what would work.
    """
    if blob.startswith((ENVELOPE_PREFIX, _ENCRYPTED_PREFIX)):
        return _decode_printed_envelope(blob)
    if blob.startswith(b"/"):
        # `etcdctl get KEY` prints the key on its own line, then the value.
        _, newline, rest = blob.partition(b"\n")
        if newline and rest.startswith((ENVELOPE_PREFIX, _ENCRYPTED_PREFIX)):
            return _decode_printed_envelope(rest)
    if not blob.strip():
        raise _error("the input is empty")
    try:
        text = blob.decode("utf-8")
    except UnicodeDecodeError:
        raise _error(
            "the input is neither a protobuf envelope (k8s\\x00...) nor UTF-8 JSON/YAML"
        ) from None
    try:
        obj: object = json.loads(text)
    except ValueError:
        try:
            obj = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise _error(
                f"the input is not valid JSON or YAML{where}",
                hint="give a RangeAllocation as JSON or YAML, or the raw etcd value",
            ) from None
    else:
        if isinstance(obj, Mapping):
            value = _etcdctl_json_value(obj)
            if value is not None:
                return decode_envelope(value)
    return decode_manifest(obj)

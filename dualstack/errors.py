"""The whole exception tree of dualstack, and Kubernetes' field-error rendering.

Purpose: one place for every error the library raises, so that callers can catch
exactly what they mean. Messages start with Kubernetes' own text where Kubernetes has
one (byte for byte); a hint saying what would work may follow after ``" — "``.

Key types::

    DualStackError                      base of everything below
    ├── InvalidAddressError             (also ValueError) an unparsable IP or CIDR
    ├── ConfigError                     (also ValueError) a configuration Kubernetes refuses;
    │                                   .errors lists every violation
    ├── InvalidObjectError              (also ValueError) kube-apiserver's 422 for a Node or Pod;
    │   │                               .field_errors lists the FieldErrors
    │   └── InvalidServiceError         the same for a Service
    ├── AllocationError                 an allocator could not do what was asked
    │   ├── RangeFullError              nothing left to hand out (upstream's 500)
    │   ├── AlreadyAllocatedError       the requested address or block is taken
    │   ├── NotInRangeError             (also ValueError) the request lies outside the range
    │   └── MismatchedNetworkError      a snapshot of another range
    ├── NotFoundError                   (also LookupError) unknown node, Pod or Service
    └── AlreadyExistsError              a node, Pod or Service of that name exists (409)

``FieldError`` is a value, not an exception: one entry of a Kubernetes
``field.ErrorList``, rendered as upstream renders it.

Invariants: every error that is about an input quotes that input; no netaddr exception
ever escapes the library (they are translated with ``raise ... from None``).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "AllocationError",
    "AlreadyAllocatedError",
    "AlreadyExistsError",
    "ConfigError",
    "DualStackError",
    "FieldError",
    "FieldErrorType",
    "InvalidAddressError",
    "InvalidObjectError",
    "InvalidServiceError",
    "MismatchedNetworkError",
    "NotFoundError",
    "NotInRangeError",
    "RangeFullError",
    "go_repr",
    "with_hint",
]

_HINT_SEPARATOR = " — "


def with_hint(message: str, hint: str | None) -> str:
    """Join an upstream message and the library's hint the way every error shows them."""
    return f"{message}{_HINT_SEPARATOR}{hint}" if hint else message


class DualStackError(Exception):
    """Base class of every error raised by dualstack.

    ``message`` is the upstream text (or the library's own where Kubernetes has none),
    ``hint`` what would work; ``str()`` joins them with ``" — "``.
    """

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(with_hint(message, hint))
        self.message = message
        self.hint = hint


class InvalidAddressError(DualStackError, ValueError):
    """An IP address or CIDR that cannot be parsed; ``.value`` is the input."""

    def __init__(self, message: str, *, value: object, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.value = value


class ConfigError(DualStackError, ValueError):
    """A configuration that Kubernetes would refuse.

    ``.errors`` holds every violation, each an upstream message optionally followed by
    ``" — "`` and a hint. ``str()`` is the single error, or all of them one per line.
    ``.message`` is the first error's upstream text and ``.hint`` what would work: the
    ``hint`` argument (which ``.errors`` appends to the last error), else the hint the
    first error already carries after ``" — "``; as for every error.
    """

    def __init__(self, errors: str | Iterable[str], *, hint: str | None = None) -> None:
        given = (errors,) if isinstance(errors, str) else tuple(errors)
        if not given:
            raise ValueError("ConfigError needs at least one error")
        items = (*given[:-1], with_hint(given[-1], hint)) if hint else given
        self.errors = items
        text = items[0] if len(items) == 1 else "\n".join(f"- {e}" for e in items)
        if len(items) > 1:
            text = f"{len(items)} configuration errors:\n{text}"
        Exception.__init__(self, text)
        message, _, own_hint = given[0].partition(_HINT_SEPARATOR)
        self.message = message
        self.hint = hint if hint else (own_hint or None)


class AllocationError(DualStackError):
    """An allocator could not do what was asked; its state is unchanged."""


class RangeFullError(AllocationError):
    """Nothing is left to hand out (Kubernetes: ``range is full`` and its relatives)."""


class AlreadyAllocatedError(AllocationError):
    """The requested address or block is already taken."""


class NotInRangeError(AllocationError, ValueError):
    """The requested address lies outside what the allocator serves."""


class MismatchedNetworkError(AllocationError):
    """A snapshot of another range was offered to ``restore``."""


class NotFoundError(DualStackError, LookupError):
    """An unknown node, Pod or Service."""


class AlreadyExistsError(DualStackError):
    """An object of that name exists already (Kubernetes' 409 ``AlreadyExists``).

    ``str()`` starts with upstream's text, e.g. ``services "web" already exists``.
    """


class FieldErrorType(enum.StrEnum):
    """The ``field.ErrorType`` strings of Kubernetes' apimachinery."""

    REQUIRED = "Required value"
    INVALID = "Invalid value"
    NOT_SUPPORTED = "Unsupported value"
    DUPLICATE = "Duplicate value"
    FORBIDDEN = "Forbidden"
    INTERNAL = "Internal error"


# Types whose rendering never prints the offending value (apimachinery ErrorBody).
_VALUELESS = frozenset(
    {FieldErrorType.REQUIRED, FieldErrorType.FORBIDDEN, FieldErrorType.INTERNAL}
)


_GO_SHORT_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    '"': '\\"',
    "\\": "\\\\",
}


def _go_quote(text: str) -> str:
    """Go's ``strconv.Quote``: short escapes, then ``\\x``, ``\\u`` or ``\\U`` by code point."""
    out = ['"']
    for ch in text:
        short = _GO_SHORT_ESCAPES.get(ch)
        if short is not None:
            out.append(short)
        elif ch.isprintable():
            out.append(ch)
        else:
            code = ord(ch)
            if code < 0x80:
                out.append(f"\\x{code:02x}")
            elif code <= 0xFFFF:
                out.append(f"\\u{code:04x}")
            else:
                out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def go_repr(value: object, go_type: str | None = None) -> str:
    """Render ``value`` as Go's ``%#v``/``%q`` does in a Kubernetes field error.

    Strings are Go-quoted; ``None`` is ``"null"`` (apimachinery replaces a nil value by
    the string ``null`` and quotes it) or ``<go_type>(nil)`` for a slice type;
    lists are ``[]string{"a", "b"}`` unless ``go_type`` names another slice type such as
    ``[]core.IPFamily``.
    """
    if value is None:
        return f"{go_type}(nil)" if go_type and go_type.startswith("[]") else '"null"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _go_quote(value)
    if isinstance(value, list | tuple):
        slice_type = go_type or "[]string"
        return slice_type + "{" + ", ".join(go_repr(v) for v in value) + "}"
    return _go_quote(str(value))


@dataclass(frozen=True, slots=True)
class FieldError:
    """One Kubernetes field error: ``(type, field, value, detail)``.

    ``str()`` renders it as kube-apiserver does, e.g.
    ``spec.ipFamilies[0]: Invalid value: "IPv6": not configured on this cluster``.
    ``go_type`` only steers how a list value prints (``[]string`` by default).
    """

    type: FieldErrorType
    field: str
    value: object = None
    detail: str = ""
    go_type: str | None = None

    def __str__(self) -> str:
        text = f"{self.field}: {self.type.value}"
        if self.type not in _VALUELESS:
            text += ": " + go_repr(self.value, self.go_type)
        if self.detail:
            text += ": " + self.detail
        return text


def _aggregate(messages: Sequence[str]) -> str:
    unique: list[str] = []
    for m in messages:
        if m not in unique:
            unique.append(m)
    if len(unique) == 1:
        return unique[0]
    return "[" + ", ".join(unique) + "]"


class InvalidObjectError(DualStackError, ValueError):
    """kube-apiserver's 422 answer for an object (a Node, a Pod, a Service).

    ``str()`` is ``<Kind> "<name>" is invalid: <errors>`` exactly as upstream renders it
    (``errors.NewInvalid``: the name Go-quoted, one error bare, several in brackets,
    identical messages once), optionally followed by ``" — "`` and a hint.
    ``.field_errors`` holds the ``FieldError`` values.
    """

    def __init__(
        self,
        kind: str,
        name: str,
        field_errors: Iterable[FieldError],
        *,
        hint: str | None = None,
    ) -> None:
        self.kind = kind
        self.name = name
        self.field_errors: tuple[FieldError, ...] = tuple(field_errors)
        message = f"{kind} {_go_quote(name)} is invalid: " + _aggregate(
            [str(e) for e in self.field_errors]
        )
        super().__init__(message, hint=hint)


class InvalidServiceError(InvalidObjectError):
    """kube-apiserver's 422 answer for a Service: ``Service "<name>" is invalid: ...``.

    Every answer kube-apiserver gives as 422 for a Service, requested addresses that are
    taken or out of range included.
    """

    def __init__(
        self, name: str, field_errors: Iterable[FieldError], *, hint: str | None = None
    ) -> None:
        super().__init__("Service", name, field_errors, hint=hint)

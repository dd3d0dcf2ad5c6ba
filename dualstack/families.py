"""IP families, their per-family facts, and the conversion edge to netaddr.

Purpose: everything that differs between IPv4 and IPv6 lives here once (width,
all-ones value, what Kubernetes and CNI reserve), and so does every conversion between
text, netaddr objects and the plain ints the rest of the library works with.

Key types and functions:
- ``IPFamily``: ``IPv4``/``IPv6``, with ``.width``, ``.version``, ``.max_int``,
  ``.other``, ``IPFamily.of(ip_or_cidr)``.
- ``parse_ip`` / ``parse_cidr``: Kubernetes' "sloppy" parsing (Go before 1.17: IPv4
  octets with leading zeros are read as decimal; IPv4-mapped IPv6 addresses are IPv4).
- ``make_ip`` / ``make_net``: fresh netaddr objects built from ints.
- ``format_ip`` / ``format_cidr``: Go's text forms (dotted quad, RFC 5952).

Invariants: nothing outside this module (and ``pools``) touches netaddr's parsers; the
library stores ints and hands out a fresh netaddr object each time.
"""

from __future__ import annotations

import enum
import ipaddress as _ipaddress
from socket import AF_INET as _AF_INET
from socket import AF_INET6 as _AF_INET6
from socket import inet_pton as _inet_pton
from typing import Final

import netaddr as _netaddr

from dualstack.errors import InvalidAddressError

__all__ = [
    "IPFamily",
    "IPInput",
    "format_cidr",
    "format_ip",
    "make_ip",
    "make_net",
    "parse_cidr",
    "parse_ip",
]

IPInput = str | _netaddr.IPAddress
"""What every public call accepts for an IP: text or a netaddr ``IPAddress``."""


class IPFamily(enum.StrEnum):
    """An IP family, spelled as Kubernetes spells it in ``spec.ipFamilies``."""

    IPv4 = "IPv4"
    IPv6 = "IPv6"

    @property
    def width(self) -> int:
        """Address width in bits: 32 or 128."""
        return 32 if self is IPFamily.IPv4 else 128

    @property
    def version(self) -> int:
        """The IP version number, 4 or 6 (netaddr's ``version``)."""
        return 4 if self is IPFamily.IPv4 else 6

    @property
    def max_int(self) -> int:
        """The all-ones address as an int."""
        return (1 << self.width) - 1

    @property
    def has_broadcast(self) -> bool:
        """Whether the last address of a subnet is a broadcast address nobody gets.

        IPv4 only: kube-apiserver's service range (service-ips.md §1.3) and host-local's
        default ``rangeEnd`` (node-and-pod-ips.md §3.2) both leave it out; IPv6 keeps
        its all-ones address usable.
        """
        return self is IPFamily.IPv4

    @property
    def cidrset_max_gap(self) -> int | None:
        """The largest node mask minus cluster mask a CIDRSet accepts, or ``None``.

        16 for IPv6 (the CIDRSet's uncompressed bitmap, node-and-pod-ips.md §1.1);
        IPv4 has no limit.
        """
        return 16 if self is IPFamily.IPv6 else None

    @property
    def other(self) -> IPFamily:
        """The opposite family (Kubernetes' ``otherFamily``)."""
        return IPFamily.IPv6 if self is IPFamily.IPv4 else IPFamily.IPv4

    @classmethod
    def of(cls, ip_or_cidr: object) -> IPFamily:
        """The family of an address or CIDR, given as text or a netaddr object.

        IPv4-mapped IPv6 addresses (``::ffff:a.b.c.d``) are IPv4, as in Kubernetes.

        Raises:
            InvalidAddressError: the input is neither an IP nor a CIDR.
        """
        if isinstance(ip_or_cidr, _netaddr.IPNetwork):
            return _BY_VERSION[ip_or_cidr.version]
        if isinstance(ip_or_cidr, str) and "/" in ip_or_cidr:
            return parse_cidr(ip_or_cidr)[2]
        return parse_ip(ip_or_cidr)[1]


_BY_VERSION: Final = {4: IPFamily.IPv4, 6: IPFamily.IPv6}
_IPV4_MAPPED_PREFIX: Final = 0xFFFF << 32
_IPV4_MAPPED_MASK: Final = ((1 << 96) - 1) << 32


def _sloppy_ipv4(text: str) -> int | None:
    """Go's pre-1.17 IPv4 parser: four decimal octets, any number of leading zeros."""
    parts = text.split(".")
    if len(parts) != 4:
        return None
    value = 0
    for part in parts:
        if not part or not part.isascii() or not part.isdigit():
            return None
        octet = int(part)
        if octet > 255:
            return None
        value = (value << 8) | octet
    return value


def _parse_ip_text(text: str) -> tuple[int, IPFamily] | None:
    if ":" not in text:
        # Plain dotted quads parse in C; inet_pton refuses leading zeros, which Go's
        # sloppy parser reads as decimal (snapshots parse hundreds of thousands).
        try:
            return int.from_bytes(_inet_pton(_AF_INET, text), "big"), IPFamily.IPv4
        except (OSError, ValueError):  # ValueError: an embedded NUL
            v4 = _sloppy_ipv4(text)
            return None if v4 is None else (v4, IPFamily.IPv4)
    if "%" in text or not text.isascii():
        return None
    # Plain RFC 4291 text (what Kubernetes writes back) parses in C; inet_pton refuses
    # everything sloppier (long groups, leading zeros in an IPv4 tail), which takes
    # the general way below, as do addresses in ::/80, where IPv4-mapped ones hide.
    try:
        value = int.from_bytes(_inet_pton(_AF_INET6, text), "big")
        if value >> 48:
            return value, IPFamily.IPv6
    except (OSError, ValueError):
        pass
    return _sloppy_ipv6(text)


def _sloppy_ipv6(text: str) -> tuple[int, IPFamily] | None:
    """Go 1.16's IPv6 parser in Python (ASCII text with a colon and no zone assumed);
    an IPv4-mapped address comes back as IPv4."""
    # Go 1.16's parser (which Kubernetes forked) reads a group of any length whose value
    # fits 16 bits ("00001"); ipaddress wants at most four digits.
    if any(len(group) > 4 for group in text.split(":")):
        text = ":".join(
            (group.lstrip("0") or "0") if len(group) > 4 and "." not in group else group
            for group in text.split(":")
        )
    try:
        value = int(_ipaddress.IPv6Address(text))
    except ValueError:
        # Go also accepts an embedded IPv4 tail with leading zeros; normalise it.
        head, _, tail = text.rpartition(":")
        tail_v4 = _sloppy_ipv4(tail)
        if tail_v4 is None or not head:
            return None
        try:
            value = int(_ipaddress.IPv6Address(f"{head}:{_ipaddress.IPv4Address(tail_v4)}"))
        except ValueError:
            return None
    if value & _IPV4_MAPPED_MASK == _IPV4_MAPPED_PREFIX:
        return value & 0xFFFFFFFF, IPFamily.IPv4
    return value, IPFamily.IPv6


def parse_ip(ip: object) -> tuple[int, IPFamily]:
    """Parse an IP address the way Kubernetes does (``ParseIPSloppy``).

    Accepts text or a netaddr ``IPAddress``. Returns ``(value, family)``. IPv4-mapped
    IPv6 text comes back as the IPv4 value, family IPv4.

    Raises:
        InvalidAddressError: quoting the input.
    """
    if type(ip) is _netaddr.IPAddress:
        # The hot path of every allocator: a netaddr object needs no parsing.
        value = int(ip)
        if ip.version == 4:
            return value, IPFamily.IPv4
        if value & _IPV4_MAPPED_MASK == _IPV4_MAPPED_PREFIX:
            return value & 0xFFFFFFFF, IPFamily.IPv4
        return value, IPFamily.IPv6
    if isinstance(ip, str):
        parsed = _parse_ip_text(ip)
        if parsed is not None:
            return parsed
    elif isinstance(ip, _netaddr.IPAddress):  # a subclass
        return parse_ip(_netaddr.IPAddress(int(ip), ip.version))
    raise InvalidAddressError(
        f"invalid IP address: {ip!r}",
        value=ip,
        hint="give a dotted-quad IPv4 address such as '10.96.0.10' "
        "or an IPv6 address such as 'fd00:10:96::a'",
    )


def parse_cidr(cidr: object, *, strict: bool = False) -> tuple[int, int, IPFamily]:
    """Parse a CIDR the way Kubernetes does (``ParseCIDRSloppy``).

    Returns ``(network, prefixlen, family)`` with host bits cleared, as Kubernetes
    silently does. With ``strict=True`` IPv4 octets with leading zeros are refused
    (Go's strict parser). IPv4-mapped IPv6 CIDRs are refused: Kubernetes gives them
    ill-defined meaning (node-and-pod-ips.md C2).

    Raises:
        InvalidAddressError: quoting the input, with Go's ``invalid CIDR address: <input>``.
    """
    if isinstance(cidr, _netaddr.IPNetwork):
        family = _BY_VERSION[cidr.version]
        prefixlen = int(cidr.prefixlen)
        mask = family.max_int ^ ((1 << (family.width - prefixlen)) - 1)
        value = int(cidr.ip) & mask
        if not (
            family is IPFamily.IPv6 and (int(cidr.ip) & _IPV4_MAPPED_MASK) == _IPV4_MAPPED_PREFIX
        ):
            return value, prefixlen, family
    if isinstance(cidr, str):
        address, sep, prefix_text = cidr.partition("/")
        if (
            sep
            and prefix_text.isascii()
            and prefix_text.isdigit()
            and not (strict and _has_leading_zero_octet(address))
        ):
            parsed = _parse_ip_text(address)
            if parsed is not None and not (
                parsed[1] is IPFamily.IPv4 and ":" in address  # IPv4-mapped IPv6
            ):
                value, family = parsed
                prefixlen = int(prefix_text)
                if prefixlen <= family.width:
                    host = (1 << (family.width - prefixlen)) - 1
                    return value & (family.max_int ^ host), prefixlen, family
    raise InvalidAddressError(
        f"invalid CIDR address: {cidr if isinstance(cidr, str) else repr(cidr)}",
        value=cidr,
        hint="give a CIDR such as '10.96.0.0/16' or 'fd00:10:96::/112'",
    )


def _has_leading_zero_octet(address: str) -> bool:
    if ":" in address:
        return False
    return any(len(p) > 1 and p.startswith("0") for p in address.split("."))


# netaddr objects are built through the pickle protocol (``__setstate__``), netaddr's
# public unpickling entry point: 0.24 us instead of 0.8-1.1 us for ``IPAddress(int,
# version)``, which is most of the budget of ``allocate_next`` (benchmarks/service_ips).
# (getattr: the typeshed stubs do not declare the pickle methods.)
_new_ip = _netaddr.IPAddress.__new__
_set_ip = getattr(_netaddr.IPAddress, "__setstate__")  # noqa: B009
_new_net = _netaddr.IPNetwork.__new__
_set_net = getattr(_netaddr.IPNetwork, "__setstate__")  # noqa: B009
_IPAddress = _netaddr.IPAddress
_IPNetwork = _netaddr.IPNetwork


def make_ip(value: int, family: IPFamily) -> _netaddr.IPAddress:
    """A fresh ``netaddr.IPAddress`` for ``value`` in ``family``."""
    ip = _new_ip(_IPAddress)
    _set_ip(ip, (value, 4 if family is IPFamily.IPv4 else 6))
    return ip


def make_net(value: int, prefixlen: int, family: IPFamily) -> _netaddr.IPNetwork:
    """A fresh ``netaddr.IPNetwork`` for ``value/prefixlen`` in ``family``."""
    net = _new_net(_IPNetwork)
    _set_net(net, (value, prefixlen, 4 if family is IPFamily.IPv4 else 6))
    return net


def format_ip(value: int, family: IPFamily) -> str:
    """Go's ``net.IP.String()``: dotted quad, or RFC 5952 compressed lower-case IPv6."""
    if family is IPFamily.IPv4:
        return f"{value >> 24}.{(value >> 16) & 255}.{(value >> 8) & 255}.{value & 255}"
    return str(_ipaddress.IPv6Address(value))


def format_cidr(value: int, prefixlen: int, family: IPFamily) -> str:
    """Go's ``net.IPNet.String()`` of a network."""
    return f"{format_ip(value, family)}/{prefixlen}"

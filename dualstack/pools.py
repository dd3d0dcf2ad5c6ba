"""CIDRPool: an immutable, hashable, ordered CIDR value.

Purpose: the one value type for "a CIDR" everywhere in the library (service ranges,
cluster CIDRs, node blocks). It holds plain ints, never a netaddr object, so it can be
put in sets and dict keys safely (netaddr networks are mutable and compare equal while
their host bits differ).

Key type: ``CIDRPool(cidr)``, with ``.cidr`` (canonical text, host bits cleared as
Kubernetes does), ``.network`` (fresh ``IPAddress``), ``.prefixlen``, ``.family``,
``.size`` (addresses in the CIDR, exact even for IPv6 /0), ``ip in pool``; int views
``.first``/``.last`` for the allocators.

Invariants: ``first`` has no host bits; ``CIDRPool(repr-text)`` rebuilds an equal
value; ordering is IPv4 before IPv6, then by network, then by prefix length.
"""

from __future__ import annotations

from typing import Any

import netaddr as _netaddr

from dualstack.families import (
    IPFamily,
    format_cidr,
    make_ip,
    make_net,
    parse_cidr,
    parse_ip,
)

__all__ = ["CIDRPool"]


class CIDRPool:
    """One CIDR as an immutable value: ``CIDRPool("10.96.0.0/12")``.

    Host bits are cleared (``CIDRPool("10.96.0.5/12").cidr == "10.96.0.0/12"``), as
    Kubernetes' ``ParseCIDRSloppy`` does; IPv4 octets with leading zeros are read as
    decimal.

    Raises:
        InvalidAddressError: the input is not a CIDR.
    """

    __slots__ = ("_family", "_first", "_prefixlen")

    _family: IPFamily
    _first: int
    _prefixlen: int

    def __init__(self, cidr: str | _netaddr.IPNetwork | CIDRPool) -> None:
        if isinstance(cidr, CIDRPool):
            first, prefixlen, family = cidr._first, cidr._prefixlen, cidr._family
        else:
            first, prefixlen, family = parse_cidr(cidr)
        object.__setattr__(self, "_first", first)
        object.__setattr__(self, "_prefixlen", prefixlen)
        object.__setattr__(self, "_family", family)

    @classmethod
    def from_ints(cls, first: int, prefixlen: int, family: IPFamily) -> CIDRPool:
        """Build from a network int (host bits are cleared) and a prefix length."""
        if not 0 <= prefixlen <= family.width or not 0 <= first <= family.max_int:
            raise ValueError(f"no {family} CIDR has network {first} and prefix {prefixlen}")
        pool = object.__new__(cls)
        host = (1 << (family.width - prefixlen)) - 1
        object.__setattr__(pool, "_first", first & ~host)
        object.__setattr__(pool, "_prefixlen", prefixlen)
        object.__setattr__(pool, "_family", family)
        return pool

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"CIDRPool is immutable; cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"CIDRPool is immutable; cannot delete {name!r}")

    # --- views -----------------------------------------------------------------
    @property
    def family(self) -> IPFamily:
        """``IPFamily.IPv4`` or ``IPFamily.IPv6``."""
        return self._family

    @property
    def prefixlen(self) -> int:
        """The prefix length."""
        return self._prefixlen

    @property
    def first(self) -> int:
        """The network address as an int."""
        return self._first

    @property
    def last(self) -> int:
        """The last address of the CIDR as an int (the IPv4 broadcast address)."""
        return self._first + (1 << self.host_bits) - 1

    @property
    def host_bits(self) -> int:
        """``width - prefixlen``."""
        return self._family.width - self._prefixlen

    @property
    def size(self) -> int:
        """Number of addresses in the CIDR (an exact int, never overflows)."""
        return 1 << self.host_bits

    @property
    def cidr(self) -> str:
        """Canonical text: ``10.96.0.0/12``, ``fd00:10:96::/108``."""
        return format_cidr(self._first, self._prefixlen, self._family)

    @property
    def network(self) -> _netaddr.IPAddress:
        """The network address as a fresh ``netaddr.IPAddress``."""
        return make_ip(self._first, self._family)

    def to_netaddr(self) -> _netaddr.IPNetwork:
        """A fresh ``netaddr.IPNetwork`` of this CIDR."""
        return make_net(self._first, self._prefixlen, self._family)

    def contains_int(self, value: int, family: IPFamily) -> bool:
        """Whether the address ``value`` of ``family`` lies in the CIDR."""
        return family is self._family and (value ^ self._first) >> self.host_bits == 0

    def overlaps(self, other: CIDRPool) -> bool:
        """Whether the two CIDRs share an address (one then contains the other)."""
        if other._family is not self._family:
            return False
        shift = max(self.host_bits, other.host_bits)
        return (self._first >> shift) == (other._first >> shift)

    def __contains__(self, ip: object) -> bool:
        if isinstance(ip, CIDRPool):
            return ip._family is self._family and (
                ip._prefixlen >= self._prefixlen and self.contains_int(ip._first, ip._family)
            )
        if isinstance(ip, _netaddr.IPNetwork):
            return CIDRPool(ip) in self
        value, family = parse_ip(ip)
        return self.contains_int(value, family)

    # --- value semantics ---------------------------------------------------------
    def _key(self) -> tuple[int, int, int]:
        return (self._family.version, self._first, self._prefixlen)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CIDRPool):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __lt__(self, other: CIDRPool) -> bool:
        if not isinstance(other, CIDRPool):
            return NotImplemented
        return self._key() < other._key()

    def __le__(self, other: CIDRPool) -> bool:
        if not isinstance(other, CIDRPool):
            return NotImplemented
        return self._key() <= other._key()

    def __gt__(self, other: CIDRPool) -> bool:
        if not isinstance(other, CIDRPool):
            return NotImplemented
        return self._key() > other._key()

    def __ge__(self, other: CIDRPool) -> bool:
        if not isinstance(other, CIDRPool):
            return NotImplemented
        return self._key() >= other._key()

    def __repr__(self) -> str:
        return f"CIDRPool({self.cidr!r})"

    def __str__(self) -> str:
        return self.cidr

    def __reduce__(self) -> tuple[type[CIDRPool], tuple[str]]:
        return (CIDRPool, (self.cidr,))

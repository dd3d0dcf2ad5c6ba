"""ServiceIPAllocator against a plain set model, over random CIDRs, families and releases.

Rules checked (service-ips.md §1.3-§1.9, §1.12-§1.14): nothing is handed out twice;
nothing outside the usable range (network+1 .. broadcast-1 for IPv4; network+1 .. the
end of the 16-bit window up to 1.33 or of the prefix from 1.34 for IPv6); the dynamic
band is filled before the static band; ``free + used == size``; snapshots round-trip;
a twin built with the same seed hands out the same sequence; a failed call changes
nothing, the random generator included.
"""

from __future__ import annotations

import random

import netaddr
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    rule,
)

from dualstack.errors import AlreadyAllocatedError, NotInRangeError, RangeFullError
from dualstack.service_ips import RangeAllocation, ServiceIPAllocator

VERSIONS = ["1.16", "1.20", "1.22", "1.23", "1.24", "1.25", "1.32", "1.33", "1.34", "1.37"]


@st.composite
def service_ranges(draw):
    version = draw(st.sampled_from(VERSIONS))
    if draw(st.booleans()):
        prefix = draw(st.one_of(st.integers(22, 32), st.integers(8, 21)))
        width = 32
    else:
        prefix = draw(st.one_of(st.integers(110, 128), st.integers(64, 109)))
        width = 128
    network = draw(st.integers(0, 2**width - 1)) >> (width - prefix) << (width - prefix)
    mapped = 0xFFFF << 32  # ::ffff:0:0/96, refused in whole IPv6 ranges from 1.34
    reaches = network < mapped + 2**32 and network + 2 ** (width - prefix) > mapped
    if width == 128 and int(version.split(".")[1]) >= 34 and reaches:
        network |= 1 << 127  # the same shape, away from the block
    cidr = str(netaddr.IPNetwork((network, prefix), version=4 if width == 32 else 6))
    return version, cidr, network, prefix, width


def expected_layout(version, network, prefix, width, static_subrange):
    """(first usable int, usable count, static band size), computed from the spec text."""
    minor = int(version.split(".")[1])
    host = width - prefix
    if width == 32:
        count = max(0, 2**host - 2)
    elif minor >= 34:
        count = 2**host - 1
    else:
        count = min(2**host, 65536) - 1
    gate = static_subrange if static_subrange is not None else minor >= 25
    full_size = 2**host if host < 63 else 2**63 - 1
    static = 0
    if gate and full_size > 16:
        static = min(max(16, full_size // 16), 256)
    return network + 1, count, static


class ServiceIPMachine(RuleBasedStateMachine):
    ips = Bundle("ips")

    @initialize(
        spec=service_ranges(),
        seed=st.integers(0, 2**32),
        static_subrange=st.sampled_from([None, None, True, False]),
    )
    def start(self, spec, seed, static_subrange):
        version, cidr, network, prefix, width = spec
        self.family_version = 4 if width == 32 else 6
        self.rng = random.Random(seed)
        self.alloc = ServiceIPAllocator(
            cidr, version=version, rng=self.rng, static_subrange=static_subrange
        )
        self.twin = ServiceIPAllocator(
            cidr, version=version, rng=random.Random(seed), static_subrange=static_subrange
        )
        self.first, self.size, self.static = expected_layout(
            version, network, prefix, width, static_subrange
        )
        self.network = network
        self.last_in_cidr = network + 2 ** (width - prefix) - 1
        assert (self.alloc.size, self.alloc.static_size) == (self.size, self.static)
        self.model: set[int] = set()

    def usable(self, value: int) -> bool:
        return self.first <= value < self.first + self.size

    def state(self):
        return sorted(self.model), self.rng.getstate()

    @rule(target=ips)
    def allocate_next(self):
        if len(self.model) == self.size:
            before = self.state()
            for allocator in (self.alloc, self.twin):
                try:
                    allocator.allocate_next()
                except RangeFullError as err:
                    assert str(err).startswith("range is full")
                else:
                    raise AssertionError("a full range handed out an address")
            assert self.state() == before
            return None
        dynamic_free = (
            sum(1 for v in self.model if v >= self.first + self.static) < self.size - self.static
        )
        ip = self.alloc.allocate_next()
        assert ip == self.twin.allocate_next()  # same seed, same sequence
        value = int(ip)
        assert ip.version == self.family_version
        assert self.usable(value) and value not in self.model
        assert (value >= self.first + self.static) == dynamic_free
        self.model.add(value)
        return ip

    @rule(target=ips, delta=st.integers(-3, 2**17), near_end=st.booleans())
    def allocate(self, delta, near_end):
        value = (self.last_in_cidr - delta) if near_end else (self.network + delta)
        if not 0 <= value < 2 ** (32 if self.family_version == 4 else 128):
            return None
        ip = netaddr.IPAddress(value, self.family_version)
        before = self.state()
        # An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is IPv4 to Kubernetes (Go's
        # To4), so no IPv6 range contains it: allocate() refuses it as not in range.
        mapped = self.family_version == 6 and value >> 32 == 0xFFFF
        if mapped or not self.usable(value):
            exc: type[Exception] = NotInRangeError
        elif value in self.model:
            exc = AlreadyAllocatedError
        else:
            assert self.alloc.allocate(ip) == ip
            self.twin.allocate(str(ip))
            self.model.add(value)
            return ip
        try:
            self.alloc.allocate(ip)
        except exc:
            pass
        else:
            raise AssertionError(f"allocate({ip}) should have raised {exc.__name__}")
        assert self.state() == before
        return None

    @rule(ip=consumes(ips))
    def release(self, ip):
        if ip is None:
            return
        self.alloc.release(ip)
        self.twin.release(str(ip))
        self.model.discard(int(ip))
        assert ip not in self.alloc

    @rule(delta=st.integers(-2, 2**17))
    def release_any(self, delta):
        value = self.network + delta
        bits = 32 if self.family_version == 4 else 128
        ip = netaddr.IPAddress(value % 2**bits, self.family_version)
        self.alloc.release(ip)
        self.twin.release(ip)
        self.model.discard(int(ip))

    @rule()
    def snapshot_round_trip(self):
        if self.size > 2**24:
            return
        snap = self.alloc.snapshot()
        assert snap == self.twin.snapshot()
        assert int.from_bytes(snap.data, "big") == sum(1 << (v - self.first) for v in self.model)
        again = ServiceIPAllocator.from_snapshot(
            RangeAllocation(snap.range, snap.data), version=self.alloc.profile.version
        )
        assert set(again.iter_ints()) == self.model
        self.alloc.restore(snap)

    @invariant()
    def counts_agree(self):
        assert self.alloc.used == len(self.alloc) == len(self.model)
        assert self.alloc.free + self.alloc.used == self.alloc.size == self.size

    @invariant()
    def members_agree(self):
        assert list(self.alloc.iter_ints()) == sorted(self.model)
        assert [int(ip) for ip in self.alloc] == sorted(self.model)


TestServiceIPMachine = ServiceIPMachine.TestCase
TestServiceIPMachine.settings = settings(max_examples=150, stateful_step_count=50, deadline=None)

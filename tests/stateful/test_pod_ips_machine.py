"""PodIPAllocator against a plain model (CNI host-local, node-and-pod-ips.md §3.2-§3.3).

The model is a ``set`` of taken addresses, the window ``[range_start, range_end]``, the
gateway and ``last_reserved``; ``allocate_next`` walks the window cyclically from the
address after ``last_reserved`` (from ``range_start`` when it is unset or outside the
window), skipping the gateway and taken addresses. Rules checked: no address twice,
the gateway never handed out, the round-robin order matches the model, releases do not
reset the walk, a specific ``allocate`` moves it, and every failing call changes
nothing (cursor included).
"""

from __future__ import annotations

import ipaddress
from typing import Any

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
from dualstack.pod_ips import PodIPAllocator


class PodIPMachine(RuleBasedStateMachine):
    ips = Bundle("ips")

    @initialize(
        v6=st.booleans(),
        host_bits=st.integers(2, 6),
        value=st.integers(0, 2**128 - 1),
        window=st.one_of(st.none(), st.tuples(st.integers(0, 63), st.integers(0, 63))),
        gateway=st.one_of(st.none(), st.integers(-8, 72)),
    )
    def start(
        self,
        v6: bool,
        host_bits: int,
        value: int,
        window: tuple[int, int] | None,
        gateway: int | None,
    ) -> None:
        width = 128 if v6 else 32
        self.kind: Any = ipaddress.IPv6Address if v6 else ipaddress.IPv4Address
        subnet = (ipaddress.IPv6Network if v6 else ipaddress.IPv4Network)(
            (value % (1 << width), width - host_bits), strict=False
        )
        base = int(subnet.network_address)
        last = int(subnet.broadcast_address)
        kwargs: dict[str, str] = {}
        if window is None:
            self.start_ip = base + 1
            self.end_ip = last - 1 if not v6 else last
        else:
            lo, hi = sorted(o % subnet.num_addresses for o in window)
            self.start_ip, self.end_ip = base + lo, base + hi
            kwargs = {
                "range_start": str(self.kind(self.start_ip)),
                "range_end": str(self.kind(self.end_ip)),
            }
        if gateway is None:
            self.gateway = base + 1
        else:
            self.gateway = (base + gateway) % (1 << width)
            kwargs["gateway"] = str(self.kind(self.gateway))
        self.base, self.width = base, width
        self.alloc = PodIPAllocator(str(subnet), **kwargs)
        self.taken: set[int] = set()
        self.last: int | None = None

    # --- helpers -------------------------------------------------------------------
    def snapshot(self) -> tuple[list[str], int | None, int]:
        return [str(ip) for ip in self.alloc], self.alloc.last_reserved, self.alloc.used

    def walk(self) -> list[int]:
        window = list(range(self.start_ip, self.end_ip + 1))
        if self.last is not None and self.start_ip <= self.last <= self.end_ip:
            at = self.last - self.start_ip + 1
            window = window[at:] + window[:at]
        return [ip for ip in window if ip != self.gateway]

    # --- rules ------------------------------------------------------------------------
    @rule(target=ips)
    def allocate_next(self) -> Any:
        free = [ip for ip in self.walk() if ip not in self.taken]
        if not free:
            before = self.snapshot()
            try:
                self.alloc.allocate_next()
            except RangeFullError as error:
                assert str(error).startswith("no IP addresses available in range set: ")
                assert self.snapshot() == before
                return self.gateway
            raise AssertionError("a full range handed out an address")
        got = self.alloc.allocate_next()
        assert int(got) == free[0]
        self.taken.add(free[0])
        self.last = free[0]
        return free[0]

    @rule(offset=st.integers(-4, 70))
    def allocate(self, offset: int) -> None:
        ip = (self.base + offset) % (1 << self.width)
        text = str(self.kind(ip))
        before = self.snapshot()
        in_window = self.start_ip <= ip <= self.end_ip
        expected: type[Exception] | None = None
        if not in_window or ip == self.gateway:
            expected = NotInRangeError
        elif ip in self.taken:
            expected = AlreadyAllocatedError
        if expected is None:
            assert int(self.alloc.allocate(text)) == ip
            self.taken.add(ip)
            self.last = ip
            return
        try:
            self.alloc.allocate(text)
        except expected:
            assert self.snapshot() == before
            return
        raise AssertionError(f"{text} was handed out")

    @rule(ip=consumes(ips))
    def release_taken(self, ip: int) -> None:
        self.alloc.release(str(self.kind(ip)))
        self.taken.discard(ip)  # the gateway placeholder is never taken

    @rule(offset=st.integers(-4, 70))
    def release_any(self, offset: int) -> None:
        ip = (self.base + offset) % (1 << self.width)
        self.alloc.release(str(self.kind(ip)))
        self.taken.discard(ip)

    @rule(offset=st.one_of(st.none(), st.integers(-4, 70)))
    def set_last_reserved(self, offset: int | None) -> None:
        value = None if offset is None else (self.base + offset) % (1 << self.width)
        self.alloc.last_reserved = value
        self.last = value

    @rule(ip=ips)
    def membership(self, ip: int) -> None:
        assert (str(self.kind(ip)) in self.alloc) == (ip in self.taken)

    # --- invariants -------------------------------------------------------------------
    @invariant()
    def addresses_match_model(self) -> None:
        got = [int(ip) for ip in self.alloc]
        assert got == sorted(self.taken)
        assert self.gateway not in got

    @invariant()
    def counts_match(self) -> None:
        size = len([ip for ip in range(self.start_ip, self.end_ip + 1) if ip != self.gateway])
        assert self.alloc.size == size
        assert self.alloc.used == len(self.taken)
        assert self.alloc.free == size - len(self.taken)

    @invariant()
    def cursor_matches(self) -> None:
        assert self.alloc.last_reserved == self.last


PodIPMachine.TestCase.settings = settings(
    PodIPMachine.TestCase.settings, max_examples=60, stateful_step_count=40
)
TestPodIPMachine = PodIPMachine.TestCase

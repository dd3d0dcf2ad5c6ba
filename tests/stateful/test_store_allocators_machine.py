"""The allocator state machines again, on store-backed allocators sharing one key.

``NodeCIDRMachine``, ``PodIPMachine`` and ``ServiceIPMachine`` (same plain models, same
rules) run with
``self.alloc`` replaced by ``Clients``: several allocators built with ``store=`` on one
key, standing for processes. Each state-changing call goes to the next client in turn,
so every call starts from a stale cache (another client wrote last) and has to find
the latest state through compare-and-swap; every view (iteration, counts, membership,
cursor) is read by a separate client right after ``refresh()``, so the invariants check
what the store holds. On top, ``store_down``: the next store call fails, the call raises
``StoreUnavailableError`` and the store and the calling client's cache are unchanged
(for Service IPs the shared random generator too).

The Service machine's clients share one random generator; since a retry after a lost
race draws again, ``allocate_next`` is not compared with the same-seed twin here: the
twin takes the same address with ``allocate`` so that the snapshots still compare.
Ranges are kept to at most 2^16 addresses (a bitmap per write).

``make_node_machine``/``make_pod_machine``/``make_service_machine(factory)`` build the
machines over any store; here on ``MemoryStore``, and in tests/test_store_allocators.py
on a real etcd.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from typing import Any

import netaddr
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import initialize, rule
from test_node_cidrs_machine import NodeCIDRMachine
from test_pod_ips_machine import PodIPMachine
from test_service_ips_machine import VERSIONS, ServiceIPMachine

from dualstack.errors import RangeFullError
from dualstack.node_cidrs import NodeCIDRAllocator
from dualstack.pod_ips import PodIPAllocator
from dualstack.service_ips import ServiceIPAllocator
from dualstack.store import (
    MemoryStore,
    Store,
    StoreUnavailableError,
    SwapResult,
    Versioned,
)

CLIENTS = 2


class FlakyStore:
    """A store whose next call fails (before reaching the store) when ``fail_next`` is set."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.prefix = inner.prefix
        self.fail_next = False

    def key(self, name: str) -> str:
        return self.inner.key(name)

    def _trip(self) -> None:
        if self.fail_next:
            self.fail_next = False
            raise StoreUnavailableError("etcd at test is unavailable: injected")

    def get(self, name: str) -> Versioned:
        self._trip()
        return self.inner.get(name)

    def compare_and_swap(self, name: str, value: bytes | None, *, revision: int) -> SwapResult:
        self._trip()
        return self.inner.compare_and_swap(name, value, revision=revision)


_MUTATING = frozenset(
    {
        "allocate",
        "allocate_int",
        "allocate_next",
        "allocate_next_int",
        "allocate_next_index",
        "occupy",
        "occupy_range",
        "release",
        "release_int",
        "release_range",
        "restore",
    }
)


class Clients:
    """Store-backed allocators on one key, used in turn; views read by a fresh reader."""

    def __init__(self, make: Callable[[], Any]) -> None:
        object.__setattr__(self, "clients", [make() for _ in range(CLIENTS)])
        object.__setattr__(self, "reader", make())
        object.__setattr__(self, "turn", 0)

    def next_client(self) -> Any:
        client = self.clients[self.turn]
        object.__setattr__(self, "turn", (self.turn + 1) % CLIENTS)
        return client

    def fresh(self) -> Any:
        self.reader.refresh()
        return self.reader

    def __getattr__(self, name: str) -> Any:
        if name in _MUTATING:
            return getattr(self.next_client(), name)
        return getattr(self.fresh(), name)

    def __setattr__(self, name: str, value: object) -> None:
        setattr(self.next_client(), name, value)  # cursor, last_reserved: stored too

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fresh())

    def __contains__(self, item: object) -> bool:
        return item in self.fresh()

    def __len__(self) -> int:
        return len(self.fresh())


def next_with_store_down(client: Any, flaky: Any) -> None:
    """``allocate_next`` with the store down: it fails and the client's view stays."""
    mine = cached(client)
    flaky.fail_next = True
    try:
        client.allocate_next()
    except StoreUnavailableError:
        pass
    else:
        raise AssertionError("allocate_next succeeded with the store down")
    assert cached(client) == mine


def cached(client: Any) -> tuple[list[str], int | None, int]:
    """A client's own view, without reading the store."""
    cursor = None
    if isinstance(client, NodeCIDRAllocator):
        cursor = client.cursor
    elif isinstance(client, PodIPAllocator):
        cursor = client.last_reserved
    return [str(x) for x in client], cursor, client.used


def make_node_machine(factory: Callable[[], Store]) -> type[NodeCIDRMachine]:
    class StoredNodeCIDRMachine(NodeCIDRMachine):
        @initialize(
            v6=st.booleans(),
            cluster_prefix=st.integers(0, 128),
            gap=st.integers(0, 6),
            value=st.integers(0, 2**128 - 1),
        )
        def start(self, v6: bool, cluster_prefix: int, gap: int, value: int) -> None:
            super().start(v6, cluster_prefix, gap, value)
            self.flaky = FlakyStore(factory())
            cluster, mask = str(self.cluster), self.mask
            self.alloc: Any = Clients(lambda: NodeCIDRAllocator(cluster, mask, store=self.flaky))

        @rule()
        def store_down(self) -> None:
            before = self.snapshot()
            next_with_store_down(self.alloc.clients[0], self.flaky)
            assert self.snapshot() == before

    return StoredNodeCIDRMachine


def make_pod_machine(factory: Callable[[], Store]) -> type[PodIPMachine]:
    class StoredPodIPMachine(PodIPMachine):
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
            super().start(v6, host_bits, value, window, gateway)
            plain: PodIPAllocator = self.alloc
            self.flaky = FlakyStore(factory())
            subnet = ipaddress.ip_network(f"{self.kind(self.base)}/{self.width - host_bits}")
            kwargs = {
                "gateway": str(plain.gateway),
                "range_start": str(plain.range_start),
                "range_end": str(plain.range_end),
            }
            self.alloc: Any = Clients(
                lambda: PodIPAllocator(str(subnet), store=self.flaky, **kwargs)
            )

        @rule(offset=st.integers(-4, 70))
        def store_down(self, offset: int) -> None:
            client = self.alloc.clients[1]
            before, mine = self.snapshot(), cached(client)
            self.flaky.fail_next = True
            ip = str(self.kind((self.base + offset) % (1 << self.width)))
            try:
                client.allocate(ip)
            except StoreUnavailableError:
                pass
            except (ValueError, LookupError):
                pass  # refused before any store call (outside the window, the gateway)
            else:
                raise AssertionError("allocate succeeded with the store down")
            self.flaky.fail_next = False
            assert self.snapshot() == before
            assert cached(client) == mine

    return StoredPodIPMachine


@st.composite
def small_service_ranges(draw: st.DrawFn) -> tuple[str, str, int, int, int]:
    """``service_ranges`` of test_service_ips_machine, at most 16 host bits."""
    version = draw(st.sampled_from(VERSIONS))
    width = 32 if draw(st.booleans()) else 128
    prefix = draw(st.integers(width - 16, width))
    network = draw(st.integers(0, 2**width - 1)) >> (width - prefix) << (width - prefix)
    text = str(netaddr.IPNetwork((network, prefix), version=4 if width == 32 else 6))
    return version, text, network, prefix, width


def make_service_machine(factory: Callable[[], Store]) -> type[ServiceIPMachine]:
    class StoredServiceIPMachine(ServiceIPMachine):
        @initialize(
            spec=small_service_ranges(),
            seed=st.integers(0, 2**32),
            static_subrange=st.sampled_from([None, None, True, False]),
        )
        def start(self, spec: Any, seed: int, static_subrange: bool | None) -> None:
            super().start(spec, seed, static_subrange)
            version, cidr = spec[0], spec[1]
            self.flaky = FlakyStore(factory())
            self.alloc: Any = Clients(
                lambda: ServiceIPAllocator(
                    cidr,
                    version=version,
                    rng=self.rng,
                    static_subrange=static_subrange,
                    store=self.flaky,
                )
            )

        @rule(target=ServiceIPMachine.ips)
        def allocate_next(self) -> Any:
            if len(self.model) == self.size:
                before = self.state()
                try:
                    self.alloc.allocate_next()
                except RangeFullError as err:
                    assert str(err).startswith("range is full")
                else:
                    raise AssertionError("a full range handed out an address")
                assert self.state() == before
                return None
            dynamic_free = (
                sum(1 for v in self.model if v >= self.first + self.static)
                < self.size - self.static
            )
            ip = self.alloc.allocate_next()
            self.twin.allocate(ip)
            value = int(ip)
            assert ip.version == self.family_version
            assert self.usable(value) and value not in self.model
            assert (value >= self.first + self.static) == dynamic_free
            self.model.add(value)
            return ip

        @rule()
        def store_down(self) -> None:
            before = self.state()
            next_with_store_down(self.alloc.clients[0], self.flaky)
            assert self.state() == before  # the generator included
            assert sorted(self.alloc.iter_ints()) == sorted(self.model)

    return StoredServiceIPMachine


StoredNodeCIDRMemory = make_node_machine(MemoryStore)
StoredNodeCIDRMemory.TestCase.settings = settings(
    StoredNodeCIDRMemory.TestCase.settings, max_examples=30, stateful_step_count=30
)
TestStoredNodeCIDRMemoryMachine = StoredNodeCIDRMemory.TestCase

StoredPodIPMemory = make_pod_machine(MemoryStore)
StoredPodIPMemory.TestCase.settings = settings(
    StoredPodIPMemory.TestCase.settings, max_examples=30, stateful_step_count=30
)
TestStoredPodIPMemoryMachine = StoredPodIPMemory.TestCase

StoredServiceIPMemory = make_service_machine(MemoryStore)
StoredServiceIPMemory.TestCase.settings = settings(
    StoredServiceIPMemory.TestCase.settings, max_examples=30, stateful_step_count=30
)
TestStoredServiceIPMemoryMachine = StoredServiceIPMemory.TestCase

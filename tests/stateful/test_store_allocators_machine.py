"""The allocator state machines again, on store-backed allocators sharing one key.

``NodeCIDRMachine`` and ``PodIPMachine`` (same plain models, same rules) run with
``self.alloc`` replaced by ``Clients``: several allocators built with ``store=`` on one
key, standing for processes. Each state-changing call goes to the next client in turn,
so every call starts from a stale cache (another client wrote last) and has to find
the latest state through compare-and-swap; every view (iteration, counts, membership,
cursor) is read by a separate client right after ``refresh()``, so the invariants check
what the store holds. On top, ``store_down``: the next store call fails, the call raises
``StoreUnavailableError`` and the store and the calling client's cache are unchanged.

``make_node_machine(factory)``/``make_pod_machine(factory)`` build the machines over any
store; here on ``MemoryStore``, and in tests/test_store_allocators.py on a real etcd.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import initialize, rule
from test_node_cidrs_machine import NodeCIDRMachine
from test_pod_ips_machine import PodIPMachine

from dualstack.node_cidrs import NodeCIDRAllocator
from dualstack.pod_ips import PodIPAllocator
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


def cached(client: Any) -> tuple[list[str], int | None, int]:
    """A client's own view, without reading the store."""
    cursor = client.cursor if isinstance(client, NodeCIDRAllocator) else client.last_reserved
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
            client = self.alloc.clients[0]
            before, mine = self.snapshot(), cached(client)
            self.flaky.fail_next = True
            try:
                client.allocate_next()
            except StoreUnavailableError:
                pass
            else:
                raise AssertionError("allocate_next succeeded with the store down")
            assert self.snapshot() == before
            assert cached(client) == mine

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

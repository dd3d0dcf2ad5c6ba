"""SharedState and MemoryStore against plain models (store.py, the compare-and-swap loop).

``SharedStateMachine``: three clients, each a ``SharedState`` with its own stale-able
cache over one ``MemoryStore`` key holding a small toy bitmap ``RangeAllocation``; an
outside writer changes the key behind their backs and a fault switch makes the next
store call fail. The model is a ``dict`` offset -> owning client. Rules checked: no
offset handed out twice, ``RangeFullError`` exactly when the model is full,
``AlreadyAllocatedError`` exactly when the offset is taken (whatever the caches say),
a release only clears what it names, a failed call changes nothing (cached state,
revision, stored value), and the stored bitmap always equals the model.

``StoreMachine``: ``MemoryStore.get``/``compare_and_swap`` against a ``dict`` of
``name -> (value, revision)`` with etcd's revision rules (one store-wide counter, 0 for
absent, deletes of absent keys change nothing).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    precondition,
    rule,
)

from dualstack.bitmap import AllocationBitmap, NextFit, RandomScan
from dualstack.errors import AlreadyAllocatedError, RangeFullError
from dualstack.store import (
    MemoryStore,
    RangeValue,
    RetryPolicy,
    SharedState,
    Store,
    StoreUnavailableError,
    SwapResult,
    Versioned,
    decode_range_value,
    encode_range_value,
)

RANGE = "192.168.0.0/28"
SIZE = 14
NAME = "ranges/serviceips"
CLIENTS = 3


class FlakyStore:
    """A store whose next call fails when ``fail_next`` is set."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.prefix = inner.prefix
        self.fail_next = False
        self.maybe_applied = False

    def key(self, name: str) -> str:
        return self.inner.key(name)

    def _trip(self, write: bool) -> None:
        if self.fail_next:
            self.fail_next = False
            raise StoreUnavailableError(
                "etcd at test is unavailable: injected",
                maybe_applied=write and self.maybe_applied,
            )

    def get(self, name: str) -> Versioned:
        self._trip(False)
        return self.inner.get(name)

    def compare_and_swap(self, name: str, value: bytes | None, *, revision: int) -> SwapResult:
        self._trip(True)
        return self.inner.compare_and_swap(name, value, revision=revision)


def decode_bitmap(blob: bytes | None, strategy) -> AllocationBitmap:
    if blob is None:
        return AllocationBitmap(SIZE, strategy)
    value = decode_range_value(blob)
    assert value.range == RANGE
    return AllocationBitmap.from_k8s_bytes(value.data, SIZE, strategy)


def encode_bitmap(bitmap: AllocationBitmap) -> bytes:
    return encode_range_value(RangeValue(RANGE, bitmap.to_k8s_bytes()))


def stored_offsets(store: Store) -> set[int]:
    return set(decode_bitmap(store.get(NAME).value, None))


class SharedStateMachine(RuleBasedStateMachine):
    """Clients of one key; ``make_store`` is replaced to run the machine on etcd."""

    held = Bundle("held")
    make_store: Callable[[], Store] = staticmethod(MemoryStore)  # type: ignore[assignment]

    @initialize(seed=st.integers(0, 2**32 - 1), random_scan=st.booleans())
    def setup(self, seed: int, random_scan: bool) -> None:
        self.memory = type(self).make_store()
        self.store = FlakyStore(self.memory)
        self.sleeps: list[float] = []
        self.clients: list[SharedState[AllocationBitmap]] = []
        for i in range(CLIENTS):
            rng = random.Random(seed + i)

            def decode(blob: bytes | None, rng: random.Random = rng) -> AllocationBitmap:
                return decode_bitmap(blob, RandomScan(0, rng) if random_scan else NextFit())

            self.clients.append(
                SharedState(
                    self.store,
                    NAME,
                    decode=decode,
                    encode=encode_bitmap,
                    policy=RetryPolicy(attempts=4, base_delay=0.001, max_delay=0.004),
                    rng=random.Random(seed - i),
                    sleep=self.sleeps.append,
                )
            )
        self.model: dict[int, int] = {}
        self.last_revision = 0

    def _before(self, client: int) -> tuple[int, bytes | None, set[int] | None]:
        shared = self.clients[client]
        value = shared._value
        cached = set(shared._state) if shared._state is not None else None
        return shared.revision, value, cached

    def _check_unchanged(self, client: int, before, stored_before: Versioned) -> None:
        assert self._before(client) == before
        assert self.memory.get(NAME) == stored_before

    @rule(client=st.integers(0, CLIENTS - 1), fail=st.booleans(), maybe=st.booleans())
    def allocate_next(self, client: int, fail: bool, maybe: bool) -> None:
        before, stored_before = self._before(client), self.memory.get(NAME)
        self.store.fail_next, self.store.maybe_applied = fail, maybe
        try:
            got = self.clients[client].update(lambda bm: bm.allocate_next())
        except RangeFullError:
            assert not fail
            assert len(self.model) == SIZE
            self._check_unchanged(client, before, stored_before)
            return
        except StoreUnavailableError:
            assert fail
            self._check_unchanged(client, before, stored_before)
            return
        finally:
            self.store.fail_next = False
        assert got not in self.model, f"offset {got} handed out twice"
        assert 0 <= got < SIZE
        self.model[got] = client

    @rule(target=held, client=st.integers(0, CLIENTS - 1), offset=st.integers(0, SIZE - 1))
    def allocate(self, client: int, offset: int) -> tuple[int, int] | None:
        before, stored_before = self._before(client), self.memory.get(NAME)

        def op(bm: AllocationBitmap) -> int:
            if not bm.allocate(offset):
                raise AlreadyAllocatedError(f"offset {offset} is taken")
            return offset

        try:
            self.clients[client].update(op)
        except AlreadyAllocatedError:
            assert offset in self.model
            self._check_unchanged(client, before, stored_before)
            return None
        assert offset not in self.model, f"offset {offset} handed out twice"
        self.model[offset] = client
        return (client, offset)

    @rule(pair=consumes(held), by=st.integers(0, CLIENTS - 1))
    def release(self, pair: tuple[int, int] | None, by: int) -> None:
        if pair is None or self.model.get(pair[1]) != pair[0]:
            return
        offset = pair[1]
        self.clients[by].update(lambda bm: bm.release(offset))
        del self.model[offset]

    @rule(offset=st.integers(0, SIZE - 1))
    def outside_writer_toggles(self, offset: int) -> None:
        """Another process: allocates the offset if free, releases it if it took it."""
        current = self.memory.get(NAME)
        bitmap = decode_bitmap(current.value, None)
        if offset in self.model:
            if self.model[offset] != -1:
                return
            bitmap.release(offset)
            del self.model[offset]
        else:
            bitmap.allocate(offset)
            self.model[offset] = -1
        assert self.memory.compare_and_swap(
            NAME, encode_bitmap(bitmap), revision=current.revision
        ).ok

    @precondition(lambda self: self.model)
    @rule(client=st.integers(0, CLIENTS - 1))
    def release_of_free_offset_changes_nothing(self, client: int) -> None:
        free = [o for o in range(SIZE) if o not in self.model]
        if not free:
            return
        stored_before = self.memory.get(NAME)
        self.clients[client].update(lambda bm: bm.release(free[0]))
        assert self.memory.get(NAME) == stored_before

    @invariant()
    def stored_bitmap_equals_model(self) -> None:
        assert stored_offsets(self.memory) == set(self.model)

    @invariant()
    def revisions_only_grow(self) -> None:
        revision = self.memory.get(NAME).revision
        assert revision >= self.last_revision
        self.last_revision = revision

    @invariant()
    def back_off_stays_bounded(self) -> None:
        assert all(0 <= pause <= 0.004 for pause in self.sleeps)

    @rule(client=st.integers(0, CLIENTS - 1))
    def refresh_catches_up(self, client: int) -> None:
        # A rule, not an invariant: refreshing after every step would hide stale caches.
        assert set(self.clients[client].refresh()) == set(self.model)


def make_machine(make_store: Callable[[], Store]) -> type[SharedStateMachine]:
    """The machine over stores that ``make_store`` builds (one per example)."""
    return type(
        "SharedStateMachineOn", (SharedStateMachine,), {"make_store": staticmethod(make_store)}
    )


TestSharedStateMachine = SharedStateMachine.TestCase
TestSharedStateMachine.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)


class StoreMachine(RuleBasedStateMachine):
    """MemoryStore against a dict with etcd's revision rules."""

    def __init__(self) -> None:
        super().__init__()
        self.store = MemoryStore()
        self.model: dict[str, tuple[bytes, int]] = {}
        self.revision = 0

    names = st.sampled_from(["a", "b", "ranges/podips/10.0.0.0/24"])
    values = st.one_of(st.none(), st.binary(max_size=4))

    def _expected(self, name: str) -> Versioned:
        if name in self.model:
            return Versioned(*self.model[name])
        return Versioned(None, 0)

    @rule(name=names)
    def get(self, name: str) -> None:
        assert self.store.get(name) == self._expected(name)

    @rule(name=names, value=values, stale=st.booleans(), guess=st.integers(0, 30))
    def compare_and_swap(self, name: str, value: bytes | None, stale: bool, guess: int) -> None:
        current = self._expected(name)
        revision = guess if stale else current.revision
        result = self.store.compare_and_swap(name, value, revision=revision)
        if revision != current.revision:
            assert result == SwapResult(False, current)
            return
        assert result.ok
        if value is None:
            if name in self.model:
                self.revision += 1
                del self.model[name]
            assert result.current == Versioned(None, 0)
            return
        self.revision += 1
        self.model[name] = (value, self.revision)
        assert result.current == Versioned(value, self.revision)

    @invariant()
    def items_match(self) -> None:
        full = {self.store.key(k): Versioned(*v) for k, v in self.model.items()}
        assert dict(self.store.items()) == full


TestStoreMachine = StoreMachine.TestCase
TestStoreMachine.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)

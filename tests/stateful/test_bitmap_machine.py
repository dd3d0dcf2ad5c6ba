"""AllocationBitmap with RandomScan against a plain set model (service-ips.md §1.6, §1.9).

Rule checked: nothing is handed out twice, nothing outside ``[0, size)``, the upper
(dynamic) band is filled before the lower band, ``free + count == size``, the byte
encoding round-trips, and a failed ``allocate_next`` draws no random number.
"""

from __future__ import annotations

import random

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

from dualstack.bitmap import AllocationBitmap, RandomScan
from dualstack.errors import RangeFullError

SIZES = st.one_of(
    st.integers(0, 40),
    st.sampled_from([255, 256, 257, 65535, 65536, 65537, 70000, 2**20, 2**24 + 1, 2**64]),
    st.integers(0, 200000),
)


class BitmapMachine(RuleBasedStateMachine):
    offsets = Bundle("offsets")

    @initialize(size=SIZES, reserved=st.integers(0, 300), seed=st.integers(0, 2**32))
    def start(self, size, reserved, seed):
        self.size = size
        self.reserved = min(reserved, size)
        self.rng = random.Random(seed)
        self.bitmap = AllocationBitmap(size, RandomScan(reserved, self.rng))
        self.model: set[int] = set()

    def _upper_has_free(self) -> bool:
        upper = self.size - self.reserved
        return sum(1 for o in self.model if o >= self.reserved) < upper

    @rule(target=offsets)
    def allocate_next(self):
        state = self.rng.getstate()
        if len(self.model) == self.size:
            try:
                self.bitmap.allocate_next()
            except RangeFullError:
                assert self.rng.getstate() == state
                return -1
            raise AssertionError("a full bitmap handed out an offset")
        upper_free = self._upper_has_free()
        offset = self.bitmap.allocate_next()
        assert 0 <= offset < self.size and offset not in self.model
        assert (offset >= self.reserved) == upper_free
        self.model.add(offset)
        return offset

    @rule(target=offsets, raw=st.integers(0, 2**21))
    def allocate(self, raw):
        if not self.size:
            return -1
        offset = raw % self.size
        assert self.bitmap.allocate(offset) == (offset not in self.model)
        self.model.add(offset)
        return offset

    @rule(offset=consumes(offsets))
    def release(self, offset):
        assert self.bitmap.release(offset) == (offset in self.model)
        self.model.discard(offset)

    @rule(raw=st.integers(-5, 2**21))
    def release_any(self, raw):
        assert self.bitmap.release(raw) == (raw in self.model)
        self.model.discard(raw)

    @rule(a=st.integers(0, 2**21), b=st.integers(0, 2**21))
    def first_free(self, a, b):
        lo, hi = sorted((a % (self.size + 1), b % (self.size + 1)))
        found = self.bitmap.first_free(lo, hi)
        expected = next((o for o in range(lo, min(hi, lo + 5000)) if o not in self.model), None)
        if expected is None and hi - lo <= 5000:
            assert found == -1
        elif expected is not None:
            assert found == expected

    # The encoding is as long as the highest offset: keep it to a few hundred KiB.
    @precondition(lambda self: self.size > 0 and max(self.model, default=0) < 2**22)
    @rule()
    def encoding_round_trip(self):
        data = self.bitmap.to_k8s_bytes()
        assert int.from_bytes(data, "big") == sum(1 << o for o in self.model)
        assert not data or data[0] != 0
        back = AllocationBitmap.from_k8s_bytes(data, self.size)
        assert set(back) == self.model and back.count == len(self.model)

    @invariant()
    def counts_agree(self):
        assert self.bitmap.count == len(self.model)
        assert self.bitmap.free + self.bitmap.count == self.size

    @invariant()
    def members_agree(self):
        assert list(self.bitmap) == sorted(self.model)


TestBitmapMachine = BitmapMachine.TestCase
TestBitmapMachine.settings = settings(max_examples=150, stateful_step_count=60, deadline=None)

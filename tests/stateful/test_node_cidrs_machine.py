"""NodeCIDRAllocator against a plain model (CIDRSet, node-and-pod-ips.md §1.4-§1.5).

The model knows the blocks only through Python's ``ipaddress`` (``subnets()``), keeps a
``set`` of used block indices and upstream's ``nextCandidate``. Rules checked: blocks
never overlap and always lie inside the cluster CIDR; ``allocate_next`` resumes after
the last block handed out and wraps; ``occupy``/``release`` touch exactly the blocks
that overlap the CIDR (all of them for a CIDR as large as the cluster) and never move
the cursor; a CIDR outside the cluster CIDR fails; every failing call changes nothing.
"""

from __future__ import annotations

import ipaddress
import itertools
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

from dualstack.errors import NotInRangeError, RangeFullError
from dualstack.node_cidrs import NodeCIDRAllocator

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class NodeCIDRMachine(RuleBasedStateMachine):
    blocks = Bundle("blocks")

    @initialize(
        v6=st.booleans(),
        cluster_prefix=st.integers(0, 128),
        gap=st.integers(0, 6),
        value=st.integers(0, 2**128 - 1),
    )
    def start(self, v6: bool, cluster_prefix: int, gap: int, value: int) -> None:
        width = 128 if v6 else 32
        self.width = width
        self.kind: Any = ipaddress.IPv6Network if v6 else ipaddress.IPv4Network
        prefix = min(cluster_prefix, width - gap)
        self.cluster: Network = self.kind((value % (1 << width), prefix), strict=False)
        self.mask = prefix + gap
        self.alloc = NodeCIDRAllocator(str(self.cluster), self.mask)
        self.model_blocks: list[Network] = list(self.cluster.subnets(new_prefix=self.mask))
        self.used: set[int] = set()
        self.cursor = 0

    # --- helpers -------------------------------------------------------------------
    def snapshot(self) -> tuple[list[str], int, int, int]:
        return [str(n) for n in self.alloc], self.alloc.cursor, self.alloc.used, self.alloc.free

    def model_indices(self, cidr: Network) -> list[int] | None:
        """Blocks the CIDR marks, or None when upstream refuses it."""
        if cidr.version != self.cluster.version or not cidr.overlaps(self.cluster):
            return None
        if cidr.prefixlen <= self.cluster.prefixlen:
            return list(range(len(self.model_blocks)))
        return [i for i, b in enumerate(self.model_blocks) if b.overlaps(cidr)]

    def draw_cidr(self, data: st.DataObject) -> Network:
        v6 = self.cluster.version == 6
        other_family = data.draw(st.integers(0, 19)) == 0
        if other_family:
            v6 = not v6
        width = 128 if v6 else 32
        kind = ipaddress.IPv6Network if v6 else ipaddress.IPv4Network
        hi = min(width, self.mask + 3)
        lo = min(max(0, self.cluster.prefixlen - 2), hi)
        prefix = data.draw(st.one_of(st.integers(0, width), st.integers(lo, hi)))
        base = int(self.cluster.network_address)
        near = st.integers(
            base - 4 * self.cluster.num_addresses, base + 4 * self.cluster.num_addresses
        )
        value = data.draw(st.one_of(near, st.integers(0, (1 << width) - 1)))
        return kind((value % (1 << width), prefix), strict=False)

    # --- rules ------------------------------------------------------------------------
    @rule(target=blocks)
    def allocate_next(self) -> Any:
        if len(self.used) == len(self.model_blocks):
            before = self.snapshot()
            try:
                self.alloc.allocate_next()
            except RangeFullError:
                assert self.snapshot() == before
                return self.model_blocks[0]
            raise AssertionError("a full set handed out a block")
        n = len(self.model_blocks)
        c = self.cursor
        while c in self.used:
            c = (c + 1) % n
        got = self.alloc.allocate_next()
        assert self.kind(str(got)) == self.model_blocks[c]
        self.used.add(c)
        self.cursor = (c + 1) % n
        return self.model_blocks[c]

    @rule(data=st.data())
    def occupy(self, data: st.DataObject) -> None:
        cidr = self.draw_cidr(data)
        self._mark(cidr, True)

    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        cidr = self.draw_cidr(data)
        self._mark(cidr, False)

    @rule(block=consumes(blocks))
    def release_block(self, block: Network) -> None:
        self._mark(block, False)

    @rule(block=blocks)
    def occupy_block_again(self, block: Network) -> None:
        self._mark(block, True)

    @rule(block=blocks)
    def membership(self, block: Network) -> None:
        index = self.model_blocks.index(block)
        assert (str(block) in self.alloc) == (index in self.used)

    def _mark(self, cidr: Network, occupy: bool) -> None:
        indices = self.model_indices(cidr)
        before = self.snapshot()
        op = self.alloc.occupy if occupy else self.alloc.release
        if indices is None:
            try:
                op(str(cidr))
            except NotInRangeError as error:
                assert str(error).startswith(
                    f"cidr {cidr} is out the range of cluster cidr {self.cluster}"
                )
                assert self.snapshot() == before
                return
            raise AssertionError(f"{cidr} outside {self.cluster} was accepted")
        op(str(cidr))
        if occupy:
            self.used.update(indices)
        else:
            self.used.difference_update(indices)

    # --- invariants -------------------------------------------------------------------
    @invariant()
    def counts_match(self) -> None:
        assert self.alloc.used == len(self.used) == len(self.alloc)
        assert self.alloc.free + self.alloc.used == self.alloc.size == len(self.model_blocks)

    @invariant()
    def cursor_matches(self) -> None:
        assert self.alloc.cursor == self.cursor

    @invariant()
    def blocks_are_the_model_blocks_inside_cluster_without_overlap(self) -> None:
        got = [self.kind(str(n)) for n in self.alloc]
        assert got == [self.model_blocks[i] for i in sorted(self.used)]
        for a, b in itertools.pairwise(got):
            assert int(a.broadcast_address) < int(b.network_address)
        for n in got:
            assert n.subnet_of(self.cluster)
            assert n.prefixlen == self.mask


NodeCIDRMachine.TestCase.settings = settings(
    NodeCIDRMachine.TestCase.settings, max_examples=60, stateful_step_count=40
)
TestNodeCIDRMachine = NodeCIDRMachine.TestCase

"""Hilbert-curve SVG maps of a range's use."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dualstack._svgmap import (
    KINDS,
    MAX_CELLS,
    aggregate,
    aggregate_spans,
    cell_plan,
    hilbert_xy,
    render_svg,
)

SVG = "{http://www.w3.org/2000/svg}"


def _cells(svg_text: str) -> list[ET.Element]:
    root = ET.fromstring(svg_text)
    return [el for el in root.iter(f"{SVG}rect") if "cell" in (el.get("class") or "").split()]


def _kind_of(element: ET.Element) -> str:
    classes = (element.get("class") or "").split()
    classes.remove("cell")
    (kind,) = classes
    return kind


@pytest.mark.parametrize("order", [0, 1, 2, 3, 4, 5])
def test_hilbert_xy_order_visits_every_cell_once_with_unit_steps(order):
    side = 1 << order
    points = [hilbert_xy(order, i) for i in range(side * side)]
    assert len(set(points)) == side * side
    assert all(0 <= x < side and 0 <= y < side for x, y in points)
    assert all(abs(a[0] - b[0]) + abs(a[1] - b[1]) == 1 for a, b in itertools.pairwise(points))


def test_hilbert_xy_aligned_quarter_fills_a_square():
    # The first 64 steps of an order-4 curve are one aligned 8 x 8 quadrant: a /26 of
    # a /24 is a square on the page.
    points = {hilbert_xy(4, i) for i in range(64)}
    xs = {x for x, _ in points}
    ys = {y for _, y in points}
    assert len(xs) == 8
    assert len(ys) == 8
    assert min(xs) % 8 == 0
    assert min(ys) % 8 == 0


@pytest.mark.parametrize(
    ("size", "max_cells", "expected"),
    [
        (1, MAX_CELLS, (1, 1)),
        (256, MAX_CELLS, (256, 1)),
        (65536, MAX_CELLS, (65536, 1)),
        (65537, MAX_CELLS, (32769, 2)),
        (1 << 24, MAX_CELLS, (65536, 256)),
        (1 << 64, MAX_CELLS, (65536, 1 << 48)),
        (1 << 128, MAX_CELLS, (65536, 1 << 112)),
        (1000, 256, (250, 4)),
    ],
    ids=["one", "ipv4-24", "ipv4-16", "just-over", "ipv4-8", "ipv6-64", "ipv6-0", "small-cap"],
)
def test_cell_plan_sizes_power_of_two_aggregation(size, max_cells, expected):
    assert cell_plan(size, max_cells) == expected


@pytest.mark.parametrize(
    ("size", "max_cells"), [(0, MAX_CELLS), (10, 3), (10, 0)], ids=["empty", "not-pow2", "zero"]
)
def test_cell_plan_invalid_arguments_raise(size, max_cells):
    with pytest.raises(ValueError, match=r"\d"):
        cell_plan(size, max_cells)


def test_aggregate_cell_shows_highest_priority_owner():
    owners = {0: "reserved", 1: "static", 5: "service", 8: "free", 9: "pod", 10: "node"}
    assert aggregate(owners, 4) == {0: "reserved", 1: "service", 2: "pod"}
    assert aggregate(owners, 1) == owners


@pytest.mark.parametrize(
    ("cell_count", "expected_side_cells"),
    [(1, 1), (2, 4), (256, 256), (512, 1024), (4096, 4096)],
    ids=["one", "two", "ipv4-24", "ipv4-23", "4096"],
)
def test_render_svg_cell_count_matches_range(cell_count, expected_side_cells):
    svg = render_svg("10.0.0.0/24", cell_count, {0: "reserved"})
    cells = _cells(svg)
    assert len(cells) == cell_count
    positions = {(int(c.get("x")), int(c.get("y"))) for c in cells}
    assert len(positions) == cell_count
    side = max(max(x, y) for x, y in positions) + 1
    assert side * side <= expected_side_cells


def test_render_svg_full_size_map_is_well_formed():
    svg = render_svg("fd00:10:96::/112", MAX_CELLS, {0: "reserved", 1: "service"})
    cells = _cells(svg)
    assert len(cells) == MAX_CELLS
    assert Counter(_kind_of(c) for c in cells) == {"reserved": 1, "service": 1, "free": 65534}


def test_render_svg_title_and_legend_counts():
    owners = {0: "reserved", 1: "static", 2: "static", 3: "service", 255: "reserved"}
    svg = render_svg("10.96.0.0/24", 256, owners, title="Service range 10.96.0.0/24")
    root = ET.fromstring(svg)
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    assert root.find(f"{SVG}title").text == "Service range 10.96.0.0/24"
    assert "Service range 10.96.0.0/24" in texts
    assert "Service ClusterIP: 1" in texts
    assert "free, static band: 2" in texts
    assert "reserved (not allocatable): 2" in texts
    assert "free: 251" in texts
    assert "One cell = one address." in texts
    assert not any(t.startswith("Pod IP") for t in texts)  # absent kinds stay out


def test_render_svg_aggregated_legend_says_so():
    svg = render_svg("10.0.0.0/8", MAX_CELLS, {}, per_cell=256, unit="address")
    texts = ["".join(t.itertext()) for t in ET.fromstring(svg).iter(f"{SVG}text")]
    assert "One cell = 256 addresses." in texts
    assert any(str(MAX_CELLS) in t for t in texts)


def test_render_svg_default_title_names_range_and_escapes():
    svg = render_svg("a<b&c", 4, {})
    root = ET.fromstring(svg)
    assert root.find(f"{SVG}title").text == "a<b&c: address use"


def test_render_svg_cell_labels_become_tooltips_for_small_maps():
    svg = render_svg("10.0.0.0/30", 4, {1: "pod"}, cell_labels={1: "10.0.0.1: pod"})
    cells = _cells(svg)
    labelled = [c for c in cells if c.find(f"{SVG}title") is not None]
    assert [c.find(f"{SVG}title").text for c in labelled] == ["10.0.0.1: pod"]


@pytest.mark.parametrize(
    ("cell_count", "owners"),
    [(0, {}), (MAX_CELLS + 1, {}), (4, {4: "pod"}), (4, {-1: "pod"}), (4, {0: "martian"})],
    ids=["zero", "too-many", "index-past", "index-negative", "unknown-kind"],
)
def test_render_svg_invalid_arguments_raise(cell_count, owners):
    with pytest.raises(ValueError, match=r"cell|kind"):
        render_svg("10.0.0.0/24", cell_count, owners)


@settings(max_examples=40)
@given(
    data=st.data(),
    cell_count=st.integers(min_value=1, max_value=1024),
)
def test_render_svg_kinds_per_cell_match_owners(data, cell_count):
    owners = data.draw(
        st.dictionaries(
            st.integers(min_value=0, max_value=cell_count - 1),
            st.sampled_from(sorted(KINDS)),
            max_size=50,
        )
    )
    cells = _cells(render_svg("10.0.0.0/22", cell_count, owners))
    assert len(cells) == cell_count
    expected = Counter(owners.values())
    expected["free"] += cell_count - len(owners)
    assert Counter(_kind_of(c) for c in cells) == +expected


def test_aggregate_spans_huge_span_costs_cells_not_units():
    # The reserved tail of an IPv6 /64 under a 16-bit window: 2^64 - 65536 units.
    per_cell = 1 << 48
    spans = [(0, 0, "reserved"), (65536, (1 << 64) - 1, "reserved"), (1, 1, "service")]
    cells = aggregate_spans(spans, per_cell)
    assert len(cells) == 65536
    assert cells[0] == "service"  # the window's cell shows its one Service
    assert set(list(cells.values())[1:]) == {"reserved"}


@settings(max_examples=60)
@given(
    owners=st.dictionaries(
        st.integers(min_value=0, max_value=1023), st.sampled_from(sorted(KINDS)), max_size=40
    ),
    per_cell=st.sampled_from([1, 2, 4, 16, 64]),
)
def test_aggregate_spans_single_units_equal_aggregate(owners, per_cell):
    spans = [(unit, unit, kind) for unit, kind in owners.items()]
    assert aggregate_spans(spans, per_cell) == aggregate(owners, per_cell)

"""SVG maps of address-range use, laid out along a Hilbert curve.

Purpose: people read a picture of an address space faster than a list. A range is cut
into cells (one address, one node block, or an aggregate when the range is large) and
the cells are placed along a Hilbert curve, so addresses that are close in number stay
close on the page and every aligned sub-block (a /24 in a /16, a node's block in the
cluster CIDR) is a compact square or 2:1 rectangle.

Key functions:
- ``cell_plan(size, max_cells)``: how many cells a range of ``size`` units gets and how
  many units each cell stands for (both powers of two when aggregating).
- ``aggregate(owners, per_cell)`` / ``aggregate_spans(spans, per_cell)``: fold
  per-unit owners (or whole spans of units) into per-cell owners.
- ``render_svg(range_text, cell_count, owners, ...)``: the picture, as SVG text; a pure
  function of its arguments.
- ``hilbert_xy(order, index)``: the curve itself.

Invariants: the SVG holds exactly ``cell_count`` ``<rect class="cell ...">`` elements
(one per cell, free ones included), a title and a legend; it is well-formed XML with no
external references. Cell ``i`` covers units ``[i * per_cell, (i + 1) * per_cell)``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Final, Literal
from xml.sax.saxutils import escape

__all__ = [
    "KINDS",
    "MAX_CELLS",
    "OwnerKind",
    "aggregate",
    "aggregate_spans",
    "cell_plan",
    "hilbert_xy",
    "render_svg",
]

OwnerKind = Literal["service", "pod", "node", "reserved", "static", "free"]
"""Who holds a cell: a Service ClusterIP, a Pod IP, a node's Pod CIDR block, an address
nobody may use (network, broadcast, past the IPv6 window), the free static band of a
Service range, or nobody."""

KINDS: Final[Mapping[OwnerKind, tuple[str, str]]] = {
    # kind: (fill colour, legend label); colours stay distinguishable for the common
    # forms of colour blindness (Okabe-Ito palette).
    "service": ("#0072B2", "Service ClusterIP"),
    "pod": ("#009E73", "Pod IP"),
    "node": ("#E69F00", "node Pod CIDR block"),
    "reserved": ("#555555", "reserved (not allocatable)"),
    "static": ("#CCE3F2", "free, static band"),
    "free": ("#F2F2F2", "free"),
}

# When a cell aggregates several units, it shows the most telling owner among them.
_PRIORITY: Final[tuple[OwnerKind, ...]] = ("service", "pod", "node", "reserved", "static", "free")
_RANK: Final = {kind: rank for rank, kind in enumerate(_PRIORITY)}

MAX_CELLS: Final = 65536
"""The largest map drawn: a 256 x 256 grid (larger ranges are aggregated)."""

_TITLE_CELL_LIMIT: Final = 4096  # per-cell tooltips only where the file stays small
_GRID_PX: Final = 768


def cell_plan(size: int, max_cells: int = MAX_CELLS) -> tuple[int, int]:
    """Cells for a range of ``size`` units: ``(cell_count, units_per_cell)``.

    A range of at most ``max_cells`` units gets one cell per unit. A larger one is
    aggregated by the smallest power of two that brings it under the cap, so each cell
    is an aligned block. ``max_cells`` must be a power of two.

    Raises:
        ValueError: ``size`` < 1 or ``max_cells`` is not a power of two.
    """
    if size < 1:
        raise ValueError(f"a range has at least one unit, got {size}")
    if max_cells < 1 or max_cells & (max_cells - 1):
        raise ValueError(f"max_cells must be a power of two, got {max_cells}")
    per_cell = 1
    while size > max_cells * per_cell:
        per_cell <<= 1
    return -(-size // per_cell), per_cell


def aggregate(owners: Mapping[int, OwnerKind], per_cell: int) -> dict[int, OwnerKind]:
    """Fold ``{unit index: kind}`` into ``{cell index: kind}``.

    A cell takes the highest-priority kind among its units (service, pod, node,
    reserved, static, free), so a single used address still shows in a large block.
    """
    if per_cell == 1:
        return dict(owners)
    cells: dict[int, OwnerKind] = {}
    for unit, kind in owners.items():
        cell = unit // per_cell
        held = cells.get(cell)
        if held is None or _RANK[kind] < _RANK[held]:
            cells[cell] = kind
    return cells


def aggregate_spans(
    spans: Iterable[tuple[int, int, OwnerKind]], per_cell: int
) -> dict[int, OwnerKind]:
    """Fold inclusive unit spans ``(first, last, kind)`` into ``{cell index: kind}``.

    Like ``aggregate``, but a span costs one step per cell it touches, not per unit, so
    the reserved tail of an IPv6 /64 (2^64 units) is as cheap as one address.
    """
    cells: dict[int, OwnerKind] = {}
    rank = _RANK
    for first, last, kind in spans:
        if last < first:
            continue
        for cell in range(first // per_cell, last // per_cell + 1):
            held = cells.get(cell)
            if held is None or rank[kind] < rank[held]:
                cells[cell] = kind
    return cells


def hilbert_xy(order: int, index: int) -> tuple[int, int]:
    """The ``(x, y)`` grid position of step ``index`` on a Hilbert curve of ``order``.

    The grid is ``2**order`` cells square; consecutive indexes are always neighbours,
    and each aligned run of ``4**k`` indexes fills a ``2**k`` square.
    """
    x = y = 0
    rest = index
    side = 1
    while side < (1 << order):
        rx = 1 & (rest >> 1)
        ry = 1 & (rest ^ rx)
        if ry == 0:
            # Rotate the quadrant so the sub-curve joins its neighbours.
            if rx == 1:
                x, y = side - 1 - x, side - 1 - y
            x, y = y, x
        x += side * rx
        y += side * ry
        rest >>= 2
        side <<= 1
    return x, y


def _plural(unit: str) -> str:
    return unit + ("es" if unit.endswith("s") else "s")


def _order_for(cell_count: int) -> int:
    order = 0
    while 4**order < cell_count:
        order += 1
    return order


def render_svg(
    range_text: str,
    cell_count: int,
    owners: Mapping[int, OwnerKind],
    *,
    title: str | None = None,
    unit: str = "address",
    per_cell: int = 1,
    cell_labels: Mapping[int, str] | None = None,
) -> str:
    """Draw a range's use as an SVG document.

    Args:
        range_text: the range shown in the title, e.g. ``"10.96.0.0/16"``.
        cell_count: the number of cells (see ``cell_plan``); at most ``MAX_CELLS``.
        owners: ``{cell index: kind}``; cells not listed are ``"free"``.
        title: the heading; defaults to ``"<range_text>: address use"``.
        unit: what one unit is, for the legend (``"address"``, ``"/24 node block"``).
        per_cell: units per cell, said in the legend when more than one.
        cell_labels: optional tooltip text per cell (used only for maps of at most
            4096 cells, to keep the file small).

    Returns:
        The SVG text: one ``<rect class="cell <kind>">`` per cell, a legend with the
        count of cells of each kind, and the title.

    Raises:
        ValueError: ``cell_count`` out of ``1..MAX_CELLS``, an owner index outside the
            cells, or an unknown kind.
    """
    if not 1 <= cell_count <= MAX_CELLS:
        raise ValueError(f"cell_count must be 1..{MAX_CELLS}, got {cell_count}")
    for index, kind in owners.items():
        if not 0 <= index < cell_count:
            raise ValueError(f"owner of cell {index} lies outside the {cell_count} cells")
        if kind not in KINDS:
            raise ValueError(f"unknown owner kind {kind!r}; known: {', '.join(KINDS)}")
    order = _order_for(cell_count)
    side = 1 << order
    cell_px = max(1, _GRID_PX // side)
    grid_px = side * cell_px
    margin = 16
    title_h = 40
    legend_w = 300
    width = margin * 3 + grid_px + legend_w
    height = max(title_h + grid_px + margin * 2, title_h + 260)
    heading = title or f"{range_text}: address use"

    counts = Counter(owners.values())
    counts["free"] += cell_count - len(owners)
    labels = cell_labels if cell_labels is not None and cell_count <= _TITLE_CELL_LIMIT else {}

    out: list[str] = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="13">',
        f"<title>{escape(heading)}</title>",
        "<style>",
        # A hairline between large cells; none where cells are a few pixels wide.
        ".cell{stroke:#ffffff;stroke-width:0.04}" if cell_px >= 6 else ".cell{stroke:none}",
        *(f".{kind}{{fill:{colour}}}" for kind, (colour, _) in KINDS.items()),
        "</style>",
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="{margin}" y="26" font-size="18" font-weight="bold">{escape(heading)}</text>',
        # Cells are drawn in grid units and scaled once, which keeps each element short.
        f'<g id="cells" transform="translate({margin} {title_h}) scale({cell_px})">',
    ]
    for index in range(cell_count):
        x, y = hilbert_xy(order, index)
        kind = owners.get(index, "free")
        label = labels.get(index)
        if label is None:
            out.append(f'<rect class="cell {kind}" x="{x}" y="{y}" width="1" height="1"/>')
        else:
            out.append(
                f'<rect class="cell {kind}" x="{x}" y="{y}" width="1" height="1">'
                f"<title>{escape(label)}</title></rect>"
            )
    out.append("</g>")

    lx = margin * 2 + grid_px
    ly = title_h + 10
    out.append(f'<g id="legend" transform="translate({lx} {ly})">')
    row = 0
    for kind, (colour, text) in KINDS.items():
        if not counts.get(kind):
            continue
        y = row * 22
        out.append(
            f'<rect x="0" y="{y}" width="14" height="14" fill="{colour}" stroke="#999999"/>'
        )
        out.append(f'<text x="22" y="{y + 12}">{escape(text)}: {counts[kind]}</text>')
        row += 1
    notes = [
        f"{cell_count} cells along a Hilbert curve:",
        "nearby addresses stay nearby.",
        f"One cell = {per_cell} {_plural(unit)}." if per_cell != 1 else f"One cell = one {unit}.",
    ]
    if per_cell != 1:
        notes.append("Aggregated to stay under")
        notes.append(f"{MAX_CELLS} cells; a cell shows its")
        notes.append("busiest owner (service > pod > node).")
    for offset, note in enumerate(notes):
        out.append(
            f'<text x="0" y="{(row + 1) * 22 + offset * 18 + 12}" '
            f'fill="#333333">{escape(note)}</text>'
        )
    out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"

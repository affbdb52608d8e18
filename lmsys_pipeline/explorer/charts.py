"""Pictures drawn on the server: a squarified treemap of the categories (tiles in percent of
their box, so the page needs no script) and bar heights for counts per period."""

from dataclasses import dataclass, field

# A child tile is labelled when its box is at least this share of the treemap's width and
# height (percent): at the page's 340 px height, ~48 px tall, ~120 px wide on a laptop.
LABEL_MIN_W, LABEL_MIN_H = 12.0, 14.0


@dataclass
class Tile:
    node: dict
    x: float
    y: float
    w: float
    h: float
    children: list["Tile"] = field(default_factory=list)
    labelled: bool = True


def _worst(row: list[float], side: float) -> float:
    total = sum(row)
    return max(
        max(side * side * r / (total * total), total * total / (side * side * r)) for r in row
    )


def squarify(sizes: list[float], x: float, y: float, w: float, h: float) -> list[tuple]:
    """Rectangles (x, y, w, h) for ``sizes`` (largest first) filling the box, each as close
    to a square as the order allows (Bruls, Huizing and van Wijk's algorithm)."""
    total = sum(sizes)
    if total <= 0 or not sizes:
        return [(x, y, 0.0, 0.0) for _ in sizes]
    areas = [s * w * h / total for s in sizes]
    rects: list[tuple] = []
    row: list[float] = []
    while areas:
        side = min(w, h)
        if not row or _worst([*row, areas[0]], side) <= _worst(row, side):
            row.append(areas.pop(0))
            continue
        x, y, w, h = _lay(row, x, y, w, h, rects)
        row = []
    if row:
        _lay(row, x, y, w, h, rects)
    return rects


def _lay(row: list[float], x: float, y: float, w: float, h: float, rects: list) -> tuple:
    total = sum(row)
    if w >= h:  # a column on the left
        width = total / h if h else 0
        offset = y
        for area in row:
            height = area / width if width else 0
            rects.append((x, offset, width, height))
            offset += height
        return x + width, y, w - width, h
    height = total / w if w else 0
    offset = x
    for area in row:
        width = area / height if height else 0
        rects.append((offset, y, width, height))
        offset += width
    return x, y + height, w, h - height


def treemap(roots: list[dict], depth: int = 2) -> list[Tile]:
    """Tiles of ``roots`` (``tree_dict`` nodes) and, ``depth`` levels down, their children,
    each child's box relative to its parent's (all in percent)."""
    shown = [r for r in roots if r.get("queries")]
    tiles = []
    for node, rect in zip(
        shown, squarify([r["queries"] for r in shown], 0, 0, 100, 100), strict=True
    ):
        tile = Tile(node, *rect)
        kids = node.get("children")
        if depth > 1 and isinstance(kids, list):
            tile.children = treemap(kids, depth - 1)
            for child in tile.children:
                child.labelled = (
                    child.w * tile.w / 100 >= LABEL_MIN_W and child.h * tile.h / 100 >= LABEL_MIN_H
                )
        tiles.append(tile)
    return tiles


def bar_heights(counts: list[int]) -> list[float]:
    """Each count as a percentage of the largest."""
    top = max(counts, default=0)
    return [round(100 * c / top, 1) if top else 0.0 for c in counts]

"""The treemap drawn on the server: tiles fill their box, and a child tile is labelled only
when it is large enough to hold its title."""

from lmsys_pipeline.explorer.charts import LABEL_MIN_H, LABEL_MIN_W, treemap


def _node(cluster_id: int, queries: int, children=None) -> dict:
    return {"cluster_id": cluster_id, "title": f"t{cluster_id}", "queries": queries,
            "children": children or []}  # fmt: skip


def test_children_are_labelled_when_their_tile_is_large_enough():
    big = _node(1, 900, [_node(10, 600), _node(11, 297), _node(12, 3)])
    tiles = treemap([big, _node(2, 100, [_node(20, 100)])])
    assert abs(sum(t.w * t.h for t in tiles) - 100 * 100) < 1e-6
    labelled = {c.node["cluster_id"]: c.labelled for t in tiles for c in t.children}
    assert labelled[10] and labelled[11] and not labelled[12]
    for tile in tiles:
        for child in tile.children:
            roomy = child.w * tile.w / 100 >= LABEL_MIN_W and child.h * tile.h / 100 >= LABEL_MIN_H
            assert child.labelled == roomy

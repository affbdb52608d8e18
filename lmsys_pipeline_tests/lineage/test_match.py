"""The matching rules on hand-made partitions: each kind, and the centroid fallback."""

import numpy as np

from lmsys_pipeline.lineage.match import Partition, Thresholds, match_runs, shared_counts


def _partition(clusters: dict[int, list[int]], centroids: dict[int, list[float]]) -> Partition:
    query_ids = np.array(sorted(q for members in clusters.values() for q in members))
    labels = np.array([next(c for c, m in clusters.items() if q in m) for q in query_ids])
    width = max(clusters) + 1
    centres = np.zeros((width, 2), dtype=np.float32)
    for cluster, vector in centroids.items():
        centres[cluster] = np.array(vector) / np.linalg.norm(vector)
    return Partition(query_ids, labels, centres)


def test_each_kind_follows_the_rules():
    before = _partition(
        {
            0: list(range(0, 100)),  # continues into 0 (grows by 20 new queries)
            1: list(range(100, 200)),  # splits into 1 and 2
            2: list(range(200, 250)),  # merges with 3 into 3
            3: list(range(250, 300)),
            4: list(range(300, 340)),  # gone: its queries spread thinly
            -1: list(range(340, 360)),  # noise: in no relation
        },
        {0: [1, 0], 1: [0, 1], 2: [1, 1], 3: [1, 1.1], 4: [-1, 0]},
    )
    spread = list(range(300, 340))
    after = _partition(
        {
            0: list(range(0, 100)) + list(range(1000, 1020)),
            1: list(range(100, 150)) + spread[:10],
            2: list(range(150, 200)) + spread[10:20],
            3: list(range(200, 300)) + spread[20:30],
            4: list(range(2000, 2050)),  # new: only queries the earlier run never saw
            5: spread[30:] + list(range(340, 360)),
        },
        {0: [1, 0.01], 1: [0, 1], 2: [0.1, 1], 3: [1, 1], 4: [-1, -1], 5: [0.2, -1]},
    )
    relations = match_runs(before, after, Thresholds(link=0.3, centroid=0.99))
    kinds = {(r.from_cluster_id, r.to_cluster_id): r.kind for r in relations}
    assert kinds == {
        (0, 0): "continues",
        (1, 1): "split",
        (1, 2): "split",
        (2, 3): "merged",
        (3, 3): "merged",
        (None, 4): "new",
        (None, 5): "new",
        (4, None): "gone",
    }
    by_pair = {(r.from_cluster_id, r.to_cluster_id): r for r in relations}
    assert by_pair[0, 0].overlap == 100 / 120 and by_pair[0, 0].shared_queries == 100
    assert by_pair[1, 1].overlap == 50 / 110  # 100 + 60 - 50
    assert (by_pair[2, 3].from_size, by_pair[2, 3].to_size) == (50, 110)
    assert by_pair[None, 4].overlap == 0.0 and by_pair[None, 4].from_size == 0
    assert by_pair[4, None].overlap == 10 / (40 + 30 - 10)  # its best piece, below the link
    assert np.isclose(by_pair[0, 0].cosine, 1 / np.hypot(1, 0.01))
    # noise never counts: 20 queries were noise before and are in cluster 5 after
    shared = shared_counts(before, after)
    assert shared[4, 5] == 10 and all(a >= 0 and b >= 0 for a, b in shared)
    assert sum(shared.values()) == 340


def test_a_cluster_of_other_queries_continues_by_centroid_only_when_both_are_unlinked():
    before = _partition({0: list(range(10)), 1: list(range(10, 20))}, {0: [1, 0], 1: [0, 1]})
    after = _partition(
        {0: list(range(100, 110)), 1: list(range(10, 20))}, {0: [1, 0.05], 1: [0, 1]}
    )
    kinds = {
        (r.from_cluster_id, r.to_cluster_id): r.kind
        for r in match_runs(before, after, Thresholds(link=0.3, centroid=0.95))
    }
    assert kinds == {(0, 0): "continues", (1, 1): "continues"}
    strict = {
        (r.from_cluster_id, r.to_cluster_id): r.kind
        for r in match_runs(before, after, Thresholds(link=0.3, centroid=0.9999))
    }
    assert strict == {(None, 0): "new", (0, None): "gone", (1, 1): "continues"}

"""The aggregation threshold folds small clusters into their parent or into Other."""

import pytest

from lmsys_pipeline.hierarchy.tree import Node, Tree
from lmsys_pipeline.privacy.threshold import NOISE_REASON, fold_small


def _tree() -> Tree:
    """Clusters 0..4 and noise; parent 10 over 0, 1; parent 11 over 2, 3 (both small);
    cluster 4 an orphan."""
    nodes = {
        0: Node(0, 0, 50, "a", "", [], 10),
        1: Node(1, 0, 3, "b", "", [], 10),
        2: Node(2, 0, 4, "c", "", [], 11),
        3: Node(3, 0, 2, "d", "", [], 11),
        4: Node(4, 0, 5, "e", "", [], None),
        -1: Node(-1, 0, 30, "", "", [], None),
        10: Node(10, 1, 53, "P", "", [0, 1], None),
        11: Node(11, 1, 6, "Q", "", [2, 3], None),
    }
    return Tree(nodes)


def test_small_clusters_fold_into_their_parent_or_other() -> None:
    conversations = {0: 50, 1: 3, 2: 4, 3: 2, 4: 5, -1: 30}
    folding = fold_small(_tree(), conversations, 10)
    assert sorted(folding.public) == [0, 10]
    where = {f.node_id: f.into for f in folding.folded}
    assert where == {1: 10, 2: 11, 3: 11, 4: None, -1: None, 11: None}
    assert folding.conversations[10] == 53 and folding.conversations[11] == 6
    # Other: the orphan, the noise and the small parent (which holds its own small clusters)
    assert folding.other_conversations == 5 + 30 + 6
    assert [f.node_id for f in folding.folded_into(10)] == [1]
    assert next(f for f in folding.folded if f.node_id == -1).reason == NOISE_REASON


def test_a_flat_run_folds_into_other_and_the_threshold_is_inclusive() -> None:
    tree = Tree({i: Node(i, 0, n, str(i), "", [], None) for i, n in enumerate([10, 9, 30])})
    folding = fold_small(tree, {0: 10, 1: 9, 2: 30}, 10)
    assert sorted(folding.public) == [0, 2]
    assert [(f.node_id, f.into) for f in folding.folded] == [(1, None)]
    assert "fewer than 10 distinct conversations" in folding.folded[0].reason


def test_users_fold_a_cluster_with_enough_conversations_from_few_people() -> None:
    tree = Tree({i: Node(i, 0, 20, str(i), "", [], None) for i in range(2)})
    folding = fold_small(tree, {0: 20, 1: 20}, 10, users={0: 15, 1: 2}, min_users=5)
    assert folding.public == [0]
    assert folding.folded[0].reason == "fewer than 5 distinct users"


def test_threshold_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        fold_small(_tree(), {}, 0)

from lmsys_pipeline.hierarchy.validation import Row, tree_checks

GOOD = [
    Row(0, 10, 0, []),
    Row(1, 10, 0, []),
    Row(2, 11, 0, []),
    Row(3, 11, 0, []),
    Row(4, None, 0, []),  # an orphan
    Row(-1, None, 0, []),  # HDBSCAN noise
    Row(10, None, 1, [0, 1]),
    Row(11, None, 1, [2, 3]),
]
CLUSTERS = {-1, 0, 1, 2, 3, 4}


def _failed(rows, targets=(2,)):
    return {name for name, o in tree_checks(rows, CLUSTERS, list(targets)).items() if not o.passed}


def test_a_good_tree_passes_every_check():
    assert _failed(GOOD) == set()


def test_each_check_catches_its_fault():
    duplicated = [*GOOD, Row(1, None, 0, [])]
    assert "every_cluster_once_at_level_0" in _failed(duplicated)
    missing = [r for r in GOOD if r.cluster_id != 4]
    assert "every_cluster_once_at_level_0" in _failed(missing)
    two_parents = [*GOOD[:-1], Row(11, None, 1, [1, 2, 3])]
    assert "every_cluster_once_at_level_0" in _failed(two_parents)
    one_child = [*GOOD[:2], Row(2, 11, 0, []), Row(3, None, 0, []), *GOOD[4:7]]
    one_child.append(Row(11, None, 1, [2]))
    assert "parents_have_two_children" in _failed(one_child)
    cycle = [Row(0, 10, 0, []), Row(1, 10, 0, []), *GOOD[2:6], Row(10, 0, 1, [0, 1]), GOOD[7]]
    assert "no_cycles" in _failed(cycle)
    skipping = [*GOOD[:6], Row(10, None, 2, [0, 1]), GOOD[7]]
    assert "no_cycles" in _failed(skipping)


def test_the_top_level_size_counts_parents_and_orphans_against_what_was_asked():
    assert "top_level_size" not in _failed(GOOD, targets=[6])  # 2 parents + 1 orphan of 6
    assert "top_level_size" in _failed(GOOD, targets=[7])  # fewer than half of 7
    assert "top_level_size" in _failed(GOOD, targets=[1])  # more parents than asked
    assert "top_level_size" in _failed(GOOD[:6], targets=[2])  # no level at all

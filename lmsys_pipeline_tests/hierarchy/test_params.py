from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from lmsys_pipeline.hierarchy.params import (
    HierarchyInputError,
    HierarchyParams,
    level_targets,
    new_hierarchy_run_id,
)


@pytest.mark.parametrize(
    ("clusters", "fields", "targets"),
    [
        (64, {"top": 18}, [18]),  # HWU64: 64 intents under 18 scenarios, one level
        (60, {"levels": 3, "top": 3}, [22, 8, 3]),  # geometric
        (1000, {}, [215, 46, 10]),  # neither: levels of x0.2 until the top holds 10
        (40, {}, [8]),  # fewer than 50 clusters: the top holds a fifth
        (1000, {"levels": 2}, [200, 40]),  # levels only: x0.2 each
        (12, {"levels": 4}, [2]),  # stops at 2 parents
        (200, {"top": 5, "merge_ratio": 0.5}, [108, 58, 32, 17, 9, 5]),  # ceil(log 40 / log 2)
    ],
)
def test_level_targets(clusters, fields, targets):
    assert level_targets(clusters, HierarchyParams(**fields)) == targets


def test_impossible_shapes_are_refused_in_one_sentence():
    with pytest.raises(HierarchyInputError, match="--top 60 is not below the run's 60"):
        level_targets(60, HierarchyParams(top=60))
    with pytest.raises(HierarchyInputError, match="at least 3"):
        level_targets(2, HierarchyParams())
    with pytest.raises(ValidationError, match="offline model here is local/agglomerative"):
        HierarchyParams(model="local/keywords")
    with pytest.raises(ValidationError, match="provider/name"):
        HierarchyParams(model="gpt-4o")


def test_hierarchy_run_ids_follow_the_seed_pattern_and_never_clash():
    now = datetime(2026, 12, 1, 12, 30, 5, tzinfo=UTC)
    first = new_hierarchy_run_id("openai/gpt-4o-mini", set(), now)
    assert first == "hier-gpt-4o-mini-20261201-123005"
    assert new_hierarchy_run_id("openai/gpt-4o-mini", {first}, now) == f"{first}-2"
    assert new_hierarchy_run_id("local/agglomerative", set(), now).startswith("hier-agglomerative-")


def test_outcome_fields_exclude_throughput():
    slow, fast = HierarchyParams(concurrency=1), HierarchyParams(concurrency=64, rpm=10)
    assert slow.outcome() == fast.outcome()
    assert HierarchyParams(top=5).outcome() != HierarchyParams(top=6).outcome()
    assert "base_url" not in HierarchyParams().outcome()

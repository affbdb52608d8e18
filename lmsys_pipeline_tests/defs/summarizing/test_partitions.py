"""The summary partitions' tags, and the one Dagster warning the package silences."""

import warnings

import dagster as dg
import pytest

from lmsys_pipeline.defs.summarizing.partitions import (
    DAGSTER_OWN_TAG_WARNING,
)


def _warnings_of_a_run_request(partitions: dg.MultiPartitionsDefinition, key: str) -> list[str]:
    tags = partitions.get_tags_for_partition_key(key)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dg.RunRequest(run_key="k", partition_key=key, tags=tags)
    return [str(warning.message) for warning in caught]


def test_dagster_still_warns_about_its_own_tags_for_any_dimension_name():
    """If this fails, Dagster accepts its multi-partition tags now: drop the filter in
    partitions.py and this test."""
    import re

    for names in (("alias", "clustering_run"), ("a", "b"), ("aliasdim", "runkey")):
        partitions = dg.MultiPartitionsDefinition(
            {name: dg.StaticPartitionsDefinition(["x"]) for name in names}
        )
        messages = _warnings_of_a_run_request(partitions, "x|x")
        assert any(re.match(DAGSTER_OWN_TAG_WARNING, message) for message in messages), names


@pytest.mark.subprocess
def test_importing_the_partitions_silences_that_warning_and_nothing_else():
    """In a fresh interpreter as `dagster dev` has one (pytest resets filters per test)."""
    import subprocess
    import sys

    script = """
import dagster as dg
from lmsys_pipeline.defs.summarizing.partitions import summary_partition_key, summary_partitions
key = summary_partition_key("kmeans-6-20261204-120000", "gpt-4o-mini")
tags = summary_partitions.get_tags_for_partition_key(key)
assert tags["dagster/partition/alias"] == "gpt-4o-mini", tags
dg.RunRequest(run_key="k", partition_key=key, tags=tags)
dg.RunRequest(run_key="k", tags={"team:owner": "x"})
"""
    done = subprocess.run(
        [sys.executable, "-W", "always::DeprecationWarning", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "dagster/partition/" not in done.stderr
    assert "team:owner" in done.stderr

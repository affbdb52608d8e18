"""Tables printed to a pipe at 80 columns (``lmsys runs | cat``), by real ``lmsys`` processes:
every id, alias and number stays whole on its row's line; long text folds over lines."""

import os
import re
from pathlib import Path

import pytest
from sqlalchemy import update

from lmsys_pipeline.curation.edits import rename_cluster
from lmsys_pipeline.db.counts import cluster_sizes
from lmsys_pipeline.db.models import ClusteringRun
from lmsys_pipeline.embedding.search import SearchFilters, search
from lmsys_pipeline.reading.clusters import compare_aliases
from lmsys_pipeline_tests.cli.terminal import piped

pytestmark = [pytest.mark.slow, pytest.mark.subprocess]  # each test starts lmsys processes

DESCRIPTION = (
    "A run kept to compare against next quarter's data, with the default reduction and a "
    "fixed seed so that it can be rebuilt exactly"
)
REASON = "The title said nothing a reader could use; the central queries are all about cards"
EDITOR = "analyst-on-call-7"


@pytest.fixture
def lmsys80(results, tmp_path: Path):
    """(run ``lmsys ARGS --db-url URL`` piped at 80 columns: its stdout lines; database; run
    id), on the shared results with a long run description."""
    db, run_id = results
    with db.engine.begin() as connection:
        connection.execute(
            update(ClusteringRun)
            .where(ClusteringRun.run_id == run_id)
            .values(description=DESCRIPTION)
        )
    env = {**os.environ, "COLUMNS": "80", "DAGSTER_HOME": str(tmp_path / "dagster_home")}
    url = f"sqlite:///{db.engine.url.database}"

    def run(*args: str) -> list[str]:
        result = piped([*args, "--db-url", url], env)
        assert result.returncode == 0, result.stderr
        return result.stdout.splitlines()

    return run, db, run_id


def row(lines: list[str], *cells: str) -> str:
    """The one line that holds each of ``cells`` whole, as a cell of its own (between
    borders), in this order."""
    pattern = re.compile(
        r"│\s*" + r"\s*│(?:[^│]*│)*?\s*".join(re.escape(c) for c in cells) + r"\s*│"
    )
    found = [line for line in lines if pattern.search(line)]
    assert len(found) == 1, "\n".join([f"no single row holds {cells}:", *lines])
    return found[0]


def folded(lines: list[str], text: str) -> int:
    """How many lines ``text`` (a text cell) was folded over; fails if a word went missing."""
    words = text.split()
    holding = [line for line in lines if any(word in line for word in words)]
    shown = " ".join(part for line in holding for part in line.split("│")).split()
    assert all(word in shown for word in words), "\n".join(lines)
    return len(holding)


def test_runs_keep_the_run_id_its_numbers_and_aliases_whole(lmsys80):
    run, _, run_id = lmsys80
    lines = run("runs")
    row(lines, run_id, "kmeans", "6", "600", "0.0%")
    aliases = " ".join(lines)
    assert re.search(r"│\s*kw,\s", aliases) and re.search(r"[│ ]kw-short\s", aliases)
    assert folded(lines, DESCRIPTION) > 1


def test_list_clusters_and_compare_keep_ids_and_sizes_whole(lmsys80):
    run, db, run_id = lmsys80
    sizes = cluster_sizes(db, run_id)
    total = sum(sizes.values())
    lines = run("list-clusters", run_id, "--alias", "kw", "--show-examples", "3")
    for cluster, size in sizes.items():
        row(lines, str(cluster), f"{size:,}", f"{size / total:.1%}")
    lines = run("compare", run_id, "--alias", "kw", "--alias", "kw-short")
    for entry in compare_aliases(db, run_id, ["kw", "kw-short"]).rows:
        row(lines, str(entry["cluster_id"]), f"{entry['size']:,}")


def test_search_keeps_scores_query_ids_and_clusters_whole(lmsys80, minilm):
    run, db, run_id = lmsys80
    text = "my card was stolen and someone used it to pay for things abroad"
    lines = run("search", text, "--run-id", run_id, "-k", "5")
    hits = search(db, minilm, text, top=5, filters=SearchFilters(run_id=run_id))
    for hit in hits:
        row(lines, f"{hit.score:.3f}", str(hit.query_id), str(hit.cluster_id))


def test_edit_tables_keep_run_ids_edit_ids_and_editors_whole(lmsys80):
    run, db, run_id = lmsys80
    renamed = rename_cluster(db, run_id, 0, alias="kw", title="Cards", editor=EDITOR, reason=REASON)
    lines = run("edit", "audit", run_id)
    row(lines, str(renamed), "rename", "0", EDITOR)
    assert folded(lines, REASON) > 1
    lines = run("edit", "view-query", "1")
    row(lines, run_id)

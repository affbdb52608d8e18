"""``lmsys edit`` on the pipeline's own results: every command, its audit row, the Dagster
observation of the run's partition, and one-sentence errors."""

import json
from pathlib import Path

import dagster as dg
import pytest
from typer.testing import CliRunner

from lmsys_pipeline.cli import app
from lmsys_pipeline.cli.console import console
from lmsys_pipeline.curation.history import audit

runner = CliRunner()


@pytest.fixture
def edit_env(results, tmp_path: Path, monkeypatch):
    db, run_id = results
    home = tmp_path / "dagster_home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setattr(console, "_width", 200)
    return db, run_id, f"sqlite:///{db.engine.url.database}", home


def edit(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["edit", *args])
    return result.exit_code, result.output


def test_every_edit_command_leaves_an_audit_row_and_a_dagster_observation(edit_env):
    db, run_id, url, home = edit_env
    code, out = edit("view-query", "1", "--db-url", url, "--json")
    assert code == 0
    view = json.loads(out)
    [place] = view["clusters"]
    source = place["cluster_id"]
    target = (source + 1) % 6
    steps = [
        ("move-query", run_id, "1", "--to-cluster", str(target)),
        ("rename-cluster", run_id, str(target), "--alias", "kw", "--title", "Renamed by hand"),
        ("tag-cluster", run_id, str(target), "billing", "q3"),
        ("flag-cluster", run_id, str(target), "review"),
        ("split-cluster", run_id, str(target), "--query-ids", "1"),
        ("merge-clusters", run_id, "6", "--into", str(source)),
        ("delete-cluster", run_id, "5"),
    ]
    for step in steps:
        code, out = edit(*step, "--editor", "ana", "--reason", "test", "--db-url", url, "--json")
        assert code == 0, out
        assert json.loads(out)["editor"] == "ana"
    types = [e.edit_type for e in audit(db, run_id)]
    assert types == ["move_query", "rename", "tag", "flag", "split", "merge", "delete"]
    code, out = edit("orphaned", run_id, "--db-url", url, "--json")
    assert code == 0 and len(json.loads(out)) > 0
    code, out = edit("undo", str(len(steps)), "--db-url", url)
    assert code == 0 and "undo" in out
    code, out = edit("audit", run_id, "--db-url", url)
    assert code == 0 and "Renamed" not in out and "ana" in out
    code, out = edit("history", run_id, "--query-id", "1", "--db-url", url, "--json")
    assert [e["edit_type"] for e in json.loads(out)] == ["move_query", "split", "merge"]
    with dg.DagsterInstance.from_config(str(home)) as instance:
        records = instance.fetch_observations(dg.AssetKey("cluster_run"), limit=100).records
    observed = [r.asset_observation for r in records]
    assert len(observed) == len(steps) + 1
    assert {o.partition for o in observed} == {run_id}


def test_select_bad_clusters_prints_a_ranking_ready_for_flagging(edit_env):
    _db, run_id, url, _ = edit_env
    code, out = edit("select-bad-clusters", run_id, "--top", "3", "--db-url", url, "--json")
    assert code == 0
    ranked = json.loads(out)
    assert len(ranked) == 3
    assert ranked[0]["misfit_depth"] >= ranked[-1]["misfit_depth"]
    code, out = edit("select-bad-clusters", run_id, "--db-url", url)
    assert code == 0 and "lmsys edit flag-cluster" in out


def test_select_bad_clusters_filters_as_the_reference_tool(edit_env):
    _db, run_id, url, _ = edit_env

    def selected(*filters: str) -> list[dict]:
        code, out = edit("select-bad-clusters", run_id, "--top", "50", *filters,
                         "--db-url", url, "--json")  # fmt: skip
        assert code == 0, out
        return json.loads(out)

    everything = selected()
    sizes = sorted(c["size"] for c in everything)
    small = selected("--max-size", str(sizes[len(sizes) // 2]))
    assert small and all(c["size"] <= sizes[len(sizes) // 2] for c in small)
    assert len(small) < len(everything)
    most = max(c["languages"] for c in everything)
    assert all(c["languages"] == most for c in selected("--min-languages", str(most)))
    assert selected("--quality", "low") == []
    worst, last = everything[0]["cluster_id"], everything[-1]["cluster_id"]
    for cluster in (last, worst):
        code, out = edit("tag-cluster", run_id, str(cluster), "--quality", "low", "--db-url", url)
        assert code == 0, out
    # the ranking is kept among the rated clusters
    assert [c["cluster_id"] for c in selected("--quality", "low")] == [worst, last]


def test_move_queries_by_search(edit_env):
    db, run_id, url, _ = edit_env
    code, out = edit(
        "move-queries", run_id, "--search", "my card was stolen", "--top-k", "3",
        "--to-cluster", "0", "--db-url", url, "--json",
    )  # fmt: skip
    assert code == 0, out
    [row] = audit(db, run_id)
    assert len(row.new_value["query_ids"]) == 3


@pytest.mark.parametrize(
    "args, message",
    [
        (("move-query", "no-such-run", "1", "--to-cluster", "0"), "does not exist"),
        (("merge-clusters", "RUN", "2", "--into", "2"), "with itself"),
        (("undo", "999"), "does not exist"),
        (("move-queries", "RUN", "--to-cluster", "0", "--query-ids", "a,b"), "whole numbers"),
        (("view-query", "99999"), "does not exist"),
        (("tag-cluster", "RUN", "1", "--quality", "bad"), "--quality must be high, medium or low"),
        (("tag-cluster", "RUN", "1", "--coherence", "6"), "--coherence must be 1"),
        (("tag-cluster", "RUN", "1"), "Give tags, --quality, --coherence or --notes"),
        (("select-bad-clusters", "RUN", "--quality", "poor"), "--quality must be"),
        (("rename-cluster", "RUN", "1", "--alias", "kw", "--title", ""), "the title is empty"),
        (("rename-cluster", "RUN", "1", "--alias", "kw", "--title", "  \t "), "title is empty"),
        (
            ("rename-cluster", "RUN", "1", "--alias", "kw", "--title", "T" * 10_000),
            "the title is 10,000 characters long, more than 120",
        ),
        (
            ("rename-cluster", "RUN", "1", "--alias", "kw", "--description", "D" * 1_001),
            "the description is 1,001 characters long, more than 1,000",
        ),
    ],
)
def test_bad_input_is_one_error_line(edit_env, args, message):
    db, run_id, url, _ = edit_env
    args = tuple(run_id if a == "RUN" else a for a in args)
    code, out = edit(*args, "--db-url", url)
    assert code == 1
    assert out.startswith("Error:") and message in out and out.count("\n") <= 2
    assert audit(db, run_id) == []


def test_reads_show_edited_titles_tags_and_flags(edit_env, tmp_path: Path):
    import csv

    _db, run_id, url, _ = edit_env
    for step in [
        ("rename-cluster", run_id, "2", "--alias", "kw", "--title", "Lost or stolen cards"),
        ("tag-cluster", run_id, "2", "cards"),
        ("flag-cluster", run_id, "2", "review"),
        ("tag-cluster", run_id, "2", "--quality", "low", "--coherence", "2",
         "--notes", "Cards and [bold]transfers[/bold] mixed"),
    ]:  # fmt: skip
        assert edit(*step, "--db-url", url)[0] == 0
    result = runner.invoke(app, ["list-clusters", run_id, "--alias", "kw", "--db-url", url])
    assert result.exit_code == 0
    assert "Lost or stolen cards" in result.output
    assert "#cards, !review, quality low, coherence 2/5" in result.output
    result = runner.invoke(
        app, ["inspect", run_id, "2", "--alias", "kw", "--db-url", url, "--json"]
    )
    detail = json.loads(result.output)
    assert (detail["title"], detail["tags"], detail["flags"]) == (
        "Lost or stolen cards",
        ["cards"],
        ["review"],
    )
    assert (detail["quality"], detail["coherence"], detail["notes"]) == (
        "low",
        2,
        "Cards and [bold]transfers[/bold] mixed",
    )
    result = runner.invoke(app, ["inspect", run_id, "2", "--alias", "kw", "--db-url", url])
    assert "notes: Cards and [bold]transfers[/bold] mixed" in result.output
    out = tmp_path / "export.csv"
    result = runner.invoke(
        app, ["export", run_id, "--alias", "kw", "--format", "csv", "-o", str(out), "--db-url", url]
    )
    assert result.exit_code == 0, result.output
    rows = [r for r in csv.DictReader(out.open()) if r["cluster_id"] == "2"]
    assert rows and {(r["cluster_title"], r["cluster_tags"], r["cluster_flags"]) for r in rows} == {
        ("Lost or stolen cards", "cards", "review")
    }
    assert {(r["cluster_quality"], r["cluster_coherence"], r["cluster_notes"]) for r in rows} == {
        ("low", "2", "Cards and [bold]transfers[/bold] mixed")
    }


def test_the_map_shows_tags_and_flags_beside_the_title(edit_env, tmp_path: Path):
    _db, run_id, url, _ = edit_env
    assert edit("tag-cluster", run_id, "1", "billing", "--db-url", url)[0] == 0
    assert edit("flag-cluster", run_id, "1", "review", "--db-url", url)[0] == 0
    out = tmp_path / "map.html"
    result = runner.invoke(
        app, ["map", run_id, "--alias", "kw", "--sample", "200", "-o", str(out), "--db-url", url]
    )
    assert result.exit_code == 0, result.output
    assert "#billing !review" in out.read_text(encoding="utf-8")


def test_show_hierarchy_shows_a_renamed_cluster(edit_env):
    from lmsys_pipeline_tests.support.pipeline_data import build_tree

    db, run_id, url, _ = edit_env
    build_tree(db, run_id, "kw", top=2)
    assert (
        edit(
            "rename-cluster", run_id, "3", "--alias", "kw", "--title", "Hand title", "--db-url", url
        )[0]
        == 0
    )
    result = runner.invoke(app, ["show-hierarchy", run_id, "--alias", "kw", "--db-url", url])
    assert result.exit_code == 0, result.output
    assert "Hand title" in result.output

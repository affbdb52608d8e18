"""The read commands against results the pipeline made (see reading/conftest.py)."""

import json

import polars as pl
import pytest
from typer.testing import CliRunner

from lmsys_pipeline.cli import app
from lmsys_pipeline.cli.console import console
from lmsys_pipeline_tests.conftest import RESULTS_CLUSTERS as K

runner = CliRunner()


@pytest.fixture
def db_url(results) -> tuple[str, str]:
    db, run_id = results
    return f"sqlite:///{db.engine.url.database}", run_id


def run(*args: str) -> tuple[int, str]:
    """Exit code and what a person sees; with ``--json``, stdout alone (progress lines of long
    commands go to stderr, and stdout must stay valid JSON)."""
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout if "--json" in args else result.output


def test_runs_lists_the_run_with_its_aliases(db_url, monkeypatch):
    url, run_id = db_url
    monkeypatch.setattr(console, "_width", 200)
    code, out = run("runs", "--db-url", url, "--json")
    assert code == 0
    [found] = json.loads(out)
    assert found["run_id"] == run_id and found["aliases"] == ["kw", "kw-short"]
    assert (found["num_clusters"], found["num_queries"], found["noise_share"]) == (K, 600, 0.0)
    titles = found["label_measures"]["kw"]["titles"]
    assert 0 < titles["member_fit"] <= 1 and titles["duplicate_titles"] >= 0
    code, out = run("runs", "--latest", "--db-url", url)
    assert code == 0 and "kw-short" in out
    fit = found["label_measures"]["kw-short"]["titles"]["member_fit"]
    assert f"kw-short titles: member fit {fit:.3f}" in " ".join(out.split())


def test_list_clusters_says_which_summary_run_it_used(db_url):
    url, run_id = db_url
    code, out = run(
        "list-clusters",
        run_id,
        "--alias",
        "kw",
        "--show-examples",
        "2",
        "--limit",
        "3",
        "--db-url",
        url,
        "--json",
    )
    assert code == 0
    payload = json.loads(out)
    assert payload["summary_run"]["alias"] == "kw" and len(payload["clusters"]) == 3
    assert all(len(c["examples"]) == 2 for c in payload["clusters"])
    code, out = run("list-clusters", run_id, "--db-url", url)
    assert code == 0 and "latest summary run by generated_at" in out


def test_inspect_and_compare(db_url):
    url, run_id = db_url
    code, out = run("inspect", run_id, "1", "--show-queries", "3", "--db-url", url, "--json")
    assert code == 0
    detail = json.loads(out)
    assert detail["cluster_id"] == 1 and len(detail["queries"]) == 3
    assert "language_lift" in detail and detail["summary"]["alias"] == "kw-short"
    code, out = run("inspect", run_id, "1", "--db-url", url)
    assert code == 0 and "over-represented languages" in out
    code, out = run(
        "compare", run_id, "--alias", "kw", "--alias", "kw-short", "--db-url", url, "--json"
    )
    assert code == 0
    compared = json.loads(out)
    assert set(compared["label_accuracy"]) == {"kw", "kw-short"}
    assert len(compared["clusters"]) == K


@pytest.mark.parametrize(
    "args",
    [
        ("list-clusters", "kmeans-1-nope"),
        ("list-clusters", "{run}", "--alias", "gpt"),
        ("inspect", "{run}", "42"),
        ("inspect", "nope", "0"),
        ("compare", "{run}", "--alias", "kw", "--alias", "gpt"),
        ("compare", "{run}", "--alias", "kw"),
        ("export", "{run}", "--format", "xlsx", "-o", "out.xlsx"),
        ("export", "{run}", "--format", "csv", "-o", "/no/such/folder/out.csv"),
        ("map", "nope", "-o", "m.html"),
    ],
)
def test_unknown_ids_fail_with_one_line_and_exit_1(db_url, args):
    url, run_id = db_url
    code, out = run(*[a.format(run=run_id) for a in args], "--db-url", url)
    assert code == 1
    assert out.startswith("Error: ") and len(out.strip().splitlines()) <= 2
    assert "Traceback" not in out


def test_export_and_status_from_the_cli(db_url, tmp_path):
    url, run_id = db_url
    target = tmp_path / "out.parquet"
    code, out = run(
        "export",
        run_id,
        "--format",
        "parquet",
        "-o",
        str(target),
        "--alias",
        "kw",
        "--db-url",
        url,
        "--json",
    )
    assert code == 0 and json.loads(out)["rows"] == 600
    assert pl.read_parquet(target).height == 600
    code, out = run("status", "--db-url", url, "--json")
    assert code == 0 and json.loads(out)["rows"]["query_clusters"] == 600
    code, out = run("status", "--db-url", url)
    assert code == 0 and "query_clusters" in out


def test_map_from_the_cli(db_url, tmp_path):
    url, run_id = db_url
    target = tmp_path / "map.html"
    code, out = run(
        "map",
        run_id,
        "-o",
        str(target),
        "--sample",
        "100",
        "--projection",
        "pca",
        "--db-url",
        url,
        "--json",
    )
    assert code == 0, out
    assert json.loads(out)["points"] >= 100 and target.stat().st_size > 1_000_000


def test_delete_removes_a_conversation_and_reports_what_it_touched(db_url, tmp_path):
    url, run_id = db_url
    code, _ = run(
        "export", run_id, "--format", "json", "-o", str(tmp_path / "a.json"), "--db-url", url
    )
    assert code == 0
    rows = json.loads((tmp_path / "a.json").read_text())
    victims = [rows[0]["conversation_id"], rows[1]["conversation_id"]]
    listing = tmp_path / "ids.txt"
    listing.write_text(f"{victims[1]}\nnot-a-conversation\n")
    code, out = run(
        "delete",
        "--conversation-id",
        victims[0],
        "--from-file",
        str(listing),
        "--db-url",
        url,
        "--json",
    )
    assert code == 0, out
    report = json.loads(out)
    assert report["queries_deleted"] == 2 and report["not_found"] == ["not-a-conversation"]
    assert report["assignments_deleted"] == 2 and report["summaries_recounted"] >= 1
    code, out = run("list-clusters", run_id, "--db-url", url, "--json")
    assert sum(c["size"] for c in json.loads(out)["clusters"]) == 598
    code, out = run("delete", "--db-url", url)
    assert code == 1 and "at least one" in out

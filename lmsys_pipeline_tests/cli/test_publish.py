"""``lmsys publish`` over a run with an offline hierarchy: the nested tree, the folded
clusters listed, no query text in the folder, and a one-sentence refusal."""

import json

from sqlalchemy import update
from typer.testing import CliRunner

from lmsys_pipeline.cli import app
from lmsys_pipeline.db.hierarchy import ClusterHierarchy
from lmsys_pipeline_tests.pipeline_data import build_tree
from lmsys_pipeline_tests.privacy.planted import build_planted, loaded_texts

runner = CliRunner()


def test_publish_writes_the_tree_and_refuses_a_category_with_a_finding(sqlite_db, minilm, tmp_path):
    db = sqlite_db
    run_id = build_planted(db, minilm, tmp_path, k=12)
    build_tree(db, run_id, "kw", embedder=minilm, top=3)
    url = f"sqlite:///{db.engine.url.database}"
    out = tmp_path / "site"
    args = ["publish", run_id, "--alias", "kw", "--out", str(out), "--db-url", url]
    result = runner.invoke(app, [*args, "--min-conversations", "8", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["hierarchy_run_id"] and summary["folded_nodes"] >= 1
    report = json.loads((out / "report.json").read_text())
    assert report["hierarchy"] and any(node["children"] for node in report["tree"])
    assert report["withheld"] and all("why" in w for w in report["withheld"])
    texts = [t for t in loaded_texts(db) if len(t) >= 20]
    for path in out.iterdir():
        content = path.read_text()
        assert not [t for t in texts if t in content], path.name

    with db.engine.begin() as connection:
        connection.execute(
            update(ClusterHierarchy)
            .where(ClusterHierarchy.level == 1)
            .values(description="Requests from bob@example.org about invoices.")
        )
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert message.startswith(f"Error: Publishing {run_id} --alias kw refused: personal data")
    assert "level-1 category" in message and "(email in its description)" in message
    assert "bob@example.org" not in message
    assert result.output.count("\n") <= 3  # one sentence (folded to the terminal's width)

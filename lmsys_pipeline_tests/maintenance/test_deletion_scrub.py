"""After ``lmsys delete`` a deleted query's text is in no column of any table, on both
databases, and (SQLite) not in the database file either."""

from pathlib import Path

from sqlalchemy import String, cast, func, select
from sqlmodel import SQLModel

from lmsys_pipeline.db.models import ClusterSummary, Query, utc_now
from lmsys_pipeline.db.summaries import LLMResponse
from lmsys_pipeline.maintenance.deletion import delete_conversations
from lmsys_pipeline.maintenance.scrub import DELETED, Scrubber
from lmsys_pipeline.summarizing.selection import truncate
from lmsys_pipeline_tests.pipeline_data import build_results, build_tree, summarize


def _columns_holding(db, needle: str) -> list[str]:
    """Every table.column (all of the project's tables) whose text holds ``needle``."""
    found = []
    with db.engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            for column in table.columns:
                text = cast(column, String)
                hits = connection.execute(
                    select(func.count()).select_from(table).where(text.contains(needle))
                ).scalar_one()
                if hits:
                    found.append(f"{table.name}.{column.name}")
    return found


def _quoted_conversation(db) -> tuple[str, str]:
    """A conversation whose query the keyword summarizer quotes in a description."""
    with db.engine.connect() as connection:
        descriptions = connection.execute(select(ClusterSummary.description)).scalars().all()
        for conversation_id, text in connection.execute(
            select(Query.conversation_id, Query.query_text).order_by(Query.id)
        ):
            shown = truncate(text, 120).replace('"', "'")
            if len(text) > 25 and any(shown.rstrip("…") in d for d in descriptions):
                return conversation_id, text
    raise AssertionError("no description quotes a query")


def test_deleted_text_is_gone_from_labels_examples_and_the_cache(any_db, minilm, tmp_path: Path):
    db = any_db
    [run_id, other_run] = build_results(db, minilm, tmp_path, queries=300, k=6)
    summarize(db, run_id, "kw-second", max_queries=8, label_quality_queries=0)
    for run, alias in [(run_id, "kw"), (run_id, "kw-second"), (other_run, "kw")]:
        build_tree(db, run, alias, top=2)  # level-0 rows copy the quoting descriptions
    conversation_id, text = _quoted_conversation(db)
    probe = " ".join(text.split())[:25]
    with db.engine.begin() as connection:  # LLM answers in the cache that quote it
        for prompt_hash, response in [
            ("h" * 64, {"title": "Account deletion", "description": f'Users ask "{text}".'}),
            ("p" * 64, {"categories": [{"name": "Accounts", "description": f'"{text}"'}]}),
        ]:
            connection.execute(
                LLMResponse.__table__.insert().values(
                    prompt_hash=prompt_hash,
                    model="openai/gpt-4o-mini",
                    response=response,
                    tokens_in=1,
                    tokens_out=1,
                    created_at=utc_now(),
                )
            )
    assert set(_columns_holding(db, probe)) >= {
        "queries.query_text",
        "cluster_summaries.description",
        "cluster_summaries.summary",
        "cluster_hierarchies.description",
        "llm_responses.response",
    }

    report = delete_conversations(db, [conversation_id])

    assert report.queries_deleted == 1
    assert report.summaries_scrubbed >= 1 and report.hierarchy_nodes_scrubbed >= 1
    assert report.cached_answers_deleted == 2
    assert _columns_holding(db, probe) == []
    with db.engine.connect() as connection:
        labels = connection.execute(select(ClusterSummary.description)).scalars().all()
    assert any(DELETED in label for label in labels)
    if db.is_sqlite:
        assert report.file_checkpointed is True
        database_file = Path(db.engine.url.database)
        assert probe.encode() not in database_file.read_bytes()
        wal = Path(f"{database_file}-wal")
        assert not wal.exists() or probe.encode() not in wal.read_bytes()


def test_short_texts_are_only_removed_where_quoted_whole():
    scrubber = Scrubber(["hi"])
    assert scrubber.scrub('The user said "hi".') == f'The user said "{DELETED}".'
    assert scrubber.scrub("hi") == DELETED
    assert scrubber.scrub("this is a history question") == "this is a history question"
    cut = Scrubber(["How do I permanently delete my account and all of my data?"])
    assert cut.scrub("Example: How do I permanently delete my ac…") == f"Example: {DELETED}"
    assert cut.scrub("How do I permanently reset my password?…").endswith("password?…")

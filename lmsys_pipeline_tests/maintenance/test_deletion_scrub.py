"""After ``lmsys delete`` a deleted query's text is in no column of any table, on both
databases, and (SQLite) not in the database file either."""

from collections import Counter
from pathlib import Path

from sqlalchemy import String, cast, func, select
from sqlmodel import SQLModel

from lmsys_pipeline.clustering.params import KMeansParams
from lmsys_pipeline.clustering.runs import materialize_run, register_run
from lmsys_pipeline.curation.annotations import tag_cluster
from lmsys_pipeline.curation.edits import rename_cluster
from lmsys_pipeline.db.models import ClusterSummary, Query, utc_now
from lmsys_pipeline.db.summaries import LLMResponse
from lmsys_pipeline.embedding.runner import embed_pending
from lmsys_pipeline.ingestion.loader import ingest_batches
from lmsys_pipeline.ingestion.sources import open_source
from lmsys_pipeline.maintenance.deletion import delete_conversations
from lmsys_pipeline.maintenance.scrub import DELETED, DELETED_WORD, Scrubber, tokens
from lmsys_pipeline.summarizing.selection import truncate
from lmsys_pipeline_tests.support.openai_server import ServerState, openai_server
from lmsys_pipeline_tests.support.pipeline_data import build_results, build_tree, summarize
from lmsys_pipeline_tests.support.rows import message, row, write_parquet
from lmsys_pipeline_tests.support.tables import columns_holding


def _probe(text: str) -> str:
    """What the test looks for in every column: the start of the deleted text."""
    return " ".join(text.split())[:25]


def _quoted_conversation(db) -> tuple[str, str]:
    """A conversation whose query the keyword summarizer quotes in a description, and whose
    probe no other query shares (Banking77 has pairs such as "What was the extra charge for
    ..." whose first 25 characters agree: the other one rightly stays)."""
    with db.engine.connect() as connection:
        descriptions = connection.execute(select(ClusterSummary.description)).scalars().all()
        queries = connection.execute(
            select(Query.conversation_id, Query.query_text).order_by(Query.id)
        ).all()
    probes = Counter(_probe(text) for _, text in queries)
    for conversation_id, text in queries:
        shown = truncate(text, 120).replace('"', "'")
        if (
            len(text) > 25
            and probes[_probe(text)] == 1
            and any(shown.rstrip("…") in d for d in descriptions)
        ):
            return conversation_id, text
    raise AssertionError("no description quotes a query")


def test_deleted_text_is_gone_from_labels_examples_and_the_cache(any_db, minilm, tmp_path: Path):
    db = any_db
    [run_id, other_run] = build_results(db, minilm, tmp_path, queries=300, k=6)
    summarize(db, run_id, "kw-second", max_queries=8, label_quality_queries=0)
    for run, alias in [(run_id, "kw"), (run_id, "kw-second"), (other_run, "kw")]:
        build_tree(db, run, alias, top=2)  # level-0 rows copy the quoting descriptions
    conversation_id, text = _quoted_conversation(db)
    probe = _probe(text)
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
    assert set(columns_holding(db, probe)) >= {
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
    assert columns_holding(db, probe) == []
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


RARE = "ZEBRAQUOKKA42"
EMAIL = "zoe.quillfeather@example.org"
PLANTED = f"Please refund my card payment for order {RARE}, it was charged twice. Mail {EMAIL}"


def _quoting_label(prompt: str) -> dict[str, str] | None:
    """An LLM that quotes the rare word (and the address) when its own cluster shows it."""
    own = prompt.split("For contrast")[0]
    if RARE not in own:
        return None
    return {
        "title": f"{RARE} card refunds",
        "description": f"Users want refunds for order {RARE}, writing to {EMAIL}. "
        "They report double card charges.",
    }


def _columns_holding_any_case(db, needle: str) -> list[str]:
    """Every table.column whose text holds ``needle`` in any letter case."""
    found = []
    with db.engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            for column in table.columns:
                text = func.lower(cast(column, String))
                hits = connection.execute(
                    select(func.count()).select_from(table).where(text.contains(needle.lower()))
                ).scalar_one()
                if hits:
                    found.append(f"{table.name}.{column.name}")
    return found


def test_a_rare_word_a_label_took_from_the_deleted_text_leaves_every_table(
    any_db, minilm, tmp_path: Path, monkeypatch
):
    db = any_db
    ingest_batches(db, open_source(None).batches(1000), limit=80)
    planted = write_parquet(tmp_path / "planted.parquet", [row("zq-1", [message("user", PLANTED)])])
    ingest_batches(db, open_source(str(planted)).batches(10))
    embed_pending(db, minilm)
    run = register_run(db, KMeansParams(n_clusters=4))
    materialize_run(db, run.run_id)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with openai_server(ServerState(chat_label=_quoting_label)) as url:
        summarize(db, run.run_id, "llm", model="openai/m", base_url=url, max_queries=200,
                  label_quality_queries=0)  # fmt: skip
        build_tree(db, run.run_id, "llm", model="openai/m", base_url=url, embedder=minilm, top=2)
    with db.engine.connect() as connection:
        cluster_id = connection.execute(
            select(ClusterSummary.cluster_id).where(ClusterSummary.title.contains(RARE))
        ).scalar_one()
    tag_cluster(db, run.run_id, cluster_id, notes=f"check order {RARE} with finance")
    rename_cluster(db, run.run_id, cluster_id, alias="llm", title=f"{RARE} card refunds, checked")
    assert set(_columns_holding_any_case(db, "zebraquokka")) >= {
        "queries.query_text",
        "cluster_summaries.title",
        "cluster_summaries.description",
        "cluster_summaries.summary",
        "cluster_hierarchies.title",  # the hierarchy server names parents after the title
        "llm_responses.response",
        "cluster_edits.old_value",
        "cluster_edits.new_value",
        "cluster_metadata.notes",
    }

    report = delete_conversations(db, ["zq-1"])

    assert report.queries_deleted == 1
    for distinctive in ("zebraquokka", "quillfeather"):
        assert _columns_holding_any_case(db, distinctive) == []
    with db.engine.connect() as connection:
        title, description = connection.execute(
            select(ClusterSummary.title, ClusterSummary.description).where(
                ClusterSummary.run_id == run.run_id, ClusterSummary.cluster_id == cluster_id
            )
        ).one()
    # Words other queries still hold stay: the label keeps its meaning.
    assert title == f"{DELETED_WORD} card refunds, checked"
    assert description.startswith(f"Users want refunds for order {DELETED_WORD}, writing to")
    assert "double card charges" in description
    assert report.summaries_scrubbed >= 1 and report.hierarchy_nodes_scrubbed >= 1
    assert report.edits_scrubbed >= 2 and report.notes_scrubbed == 1


def test_distinctive_tokens_are_words_numbers_and_addresses():
    held = {"card", "refund", "order", "example", "org", "2024"}
    scrubber = Scrubber([PLANTED + " in 2024, PIN 98765"], held_elsewhere=held.__contains__)
    assert scrubber.scrub(f"Zebraquokka refunds ({RARE}): order 98765") == (
        f"{DELETED_WORD} refunds ({DELETED_WORD}): order {DELETED_WORD}"
    )
    assert scrubber.scrub(f"Write to {EMAIL.upper()} about the card") == (
        f"Write to {DELETED_WORD} about the card"
    )
    assert scrubber.scrub("Card refund orders in 2024 [deleted query]") == (
        "Card refund orders in 2024 [deleted query]"
    )
    assert tokens("It's ZEBRAQUOKKA42, ok?") == {"zebraquokka42", "zebraquokka"}

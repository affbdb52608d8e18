"""Deleting conversations everywhere, as a dataset owner may demand.

One transaction removes each conversation's query, its assignments in every clustering run and
its vector links; vectors no other query shares; its text from the summaries'
``representative_queries``; every quote of it in a summary's title, description and summary
and in a hierarchy node's title and description (replaced by ``[deleted query]``: the label
stays, the quote goes); and every cached LLM answer that quotes it. Single words count too: a
token of a deleted text that no remaining query in the database holds (an order number, an
address, a rare name; ``maintenance/scrub.py``) becomes ``[deleted]`` in those labels, in
analysts' notes, in the audit's titles, descriptions, notes and reasons, and a cached answer
holding one is dropped. The database, not the cluster or the run, is the scope: a word a
remaining query holds is no secret a deletion could keep, and one rule then serves every
place a word can land (the cache and the audit belong to no cluster). Every affected summary row
gets its ``num_queries`` recounted, so sizes stay right (hierarchy sizes are counted when
read). Nothing is half-deleted: a failure rolls everything back. The same transaction marks a
removal in ``vector_versions`` for every model that lost vectors, so every vector cache (on any
machine) drops them at its next load; this machine's caches are rewritten without them at once.

On SQLite the transaction runs with ``secure_delete`` (freed space is zeroed) and the WAL is
checkpointed afterwards, so the text is gone from the database file too. PostgreSQL keeps dead
row versions until ``VACUUM`` runs (autovacuum does, eventually; run ``VACUUM`` on the tables to
be sure).
"""

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from sqlalchemy import delete, exists, or_, select, update

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.counts import recount
from lmsys_pipeline.db.curation import ClusterMetadata
from lmsys_pipeline.db.hierarchy import ClusterHierarchy
from lmsys_pipeline.db.models import ClusterSummary, Query, QueryCluster
from lmsys_pipeline.db.summaries import LLMResponse
from lmsys_pipeline.db.vectors import QueryEmbedding, TextEmbedding
from lmsys_pipeline.embedding.cache import refresh_existing_caches
from lmsys_pipeline.embedding.store import bump_version, text_key
from lmsys_pipeline.maintenance.audit import scrub_audit
from lmsys_pipeline.maintenance.scrub import Scrubber, tokens

CHUNK = 5_000


@dataclass
class DeletionReport:
    queries_deleted: int = 0
    not_found: list[str] = field(default_factory=list)
    assignments_deleted: int = 0
    vectors_deleted: int = 0
    summaries_recounted: int = 0
    examples_removed: int = 0
    summaries_scrubbed: int = 0
    hierarchy_nodes_scrubbed: int = 0
    cached_answers_deleted: int = 0
    edits_scrubbed: int = 0
    notes_scrubbed: int = 0
    file_checkpointed: bool | None = None  # SQLite: the WAL was folded into the file
    vector_caches_refreshed: int = 0
    vector_caches_removed: list[str] = field(default_factory=list)  # could not be rewritten
    vector_caches_not_scrubbed: list[str] = field(default_factory=list)  # one sentence each

    def as_dict(self) -> dict:
        return asdict(self)


def _chunks(values: Sequence, size: int = CHUNK):
    for start in range(0, len(values), size):
        yield values[start : start + size]


def delete_conversations(db: DatabaseManager, conversation_ids: Sequence[str]) -> DeletionReport:
    report = DeletionReport()
    wanted = sorted({c.strip() for c in conversation_ids if c and c.strip()})
    with db.engine.begin() as connection:
        if db.is_sqlite:
            connection.exec_driver_sql("PRAGMA secure_delete = ON")
        found = []
        for chunk in _chunks(wanted):
            found += connection.execute(
                select(Query.id, Query.conversation_id, Query.query_text).where(
                    Query.conversation_id.in_(chunk)
                )
            ).all()
        report.not_found = sorted(set(wanted) - {row.conversation_id for row in found})
        ids = [row.id for row in found]
        texts = {text_key(row.query_text) for row in found}
        affected: set[tuple[str, int]] = set()
        vector_ids: set[int] = set()
        models: set[str] = set()
        for chunk in _chunks(ids):
            models |= set(
                connection.execute(
                    select(QueryEmbedding.model)
                    .distinct()
                    .where(QueryEmbedding.query_id.in_(chunk))
                ).scalars()
            )
            affected |= set(
                connection.execute(
                    select(QueryCluster.run_id, QueryCluster.cluster_id)
                    .distinct()
                    .where(QueryCluster.query_id.in_(chunk))
                ).all()
            )
            vector_ids |= set(
                connection.execute(
                    select(QueryEmbedding.text_embedding_id).where(
                        QueryEmbedding.query_id.in_(chunk)
                    )
                ).scalars()
            )
            report.assignments_deleted += connection.execute(
                delete(QueryCluster).where(QueryCluster.query_id.in_(chunk))
            ).rowcount
            connection.execute(delete(QueryEmbedding).where(QueryEmbedding.query_id.in_(chunk)))
            report.queries_deleted += connection.execute(
                delete(Query).where(Query.id.in_(chunk))
            ).rowcount
        for chunk in _chunks(sorted(vector_ids)):
            still_used = exists().where(QueryEmbedding.text_embedding_id == TextEmbedding.id)
            report.vectors_deleted += connection.execute(
                delete(TextEmbedding).where(TextEmbedding.id.in_(chunk), ~still_used)
            ).rowcount
        for run_id in sorted({run_id for run_id, _ in affected}):
            touched = [cluster for run, cluster in affected if run == run_id]
            report.summaries_recounted += recount(connection, run_id, touched)
        for run_id, cluster_id in sorted(affected):
            report.examples_removed += _drop_examples(connection, run_id, cluster_id, texts)
        scrubber = Scrubber(texts, held_elsewhere=_held_by_a_query(connection))
        runs = sorted({run_id for run_id, _ in affected})
        report.summaries_scrubbed = _scrub_labels(
            connection, ClusterSummary, ("title", "description", "summary"), runs, scrubber
        )
        report.hierarchy_nodes_scrubbed = _scrub_labels(
            connection, ClusterHierarchy, ("title", "description"), runs, scrubber
        )
        report.notes_scrubbed = _scrub_labels(
            connection, ClusterMetadata, ("notes",), runs, scrubber
        )
        report.cached_answers_deleted = _drop_cached_answers(connection, scrubber)
        report.edits_scrubbed = scrub_audit(connection, scrubber)
        for model in sorted(models):
            bump_version(connection, model, removal=True)
    if db.is_sqlite:
        report.file_checkpointed = _checkpoint(db)
    caches = refresh_existing_caches(db, sorted(models))
    report.vector_caches_refreshed = sum(c.action not in ("cleared", "kept") for c in caches)
    report.vector_caches_removed = [c.folder for c in caches if c.action == "cleared"]
    report.vector_caches_not_scrubbed = [c.problem for c in caches if c.action == "kept"]
    return report


def _scrub_labels(connection, table, columns: tuple[str, ...], run_ids, scrubber) -> int:
    """Quotes of the deleted texts in any label (``columns`` of ``table``) of the runs they
    belonged to (an LLM may also quote a neighbouring cluster's query, shown as contrast)."""
    scrubbed = 0
    fields = [getattr(table, name) for name in columns]
    for chunk in _chunks(run_ids):
        rows = connection.execute(select(table.id, *fields).where(table.run_id.in_(chunk))).all()
        for row_id, *values in rows:
            cleaned = [None if v is None else scrubber.scrub(v) for v in values]
            if cleaned != values:
                scrubbed += 1
                connection.execute(
                    update(table)
                    .where(table.id == row_id)
                    .values(dict(zip(columns, cleaned, strict=True)))
                )
    return scrubbed


def _held_by_a_query(connection):
    """Whether a remaining query holds a token: the database narrows by substring (lower
    case, as ``tokens`` compares), then the candidates are tokenized until one holds it."""

    def held(token: str) -> bool:
        # SQLite's lower() folds ASCII only: the title- and upper-case forms catch "Über".
        forms = {token.title(), token.upper()}
        statement = (
            select(Query.query_text)
            .where(
                or_(
                    Query.query_text.icontains(token, autoescape=True),
                    *(Query.query_text.contains(form, autoescape=True) for form in forms),
                )
            )
            .execution_options(yield_per=256)
        )
        result = connection.execute(statement)
        try:
            return any(token in tokens(text) for (text,) in result)
        finally:
            result.close()

    return held


def _texts_in(value) -> list[str]:
    """Every string inside a cached answer (hierarchy answers nest lists of objects)."""
    if isinstance(value, dict):
        return [t for v in value.values() for t in _texts_in(v)]
    if isinstance(value, list):
        return [t for v in value for t in _texts_in(v)]
    return [str(value)] if value is not None else []


def _drop_cached_answers(connection, scrubber: Scrubber) -> int:
    """Cached answers are only a cache: one that quotes a deleted text is dropped whole."""
    quoting = [
        prompt_hash
        for prompt_hash, response in connection.execute(
            select(LLMResponse.prompt_hash, LLMResponse.response)
        )
        if any(scrubber.mentions(text) for text in _texts_in(response or {}))
    ]
    for chunk in _chunks(quoting):
        connection.execute(delete(LLMResponse).where(LLMResponse.prompt_hash.in_(chunk)))
    return len(quoting)


def _checkpoint(db: DatabaseManager) -> bool:
    """Folds the WAL into the database file and empties it; False if a reader held it open."""
    with db.engine.connect() as connection:
        busy, _, _ = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
    return busy == 0


def _drop_examples(connection, run_id: str, cluster_id: int, texts: set[str]) -> int:
    """Removes the deleted texts (whole or as the cut shown to a model) from the examples."""
    removed = 0
    rows = connection.execute(
        select(ClusterSummary.id, ClusterSummary.representative_queries).where(
            ClusterSummary.run_id == run_id, ClusterSummary.cluster_id == cluster_id
        )
    ).all()
    for row_id, examples in rows:
        kept = [q for q in examples or [] if not _shows_deleted(q, texts)]
        if len(kept) != len(examples or []):
            removed += len(examples) - len(kept)
            connection.execute(
                update(ClusterSummary)
                .where(ClusterSummary.id == row_id)
                .values(representative_queries=kept)
            )
    return removed


def _shows_deleted(example: str, texts: set[str]) -> bool:
    flat = " ".join(example.split())
    stem = flat.removesuffix("…")
    for text in texts:
        whole = " ".join(text.split())
        if flat == whole or (stem != flat and whole.startswith(stem)):
            return True
    return False

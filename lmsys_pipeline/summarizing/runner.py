"""One summary run, end to end: start or resume the alias, label the clusters that have no
row yet (offline keywords or an LLM), score label quality, close the ledger entry (also when
an error stops the run: it never stays ``running``)."""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import NamedTuple

from sqlalchemy import select

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.models import NOISE, ClusterSummary
from lmsys_pipeline.db.summaries import SummaryRun
from lmsys_pipeline.embedding.embedders import Embedder
from lmsys_pipeline.embedding.embedders import load_embedder as default_embedder
from lmsys_pipeline.labeling.cache import from_cache
from lmsys_pipeline.labeling.labels import ClusterLabel
from lmsys_pipeline.labeling.lease import SUMMARY, check_held
from lmsys_pipeline.labeling.llm import Outcome, Tally, ask_all
from lmsys_pipeline.progress import OnProgress, Progress, Stopwatch, no_progress
from lmsys_pipeline.summarizing.carry import carried_labels
from lmsys_pipeline.summarizing.keyphrase import keyphrase_labels, member_texts
from lmsys_pipeline.summarizing.keywords import keyword_labels
from lmsys_pipeline.summarizing.ledger import (
    abort,
    finish,
    record,
    summarized_sizes,
    summary_labels,
)
from lmsys_pipeline.summarizing.params import KEYWORDS_MODEL, SummaryInputError, SummaryParams
from lmsys_pipeline.summarizing.prepare import PreparedSummary
from lmsys_pipeline.summarizing.prompts import plan_jobs
from lmsys_pipeline.summarizing.quality import LabelQuality, label_quality, summary_measures
from lmsys_pipeline.summarizing.results import LabelResult
from lmsys_pipeline.summarizing.selection import ClusterBrief, RunView, build_briefs, load_run_view

NOISE_LABEL = ClusterLabel.model_construct(
    title="Unclustered queries (HDBSCAN noise)",
    description="Queries HDBSCAN did not place in any cluster, stored as cluster -1. They "
    "share no topic, so no model is asked to name them.",
)
OFFLINE_WRITE_CHUNK = 200
TITLE_EXAMPLES = 2


@dataclass
class SummaryReport:
    entry: SummaryRun
    resumed: bool
    replaced: list[str]
    newly_labelled: int
    quality: LabelQuality
    titles: dict[int, "TitleRow"] = field(default_factory=dict)


def _label_text(title: str, description: str) -> str:
    return f"{title}. {description}"


def offline_labels(
    db: DatabaseManager,
    view: RunView,
    params: SummaryParams,
    briefs: dict[int, ClusterBrief],
    wanted: list[int],
    embedder: Callable[[], Embedder],
) -> dict[int, ClusterLabel]:
    """Labels of the ``wanted`` real clusters by the offline model the params name."""
    real = {c: b for c, b in briefs.items() if c != NOISE}
    if not real or not wanted:
        return {}
    if params.model == KEYWORDS_MODEL:
        return keyword_labels(real, wanted)
    texts = member_texts(db, view, sorted(real), params.seed)
    return keyphrase_labels(real, wanted, texts, view, embedder())


def _offline(
    save: Callable[[list[LabelResult]], None],
    briefs: dict[int, ClusterBrief],
    missing: list[int],
    on_progress: OnProgress,
    labels: dict[int, ClusterLabel],
) -> None:
    results = [LabelResult(briefs[c], NOISE_LABEL if c == NOISE else labels[c]) for c in missing]
    before, watch = len(briefs) - len(missing), Stopwatch()
    for start in range(0, len(results), OFFLINE_WRITE_CHUNK):
        save(results[start : start + OFFLINE_WRITE_CHUNK])
        done = before + min(start + OFFLINE_WRITE_CHUNK, len(results))
        on_progress(
            Progress("summarize", done, len(briefs), "clusters", watch.seconds, start=before)
        )


def _with_llm(
    db: DatabaseManager,
    save: Callable[[list[LabelResult]], None],
    briefs: dict[int, ClusterBrief],
    missing: list[int],
    prepared: PreparedSummary,
    log: Callable[[str], None],
    on_progress: OnProgress,
) -> None:
    params, endpoint = prepared.params, prepared.endpoint
    if NOISE in missing:
        save([LabelResult(briefs[NOISE], NOISE_LABEL)])
    jobs = plan_jobs([briefs[c] for c in missing if c != NOISE], endpoint, params)
    hits, pending = from_cache(db, jobs, prepared.started.fresh_since) if jobs else ([], [])
    if hits:
        save(
            [
                LabelResult(hit.job.key, hit.answer, cached=True, prompt_hash=hit.job.prompt_hash)
                for hit in hits
            ]
        )
        log(f"{len(hits)} clusters answered from the prompt cache (not paid again)")
    log(
        f"Asking {endpoint.model} at {endpoint.public_base_url} for {len(pending)} clusters "
        f"(concurrency {params.concurrency}, rpm {params.rpm or 'unlimited'})"
    )

    def on_done(outcome: Outcome[ClusterLabel]) -> None:
        save(
            [
                LabelResult(
                    outcome.job.key,
                    outcome.answer,
                    outcome.error,
                    outcome.requests,
                    outcome.tokens_in,
                    outcome.tokens_out,
                    prompt_hash=outcome.job.prompt_hash,
                )
            ]
        )
        if outcome.error:
            log(f"cluster {outcome.job.key.cluster_id}: {outcome.error}")

    tally = Tally(
        "summarize",
        len(briefs),
        on_progress=on_progress,
        start=len(briefs) - len(pending),
        cached=len(hits),
        price=params.cost,
    )
    ask_all(pending, endpoint, params, on_done, tally)


def _carry(
    db: DatabaseManager,
    save: Callable[[list[LabelResult]], None],
    briefs: dict[int, ClusterBrief],
    missing: list[int],
    run_id: str,
    carry_from: str,
    log: Callable[[str], None],
) -> list[int]:
    """Records the carried labels of the missing clusters; returns those left to label."""
    carried = carried_labels(db, run_id, carry_from)
    reused = [c for c in missing if c in carried]
    save(
        [
            LabelResult(
                briefs[c],
                ClusterLabel.model_construct(
                    title=carried[c].title, description=carried[c].description
                ),
                carried_from=carried[c].source(),
            )
            for c in reused
        ]
    )
    log(f"{len(reused)} clusters carry their {carry_from} title from the previous run")
    return [c for c in missing if c not in carried]


def summarize_run(
    db: DatabaseManager,
    prepared: PreparedSummary,
    *,
    load_embedder: Callable[[str], Embedder] = default_embedder,
    log: Callable[[str], None] = lambda message: None,
    on_progress: OnProgress = no_progress,
) -> SummaryReport:
    """Labels every cluster of the prepared summary run that has no row yet, scores label
    quality with ``load_embedder(run's embedding model)`` and closes the ledger entry.
    ``on_progress`` hears clusters done and failed of all, requests in flight, cached answers,
    tokens and their estimated cost as answers are stored."""
    started_at = time.perf_counter()
    run_id, alias, params = prepared.run_id, prepared.alias, prepared.params
    load_embedder = cache(load_embedder)
    summary_run_id = prepared.summary_run_id
    total = 0

    def save(results: list[LabelResult]) -> None:
        check_held(db, SUMMARY, run_id, alias)
        record(db, run_id, alias, summary_run_id, params, results, prepared.started.fresh_since)

    try:
        view = load_run_view(db, run_id)
        total = len(view.cluster_ids)
        done = summarized_sizes(db, summary_run_id)
        missing = [c for c in view.cluster_ids if done.get(c) != view.size(c)]
        log(
            f"{summary_run_id} ({'resumed' if prepared.started.resumed else 'new'}): "
            f"{len(missing)} of {total} clusters to label"
        )
        briefs = build_briefs(db, view, params, view.cluster_ids)
        if params.carry_from is not None:
            missing = _carry(db, save, briefs, missing, run_id, params.carry_from, log)
        if prepared.endpoint is None:
            wanted = [c for c in missing if c != NOISE]
            labels = offline_labels(
                db, view, params, briefs, wanted, lambda: load_embedder(view.embedding_model)
            )
            _offline(save, briefs, missing, on_progress, labels)
        else:
            _with_llm(db, save, briefs, missing, prepared, log, on_progress)
        labelled = [c for c in summarized_sizes(db, summary_run_id) if c != NOISE]
        labels = summary_labels(db, summary_run_id) if params.label_quality_queries > 0 else {}
        quality = _quality(view, labels, briefs, params, load_embedder)
        measures = _measures(view, labels, params, load_embedder)
    except BaseException:
        abort(
            db,
            summary_run_id,
            params,
            clusters_total=total,
            seconds=time.perf_counter() - started_at,
        )
        raise
    entry = finish(
        db,
        summary_run_id,
        params,
        clusters_total=total,
        seconds=time.perf_counter() - started_at,
        accuracy=(quality.accuracy, quality.queries),
        measures=measures,
        nothing_labelled=not labelled and any(c != NOISE for c in missing),
    )
    if entry.status == "failed":
        endpoint = prepared.endpoint.public_base_url if prepared.endpoint else params.model
        reason = next(iter(entry.failures.values()), "no answer")
        raise SummaryInputError(
            f"No cluster of {run_id} was labelled: every request to {endpoint} failed "
            f"(first: {reason}); check that the server is running and the model name, then run "
            "the same command again."
        )
    return SummaryReport(
        entry,
        prepared.started.resumed,
        prepared.started.replaced,
        len(missing),
        quality,
        summary_titles(db, summary_run_id),
    )


class TitleRow(NamedTuple):
    size: int
    title: str | None
    examples: list[str]


def summary_titles(db: DatabaseManager, summary_run_id: str) -> dict[int, TitleRow]:
    """Cluster id → size, title and the first representative queries shown to the labeller."""
    with db.engine.connect() as connection:
        rows = connection.execute(
            select(
                ClusterSummary.cluster_id,
                ClusterSummary.num_queries,
                ClusterSummary.title,
                ClusterSummary.representative_queries,
            ).where(ClusterSummary.summary_run_id == summary_run_id)
        ).all()
    return {c: TitleRow(n, t, list(q or [])[:TITLE_EXAMPLES]) for c, n, t, q in rows}


def _quality(
    view: RunView,
    stored: dict[int, tuple[str, str]],
    briefs: dict[int, ClusterBrief],
    params: SummaryParams,
    load_embedder: Callable[[str], Embedder],
) -> LabelQuality:
    if params.label_quality_queries <= 0:
        return LabelQuality(None, 0, 0, 1.0)
    labels = {
        c: _label_text(title, description)
        for c, (title, description) in stored.items()
        if c != NOISE
    }
    shown = {c: b.shown_query_ids for c, b in briefs.items()}
    return label_quality(
        view,
        labels,
        shown,
        load_embedder(view.embedding_model),
        per_cluster=params.label_quality_queries,
        siblings=params.label_quality_siblings,
        seed=params.seed,
    )


def _measures(
    view: RunView,
    stored: dict[int, tuple[str, str]],
    params: SummaryParams,
    load_embedder: Callable[[str], Embedder],
) -> dict | None:
    """Member fit, sibling overlap and duplicate titles of the run's titles (None: skipped,
    as label quality is, when ``label_quality_queries`` is 0)."""
    if params.label_quality_queries <= 0:
        return None
    titles = {c: t for c, (t, _) in stored.items() if c != NOISE}
    return summary_measures(
        view,
        titles,
        load_embedder(view.embedding_model),
        per_cluster=params.label_quality_queries,
        siblings=params.label_quality_siblings,
        seed=params.seed,
    )

"""Clusters of a run with their titles, one cluster in detail, and aliases side by side."""

from dataclasses import asdict, dataclass, field

import numpy as np
from sqlalchemy import select

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.counts import cluster_sizes
from lmsys_pipeline.db.curation import ClusterMetadata
from lmsys_pipeline.db.models import ClusterSummary, QueryCluster
from lmsys_pipeline.db.summaries import SummaryRun
from lmsys_pipeline.reading.central import central_queries
from lmsys_pipeline.reading.choice import NotFound, SummaryChoice, choose_summary_run
from lmsys_pipeline.reading.facets import Facet, facet_counts, lifts

HISTOGRAM_BINS = 10


@dataclass
class Annotation:
    """What analysts said of a cluster (``lmsys edit tag-cluster`` / ``flag-cluster``)."""

    tags: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    quality: str | None = None  # high, medium or low
    coherence: int | None = None  # 1 (incoherent) to 5 (highly coherent)
    notes: str | None = None


@dataclass
class ClusterRow:
    cluster_id: int
    size: int
    share: float
    title: str | None = None
    description: str | None = None
    examples: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    quality: str | None = None
    coherence: int | None = None
    notes: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def annotations(db: DatabaseManager, run_id: str) -> dict[int, Annotation]:
    """Cluster id → what analysts gave it: tags, flags, quality, coherence and notes."""
    with db.engine.connect() as connection:
        rows = connection.execute(
            select(
                ClusterMetadata.cluster_id,
                ClusterMetadata.tags,
                ClusterMetadata.flags,
                ClusterMetadata.quality,
                ClusterMetadata.coherence_score,
                ClusterMetadata.notes,
            ).where(ClusterMetadata.run_id == run_id)
        ).all()
    return {
        int(c): Annotation(
            list(t or []), list(f or []), q, None if score is None else round(score), n
        )
        for c, t, f, q, score, n in rows
    }


def summaries(
    db: DatabaseManager, choice: SummaryChoice | None, run_id: str
) -> dict[int, tuple[str | None, str | None]]:
    if choice is None:
        return {}
    with db.engine.connect() as connection:
        rows = connection.execute(
            select(
                ClusterSummary.cluster_id, ClusterSummary.title, ClusterSummary.description
            ).where(
                ClusterSummary.run_id == run_id,
                ClusterSummary.summary_run_id == choice.summary_run_id,
            )
        ).all()
    return {int(c): (t, d) for c, t, d in rows}


def list_clusters(
    db: DatabaseManager,
    run_id: str,
    choice: SummaryChoice | None,
    *,
    limit: int | None = None,
    show_examples: int = 0,
) -> list[ClusterRow]:
    sizes = cluster_sizes(db, run_id)
    total = sum(sizes.values()) or 1
    shown = list(sizes)[:limit] if limit else list(sizes)
    labels = summaries(db, choice, run_id)
    examples = central_queries(db, run_id, shown, show_examples)
    marks = annotations(db, run_id)
    return [
        ClusterRow(
            c,
            sizes[c],
            round(sizes[c] / total, 4),
            *labels.get(c, (None, None)),
            examples.get(c, []),
            **asdict(marks.get(c, Annotation())),
        )
        for c in shown
    ]


@dataclass(frozen=True)
class RunCounts:
    """A run's cluster sizes and its run-wide language and model counts: the part of a
    cluster's detail read over the whole run, which a long-lived reader can keep."""

    sizes: dict[int, int]
    facets: dict[str, dict[str, int]]


def run_counts(db: DatabaseManager, run_id: str) -> RunCounts:
    return RunCounts(
        cluster_sizes(db, run_id),
        {facet: facet_counts(db, run_id, facet) for facet in ("language", "model")},
    )


@dataclass
class ClusterDetail:
    run_id: str
    cluster_id: int
    size: int
    share: float
    summary: SummaryChoice | None
    title: str | None
    description: str | None
    confidence: dict[str, float | None]
    confidence_histogram: list[tuple[float, float, int]]
    languages: dict[str, int]
    models: dict[str, int]
    language_lift: list[Facet]
    model_lift: list[Facet]
    queries: list[str]
    tags: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    quality: str | None = None
    coherence: int | None = None
    notes: str | None = None

    def as_dict(self) -> dict:
        data = asdict(self)
        data["summary"] = self.summary.as_dict() if self.summary else None
        return data


def _confidence(db: DatabaseManager, run_id: str, cluster_id: int):
    with db.engine.connect() as connection:
        values = np.array(
            connection.execute(
                select(QueryCluster.confidence_score).where(
                    QueryCluster.run_id == run_id,
                    QueryCluster.cluster_id == cluster_id,
                    QueryCluster.confidence_score.is_not(None),
                )
            )
            .scalars()
            .all(),
            dtype=float,
        )
    if not len(values):
        return {"min": None, "p10": None, "median": None, "p90": None, "max": None}, []
    stats = dict(
        zip(
            ("min", "p10", "median", "p90", "max"),
            np.round(np.quantile(values, [0, 0.1, 0.5, 0.9, 1.0]), 4).tolist(),
            strict=True,
        )
    )
    counts, edges = np.histogram(values, bins=HISTOGRAM_BINS)
    return stats, [
        (round(float(lo), 3), round(float(hi), 3), int(n))
        for lo, hi, n in zip(edges[:-1], edges[1:], counts, strict=True)
    ]


def cluster_detail(
    db: DatabaseManager,
    run_id: str,
    cluster_id: int,
    *,
    alias: str | None = None,
    show_queries: int = 10,
    counts: RunCounts | None = None,
) -> ClusterDetail:
    """One cluster in detail; ``counts`` (``run_counts``) when the caller holds them."""
    choice = choose_summary_run(db, run_id, alias=alias)
    counts = counts or run_counts(db, run_id)
    sizes = counts.sizes
    if cluster_id not in sizes:
        ids = sorted(sizes)
        raise NotFound(
            f"Cluster {cluster_id} is not in run {run_id}: its clusters are {ids[0]} to {ids[-1]}."
            if ids
            else f"Cluster {cluster_id} is not in run {run_id}: it has no assignments."
        )
    title, description = summaries(db, choice, run_id).get(cluster_id, (None, None))
    stats, histogram = _confidence(db, run_id, cluster_id)
    facets = {}
    for facet in ("language", "model"):
        inside = facet_counts(db, run_id, facet, cluster_id)
        facets[facet] = (
            dict(sorted(inside.items(), key=lambda i: (-i[1], i[0]))),
            lifts(inside, counts.facets[facet]),
        )
    return ClusterDetail(
        run_id,
        cluster_id,
        sizes[cluster_id],
        round(sizes[cluster_id] / sum(sizes.values()), 4),
        choice,
        title,
        description,
        stats,
        histogram,
        facets["language"][0],
        facets["model"][0],
        facets["language"][1],
        facets["model"][1],
        central_queries(db, run_id, [cluster_id], show_queries).get(cluster_id, []),
        **asdict(annotations(db, run_id).get(cluster_id, Annotation())),
    )


@dataclass
class Comparison:
    run_id: str
    choices: list[SummaryChoice]
    label_accuracy: dict[str, float | None]
    rows: list[dict]

    def as_dict(self) -> dict:
        return {
            "run_id": self.run_id,
            "summary_runs": [c.as_dict() for c in self.choices],
            "label_accuracy": self.label_accuracy,
            "clusters": self.rows,
        }


def compare_aliases(db: DatabaseManager, run_id: str, aliases: list[str]) -> Comparison:
    choices = [choose_summary_run(db, run_id, alias=alias) for alias in aliases]
    sizes = cluster_sizes(db, run_id)
    labels = {c.alias: summaries(db, c, run_id) for c in choices}
    with db.get_session() as session:
        accuracy = {
            c.alias: getattr(session.get(SummaryRun, c.summary_run_id), "label_accuracy", None)
            for c in choices
        }
    rows = [
        {
            "cluster_id": cluster,
            "size": size,
            **{alias: labels[alias].get(cluster, (None, None))[0] for alias in aliases},
        }
        for cluster, size in sizes.items()
    ]
    return Comparison(run_id, choices, accuracy, rows)

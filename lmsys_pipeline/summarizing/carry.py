"""Titles carried forward: a cluster that *continues* a labelled cluster of the previous run
keeps that cluster's title and description instead of being sent to a model.

The lineage is the later run's stored one (``cluster_lineage``, newest pair), else computed
now against the previous run of the same algorithm and model and stored. A cluster is carried
when its relation is ``continues`` with a Jaccard index of at least ``CARRY_OVERLAP`` and the
earlier cluster has a row in the alias's latest summary run on the earlier run. New, split and
merged clusters, and continuing ones below the overlap, are labelled afresh.

``CARRY_OVERLAP`` = 0.5: more than half of the two clusters' union is the same queries, so the
old label was written for most of the new cluster's members (on the bundled sample's
20%-more-data runs, RESULTS.md "Lineage thresholds", the continuing clusters' median index is
~0.8 and a cluster that only kept its core sits below 0.5).
"""

from dataclasses import asdict, dataclass

from sqlalchemy import func, select

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.lineage import ClusterLineage
from lmsys_pipeline.lineage.match import CONTINUES
from lmsys_pipeline.lineage.runs import compute_lineage, previous_run, write_lineage
from lmsys_pipeline.reading.choice import SummaryChoice, choose_summary_run
from lmsys_pipeline.reading.clusters import summaries
from lmsys_pipeline.summarizing.params import SummaryInputError

CARRY_OVERLAP = 0.5


@dataclass(frozen=True)
class CarriedLabel:
    title: str
    description: str
    from_run_id: str
    from_cluster_id: int
    summary_run_id: str
    overlap: float

    def source(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k not in ("title", "description")}


def carry_source(db: DatabaseManager, run_id: str, alias: str) -> tuple[str, SummaryChoice]:
    """The earlier run titles are carried from (that of ``run_id``'s newest stored lineage,
    else the previous run of its algorithm and model) and ``alias``'s summary run on it; one
    sentence when either is missing. Called before a summary run starts."""
    with db.engine.connect() as connection:
        from_run_id = connection.execute(
            select(ClusterLineage.from_run_id)
            .where(ClusterLineage.to_run_id == run_id)
            .group_by(ClusterLineage.from_run_id)
            .order_by(func.max(ClusterLineage.computed_at).desc())
            .limit(1)
        ).scalar()
    from_run_id = from_run_id or previous_run(db, run_id)
    if from_run_id is None:
        raise SummaryInputError(
            f"There is no earlier run to carry titles to {run_id} from: leave --carry-from out."
        )
    return from_run_id, choose_summary_run(db, from_run_id, alias=alias)


def _continuing(db: DatabaseManager, from_run_id: str, run_id: str) -> list[tuple]:
    """(earlier cluster, later cluster, overlap) of the pair's ``continues`` relations: stored,
    else computed now and stored."""
    with db.engine.connect() as connection:
        stored = connection.execute(
            select(
                ClusterLineage.from_cluster_id,
                ClusterLineage.to_cluster_id,
                ClusterLineage.overlap,
                ClusterLineage.kind,
            ).where(ClusterLineage.to_run_id == run_id, ClusterLineage.from_run_id == from_run_id)
        ).all()
    if not stored:
        lineage = compute_lineage(db, from_run_id, run_id)
        write_lineage(db, lineage)
        stored = [
            (r.from_cluster_id, r.to_cluster_id, r.overlap, r.kind) for r in lineage.relations
        ]
    return [(a, b, overlap) for a, b, overlap, kind in stored if kind == CONTINUES]


def carried_labels(db: DatabaseManager, run_id: str, alias: str) -> dict[int, CarriedLabel]:
    """Cluster of ``run_id`` → the label it carries from ``alias`` on the earlier run."""
    from_run_id, choice = carry_source(db, run_id, alias)
    labels = summaries(db, choice, from_run_id)
    return {
        to_cluster: CarriedLabel(
            *labels[from_cluster], from_run_id, from_cluster, choice.summary_run_id, overlap
        )
        for from_cluster, to_cluster, overlap in _continuing(db, from_run_id, run_id)
        if overlap >= CARRY_OVERLAP and from_cluster in labels and labels[from_cluster][0]
    }


def aliases_to_carry(db: DatabaseManager, run_id: str) -> dict[str, str]:
    """Alias → model of every alias whose latest summary run on ``run_id`` finished (fully or
    partly): what a scheduled re-clustering carries forward."""
    from lmsys_pipeline.db.summaries import SummaryRun

    with db.get_session() as session:
        entries = session.execute(
            select(SummaryRun)
            .where(SummaryRun.run_id == run_id, SummaryRun.status != "replaced")
            .order_by(SummaryRun.created_at.desc())
        ).scalars()
        latest: dict[str, SummaryRun] = {}
        for entry in entries:
            latest.setdefault(entry.alias, entry)
    return {
        alias: entry.model
        for alias, entry in sorted(latest.items())
        if entry.status in ("completed", "partial")
    }

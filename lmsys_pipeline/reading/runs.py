"""Clustering runs, newest first, with their sizes, the aliases summarising them and the
label measures of each alias's titles and parents (issue 25)."""

from dataclasses import asdict, dataclass, field
from datetime import datetime
from statistics import median

from sqlalchemy import case, func, select

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.counts import cluster_sizes
from lmsys_pipeline.db.hierarchy import HierarchyRun
from lmsys_pipeline.db.models import NOISE, ClusteringRun, ClusterSummary, QueryCluster
from lmsys_pipeline.db.summaries import LABEL_MEASURES, SummaryRun
from lmsys_pipeline.reading.central import central_queries
from lmsys_pipeline.reading.choice import require_run


def run_status(parameters: dict) -> str:
    """``registered`` (not materialized yet), ``materialized``, or ``checks_failed``."""
    if "status" in parameters:
        return str(parameters["status"])
    return "materialized" if "n_queries" in parameters else "registered"


@dataclass
class RunRow:
    run_id: str
    algorithm: str
    num_clusters: int | None
    num_queries: int
    noise_share: float
    created_at: datetime
    description: str | None
    aliases: list[str] = field(default_factory=list)
    status: str = "materialized"
    # alias → {"titles": measures of the summary run in use, "parents": of its latest
    # hierarchy run}, each only where stored
    label_measures: dict[str, dict] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {**asdict(self), "created_at": self.created_at.isoformat()}


def list_runs(
    db: DatabaseManager, *, latest: bool = False, run_ids: list[str] | None = None
) -> list[RunRow]:
    with db.get_session() as session:
        statement = select(ClusteringRun).order_by(
            ClusteringRun.created_at.desc(), ClusteringRun.run_id.desc()
        )
        if run_ids is not None:
            statement = statement.where(ClusteringRun.run_id.in_(run_ids))
        runs = session.execute(statement.limit(1) if latest else statement).scalars().all()
    if not runs:
        return []
    ids = [run.run_id for run in runs]
    with db.engine.connect() as connection:
        counts = {
            r: (int(n), int(noise or 0))
            for r, n, noise in connection.execute(
                select(
                    QueryCluster.run_id,
                    func.count(),
                    func.sum(case((QueryCluster.cluster_id == NOISE, 1), else_=0)),
                )
                .where(QueryCluster.run_id.in_(ids))
                .group_by(QueryCluster.run_id)
            )
        }
        aliases: dict[str, set[str]] = {}
        for run_id, alias in connection.execute(
            select(ClusterSummary.run_id, ClusterSummary.alias)
            .distinct()
            .where(ClusterSummary.run_id.in_(ids))
        ):
            aliases.setdefault(run_id, set()).add(alias or "(no alias)")
        measures = _label_measures(connection, ids)
    rows = []
    for run in runs:
        queries, noise = counts.get(run.run_id, (0, 0))
        rows.append(
            RunRow(
                run.run_id,
                run.algorithm,
                run.num_clusters,
                queries,
                round(noise / queries, 4) if queries else 0.0,
                run.created_at,
                run.description,
                sorted(aliases.get(run.run_id, ())),
                run_status(run.parameters or {}),
                measures.get(run.run_id, {}),
            )
        )
    return rows


def _label_measures(connection, ids: list[str]) -> dict[str, dict[str, dict]]:
    """Run → alias → the stored measures of the summary run whose titles are in use and of
    the alias's latest hierarchy run with measures."""
    in_use = select(ClusterSummary.summary_run_id).distinct().where(ClusterSummary.run_id.in_(ids))
    found: dict[str, dict[str, dict]] = {}
    for kind, table, extra in (
        ("titles", SummaryRun, SummaryRun.summary_run_id.in_(in_use)),
        ("parents", HierarchyRun, HierarchyRun.run_id.in_(ids)),
    ):
        rows = connection.execute(
            select(table.run_id, table.alias, table.parameters)
            .where(table.run_id.in_(ids), extra)
            .order_by(table.created_at)
        )
        for run_id, alias, parameters in rows:
            stored = (parameters or {}).get(LABEL_MEASURES)
            if stored:  # later rows (newer runs) replace earlier ones
                found.setdefault(run_id, {}).setdefault(alias, {})[kind] = stored
    return found


@dataclass
class RunOverview:
    """One run as its stored rows tell it: what ``lmsys cluster`` prints when it is done."""

    run: RunRow
    parameters: dict
    size_min: int
    size_median: float
    size_max: int
    largest: list[tuple[int, int, list[str]]]  # (cluster id, queries, most central queries)

    def as_dict(self) -> dict:
        return {
            **self.run.as_dict(),
            "parameters": self.parameters,
            "size_min": self.size_min,
            "size_median": self.size_median,
            "size_max": self.size_max,
            "largest_clusters": [
                {"cluster_id": c, "queries": n, "central_queries": q} for c, n, q in self.largest
            ],
        }


def run_overview(
    db: DatabaseManager, run_id: str, *, largest: int = 10, examples: int = 3
) -> RunOverview:
    parameters = require_run(db, run_id)
    [row] = list_runs(db, run_ids=[run_id])
    sizes = {c: n for c, n in cluster_sizes(db, run_id).items() if c != NOISE}
    top = list(sizes)[:largest]
    texts = central_queries(db, run_id, top, examples)
    values = list(sizes.values())
    return RunOverview(
        row,
        parameters,
        min(values, default=0),
        float(median(values)) if values else 0.0,
        max(values, default=0),
        [(c, sizes[c], texts.get(c, [])) for c in top],
    )

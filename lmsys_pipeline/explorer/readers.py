"""What the explorer reads that no ``lmsys`` command reads yet: a cluster's members a page at
a time (filtered by language, model and text), its lineage rows to and from other runs, and
its moderation counts. Plain functions over the tables, like ``reading/``."""

from collections import Counter
from dataclasses import asdict, dataclass, field

from sqlalchemy import func, or_, select

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.lineage import ClusterLineage
from lmsys_pipeline.db.models import Query, QueryCluster


@dataclass
class Member:
    query_id: int
    query_text: str
    language: str | None
    model: str
    confidence: float | None


@dataclass
class MembersPage:
    run_id: str
    cluster_id: int
    page: int
    per_page: int
    total: int
    members: list[Member] = field(default_factory=list)
    filters: dict = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    def as_dict(self) -> dict:
        return {**asdict(self), "pages": self.pages}


def cluster_members(
    db: DatabaseManager,
    run_id: str,
    cluster_id: int,
    *,
    page: int = 1,
    per_page: int = 50,
    language: str | None = None,
    model: str | None = None,
    text: str | None = None,
) -> MembersPage:
    """One page of the cluster's queries, most central first (highest confidence, then id);
    ``language`` / ``model`` match exactly (``unknown``: none given), ``text`` is a
    case-insensitive substring."""
    where = [QueryCluster.run_id == run_id, QueryCluster.cluster_id == cluster_id]
    if language:
        where.append(
            Query.language.is_(None) if language == "unknown" else Query.language == language
        )
    if model:
        where.append(Query.model == model)
    if text:
        where.append(Query.query_text.icontains(text, autoescape=True))
    joined = select(QueryCluster.query_id).join(Query, Query.id == QueryCluster.query_id)
    with db.engine.connect() as connection:
        total = connection.execute(
            select(func.count()).select_from(joined.where(*where).subquery())
        ).scalar_one()
        rows = connection.execute(
            select(
                Query.id,
                Query.query_text,
                Query.language,
                Query.model,
                QueryCluster.confidence_score,
            )
            .join(Query, Query.id == QueryCluster.query_id)
            .where(*where)
            .order_by(QueryCluster.confidence_score.desc().nullslast(), Query.id)
            .limit(per_page)
            .offset((page - 1) * per_page)
        ).all()
    filters = {"language": language, "model": model, "text": text}
    return MembersPage(
        run_id, cluster_id, page, per_page, int(total), [Member(*row) for row in rows], filters
    )


@dataclass
class LineageLink:
    """A relation of this cluster with a cluster of another run (``direction``: ``from`` an
    earlier run, ``to`` a later one)."""

    direction: str
    other_run_id: str
    other_cluster_id: int | None
    kind: str
    overlap: float
    cosine: float | None
    shared_queries: int


def cluster_lineage(db: DatabaseManager, run_id: str, cluster_id: int) -> list[LineageLink]:
    """The stored lineage rows that name this cluster, earlier runs first, by overlap."""
    with db.engine.connect() as connection:
        rows = connection.execute(
            select(ClusterLineage).where(
                or_(
                    (ClusterLineage.to_run_id == run_id)
                    & (ClusterLineage.to_cluster_id == cluster_id),
                    (ClusterLineage.from_run_id == run_id)
                    & (ClusterLineage.from_cluster_id == cluster_id),
                )
            )
        ).all()
    links = []
    for row in rows:
        earlier = row.to_run_id == run_id and row.to_cluster_id == cluster_id
        links.append(
            LineageLink(
                "from" if earlier else "to",
                row.from_run_id if earlier else row.to_run_id,
                row.from_cluster_id if earlier else row.to_cluster_id,
                row.kind,
                round(float(row.overlap), 4),
                None if row.cosine is None else round(float(row.cosine), 4),
                int(row.shared_queries),
            )
        )
    return sorted(links, key=lambda link: (link.direction != "from", -link.overlap))


def moderation_counts(db: DatabaseManager, run_id: str, cluster_id: int) -> dict:
    """How many of the cluster's queries the source's moderation flagged, and by category."""
    with db.engine.connect() as connection:
        rows = connection.execute(
            select(Query.extra_metadata)
            .join(QueryCluster, QueryCluster.query_id == Query.id)
            .where(QueryCluster.run_id == run_id, QueryCluster.cluster_id == cluster_id)
        ).scalars()
        flagged, known, categories = 0, 0, Counter()
        for extra in rows:
            extra = extra or {}
            if "moderation_flagged" not in extra:
                continue
            known += 1
            if extra["moderation_flagged"]:
                flagged += 1
                categories.update(str(c) for c in extra.get("moderation_categories") or [])
    return {
        "with_moderation": known,
        "flagged": flagged,
        "categories": dict(categories.most_common()),
    }

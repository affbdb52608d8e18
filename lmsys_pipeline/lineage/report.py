"""``lmsys diff``: what changed between two clustering runs, with titles and sizes.

Sections: new and gone clusters, splits (an earlier cluster and its pieces), merges (a later
cluster and its parts), and the continuing clusters whose share of their run grew or shrank by
at least ``SHARE_CHANGE`` (x1.25 either way: a later run over 20% more data grows every cluster
by ~20% in count, so shares, not counts, say which topics gained ground).
"""

from dataclasses import asdict, dataclass, field

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.lineage.match import CONTINUES, GONE, MERGED, NEW, SPLIT
from lmsys_pipeline.lineage.runs import Lineage, compute_lineage
from lmsys_pipeline.reading.choice import choose_summary_run, summary_runs_of
from lmsys_pipeline.reading.clusters import summaries

SHARE_CHANGE = 1.25


@dataclass
class Side:
    cluster_id: int
    size: int
    title: str | None


@dataclass
class Change:
    """One entry of a section: the earlier clusters, the later ones, and the relation."""

    before: list[Side]
    after: list[Side]
    overlap: float
    cosine: float | None
    share_before: float | None = None
    share_after: float | None = None


@dataclass
class DiffReport:
    run_a: str
    run_b: str
    titles_a: str | None
    titles_b: str | None
    queries_a: int
    queries_b: int
    counts: dict[str, int]
    sections: dict[str, list[Change]] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def _titles(db: DatabaseManager, run_id: str, alias: str | None):
    """The run's titles from ``alias``'s latest summary run (none when the run lacks it), or
    from its latest summary run; and which summary run that was."""
    if alias is not None and alias not in {c.alias for c in summary_runs_of(db, run_id)}:
        return {}, None
    choice = choose_summary_run(db, run_id, alias=alias)
    if choice is None:
        return {}, None
    return {c: t for c, (t, _) in summaries(db, choice, run_id).items()}, choice.summary_run_id


def diff_report(
    db: DatabaseManager, run_a: str, run_b: str, *, alias: str | None = None
) -> DiffReport:
    lineage = compute_lineage(db, run_a, run_b)
    titles_a, source_a = _titles(db, run_a, alias)
    titles_b, source_b = _titles(db, run_b, alias)
    return build_report(lineage, titles_a, titles_b, source_a, source_b)


def build_report(
    lineage: Lineage,
    titles_a: dict[int, str | None],
    titles_b: dict[int, str | None],
    source_a: str | None = None,
    source_b: str | None = None,
) -> DiffReport:
    sizes_a, sizes_b = {}, {}
    for r in lineage.relations:
        if r.from_cluster_id is not None:
            sizes_a[r.from_cluster_id] = r.from_size
        if r.to_cluster_id is not None:
            sizes_b[r.to_cluster_id] = r.to_size
    total_a, total_b = sum(sizes_a.values()) or 1, sum(sizes_b.values()) or 1

    def before(cluster: int) -> Side:
        return Side(cluster, sizes_a[cluster], titles_a.get(cluster))

    def after(cluster: int) -> Side:
        return Side(cluster, sizes_b[cluster], titles_b.get(cluster))

    sections: dict[str, list[Change]] = {
        k: [] for k in ("new", "gone", "split", "merged", "grown", "shrunk")
    }
    grouped: dict[tuple[str, int], list] = {}
    for r in lineage.relations:
        if r.kind == NEW:
            sections["new"].append(Change([], [after(r.to_cluster_id)], r.overlap, r.cosine))
        elif r.kind == GONE:
            sections["gone"].append(Change([before(r.from_cluster_id)], [], r.overlap, r.cosine))
        elif r.kind in (SPLIT, MERGED):
            # a link can be part of a split and of a merge: each section shows every piece
            grouped.setdefault((SPLIT, r.from_cluster_id), []).append(r)
            grouped.setdefault((MERGED, r.to_cluster_id), []).append(r)
        elif r.kind == CONTINUES:
            share_a, share_b = r.from_size / total_a, r.to_size / total_b
            ratio = share_b / share_a
            if ratio >= SHARE_CHANGE or ratio <= 1 / SHARE_CHANGE:
                change = Change(
                    [before(r.from_cluster_id)],
                    [after(r.to_cluster_id)],
                    r.overlap,
                    r.cosine,
                    share_a,
                    share_b,
                )
                sections["grown" if ratio > 1 else "shrunk"].append(change)
    for (kind, cluster), relations in sorted(grouped.items()):
        if len(relations) < 2:
            continue
        best = max(relations, key=lambda r: r.overlap)
        if kind == SPLIT:
            pieces = [after(r.to_cluster_id) for r in relations]
            change = Change([before(cluster)], pieces, best.overlap, best.cosine)
        else:
            parts = [before(r.from_cluster_id) for r in relations]
            change = Change(parts, [after(cluster)], best.overlap, best.cosine)
        sections["split" if kind == SPLIT else "merged"].append(change)
    for name in ("new", "gone", "split", "merged"):
        sections[name].sort(key=lambda c: -sum(s.size for s in c.after or c.before))
    for name in ("grown", "shrunk"):
        sections[name].sort(key=lambda c: -abs(c.share_after / c.share_before - 1))
    return DiffReport(
        lineage.from_run_id,
        lineage.to_run_id,
        source_a,
        source_b,
        sum(sizes_a.values()),
        sum(sizes_b.values()),
        lineage.counts(),
        sections,
    )

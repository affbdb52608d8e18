"""What a summary run (alias) would show the world: its tree after folding, its public fields
after quotes are withheld, and the personal data still found in them.

The tree is the alias's hierarchy when one was built on the same summary run, else the run's
clusters side by side. Counts are distinct conversations per cluster (one query is one
conversation's first message, so they add up in parents). The source has no user column
(``Query`` keeps none), so only the conversation threshold applies.
"""

from dataclasses import dataclass, field

from sqlalchemy import func, select

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.lineage import ClusterLineage
from lmsys_pipeline.db.models import ClusterSummary, Query, QueryCluster
from lmsys_pipeline.hierarchy.tree import Node, Tree
from lmsys_pipeline.outputs.hierarchy import choose_hierarchy, load_tree
from lmsys_pipeline.privacy.detect import kinds_in
from lmsys_pipeline.privacy.quotes import NearQuotes, QuoteFinder
from lmsys_pipeline.privacy.threshold import MIN_CONVERSATIONS, Folding, fold_small
from lmsys_pipeline.privacy.trends import PublicTrends, public_trends
from lmsys_pipeline.reading.choice import choose_summary_run

FIELDS = ("title", "description")
MEMBER_CHARS = 4_000
MEMBER_CHUNK = 20_000


@dataclass(frozen=True)
class FieldFinding:
    """Personal data in one field of one node: which kinds (never the text itself)."""

    node_id: int
    level: int
    field: str
    kinds: tuple[str, ...]


@dataclass
class PublicView:
    run_id: str
    alias: str
    summary_run_id: str
    model: str | None
    hierarchy_run_id: str | None
    tree: Tree
    folding: Folding
    fields: dict[int, dict[str, str]]  # public node → field → text as published
    quotes_withheld: list[tuple[int, str]] = field(default_factory=list)
    findings: list[FieldFinding] = field(default_factory=list)  # in public fields
    stored_findings: list[FieldFinding] = field(default_factory=list)  # any node, as stored
    lineage: dict[str, object] = field(default_factory=dict)  # relation kind → count
    trends: PublicTrends | None = None

    @property
    def total_conversations(self) -> int:
        return sum(self.folding.conversations[n.node_id] for n in self.tree.level(0))


def conversations_per_cluster(db: DatabaseManager, run_id: str) -> dict[int, int]:
    """Cluster id → distinct conversations among its queries (noise included)."""
    distinct = func.count(func.distinct(Query.conversation_id))
    with db.engine.connect() as connection:
        rows = connection.execute(
            select(QueryCluster.cluster_id, distinct)
            .join(Query, Query.id == QueryCluster.query_id)
            .where(QueryCluster.run_id == run_id)
            .group_by(QueryCluster.cluster_id)
        ).all()
    return {int(c): int(n) for c, n in rows}


def lineage_counts(db: DatabaseManager, run_id: str) -> dict[str, object]:
    """How the run's clusters relate to the earlier run its lineage was computed against, in
    numbers only: ``{"from_run": ..., "continues": n, "split": n, ...}``; empty without one."""
    with db.engine.connect() as connection:
        rows = connection.execute(
            select(ClusterLineage.from_run_id, ClusterLineage.kind, func.count())
            .where(ClusterLineage.to_run_id == run_id)
            .group_by(ClusterLineage.from_run_id, ClusterLineage.kind)
            .order_by(ClusterLineage.from_run_id)
        ).all()
    if not rows:
        return {}
    latest = rows[-1][0]
    return {"from_run": latest, **{kind: n for run, kind, n in rows if run == latest}}


def _summary_rows(db: DatabaseManager, summary_run_id: str) -> list:
    with db.engine.connect() as connection:
        return connection.execute(
            select(
                ClusterSummary.cluster_id,
                ClusterSummary.title,
                ClusterSummary.description,
                ClusterSummary.representative_queries,
            ).where(ClusterSummary.summary_run_id == summary_run_id)
        ).all()


def _flat_tree(rows: list, conversations: dict[int, int]) -> Tree:
    labels = {c: (t or "", d or "") for c, t, d, _ in rows}
    return Tree(
        {
            cluster: Node(cluster, 0, count, *labels.get(cluster, ("", "")))
            for cluster, count in conversations.items()
        }
    )


def public_view(
    db: DatabaseManager, run_id: str, alias: str, min_conversations: int = MIN_CONVERSATIONS
) -> PublicView:
    """The alias's latest summary run as it would be published (see the module's note)."""
    choice = choose_summary_run(db, run_id, alias=alias)
    assert choice is not None  # an alias was asked for: NotFound otherwise
    rows = _summary_rows(db, choice.summary_run_id)
    conversations = conversations_per_cluster(db, run_id)
    hierarchy = choose_hierarchy(db, run_id, summary_run_id=choice.summary_run_id, required=False)
    tree = load_tree(db, hierarchy) if hierarchy else _flat_tree(rows, conversations)
    folding = fold_small(tree, conversations, min_conversations)
    view = PublicView(
        run_id,
        alias,
        choice.summary_run_id,
        choice.model,
        hierarchy.hierarchy_run_id if hierarchy else None,
        tree,
        folding,
        {},
        lineage=lineage_counts(db, run_id),
    )
    public = set(folding.public)
    view.trends = public_trends(
        db,
        run_id,
        folding,
        {n.node_id: n.parent for n in tree.nodes.values()},
        [n.node_id for n in tree.roots() if n.node_id in public],
    )
    quotes = QuoteFinder(q for *_, shown in rows for q in shown or [] if isinstance(q, str))
    withheld: set[tuple[int, str]] = set()
    for node in tree.nodes.values():
        for name in FIELDS:
            stored = getattr(node, name)
            kinds = tuple(kinds_in(stored))
            if kinds:
                view.stored_findings.append(FieldFinding(node.node_id, node.level, name, kinds))
            if node.node_id in public:
                shown, quoted = quotes.withhold(stored)
                view.fields.setdefault(node.node_id, {})[name] = shown
                if quoted:
                    withheld.add((node.node_id, name))
    for (node_id, name), shown in near_quotes_withheld(db, run_id, tree, view.fields).items():
        view.fields[node_id][name] = shown
        withheld.add((node_id, name))
    view.quotes_withheld = sorted(withheld)
    for node_id, shown_fields in view.fields.items():
        for name, shown in shown_fields.items():
            kinds = tuple(kinds_in(shown))
            if kinds:
                level = tree.nodes[node_id].level
                view.findings.append(FieldFinding(node_id, level, name, kinds))
    return view


def near_quotes_withheld(
    db: DatabaseManager, run_id: str, tree: Tree, fields: dict[int, dict[str, str]]
) -> dict[tuple[int, str], str]:
    """The public fields (node → field → text) that share a run of words with a member query
    (``quotes.NearQuotes``), with those runs withheld. Each query's first ``MEMBER_CHARS``
    characters are read: more than any summarizer shows of a query (the LLM prompt's
    ``max_query_chars``, 300 by default; the offline summarizers' 2,000)."""
    from lmsys_pipeline.labeling.phrases import stop_words

    near = NearQuotes(
        {(node, name): text for node, shown in fields.items() for name, text in shown.items()},
        stop_words(),
    )
    if not near:
        return {}
    chains: dict[int, tuple[int, ...]] = {}
    for node in tree.level(0):
        chain, current = [node.node_id], node
        while current.parent is not None:
            current = tree.nodes[current.parent]
            chain.append(current.node_id)
        chains[node.node_id] = tuple(chain)
    statement = (
        select(QueryCluster.cluster_id, func.substr(Query.query_text, 1, MEMBER_CHARS))
        .join(Query, Query.id == QueryCluster.query_id)
        .where(QueryCluster.run_id == run_id)
    )
    with db.engine.connect() as connection:
        result = connection.execution_options(yield_per=MEMBER_CHUNK).execute(statement)
        for cluster, text in result:
            if text:
                near.read(text, chains.get(cluster, (cluster,)))
    return near.withheld()

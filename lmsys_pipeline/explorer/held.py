"""What a page computes from a whole run (its cluster sizes, tree, facet counts, map), kept
between requests while the data it came from is unchanged.

Every read first takes a *stamp*: one statement of index-only reads (the largest id of the
tables that only grow or are replaced by inserts — assignments, edits, summaries, tree nodes,
lineage — plus the small ledgers: runs with their parameters, summary and hierarchy runs with
their status, and the vector versions). Each write the explorer shows changes one of them: a
clustering writes new assignment rows, every curation edit writes an audit row, a summary or
hierarchy run inserts rows or finishes, ``lmsys delete`` bumps the vector version, checks and
replayed edits mark the run's parameters. A value is served only under the stamp it was computed
under; the stamp is read before the value, so a write landing during a computation leaves that
value under an older stamp, never served again.
"""

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from sqlalchemy import func, select

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.curation import ClusterEdit
from lmsys_pipeline.db.hierarchy import ClusterHierarchy, HierarchyRun
from lmsys_pipeline.db.lineage import ClusterLineage
from lmsys_pipeline.db.models import ClusteringRun, ClusterSummary, QueryCluster
from lmsys_pipeline.db.summaries import SummaryRun
from lmsys_pipeline.db.vectors import VectorVersion

HELD = 64
GATES = 16
GROWING = (
    QueryCluster.id,
    ClusterEdit.id,
    ClusterSummary.id,
    ClusterHierarchy.id,
    ClusterLineage.id,
)


LEDGERS = (
    select(ClusteringRun.run_id, ClusteringRun.num_clusters, ClusteringRun.parameters),
    select(SummaryRun.summary_run_id, SummaryRun.status, SummaryRun.finished_at),
    select(HierarchyRun.hierarchy_run_id, HierarchyRun.status, HierarchyRun.finished_at),
    select(VectorVersion.model, VectorVersion.lineage, VectorVersion.version),
)


def _stamp(db: DatabaseManager, growing: tuple, ledgers: tuple) -> tuple:
    tops = select(*(select(func.max(column)).scalar_subquery() for column in growing))
    digest = hashlib.blake2b(digest_size=16)
    with db.engine.connect() as connection:
        found = tuple(connection.execute(tops).one())
        for statement in ledgers:
            for row in sorted(connection.execute(statement).all(), key=lambda r: str(r[0])):
                digest.update(repr(tuple(row)).encode())
    return (*found, digest.hexdigest())


def data_stamp(db: DatabaseManager) -> tuple:
    """A value that changes whenever anything a page shows changes (module docstring)."""
    return _stamp(db, GROWING, LEDGERS)


def vectors_stamp(db: DatabaseManager) -> tuple:
    """Changes when a run's rows are written anew or vectors change, not on curation: what a
    map's projection (its sample's coordinates) depends on."""
    return _stamp(db, (QueryCluster.id,), (LEDGERS[0], LEDGERS[-1]))


class Held:
    """Values keyed by what they describe, each served only under its stamp; a value is
    computed once per stamp even when many requests ask for it at the same time."""

    def __init__(self, size: int = HELD) -> None:
        self._values: OrderedDict[Hashable, tuple[tuple, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._gates = [threading.Lock() for _ in range(GATES)]
        self.size = size
        self.computed = 0

    def get(
        self,
        db: DatabaseManager,
        key: Hashable,
        compute: Callable[[], Any],
        stamp_of: Callable[[DatabaseManager], tuple] = data_stamp,
    ) -> Any:
        stamp = stamp_of(db)
        found = self._fresh(key, stamp)
        if found is not None:
            return found[1]
        # One computation per key: the others wait for it and take its value.
        with self._gates[hash(key) % GATES]:
            found = self._fresh(key, stamp)
            if found is not None:
                return found[1]
            value = compute()
            with self._lock:
                self.computed += 1
                self._values[key] = (stamp, value)
                self._values.move_to_end(key)
                while len(self._values) > self.size:
                    self._values.popitem(last=False)
            return value

    def _fresh(self, key: Hashable, stamp: tuple) -> tuple | None:
        with self._lock:
            found = self._values.get(key)
            if found is None or found[0] != stamp:
                return None
            self._values.move_to_end(key)
            return found

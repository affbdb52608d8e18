"""Asking the model for one step of a hierarchy level: cached answers first, then requests.

Each answer is committed as it arrives (``record_answer``), so a killed run keeps every answer
it got; the resumed run builds the same prompts again (the algorithm is seeded and the
embeddings of the same texts are the same), finds their answers in the cache and asks only
for the rest.
"""

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import datetime

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.hierarchy.ledger import record_answer, record_progress
from lmsys_pipeline.hierarchy.params import HierarchyParams
from lmsys_pipeline.labeling.cache import from_cache
from lmsys_pipeline.labeling.lease import HIERARCHY, check_held
from lmsys_pipeline.labeling.llm import Job, Outcome, Tally, ask_all
from lmsys_pipeline.labeling.providers import Endpoint
from lmsys_pipeline.progress import OnProgress, no_progress


def step_name(key: tuple) -> str:
    """``("assign", 1, 17)`` → ``level 1 assign 17``: how failures are listed."""
    kind, level, *ident = key
    return f"level {level} {kind} {' '.join(str(i) for i in ident)}".strip()


@dataclass
class Asker:
    db: DatabaseManager
    run_id: str
    alias: str
    hierarchy_run_id: str
    endpoint: Endpoint
    params: HierarchyParams
    log: Callable[[str], None]
    on_progress: OnProgress = no_progress
    seconds_asking: float = 0.0  # inside the requests' steps, for the throughput benchmark
    steps: list[int] = field(default_factory=list)  # requests made per step, in order
    fresh_since: datetime | None = None  # a restarted run: older cached answers are not used

    def __call__(self, jobs: list[Job]) -> dict[Hashable, Outcome]:
        """Every job's outcome by key; failed ones carry their error."""
        check_held(self.db, HIERARCHY, self.run_id, self.alias)
        hits, pending = from_cache(self.db, jobs, self.fresh_since)
        found: dict[Hashable, Outcome] = {hit.job.key: hit for hit in hits}
        if len(found):
            record_progress(self.db, self.hierarchy_run_id, cached=len(found))

        def on_done(outcome: Outcome) -> None:
            record_answer(
                self.db,
                self.hierarchy_run_id,
                self.params.model,
                outcome,
                step_name(outcome.job.key),
                self.fresh_since,
            )
            found[outcome.job.key] = outcome
            if outcome.error:
                self.log(f"{step_name(outcome.job.key)}: {outcome.error}")

        if pending:
            started = time.perf_counter()
            kind, level, *_ = pending[0].key
            tally = Tally(
                "hierarchy",
                len(jobs),
                "requests",
                self.on_progress,
                f"level {level} {kind}",
                start=len(found),
                cached=len(found),
                price=self.params.cost,
            )
            ask_all(pending, self.endpoint, self.params, on_done, tally)
            self.seconds_asking += time.perf_counter() - started
            self.steps.append(len(pending))
        return found

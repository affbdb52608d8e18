"""The ledger of an alias run on its own (``labeling/ledger.py``), with a small kind over the
``hierarchy_runs`` table: when an entry resumes, what a new one replaces, and a named entry
continued exactly or refused in one sentence."""

from dataclasses import replace
from typing import ClassVar

import pytest
from sqlalchemy import update

from lmsys_pipeline.db.hierarchy import HierarchyRun
from lmsys_pipeline.db.models import ClusteringRun
from lmsys_pipeline.errors import UserError
from lmsys_pipeline.labeling.ledger import (
    FRESH,
    LedgerKind,
    close_entry,
    last_parameters,
    resume_entry,
    start_entry,
)
from lmsys_pipeline.labeling.settings import RunParams, new_run_id

RUN = "kmeans-4-20260101-000000"


class Params(RunParams):
    OFFLINE_MODEL: ClassVar[str] = "local/offline"
    OUTCOME_FIELDS: ClassVar[tuple[str, ...]] = ("model", "top")
    PROMPT_VERSION: ClassVar[str] = "test-v1"

    model: str = "local/offline"
    top: int = 3
    seed: int = 1  # not an outcome field: changing it resumes
    base_url: str | None = None
    price_in_per_mtok: float | None = None
    price_out_per_mtok: float | None = None


class Refused(UserError):
    pass


replaced_rows: list[tuple[str, str]] = []
KIND = LedgerKind(
    name="hierarchy",
    table=HierarchyRun,
    new_id=lambda model, existing: new_run_id("test", model, existing),
    error=Refused,
    resumes="the alias's tree",
    forgets_failures=True,
    on_new=lambda session, run_id, alias: replaced_rows.append((run_id, alias)),
)
S1 = {"summary_run_id": "summary-1"}


@pytest.fixture
def db(sqlite_db):
    with sqlite_db.get_session() as session:
        session.add(ClusteringRun(run_id=RUN, algorithm="kmeans", parameters={}))
        session.commit()
    replaced_rows.clear()
    return sqlite_db


def _entry(db, entry_id: str) -> HierarchyRun:
    with db.get_session() as session:
        return session.get(HierarchyRun, entry_id)


def test_an_entry_resumes_only_with_its_outcome_prompt_version_and_links(db):
    first = start_entry(db, KIND, RUN, "a", Params(), links=S1)
    assert (first.resumed, first.replaced, first.fresh_since) == (False, [], None)
    assert first.entry_id.startswith("test-offline-")
    assert replaced_rows == [(RUN, "a")]
    with db.engine.begin() as connection:
        connection.execute(update(HierarchyRun).values(failures={"step": "HTTP 500"}))
    again = start_entry(db, KIND, RUN, "a", Params(seed=7), links=S1)
    assert (again.entry_id, again.resumed) == (first.entry_id, True)
    assert _entry(db, first.entry_id).failures == {}  # forgets_failures: asked again
    assert last_parameters(db, KIND, RUN, "a")["seed"] == 7
    assert replaced_rows == [(RUN, "a")]  # only a new entry replaces the alias's rows
    other_link = start_entry(db, KIND, RUN, "a", Params(), links={"summary_run_id": "summary-2"})
    assert not other_link.resumed and other_link.replaced == [first.entry_id]
    assert _entry(db, first.entry_id).status == "replaced"
    assert replaced_rows == [(RUN, "a")] * 2
    other_outcome = start_entry(db, KIND, RUN, "a", Params(top=4), links=S1)
    assert other_outcome.replaced == [other_link.entry_id]
    start_entry(db, KIND, RUN, "b", Params(top=4), links=S1)  # another alias: its own entry
    assert start_entry(db, KIND, RUN, "a", Params(top=4), links=S1).resumed


def test_restart_starts_afresh_and_a_resumed_restart_keeps_its_horizon(db):
    first = start_entry(db, KIND, RUN, "a", Params(), links=S1)
    fresh = start_entry(db, KIND, RUN, "a", Params(), links=S1, restart=True)
    assert not fresh.resumed and fresh.replaced == [first.entry_id]
    assert fresh.fresh_since == _entry(db, fresh.entry_id).created_at
    resumed = start_entry(db, KIND, RUN, "a", Params(seed=2), links=S1)
    assert (resumed.entry_id, resumed.fresh_since) == (fresh.entry_id, fresh.fresh_since)
    assert _entry(db, fresh.entry_id).parameters[FRESH] is True


def test_a_named_entry_is_continued_exactly_or_refused_in_one_sentence(db):
    first = start_entry(db, KIND, RUN, "a", Params(), links=S1)
    named = resume_entry(db, KIND, first.entry_id, RUN, "a", Params(seed=3), links=S1)
    assert (named.entry_id, named.resumed) == (first.entry_id, True)
    with pytest.raises(Refused) as wrong_alias:
        resume_entry(db, KIND, first.entry_id, RUN, "b", Params(), links=S1)
    assert str(wrong_alias.value) == (
        f"{first.entry_id} is not a hierarchy run of alias b on {RUN}: leave "
        "hierarchy_run_id out to start or resume the alias's tree."
    )
    with pytest.raises(Refused, match="was replaced or made with other settings: leave "):
        resume_entry(db, KIND, first.entry_id, RUN, "a", Params(top=9), links=S1)
    start_entry(db, KIND, RUN, "a", Params(top=9), links=S1)
    with pytest.raises(Refused, match="to start a new hierarchy run"):
        resume_entry(db, KIND, first.entry_id, RUN, "a", Params(), links=S1)


def test_two_entries_started_in_the_same_second_get_distinct_ids(db):
    first = start_entry(db, KIND, RUN, "a", Params(), links=S1)
    calls = []

    def racing(model, existing):
        """The first pick is what a concurrent process had just committed."""
        calls.append(model)
        return first.entry_id if len(calls) == 1 else KIND.new_id(model, existing)

    second = start_entry(db, replace(KIND, new_id=racing), RUN, "b", Params(), links=S1)
    assert len(calls) == 2 and second.entry_id != first.entry_id
    assert second.entry_id.startswith(first.entry_id.rsplit("-", 2)[0])


@pytest.mark.parametrize(
    ("model", "prices", "cost"),
    [
        ("local/offline", (None, None), 0.0),
        ("openai/gpt-4o-mini", (None, None), 0.75),
        ("vllm/qwen", (None, None), None),
        ("vllm/qwen", (2.0, 4.0), 6.0),
    ],
)
def test_closing_an_entry_prices_all_its_tokens(db, model, prices, cost):
    params = Params(model=model, price_in_per_mtok=prices[0], price_out_per_mtok=prices[1])
    started = start_entry(db, KIND, RUN, "a", params, links=S1)
    with db.get_session() as session:
        entry = session.get(HierarchyRun, started.entry_id)
        entry.tokens_in = entry.tokens_out = 1_000_000
        closed = close_entry(session, entry, params, 1.5)
    assert closed.estimated_cost_usd == (None if cost is None else pytest.approx(cost))
    assert closed.seconds == 1.5 and closed.finished_at is not None

"""One cluster: its page, its JSON, and its members a page at a time."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from lmsys_pipeline.explorer import charts, curation, data, views
from lmsys_pipeline.explorer.app import Explorer, explorer_of

router = APIRouter()
Ex = Annotated[Explorer, Depends(explorer_of)]
Alias = Annotated[str | None, Query(max_length=200, description="Titles from this alias.")]
Page = Annotated[int, Query(ge=1, le=1_000_000, description="Page number, from 1.")]
PerPage = Annotated[int, Query(ge=1, le=500, description="Members per page.")]
Filter = Annotated[str | None, Query(max_length=200)]


def _members(explorer, run_id, cluster_id, page, per_page, language, model, text):
    return data.members(
        explorer.db, run_id, cluster_id, page=page, per_page=per_page,
        language=language or None, model=model or None, text=text or None,
    )  # fmt: skip


@router.get("/runs/{run_id}/clusters/{cluster_id}", include_in_schema=False)
def cluster_page(
    request: Request,
    explorer: Ex,
    run_id: str,
    cluster_id: int,
    alias: Alias = None,
    page: Page = 1,
    per_page: PerPage = 50,
    language: Filter = None,
    model: Filter = None,
    text: Filter = None,
    edit: Annotated[int | None, Query(ge=1)] = None,
):
    view = views.cluster_view(explorer, run_id, cluster_id, alias)
    members = _members(explorer, run_id, cluster_id, page, per_page, language, model, text)
    done = curation.audit_row(explorer.db, edit).as_dict() if edit else None
    aliases = [c.as_dict() for c in data.summary_runs(explorer.db, run_id)]
    return explorer.render(
        request,
        "cluster.html",
        view=view,
        members=members.as_dict(),
        alias=alias or (view["summary"] or {}).get("alias"),
        aliases=sorted({a["alias"] for a in aliases if a["alias"]}),
        done=done,
        arrival_heights=charts.bar_heights(view["arrivals"]["counts"]),
    )


@router.get("/api/runs/{run_id}/clusters/{cluster_id}", tags=["clusters"])
def cluster_json(explorer: Ex, run_id: str, cluster_id: int, alias: Alias = None) -> dict:
    """``lmsys inspect --json`` and more: title, description, size, confidence, languages,
    models and moderation with their lift, central queries, lineage to other runs, arrivals
    per week, edit history and the first page of members."""
    return views.cluster_view(explorer, run_id, cluster_id, alias)


@router.get("/api/runs/{run_id}/clusters/{cluster_id}/members", tags=["clusters"])
def members_json(
    explorer: Ex,
    run_id: str,
    cluster_id: int,
    page: Page = 1,
    per_page: PerPage = 50,
    language: Filter = None,
    model: Filter = None,
    text: Filter = None,
) -> dict:
    """The cluster's queries, most central first, a page at a time; ``language`` and
    ``model`` match exactly (``unknown``: no language), ``text`` is a substring."""
    return _members(explorer, run_id, cluster_id, page, per_page, language, model, text).as_dict()

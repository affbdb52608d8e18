"""Runs: the list, one run (tree, treemap, map, clusters), its trends, two runs compared,
and its rows as a download."""

import json
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from starlette.background import BackgroundTask
from starlette.responses import FileResponse, JSONResponse, Response

from lmsys_pipeline.explorer import charts, curation, data, maps, views
from lmsys_pipeline.explorer.app import Explorer, explorer_of
from lmsys_pipeline.explorer.held import vectors_stamp

router = APIRouter()
Ex = Annotated[Explorer, Depends(explorer_of)]
Alias = Annotated[str | None, Query(max_length=200, description="Titles from this alias.")]
By = Annotated[Literal["day", "week", "month"], Query(description="day, week or month.")]
MAP_SAMPLE = 3_000
MAX_MAP_POINTS = 50_000


@router.get("/", include_in_schema=False)
def runs_page(request: Request, explorer: Ex):
    return explorer.render(request, "runs.html", runs=views.runs_view(explorer))


@router.get("/api/runs", tags=["runs"])
def runs_json(explorer: Ex) -> list[dict]:
    """Clustering runs, newest first (``lmsys runs --json``), with links to their pages and
    to the Dagster run that materialized them."""
    return views.runs_view(explorer)


@router.get("/runs/{run_id}", include_in_schema=False)
def run_page(
    request: Request,
    explorer: Ex,
    run_id: str,
    alias: Alias = None,
    edit: Annotated[int | None, Query(ge=1)] = None,
):
    view = views.run_view(explorer, run_id, alias)
    tree = view["tree"] or []
    return explorer.render(
        request,
        "run.html",
        view=view,
        alias=alias or (view["summary_run"] or {}).get("alias"),
        tiles=charts.treemap(tree),
        levels=max((n["level"] for n in tree), default=0),
        audit=[e.as_dict() for e in curation.run_audit(explorer.db, run_id)][-20:],
        audit_undoable=curation.edits_in_force(explorer.db, run_id),
        done=curation.audit_row(explorer.db, edit).as_dict() if edit else None,
    )


@router.get("/api/runs/{run_id}", tags=["runs"])
def run_json(explorer: Ex, run_id: str, alias: Alias = None) -> dict:
    """One run: its summary runs, the titles in use (``?alias=``, default the latest), the
    hierarchy tree built on them with sizes and shares, and every cluster by size."""
    return views.run_view(explorer, run_id, alias)


@router.get("/api/runs/{run_id}/map", tags=["runs"], response_class=JSONResponse)
def map_json(
    explorer: Ex,
    run_id: str,
    alias: Alias = None,
    sample: Annotated[int, Query(ge=10, le=MAX_MAP_POINTS)] = MAP_SAMPLE,
    projection: Annotated[Literal["pca", "tsne"], Query()] = "pca",
) -> JSONResponse:
    """The points of ``lmsys map``: a seeded sample in 2-D (PCA by default; t-SNE takes
    ~20 s for 3,000 points here), each with its cluster and its ancestors at every level.
    The projection is computed once per run and kept (``maps.py``)."""
    db = explorer.db
    alias = views.alias_for(explorer, run_id, alias)

    def answer() -> bytes:
        shown = explorer.projections.get(
            db,
            (run_id, sample, projection),
            lambda: maps.projected(db, run_id, sample=sample, method=projection),
            stamp_of=vectors_stamp,
        )
        # Plain JSON types already: FastAPI's encoder would walk 50k points for 2 s more.
        return json.dumps(maps.map_points(db, run_id, alias, shown)).encode()

    body = explorer.maps.get(db, (run_id, alias, sample, projection), answer)
    return Response(body, media_type="application/json")


@router.get("/runs/{run_id}/trends", include_in_schema=False)
def trends_page(
    request: Request,
    explorer: Ex,
    run_id: str,
    alias: Alias = None,
    by: By = "week",
    top: Annotated[int | None, Query(ge=1, le=10_000)] = None,
):
    alias = views.alias_for(explorer, run_id, alias)
    report = data.trends(explorer.db, run_id, alias, by, top).as_dict()
    shown = report["periods"][-12:]
    return explorer.render(
        request,
        "trends.html",
        report=report,
        shown=shown,
        alias=alias,
        heights={
            c["cluster_id"]: charts.bar_heights(c["counts"][-len(shown) :] if shown else [])
            for c in report["clusters"]
        },
    )


@router.get("/api/runs/{run_id}/trends", tags=["runs"])
def trends_json(
    explorer: Ex,
    run_id: str,
    alias: Alias = None,
    by: By = "week",
    top: Annotated[int | None, Query(ge=1, le=10_000)] = None,
) -> dict:
    """``lmsys trends --json``: queries per cluster and period, fastest growing first."""
    alias = views.alias_for(explorer, run_id, alias)
    return data.trends(explorer.db, run_id, alias, by, top).as_dict()


@router.get("/diff", include_in_schema=False)
def diff_page(
    request: Request,
    explorer: Ex,
    a: Annotated[str | None, Query(max_length=200)] = None,
    b: Annotated[str | None, Query(max_length=200)] = None,
    alias: Alias = None,
):
    report = data.diff(explorer.db, a, b, alias).as_dict() if a and b else None
    return explorer.render(
        request,
        "diff.html",
        report=report,
        a=a,
        b=b,
        alias=alias,
        runs=[r.run_id for r in data.runs(explorer.db)],
    )


@router.get("/api/diff", tags=["runs"])
def diff_json(
    explorer: Ex,
    a: Annotated[str, Query(max_length=200, description="The earlier run.")],
    b: Annotated[str, Query(max_length=200, description="The later run.")],
    alias: Alias = None,
) -> dict:
    """``lmsys diff A B --json``: new, gone, split, merged, grown and shrunk clusters."""
    return data.diff(explorer.db, a, b, alias).as_dict()


@router.get("/api/runs/{run_id}/edits", tags=["curation"])
def audit_json(explorer: Ex, run_id: str) -> list[dict]:
    """``lmsys edit audit RUN --json``: every edit of the run, oldest first."""
    return [e.as_dict() for e in curation.run_audit(explorer.db, run_id)]


@router.get("/runs/{run_id}/export", tags=["runs"])
def export_file(
    explorer: Ex,
    run_id: str,
    format: Annotated[Literal["csv", "json", "parquet"], Query()] = "csv",
    alias: Alias = None,
):
    """``lmsys export``: one row per query with its cluster's title (and its ancestors'
    titles when the titles have a hierarchy), as a download."""
    alias = views.alias_for(explorer, run_id, alias)
    context = data.exported(explorer.db, run_id, format, alias)
    path = context.__enter__()
    return FileResponse(
        path,
        filename=path.name,
        media_type={"csv": "text/csv", "json": "application/json"}.get(
            format, "application/vnd.apache.parquet"
        ),
        background=BackgroundTask(context.__exit__, None, None, None),
    )

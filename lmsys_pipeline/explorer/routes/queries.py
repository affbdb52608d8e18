"""One query across runs, and semantic search."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from lmsys_pipeline.explorer import data, views, warm_search
from lmsys_pipeline.explorer.app import Explorer, explorer_of

router = APIRouter()
Ex = Annotated[Explorer, Depends(explorer_of)]
Filter = Annotated[str | None, Query(max_length=200)]
TopK = Annotated[int, Query(ge=1, le=1000, description="How many results.")]


@router.get("/queries/{query_id}", include_in_schema=False)
def query_page(request: Request, explorer: Ex, query_id: int):
    return explorer.render(request, "query.html", view=views.query_view(explorer, query_id))


@router.get("/api/queries/{query_id}", tags=["queries"])
def query_json(explorer: Ex, query_id: int) -> dict:
    """``lmsys edit view-query --json``: the text, its cluster in every run, its edits."""
    return views.query_view(explorer, query_id)


def _search(explorer, q, run_id, top_k, language, model):
    hits = warm_search.search(
        explorer.db, explorer.warm, q, run_id=run_id, top_k=top_k,
        language=language, llm_model=model,
    )  # fmt: skip
    return [hit.as_dict() for hit in hits]


@router.get("/search", include_in_schema=False)
def search_page(
    request: Request,
    explorer: Ex,
    q: Annotated[str | None, Query(max_length=2000)] = None,
    run_id: Filter = None,
    top_k: TopK = 20,
    language: Filter = None,
    model: Filter = None,
):
    runs = data.runs(explorer.db)
    hits = _search(explorer, q, run_id, top_k, language, model) if q and q.strip() else None
    titles = data.titles(explorer.db, run_id) if run_id and hits else {}
    return explorer.render(
        request,
        "search.html",
        q=q or "",
        run_id=run_id or "",
        top_k=top_k,
        language=language or "",
        model=model or "",
        hits=hits,
        titles=titles,
        runs=[r.run_id for r in runs],
    )


@router.get("/api/search", tags=["queries"])
def search_json(
    explorer: Ex,
    q: Annotated[str, Query(min_length=1, max_length=2000, description="What to look for.")],
    run_id: Filter = None,
    top_k: TopK = 10,
    language: Filter = None,
    model: Annotated[
        str | None, Query(max_length=200, description="The conversation's LLM (Query.model).")
    ] = None,
) -> list[dict]:
    """``lmsys search --json``: exact cosine search; filters (run, language, LLM) apply
    before ranking. The embedding model stays loaded between calls."""
    return _search(explorer, q, run_id, top_k, language, model)

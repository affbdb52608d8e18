"""``lmsys serve --public``: only what ``lmsys publish`` would write, nothing else.

An index of the summary runs (clustering run x alias), and for each the published page
(``/runs/{run_id}?alias=``) and its JSON (``/api/runs/{run_id}?alias=``), built on every
request by the same functions as ``publish`` (``privacy/``): small clusters folded, quotes
withheld, and a 403 in one sentence while a public field holds personal data. No query, member,
search, map, export, edit or docs route exists, so none can leak a query's text or an id. The
token check and security headers are the explorer's.
"""

import html
from typing import Any

from fastapi import FastAPI, Request
from sqlalchemy import select
from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, JSONResponse, Response

from lmsys_pipeline.db.models import ClusterSummary
from lmsys_pipeline.errors import UserError
from lmsys_pipeline.explorer import data
from lmsys_pipeline.explorer.security import Guard, secure_headers
from lmsys_pipeline.explorer.settings import ExplorerSettings
from lmsys_pipeline.privacy.publish import gate, public_report, render_html
from lmsys_pipeline.privacy.threshold import PrivacyError
from lmsys_pipeline.privacy.view import public_view


def _answer(request: Request, status: int, sentence: str) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": sentence}, status_code=status)
    page = f"<!DOCTYPE html><title>Error</title><p>{html.escape(sentence)}</p>"
    return HTMLResponse(page, status_code=status)


def _published(app: FastAPI, run_id: str, alias: str) -> dict[str, Any]:
    settings: ExplorerSettings = app.state.settings
    view = public_view(app.state.db, run_id, alias, settings.min_conversations)
    gate(view)
    return public_report(view)


def create_public_app(settings: ExplorerSettings) -> FastAPI:
    from contextlib import asynccontextmanager

    db = data.open_database(settings.db_url)
    guard = Guard(settings.token)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        db.dispose()

    app = FastAPI(
        title="lmsys published reports", docs_url=None, redoc_url=None, openapi_url=None,
        lifespan=lifespan,
    )  # fmt: skip
    app.state.settings = settings
    app.state.db = db

    @app.middleware("http")
    async def guarded(request: Request, call_next):
        refused = guard.admit(request)
        response = refused if refused is not None else await call_next(request)
        secure_headers(response)
        return response

    @app.exception_handler(PrivacyError)
    async def refused(request: Request, error: PrivacyError) -> Response:
        return _answer(request, 403, str(error))

    @app.exception_handler(UserError)
    async def missing(request: Request, error: UserError) -> Response:
        return _answer(request, 404, str(error))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        sentence = (
            "Not found: this server shows only published reports."
            if (error.status_code == 404)
            else str(error.detail)
        )
        return _answer(request, error.status_code, sentence)

    @app.get("/api/runs")
    def runs() -> list[dict[str, str]]:
        with db.engine.connect() as connection:
            rows = connection.execute(
                select(ClusterSummary.run_id, ClusterSummary.alias)
                .where(ClusterSummary.alias.is_not(None))
                .distinct()
                .order_by(ClusterSummary.run_id, ClusterSummary.alias)
            ).all()
        return [{"run_id": r, "alias": a} for r, a in rows]

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        from urllib.parse import quote

        items = "".join(
            f'<li><a href="/runs/{quote(r["run_id"], safe="")}?alias='
            f'{quote(r["alias"], safe="")}">{html.escape(r["run_id"])} '
            f"({html.escape(r['alias'])})</a></li>"
            for r in runs()
        )
        return (
            "<!DOCTYPE html><html lang=en><meta charset=utf-8><title>Published reports</title>"
            f"<h1>Published reports</h1><ul>{items}</ul></html>"
        )

    @app.get("/api/runs/{run_id}")
    def report(run_id: str, alias: str) -> dict[str, Any]:
        return _published(app, run_id, alias)

    @app.get("/runs/{run_id}", response_class=HTMLResponse)
    def page(run_id: str, alias: str) -> str:
        return render_html(_published(app, run_id, alias))

    return app

"""The explorer's FastAPI app: pages rendered on the server (Jinja2, autoescaped) and the same
data as JSON under ``/api``; every answer passes the token check, and every failure is one
sentence (``errors.py``)."""

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse

from lmsys_pipeline.explorer import curation, dagster_links, data, errors, warm_search
from lmsys_pipeline.explorer.held import Held
from lmsys_pipeline.explorer.security import Guard, secure_headers
from lmsys_pipeline.explorer.settings import ExplorerSettings

HERE = Path(__file__).parent
log = logging.getLogger("lmsys_pipeline.explorer")
MAPS_HELD = 4  # a 50,000-point answer is ~15 MB


@dataclass
class Explorer:
    """What every route shares: the settings, the database, the warm models, the guard, and
    what pages read over whole runs (``held``; the maps' projections and answers apart, as
    they are larger)."""

    settings: ExplorerSettings
    db: Any
    guard: Guard
    warm: warm_search.WarmSearch
    dagster: dagster_links.DagsterRuns
    pages: Environment
    held: Held = field(default_factory=Held)
    projections: Held = field(default_factory=lambda: Held(size=MAPS_HELD))
    maps: Held = field(default_factory=lambda: Held(size=MAPS_HELD))

    def render(self, request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
        template = self.pages.get_template(name)
        body = template.render(
            request=request,
            status=status,
            read_only=self.settings.read_only,
            csrf_token=self.guard.csrf_token,
            database=self.db.safe_url,
            editor=request.cookies.get("lmsys_editor") or self.editor,
            dagster=self.settings.dagster_base,
            **context,
        )
        return HTMLResponse(body, status_code=status)

    @property
    def editor(self) -> str:
        return self.settings.editor or curation.default_editor()


def _environment() -> Environment:
    from urllib.parse import quote

    pages = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # Text from data: control characters shown as escapes, then HTML-escaped by autoescape.
    pages.filters["text"] = lambda value: "" if value is None else data.visible(str(value))
    # A path segment (run ids, aliases): always under a fixed prefix, so never a scheme.
    pages.filters["seg"] = lambda value: quote(str(value), safe="")
    pages.filters["pct"] = lambda value: "" if value is None else f"{100 * value:.1f}%"
    pages.filters["num"] = lambda value: "" if value is None else f"{value:,}"
    return pages


def create_app(settings: ExplorerSettings | None = None) -> FastAPI:
    """The app over ``settings.db_url``; refuses settings that would expose the data
    (``ExplorerSettings.checked``). The database is opened here, so a setup fault is one
    sentence before the server starts."""
    from contextlib import asynccontextmanager

    from lmsys_pipeline.explorer.routes import clusters, docs, edits, queries, runs

    settings = (settings or ExplorerSettings()).checked()
    if settings.public:
        from lmsys_pipeline.explorer.public import create_public_app

        return create_public_app(settings)
    explorer = Explorer(
        settings,
        data.open_database(settings.db_url),
        Guard(settings.token),
        warm_search.WarmSearch(),
        dagster_links.DagsterRuns(),
        _environment(),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if settings.preload_model:
            explorer.warm.model()
            # The map's projection: seconds to import, paid at start, not on a first click.
            import sklearn.decomposition  # noqa: F401
        yield
        explorer.db.dispose()

    app = FastAPI(
        title="lmsys explorer",
        description="Clustering runs, their hierarchies, clusters, queries, search, lineage, "
        "trends and curation, as JSON (the same data as the pages).",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.explorer = explorer

    @app.middleware("http")
    async def guarded(request: Request, call_next):
        refused = explorer.guard.admit(request)
        response = refused if refused is not None else await call_next(request)
        if refused is not None and refused.status_code == 401:
            response = errors.answer(request, 401, errors.sentence_of(refused))
        secure_headers(response)
        return response

    errors.install(app)
    for module in (runs, clusters, queries, edits, docs):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    return app


def explorer_of(request: Request) -> Explorer:
    return request.app.state.explorer

"""The resources every stage shares: the database, the embedding model, the LLM server and
where progress goes.

Each is a ``ConfigurableResource`` whose fields are what a deployment (``Definitions``), the
UI's launchpad, a test or the ``lmsys`` CLI sets; runtime state (an engine, loaded models) lives
in private attributes. Secrets never sit in a field's default: the database URL comes from
``$LMSYS_DB_URL`` when the field is empty, an API key from the provider's variable (or an
``EnvVar`` a deployment binds to ``api_key``).
"""

import os
from collections.abc import Callable
from typing import Literal

import dagster as dg
from pydantic import Field, PrivateAttr

from lmsys_pipeline import explorer_links as links
from lmsys_pipeline.db.connection import DB_URL_ENV, VECTOR_CACHE_ENV, DatabaseManager
from lmsys_pipeline.embedding.embedders import DEFAULT_MODEL, Embedder
from lmsys_pipeline.labeling.settings import ThroughputSettings
from lmsys_pipeline.progress import OnProgress, Throttled, fan_out

# Assets that write the SQLModel tables share this pool; dagster.yaml limits it to one step at a
# time, because SQLite has a single writer. Raise the limit when LMSYS_DB_URL is PostgreSQL.
DB_WRITER_POOL = "lmsys_db_writer"


class DatabaseResource(dg.ConfigurableResource):
    """The SQLModel database. ``url`` empty: $LMSYS_DB_URL, else the SQLite file under
    ~/.lmsys-query-analysis. Bind it to an ``EnvVar`` when it holds a password."""

    url: str | None = Field(
        default=None, description=f"SQLAlchemy URL or SQLite path (default ${DB_URL_ENV})."
    )
    vector_cache: str | None = Field(
        default=None,
        description=f"Root folder of the vector caches, or 'off' (default ${VECTOR_CACHE_ENV}, "
        "else next to a SQLite file, else ~/.lmsys-query-analysis/vector-cache).",
    )

    _manager: DatabaseManager | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._manager = DatabaseManager(self.url, vector_cache=self.vector_cache)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._manager is not None:
            self._manager.dispose()
            self._manager = None

    @property
    def manager(self) -> DatabaseManager:
        if self._manager is None:  # used outside a run (schedules, sensors)
            self._manager = DatabaseManager(self.url, vector_cache=self.vector_cache)
        return self._manager


class EmbedderResource(dg.ConfigurableResource):
    """Embedding models, each loaded once per run. ``model`` is the default spec (an asset's
    config may name another); ``device`` empty means the GPU when torch sees one, where
    ``precision`` auto means fp16 (fp32 on a CPU)."""

    model: str = Field(default=DEFAULT_MODEL, description="Default embedding model.")
    batch_size: int | None = Field(
        default=None,
        ge=1,
        description="Texts per batch at most (default: batches by a token budget that suits "
        "the device; 64 texts for models that go through sentence-transformers' encode).",
    )
    device: str | None = Field(default=None, description="cpu, cuda, cuda:1, mps ...")
    precision: Literal["auto", "fp32", "fp16", "bf16"] = Field(
        default="auto", description="auto: fp16 on a GPU (bf16 for bf16 checkpoints), else fp32."
    )

    _loaded: dict[tuple[str, int | None], Embedder] = PrivateAttr(default_factory=dict)

    def load(self, model: str | None = None, batch_size: int | None = None) -> Embedder:
        from lmsys_pipeline.embedding.embedders import load_embedder

        key = (model or self.model, batch_size or self.batch_size)
        if key not in self._loaded:
            self._loaded[key] = load_embedder(
                key[0], batch_size=key[1], device=self.device, precision=self.precision
            )
        return self._loaded[key]


class LLMResource(dg.ConfigurableResource):
    """Where summary and hierarchy runs send their requests, and how fast. The model is the
    run's own setting (an alias is defined by it); this resource holds the server and the
    limits. ``api_key`` empty: the provider's usual variable (``OPENAI_API_KEY`` ...)."""

    base_url: str | None = Field(
        default=None,
        description="OpenAI-compatible server URL (default: the provider's, or "
        "$OPENAI_BASE_URL); stored without credentials.",
    )
    api_key: str | None = Field(
        default=None, description="Bind to an EnvVar; empty: the provider's key variable."
    )
    concurrency: int = Field(default=8, ge=1, le=256, description="Requests in flight.")
    rpm: int | None = Field(default=None, ge=1, description="Requests per minute at most.")
    timeout_s: float = Field(default=60.0, gt=0, description="Seconds per request.")
    max_retries: int = Field(
        default=5, ge=0, description="Retries of 429 / 5xx / timeouts, with backoff."
    )

    def throughput(self) -> ThroughputSettings:
        return ThroughputSettings(
            base_url=self.base_url,
            concurrency=self.concurrency,
            rpm=self.rpm,
            timeout_s=self.timeout_s,
            max_retries=self.max_retries,
        )


class ProgressResource(dg.ConfigurableResource):
    """Where long steps report how far they are: one line in the run log at most every
    ``interval_s`` seconds. The ``lmsys`` CLI hands its run one that also draws the same
    events in the terminal (``with_display``)."""

    interval_s: float = Field(
        default=30.0, gt=0, description="Seconds between progress lines in the run log."
    )

    _display: OnProgress | None = PrivateAttr(default=None)

    def with_display(self, display: OnProgress) -> "ProgressResource":
        """This resource, also handing every event to ``display``. Dagster rebuilds a
        configured resource from its fields, so hand the result to a run as
        ``dg.ResourceDefinition.hardcoded_resource(...)`` (as ``cli/launch.py`` does)."""
        self._display = display
        return self

    def reporter(self, log: Callable[[str], None]) -> OnProgress:
        """The ``on_progress`` for one step: throttled lines to ``log`` (the step's
        ``context.log.info``), and every event to the display if there is one."""
        return fan_out(Throttled(lambda event: log(event.line()), self.interval_s), self._display)


class ExplorerResource(dg.ConfigurableResource):
    """Where ``lmsys serve`` answers, so that materializations link to its pages. ``url``
    empty: $LMSYS_EXPLORER_URL, else no links (nothing is reached: only the address is written)."""

    url: str | None = Field(
        default=None,
        description=f"The explorer's address, e.g. http://127.0.0.1:8000 (default "
        f"${links.EXPLORER_URL_ENV}; none: no links).",
    )

    def base(self) -> str | None:
        return self.url or os.environ.get(links.EXPLORER_URL_ENV) or None

    def run_link(self, run_id: str, alias: str | None = None) -> dict[str, dg.MetadataValue]:
        """``{"explorer_page": url}`` of the run's page (titles of ``alias``), or ``{}``."""
        base = self.base()
        if base is None:
            return {}
        return {
            "explorer_page": dg.MetadataValue.url(
                links.absolute(base, links.run_page(run_id, alias))
            )
        }


def default_resources() -> dict[str, dg.ConfigurableResource]:
    return {
        "database": DatabaseResource(),
        "embedder": EmbedderResource(),
        "llm": LLMResource(),
        "progress": ProgressResource(),
        "explorer": ExplorerResource(),
    }


@dg.definitions
def resources() -> dg.Definitions:
    # Steps run in the run's own process: each step process would otherwise pay the imports of
    # torch and sentence-transformers again. Runs still go in parallel with each other.
    return dg.Definitions(resources=default_resources(), executor=dg.in_process_executor)

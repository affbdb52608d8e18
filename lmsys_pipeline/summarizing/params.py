"""What defines a summary run, and its id.

Only the fields in ``OUTCOME_FIELDS`` change what a summary says; the others (concurrency,
rate, timeouts) only change how fast it arrives. Re-running an alias with the same outcome
fields resumes it; changing one starts a new summary run that replaces the alias's rows.
"""

import os
import re
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field, field_validator

from lmsys_pipeline.errors import UserError

KEYWORDS_MODEL = "local/keywords"
MODEL_ENV = "LMSYS_SUMMARY_MODEL"
PROMPT_VERSION = "cluster-summary-v1"
# Letters of any script, digits, '.', '_' and '-' (never '|', which joins partition keys).
ALIAS_PATTERN = re.compile(r"^[^\W_][\w.-]*$")


class SummaryInputError(UserError, ValueError):
    """Input the user must fix (an alias, a run without assignments), in one sentence."""


class ThroughputSettings(BaseModel, extra="forbid"):
    """How fast answers arrive, from the LLM resource: they never change what a summary says."""

    base_url: str | None = None
    concurrency: int = Field(default=8, ge=1, le=256)
    rpm: int | None = Field(default=None, ge=1)
    timeout_s: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=5, ge=0)


OUTCOME_FIELDS = (
    "model",
    "max_queries",
    "central_share",
    "max_query_chars",
    "contrast_neighbors",
    "contrast_examples",
    "temperature",
    "max_tokens",
    "seed",
    "carry_from",
)


class SummaryParams(BaseModel, extra="forbid"):
    model: str = Field(
        default=KEYWORDS_MODEL,
        description="provider/name (openai/gpt-4o-mini, anthropic/..., "
        "ollama/..., vllm/...) or local/keywords (offline).",
    )
    max_queries: int = Field(
        default=20, ge=1, le=200, description="Representative queries shown per cluster."
    )
    central_share: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="Share of them nearest the centroid; the rest "
        "is a seeded random sample of the cluster.",
    )
    max_query_chars: int = Field(default=300, ge=20, description="Each query cut to this.")
    contrast_neighbors: int = Field(
        default=3, ge=0, le=20, description="Nearest clusters shown for contrast."
    )
    contrast_examples: int = Field(
        default=3, ge=1, le=20, description="Most central queries shown per neighbour."
    )
    concurrency: int = Field(default=8, ge=1, le=256, description="Requests in flight.")
    rpm: int | None = Field(default=None, ge=1, description="Requests per minute at most.")
    timeout_s: float = Field(default=60.0, gt=0, description="Per-request timeout.")
    max_retries: int = Field(
        default=5, ge=0, description="Retries of 429 / 5xx / timeouts, with backoff."
    )
    max_attempts: int = Field(
        default=2, ge=1, description="Asks per cluster when the answer is invalid."
    )
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(default=400, ge=16)
    seed: int = 42
    base_url: str | None = Field(default=None, description="OpenAI-compatible server URL.")
    price_in_per_mtok: float | None = Field(
        default=None,
        ge=0,
        description="USD per 1M input tokens (overrides the built-in price list).",
    )
    price_out_per_mtok: float | None = Field(default=None, ge=0)
    label_quality_queries: int = Field(
        default=20,
        ge=0,
        description="Held-out queries per cluster scored for label quality (0: skip).",
    )
    label_quality_siblings: int = Field(default=5, ge=1)
    carry_from: str | None = Field(
        default=None,
        description="Reuse this alias's titles from the previous run for the clusters that "
        "continue its clusters (summarizing/carry.py); only the others are sent to the model.",
    )

    @field_validator("model")
    @classmethod
    def _provider_and_name(cls, value: str) -> str:
        return check_model_name(value, KEYWORDS_MODEL)

    @property
    def is_offline(self) -> bool:
        return self.model == KEYWORDS_MODEL

    def outcome(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in OUTCOME_FIELDS}

    def stored(self) -> dict[str, Any]:
        """Everything, for the ledger and ``ClusterSummary.parameters``; the server address
        without credentials."""
        from lmsys_pipeline.summarizing.providers import public_url

        fields = self.model_dump()
        fields["base_url"] = public_url(self.base_url) if self.base_url else None
        return {**fields, "prompt_version": PROMPT_VERSION}


def default_model() -> str:
    """$LMSYS_SUMMARY_MODEL, else the offline keyword summarizer: no key, no cost."""
    return os.environ.get(MODEL_ENV) or KEYWORDS_MODEL


def default_alias(model: str) -> str:
    """The model's name made safe for a partition key: ``openai/gpt-4o-mini`` → ``gpt-4o-mini``."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", model.partition("/")[2]).strip("-._")
    return name or "summary"


def check_alias(alias: str) -> str:
    if not alias or not ALIAS_PATTERN.fullmatch(alias):
        raise SummaryInputError(
            f"Alias {alias!r} must start with a letter or digit and hold only letters (of any "
            "script), digits, '.', '_' and '-'."
        )
    return alias


def check_model_name(value: str, offline_model: str) -> str:
    """``provider/name``, or a one-sentence error naming ``offline_model`` as the way out."""
    value = value.strip()
    provider, _, name = value.partition("/")
    if not provider or not name:
        raise ValueError(
            f"Model {value!r} must be provider/name, e.g. openai/gpt-4o-mini or {offline_model}."
        )
    if provider == "local" and value != offline_model:
        raise ValueError(f"The offline model here is {offline_model}, not {value}.")
    return value


def new_summary_run_id(model: str, existing: set[str], now: datetime | None = None) -> str:
    """``summary-<model name>-<YYYYMMDD-HHMMSS>``, suffixed ``-2``, ``-3`` on a clash."""
    return new_run_id("summary", model, existing, now)


def new_run_id(prefix: str, model: str, existing: set[str], now: datetime | None = None) -> str:
    """``<prefix>-<model name>-<YYYYMMDD-HHMMSS>``, suffixed ``-2``, ``-3`` on a clash."""
    name = model.partition("/")[2].lower()
    name = re.sub(r"[^a-z0-9.]+", "-", name).strip("-") or "model"
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    base = candidate = f"{prefix}-{name}-{stamp}"
    suffix = 2
    while candidate in existing:
        candidate, suffix = f"{base}-{suffix}", suffix + 1
    return candidate

"""What defines a summary run, and its id.

Only the fields in ``OUTCOME_FIELDS`` change what a summary says; the others (concurrency,
rate, timeouts) only change how fast it arrives. Re-running an alias with the same outcome
fields resumes it; changing one starts a new summary run that replaces the alias's rows.
"""

import os
import re
from datetime import datetime
from typing import ClassVar

from pydantic import Field

from lmsys_pipeline.errors import UserError
from lmsys_pipeline.labeling.settings import (
    BaseUrl,
    Concurrency,
    MaxRetries,
    Rpm,
    RunParams,
    Timeout,
    new_run_id,
)

KEYPHRASE_MODEL = "local/keyphrase"
KEYWORDS_MODEL = "local/keywords"  # the offline summarizer before local/keyphrase
MODEL_ENV = "LMSYS_SUMMARY_MODEL"
# v2: the privacy instruction (labeling/labels.py); runs made with v1 keep theirs in the ledger.
PROMPT_VERSION = "cluster-summary-v2"


class SummaryInputError(UserError, ValueError):
    """Input the user must fix (a run without assignments, a carry source), in one sentence."""


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


class SummaryParams(RunParams):
    OFFLINE_MODEL: ClassVar[str] = KEYPHRASE_MODEL
    OLDER_OFFLINE_MODELS: ClassVar[tuple[str, ...]] = (KEYWORDS_MODEL,)
    OUTCOME_FIELDS: ClassVar[tuple[str, ...]] = OUTCOME_FIELDS
    PROMPT_VERSION: ClassVar[str] = PROMPT_VERSION

    model: str = Field(
        default=KEYPHRASE_MODEL,
        description="provider/name (openai/gpt-4o-mini, anthropic/..., "
        "ollama/..., vllm/...) or local/keyphrase (offline; local/keywords: the older one).",
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
    concurrency: Concurrency = 8
    rpm: Rpm = None
    timeout_s: Timeout = 60.0
    max_retries: MaxRetries = 5
    max_attempts: int = Field(
        default=2, ge=1, description="Asks per cluster when the answer is invalid."
    )
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(default=400, ge=16)
    seed: int = 42
    base_url: BaseUrl = None
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


def default_model() -> str:
    """$LMSYS_SUMMARY_MODEL, else the offline keyphrase summarizer: no key, no cost."""
    return os.environ.get(MODEL_ENV) or KEYPHRASE_MODEL


def default_alias(model: str) -> str:
    """The model's name made safe for a partition key: ``openai/gpt-4o-mini`` → ``gpt-4o-mini``."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", model.partition("/")[2]).strip("-._")
    return name or "summary"


def new_summary_run_id(model: str, existing: set[str], now: datetime | None = None) -> str:
    """``summary-<model name>-<YYYYMMDD-HHMMSS>``, suffixed ``-2``, ``-3`` on a clash."""
    return new_run_id("summary", model, existing, now)

"""What the parameters of every alias run share: the server's throughput (from the ``llm``
resource: it never changes what a run's answers say), the request fields, what an alias and a
model name may be, run ids, and how parameters are stored, compared and priced."""

import re
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, Field, field_validator

from lmsys_pipeline.errors import UserError
from lmsys_pipeline.labeling.providers import estimate_cost, public_url

# Letters of any script, digits, '.', '_' and '-' (never '|', which joins partition keys).
ALIAS_PATTERN = re.compile(r"^[^\W_][\w.-]*$")

Concurrency = Annotated[int, Field(ge=1, le=256, description="Requests in flight.")]
Rpm = Annotated[int | None, Field(ge=1, description="Requests per minute at most.")]
Timeout = Annotated[float, Field(gt=0, description="Per-request timeout.")]
MaxRetries = Annotated[
    int, Field(ge=0, description="Retries of 429 / 5xx / timeouts, with backoff.")
]
BaseUrl = Annotated[str | None, Field(description="OpenAI-compatible server URL.")]


class AliasError(UserError, ValueError):
    """An alias that cannot name a partition."""


class ThroughputSettings(BaseModel, extra="forbid"):
    """How fast answers arrive, from the LLM resource: they never change what a run says."""

    base_url: BaseUrl = None
    concurrency: Concurrency = 8
    rpm: Rpm = None
    timeout_s: Timeout = 60.0
    max_retries: MaxRetries = 5


class RunParams(BaseModel, extra="forbid"):
    """The behaviour every alias run's parameters share; a subclass holds the fields (``model``,
    ``base_url``, the prices) and names its ``OFFLINE_MODEL`` (the default offline one; older
    ones in ``OLDER_OFFLINE_MODELS`` stay selectable so older runs reproduce), the
    ``OUTCOME_FIELDS`` that change what it says (the others only how fast) and its
    ``PROMPT_VERSION``."""

    OFFLINE_MODEL: ClassVar[str]
    OLDER_OFFLINE_MODELS: ClassVar[tuple[str, ...]] = ()
    OUTCOME_FIELDS: ClassVar[tuple[str, ...]]
    PROMPT_VERSION: ClassVar[str]

    @field_validator("model", check_fields=False)
    @classmethod
    def _provider_and_name(cls, value: str) -> str:
        return check_model_name(value, cls.OFFLINE_MODEL, cls.OLDER_OFFLINE_MODELS)

    @property
    def is_offline(self) -> bool:
        return self.model == self.OFFLINE_MODEL or self.model in self.OLDER_OFFLINE_MODELS

    def outcome(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.OUTCOME_FIELDS}

    def stored(self) -> dict[str, Any]:
        """Everything, for the ledger; the server address without credentials."""
        fields = self.model_dump()
        fields["base_url"] = public_url(self.base_url) if self.base_url else None
        return {**fields, "prompt_version": self.PROMPT_VERSION}

    def cost(self, tokens_in: int, tokens_out: int) -> float | None:
        """USD for the tokens: 0 offline, None when the model's price is not known."""
        if self.is_offline:
            return 0.0
        prices = (self.price_in_per_mtok, self.price_out_per_mtok)
        return estimate_cost(self.model, tokens_in, tokens_out, prices)


def check_alias(alias: str) -> str:
    if not alias or not ALIAS_PATTERN.fullmatch(alias):
        raise AliasError(
            f"Alias {alias!r} must start with a letter or digit and hold only letters (of any "
            "script), digits, '.', '_' and '-'."
        )
    return alias


def check_model_name(value: str, offline_model: str, older: tuple[str, ...] = ()) -> str:
    """``provider/name``, or a one-sentence error naming ``offline_model`` as the way out
    (``older``: other offline models still accepted)."""
    value = value.strip()
    provider, _, name = value.partition("/")
    if not provider or not name:
        raise ValueError(
            f"Model {value!r} must be provider/name, e.g. openai/gpt-4o-mini or {offline_model}."
        )
    if provider == "local" and value != offline_model and value not in older:
        also = "".join(f" (or {name})" for name in older)
        raise ValueError(f"The offline model here is {offline_model}{also}, not {value}.")
    return value


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

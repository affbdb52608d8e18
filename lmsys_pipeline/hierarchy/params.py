"""What defines a hierarchy run, how many parents each level gets, and its id.

Only the fields in ``OUTCOME_FIELDS`` change the tree; the others (concurrency, rate,
timeouts) only change how fast it is built. Re-running an alias with the same outcome fields
on the same summary run resumes its hierarchy run; changing one starts a new one that replaces
the alias's tree.
"""

import math
from datetime import datetime
from typing import ClassVar

from pydantic import Field, model_validator

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

OFFLINE_MODEL = "local/agglomerative"
# v2: the privacy instruction (labeling/labels.py); runs made with v1 keep theirs in the ledger.
PROMPT_VERSION = "cluster-hierarchy-v2"
DEFAULT_TOP = 10  # without --levels or --top: levels are added until the top holds this many


class HierarchyInputError(UserError, ValueError):
    """Input the user must fix (settings, a summary run that is not finished), in one sentence."""


OUTCOME_FIELDS = (
    "model",
    "levels",
    "top",
    "merge_ratio",
    "neighborhood_size",
    "contrast_clusters",
    "assign_choices",
    "keyword_weight",
    "profile_weight",
    "temperature",
    "max_tokens",
    "seed",
)


class HierarchyParams(RunParams):
    OFFLINE_MODEL: ClassVar[str] = OFFLINE_MODEL
    OUTCOME_FIELDS: ClassVar[tuple[str, ...]] = OUTCOME_FIELDS
    PROMPT_VERSION: ClassVar[str] = PROMPT_VERSION

    model: str = Field(
        default=OFFLINE_MODEL,
        description="provider/name (openai/gpt-4o-mini, anthropic/..., ollama/..., vllm/...) "
        f"or {OFFLINE_MODEL} (offline: agglomerative grouping, keyword names).",
    )
    levels: int | None = Field(
        default=None, ge=1, le=8, description="Parent levels above the clusters."
    )
    top: int | None = Field(default=None, ge=2, description="Nodes wanted at the top level.")
    merge_ratio: float = Field(
        default=0.2,
        gt=0.0,
        lt=1.0,
        description="Parents per child from one level to the next, when --top does not decide.",
    )
    neighborhood_size: int = Field(
        default=40, ge=4, le=200, description="Clusters per neighbourhood (LLM proposals)."
    )
    contrast_clusters: int = Field(
        default=5, ge=0, le=20, description="Nearest outside clusters shown as contrast."
    )
    assign_choices: int = Field(
        default=12, ge=2, le=50, description="Candidate parents offered to each child."
    )
    keyword_weight: float = Field(
        default=0.2,
        ge=0.0,
        le=1.0,
        description="Offline: weight of the keyword profile beside the centroid.",
    )
    profile_weight: float = Field(
        default=0.3,
        ge=0.0,
        le=1.0,
        description="Offline: weight of the membership profile beside the centroid.",
    )
    concurrency: Concurrency = 8
    rpm: Rpm = None
    timeout_s: Timeout = 60.0
    max_retries: MaxRetries = 5
    max_attempts: int = Field(default=2, ge=1, description="Asks when the answer is invalid.")
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(default=800, ge=16)
    seed: int = 42
    base_url: BaseUrl = None
    price_in_per_mtok: float | None = Field(default=None, ge=0)
    price_out_per_mtok: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _weights_leave_the_centroid_some(self) -> "HierarchyParams":
        if self.keyword_weight + self.profile_weight > 1.0:
            raise ValueError(
                "keyword_weight and profile_weight add up to more than 1: the centroid's "
                "weight is what they leave."
            )
        return self


def level_targets(clusters: int, params: HierarchyParams) -> list[int]:
    """How many parents each level above the ``clusters`` should get, bottom up.

    ``top`` and ``levels``: a geometric series from ``clusters`` down to ``top``. ``top``
    only: as many levels as ``merge_ratio`` needs to get there. ``levels`` only: each level
    ``merge_ratio`` times the one below (at least 2). Neither: ``top`` is 10, or a fifth of
    the clusters when they are fewer than 50.
    """
    top, levels, ratio = params.top, params.levels, params.merge_ratio
    if clusters < 3:
        raise HierarchyInputError(
            f"The run has {clusters} clusters: a hierarchy needs at least 3 to group."
        )
    if top is None and levels is not None:
        targets, size = [], clusters
        for _ in range(levels):
            size = max(2, min(size - 1, round(size * ratio)))
            if targets and size >= targets[-1]:
                break
            targets.append(size)
        return targets
    if top is None:
        top = min(DEFAULT_TOP, max(2, clusters // 5))
    if top >= clusters:
        raise HierarchyInputError(
            f"--top {top} is not below the run's {clusters} clusters: ask for fewer parents."
        )
    if levels is None:
        levels = max(1, math.ceil(math.log(top / clusters) / math.log(ratio) - 1e-9))
    targets = []
    for level in range(1, levels + 1):
        size = round(clusters * (top / clusters) ** (level / levels))
        size = max(top, min(size, (targets[-1] if targets else clusters) - 1))
        if targets and size >= targets[-1]:
            continue
        targets.append(size)
    return targets


def new_hierarchy_run_id(model: str, existing: set[str], now: datetime | None = None) -> str:
    """``hier-<model name>-<YYYYMMDD-HHMMSS>``, suffixed ``-2``, ``-3`` on a clash."""
    return new_run_id("hier", model, existing, now)

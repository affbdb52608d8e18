"""One cluster's result in a summary run, however it was obtained (model, cache, keywords)."""

from dataclasses import dataclass

from lmsys_pipeline.labeling.labels import ClusterLabel
from lmsys_pipeline.summarizing.selection import ClusterBrief


@dataclass
class LabelResult:
    """``label`` is None when the cluster failed; ``error`` then says why."""

    brief: ClusterBrief
    label: ClusterLabel | None = None
    error: str | None = None
    requests: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cached: bool = False
    prompt_hash: str | None = None
    carried_from: dict | None = None  # the earlier run's cluster whose label was reused

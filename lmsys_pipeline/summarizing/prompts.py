"""The versioned summary prompt, the JSON schema its answer must follow, and its jobs.

The prompt ends in a user message (some OpenAI-compatible servers reject a system-only
prompt). ``PROMPT_VERSION`` changes whenever the wording or what an answer means does; it and
the exact request (schema included) are part of every cache key (``labeling/answers.py``), so
an old answer is never served for a new prompt. The answer is a label
(``labeling/labels.py``): a bounded, specific title and a two-sentence description.
"""

from collections.abc import Iterable

from lmsys_pipeline.labeling.answers import json_schema_format, prompt_hash, request_body
from lmsys_pipeline.labeling.labels import PRIVACY_INSTRUCTION, REMINDER, SCHEMA, parse_answer
from lmsys_pipeline.labeling.llm import Job
from lmsys_pipeline.labeling.providers import Endpoint
from lmsys_pipeline.summarizing.params import PROMPT_VERSION, SummaryParams
from lmsys_pipeline.summarizing.selection import ClusterBrief

SYSTEM = (
    "You label clusters of first messages that users sent to LLM chat assistants. A label "
    "must let an analyst tell this cluster apart from its nearest neighbours. "
    + PRIVACY_INSTRUCTION
)
RESPONSE_FORMAT = json_schema_format("cluster_summary", SCHEMA)


def _numbered(queries: list[str]) -> str:
    return "\n".join(f"{i}. {q}" for i, q in enumerate(queries, 1))


def build_messages(brief: ClusterBrief) -> list[dict[str, str]]:
    parts = [
        f"Cluster of {brief.size:,} user queries. Representative queries (the most central "
        f"first, then a random sample):\n{_numbered(brief.queries)}",
    ]
    if brief.neighbors:
        contrast = "\n\n".join(
            f"Neighbouring cluster {i}:\n{_numbered(queries)}"
            for i, queries in enumerate(brief.neighbors.values(), 1)
        )
        parts.append(
            "For contrast, typical queries of the most similar other clusters "
            f"(do not describe these):\n{contrast}"
        )
    parts.append(
        'Write a JSON object with two fields. "title": at most 10 words naming what the '
        "queries of this cluster ask for and what sets them apart from the neighbouring "
        "clusters; be specific and never use words like 'various', 'general' or "
        "'miscellaneous'. \"description\": exactly two sentences, the first on what users "
        "want, the second on how the queries are phrased or what distinguishes them. Answer "
        "with the JSON object only."
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]


def plan_jobs(
    briefs: Iterable[ClusterBrief], endpoint: Endpoint, params: SummaryParams
) -> list[Job]:
    """One summary question per cluster brief."""
    jobs = []
    for brief in briefs:
        body = request_body(endpoint.remote_model, build_messages(brief), params, RESPONSE_FORMAT)
        key = prompt_hash(endpoint.model, body, PROMPT_VERSION, server=endpoint.server)
        jobs.append(Job(brief, body, key, parse_answer, REMINDER))
    return jobs

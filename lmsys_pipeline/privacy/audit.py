"""The auditor (Clio's fourth layer): an LLM scores each public title and description on a
1-5 privacy scale; the gate wants 3 or more.

Each public node is one question through the summaries' machinery: ``labeling/llm.py`` asks
(concurrency, rpm, retries of 429/5xx with backoff, an invalid answer asked again with a
reminder), every validated answer is cached in ``llm_responses`` under the hash of its exact
request (``AUDIT_VERSION`` included) and committed as it arrives, so a run killed half-way
resumes from the cache without paying twice. Counts (asked, cached, failed, requests, tokens)
are the audit's ledger, kept in ``privacy_report``'s metadata. A node whose audit failed has no
score and fails the check: an unaudited field is not known to be safe.
"""

from dataclasses import dataclass, field

from pydantic import BaseModel, Field

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.labeling.answers import (
    json_schema_format,
    parse_json_answer,
    prompt_hash,
    request_body,
)
from lmsys_pipeline.labeling.cache import from_cache, store_answer
from lmsys_pipeline.labeling.llm import Job, Outcome, Tally, ask_all
from lmsys_pipeline.labeling.providers import Endpoint, resolve_endpoint
from lmsys_pipeline.labeling.settings import ThroughputSettings
from lmsys_pipeline.progress import OnProgress, no_progress

AUDIT_VERSION = "privacy-audit-v1"
SCALE = (
    "1: identifies a specific person, account or organisation's member (a name with details, "
    "contact details, an account, card or ID number). "
    "2: details that would let someone who knows the person recognise them. "
    "3: specifics of a small group or an unusual situation, but no one can be identified. "
    "4: general details about a kind of request, with a trace of something personal. "
    "5: nothing private at all."
)
SYSTEM = (
    "You audit labels of clusters of chat requests before they are published. Rate how much "
    f"private information a label reveals on this scale: {SCALE}"
)
RESPONSE_FORMAT = json_schema_format(
    "privacy_audit",
    {
        "type": "object",
        "properties": {
            "score": {"type": "integer", "enum": [1, 2, 3, 4, 5]},
            "reason": {"type": "string"},
        },
        "required": ["score", "reason"],
        "additionalProperties": False,
    },
)
REMINDER = 'Answer {"score": <1 to 5>, "reason": <one sentence>} only.'


class AuditAnswer(BaseModel):
    score: int = Field(ge=1, le=5)
    reason: str


@dataclass(frozen=True)
class AuditSettings:
    """How the auditor is asked (``labeling/llm.RequestSettings`` and the sampling)."""

    concurrency: int = 8
    rpm: int | None = None
    timeout_s: float = 60.0
    max_retries: int = 5
    max_attempts: int = 3
    temperature: float = 0.0
    max_tokens: int = 200
    seed: int = 0


@dataclass
class AuditResult:
    model: str
    scores: dict[int, int] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)
    cached: int = 0
    requests: int = 0
    tokens_in: int = 0
    tokens_out: int = 0

    def as_metadata(self) -> dict:
        return {
            "audit_model": self.model,
            "audited": len(self.scores),
            "audit_failed": len(self.failed),
            "audit_cached": self.cached,
            "audit_requests": self.requests,
            "audit_tokens": self.tokens_in + self.tokens_out,
        }


def audit_messages(title: str, description: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": SYSTEM},
        {
            "role": "user",
            "content": f"Title: {title}\nDescription: {description}\n\nAnswer with the JSON "
            'object {"score": <1 to 5>, "reason": <one sentence>} only.',
        },
    ]


def _parse(content: str | None) -> AuditAnswer:
    return parse_json_answer(content, AuditAnswer)


def audit_jobs(
    fields: dict[int, dict[str, str]], endpoint: Endpoint, settings: AuditSettings
) -> list[Job]:
    jobs = []
    for node_id, shown in sorted(fields.items()):
        messages = audit_messages(shown.get("title", ""), shown.get("description", ""))
        body = request_body(endpoint.remote_model, messages, settings, RESPONSE_FORMAT)
        key = prompt_hash(endpoint.model, body, AUDIT_VERSION, server=endpoint.server)
        jobs.append(Job(node_id, body, key, _parse, REMINDER))
    return jobs


def audit_fields(
    db: DatabaseManager,
    fields: dict[int, dict[str, str]],
    endpoint: Endpoint,
    settings: AuditSettings = AuditSettings(),
    on_progress: OnProgress = no_progress,
) -> AuditResult:
    """Scores every node of ``fields`` (node → its public title and description)."""
    jobs = audit_jobs(fields, endpoint, settings)
    found, pending = from_cache(db, jobs)
    result = AuditResult(endpoint.model, cached=len(found))
    for outcome in found:
        result.scores[outcome.job.key] = outcome.answer.score

    def done(outcome: Outcome) -> None:
        result.requests += outcome.requests
        result.tokens_in += outcome.tokens_in
        result.tokens_out += outcome.tokens_out
        if outcome.answer is None:
            result.failed[outcome.job.key] = outcome.error or "no answer"
            return
        result.scores[outcome.job.key] = outcome.answer.score
        with db.get_session() as session:
            store_answer(
                session,
                outcome.job.prompt_hash,
                endpoint.model,
                outcome.answer.model_dump(),
                outcome.tokens_in,
                outcome.tokens_out,
            )
            session.commit()

    tally = Tally("privacy audit", len(jobs), "fields", on_progress, start=len(found))
    ask_all(pending, endpoint, settings, done, tally)
    return result


def audit_by_model(
    db: DatabaseManager,
    fields: dict[int, dict[str, str]],
    model: str,
    throughput: ThroughputSettings,
    api_key: str | None = None,
    on_progress: OnProgress = no_progress,
) -> AuditResult:
    """``audit_fields`` with ``model`` (provider/name) on the server and limits of the ``llm``
    resource (``api_key`` None: the provider's variable): what the ``privacy_report`` asset
    and ``lmsys publish --audit-model`` both run."""
    return audit_fields(
        db,
        fields,
        resolve_endpoint(model, throughput.base_url, api_key=api_key),
        AuditSettings(
            concurrency=throughput.concurrency,
            rpm=throughput.rpm,
            timeout_s=throughput.timeout_s,
            max_retries=throughput.max_retries,
        ),
        on_progress,
    )

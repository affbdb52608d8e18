"""The answer cache (``llm_responses``): every validated answer under the hash of its exact
request and server (``answers.prompt_hash``), so an identical question (a re-run, a resumed
run, another alias with the same model on the same server) is never paid for twice.

A run started with ``restart`` uses only answers cached since it started (``since``) and its
answers replace the older ones, so later runs reuse the new answers.
"""

import json
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.summaries import LLMResponse
from lmsys_pipeline.labeling.answers import InvalidAnswer
from lmsys_pipeline.labeling.llm import Job, Outcome

CHUNK = 1_000


def cached_answers(
    db: DatabaseManager, hashes: list[str], since: datetime | None = None
) -> dict[str, LLMResponse]:
    """The cached answers of ``hashes`` (those cached at ``since`` or later, when given)."""
    found: dict[str, LLMResponse] = {}
    with db.get_session() as session:
        for start in range(0, len(hashes), CHUNK):
            chunk = hashes[start : start + CHUNK]
            query = select(LLMResponse).where(LLMResponse.prompt_hash.in_(chunk))
            if since is not None:
                query = query.where(LLMResponse.created_at >= since)
            found.update((r.prompt_hash, r) for r in session.execute(query).scalars())
    return found


def from_cache(
    db: DatabaseManager, jobs: list[Job], since: datetime | None = None
) -> tuple[list[Outcome], list[Job]]:
    """The jobs whose cached answer (cached at ``since`` or later) still passes validation,
    as outcomes, and the jobs left to ask (an answer cached under older rules is asked
    again)."""
    cache = cached_answers(db, [job.prompt_hash for job in jobs], since)
    found, pending = [], []
    for job in jobs:
        stored = cache.get(job.prompt_hash)
        try:
            if stored is None:
                raise InvalidAnswer("not cached")
            found.append(Outcome(job, job.parse(json.dumps(stored.response))))
        except InvalidAnswer:
            pending.append(job)
    return found, pending


def store_answer(
    session: Session,
    prompt_hash: str,
    model: str,
    response: dict,
    tokens_in: int,
    tokens_out: int,
    replace_before: datetime | None = None,
) -> None:
    """Caches a validated answer under the hash of its exact request: once, or in place of
    an answer cached before ``replace_before`` (a run asking afresh)."""
    cached = session.get(LLMResponse, prompt_hash)
    if cached is not None and (replace_before is None or cached.created_at >= replace_before):
        return
    if cached is not None:
        session.delete(cached)
        session.flush()
    session.add(
        LLMResponse(
            prompt_hash=prompt_hash,
            model=model,
            response=response,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
        )
    )

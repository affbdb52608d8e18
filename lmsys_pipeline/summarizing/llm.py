"""Asking an OpenAI-compatible server for every cluster's label, fast and within limits.

Requests run concurrently up to ``concurrency``, never faster than ``rpm`` (a leaky bucket),
each with a timeout; the ``openai`` client retries 429, 5xx and timeouts with exponential
backoff and honours ``Retry-After``. An answer that is not a valid label is asked again up to
``max_attempts``; a refusal is not. Each finished cluster is handed to ``on_done`` at once
(on one writer thread, off the event loop), so a kill keeps every cluster finished before it.
"""

import asyncio
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from lmsys_pipeline.errors import UserError
from lmsys_pipeline.summarizing.params import SummaryParams
from lmsys_pipeline.summarizing.prompts import (
    InvalidAnswer,
    build_messages,
    parse_answer,
    prompt_hash,
    request_body,
)
from lmsys_pipeline.summarizing.providers import Endpoint
from lmsys_pipeline.summarizing.results import LabelResult
from lmsys_pipeline.summarizing.selection import ClusterBrief


class LLMConfigError(UserError):
    """The server refuses every request (bad key, unknown model): stop instead of failing
    each cluster."""


@dataclass
class Job:
    brief: ClusterBrief
    body: dict[str, Any]
    prompt_hash: str


def plan_jobs(
    briefs: Iterable[ClusterBrief], endpoint: Endpoint, params: SummaryParams
) -> list[Job]:
    jobs = []
    for brief in briefs:
        body = request_body(endpoint.remote_model, build_messages(brief), params)
        jobs.append(Job(brief, body, prompt_hash(endpoint.model, body)))
    return jobs


def _status_message(error: Exception) -> str:
    from openai import APIStatusError, APITimeoutError

    if isinstance(error, APITimeoutError):
        return "the request timed out after every retry"
    if isinstance(error, APIStatusError):
        return f"HTTP {error.status_code} after every retry"
    return f"{type(error).__name__} after every retry"


async def _ask(client: Any, limiter: Any, job: Job, params: SummaryParams) -> LabelResult:
    from openai import (
        APIConnectionError,
        APIStatusError,
        AuthenticationError,
        NotFoundError,
        PermissionDeniedError,
    )

    outcome = LabelResult(job.brief, prompt_hash=job.prompt_hash)
    for _ in range(params.max_attempts):
        if limiter is not None:
            await limiter.acquire()
        outcome.requests += 1
        try:
            response = await client.chat.completions.create(**job.body)
        except (AuthenticationError, PermissionDeniedError, NotFoundError) as error:
            raise LLMConfigError(
                f"The server refused the request with HTTP {error.status_code}: check the "
                "model name, the base URL and the API key variable."
            ) from None
        except (APIStatusError, APIConnectionError) as error:
            outcome.error = _status_message(error)
            return outcome
        if response.usage is not None:
            outcome.tokens_in += response.usage.prompt_tokens or 0
            outcome.tokens_out += response.usage.completion_tokens or 0
        if not response.choices:
            outcome.error = "the answer held no choices"
            continue
        message = response.choices[0].message
        if getattr(message, "refusal", None):
            outcome.error = f"the model refused: {' '.join(message.refusal.split())[:200]}"
            return outcome
        try:
            outcome.label = parse_answer(message.content)
            outcome.error = None
            return outcome
        except InvalidAnswer as error:
            outcome.error = f"invalid answer: {error}"
    return outcome


async def _run_all(
    jobs: list[Job],
    endpoint: Endpoint,
    params: SummaryParams,
    on_done: Callable[[LabelResult], None],
) -> None:
    from aiolimiter import AsyncLimiter
    from openai import AsyncOpenAI

    client = AsyncOpenAI(
        api_key=endpoint.api_key,
        base_url=endpoint.base_url,
        max_retries=params.max_retries,
        timeout=params.timeout_s,
    )
    # One request per 60/rpm seconds with no burst: any minute holds at most rpm + 1 starts.
    limiter = AsyncLimiter(1, 60.0 / params.rpm) if params.rpm else None
    semaphore = asyncio.Semaphore(params.concurrency)
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="summary-writer") as writer:
        stopped = asyncio.Event()

        async def one(job: Job) -> None:
            async with semaphore:
                if stopped.is_set():  # a rejected key: start nothing more
                    return
                try:
                    outcome = await _ask(client, limiter, job, params)
                except LLMConfigError:
                    stopped.set()
                    raise
            await loop.run_in_executor(writer, on_done, outcome)

        try:
            async with asyncio.TaskGroup() as group:
                for job in jobs:
                    group.create_task(one(job))
        except* LLMConfigError as errors:
            raise errors.exceptions[0] from None
        finally:
            await client.close()


def ask_all(
    jobs: list[Job],
    endpoint: Endpoint,
    params: SummaryParams,
    on_done: Callable[[LabelResult], None],
) -> None:
    """Asks for every job's label; ``on_done`` receives each outcome as it completes."""
    if jobs:
        asyncio.run(_run_all(jobs, endpoint, params, on_done))

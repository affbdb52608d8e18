"""Asking an OpenAI-compatible server many questions, fast and within limits.

Any run that asks a model for strict-JSON answers (summary runs, hierarchy runs) hands this
module ``Job``s: a request body, the hash that keys its cached answer, and a ``parse`` function
that turns the answer's text into a value or raises ``InvalidAnswer``. Requests run
concurrently up to ``concurrency``, never faster than ``rpm`` (a leaky bucket), each with a
timeout; the ``openai`` client retries 429, 5xx and timeouts with exponential backoff and
honours ``Retry-After``. Each answer is read up to ``MAX_ANSWER_BYTES`` (``completions.py``).
An invalid answer is asked again up to ``max_attempts``, the prompt followed by what was wrong
and the job's ``reminder`` of the limits; a refusal is not, nor a status-200 body that is no
chat completion (a web page, nothing): it is a failed request naming what came back. Each
finished job is handed to ``on_done`` at once (on one writer thread, off the event loop), so a
kill keeps every answer finished before it.
"""

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from lmsys_pipeline.errors import UserError
from lmsys_pipeline.labeling.answers import InvalidAnswer, reminded
from lmsys_pipeline.labeling.bounds import MAX_ANSWER_BYTES
from lmsys_pipeline.labeling.completions import NotACompletion, fetch_completion
from lmsys_pipeline.labeling.providers import Endpoint
from lmsys_pipeline.progress import OnProgress, Progress, Stopwatch, no_progress

T = TypeVar("T")


class LLMConfigError(UserError):
    """The server refuses every request (bad key, unknown model): stop instead of failing
    each job."""


class RequestSettings(Protocol):
    """How requests are made; the parameters of every alias run carry these."""

    concurrency: int
    rpm: int | None
    timeout_s: float
    max_retries: int
    max_attempts: int


@dataclass
class Job(Generic[T]):
    """One question: ``key`` is whatever the caller needs back with the answer; ``reminder``
    states the answer's limits when it is asked again."""

    key: Any
    body: dict[str, Any]
    prompt_hash: str
    parse: Callable[[str | None], T]
    reminder: str


@dataclass
class Outcome(Generic[T]):
    """``answer`` is None when the job failed; ``error`` then says why."""

    job: Job[T]
    answer: T | None = None
    error: str | None = None
    requests: int = 0
    tokens_in: int = 0
    tokens_out: int = 0


@dataclass
class Tally:
    """The counts of one batch of requests, told to ``on_progress`` as each answer is stored:
    ``done`` (answered) and ``failed`` of ``total`` units, ``start`` of which needed no request
    (labelled before, or ``cached`` answers), requests in flight, tokens and their ``price``."""

    stage: str
    total: int
    unit: str = "clusters"
    on_progress: OnProgress = no_progress
    phase: str | None = None
    start: int = 0
    cached: int = 0
    price: Callable[[int, int], float | None] = lambda tokens_in, tokens_out: None
    done: int = 0
    failed: int = 0
    in_flight: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    watch: Stopwatch = field(default_factory=Stopwatch)

    def report(self) -> None:
        # Failed and cached only when there are some: the line stays short enough for the
        # cost to show in 120 columns.
        details: dict[str, Any] = {"failed": self.failed} if self.failed else {}
        details["in flight"] = self.in_flight
        if self.cached:
            details["cached"] = self.cached
        details["tokens"] = self.tokens_in + self.tokens_out
        cost = self.price(self.tokens_in, self.tokens_out)
        if cost is not None:
            details["cost"] = f"${cost:,.4f}"
        finished = self.start + self.done + self.failed
        self.on_progress(
            Progress(
                self.stage,
                finished,
                self.total,
                self.unit,
                self.watch.seconds,
                self.phase,
                details,
                self.start,
            )
        )

    def count(self, outcome: "Outcome") -> None:
        if outcome.answer is None:
            self.failed += 1
        else:
            self.done += 1
        self.tokens_in += outcome.tokens_in
        self.tokens_out += outcome.tokens_out
        self.report()


def _status_message(error: Exception) -> str:
    from openai import APIStatusError, APITimeoutError

    if isinstance(error, APITimeoutError):
        return "the request timed out after every retry"
    if isinstance(error, APIStatusError) and error.status_code == 400:
        # A request the server will never take (e.g. a schema keyword it does not support):
        # its own words, cut short, say which part.
        said = str(error.message).removeprefix("Error code: 400 - ")
        return f"HTTP 400: {' '.join(said.split())[:200]}"
    if isinstance(error, APIStatusError):
        return f"HTTP {error.status_code} after every retry"
    return f"{type(error).__name__} after every retry"


async def _ask(client: Any, limiter: Any, job: Job[T], max_attempts: int) -> Outcome[T]:
    from openai import (
        APIConnectionError,
        APIStatusError,
        AuthenticationError,
        NotFoundError,
        OpenAIError,
        PermissionDeniedError,
    )

    outcome: Outcome[T] = Outcome(job)
    body = job.body
    for _ in range(max_attempts):
        if limiter is not None:
            await limiter.acquire()
        outcome.requests += 1
        try:
            completion = await fetch_completion(client, body)
        except (AuthenticationError, PermissionDeniedError, NotFoundError) as error:
            raise LLMConfigError(
                f"The server refused the request with HTTP {error.status_code}: check the "
                "model name, the base URL and the API key variable."
            ) from None
        except (APIStatusError, APIConnectionError) as error:
            outcome.error = _status_message(error)
            return outcome
        except NotACompletion as error:
            outcome.error = str(error)
            return outcome
        except OpenAIError as error:
            outcome.error = f"{type(error).__name__} from the client"
            return outcome
        outcome.tokens_in += completion.tokens_in
        outcome.tokens_out += completion.tokens_out
        if completion.refusal:
            outcome.error = f"the model refused: {' '.join(completion.refusal.split())[:200]}"
            return outcome
        try:
            if completion.oversized:
                raise InvalidAnswer(f"the answer was larger than {MAX_ANSWER_BYTES:,} bytes")
            if completion.no_choices:
                raise InvalidAnswer("the answer held no choices")
            outcome.answer = job.parse(completion.content)
            outcome.error = None
            return outcome
        except InvalidAnswer as error:
            outcome.error = f"invalid answer: {error}"
            body = reminded(job.body, str(error), job.reminder)
    return outcome


async def _run_all(
    jobs: list[Job[T]],
    endpoint: Endpoint,
    settings: RequestSettings,
    on_done: Callable[[Outcome[T]], None],
    tally: Tally,
) -> None:
    from aiolimiter import AsyncLimiter
    from openai import AsyncOpenAI

    client = AsyncOpenAI(
        api_key=endpoint.api_key,
        base_url=endpoint.base_url,
        max_retries=settings.max_retries,
        timeout=settings.timeout_s,
    )
    # One request per 60/rpm seconds with no burst: any minute holds at most rpm + 1 starts.
    limiter = AsyncLimiter(1, 60.0 / settings.rpm) if settings.rpm else None
    semaphore = asyncio.Semaphore(settings.concurrency)
    loop = asyncio.get_running_loop()

    def store(outcome: Outcome[T]) -> None:
        on_done(outcome)
        tally.count(outcome)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="llm-writer") as writer:
        stopped = asyncio.Event()

        async def one(job: Job[T]) -> None:
            async with semaphore:
                if stopped.is_set():  # a rejected key: start nothing more
                    return
                tally.in_flight += 1
                try:
                    outcome = await _ask(client, limiter, job, settings.max_attempts)
                except LLMConfigError:
                    stopped.set()
                    raise
                finally:
                    tally.in_flight -= 1
            await loop.run_in_executor(writer, store, outcome)

        try:
            async with asyncio.TaskGroup() as group:
                for job in jobs:
                    group.create_task(one(job))
        except BaseExceptionGroup as errors:
            # The error itself, not "unhandled errors in a TaskGroup": a rejected key first.
            config = [e for e in errors.exceptions if isinstance(e, LLMConfigError)]
            if config:
                raise config[0] from None
            raise errors.exceptions[0] from errors
        finally:
            await client.close()


def ask_all(
    jobs: list[Job[T]],
    endpoint: Endpoint,
    settings: RequestSettings,
    on_done: Callable[[Outcome[T]], None],
    tally: Tally | None = None,
) -> None:
    """Asks every job; ``on_done`` receives each outcome as it completes, then ``tally``
    counts it (and tells its listener)."""
    tally = tally or Tally("requests", len(jobs), "requests")
    tally.report()
    if jobs:
        asyncio.run(_run_all(jobs, endpoint, settings, on_done, tally))

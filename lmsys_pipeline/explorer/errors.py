"""Every failure as one sentence: JSON ``{"error": ...}`` under ``/api``, a short page
elsewhere. Unknown runs, clusters, queries and edits are 404; input the pipeline refuses
(``UserError``) and parameters that do not parse are 422; a server fault is 500 with no
traceback (the server's log has it)."""

import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from lmsys_pipeline.explorer.data import NotEmbedded, NotFound, UserError

log = logging.getLogger("lmsys_pipeline.explorer")

NOT_FOUND_STARTS = ("Edit ", "Query ")


class Refused(Exception):
    """An answer with a status and one sentence (403 read-only, 400 stale form ...)."""

    def __init__(self, status: int, sentence: str) -> None:
        super().__init__(sentence)
        self.status = status


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/api"


def answer(request: Request, status: int, sentence: str) -> Response:
    if wants_json(request):
        return JSONResponse({"error": sentence}, status_code=status)
    explorer = request.app.state.explorer
    return explorer.render(request, "error.html", status=status, message=sentence)


def sentence_of(response: Response) -> str:
    return json.loads(bytes(response.body))["error"]


def _is_missing(error: UserError) -> bool:
    """An unknown id: the readers' ``NotFound``, or an edit or query that does not exist."""
    text = str(error)
    if isinstance(error, NotEmbedded):
        return False
    return isinstance(error, NotFound | LookupError) or (
        text.startswith(NOT_FOUND_STARTS) and "does not exist" in text
    )


def _validation_sentence(error: RequestValidationError) -> str:
    first = error.errors()[0]
    location = [str(part) for part in first.get("loc", ()) if part not in ("query", "path", "body")]
    name = ".".join(location) or "the request"
    message = str(first.get("msg", "is not valid")).removeprefix("Value error, ")
    given = first.get("input")
    shown = "" if given is None or isinstance(given, dict | list) else f" {str(given)[:60]!r}"
    return f"Parameter {name}{shown}: {message[:1].lower()}{message[1:]}".rstrip(".") + "."


def install(app: FastAPI) -> None:
    @app.exception_handler(UserError)
    async def user_error(request: Request, error: UserError) -> Response:
        return answer(request, 404 if _is_missing(error) else 422, str(error))

    @app.exception_handler(Refused)
    async def refused(request: Request, error: Refused) -> Response:
        return answer(request, error.status, str(error))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> Response:
        return answer(request, 422, _validation_sentence(error))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        if error.status_code == 404:
            sentence = (
                f"There is no page at {request.url.path}: the runs page links to all of them."
            )
        elif error.status_code == 405:
            sentence = f"{request.method} is not allowed at {request.url.path}."
        else:
            sentence = str(error.detail)
        return answer(request, error.status_code, sentence)

    @app.exception_handler(Exception)
    async def fault(request: Request, error: Exception) -> Response:
        log.exception("explorer: %s %s failed", request.method, request.url.path)
        return answer(
            request,
            500,
            f"The server failed on this request ({type(error).__name__}): its log has the details.",
        )

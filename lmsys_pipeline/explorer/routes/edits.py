"""Curation from the pages and the API: the ``lmsys edit`` commands (rename, move, merge,
split, delete, tag and rate, flag, undo) through the same functions, with the editor's name
in the audit row. Every edit needs the server's CSRF token (a form field, or the
``X-CSRF-Token`` header: ``GET /api/session`` gives it); ``--read-only`` refuses them all."""

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError, field_validator
from starlette.responses import RedirectResponse

from lmsys_pipeline.explorer import curation
from lmsys_pipeline.explorer.app import Explorer, explorer_of
from lmsys_pipeline.explorer.errors import Refused
from lmsys_pipeline.explorer.security import CSRF_FIELD, CSRF_HEADER

router = APIRouter()
Ex = Annotated[Explorer, Depends(explorer_of)]
EDITOR_COOKIE = "lmsys_editor"
READ_ONLY = (
    "This explorer is read-only (lmsys serve --read-only): edit with lmsys edit, or start it "
    "without --read-only."
)
STALE = (
    "This edit did not carry the explorer's current CSRF token (the page is older than the "
    "server, or came from elsewhere): reload the page and try again."
)


def _listed(value):
    """``"a, b c"`` or ``["a", "b"]`` → a list; empty → None."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        parts = [p for p in value.replace(",", " ").split() if p]
        return parts or None
    return list(value)


class Who(BaseModel):
    editor: Annotated[str | None, Field(max_length=100)] = None
    reason: Annotated[str | None, Field(max_length=1000)] = None


class Rename(Who):
    alias: Annotated[str, Field(min_length=1, max_length=200)]
    title: Annotated[str | None, Field(max_length=500)] = None
    description: Annotated[str | None, Field(max_length=5000)] = None


class Move(Who):
    query_ids: list[int]
    to_cluster: int

    _ids = field_validator("query_ids", mode="before")(_listed)


class Merge(Who):
    clusters: list[int]

    _ids = field_validator("clusters", mode="before")(_listed)


class Split(Who):
    query_ids: list[int] | None = None
    parts: Annotated[int | None, Field(ge=2, le=100)] = None

    _ids = field_validator("query_ids", mode="before")(_listed)


class Delete(Who):
    move_to: int = -1


class Tag(Who):
    tags: list[Annotated[str, Field(max_length=100)]] | None = None
    remove: bool = False
    quality: Literal["high", "medium", "low"] | None = None
    coherence: Annotated[int | None, Field(ge=1, le=5)] = None
    notes: Annotated[str | None, Field(max_length=5000)] = None

    _tags = field_validator("tags", mode="before")(_listed)


class Flag(Who):
    flags: list[Annotated[str, Field(max_length=100)]]
    remove: bool = False

    _flags = field_validator("flags", mode="before")(_listed)


EDITS: dict[str, type[Who]] = {
    "rename": Rename,
    "move": Move,
    "merge": Merge,
    "split": Split,
    "delete": Delete,
    "tag": Tag,
    "flag": Flag,
}
# Form fields that an empty box leaves out (a blank title keeps the title).
KEEP_BLANK = {"notes"}


async def _fields(request: Request, explorer: Explorer) -> tuple[dict, bool]:
    """(the submitted fields, whether they came as a form); refuses read-only servers and
    requests without the CSRF token."""
    if explorer.settings.read_only:
        raise Refused(403, READ_ONLY)
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = await request.json()
        except ValueError:
            raise Refused(422, "The request body is not JSON.") from None
        if not isinstance(body, dict):
            raise Refused(422, "The request body must be a JSON object of the edit's fields.")
        if not explorer.guard.csrf_ok(request.headers.get(CSRF_HEADER)):
            raise Refused(403, STALE)
        return body, False
    form = await request.form()
    if not explorer.guard.csrf_ok(form.get(CSRF_FIELD)):
        raise Refused(403, STALE)
    fields = {}
    for key in form:
        values = [v for v in form.getlist(key) if isinstance(v, str)]
        if key in ("query_ids", "clusters") and len(values) > 1:
            fields[key] = ",".join(values)
        elif values and (values[0].strip() or key in KEEP_BLANK):
            fields[key] = values[0].strip() if key not in KEEP_BLANK else values[0]
    fields["remove"] = fields.get("remove") in ("on", "true", "1")
    return fields, True


def _validated(model: type[Who], fields: dict) -> dict:
    try:
        return model.model_validate(fields).model_dump()
    except ValidationError as error:
        raise RequestValidationError(error.errors()) from None


def _cluster_url(run_id: str, cluster_id: int, edit_id: int) -> str:
    return f"/runs/{quote(run_id, safe='')}/clusters/{cluster_id}?edit={edit_id}#done"


def _done(explorer: Explorer, edit_id: int, as_form: bool, editor: str | None, target: str):
    row = curation.audit_row(explorer.db, edit_id)
    curation.report_edit(row)
    if not as_form:
        return row.as_dict()
    answer = RedirectResponse(target, status_code=303)
    if editor:
        answer.set_cookie(EDITOR_COOKIE, editor, samesite="strict", max_age=365 * 86400)
    return answer


def _run_edit(explorer: Explorer, kind: str, run_id: str, cluster_id: int, fields: dict, form):
    fields["editor"] = fields.get("editor") or explorer.editor
    edit_id = curation.edit(explorer.db, kind, run_id, cluster_id, fields)
    if kind == "delete":
        moved = fields["move_to"]
        target = (
            _cluster_url(run_id, moved, edit_id)
            if moved != -1
            else f"/runs/{quote(run_id, safe='')}?edit={edit_id}"
        )
    else:
        target = _cluster_url(run_id, cluster_id, edit_id)
    return _done(explorer, edit_id, form, fields["editor"], target)


@router.post("/runs/{run_id}/clusters/{cluster_id}/edit/{kind}", include_in_schema=False)
async def edit_form(
    request: Request, explorer: Ex, run_id: str, cluster_id: int, kind: Literal[tuple(EDITS)]
):
    fields, as_form = await _fields(request, explorer)
    valid = _validated(EDITS[kind], fields)
    return await run_in_threadpool(_run_edit, explorer, kind, run_id, cluster_id, valid, as_form)


@router.post("/api/runs/{run_id}/clusters/{cluster_id}/edit/{kind}", tags=["curation"])
async def edit_json(
    request: Request, explorer: Ex, run_id: str, cluster_id: int, kind: Literal[tuple(EDITS)]
) -> dict:
    """One ``lmsys edit`` command on a cluster, from a JSON object of its options: rename
    (alias, title, description), move (query_ids, to_cluster), merge (clusters: merged into
    this one), split (query_ids or parts), delete (move_to), tag (tags, remove, quality,
    coherence, notes), flag (flags, remove); each with editor and reason. Needs the
    ``X-CSRF-Token`` header (``GET /api/session``). Answers the audit row."""
    return await edit_form(request, explorer, run_id, cluster_id, kind)


def _undo(explorer: Explorer, edit_id: int, fields: dict, as_form: bool):
    editor = fields.get("editor") or explorer.editor
    undone = curation.audit_row(explorer.db, edit_id)
    undo_id = curation.undo(explorer.db, edit_id, editor, fields.get("reason"))
    target = (
        _cluster_url(undone.run_id, undone.cluster_id, undo_id)
        if undone.cluster_id is not None and undone.edit_type != "delete"
        else f"/runs/{quote(undone.run_id, safe='')}?edit={undo_id}"
    )
    return _done(explorer, undo_id, as_form, editor, target)


@router.post("/edits/{edit_id}/undo", include_in_schema=False)
async def undo_form(request: Request, explorer: Ex, edit_id: int):
    fields, as_form = await _fields(request, explorer)
    valid = _validated(Who, fields)
    return await run_in_threadpool(_undo, explorer, edit_id, valid, as_form)


@router.post("/api/edits/{edit_id}/undo", tags=["curation"])
async def undo_json(request: Request, explorer: Ex, edit_id: int) -> dict:
    """``lmsys edit undo``: takes back the run's latest edit in force (editor, reason)."""
    return await undo_form(request, explorer, edit_id)

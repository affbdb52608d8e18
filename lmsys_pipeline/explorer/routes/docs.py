"""``/docs``: the JSON API described from its OpenAPI schema, drawn on the server (the usual
Swagger page loads its script from a CDN, and the explorer works offline); and
``/api/session``: what a script needs before it edits."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from lmsys_pipeline.explorer.app import Explorer, explorer_of

router = APIRouter()
Ex = Annotated[Explorer, Depends(explorer_of)]


def _parameters(operation: dict) -> list[dict]:
    found = []
    for parameter in operation.get("parameters", []):
        schema = parameter.get("schema", {})
        kind = schema.get("type") or " | ".join(
            s.get("type", "") for s in schema.get("anyOf", []) if s.get("type") != "null"
        )
        found.append(
            {
                "name": parameter["name"],
                "in": parameter["in"],
                "required": parameter.get("required", False),
                "type": kind or ("one of " + ", ".join(schema["enum"]) if "enum" in schema else ""),
                "description": parameter.get("description") or schema.get("description", ""),
                "default": schema.get("default"),
            }
        )
    return found


@router.get("/docs", include_in_schema=False)
def docs_page(request: Request, explorer: Ex):
    schema = request.app.openapi()
    routes = [
        {
            "method": method.upper(),
            "path": path,
            "summary": operation.get("summary", ""),
            "description": operation.get("description", ""),
            "parameters": _parameters(operation),
        }
        for path, methods in schema.get("paths", {}).items()
        for method, operation in methods.items()
    ]
    return explorer.render(request, "docs.html", routes=routes)


@router.get("/api/session", tags=["curation"])
def session_json(request: Request, explorer: Ex) -> dict:
    """The CSRF token edits need (header ``X-CSRF-Token``), whether the server is read-only,
    the editor name it proposes, and the database (password masked)."""
    return {
        "csrf_token": explorer.guard.csrf_token,
        "read_only": explorer.settings.read_only,
        "editor": request.cookies.get("lmsys_editor") or explorer.editor,
        "database": explorer.db.safe_url,
    }

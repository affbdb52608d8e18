"""``lmsys serve``: the explorer (``lmsys_pipeline/explorer``) served by uvicorn."""

import socket
from typing import Annotated

import typer

from lmsys_pipeline.cli.app import app, fail
from lmsys_pipeline.cli.console import console
from lmsys_pipeline.cli.options import DbUrlOption
from lmsys_pipeline.privacy.threshold import MIN_CONVERSATIONS


def _port_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


@app.command()
def serve(
    host: Annotated[
        str, typer.Option(help="Address to listen on; any but 127.0.0.1 needs --token.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    db_url: DbUrlOption = None,
    read_only: Annotated[
        bool, typer.Option("--read-only", help="No edit controls; edit routes answer 403.")
    ] = False,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="LMSYS_SERVE_TOKEN",
            show_envvar=True,
            help="Required on every request (open the explorer once with ?token=T).",
        ),
    ] = None,
    editor: Annotated[
        str | None, typer.Option(help="The name edit forms propose (default: the OS user).")
    ] = None,
    dagster_url: Annotated[
        str | None,
        typer.Option(help="The Dagster UI that run links open (default http://127.0.0.1:3000)."),
    ] = None,
    preload_model: Annotated[
        bool,
        typer.Option(
            "--preload-model",
            help="Load the search model and the map's projection now, not on first use.",
        ),
    ] = False,
    public: Annotated[
        bool,
        typer.Option(
            "--public", help="Serve only what lmsys publish would write (no queries, no edits)."
        ),
    ] = False,
    min_conversations: Annotated[
        int,
        typer.Option(min=1, help="With --public: conversations a cluster needs to be shown."),
    ] = MIN_CONVERSATIONS,
) -> None:
    """A web explorer and JSON API (/docs) over runs, hierarchy trees, clusters, queries,
    search, lineage, trends and curation. Ctrl-C stops it."""
    import uvicorn

    from lmsys_pipeline.explorer.app import create_app
    from lmsys_pipeline.explorer.settings import ExplorerSettings, SettingsError

    settings = ExplorerSettings(
        db_url=db_url, host=host, port=port, read_only=read_only, token=token or None,
        editor=editor, dagster_url=dagster_url, preload_model=preload_model, public=public,
        min_conversations=min_conversations,
    )  # fmt: skip
    try:
        settings.checked()
    except SettingsError as error:
        fail(str(error))
    if not _port_free(host, port):
        fail(f"Port {port} on {host} is taken: give another with --port.")
    explorer = create_app(settings)
    shown = f"[{host}]" if ":" in host else host
    address = f"http://{shown}:{port}/"
    state = explorer.state
    console.print(
        ("Published reports" if public else "Explorer")
        + f" of {(state.db if public else state.explorer.db).safe_url} on {address}"
        + ("?token=<your token>" if token else "")
        + (" (read-only)" if read_only and not public else "")
        + (
            f"; JSON under {address}api/runs"
            if public
            else f"; the JSON API is described on {address}docs"
        )
        + ". Ctrl-C stops it."
    )
    if not public:
        from lmsys_pipeline.explorer.warm_search import one_core_each

        one_core_each()
    uvicorn.run(explorer, host=host, port=port, log_level="warning")

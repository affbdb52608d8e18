"""The explorer's page addresses, built in one place: the pages link to each other with
them, and Dagster materializations link to the pages (``ExplorerResource``). No imports
beyond the standard library, so that ``lmsys_pipeline.definitions`` stays fast."""

from urllib.parse import quote, urlencode

EXPLORER_URL_ENV = "LMSYS_EXPLORER_URL"


def run_page(run_id: str, alias: str | None = None) -> str:
    """The path of a run's page (its tree, treemap, map and clusters), titles of ``alias``."""
    path = f"/runs/{quote(run_id, safe='')}"
    return f"{path}?{urlencode({'alias': alias})}" if alias else path


def cluster_page(run_id: str, cluster_id: int, alias: str | None = None) -> str:
    path = f"/runs/{quote(run_id, safe='')}/clusters/{int(cluster_id)}"
    return f"{path}?{urlencode({'alias': alias})}" if alias else path


def absolute(base: str, path: str) -> str:
    """``path`` under the explorer's address ``base`` (with or without a trailing slash)."""
    return base.rstrip("/") + path

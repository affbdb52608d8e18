"""The ``lmsys`` command (pyproject's script entry is ``app``): compute commands (load, embed,
cluster, summarize, merge-clusters, delete ...) go through Dagster; read commands, search and
the curation edits use the database directly."""

from lmsys_pipeline.cli import (  # noqa: F401 (commands)
    cluster,
    compute,
    edit,
    edit_read,
    files,
    hierarchy,
    lineage,
    maintain,
    publish,
    read,
    serve,
    summarize,
)
from lmsys_pipeline.cli.app import app

__all__ = ["app"]

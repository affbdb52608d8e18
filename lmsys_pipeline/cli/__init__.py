"""The ``lmsys`` command: compute commands go through Dagster, read commands query the
database directly."""

from lmsys_pipeline.cli import (  # noqa: F401 (commands)
    cluster,
    compute,
    edit,
    edit_read,
    files,
    hierarchy,
    lineage,
    maintain,
    read,
    serve,
    summarize,
)
from lmsys_pipeline.cli.common import app


def main() -> None:
    app()


__all__ = ["app", "main"]

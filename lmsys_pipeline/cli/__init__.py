"""The ``lmsys`` command: compute commands go through Dagster, read commands query the
database directly."""

from lmsys_pipeline.cli import compute, hierarchy, maintain, read, summarize  # noqa: F401 (commands)
from lmsys_pipeline.cli.common import app


def main() -> None:
    app()


__all__ = ["app", "main"]

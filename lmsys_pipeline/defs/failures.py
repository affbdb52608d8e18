"""Where a ``UserError`` becomes a Dagster failure: its one sentence, no retries (the same
input would fail the same way). Every asset, op and check body runs inside ``user_failures``."""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from lmsys_pipeline.errors import UserError


@contextmanager
def user_failures() -> Iterator[None]:
    try:
        yield
    except UserError as error:
        raise dg.Failure(description=str(error), allow_retries=False) from None

"""Resources shared by every stage."""

import dagster as dg
from pydantic import PrivateAttr

from lmsys_pipeline.db.connection import DB_URL_ENV, DatabaseManager

# Assets that write the SQLModel tables share this pool; dagster.yaml limits it to one step at a
# time, because SQLite has a single writer. Raise the limit when LMSYS_DB_URL is PostgreSQL.
DB_WRITER_POOL = "lmsys_db_writer"


class DatabaseResource(dg.ConfigurableResource):
    """The SQLModel database. ``url`` defaults to $LMSYS_DB_URL, then the SQLite file under
    ~/.lmsys-query-analysis; give it through an env var when it holds a password."""

    url: str | None = None

    _manager: DatabaseManager | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._manager = DatabaseManager(self.url)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._manager is not None:
            self._manager.dispose()

    @property
    def manager(self) -> DatabaseManager:
        if self._manager is None:
            self._manager = DatabaseManager(self.url)
        return self._manager


def user_failure(error: Exception) -> dg.Failure:
    """A step failure for input the user must fix: its one-sentence message, no retries
    (the same input would fail the same way)."""
    return dg.Failure(description=str(error), allow_retries=False)


__all__ = ["DB_URL_ENV", "DB_WRITER_POOL", "DatabaseResource", "user_failure"]

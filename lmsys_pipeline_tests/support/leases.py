"""An alias lease written as another process would hold it."""

import socket
from datetime import timedelta

from sqlalchemy import insert

from lmsys_pipeline.db.models import utc_now
from lmsys_pipeline.db.summaries import AliasLease
from lmsys_pipeline.labeling.lease import SUMMARY

RUN = "kmeans-4-20260101-000000"


def held_by(db, owner: str, pid: int, host: str | None = None, expires_in: float = 60) -> None:
    """The summary lease of alias ``gpt`` on ``RUN`` held by ``owner`` (process ``pid`` on
    ``host``, this one by default) for ``expires_in`` more seconds."""
    now = utc_now()
    with db.engine.begin() as connection:
        connection.execute(
            insert(AliasLease).values(
                kind=SUMMARY,
                run_id=RUN,
                alias="gpt",
                owner=owner,
                host=host or socket.gethostname(),
                pid=pid,
                acquired_at=now,
                expires_at=now + timedelta(seconds=expires_in),
            )
        )

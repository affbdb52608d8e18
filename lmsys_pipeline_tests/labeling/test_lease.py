"""The lease that lets one process at a time work on an alias (item 11 of issue 27), on both
databases: refused while held, taken over when it lapsed or its process is gone, re-entrant
within a process, and lost when another process took it over."""

import os
import socket
import subprocess
import sys

import pytest
from sqlalchemy import select, update

from lmsys_pipeline.db.summaries import AliasLease
from lmsys_pipeline.labeling import lease
from lmsys_pipeline.labeling.lease import (
    HIERARCHY,
    SUMMARY,
    AliasBusy,
    alias_lease,
    check_held,
    claim,
)
from lmsys_pipeline_tests.support.leases import RUN, held_by


def _owners(db) -> list[str]:
    with db.engine.connect() as connection:
        return connection.execute(select(AliasLease.owner)).scalars().all()


def test_a_held_lease_is_refused_in_one_sentence_naming_its_holder(any_db):
    holder = os.getppid()  # alive as long as this test runs
    held_by(any_db, "other", holder)
    with pytest.raises(AliasBusy) as refused:
        claim(any_db, SUMMARY, RUN, "gpt", "me")
    message = str(refused.value)
    assert message.startswith(f"Alias gpt on {RUN} is being summarized by another process")
    assert f"(pid {holder} on {socket.gethostname()}, since " in message
    assert message.endswith("wait for it to finish, then run the same command again.")
    assert _owners(any_db) == ["other"]
    # Another kind, or another alias, is another lease.
    claim(any_db, HIERARCHY, RUN, "gpt", "me")
    claim(any_db, SUMMARY, RUN, "gpt-2", "me")


@pytest.mark.subprocess
def test_a_lapsed_lease_or_one_whose_process_is_gone_is_taken_over(any_db):
    held_by(any_db, "elsewhere", 1, host="another-host", expires_in=-1)
    claim(any_db, SUMMARY, RUN, "gpt", "me")
    assert _owners(any_db) == ["me"]

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    killed = f"{lease.place()} {gone.pid} abc"
    with any_db.engine.begin() as connection:
        connection.execute(update(AliasLease).values(owner=killed, pid=gone.pid))
    claim(any_db, SUMMARY, RUN, "gpt", "next")  # at once: no waiting for the lease to lapse
    assert _owners(any_db) == ["next"]
    # Another place's process (another host, or a container sharing this host name) cannot
    # be looked at: its lease is waited out.
    with any_db.engine.begin() as connection:
        connection.execute(
            update(AliasLease).values(owner=f"another-host/1 {gone.pid} abc", pid=gone.pid)
        )
    with pytest.raises(AliasBusy):
        claim(any_db, SUMMARY, RUN, "gpt", "third")


def test_the_lease_is_reentrant_in_a_process_and_released_after_the_outer_block(any_db):
    with alias_lease(any_db, SUMMARY, RUN, "gpt") as outer:
        with alias_lease(any_db, SUMMARY, RUN, "gpt") as inner:
            assert inner is outer
        assert _owners(any_db) == [outer.owner]
        with pytest.raises(AliasBusy):
            claim(any_db, SUMMARY, RUN, "gpt", "someone-else")
    assert _owners(any_db) == []
    assert outer.stop.is_set()


def test_a_holder_whose_lease_was_taken_over_stops(any_db):
    with alias_lease(any_db, SUMMARY, RUN, "gpt") as holder:
        where = lease._where(SUMMARY, RUN, "gpt")
        lease.renew(any_db, where, holder)
        assert not holder.lost
        check_held(any_db, SUMMARY, RUN, "gpt")
        with any_db.engine.begin() as connection:
            connection.execute(update(AliasLease).values(owner="took-over"))
        lease.renew(any_db, where, holder)
        assert holder.lost
        with pytest.raises(AliasBusy, match="was taken over by another process"):
            check_held(any_db, SUMMARY, RUN, "gpt")
    assert _owners(any_db) == ["took-over"]  # not released: it is not this process's now

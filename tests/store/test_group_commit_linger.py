"""Group commit under steady load: callers answered together come back as one full batch."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Sequence

import sqlalchemy as sa

from clickledger.store.group_commit import GroupCommitter

metadata = sa.MetaData()
rows = sa.Table("gc_linger_rows", metadata, sa.Column("n", sa.Integer, primary_key=True))
CALLERS = 16
ROUNDS = 12


def _insert(conn: sa.Connection, items: Sequence[int]) -> list[int]:
    conn.execute(rows.insert(), [{"n": n} for n in items])
    time.sleep(0.005)  # the batch's work: new arrivals queue up meanwhile
    return list(items)


def test_sixteen_steady_callers_make_batches_of_sixteen(engine: sa.Engine) -> None:
    metadata.create_all(engine)
    committer: GroupCommitter[int, int] = GroupCommitter(engine, _insert, name="t",
                                                         max_linger_s=0.5)

    async def caller(index: int) -> None:
        for round_no in range(ROUNDS):
            await committer.submit(round_no * CALLERS + index)

    async def load() -> None:
        await asyncio.gather(*(caller(i) for i in range(CALLERS)))

    asyncio.run(load())
    committer.stop()
    sizes = list(committer.stats.last_sizes)
    assert committer.stats.rows == CALLERS * ROUNDS
    assert statistics.median(sizes[2:]) == CALLERS  # after warm-up: one cohort, full batches


def test_a_lone_caller_is_never_kept_waiting(engine: sa.Engine) -> None:
    metadata.create_all(engine)
    committer: GroupCommitter[int, int] = GroupCommitter(engine, _insert, name="t",
                                                         max_linger_s=0.5)

    async def one_by_one() -> float:
        started = time.monotonic()
        for n in range(10):
            await committer.submit(n)
        return time.monotonic() - started

    elapsed_s = asyncio.run(one_by_one())
    committer.stop()
    assert elapsed_s < 0.5  # ten commits; a single linger would take 0.5 s
    assert committer.stats.batches == 10

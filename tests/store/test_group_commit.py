"""Group commit: many concurrent writers share transactions, and each answer follows its commit."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
import sqlalchemy as sa

from clickledger.store.group_commit import GroupCommitter, QueueFull

metadata = sa.MetaData()
rows = sa.Table("gc_rows", metadata, sa.Column("n", sa.Integer, primary_key=True))


def _insert(conn: sa.Connection, items: Sequence[int]) -> list[str]:
    conn.execute(rows.insert(), [{"n": n} for n in items])
    return [f"ok {n}" for n in items]


def test_concurrent_submits_share_batches_and_each_row_is_committed_before_its_answer(
    engine: sa.Engine,
) -> None:
    metadata.create_all(engine)
    committer: GroupCommitter[int, str] = GroupCommitter(engine, _insert, name="t")

    async def one(n: int) -> str:
        answer = await committer.submit(n)
        with engine.connect() as conn:  # visible to another connection: committed
            assert conn.execute(sa.select(rows.c.n).where(rows.c.n == n)).scalar() == n
        return answer

    async def storm() -> list[str]:
        return await asyncio.gather(*(one(n) for n in range(500)))

    answers = asyncio.run(storm())
    committer.stop()
    assert answers == [f"ok {n}" for n in range(500)]
    assert committer.stats.rows == 500
    assert committer.stats.batches < 500  # shared transactions happened


def test_a_bad_item_fails_alone_and_its_batch_neighbours_commit(engine: sa.Engine) -> None:
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(rows.insert(), [{"n": 7}])
    committer: GroupCommitter[int, str] = GroupCommitter(engine, _insert, name="t")

    async def storm() -> list[str | BaseException]:
        return await asyncio.gather(*(committer.submit(n) for n in (6, 7, 8)),
                                    return_exceptions=True)

    results = asyncio.run(storm())
    committer.stop()
    assert results[0] == "ok 6" and results[2] == "ok 8"
    assert isinstance(results[1], sa.exc.IntegrityError)


def test_a_full_queue_refuses_at_once(engine: sa.Engine) -> None:
    metadata.create_all(engine)
    committer: GroupCommitter[int, str] = GroupCommitter(
        engine, _insert, name="t", max_queue_rows=1
    )

    async def scenario() -> None:
        committer._stopping = False  # writer not started: the queue cannot drain
        committer._thread = object()  # type: ignore[assignment]
        first = asyncio.ensure_future(committer.submit(1))
        await asyncio.sleep(0)
        with pytest.raises(QueueFull):
            await committer.submit(2)
        first.cancel()

    asyncio.run(scenario())

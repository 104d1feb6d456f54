"""The write turn among the processes of one SQLite store (store/write_turn.py): a second
writer waits for the first to finish, and a writer cancelled while waiting never keeps the
turn it is then given. Two WriteTurns on one file stand for two processes (flock(2) locks
belong to the open file, not to the process)."""

from __future__ import annotations

import asyncio

from gateway.store.records import DecisionQuery, WriteBatch
from gateway.store.sqlite import SqliteStore
from gateway.store.write_turn import WriteTurn
from tests.store.helpers import decision


def turns(tmp_path, count: int) -> list[WriteTurn]:
    made = [WriteTurn(str(tmp_path / "gatekeeper.db")) for _ in range(count)]
    for turn in made:
        turn.open()
    return made


async def test_the_second_writer_waits_for_the_first(tmp_path):
    first, second = turns(tmp_path, 2)
    order: list[str] = []
    async with first:
        waiting = asyncio.create_task(_take(second, order, "second"))
        await asyncio.sleep(0.05)  # the second is blocked in flock meanwhile
        order.append("first done")
    await asyncio.wait_for(waiting, 10)
    assert order == ["first done", "second"]
    first.close()
    second.close()


async def test_a_cancelled_waiter_gives_its_turn_back(tmp_path):
    first, second, third = turns(tmp_path, 3)
    async with first:
        waiting = asyncio.create_task(_take(second, [], "second"))
        await asyncio.sleep(0.05)
        waiting.cancel()
    order: list[str] = []
    await asyncio.wait_for(_take(third, order, "third"), 10)
    assert order == ["third"]
    for turn in (first, second, third):
        turn.close()


async def test_an_in_memory_store_needs_no_turn():
    turn = WriteTurn(":memory:")
    turn.open()
    async with turn:
        pass
    turn.close()


async def test_a_group_commit_waits_on_its_thread_for_another_process(tmp_path):
    """The spool's commit takes the turn on the writer's thread (WriteTurn.held): it waits
    there while another process writes, then commits."""
    store = SqliteStore(f"sqlite:///{tmp_path / 'gatekeeper.db'}")
    await store.open()
    (other,) = turns(tmp_path, 1)
    order: list[str] = []
    try:
        async with other:
            commit = asyncio.create_task(store.commit(WriteBatch(decisions=[decision(1)])))
            commit.add_done_callback(lambda _: order.append("committed"))
            await asyncio.sleep(0.05)  # the commit's thread is blocked in flock meanwhile
            order.append("other done")
        await asyncio.wait_for(commit, 10)
        assert order == ["other done", "committed"]
        assert len(await store.decisions(DecisionQuery())) == 1
    finally:
        other.close()
        await store.close()


async def _take(turn: WriteTurn, order: list[str], name: str) -> None:
    async with turn:
        order.append(name)

"""The write turn among the processes of one SQLite store (store/write_turn.py): a second
writer waits for the first to finish, and a writer cancelled while waiting never keeps the
turn it is then given. Two WriteTurns on one file stand for two processes (flock(2) locks
belong to the open file, not to the process)."""

from __future__ import annotations

import asyncio

from gateway.store.write_turn import WriteTurn


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


async def _take(turn: WriteTurn, order: list[str], name: str) -> None:
    async with turn:
        order.append(name)

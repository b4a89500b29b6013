"""`WriteTurns`: on SQLite the payment path's write transactions queue in process, in arrival
order; on other databases they do not queue at all."""

import asyncio

from avnz.db.engine import WriteTurns


async def _run(turns: WriteTurns, count: int) -> list[tuple[str, int]]:
    events: list[tuple[str, int]] = []

    async def writer(number: int) -> None:
        async with turns.turn():
            events.append(("in", number))
            await asyncio.sleep(0.01)  # the transaction's awaits: others get to run meanwhile
            events.append(("out", number))

    tasks = []
    for number in range(count):
        tasks.append(asyncio.create_task(writer(number)))
        await asyncio.sleep(0)  # arrive in this order
    await asyncio.gather(*tasks)
    return events


async def test_sqlite_writers_take_turns_first_come_first_served() -> None:
    events = await _run(WriteTurns.for_url("sqlite+aiosqlite:///x.db"), 6)
    assert events == [(step, n) for n in range(6) for step in ("in", "out")]


async def test_other_databases_do_not_queue() -> None:
    events = await _run(WriteTurns.for_url("postgresql+asyncpg://u@h/db"), 6)
    assert [step for step, _ in events[:6]] == ["in"] * 6  # all inside at once


async def test_a_failed_writer_passes_the_turn_on() -> None:
    turns = WriteTurns(queue=True)

    async def failing() -> None:
        async with turns.turn():
            raise RuntimeError("rolled back")

    results = await asyncio.gather(failing(), _run(turns, 2), return_exceptions=True)
    assert isinstance(results[0], RuntimeError)
    assert results[1] == [("in", 0), ("out", 0), ("in", 1), ("out", 1)]

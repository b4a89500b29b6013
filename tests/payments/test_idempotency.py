"""`run_idempotent`: one execution per key and body, however many copies arrive and however they
arrive; the stored answer replayed; 5xx never stored; keys new again after 24 h."""

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import insert, select

from avnz import idempotency
from avnz.core import clock
from avnz.core.errors import AppError, Conflict, InvalidRequest
from avnz.idempotency import (
    IdempotencyKey,
    IdempotencyKeyReused,
    StoredResponse,
    run_idempotent,
)

SCOPE = "key_01testscope"


class Work:
    """An execute callable that counts its runs and answers `answer` after `delay` seconds."""

    def __init__(self, answer=None, delay=0.0, error=None):
        self.calls = 0
        self.answer = answer or StoredResponse(201, {"id": "obj_1", "amount": 1999})
        self.delay = delay
        self.error = error

    async def __call__(self):
        self.calls += 1
        await asyncio.sleep(self.delay)
        if self.error is not None:
            raise self.error
        return self.answer


async def run(runtime, work, *, key="k-1", fingerprint="fp-1", scope=SCOPE, **kwargs):
    return await run_idempotent(
        runtime.sessions, scope=scope, key=key, fingerprint=fingerprint, execute=work, **kwargs
    )


async def _row(session, key="k-1", scope=SCOPE):
    await session.rollback()  # a fresh snapshot
    return await session.get(IdempotencyKey, (scope, key))


def _move_clock(delta):
    moved = clock.now() + delta
    clock.set_source(lambda: moved)


async def test_fifty_concurrent_copies_run_once_and_get_one_answer(runtime, session):
    work = Work(delay=0.3)
    replays = await asyncio.gather(*(run(runtime, work) for _ in range(50)))
    assert work.calls == 1
    assert {(r.response.status, str(r.response.body)) for r in replays} == {
        (201, str({"id": "obj_1", "amount": 1999}))
    }
    assert sorted(r.replayed for r in replays) == [False] + [True] * 49
    row = await _row(session)
    assert (row.state, row.response_status, row.owner) == ("completed", 201, None)
    assert row.expires_at == row.created_at + idempotency.TTL


async def test_a_replay_carries_the_header_and_the_first_body(runtime):
    work = Work()
    first = (await run(runtime, work)).to_response()
    second = (await run(runtime, work)).to_response()
    assert work.calls == 1
    assert first.body == second.body and first.status_code == second.status_code == 201
    assert idempotency.REPLAYED_HEADER.lower() not in first.headers
    assert second.headers[idempotency.REPLAYED_HEADER] == "true"


async def test_same_key_with_another_body_is_422(runtime):
    work = Work()
    await run(runtime, work)
    with pytest.raises(IdempotencyKeyReused) as caught:
        await run(runtime, work, fingerprint="fp-other")
    assert caught.value.status_code == 422
    assert (caught.value.code, caught.value.param) == ("idempotency_key_reused", "Idempotency-Key")
    assert work.calls == 1


async def test_another_body_is_refused_while_the_first_still_runs(runtime):
    slow = Work(delay=0.5)
    first = asyncio.create_task(run(runtime, slow))
    await asyncio.sleep(0.15)
    with pytest.raises(IdempotencyKeyReused):
        await run(runtime, Work(), fingerprint="fp-other")
    assert (await first).response.status == 201


async def test_the_same_key_of_another_caller_is_another_key(runtime):
    work = Work()
    await run(runtime, work, scope="key_a")
    again = await run(runtime, work, scope="key_b", fingerprint="fp-2")
    assert work.calls == 2 and not again.replayed


async def test_after_24_hours_the_key_is_new(runtime, session):
    work = Work()
    await run(runtime, work)
    _move_clock(idempotency.TTL - timedelta(seconds=1))
    assert (await run(runtime, work)).replayed
    _move_clock(timedelta(seconds=2))
    fresh = await run(runtime, work, fingerprint="fp-after-a-day")
    assert not fresh.replayed and work.calls == 2
    assert (await _row(session)).fingerprint == "fp-after-a-day"


async def test_a_5xx_answer_is_not_stored_and_a_retry_runs_again(runtime, session):
    failing = Work(answer=StoredResponse(503, {"error": {"code": "gateway_unavailable"}}))
    first = await run(runtime, failing)
    assert first.response.status == 503 and not first.replayed
    assert await _row(session) is None
    ok = Work()
    second = await run(runtime, ok)
    assert (second.response.status, second.replayed, ok.calls) == (201, False, 1)


async def test_an_unexpected_error_releases_the_key(runtime, session):
    broken = Work(error=RuntimeError("connection reset"))
    with pytest.raises(RuntimeError):
        await run(runtime, broken)
    assert await _row(session) is None
    assert (await run(runtime, Work())).response.status == 201


async def test_a_5xx_app_error_propagates_and_is_not_stored(runtime, session):
    class GatewayDown(AppError):
        status_code = 502

    with pytest.raises(GatewayDown):
        await run(runtime, Work(error=GatewayDown("down")))
    assert await _row(session) is None


async def test_a_4xx_error_is_the_stored_answer(runtime):
    declined = Work(error=InvalidRequest("Card declined.", code="card_declined", param="card"))
    first = await run(runtime, declined)
    second = await run(runtime, declined)
    assert declined.calls == 1
    assert first.response == second.response and second.replayed
    assert first.response.status == 400
    error = first.response.body["error"]
    assert (error["code"], error["param"], error["type"]) == (
        "card_declined",
        "card",
        "invalid_request_error",
    )


async def _crashed_claim(runtime, *, locked_until, fingerprint="fp-1"):
    now = clock.now()
    async with runtime.sessions.begin() as writer:
        await writer.execute(
            insert(IdempotencyKey).values(
                scope=SCOPE,
                key="k-1",
                fingerprint=fingerprint,
                state="in_progress",
                owner="dead-worker",
                locked_until=locked_until,
                created_at=now,
                expires_at=now + idempotency.TTL,
            )
        )


async def test_a_claim_left_by_a_crash_is_taken_over_after_its_lease(runtime, session):
    await _crashed_claim(runtime, locked_until=clock.now() - timedelta(seconds=1))
    work = Work()
    replay = await run(runtime, work)
    assert (work.calls, replay.replayed) == (1, False)
    assert (await _row(session)).state == "completed"


async def test_a_live_claim_makes_a_duplicate_wait_then_409(runtime):
    await _crashed_claim(runtime, locked_until=clock.now() + idempotency.LEASE)
    work = Work()
    with pytest.raises(Conflict) as caught:
        await run(runtime, work, wait=0.3)
    assert caught.value.code == "idempotency_key_in_progress"
    assert caught.value.headers == {"Retry-After": "1"}
    assert work.calls == 0


async def test_a_duplicate_waits_for_the_first_answer(runtime):
    slow = Work(delay=0.6)
    first = asyncio.create_task(run(runtime, slow))
    await asyncio.sleep(0.1)
    second = await run(runtime, Work())
    assert second.replayed and second.response == (await first).response


async def test_without_a_key_the_work_just_runs(runtime, session):
    work = Work()
    await run(runtime, work, key=None)
    await run(runtime, work, key=None)
    assert work.calls == 2
    assert (await session.scalars(select(IdempotencyKey))).all() == []


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there", "caf\u00e9"])
async def test_a_malformed_key_is_a_400_naming_the_header(runtime, key):
    work = Work()
    with pytest.raises(InvalidRequest) as caught:
        await run(runtime, work, key=key)
    assert (caught.value.param, caught.value.code) == ("Idempotency-Key", "invalid_idempotency_key")
    assert work.calls == 0


async def test_a_255_character_key_is_accepted(runtime):
    assert (await run(runtime, Work(), key="k" * 255)).response.status == 201


async def test_purge_deletes_expired_keys_only(runtime, session):
    await run(runtime, Work(), key="old")
    _move_clock(timedelta(hours=23))
    await run(runtime, Work(), key="young")
    _move_clock(timedelta(hours=2))
    async with runtime.sessions.begin() as writer:
        next_run = await idempotency.purge_expired(writer, {})
    assert next_run == clock.now() + idempotency.PURGE_EVERY
    await session.rollback()
    keys = (await session.scalars(select(IdempotencyKey.key))).all()
    assert keys == ["young"]


def test_fingerprint_ignores_json_layout_but_not_content(runtime):
    ring = runtime.keyring

    def fp(body, path="/api/v1/payments", scope=SCOPE):
        return idempotency.fingerprint(ring, scope=scope, method="POST", path=path, body=body)

    base = fp(b'{"amount": 100, "currency": "USD"}')
    assert fp(b'{"currency":"USD",\n "amount":100}') == base
    assert fp(b'{"amount": 101, "currency": "USD"}') != base
    assert fp(b'{"amount": 100, "currency": "USD"}', path="/api/v1/refunds") != base
    assert fp(b"not json") != base and fp(b"not json") == fp(b"not json")
    # Keyed: not the bare SHA-256 of the request, so a stored fingerprint reveals no card.
    assert len(base) == 64 and base != fp(b'{"amount": 100, "currency": "USD"}', scope="other")


async def test_a_slow_winner_keeps_its_claim_past_the_lease(runtime, monkeypatch):
    """The heartbeat: work that outlasts the lease is not taken over by a waiting duplicate."""
    monkeypatch.setattr(idempotency, "LEASE", timedelta(seconds=0.3))
    slow = Work(delay=1.2)
    first = asyncio.create_task(run(runtime, slow))
    await asyncio.sleep(0.1)
    second = await run(runtime, slow)
    assert slow.calls == 1
    assert second.replayed and second.response == (await first).response

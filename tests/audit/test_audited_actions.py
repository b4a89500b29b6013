"""What the audit log records beyond CRUD: payments, captures, voids and refunds (once each,
off the payment's transactions), failed logins (never the password) and master key rotations;
every one of them linked into the organization's chain."""

import json
from typing import Any

import httpx
from sqlalchemy import select

from avnz.audit import service as audit
from avnz.audit.models import AuditLog
from avnz.audit.payment_events import audit_payment_events
from avnz.audit.verify import verify_chain
from avnz.outbox import service as outbox
from avnz.runtime import Runtime
from avnz.security.rotation import reencrypt_all
from avnz.tenancy import service as tenancy
from avnz.tenancy.models import Role
from tests.factories import World
from tests.support.payments import API, pay
from tests.web.conftest import csrf_of

WRONG_PASSWORD = "Tr0ub4dor&3-not-it"


async def _rows(runtime: Runtime, **filters: Any) -> list[AuditLog]:
    async with runtime.sessions() as session:
        found = await session.scalars(select(AuditLog).filter_by(**filters).order_by(AuditLog.seq))
        return list(found)


async def _audit_events(runtime: Runtime) -> int:
    async with runtime.sessions.begin() as session:
        return await audit_payment_events(session)


def _text(row: AuditLog) -> str:
    return json.dumps([getattr(row, c.key) for c in AuditLog.__mapper__.column_attrs], default=str)


async def test_payments_captures_voids_and_refunds_are_audited_once(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    account: dict[str, Any],
    runtime: Runtime,
    world: World,
) -> None:
    sale = (await pay(client, headers, email="buyer@example.com", ip_address="203.0.113.9")).json()
    held = (await pay(client, headers, amount=5000, capture=False)).json()
    url = f"{API}/payments/{held['id']}"
    assert (await client.post(f"{url}/capture", json={"amount": 4000}, headers=headers)).is_success
    refund = await client.post(f"{url}/refunds", json={"amount": 1500}, headers=headers)
    assert refund.status_code == 201, refund.text
    voided = (await pay(client, headers, capture=False)).json()
    void = await client.post(f"{API}/payments/{voided['id']}/void", headers=headers)
    assert void.status_code == 201, void.text

    # Nothing on the payments' own transactions: the rows come from their events, later.
    assert await _rows(runtime, actor_type="payments") == []
    assert await _audit_events(runtime) >= 6
    assert await _audit_events(runtime) == 0  # every event is taken once

    rows = await _rows(runtime, actor_type="payments")
    seen = [(r.action, r.resource, r.resource_id) for r in rows]
    assert sorted(seen) == sorted(
        [
            ("CREATE", "payment", sale["id"]),
            ("CREATE", "payment", held["id"]),
            ("CAPTURE", "payment", held["id"]),
            ("REFUND", "refund", refund.json()["id"]),
            ("CREATE", "payment", voided["id"]),
            ("VOID", "payment", voided["id"]),
        ]
    )
    by_event = {r.metadata_["event"]: r for r in rows}
    assert by_event["payment.refunded"].new_value["refund_amount"] == 1500  # type: ignore[index]
    assert by_event["payment.refunded"].metadata_["payment_id"] == held["id"]
    assert by_event["payment.captured"].new_value["amount_captured"] == 4000  # type: ignore[index]
    assert by_event["payment.succeeded"].new_value["card"] == {"brand": "visa", "last4": "1111"}  # type: ignore[index]
    assert len({r.metadata_["event_id"] for r in rows}) == len(rows)
    company = world.a.company
    assert {(r.organization_id, r.client_id, r.company_id) for r in rows} == {
        (company.organization_id, company.client_id, company.id)
    }
    for row in rows:
        text = _text(row)
        assert "buyer@example.com" not in text and "203.0.113.9" not in text
        assert "4111111111111111" not in text
    async with runtime.sessions() as session:
        report = await verify_chain(session, world.organization.id)
    assert report.intact and report.rows >= len(rows)


async def test_a_failed_api_login_is_audited_without_the_password(
    client: httpx.AsyncClient, world: World, runtime: Runtime
) -> None:
    user = world.a.users[Role.COMPANY_USER]
    response = await client.post(
        f"{API}/auth/login",
        json={"email": user.email, "password": WRONG_PASSWORD},
        headers={"User-Agent": "guesser/1"},
    )
    assert response.status_code == 401
    rows = await _rows(runtime, action="LOGIN_FAILED")
    assert len(rows) == 1
    row = rows[0]
    assert (row.resource, row.resource_id, row.user_id, row.user_email) == (
        "user",
        user.id,
        user.id,
        user.email,
    )
    assert (row.organization_id, row.company_id) == (user.organization_id, user.company_id)
    assert row.metadata_ == {"reason": "wrong_password", "method": "password"}
    assert row.user_agent == "guesser/1" and row.request_id == response.headers["x-request-id"]
    assert WRONG_PASSWORD not in _text(row)
    assert row.seq is not None and row.hash is not None


async def test_an_unknown_email_leaves_no_audit_row(
    client: httpx.AsyncClient, world: World, runtime: Runtime
) -> None:
    response = await client.post(
        f"{API}/auth/login", json={"email": "nobody@example.com", "password": WRONG_PASSWORD}
    )
    assert response.status_code == 401
    assert await _rows(runtime, action="LOGIN_FAILED") == []


async def test_a_failed_dashboard_login_is_audited(
    app: object, world: World, runtime: Runtime
) -> None:
    user = world.a.users[Role.COMPANY_ADMIN]
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        form = await client.get("/login")
        data = {"email": user.email, "password": WRONG_PASSWORD, "csrf_token": csrf_of(form.text)}
        response = await client.post("/login", data=data)
    assert response.status_code == 401
    rows = await _rows(runtime, action="LOGIN_FAILED", user_id=user.id)
    assert len(rows) == 1 and WRONG_PASSWORD not in _text(rows[0])


async def test_a_master_key_rotation_is_audited_in_every_organization(
    runtime: Runtime, world: World
) -> None:
    report = await reencrypt_all(runtime.sessions, runtime.keyring)
    async with runtime.sessions.begin() as session:
        organizations = await tenancy.all_organization_ids(session=session)
        audit.record_key_rotation(
            session,
            organization_ids=organizations,
            key_version=report.newest_version,
            re_encrypted=report.rewritten,
        )
    rows = await _rows(runtime, action="ROTATE")
    assert [r.organization_id for r in rows] == [world.organization.id]
    assert rows[0].resource == "master_keys"
    assert rows[0].metadata_["key_version"] == report.newest_version
    assert rows[0].metadata_["re_encrypted"] == report.rewritten
    async with runtime.sessions() as session:
        assert (await verify_chain(session, world.organization.id)).intact


async def test_a_batch_that_rolls_back_leaves_its_events_for_the_next_run(
    runtime: Runtime, world: World
) -> None:
    company = world.a.company
    async with runtime.sessions.begin() as session:
        outbox.emit(
            session,
            "payment.voided",
            organization_id=company.organization_id,
            client_id=company.client_id,
            company_id=company.id,
            payload={"payment": {"id": "pay_x", "status": "voided", "amount": 100}},
        )
    try:
        async with runtime.sessions.begin() as session:
            assert await audit_payment_events(session) == 1
            raise RuntimeError("the worker died before its commit")
    except RuntimeError:
        pass
    assert await _rows(runtime, actor_type="payments") == []
    assert await _audit_events(runtime) == 1
    rows = await _rows(runtime, actor_type="payments")
    assert [(r.action, r.resource_id) for r in rows] == [("VOID", "pay_x")]

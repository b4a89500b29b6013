"""Disputes (issue 19 item 5): Stripe's dispute webhooks, verified with the account's webhook
secret; CSV imports for the other gateways; the list and read API; the chargeback mark that
lowers the account's health; the networks' monitoring programs as warnings on the account."""

import json
import re
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.core import clock
from avnz.disputes import programs
from avnz.disputes.stripe import sign
from avnz.payments import history, publishing
from avnz.payments.models import Payment
from avnz.routing.accounts import health
from avnz.routing.accounts.schemas import HealthMetrics
from avnz.routing.decisions import scoring
from avnz.runtime import Runtime
from avnz.tenancy.models import Role
from tests.factories import World
from tests.routing.factories import account_body
from tests.support.payments import pay
from tests.web.conftest import SignIn

SECRET = "whsec_test0123456789abcdef"
DISPUTES = "/api/v1/disputes"


async def stripe_account(
    client: httpx.AsyncClient, headers: dict[str, str], sandboxes: str, **credentials: str
) -> dict[str, Any]:
    body = account_body(None, "stripe", base_url=f"{sandboxes}/stripe")
    body["credentials"] = {**body["credentials"], **credentials}
    response = await client.post("/api/v1/merchant-accounts", json=body, headers=headers)
    assert response.status_code == 201, response.text
    found: dict[str, Any] = response.json()
    return found


async def paid(client: httpx.AsyncClient, headers: dict[str, str], account_id: str) -> Any:
    response = await pay(client, headers, merchant_account_id=account_id)
    assert response.status_code == 201, response.text
    payment = response.json()
    assert payment["status"] == "captured", payment
    return payment


def dispute_event(kind: str, payment_intent: str, status: str, **fields: Any) -> dict[str, Any]:
    due = int(time.time()) + 7 * 86400
    dispute = {
        "id": "dp_1TestDispute",
        "object": "dispute",
        "amount": 1999,
        "currency": "usd",
        "charge": "ch_unknown",
        "payment_intent": payment_intent,
        "reason": "fraudulent",
        "network_reason_code": "10.4",
        "status": status,
        "created": int(time.time()),
        "evidence_details": {"due_by": due},
        **fields,
    }
    return {"id": "evt_1", "object": "event", "type": kind, "data": {"object": dispute}}


async def send(
    client: httpx.AsyncClient,
    account_id: str,
    event: dict[str, Any],
    secret: str = SECRET,
    at: int | None = None,
) -> httpx.Response:
    payload = json.dumps(event).encode()
    header = sign(payload, secret, at or int(time.time()))
    return await client.post(
        f"/api/v1/gateway-webhooks/stripe/{account_id}",
        content=payload,
        headers={"Stripe-Signature": header, "Content-Type": "application/json"},
    )


async def test_a_stripe_dispute_webhook_records_it_and_lowers_the_accounts_health(
    client: httpx.AsyncClient,
    world: World,
    runtime: Runtime,
    session: AsyncSession,
    sandboxes: str,
) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    account = await stripe_account(client, headers, sandboxes, webhook_secret=SECRET)
    # Enough payments for a health score (routing.decisions.scoring.MIN_SAMPLE).
    payments = [await paid(client, headers, account["id"]) for _ in range(scoring.MIN_SAMPLE)]
    intent = payments[0]["gateway"]["transaction_id"]

    async def score() -> tuple[int, int]:
        async with runtime.sessions.begin() as publishing_session:
            await publishing.publish_settled(publishing_session)  # the routing attempts
        async with runtime.sessions() as reading:
            found = await health.windows(reading, [account["id"]], history.money_windows)
        metrics = HealthMetrics()
        found[account["id"]].apply(metrics)
        return found[account["id"]].chargebacks, scoring.health_score(metrics)

    before = await score()
    response = await send(
        client, account["id"], dispute_event("charge.dispute.created", intent, "needs_response")
    )
    assert response.status_code == 200, response.text
    dispute_id = response.json()["dispute_id"]
    after = await score()
    assert before[0] == 0 and after[0] == 1
    assert after[1] < before[1]

    dispute = (await client.get(f"{DISPUTES}/{dispute_id}", headers=headers)).json()
    assert dispute["payment_id"] == payments[0]["id"]
    assert (dispute["status"], dispute["gateway_status"]) == ("open", "needs_response")
    assert (dispute["amount"], dispute["currency"], dispute["reason_code"]) == (1999, "USD", "10.4")
    assert dispute["evidence_due_by"] is not None
    assert dispute["card_brand"] == "visa"
    await session.rollback()
    marked = await session.scalar(
        select(Payment.chargeback_at).where(Payment.id == payments[0]["id"])
    )
    assert marked is not None

    # Closed as lost, then a late "updated" report: the outcome stays, one dispute in all.
    closed = dispute_event("charge.dispute.closed", intent, "lost")
    assert (await send(client, account["id"], closed)).json()["dispute_id"] == dispute_id
    late = dispute_event("charge.dispute.updated", intent, "under_review")
    assert (await send(client, account["id"], late)).status_code == 200
    dispute = (await client.get(f"{DISPUTES}/{dispute_id}", headers=headers)).json()
    assert (dispute["status"], dispute["gateway_status"]) == ("lost", "under_review")
    assert dispute["closed_at"] is not None
    listed = (await client.get(DISPUTES, headers=headers)).json()
    assert [d["id"] for d in listed["data"]] == [dispute_id]


@pytest.mark.parametrize(
    ("secret", "age", "code"),
    [
        ("whsec_another0123456789", 0, "invalid_signature"),
        (SECRET, 3600, "invalid_signature"),  # a replay an hour old
    ],
)
async def test_an_unverified_webhook_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, world: World, sandboxes: str, secret: str, age: int, code: str
) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    account = await stripe_account(client, headers, sandboxes, webhook_secret=SECRET)
    payment = await paid(client, headers, account["id"])
    event = dispute_event(
        "charge.dispute.created", payment["gateway"]["transaction_id"], "needs_response"
    )
    response = await send(client, account["id"], event, secret, int(time.time()) - age)
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == code
    unsigned = await client.post(
        f"/api/v1/gateway-webhooks/stripe/{account['id']}", content=json.dumps(event).encode()
    )
    assert unsigned.status_code == 401
    assert (await client.get(DISPUTES, headers=headers)).json()["data"] == []


async def test_an_account_without_a_webhook_secret_refuses_webhooks(
    client: httpx.AsyncClient, world: World, sandboxes: str
) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    account = await stripe_account(client, headers, sandboxes)
    event = dispute_event("charge.dispute.created", "pi_x", "needs_response")
    response = await send(client, account["id"], event)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "webhook_secret_missing"


async def test_csv_import_list_filters_pagination_and_tenancy(
    client: httpx.AsyncClient, world: World, account: dict[str, Any]
) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    payments = [await paid(client, headers, account["id"]) for _ in range(3)]
    rows = [
        "provider,dispute_id,transaction_id,status,amount,currency,reason_code,evidence_due_by",
        f"nmi,cb-1,{payments[0]['gateway']['transaction_id']},open,1999,USD,13.1,2026-12-20",
        f"nmi,cb-2,{payments[1]['id']},won,1999,USD,4853,",
        f"nmi,cb-3,{payments[2]['gateway']['transaction_id']},lost,1999,USD,10.4,",
        "nmi,cb-4,nope,open,1999,USD,,",
        f"nmi,cb-5,{payments[0]['id']},maybe,1999,USD,,",
    ]
    response = await client.post(
        f"{DISPUTES}/import", json={"csv": "\n".join(rows)}, headers=headers
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["created"], report["updated"]) == (3, 0)
    assert [error.split(":")[0] for error in report["errors"]] == ["row 5", "row 6"]

    lost = (await client.get(DISPUTES, params={"status": "lost"}, headers=headers)).json()
    assert [d["gateway_dispute_id"] for d in lost["data"]] == ["cb-3"]
    by_payment = await client.get(
        DISPUTES, params={"payment_id": payments[1]["id"]}, headers=headers
    )
    assert [d["status"] for d in by_payment.json()["data"]] == ["won"]
    first = (await client.get(DISPUTES, params={"limit": 2}, headers=headers)).json()
    assert first["has_more"] is True and len(first["data"]) == 2
    rest = await client.get(
        DISPUTES, params={"limit": 2, "starting_after": first["data"][-1]["id"]}, headers=headers
    )
    assert len(rest.json()["data"]) == 1
    open_one = next(d for d in first["data"] + rest.json()["data"] if d["status"] == "open")
    assert open_one["evidence_due_by"].startswith("2026-12-20")

    other = world.headers(Role.COMPANY_ADMIN, agency="b")
    assert (await client.get(DISPUTES, headers=other)).json()["data"] == []
    assert (await client.get(f"{DISPUTES}/{open_one['id']}", headers=other)).status_code == 404
    # The other agency cannot import against these payments either.
    again = await client.post(
        f"{DISPUTES}/import", json={"csv": "\n".join(rows[:2])}, headers=other
    )
    assert again.json()["created"] == 0 and len(again.json()["errors"]) == 1


async def test_a_file_without_the_columns_is_a_400(client: httpx.AsyncClient, world: World) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    response = await client.post(
        f"{DISPUTES}/import", json={"csv": "id,amount\n1,2\n"}, headers=headers
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "csv"
    assert "dispute_id" in response.json()["error"]["message"]


def test_program_levels_need_both_ratio_and_count() -> None:
    [vamp, ecp] = programs.PROGRAMS
    quiet = programs.standing(vamp, 10, 10_000)  # 0.1 %
    assert (quiet.ratio, quiet.level, quiet.over_ratio) == (Decimal("0.001"), None, None)
    small = programs.standing(vamp, 2, 100)  # 2 %: over the ratio, far under 1,501 disputes
    assert small.level is None and small.over_ratio is not None
    assert programs.standing(vamp, 1600, 100_000).level is not None  # 1.6 % and 1,600
    assert programs.standing(vamp, 1400, 100_000).level is None  # 1.4 %
    assert programs.standing(ecp, 120, 10_000).level.name == "cmm"  # type: ignore[union-attr]
    assert programs.standing(ecp, 160, 10_000).level.name == "ecm"  # type: ignore[union-attr]
    assert programs.standing(ecp, 310, 10_000).level.name == "hecm"  # type: ignore[union-attr]
    assert programs.standing(ecp, 5, 0).ratio is None


async def test_the_account_shows_the_programs_warnings(
    client: httpx.AsyncClient, world: World, account: dict[str, Any]
) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    url = f"/api/v1/merchant-accounts/{account['id']}/dispute-monitoring"
    calm = (await client.get(url, headers=headers)).json()
    assert calm["warnings"] == []
    assert {p["program"]: p["ratio"] for p in calm["programs"]} == {
        "visa_vamp": None,
        "mastercard_ecp": None,
    }
    payments = [await paid(client, headers, account["id"]) for _ in range(4)]
    row = f"nmi,cb-1,{payments[0]['id']},open,1999,USD,10.4,"
    csv = "provider,dispute_id,transaction_id,status,amount,currency,reason_code,x\n" + row
    assert (await client.post(f"{DISPUTES}/import", json={"csv": csv}, headers=headers)).json()[
        "created"
    ] == 1
    body = (await client.get(url, headers=headers)).json()
    vamp = next(p for p in body["programs"] if p["program"] == "visa_vamp")
    assert (vamp["disputes"], vamp["sales"], Decimal(vamp["ratio"])) == (1, 4, Decimal("0.25"))
    assert vamp["level"] is None  # far under 1,501 disputes
    [warning] = body["warnings"]
    assert "Visa VAMP" in warning and "25.00 %" in warning
    other = world.headers(Role.COMPANY_ADMIN, agency="b")
    assert (await client.get(url, headers=other)).status_code == 404


async def test_mastercard_counts_last_months_sales(
    client: httpx.AsyncClient, world: World, account: dict[str, Any]
) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    clock.set_source(lambda: datetime(2026, 11, 15, 12, tzinfo=UTC))
    old = [await paid_mastercard(client, headers, account["id"]) for _ in range(2)]
    clock.set_source(lambda: datetime(2026, 12, 10, 12, tzinfo=UTC))
    await paid_mastercard(client, headers, account["id"])
    row = f"nmi,cb-9,{old[0]['id']},open,1999,USD,4853,"
    csv = "provider,dispute_id,transaction_id,status,amount,currency,reason_code,x\n" + row
    await client.post(f"{DISPUTES}/import", json={"csv": csv}, headers=headers)
    url = f"/api/v1/merchant-accounts/{account['id']}/dispute-monitoring"
    body = (await client.get(url, headers=headers)).json()
    ecp = next(p for p in body["programs"] if p["program"] == "mastercard_ecp")
    # December's chargebacks over November's sales (December's own sale does not count).
    assert (body["month"], ecp["disputes"], ecp["sales"]) == ("2026-12", 1, 2)
    assert Decimal(ecp["ratio"]) == Decimal("0.5")
    assert ecp["level"] is None
    assert any("Mastercard ECP" in warning for warning in body["warnings"])


async def paid_mastercard(
    client: httpx.AsyncClient, headers: dict[str, str], account_id: str
) -> Any:
    card = {"number": "5555555555554444", "exp_month": 12, "exp_year": 2031, "cvv": "999"}
    response = await pay(client, headers, merchant_account_id=account_id, card=card)
    assert response.status_code == 201, response.text
    return response.json()


async def test_the_account_page_shows_the_warning(
    client: httpx.AsyncClient, world: World, account: dict[str, Any], signed_in: SignIn
) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    browser = await signed_in(Role.COMPANY_USER)
    page = await browser.get(f"/merchant-accounts/{account['id']}")
    assert page.status_code == 200
    assert 'data-testid="dispute-warning"' not in page.text
    assert 'data-testid="program-visa_vamp">0 disputes this month' in page.text
    payments = [await paid(client, headers, account["id"]) for _ in range(2)]
    row = f"nmi,cb-1,{payments[0]['id']},open,1999,USD,10.4,"
    csv = "provider,dispute_id,transaction_id,status,amount,currency,reason_code,x\n" + row
    await client.post(f"{DISPUTES}/import", json={"csv": csv}, headers=headers)
    page = await browser.get(f"/merchant-accounts/{account['id']}")
    [warning] = re.findall(r'data-testid="dispute-warning">(.*?)</div>', page.text, re.S)
    assert warning.startswith("Visa VAMP: 50.00 % of visa sales disputed this month")
    assert "50.00 % of sales" in page.text

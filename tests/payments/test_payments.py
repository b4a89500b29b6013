"""`/payments` end to end: the API, the orchestration and a real gateway sandbox over HTTP."""

from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.outbox.models import OutboxEvent
from avnz.tenancy.models import Role
from tests.commerce.factories import create_customer, create_order
from tests.factories import World
from tests.routing.factories import create_account
from tests.support.payments import API, VISA, card, ledger, pay


async def test_a_sale_is_captured_with_the_gateways_answer(
    client: httpx.AsyncClient, headers: dict[str, str], account: dict[str, Any], sandboxes: str
) -> None:
    response = await pay(client, headers, description="Box #12", metadata={"sku": "BOX-12"})
    assert response.status_code == 201, response.text
    payment = response.json()
    assert (payment["status"], payment["kind"]) == ("captured", "sale")
    assert (payment["amount"], payment["amount_captured"], payment["currency"]) == (
        1999,
        1999,
        "USD",
    )
    assert payment["merchant_account_id"] == account["id"]
    assert payment["provider"] == "nmi"
    assert payment["routing"]["account_id"] == account["id"]
    gateway = payment["gateway"]
    assert gateway["outcome"] == "approved" and gateway["auth_code"] == "123456"
    assert gateway["cvv_result"] == "match"  # the NMI sandbox matches CVV 999
    assert payment["card"] == {"brand": "visa", "bin": "411111", "last4": "1111", "country": "US"}
    assert payment["payment_method_id"].startswith("pm_")
    assert VISA not in response.text and "999" not in str(payment["card"])
    [at_gateway] = [t for t in await ledger(sandboxes) if t["order_id"] == payment["id"]]
    assert at_gateway["id"] == gateway["transaction_id"] and at_gateway["amount"] == 1999

    fetched = await client.get(f"{API}/payments/{payment['id']}", headers=headers)
    assert fetched.json() == payment


async def test_a_vaulted_card_pays_again(
    client: httpx.AsyncClient, headers: dict[str, str], account: dict[str, Any]
) -> None:
    first = (await pay(client, headers)).json()
    again = await pay(client, headers, card=None, payment_method_id=first["payment_method_id"])
    assert again.status_code == 201, again.text
    assert again.json()["status"] == "captured"
    assert again.json()["payment_method_id"] == first["payment_method_id"]


async def test_authorize_capture_in_part_then_refund_in_parts(
    client: httpx.AsyncClient, headers: dict[str, str], account: dict[str, Any]
) -> None:
    authorized = (await pay(client, headers, amount=5000, capture=False)).json()
    assert authorized["status"] == "authorized" and authorized["amount_captured"] == 0
    url = f"{API}/payments/{authorized['id']}"

    too_much = await client.post(f"{url}/capture", json={"amount": 5001}, headers=headers)
    assert too_much.status_code == 400 and too_much.json()["error"]["code"] == "amount_too_large"

    captured = await client.post(f"{url}/capture", json={"amount": 4000}, headers=headers)
    assert captured.status_code == 201, captured.text
    assert (captured.json()["status"], captured.json()["amount_captured"]) == ("captured", 4000)
    again = await client.post(f"{url}/capture", headers=headers)
    assert again.status_code == 409 and again.json()["error"]["code"] == "invalid_state"

    part = await client.post(f"{url}/refunds", json={"amount": 1500}, headers=headers)
    assert part.status_code == 201, part.text
    assert (part.json()["status"], part.json()["amount"]) == ("succeeded", 1500)
    over = await client.post(f"{url}/refunds", json={"amount": 2501}, headers=headers)
    assert over.status_code == 400
    assert over.json()["error"]["message"] == (
        "Cannot refund 25.01 USD: 25.00 USD of the 40.00 USD captured is still refundable."
    )
    rest = await client.post(f"{url}/refunds", headers=headers)
    assert rest.status_code == 201 and rest.json()["amount"] == 2500

    final = (await client.get(url, headers=headers)).json()
    assert (final["status"], final["amount_refunded"]) == ("refunded", 4000)
    refunds = (await client.get(f"{url}/refunds", headers=headers)).json()
    assert [r["amount"] for r in refunds] == [1500, 2500]
    nothing_left = await client.post(f"{url}/refunds", headers=headers)
    assert nothing_left.status_code == 409


async def test_void_gives_the_capacity_back(
    client: httpx.AsyncClient, headers: dict[str, str], account: dict[str, Any]
) -> None:
    authorized = (await pay(client, headers, capture=False)).json()
    usage_url = f"{API}/merchant-accounts/{account['id']}/usage"
    assert _daily_count((await client.get(usage_url, headers=headers)).json()) == 1
    voided = await client.post(f"{API}/payments/{authorized['id']}/void", headers=headers)
    assert voided.status_code == 201, voided.text
    assert voided.json()["status"] == "voided"
    assert _daily_count((await client.get(usage_url, headers=headers)).json()) == 0
    refund = await client.post(f"{API}/payments/{authorized['id']}/refunds", headers=headers)
    assert refund.status_code == 409


def _daily_count(usage: dict[str, Any]) -> int:
    [day] = [b for b in usage["current"] if b["period"] == "day"]
    count: int = day["transaction_count"]
    return count


async def test_a_decline_is_recorded_and_releases_the_capacity(
    client: httpx.AsyncClient, headers: dict[str, str], account: dict[str, Any]
) -> None:
    declined = await pay(client, headers, amount=50)  # NMI's sandbox declines below 1.00
    assert declined.status_code == 201, declined.text
    payment = declined.json()
    assert payment["status"] == "declined"
    assert payment["gateway"]["outcome"] in ("soft_decline", "hard_decline")
    assert payment["gateway"]["decline_reason"]
    usage = await client.get(f"{API}/merchant-accounts/{account['id']}/usage", headers=headers)
    assert _daily_count(usage.json()) == 0
    capture = await client.post(f"{API}/payments/{payment['id']}/capture", headers=headers)
    assert capture.status_code == 409


@pytest.mark.parametrize(
    ("change", "status", "param"),
    [
        ({"card": card("4111111111111112")}, 400, "card.number"),
        ({"amount": 0}, 400, "amount"),
        ({"amount": -5}, 400, "amount"),
        ({"currency": "XYZ"}, 400, "currency"),
        ({"currency": "EUR"}, 422, None),  # no account settles in euros
        ({"card": None, "payment_method_id": "pm_unknown"}, 404, "payment_method_id"),
        ({"payment_method_id": "pm_both"}, 400, None),
        ({"customer_id": "cus_unknown"}, 404, "customer_id"),
        ({"capture": "sometimes"}, 400, "capture"),
    ],
)
async def test_bad_input_is_refused_and_charges_nothing(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    account: dict[str, Any],
    sandboxes: str,
    change: dict[str, Any],
    status: int,
    param: str | None,
) -> None:
    before = len(await ledger(sandboxes))
    response = await pay(client, headers, **change)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    if param is not None:
        assert error["param"] == param, error
    assert len(await ledger(sandboxes)) == before
    listed = await client.get(f"{API}/payments", headers=headers)
    assert listed.json()["data"] == []


async def test_another_tenants_payment_is_not_found(
    client: httpx.AsyncClient, world: World, headers: dict[str, str], account: dict[str, Any]
) -> None:
    payment = (await pay(client, headers, capture=False)).json()
    other = world.headers(Role.COMPANY_ADMIN, agency="b")
    for method, suffix in [
        ("GET", ""),
        ("POST", "/capture"),
        ("POST", "/void"),
        ("POST", "/refunds"),
    ]:
        response = await client.request(
            method, f"{API}/payments/{payment['id']}{suffix}", headers=other
        )
        assert response.status_code == 404, (method, suffix, response.text)
    assert (await client.get(f"{API}/payments", headers=other)).json()["data"] == []


async def test_list_filters(
    client: httpx.AsyncClient, headers: dict[str, str], account: dict[str, Any]
) -> None:
    small = (await pay(client, headers, amount=150)).json()
    large = (await pay(client, headers, amount=90_000, capture=False)).json()
    declined = (await pay(client, headers, amount=50)).json()

    async def ids(**params: Any) -> list[str]:
        page = await client.get(f"{API}/payments", params=params, headers=headers)
        assert page.status_code == 200, page.text
        return [p["id"] for p in page.json()["data"]]

    assert await ids() == [declined["id"], large["id"], small["id"]]  # newest first
    assert await ids(status="authorized") == [large["id"]]
    assert await ids(amount_gte=100, amount_lte=1000) == [small["id"]]
    assert await ids(merchant_account_id=account["id"], limit=1) == [declined["id"]]
    assert await ids(merchant_account_id="ma_other") == []
    assert (
        await client.get(f"{API}/payments", params={"status": "lost"}, headers=headers)
    ).status_code == 400


async def test_an_unreachable_gateway_fails_the_payment_and_charges_nothing(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    await create_account(client, headers, None, provider="nmi")  # base_url: nothing listens
    response = await pay(client, headers)
    assert response.status_code == 201, response.text
    payment = response.json()
    assert payment["status"] == "failed"
    assert payment["gateway"]["outcome"] == "error_before_send"


async def test_paying_an_order_marks_it_paid_and_counts_for_the_customer(
    client: httpx.AsyncClient, headers: dict[str, str], account: dict[str, Any]
) -> None:
    customer = await create_customer(client, headers, None)
    order = await create_order(client, headers, customer["id"])  # 2 x 5.00
    mismatch = await pay(client, headers, order_id=order["id"], customer_id=customer["id"])
    assert mismatch.status_code == 400 and mismatch.json()["error"]["code"] == "amount_mismatch"

    response = await pay(
        client,
        headers,
        order_id=order["id"],
        customer_id=customer["id"],
        amount=None,
        currency=None,
    )
    assert response.status_code == 201, response.text
    payment = response.json()
    assert (payment["amount"], payment["order_id"]) == (1000, order["id"])
    paid = (await client.get(f"{API}/orders/{order['id']}", headers=headers)).json()
    assert paid["status"] == "paid"
    buyer = (await client.get(f"{API}/customers/{customer['id']}", headers=headers)).json()
    assert (buyer["payments_count"], buyer["lifetime_value"]) == (1, 1000)

    again = await pay(client, headers, order_id=order["id"], amount=None, currency=None)
    assert again.status_code == 400 and again.json()["error"]["code"] == "order_not_payable"

    refund = await client.post(
        f"{API}/payments/{payment['id']}/refunds", json={"amount": 400}, headers=headers
    )
    assert refund.status_code == 201, refund.text
    after = (await client.get(f"{API}/orders/{order['id']}", headers=headers)).json()
    assert after["status"] == "partially_refunded"


async def test_a_named_account_takes_the_payment(
    client: httpx.AsyncClient, headers: dict[str, str], account: dict[str, Any], sandboxes: str
) -> None:
    stripe = await create_account(
        client, headers, None, provider="stripe", base_url=f"{sandboxes}/stripe"
    )
    default = (await pay(client, headers)).json()
    assert default["merchant_account_id"] == account["id"]  # the oldest eligible account
    named = await pay(
        client, headers, merchant_account_id=stripe["id"], card=card("4242424242424242")
    )
    assert named.status_code == 201, named.text
    assert (named.json()["provider"], named.json()["status"]) == ("stripe", "captured")
    unknown = await pay(client, headers, merchant_account_id="ma_nope")
    assert unknown.status_code == 404 and unknown.json()["error"]["param"] == "merchant_account_id"


@pytest.mark.parametrize("gateway", ["authorize_net", "nmi", "payflow", "stripe"])
async def test_every_gateway_charges_authorizes_captures_and_voids(
    client: httpx.AsyncClient, headers: dict[str, str], sandboxes: str, gateway: str
) -> None:
    mid = await create_account(
        client, headers, None, provider=gateway, base_url=f"{sandboxes}/{gateway}"
    )
    visa = card("4111111111111111", cvv="999")
    sale = await pay(client, headers, merchant_account_id=mid["id"], card=visa)
    assert sale.status_code == 201, sale.text
    assert (sale.json()["status"], sale.json()["provider"]) == ("captured", gateway)
    assert sale.json()["gateway"]["transaction_id"]

    captured = ""
    for follow_up, status in (("capture", "captured"), ("void", "voided")):
        held = await pay(client, headers, merchant_account_id=mid["id"], card=visa, capture=False)
        assert held.json()["status"] == "authorized", held.text
        done = await client.post(f"{API}/payments/{held.json()['id']}/{follow_up}", headers=headers)
        assert done.status_code == 201, done.text
        assert done.json()["status"] == status
        captured = captured or done.json()["id"]
    # A captured authorization is refunded like a sale (Payflow credits the capture's own id;
    # Authorize.Net refunds only what its daily batch settled).
    if gateway == "authorize_net":
        async with httpx.AsyncClient() as http:
            settled = await http.post(f"{sandboxes}/authorize_net/_sandbox/settle")
            assert settled.status_code == 200, settled.text
    refund = await client.post(
        f"{API}/payments/{captured}/refunds", json={"amount": 100}, headers=headers
    )
    assert refund.status_code == 201, refund.text
    assert refund.json()["status"] == "succeeded"


async def test_each_money_movement_emits_its_event(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    account: dict[str, Any],
    session: AsyncSession,
) -> None:
    sale = (await pay(client, headers)).json()
    held = (await pay(client, headers, capture=False)).json()
    await client.post(f"{API}/payments/{held['id']}/void", headers=headers)
    await client.post(f"{API}/payments/{sale['id']}/refunds", json={"amount": 100}, headers=headers)
    declined = (await pay(client, headers, amount=50)).json()

    rows = (await session.scalars(select(OutboxEvent).order_by(OutboxEvent.id))).all()
    seen = [(row.name, row.payload["payment"]["id"]) for row in rows]
    assert seen == [
        ("payment.succeeded", sale["id"]),
        ("payment.authorized", held["id"]),
        ("payment.voided", held["id"]),
        ("payment.refunded", sale["id"]),
        ("payment.failed", declined["id"]),
    ]
    assert all(row.company_id == sale["company_id"] for row in rows)
    assert VISA not in str([row.payload for row in rows])

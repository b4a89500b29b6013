"""Home, transactions list (filters, HTMX partial, CSV), detail, follow-ups and search, with
payments made through the API against the NMI sandbox."""

import csv
import io
import re
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.payments.models import Refund
from avnz.tenancy.models import Role
from tests.rules.support import create_rule
from tests.support.payments import API, pay
from tests.web.conftest import SignIn, csrf_of


async def _payments(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    """One approved sale of 19.99, one decline, one open authorization of 50.00."""
    approved = (await pay(client, headers)).json()
    declined = (await pay(client, headers, amount=50)).json()  # the NMI sandbox declines < 1.00
    authorized = (await pay(client, headers, amount=5000, capture=False)).json()
    assert (approved["status"], declined["status"], authorized["status"]) == (
        "captured",
        "declined",
        "authorized",
    )
    return {"approved": approved, "declined": declined, "authorized": authorized}


def _stat(html: str, test_id: str) -> str:
    found = re.search(rf'data-testid="{test_id}">.*?class="stat-value">([^<]*)<', html, re.S)
    assert found, test_id
    return found.group(1).strip()


async def test_home_figures_match_the_payments_made_through_the_api(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    account: dict[str, Any],
    signed_in: SignIn,
) -> None:
    await _payments(client, headers)
    page = await (await signed_in(Role.COMPANY_ADMIN)).get("/")
    assert page.status_code == 200
    summary = (await client.get(f"{API}/stats/summary", headers=headers)).json()
    assert summary["transactions"] == 3
    assert _stat(page.text, "stat-transactions") == "3"
    assert _stat(page.text, "stat-volume") == "$69.99"  # 19.99 captured + 50.00 authorized
    assert _stat(page.text, "stat-success") == "66.7%"  # 2 approved of 3 decided
    assert 'data-testid="recent-transactions"' in page.text
    assert page.text.count('href="/transactions/pay_') == 3
    assert 'id="chart-7d-data"' in page.text


async def test_the_list_filters_by_status_and_amount(
    client: httpx.AsyncClient, headers: dict[str, str], account: dict[str, Any], signed_in: SignIn
) -> None:
    made = await _payments(client, headers)
    dashboard = await signed_in(Role.COMPANY_USER)
    everything = (await dashboard.get("/transactions")).text
    assert all(made[k]["id"] in everything for k in made)
    declined = (await dashboard.get("/transactions", params={"status": "declined"})).text
    assert made["declined"]["id"] in declined
    assert made["approved"]["id"] not in declined
    assert "Status: declined" in declined  # the removable pill
    big = (await dashboard.get("/transactions", params={"amount_min": "1000"})).text
    assert made["authorized"]["id"] in big
    assert made["approved"]["id"] in big
    assert made["declined"]["id"] not in big
    by_id = (await dashboard.get("/transactions", params={"q": made["approved"]["id"]})).text
    assert made["approved"]["id"] in by_id and made["declined"]["id"] not in by_id
    nothing = (await dashboard.get("/transactions", params={"card_brand": "amex"})).text
    assert "Nothing matches these filters" in nothing


async def test_htmx_gets_only_the_table(
    client: httpx.AsyncClient, headers: dict[str, str], account: dict[str, Any], signed_in: SignIn
) -> None:
    await pay(client, headers)
    dashboard = await signed_in(Role.COMPANY_ADMIN)
    partial = await dashboard.get(
        "/transactions?sort=amount",
        headers={"HX-Request": "true", "HX-Target": "transactions-table"},
    )
    assert partial.status_code == 200
    assert "<html" not in partial.text
    assert 'id="transactions-table"' in partial.text
    assert 'aria-sort="ascending"' in partial.text


async def test_sorting_by_amount_orders_the_rows(
    client: httpx.AsyncClient, headers: dict[str, str], account: dict[str, Any], signed_in: SignIn
) -> None:
    made = await _payments(client, headers)
    dashboard = await signed_in(Role.COMPANY_ADMIN)
    html = (await dashboard.get("/transactions", params={"sort": "-amount"})).text
    order = [made[k]["id"] for k in ("authorized", "approved", "declined")]
    positions = [html.index(f'data-row-id="{payment_id}"') for payment_id in order]
    assert positions == sorted(positions)


async def test_csv_export_holds_the_same_filtered_rows(
    client: httpx.AsyncClient, headers: dict[str, str], account: dict[str, Any], signed_in: SignIn
) -> None:
    made = await _payments(client, headers)
    dashboard = await signed_in(Role.COMPANY_ADMIN)
    response = await dashboard.get("/transactions", params={"status": "captured", "format": "csv"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == 'attachment; filename="transactions.csv"'
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [row["ID"] for row in rows] == [made["approved"]["id"]]
    [row] = rows
    assert row["Amount"] == "1999"  # raw minor units, as the API gives them
    assert row["Currency"] == "USD"
    assert row["Status"] == "captured"
    assert row["Card"] == "visa •••• 1111"
    assert row["Account"] == account["name"]
    assert "4111111111111111" not in response.text


async def test_the_detail_shows_card_account_routing_and_refunds(
    client: httpx.AsyncClient, headers: dict[str, str], account: dict[str, Any], signed_in: SignIn
) -> None:
    payment = (await pay(client, headers)).json()
    refund = await client.post(
        f"{API}/payments/{payment['id']}/refunds", json={"amount": 500}, headers=headers
    )
    assert refund.status_code == 201, refund.text
    page = await (await signed_in(Role.COMPANY_USER)).get(f"/transactions/{payment['id']}")
    assert page.status_code == 200
    html = page.text
    assert "visa •••• 1111" in html
    assert "4111111111111111" not in html and "411111" not in html
    assert f'<a href="/merchant-accounts/{account["id"]}">{account["name"]}</a>' in html
    assert 'data-testid="refunds"' in html and refund.json()["id"] in html
    assert "$5.00" in html
    # A company user may read but not refund: no form is offered.
    assert 'data-testid="refund-form"' not in html


async def test_a_refund_through_the_form_reaches_the_gateway(
    client: httpx.AsyncClient, headers: dict[str, str], account: dict[str, Any], signed_in: SignIn
) -> None:
    payment = (await pay(client, headers)).json()
    dashboard = await signed_in(Role.COMPANY_ADMIN)
    detail = await dashboard.get(f"/transactions/{payment['id']}")
    assert 'data-testid="refund-form"' in detail.text
    response = await dashboard.post(
        f"/transactions/{payment['id']}/refund",
        data={"csrf_token": csrf_of(detail.text), "amount": "5.25", "reason": "damaged"},
    )
    assert response.status_code == 303
    refunds = (await client.get(f"{API}/payments/{payment['id']}/refunds", headers=headers)).json()
    assert [(r["amount"], r["status"], r["reason"]) for r in refunds] == [
        (525, "succeeded", "damaged")
    ]
    shown = await dashboard.get(response.headers["location"])
    assert "The refund was sent." in shown.text


@pytest.mark.parametrize(
    ("role", "token"),
    [
        (Role.COMPANY_ADMIN, None),  # no CSRF token
        (Role.COMPANY_ADMIN, "guess"),  # a wrong one
        (Role.COMPANY_USER, "own"),  # the right token, but no refund permission
    ],
)
async def test_a_refused_refund_changes_nothing(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    account: dict[str, Any],
    signed_in: SignIn,
    session: AsyncSession,
    role: Role,
    token: str | None,
) -> None:
    payment = (await pay(client, headers)).json()
    dashboard = await signed_in(role)
    if token == "own":
        token = csrf_of((await dashboard.get("/")).text)
    data = {"amount": "1.00", **({"csrf_token": token} if token else {})}
    response = await dashboard.post(f"/transactions/{payment['id']}/refund", data=data)
    assert response.status_code == 403
    assert await session.scalar(select(func.count()).select_from(Refund)) == 0


async def test_a_bad_refund_amount_is_explained_on_the_page(
    client: httpx.AsyncClient, headers: dict[str, str], account: dict[str, Any], signed_in: SignIn
) -> None:
    payment = (await pay(client, headers)).json()
    dashboard = await signed_in(Role.COMPANY_ADMIN)
    token = csrf_of((await dashboard.get(f"/transactions/{payment['id']}")).text)
    url = f"/transactions/{payment['id']}/refund"
    for amount, status in (("abc", 400), ("1.234", 400), ("500.00", 400), ("0", 400), ("-5", 400)):
        response = await dashboard.post(url, data={"csrf_token": token, "amount": amount})
        assert response.status_code == status, (amount, response.status_code)
        assert 'data-testid="action-error"' in response.text
    refunds = (await client.get(f"{API}/payments/{payment['id']}/refunds", headers=headers)).json()
    assert refunds == []


async def test_capture_and_void_through_the_forms(
    client: httpx.AsyncClient, headers: dict[str, str], account: dict[str, Any], signed_in: SignIn
) -> None:
    first = (await pay(client, headers, amount=5000, capture=False)).json()
    second = (await pay(client, headers, amount=7000, capture=False)).json()
    dashboard = await signed_in(Role.COMPANY_ADMIN)
    token = csrf_of((await dashboard.get(f"/transactions/{first['id']}")).text)
    captured = await dashboard.post(
        f"/transactions/{first['id']}/capture", data={"csrf_token": token}
    )
    voided = await dashboard.post(f"/transactions/{second['id']}/void", data={"csrf_token": token})
    assert (captured.status_code, voided.status_code) == (303, 303)
    statuses = [
        (await client.get(f"{API}/payments/{p['id']}", headers=headers)).json()["status"]
        for p in (first, second)
    ]
    assert statuses == ["captured", "voided"]


async def test_another_agency_cannot_see_the_payment(
    client: httpx.AsyncClient, headers: dict[str, str], account: dict[str, Any], signed_in: SignIn
) -> None:
    payment = (await pay(client, headers)).json()
    outsider = await signed_in(Role.CLIENT_ADMIN, "b")
    assert (await outsider.get(f"/transactions/{payment['id']}")).status_code == 404
    assert payment["id"] not in (await outsider.get("/transactions")).text
    found = await outsider.get("/search", params={"q": payment["id"]})
    assert f'href="/transactions/{payment["id"]}"' not in found.text
    assert "No results" in found.text


async def test_search_finds_payments_and_accounts_in_scope(
    client: httpx.AsyncClient, headers: dict[str, str], account: dict[str, Any], signed_in: SignIn
) -> None:
    payment = (await pay(client, headers)).json()
    dashboard = await signed_in(Role.COMPANY_ADMIN)
    by_id = (await dashboard.get("/search", params={"q": payment["id"]})).text
    assert f'href="/transactions/{payment["id"]}"' in by_id
    by_name = (await dashboard.get("/search", params={"q": account["name"][:5]})).text
    assert 'data-testid="search-accounts"' in by_name
    assert f'href="/merchant-accounts/{account["id"]}"' in by_name
    nothing = (await dashboard.get("/search", params={"q": "zzz-nothing"})).text
    assert "No results" in nothing


async def test_notifications_list_the_scope_s_recent_events(
    client: httpx.AsyncClient, headers: dict[str, str], account: dict[str, Any], signed_in: SignIn
) -> None:
    await pay(client, headers)
    mine = (await (await signed_in(Role.COMPANY_USER)).get("/notifications")).text
    assert "payment." in mine
    theirs = (await (await signed_in(Role.CLIENT_ADMIN, "b")).get("/notifications")).text
    assert "payment." not in theirs
    assert "No recent events." in theirs


async def test_the_detail_shows_the_matched_rule_and_its_conditions(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    account: dict[str, Any],
    signed_in: SignIn,
) -> None:
    brand = {"type": "payment_method", "field": "card_brand", "operator": "in"}
    big = {"type": "amount", "field": "amount", "operator": "gt", "value": 500_000}
    either = {"type": "group", "logic": "OR", "children": [
        {**brand, "value": ["visa", "mastercard"]}, big
    ]}  # fmt: skip
    await create_rule(
        client,
        headers,
        name="EU Visa",
        conditions=[either],
        actions=[{"type": "add_metadata", "metadata": {"tag": "x"}}],
    )
    payment = (await pay(client, headers)).json()
    assert payment["routing"]["rule_name"] == "EU Visa"
    html = (await (await signed_in(Role.COMPANY_USER)).get(f"/transactions/{payment['id']}")).text
    rule = re.search(r'data-testid="rule">(.*?)</dd>', html, re.S)
    assert rule and "EU Visa" in rule.group(1) and "v1" in rule.group(1)
    assert re.search(r'class="pass" data-path="conditions.0.children.0"', html)
    assert re.search(r'class="fail" data-path="conditions.0.children.1"', html)
    assert "any of" in html and "card brand" in html and "visa, mastercard" in html
    assert "500000" in html


async def test_a_double_submitted_refund_form_refunds_once(
    client: httpx.AsyncClient, headers: dict[str, str], account: dict[str, Any], signed_in: SignIn
) -> None:
    payment = (await pay(client, headers)).json()
    dashboard = await signed_in(Role.COMPANY_ADMIN)
    detail = (await dashboard.get(f"/transactions/{payment['id']}")).text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', detail)
    assert key
    form = {"csrf_token": csrf_of(detail), "idempotency_key": key.group(1), "amount": "2.00"}
    first = await dashboard.post(f"/transactions/{payment['id']}/refund", data=form)
    second = await dashboard.post(f"/transactions/{payment['id']}/refund", data=form)
    assert (first.status_code, second.status_code) == (303, 303)
    refunds = (await client.get(f"{API}/payments/{payment['id']}/refunds", headers=headers)).json()
    assert [r["amount"] for r in refunds] == [200]
    other = await dashboard.post(
        f"/transactions/{payment['id']}/refund", data={**form, "amount": "3.00"}
    )
    assert other.status_code == 422  # the same key for another refund is a mistake, not a replay
    assert 'data-testid="action-error"' in other.text


async def test_export_selected_keeps_only_those_rows_within_the_filters(
    client: httpx.AsyncClient, headers: dict[str, str], account: dict[str, Any], signed_in: SignIn
) -> None:
    made = await _payments(client, headers)
    dashboard = await signed_in(Role.COMPANY_ADMIN)
    chosen = f"{made['approved']['id']},{made['declined']['id']}"
    everything = await dashboard.get("/transactions", params={"format": "csv", "ids": chosen})
    ids = {row["ID"] for row in csv.DictReader(io.StringIO(everything.text))}
    assert ids == {made["approved"]["id"], made["declined"]["id"]}
    filtered = await dashboard.get(
        "/transactions", params={"format": "csv", "ids": chosen, "status": "declined"}
    )
    assert [r["ID"] for r in csv.DictReader(io.StringIO(filtered.text))] == [made["declined"]["id"]]
    outsider = await signed_in(Role.CLIENT_ADMIN, "b")
    theirs = await outsider.get("/transactions", params={"format": "csv", "ids": chosen})
    assert list(csv.DictReader(io.StringIO(theirs.text))) == []  # ids never widen the scope

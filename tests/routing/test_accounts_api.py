"""`/merchant-accounts` over the API: validation that names the field, credentials that are only
ever shown masked, the create/patch/delete lifecycle, audit entries, scope and permissions."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from avnz.audit.models import AuditLog
from avnz.core import clock
from avnz.gateways import registry
from avnz.routing.accounts import service as routing
from avnz.routing.accounts.models import MerchantAccount
from avnz.runtime import Runtime
from avnz.security.keyring import DecryptionError
from avnz.tenancy.models import Role
from tests.factories import World
from tests.routing.factories import API, UNREACHABLE, account_body, create_account

NMI_KEY = registry.GATEWAYS["nmi"].sandbox_credentials["security_key"]
NEW_NMI_KEY = "NewSecurityKey0000000000000000ZZ"


async def _row(session: Any, account_id: str) -> MerchantAccount:
    await session.rollback()  # a fresh snapshot: see what the app committed since
    account = await session.scalar(select(MerchantAccount).where(MerchantAccount.id == account_id))
    assert account is not None
    return account


# --- create ----------------------------------------------------------------------------------


async def test_create_encrypts_the_credentials_and_shows_them_masked(
    client: httpx.AsyncClient, world: World, runtime: Runtime, session: Any
) -> None:
    response = await client.post(
        API,
        json=account_body(
            world.a.company.id,
            name="NMI primary",
            tags=["primary", "primary", "us"],
            descriptor="GLOW*SKINCARE",
            limits={"daily_transaction_limit": 100, "max_transaction_amount": 50_000},
            fees={"base_percentage": "2.9", "base_flat_fee": 30},
            restrictions={"allowed_countries": ["us", "CA"], "blocked_card_brands": ["amex"]},
        ),
        headers=world.headers(Role.COMPANY_ADMIN),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["id"].startswith("ma_")
    assert body["company_id"] == world.a.company.id
    assert body["client_id"] == world.a.client.id
    assert body["credentials"] == {"security_key": f"••••{NMI_KEY[-4:]}"}
    assert NMI_KEY not in response.text
    assert body["has_credentials"] is True and body["credentials_mode"] == "own"
    assert body["status"] == "active" and body["status_changed_at"] is not None
    assert body["tags"] == ["primary", "us"]
    assert body["restrictions"]["allowed_countries"] == ["US", "CA"]
    assert body["fees"]["base_percentage"] == "2.9"
    assert body["limits"]["daily_transaction_limit"] == 100
    assert [(u["period"], u["transaction_count"]) for u in body["usage"]] == [
        ("day", 0),
        ("week", 0),
        ("month", 0),
        ("year", 0),
    ]
    assert body["usage"][0]["transaction_limit"] == 100
    assert body["usage"][0]["transactions_remaining"] == 100

    account = await _row(session, body["id"])
    assert account.credentials_ciphertext is not None
    assert NMI_KEY not in account.credentials_ciphertext
    assert routing.decrypt_credentials(runtime.keyring, account) == {"security_key": NMI_KEY}


async def test_the_ciphertext_is_bound_to_its_account(
    client: httpx.AsyncClient, world: World, runtime: Runtime, session: Any
) -> None:
    headers = world.headers(Role.ORGANIZATION_ADMIN)
    first = await create_account(client, headers, world.a.company.id)
    second = await create_account(client, headers, world.a.company.id)
    stolen = (await _row(session, first["id"])).credentials_ciphertext
    target = await _row(session, second["id"])
    target.credentials_ciphertext = stolen
    with pytest.raises(DecryptionError):
        routing.decrypt_credentials(runtime.keyring, target)


def _valid_for(provider: str) -> dict[str, Any]:
    return dict(registry.GATEWAYS[provider].sandbox_credentials)


@pytest.mark.parametrize(
    ("overrides", "param"),
    [
        ({"credentials": {}}, "credentials.security_key"),
        ({"credentials": {"security_key": "k" * 32, "pin": "1234"}}, "credentials.pin"),
        ({"credentials": {"security_key": 12345}}, "credentials.security_key"),
        ({"credentials": {"security_key": ""}}, "credentials.security_key"),
        (
            {"provider_type": "stripe", "credentials": {"secret_key": "pk_live_NotASecretKey99"}},
            "credentials.secret_key",
        ),
        (
            {
                "provider_type": "authorize_net",
                "credentials": {**_valid_for("authorize_net"), "transaction_key": "Short7"},
            },
            "credentials.transaction_key",
        ),
        (
            {"provider_type": "payflow", "credentials": {"partner": "PayPal", "vendor": "v"}},
            "credentials.password",
        ),
        ({"provider_type": "paypal"}, "provider_type"),
        ({"currency": "ABC"}, "currency"),
        ({"environment": "staging"}, "environment"),
        ({"environment": "production"}, "base_url"),
        ({"base_url": "ftp://127.0.0.1/x"}, "base_url"),
        ({"name": ""}, "name"),
        ({"name": "Bad\x00name"}, "name"),
        ({"color": "red"}, "color"),
        ({"descriptor": "A descriptor far too long for a statement"}, "descriptor"),
        ({"status": "closed"}, "status"),
        ({"limits": {"daily_transaction_limit": -1}}, "limits.daily_transaction_limit"),
        ({"limits": {"dailyTransactionLimit": 5}}, "limits.dailyTransactionLimit"),
        (
            {"limits": {"min_transaction_amount": 500, "max_transaction_amount": 100}},
            "limits",
        ),
        ({"fees": {"base_percentage": "101"}}, "fees.base_percentage"),
        ({"fees": {"base_flat_fee": 1.5}}, "fees.base_flat_fee"),
        ({"restrictions": {"allowed_countries": ["XX"]}}, "restrictions.allowed_countries.0"),
        (
            {"restrictions": {"blocked_card_brands": ["unknown"]}},
            "restrictions.blocked_card_brands.0",
        ),
        (
            {"restrictions": {"allowed_countries": ["US"], "blocked_countries": ["us"]}},
            "restrictions",
        ),
        ({"company_id": "com_missing"}, "company_id"),
    ],
)
async def test_bad_input_is_a_4xx_naming_the_field(
    client: httpx.AsyncClient, world: World, overrides: dict[str, Any], param: str
) -> None:
    body = {**account_body(world.a.company.id), **overrides}
    response = await client.post(API, json=body, headers=world.headers(Role.CLIENT_ADMIN))
    assert 400 <= response.status_code < 500, response.text
    error = response.json()["error"]
    assert error["param"] == param, error
    assert param.split(".")[-1] in error["message"] or error["code"] == "resource_missing"
    for secret in ("pk_live_NotASecretKey99", "Short7", "k" * 32, "12345"):
        assert secret not in response.text


async def test_a_card_fee_for_an_unknown_brand_is_refused(
    client: httpx.AsyncClient, world: World
) -> None:
    body = account_body(world.a.company.id, fees={"card_specific_fees": {"visa2": {"flat_fee": 5}}})
    response = await client.post(API, json=body, headers=world.headers(Role.CLIENT_ADMIN))
    assert response.status_code == 400
    assert response.json()["error"]["param"].startswith("fees.card_specific_fees.visa2")


async def test_company_users_default_to_their_company_and_others_must_name_one(
    client: httpx.AsyncClient, world: World
) -> None:
    own = await create_account(client, world.headers(Role.COMPANY_ADMIN), None)
    assert own["company_id"] == world.a.company.id
    response = await client.post(
        API, json=account_body(None), headers=world.headers(Role.CLIENT_ADMIN)
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "company_id"


# --- list and get ----------------------------------------------------------------------------


async def test_list_filters_paginates_and_never_carries_credentials(
    client: httpx.AsyncClient, world: World
) -> None:
    headers = world.headers(Role.CLIENT_ADMIN)
    nmi = await create_account(client, headers, world.a.company.id, name="Alpha NMI")
    stripe = await create_account(
        client,
        headers,
        world.a.company.id,
        provider="stripe",
        name="Beta 100%_Stripe",
        status="pending",
    )
    other = await create_account(client, headers, world.a.other_company.id, name="Alpha A2")

    async def ids(**params: Any) -> list[str]:
        response = await client.get(API, params={"limit": 100, **params}, headers=headers)
        assert response.status_code == 200, response.text
        for item in response.json()["data"]:
            assert "credentials" not in item
        for secret in (NMI_KEY, registry.GATEWAYS["stripe"].sandbox_credentials["secret_key"]):
            assert secret not in response.text
        return [item["id"] for item in response.json()["data"]]

    assert await ids() == [other["id"], stripe["id"], nmi["id"]]
    assert await ids(provider_type="stripe") == [stripe["id"]]
    assert await ids(status="pending") == [stripe["id"]]
    assert await ids(company_id=world.a.other_company.id) == [other["id"]]
    assert await ids(search="alpha") == [other["id"], nmi["id"]]
    assert await ids(search="100%_") == [stripe["id"]]
    assert await ids(search="%") == [stripe["id"]]

    first = await client.get(API, params={"limit": 2}, headers=headers)
    assert first.json()["has_more"] is True
    rest = await client.get(
        API, params={"limit": 2, "starting_after": first.json()["next_cursor"]}, headers=headers
    )
    assert [item["id"] for item in rest.json()["data"]] == [nmi["id"]]

    bad = await client.get(API, params={"provider_type": "visa"}, headers=headers)
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "provider_type"


async def test_get_shows_usage_and_health_with_masked_credentials(
    client: httpx.AsyncClient, world: World
) -> None:
    headers = world.headers(Role.COMPANY_USER)
    created = await create_account(
        client, world.headers(Role.COMPANY_ADMIN), None, provider="payflow"
    )
    response = await client.get(f"{API}/{created['id']}", headers=headers)
    assert response.status_code == 200
    body = response.json()
    assert set(body["credentials"]) == {"partner", "vendor", "user", "password"}
    assert all(value.startswith("••••") for value in body["credentials"].values())
    password = registry.GATEWAYS["payflow"].sandbox_credentials["password"]
    assert password not in response.text
    assert len(body["usage"]) == 4
    assert body["health_metrics"] == {
        "success_rate": None,
        "average_response_time_ms": None,
        "last_health_check": None,
        "health_score": None,
        "last_test": None,
        "error_rate": None,
        "refund_rate": None,
        "chargeback_rate": None,
        "sample_size": None,
    }


# --- patch -----------------------------------------------------------------------------------


async def test_patch_reencrypts_changed_credentials(
    client: httpx.AsyncClient, world: World, runtime: Runtime, session: Any
) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    created = await create_account(client, headers, None)
    before = (await _row(session, created["id"])).credentials_ciphertext

    response = await client.patch(
        f"{API}/{created['id']}",
        json={"credentials": {"security_key": NEW_NMI_KEY}},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["credentials"] == {"security_key": "••••00ZZ"}
    assert NEW_NMI_KEY not in response.text
    account = await _row(session, created["id"])
    assert account.credentials_ciphertext != before
    assert routing.decrypt_credentials(runtime.keyring, account) == {"security_key": NEW_NMI_KEY}

    refused = await client.patch(
        f"{API}/{created['id']}", json={"credentials": {"key": "x"}}, headers=headers
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == "credentials.security_key"
    assert (await _row(session, created["id"])).credentials_ciphertext == (
        account.credentials_ciphertext
    )


async def test_patch_changes_fields_and_stamps_status_changes(
    client: httpx.AsyncClient, world: World
) -> None:
    headers = world.headers(Role.CLIENT_ADMIN)
    created = await create_account(
        client, headers, world.a.company.id, limits={"daily_volume_limit": 5}
    )
    later = datetime(2031, 3, 4, 5, 6, 7, tzinfo=UTC)
    clock.set_source(lambda: later)

    renamed = await client.patch(
        f"{API}/{created['id']}",
        json={"name": "Renamed", "description": None, "limits": {"weekly_transaction_limit": 7}},
        headers=headers,
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "Renamed"
    assert renamed.json()["limits"]["weekly_transaction_limit"] == 7
    assert renamed.json()["limits"]["daily_volume_limit"] is None  # replaced whole
    assert renamed.json()["status_changed_at"] == created["status_changed_at"]

    suspended = await client.patch(
        f"{API}/{created['id']}",
        json={"status": "suspended", "status_reason": "chargeback ratio over 1%"},
        headers=headers,
    )
    body = suspended.json()
    assert (body["status"], body["status_reason"]) == ("suspended", "chargeback ratio over 1%")
    assert datetime.fromisoformat(body["status_changed_at"]) == later

    clock.set_source(lambda: later + timedelta(hours=1))
    same = await client.patch(
        f"{API}/{created['id']}", json={"status": "suspended"}, headers=headers
    )
    assert datetime.fromisoformat(same.json()["status_changed_at"]) == later

    for field, value in (
        ("name", None),
        ("limits", None),
        ("currency", "EUR"),
        ("provider_type", "stripe"),
    ):
        refused = await client.patch(f"{API}/{created['id']}", json={field: value}, headers=headers)
        assert refused.status_code == 400, (field, refused.text)
        assert refused.json()["error"]["param"] == field

    production = await client.patch(
        f"{API}/{created['id']}", json={"environment": "production"}, headers=headers
    )
    assert production.status_code == 400
    assert production.json()["error"]["param"] == "base_url"
    moved = await client.patch(
        f"{API}/{created['id']}",
        json={"environment": "production", "base_url": None},
        headers=headers,
    )
    assert moved.status_code == 200
    assert (moved.json()["environment"], moved.json()["base_url"]) == ("production", None)


# --- delete ----------------------------------------------------------------------------------


async def test_delete_closes_the_account_and_keeps_it_readable(
    client: httpx.AsyncClient, world: World
) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    created = await create_account(client, headers, None)
    deleted = await client.delete(f"{API}/{created['id']}", headers=headers)
    assert deleted.status_code == 200
    assert deleted.json()["status"] == "closed"
    assert "credentials" not in deleted.json()

    assert (await client.get(f"{API}/{created['id']}", headers=headers)).json()["status"] == (
        "closed"
    )
    listed = await client.get(API, headers=headers)
    assert created["id"] not in [item["id"] for item in listed.json()["data"]]
    closed = await client.get(API, params={"status": "closed"}, headers=headers)
    assert [item["id"] for item in closed.json()["data"]] == [created["id"]]

    for method, path, body in (
        ("PATCH", "", {"name": "Back"}),
        ("POST", "/test", None),
    ):
        response = await client.request(
            method, f"{API}/{created['id']}{path}", json=body, headers=headers
        )
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "account_closed"
    again = await client.delete(f"{API}/{created['id']}", headers=headers)
    assert again.status_code == 200 and again.json()["status"] == "closed"


# --- audit -----------------------------------------------------------------------------------


async def test_changes_are_audited_with_credentials_masked(
    client: httpx.AsyncClient, world: World, session: Any
) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    created = await create_account(client, headers, None)
    await client.patch(
        f"{API}/{created['id']}",
        json={"credentials": {"security_key": NEW_NMI_KEY}},
        headers=headers,
    )
    await client.post(f"{API}/{created['id']}/test", headers=headers)
    await client.delete(f"{API}/{created['id']}", headers=headers)

    entries = (
        await session.scalars(
            select(AuditLog).where(AuditLog.resource_id == created["id"]).order_by(AuditLog.id)
        )
    ).all()
    assert [(e.action, e.resource) for e in entries] == [
        ("CREATE", "merchant_account"),
        ("UPDATE", "merchant_account"),
        ("UPDATE", "merchant_account"),
        ("DELETE", "merchant_account"),
    ]
    assert entries[1].metadata_ == {"credentials_changed": True}
    assert entries[2].metadata_["operation"] == "test"
    assert entries[0].company_id == world.a.company.id
    for entry in entries:
        text = json.dumps([entry.previous_value, entry.new_value, entry.metadata_])
        assert NMI_KEY not in text and NEW_NMI_KEY not in text
        assert "credentials_ciphertext" not in text
        assert entry.new_value["credentials"] == "••••"


# --- scope and permissions -------------------------------------------------------------------


async def test_another_tenants_account_is_missing(client: httpx.AsyncClient, world: World) -> None:
    account = await create_account(client, world.headers(Role.CLIENT_ADMIN), world.a.company.id)
    sibling = await create_account(
        client, world.headers(Role.CLIENT_ADMIN), world.a.other_company.id
    )
    requests = [
        ("GET", "", None),
        ("PATCH", "", {"name": "Mine now"}),
        ("DELETE", "", None),
        ("GET", "/usage", None),
        ("GET", "/health", None),
        ("POST", "/test", None),
    ]
    outsiders = [
        (world.headers(Role.CLIENT_ADMIN, "b"), account),
        (world.headers(Role.COMPANY_ADMIN, "b"), account),
        (world.headers(Role.COMPANY_ADMIN), sibling),  # brand A1 looking at brand A2
    ]
    for headers, foreign in outsiders:
        target = foreign["id"]
        for method, path, body in requests:
            response = await client.request(
                method, f"{API}/{target}{path}", json=body, headers=headers
            )
            assert response.status_code == 404, (method, path, response.text)
            assert response.json()["error"]["code"] == "resource_missing"
        listed = await client.get(API, params={"limit": 100}, headers=headers)
        assert target not in [item["id"] for item in listed.json()["data"]]
        by_company = await client.get(
            API, params={"company_id": foreign["company_id"]}, headers=headers
        )
        assert by_company.json()["data"] == []

    intruder = await client.post(
        API,
        json=account_body(world.a.company.id),
        headers=world.headers(Role.CLIENT_ADMIN, "b"),
    )
    assert intruder.status_code == 404
    unchanged = await client.get(f"{API}/{account['id']}", headers=world.headers(Role.CLIENT_ADMIN))
    assert unchanged.json()["name"] == account["name"]
    assert unchanged.json()["status"] == "active"


@pytest.mark.parametrize("role", [Role.CLIENT_USER, Role.COMPANY_USER])
async def test_readers_cannot_change_accounts(
    client: httpx.AsyncClient, world: World, role: Role
) -> None:
    account = await create_account(client, world.headers(Role.CLIENT_ADMIN), world.a.company.id)
    headers = world.headers(role)
    assert (await client.get(f"{API}/{account['id']}", headers=headers)).status_code == 200
    for method, path, body in (
        ("POST", "", account_body(world.a.company.id)),
        ("PATCH", f"/{account['id']}", {"name": "x"}),
        ("DELETE", f"/{account['id']}", None),
        ("POST", f"/{account['id']}/test", None),
    ):
        response = await client.request(method, f"{API}{path}", json=body, headers=headers)
        assert response.status_code == 403, (method, path)
        assert "accounts:write" in response.json()["error"]["message"]


async def test_unreachable_gateway_fails_the_test_without_a_500(
    client: httpx.AsyncClient, world: World
) -> None:
    account = await create_account(client, world.headers(Role.CLIENT_ADMIN), world.a.company.id)
    assert account["base_url"].rstrip("/") == UNREACHABLE
    response = await client.post(
        f"{API}/{account['id']}/test", headers=world.headers(Role.CLIENT_ADMIN)
    )
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is False
    assert body["message"].startswith("Could not reach NMI")

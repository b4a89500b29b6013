"""`/webhook-endpoints` over the API: the secret shown once and masked afterwards, validation
that names the field, the lifecycle with its audit entries, scope, and the delivery log."""

import json

import pytest
from sqlalchemy import select

from avnz.audit.models import AuditLog
from avnz.core.errors import InvalidRequest
from avnz.security.keyring import DecryptionError
from avnz.tenancy.models import Role
from avnz.webhooks import service
from avnz.webhooks.models import WebhookDelivery, WebhookEndpoint, secret_aad
from tests.support.live_server import live_server
from tests.webhooks.factories import (
    API,
    UNREACHABLE,
    Receiver,
    create_endpoint,
    endpoint_body,
    pump,
)


async def _row(session, endpoint_id):
    await session.rollback()
    return await session.get(WebhookEndpoint, endpoint_id)


def _masked(secret):
    return f"whsec_••••{secret[-4:]}"


# --- the secret ------------------------------------------------------------------------------


async def test_create_shows_the_secret_once_then_only_masked(client, world, runtime, session):
    headers = world.headers(Role.COMPANY_ADMIN)
    created = await create_endpoint(client, headers, None, events=["payment.*", "webhook.test"])
    secret = created["secret"]
    assert secret.startswith("whsec_") and len(secret) >= 40
    assert created["id"].startswith("whe_")
    assert (created["company_id"], created["url"], created["events"], created["enabled"]) == (
        world.a.company.id,
        UNREACHABLE,
        ["payment.*", "webhook.test"],
        True,
    )

    reads = [
        await client.get(f"{API}/{created['id']}", headers=headers),
        await client.get(API, headers=headers),
        await client.patch(f"{API}/{created['id']}", json={"description": "x"}, headers=headers),
    ]
    for response in reads:
        assert response.status_code == 200
        assert secret not in response.text
        assert secret[len("whsec_") :][:8] not in response.text
    assert reads[0].json()["secret"] == _masked(secret)
    assert reads[1].json()["data"][0]["secret"] == _masked(secret)

    row = await _row(session, created["id"])
    assert secret not in row.secret_ciphertext
    aad = secret_aad({"id": row.id, "company_id": row.company_id})
    assert runtime.keyring.decrypt(row.secret_ciphertext, aad=aad).decode() == secret
    with pytest.raises(DecryptionError):  # bound to its row: useless copied to another
        runtime.keyring.decrypt(
            row.secret_ciphertext, aad=secret_aad({"id": "whe_x", "company_id": row.company_id})
        )


async def test_rotate_shows_the_new_secret_once(client, world, session):
    headers = world.headers(Role.COMPANY_ADMIN)
    created = await create_endpoint(client, headers, None)
    rotated = await client.post(f"{API}/{created['id']}/rotate-secret", headers=headers)
    assert rotated.status_code == 200
    new = rotated.json()["secret"]
    assert new.startswith("whsec_") and new != created["secret"]
    assert rotated.json()["previous_secret_expires_at"] is None
    shown = await client.get(f"{API}/{created['id']}", headers=headers)
    assert shown.json()["secret"] == _masked(new) and new not in shown.text

    graced = await client.post(
        f"{API}/{created['id']}/rotate-secret",
        json={"keep_previous_for_seconds": 600},
        headers=headers,
    )
    assert graced.json()["previous_secret_expires_at"] is not None
    assert (await _row(session, created["id"])).previous_secret_ciphertext is not None


@pytest.mark.parametrize("seconds", [-1, 7 * 24 * 3600 + 1, "soon"])
async def test_rotate_refuses_a_bad_grace_period(client, world, seconds):
    headers = world.headers(Role.COMPANY_ADMIN)
    created = await create_endpoint(client, headers, None)
    response = await client.post(
        f"{API}/{created['id']}/rotate-secret",
        json={"keep_previous_for_seconds": seconds},
        headers=headers,
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "keep_previous_for_seconds"


async def test_secrets_never_reach_the_logs(client, world, runtime, captured_logs):
    headers = world.headers(Role.COMPANY_ADMIN)
    hooks = Receiver()
    with live_server(hooks.app()) as base:
        created = await create_endpoint(client, headers, None, url=f"{base}/hooks")
        hooks.secret = created["secret"]
        await client.post(f"{API}/{created['id']}/test", headers=headers)
        await pump(runtime)
        rotated = await client.post(f"{API}/{created['id']}/rotate-secret", headers=headers)
        hooks.secret = rotated.json()["secret"]
        await client.post(f"{API}/{created['id']}/test", headers=headers)
        await pump(runtime)
    assert [r.verified for r in hooks.received] == [True, True]
    output = captured_logs.getvalue()
    assert "webhook_delivery" in output  # the deliveries were logged...
    for secret in (created["secret"], rotated.json()["secret"]):
        assert secret not in output  # ...and the secrets were not
        assert secret.removeprefix("whsec_") not in output


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "param"),
    [
        ({"url": "ftp://example.com/hooks"}, "url"),
        ({"url": "http://example.com/hooks"}, "url"),
        ({"url": "https://user:pass@example.com/hooks"}, "url"),
        ({"url": "https://example.com/hooks#frag"}, "url"),
        ({"url": "/relative"}, "url"),
        ({"url": "https://exa mple.com"}, "url"),
        ({"url": "https://exa%20mple.com/hooks"}, "url"),
        ({"url": "https://-bad.example.com/hooks"}, "url"),
        ({"url": ""}, "url"),
        ({"url": "https://example.com/" + "a" * 2100}, "url"),
        ({"events": []}, "events"),
        ({"events": ["payment.exploded"]}, "events.0"),
        ({"events": ["*", "nothing.*"]}, "events.1"),
        ({"events": "payment.succeeded"}, "events"),
        ({"description": "d" * 501}, "description"),
        ({"enabled": "sometimes"}, "enabled"),
        ({"secret": "whsec_mine"}, "secret"),
    ],
)
async def test_bad_input_is_a_400_naming_the_field(client, world, session, overrides, param):
    body = endpoint_body(None, **overrides)
    response = await client.post(API, json=body, headers=world.headers(Role.COMPANY_ADMIN))
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param
    await session.rollback()
    assert (await session.scalars(select(WebhookEndpoint))).all() == []


async def test_a_caller_above_company_level_names_the_company(client, world):
    headers = world.headers(Role.CLIENT_ADMIN)
    response = await client.post(API, json=endpoint_body(None), headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "company_id"
    assert (
        await client.post(API, json=endpoint_body(world.a.company.id), headers=headers)
    ).is_success


@pytest.mark.parametrize("field", ["url", "events", "enabled"])
async def test_patch_cannot_null_a_required_field(client, world, field):
    headers = world.headers(Role.COMPANY_ADMIN)
    created = await create_endpoint(client, headers, None)
    response = await client.patch(f"{API}/{created['id']}", json={field: None}, headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == field


@pytest.mark.parametrize(
    ("url", "production", "allowed"),
    [
        ("https://shop.example.com/hooks", True, True),
        ("https://shop.example.com/hooks", False, True),
        ("http://127.0.0.1:8080/hooks", False, True),
        ("http://localhost/hooks", False, True),
        ("http://[::1]:8080/hooks", False, True),
        ("http://127.0.0.1:8080/hooks", True, False),
        ("http://shop.example.com/hooks", False, False),
        ("https://10.0.0.5/hooks", True, False),
        ("https://169.254.169.254/latest", True, False),
        ("https://localhost/hooks", True, False),
        ("https://10.0.0.5/hooks", False, True),
        ("https://bücher.example/hooks", True, True),
    ],
)
def test_url_policy(url, production, allowed):
    if allowed:
        assert service.check_url(url, production=production) == url
    else:
        with pytest.raises(InvalidRequest) as caught:
            service.check_url(url, production=production)
        assert caught.value.param == "url"


# --- lifecycle, audit, scope -----------------------------------------------------------------


async def test_update_and_list_filters(client, world):
    headers = world.headers(Role.COMPANY_ADMIN)
    created = await create_endpoint(client, headers, None)
    patched = await client.patch(
        f"{API}/{created['id']}",
        json={
            "url": "https://shop.example.com/avnz",
            "events": ["payment.refunded", "payment.refunded"],
            "enabled": False,
            "description": None,
        },
        headers=headers,
    )
    assert patched.status_code == 200
    body = patched.json()
    assert (body["url"], body["events"], body["enabled"], body["description"]) == (
        "https://shop.example.com/avnz",
        ["payment.refunded"],
        False,
        None,
    )
    other = await create_endpoint(client, headers, None)
    disabled = await client.get(API, params={"enabled": "false"}, headers=headers)
    assert [e["id"] for e in disabled.json()["data"]] == [created["id"]]
    everything = await client.get(API, headers=headers)
    assert [e["id"] for e in everything.json()["data"]] == [other["id"], created["id"]]


async def test_every_change_is_audited_without_the_secret(client, world, session):
    headers = world.headers(Role.COMPANY_ADMIN)
    created = await create_endpoint(client, headers, None)
    await client.patch(f"{API}/{created['id']}", json={"enabled": False}, headers=headers)
    rotated = await client.post(f"{API}/{created['id']}/rotate-secret", headers=headers)
    deleted = await client.delete(f"{API}/{created['id']}", headers=headers)
    assert deleted.status_code == 200
    await session.rollback()
    rows = (
        await session.scalars(
            select(AuditLog).where(AuditLog.resource_id == created["id"]).order_by(AuditLog.id)
        )
    ).all()
    assert [r.action for r in rows] == ["CREATE", "UPDATE", "UPDATE", "DELETE"]
    assert rows[1].previous_value["enabled"] is True and rows[1].new_value["enabled"] is False
    assert rows[2].metadata_["change"] == "secret_rotated"
    assert {r.resource for r in rows} == {"webhook_endpoint"}
    assert {r.company_id for r in rows} == {world.a.company.id}
    dumped = json.dumps([[r.previous_value, r.new_value, r.metadata_] for r in rows])
    assert "ciphertext" not in dumped
    for secret in (created["secret"], rotated.json()["secret"]):
        assert secret not in dumped


async def test_delete_removes_the_endpoint_and_its_log(client, world, runtime, session):
    headers = world.headers(Role.COMPANY_ADMIN)
    created = await create_endpoint(client, headers, None)
    await client.post(f"{API}/{created['id']}/test", headers=headers)
    assert (await client.delete(f"{API}/{created['id']}", headers=headers)).status_code == 200
    assert (await client.get(f"{API}/{created['id']}", headers=headers)).status_code == 404
    await session.rollback()
    assert (await session.scalars(select(WebhookDelivery))).all() == []
    assert await pump(runtime) == 0


async def test_another_tenants_endpoint_and_delivery_are_404(client, world):
    mine = world.headers(Role.COMPANY_ADMIN)
    created = await create_endpoint(client, mine, None)
    test = (await client.post(f"{API}/{created['id']}/test", headers=mine)).json()
    for role in (Role.CLIENT_ADMIN, Role.COMPANY_ADMIN):
        other = world.headers(role, "b")
        calls = [
            client.get(f"{API}/{created['id']}", headers=other),
            client.patch(f"{API}/{created['id']}", json={"enabled": False}, headers=other),
            client.delete(f"{API}/{created['id']}", headers=other),
            client.post(f"{API}/{created['id']}/rotate-secret", headers=other),
            client.post(f"{API}/{created['id']}/test", headers=other),
            client.get(f"{API}/{created['id']}/deliveries", headers=other),
            client.post(f"/api/v1/webhook-deliveries/{test['id']}/resend", headers=other),
        ]
        for call in calls:
            response = await call
            assert response.status_code == 404, response.text
        listed = await client.get(API, headers=other)
        assert listed.json()["data"] == []
    untouched = await client.get(f"{API}/{created['id']}", headers=mine)
    assert untouched.status_code == 200 and untouched.json()["enabled"] is True


async def test_the_delivery_log_filters_and_pages(client, world):
    headers = world.headers(Role.COMPANY_ADMIN)
    created = await create_endpoint(client, headers, None)
    queued = [
        (await client.post(f"{API}/{created['id']}/test", headers=headers)).json()["id"]
        for _ in range(3)
    ]
    page = await client.get(
        f"{API}/{created['id']}/deliveries", params={"limit": 2}, headers=headers
    )
    body = page.json()
    assert [d["id"] for d in body["data"]] == queued[::-1][:2] and body["has_more"]
    rest = await client.get(
        f"{API}/{created['id']}/deliveries",
        params={"limit": 2, "starting_after": body["next_cursor"]},
        headers=headers,
    )
    assert [d["id"] for d in rest.json()["data"]] == [queued[0]]
    for params, expected in (
        ({"status": "pending"}, 3),
        ({"status": "succeeded"}, 0),
        ({"event": "webhook.test"}, 3),
        ({"event": "payment.failed"}, 0),
    ):
        response = await client.get(
            f"{API}/{created['id']}/deliveries", params=params, headers=headers
        )
        assert len(response.json()["data"]) == expected, params
    bad = await client.get(
        f"{API}/{created['id']}/deliveries", params={"status": "lost"}, headers=headers
    )
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "status"


async def test_a_disabled_endpoint_cannot_be_tested_or_resent_to(client, world):
    headers = world.headers(Role.COMPANY_ADMIN)
    created = await create_endpoint(client, headers, None)
    test = (await client.post(f"{API}/{created['id']}/test", headers=headers)).json()
    await client.patch(f"{API}/{created['id']}", json={"enabled": False}, headers=headers)
    for response in (
        await client.post(f"{API}/{created['id']}/test", headers=headers),
        await client.post(f"/api/v1/webhook-deliveries/{test['id']}/resend", headers=headers),
    ):
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "endpoint_disabled"

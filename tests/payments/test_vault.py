"""The card vault over the API: tokens out, never the PAN; nothing sensitive at rest."""

from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from avnz.app import create_app
from avnz.db.migrate import upgrade
from avnz.payments import vault
from avnz.payments.models import PaymentMethod, pan_aad
from avnz.runtime import Runtime
from avnz.security.keyring import DecryptionError
from avnz.tenancy.models import Role
from tests.conftest import make_settings
from tests.factories import build_world

API = "/api/v1/payment-methods"
VISA = "4111111111111111"


def card(number=VISA, **overrides):
    return {"number": number, "exp_month": 12, "exp_year": 2030, "cvv": "123", **overrides}


async def store(client, headers, **body):
    response = await client.post(API, json={"card": card(), **body}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def test_store_returns_a_token_with_card_facts_only(client, world):
    headers = world.headers(Role.COMPANY_ADMIN)
    response = await client.post(API, json={"card": card("4111 1111 1111 1111")}, headers=headers)
    assert response.status_code == 201
    body = response.json()
    assert body["id"].startswith("pm_")
    assert body["company_id"] == world.a.company.id
    assert body["card"] | {"fingerprint": None} == {
        "brand": "visa",
        "bin": "411111",
        "last4": "1111",
        "exp_month": 12,
        "exp_year": 2030,
        "type": "credit",
        "issuing_country": "US",
        "fingerprint": None,
        "holder_name": None,
    }
    assert VISA not in response.text
    # The CVV comes back under no key and as no value (the text alone cannot tell: "123" may
    # occur inside a timestamp or a hash, and "cvv" inside a random id).
    assert not any("cvv" in key.lower() for key in _keys(body))
    assert "123" not in _values(body)


def _keys(data: object) -> list[str]:
    """Every key of a JSON document, at any depth."""
    if isinstance(data, dict):
        return [*data, *(key for value in data.values() for key in _keys(value))]
    if isinstance(data, list):
        return [key for item in data for key in _keys(item)]
    return []


def _values(data: object) -> list[object]:
    """Every leaf value of a JSON document."""
    if isinstance(data, dict):
        return [leaf for value in data.values() for leaf in _values(value)]
    if isinstance(data, list):
        return [leaf for value in data for leaf in _values(value)]
    return [data]


@pytest.mark.parametrize(
    ("overrides", "param", "code"),
    [
        ({"number": "4111111111111112"}, "card.number", "invalid_number"),
        ({"exp_year": 2020}, "card.exp_year", "expired_card"),
        ({"exp_month": 13}, "card.exp_month", "validation_failed"),
        ({"number": "378282246310005", "cvv": "123"}, "card.cvv", "invalid_cvc"),
    ],
)
async def test_bad_cards_get_a_clear_400_and_nothing_is_stored(
    client, world, session, overrides, param, code
):
    response = await client.post(
        API, json={"card": card(**overrides)}, headers=world.headers(Role.COMPANY_ADMIN)
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["param"], error["code"]) == (param, code)
    assert (await session.scalars(select(PaymentMethod))).all() == []


async def test_same_card_same_fingerprint_within_the_organization(client, world):
    first = await store(client, world.headers(Role.COMPANY_ADMIN))
    second = await store(client, world.headers(Role.COMPANY_ADMIN, "b"))
    other = await store(client, world.headers(Role.COMPANY_ADMIN), card=card("5555555555554444"))
    assert first["id"] != second["id"]
    assert first["card"]["fingerprint"] == second["card"]["fingerprint"]
    assert other["card"]["fingerprint"] != first["card"]["fingerprint"]
    found = await client.get(
        API,
        params={"fingerprint": first["card"]["fingerprint"]},
        headers=world.headers(Role.COMPANY_ADMIN),
    )
    assert [m["id"] for m in found.json()["data"]] == [first["id"]]  # b's card stays b's


async def test_reveal_and_crypto_shred(client, world, runtime, session):
    stored = await store(client, world.headers(Role.COMPANY_ADMIN))
    method = await session.get(PaymentMethod, stored["id"])
    revealed = vault.reveal(method, runtime.keyring, cvv="123")
    assert (revealed.number, revealed.cvv) == (VISA, "123")
    assert VISA not in repr(revealed)

    deleted = await client.delete(
        f"{API}/{stored['id']}", headers=world.headers(Role.COMPANY_ADMIN)
    )
    assert deleted.status_code == 200 and deleted.json()["status"] == "deleted"
    await session.rollback()
    method = await session.get(PaymentMethod, stored["id"])
    assert method.pan_ciphertext is None
    assert (
        await client.get(f"{API}/{stored['id']}", headers=world.headers(Role.COMPANY_ADMIN))
    ).status_code == 404


async def test_swapped_or_tampered_ciphertext_does_not_decrypt(client, world, runtime, session):
    first = await store(client, world.headers(Role.COMPANY_ADMIN))
    second = await store(
        client, world.headers(Role.COMPANY_ADMIN, "b"), card=card("5555555555554444")
    )
    async with runtime.sessions.begin() as writer:
        a = await writer.get(PaymentMethod, first["id"])
        b = await writer.get(PaymentMethod, second["id"])
        await writer.execute(
            update(PaymentMethod)
            .where(PaymentMethod.id == b.id)
            .values(pan_ciphertext=a.pan_ciphertext)
        )
    await session.rollback()
    moved = await session.get(PaymentMethod, second["id"])
    with pytest.raises(DecryptionError):
        vault.reveal(moved, runtime.keyring)
    original = await session.get(PaymentMethod, first["id"])
    token = original.pan_ciphertext
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    aad = pan_aad({"id": original.id, "company_id": original.company_id})
    assert runtime.keyring.decrypt(token, aad=aad) == VISA.encode()
    with pytest.raises(DecryptionError):
        runtime.keyring.decrypt(flipped, aad=aad)


async def test_another_tenant_gets_404(client, world):
    stored = await store(client, world.headers(Role.COMPANY_ADMIN))
    for role in (Role.CLIENT_ADMIN, Role.COMPANY_ADMIN):
        headers = world.headers(role, "b")
        assert (await client.get(f"{API}/{stored['id']}", headers=headers)).status_code == 404
        assert (await client.delete(f"{API}/{stored['id']}", headers=headers)).status_code == 404
        listed = await client.get(API, headers=headers)
        assert stored["id"] not in {m["id"] for m in listed.json()["data"]}


async def test_raw_sqlite_file_holds_no_pan_and_no_cvv(tmp_path: Path):
    """Whatever database the suite runs on, this one is a SQLite file we can read byte by byte."""
    settings = make_settings(tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path / 'vault.db'}")
    runtime = Runtime.build(settings)
    await upgrade(runtime.engine)
    async with runtime.sessions.begin() as session:
        world = await build_world(session, runtime)
    cards = {"4111111111111111": "737", "378282246310005": "7373", "5555555555554444": "919"}
    transport = httpx.ASGITransport(app=create_app(runtime=runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for number, cvv in cards.items():
            body = {"card": card(number, cvv=cvv)}
            response = await client.post(API, json=body, headers=world.headers(Role.COMPANY_ADMIN))
            assert response.status_code == 201
    await runtime.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("vault.db*"))
    assert len(raw) > 0
    for number, cvv in cards.items():
        assert number.encode() not in raw
        assert f'"{cvv}"'.encode() not in raw and f"cvv{cvv}".encode() not in raw
    assert b"411111" in raw  # the BIN is stored; proof that we read the right file

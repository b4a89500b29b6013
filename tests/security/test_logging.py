"""Everything logged while credentials and card data pass through the API stays masked."""

import json
import re

from avnz.tenancy.models import Role
from tests.factories import PASSWORD
from tests.security.helpers import API

PAN = "4111111111111111"
SPACED_PAN = "4111 1111 1111 1111"
MASKED_PAN = "411111******1111"
CVV = "7319"


async def test_logs_never_hold_passwords_cards_cvv_or_tokens(client, world, captured_logs):
    email = world.a.users[Role.CLIENT_ADMIN].email
    login = await client.post(f"{API}/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200
    tokens = login.json()
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}

    card_query = {"card": SPACED_PAN, "pan": PAN, "cvv": CVV}
    created = await client.post(
        f"{API}/departments",
        json={
            "company_id": world.a.company.id,
            "name": f"Card {SPACED_PAN}",
            "description": f"pan {PAN} cvv={CVV}",
        },
        headers=auth,
    )
    assert created.status_code == 201
    refused = await client.post(
        f"{API}/departments",
        params=card_query,
        json={"name": "Ops", "card_number": PAN, "cvv": CVV},
        headers=auth,
    )
    assert refused.status_code == 400
    # Unknown query parameters are refused too; their values reach the logs only masked.
    probed = await client.get(f"{API}/departments", params=card_query, headers=auth)
    assert probed.status_code == 400
    assert (await client.get(f"{API}/auth/me", headers=auth)).status_code == 200

    output = captured_logs.getvalue()
    lines = [json.loads(line) for line in output.splitlines()]
    requests = [line for line in lines if line["event"] == "request"]
    assert {(r["method"], r["path"], r["status"]) for r in requests} >= {
        ("POST", f"{API}/auth/login", 200),
        ("POST", f"{API}/departments", 201),
        ("GET", f"{API}/auth/me", 200),
    }
    assert MASKED_PAN in output  # the card did reach the logs, masked

    access = tokens["access_token"]
    for secret in (PASSWORD, PAN, SPACED_PAN, access, access.rsplit(".", 1)[1]):
        assert secret not in output
    assert tokens["refresh_token"] not in output
    # A CVV is a short number: look for it as a whole token, not inside ids or hashes.
    assert not re.search(rf"(?<![0-9A-Za-z]){CVV}(?![0-9A-Za-z])", output)
    for encoded in ("4111+1111+1111+1111", "4111%201111%201111%201111"):
        assert encoded not in output

"""`/test` and `/health`: a real connection to each gateway's sandbox over loopback HTTP."""

import httpx
import pytest

from avnz.gateways import registry
from avnz.tenancy.models import Role
from tests.factories import World
from tests.routing.factories import API, create_account
from tests.support.live_server import live_server


def _wrong(credentials: dict[str, str]) -> dict[str, str]:
    """Credentials of the same shape (they pass the schema) that the sandbox does not accept."""
    return {
        name: value[:-1] + ("Q" if value[-1] != "Q" else "R") for name, value in credentials.items()
    }


@pytest.mark.parametrize("provider", sorted(registry.GATEWAYS))
async def test_test_connection_succeeds_with_good_credentials_and_fails_with_wrong_ones(
    client: httpx.AsyncClient, world: World, provider: str
) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    good = dict(registry.GATEWAYS[provider].sandbox_credentials)
    with live_server(registry.GATEWAYS[provider].create_sandbox()) as url:
        account = await create_account(client, headers, None, provider=provider, base_url=url)

        passed = await client.post(f"{API}/{account['id']}/test", headers=headers)
        assert passed.status_code == 200, passed.text
        body = passed.json()
        assert body["success"] is True, body
        assert body["account_id"] == account["id"]
        assert body["latency_ms"] > 0
        assert body["message"] == (
            f"{registry.GATEWAYS[provider].connector.display_name} accepted the credentials."
        )
        health = (await client.get(f"{API}/{account['id']}/health", headers=headers)).json()
        assert health["health_score"] == 100
        assert health["last_test"]["success"] is True
        assert health["last_health_check"] == health["last_test"]["tested_at"]

        wrong = _wrong(good)
        patched = await client.patch(
            f"{API}/{account['id']}", json={"credentials": wrong}, headers=headers
        )
        assert patched.status_code == 200, patched.text
        failed = await client.post(f"{API}/{account['id']}/test", headers=headers)

    assert failed.status_code == 200
    body = failed.json()
    assert body["success"] is False
    assert "refused the credentials" in body["message"], body["message"]
    for secret in (*good.values(), *wrong.values()):
        if len(secret) >= 8:
            assert secret not in failed.text
    health = (await client.get(f"{API}/{account['id']}/health", headers=headers)).json()
    assert health["health_score"] == 0
    assert health["last_test"]["success"] is False
    assert health["status"] == "active"

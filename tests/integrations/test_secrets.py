"""Credentials never reach a response, a log line or the audit trail in clear, and `avnz keys
rotate` re-encrypts them like every other secret."""

import json

from sqlalchemy import select

from avnz.audit.models import AuditLog
from avnz.integrations import service as integrations
from avnz.integrations.models import ClientIntegration, PlatformIntegration
from avnz.security.keyring import Keyring
from avnz.security.rotation import reencrypt_all
from tests.integrations.factories import (
    CLIENT,
    NMI_SANDBOX,
    PLATFORM,
    client_admin,
    create_client_integration,
    create_platform,
    org_admin,
    own_body,
)
from tests.integrations.providers import ANTHROPIC_KEY, OPENAI_KEY, TWILIO

WRONG_KEY = "sk-ant-api03-WrongWrongWrongWrong42"
SECRETS = (ANTHROPIC_KEY, WRONG_KEY, OPENAI_KEY, TWILIO["auth_token"], NMI_SANDBOX["security_key"])


async def _exercise(client, world, url: str) -> list[str]:
    """Create, read, change, test and misuse integrations holding SECRETS; the response texts."""
    texts = []
    platform = await create_platform(client, world, "ANTHROPIC", settings={"base_url": url})
    item = f"{PLATFORM}/{platform['id']}"
    headers = org_admin(world)
    for method, path, body in (
        ("GET", item, None),
        ("POST", f"{item}/test", None),
        ("PATCH", item, {"credentials": {"api_key": WRONG_KEY}}),
        ("POST", f"{item}/test", None),
        ("GET", PLATFORM, None),
        ("POST", PLATFORM, {"provider": "TWILIO", "name": "T", "credentials": {**TWILIO, "x": 1}}),
        ("PATCH", item, {"credentials": {"api_key": ANTHROPIC_KEY + " space"}}),
    ):
        response = await client.request(method, path, json=body, headers=headers)
        assert response.status_code < 500, response.text
        texts.append(response.text)
    own = await create_client_integration(client, client_admin(world), own_body())
    gateway = await create_client_integration(
        client, client_admin(world), own_body("NMI", company_id=world.a.company.id)
    )
    for path in (f"{CLIENT}/{own['id']}", f"{CLIENT}/{gateway['id']}", CLIENT):
        texts.append((await client.get(path, headers=client_admin(world))).text)
    texts.append(
        (await client.post(f"{CLIENT}/{own['id']}/test", headers=client_admin(world))).text
    )
    return texts


async def test_no_secret_in_responses_logs_or_audit_rows(
    client, world, providers, captured_logs, session
):
    fake, url = providers
    texts = await _exercise(client, world, url)
    assert fake.seen and fake.seen[0].headers["x-api-key"] == ANTHROPIC_KEY  # they were used

    output = captured_logs.getvalue()
    assert "/api/v1/admin/integrations/platform" in output  # the requests were logged
    entries = (await session.scalars(select(AuditLog))).all()
    audit_text = json.dumps([[e.previous_value, e.new_value, e.metadata_] for e in entries])
    assert {e.resource for e in entries} >= {"platform_integration", "client_integration"}
    assert '"event": "integration.tested"' in audit_text
    for secret in SECRETS:
        for where, text in (("response", "\n".join(texts)), ("log", output)):
            assert secret not in text, f"{secret[:6]}… in a {where}"
        assert secret not in audit_text
    assert "credentials_ciphertext" not in audit_text


async def test_key_rotation_reencrypts_integration_credentials(client, world, runtime, session):
    platform = await create_platform(client, world, "ANTHROPIC")
    own = await create_client_integration(client, client_admin(world), own_body())
    old_version = runtime.keyring.newest_version
    new_version = runtime.keyring.key_file.add_key()
    runtime.keyring.reload()

    report = await reencrypt_all(runtime.sessions, runtime.keyring)
    assert report.rewritten["platform_integrations.credentials_ciphertext"] == 1
    assert report.rewritten["client_integrations.credentials_ciphertext"] == 1

    runtime.keyring.key_file.retire_all_but(new_version)
    runtime.keyring.reload()
    assert old_version not in runtime.keyring.versions
    for model, row_id in ((PlatformIntegration, platform["id"]), (ClientIntegration, own["id"])):
        row = await session.get(model, row_id)
        assert Keyring.key_version(row.credentials_ciphertext) == new_version
    async with runtime.sessions() as reader:
        credentials = await integrations.platform_credentials(
            reader, runtime.keyring, platform["id"]
        )
    assert credentials == {"api_key": ANTHROPIC_KEY}
    tested = await client.post(f"{CLIENT}/{own['id']}/test", headers=client_admin(world))
    assert tested.status_code == 200  # the own credentials still decrypt for the test
    assert tested.json()["message"].startswith("Could not reach")


async def test_credentials_sealed_by_a_retired_key_are_entered_again(client, world, runtime):
    platform = await create_platform(client, world, "ANTHROPIC")
    item = f"{PLATFORM}/{platform['id']}"
    new_version = runtime.keyring.key_file.add_key()
    runtime.keyring.key_file.retire_all_but(new_version)  # without rotating first
    runtime.keyring.reload()

    unreadable = await client.post(f"{item}/test", headers=org_admin(world))
    assert unreadable.status_code == 409
    assert unreadable.json()["error"]["code"] == "credentials_unreadable"
    repaired = await client.patch(
        item, json={"credentials": {"api_key": ANTHROPIC_KEY}}, headers=org_admin(world)
    )
    assert repaired.status_code == 200, repaired.text
    tested = await client.post(f"{item}/test", headers=org_admin(world))
    assert tested.status_code == 200
    assert tested.json()["message"] == "Could not reach 127.0.0.1:9 (ConnectError)."

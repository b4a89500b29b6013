"""The provider catalogue: enums, reference rows kept equal to the code, the definitions route,
and the migration that creates them (and moves OIDC settings into an identity integration)."""

import json
from pathlib import Path

import jsonschema
import pytest
from sqlalchemy import select, text

from avnz.db.engine import create_engine
from avnz.db.migrate import upgrade
from avnz.gateways import registry
from avnz.integrations.definitions import DEFINITIONS, reference_rows
from avnz.integrations.models import (
    IntegrationCategory,
    IntegrationDefinition,
    IntegrationProvider,
)
from avnz.tenancy.models import Role
from tests.integrations.factories import API, org_admin

DEFINITIONS_URL = f"{API}/admin/integrations/definitions"


def test_the_enums_hold_the_seeds_names_and_ours():
    assert [c.value for c in IntegrationCategory] == [
        "AUTHENTICATION",
        "PAYMENT_GATEWAY",
        "EMAIL_TRANSACTIONAL",
        "EMAIL_MARKETING",
        "SMS",
        "VOICE",
        "PUSH_NOTIFICATION",
        "AI_ML",
        "STORAGE",
        "MONITORING",
        "FEATURE_FLAGS",
        "WEBHOOK",
    ]
    seed = {"AUTH0", "OKTA", "COGNITO", "PAYPAL_PAYFLOW", "NMI", "AUTHORIZE_NET", "STRIPE"}
    seed |= {"AWS_SES", "KLAVIYO", "AWS_SNS", "TWILIO", "AWS_BEDROCK"}
    seed |= {"DATADOG", "SENTRY", "CLOUDWATCH"}
    ours = {"SMTP", "OLLAMA", "ANTHROPIC", "OPENAI_COMPATIBLE"}
    assert {p.value for p in IntegrationProvider} == seed | ours
    assert set(DEFINITIONS) == set(IntegrationProvider)


async def test_the_migrated_reference_rows_equal_the_code(runtime, session):
    rows = (await session.scalars(select(IntegrationDefinition))).all()
    stored = {
        row.provider: {
            column: getattr(row, column).value
            if hasattr(getattr(row, column), "value")
            else getattr(row, column)
            for column in reference_rows()[0]
        }
        for row in rows
    }
    # A definition changed in code ships with a migration that updates its row.
    assert stored == {row["provider"]: row for row in json.loads(json.dumps(reference_rows()))}


@pytest.mark.parametrize("gateway", sorted(registry.GATEWAYS))
def test_a_gateways_credential_schema_is_its_connectors(gateway):
    [definition] = [d for d in DEFINITIONS.values() if d.gateway == gateway]
    assert definition.credential_schema == registry.gateway(gateway).connector.credentials_schema
    assert definition.category is IntegrationCategory.PAYMENT_GATEWAY
    assert definition.client_allowed and definition.platform_offered


def test_every_schema_is_valid_and_the_flags_agree():
    for definition in DEFINITIONS.values():
        row = definition.row()
        jsonschema.Draft202012Validator.check_schema(row["credential_schema"])
        jsonschema.Draft202012Validator.check_schema(row["settings_schema"])
        assert row["is_org_only"] is not row["is_client_allowed"]
        assert not row["is_platform_offered"] or row["is_client_allowed"]
        assert row["documentation_url"].startswith("https://")
    org_only = {p for p, d in DEFINITIONS.items() if not d.client_allowed}
    # The seed: "Auth0 - org only", SES, SNS, Bedrock, Datadog and Sentry org only for now.
    assert {"AUTH0", "AWS_SES", "AWS_SNS", "AWS_BEDROCK", "DATADOG", "SENTRY"} <= org_only


async def test_the_definitions_route_lists_and_filters(client, world):
    headers = org_admin(world)
    everything = await client.get(DEFINITIONS_URL, headers=headers)
    assert everything.status_code == 200
    assert len(everything.json()["data"]) == len(IntegrationProvider)

    gateways = await client.get(
        DEFINITIONS_URL, params={"category": "PAYMENT_GATEWAY"}, headers=headers
    )
    assert {d["provider"] for d in gateways.json()["data"]} == {
        "PAYPAL_PAYFLOW",
        "NMI",
        "AUTHORIZE_NET",
        "STRIPE",
    }
    nmi = next(d for d in gateways.json()["data"] if d["provider"] == "NMI")
    assert nmi["credential_schema"]["required"] == ["security_key"]
    assert nmi["required_compliance"] == ["PCI_DSS"]

    for_clients = await client.get(
        DEFINITIONS_URL, params={"client_allowed": "true"}, headers=headers
    )
    providers = {d["provider"] for d in for_clients.json()["data"]}
    assert "SMTP" in providers and "AUTH0" not in providers

    bad = await client.get(DEFINITIONS_URL, params={"category": "TELEPATHY"}, headers=headers)
    assert bad.status_code == 400
    assert bad.json()["error"]["param"] == "category"


async def test_client_admins_do_not_see_the_definitions_route(client, world):
    response = await client.get(DEFINITIONS_URL, headers=world.headers(Role.CLIENT_ADMIN))
    assert response.status_code == 403


async def test_the_migration_moves_oidc_settings_into_an_identity_integration_and_back(
    tmp_path: Path,
):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'migrate.db'}")
    oidc = {"provider": "okta", "issuer": "https://acme.okta.com/", "audience": "api://avnz"}
    try:
        await upgrade(engine, "0002")
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO organizations (id, name, slug, settings, created_at, updated_at)"
                    " VALUES ('org_1', 'P', 'p', :settings, '2026-01-01', '2026-01-01')"
                ),
                {"settings": json.dumps({"oidc": oidc, "theme": "dark"})},
            )
        await upgrade(engine, "0003")
        async with engine.connect() as connection:
            row = (
                await connection.execute(
                    text("SELECT provider, category, settings, status FROM platform_integrations")
                )
            ).one()
            settings = (await connection.execute(text("SELECT settings FROM organizations"))).one()
            count = (
                await connection.execute(text("SELECT count(*) FROM integration_definitions"))
            ).scalar_one()
        assert (row.provider, row.category, row.status) == ("OKTA", "AUTHENTICATION", "active")
        assert json.loads(row.settings) == {
            "issuer": "https://acme.okta.com/",
            "audience": "api://avnz",
        }
        assert json.loads(settings[0]) == {"theme": "dark"}
        assert count == len(IntegrationProvider)

        def downgrade(connection):
            from alembic import command

            from avnz.db.migrate import alembic_config

            command.downgrade(alembic_config(connection=connection), "0002")

        async with engine.begin() as connection:
            await connection.run_sync(downgrade)
        async with engine.connect() as connection:
            settings = (await connection.execute(text("SELECT settings FROM organizations"))).one()
        assert json.loads(settings[0]) == {
            "theme": "dark",
            "oidc": {**oidc, "provider": "okta"},
        }
    finally:
        await engine.dispose()

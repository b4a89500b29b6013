"""The registry: every gateway has a connector and a sandbox that accepts that connector, and
`avnz serve` mounts the sandboxes at /sandbox/{gateway} (except in production)."""

import json
from io import StringIO
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from avnz.app import create_app
from avnz.gateways import registry
from avnz.gateways.base import Card, ConnectorConfig, Outcome, PaymentRequest
from tests.conftest import make_settings
from tests.support.live_server import live_server


def test_every_gateway_has_a_distinct_name_and_a_credentials_schema() -> None:
    assert sorted(registry.GATEWAYS) == ["authorize_net", "nmi", "payflow", "stripe"]
    for name, gateway in registry.GATEWAYS.items():
        assert gateway.name == name
        schema = gateway.connector.credentials_schema
        assert set(schema["required"]) <= set(schema["properties"])
        assert set(gateway.sandbox_credentials) <= set(schema["properties"]), name


def test_an_unknown_gateway_names_the_known_ones() -> None:
    with pytest.raises(registry.UnknownGatewayError) as raised:
        registry.gateway("paypal_classic")
    assert "authorize_net, nmi, payflow, stripe" in str(raised.value)


def test_sandbox_url_joins_the_mount() -> None:
    assert registry.sandbox_url("http://127.0.0.1:8000/", "nmi") == (
        "http://127.0.0.1:8000/sandbox/nmi"
    )


async def _verify(http: httpx.AsyncClient, name: str, base_url: str, **creds: str) -> Outcome:
    gateway = registry.gateway(name)
    credentials = {**gateway.sandbox_credentials, **creds}
    config = ConnectorConfig(credentials=credentials, base_url=base_url)
    return (await registry.connector(name, config, http).verify()).outcome


@pytest.mark.parametrize("name", sorted(registry.GATEWAYS))
async def test_each_connector_verifies_against_its_sandbox_mounted_by_the_app(
    app: FastAPI, http: httpx.AsyncClient, name: str
) -> None:
    with live_server(app) as base:
        assert await _verify(http, name, registry.sandbox_url(base, name)) is Outcome.APPROVED


@pytest.mark.parametrize("name", sorted(registry.GATEWAYS))
async def test_wrong_credentials_are_a_retryable_config_error_on_every_gateway(
    app: FastAPI, http: httpx.AsyncClient, name: str
) -> None:
    """One convention for all: a bad account is worth trying the next account for."""
    gateway = registry.gateway(name)
    wrong = {field: f"{value}-wrong" for field, value in gateway.sandbox_credentials.items()}
    with live_server(app) as base:
        config = ConnectorConfig(credentials=wrong, base_url=registry.sandbox_url(base, name))
        result = await registry.connector(name, config, http).verify()
    assert (result.outcome, result.retryable) == (Outcome.CONFIG_ERROR, True)
    assert not any(value in (result.raw_message or "") for value in wrong.values())


def test_production_does_not_mount_the_sandboxes(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, environment="production")
    assert settings.sandboxes_mounted is False
    assert make_settings(tmp_path).sandboxes_mounted is True
    routes = {getattr(route, "path", "") for route in create_app(settings).routes}
    assert registry.SANDBOX_MOUNT not in routes


@pytest.mark.parametrize("name", sorted(registry.GATEWAYS))
async def test_each_call_is_logged_once_without_card_data_or_credentials(
    captured_logs: StringIO, name: str
) -> None:
    gateway = registry.gateway(name)
    card = Card(number="4111111111111111", exp_month=12, exp_year=2030, cvv="737")
    sale = PaymentRequest(amount=1234, currency="USD", order_id=f"log-{name}", card=card)
    transport = httpx.ASGITransport(app=gateway.create_sandbox())
    async with httpx.AsyncClient(transport=transport) as http:
        config = ConnectorConfig(credentials=gateway.sandbox_credentials, base_url="http://gw")
        result = await registry.connector(name, config, http).sale(sale)
    assert result.approved, result
    calls = [json.loads(line) for line in captured_logs.getvalue().splitlines()]
    calls = [line for line in calls if line.get("event") == "gateway.call"]
    assert [(c["gateway"], c["operation"], c["outcome"]) for c in calls] == [
        (name, "sale", "approved")
    ]
    logged = captured_logs.getvalue()
    secrets = [card.number, "411111******1111", *gateway.sandbox_credentials.values()]
    assert not [s for s in secrets if s in logged and s not in ("PayPal",)]
    assert '"737"' not in logged and "cvv" not in logged.lower()

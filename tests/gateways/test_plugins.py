"""A gateway is one declaration: the built-in ones are found in their packages, and a throwaway
one registered here becomes a gateway everywhere that reads the registry (connector lookup,
sandbox mounts, merchant accounts' provider types), then leaves no trace when unregistered."""

import dataclasses
from collections.abc import Iterator

import httpx
import pytest
from pydantic import TypeAdapter, ValidationError

from avnz.gateways import registry
from avnz.gateways.base import ConnectorConfig, Outcome
from avnz.gateways.nmi import sandbox as nmi_sandbox
from avnz.gateways.nmi.connector import NmiConnector
from avnz.gateways.plugin import GatewayPlugin
from avnz.integrations.definitions import DEFINITIONS
from avnz.integrations.schemas import ProviderCode
from avnz.routing.accounts.schemas import ProviderType


class AcmeConnector(NmiConnector):
    """A gateway that speaks NMI's protocol under another name (as white-label gateways do)."""

    name = "acme"
    display_name = "Acme Pay"


ACME = GatewayPlugin(
    connector=AcmeConnector,
    provider="ACME",
    description="Card payments through Acme Pay; each integration feeds a merchant account.",
    icon="acme.svg",
    documentation_url="https://acme.example/docs",
    create_sandbox=nmi_sandbox.create_app,
    sandbox_credentials=nmi_sandbox.SANDBOX_CREDENTIALS,
)

BUILT_IN = ["authorize_net", "nmi", "payflow", "stripe"]
provider_type = TypeAdapter(ProviderType)
provider_code = TypeAdapter(ProviderCode)


@pytest.fixture
def acme() -> Iterator[GatewayPlugin]:
    registry.register(ACME)
    try:
        yield ACME
    finally:
        registry.unregister(ACME.name)


def test_the_built_in_gateways_are_found_in_their_packages() -> None:
    assert list(registry.GATEWAYS) == BUILT_IN
    assert {g.provider for g in registry.GATEWAYS.values()} == {
        "AUTHORIZE_NET",
        "NMI",
        "PAYPAL_PAYFLOW",
        "STRIPE",
    }


def test_a_registered_gateway_is_in_the_registry_and_its_sandbox_is_mounted(
    acme: GatewayPlugin,
) -> None:
    assert list(registry.GATEWAYS) == sorted([*BUILT_IN, "acme"])
    assert registry.gateway("acme") is acme
    assert (acme.label, acme.credentials_schema) == ("Acme Pay", NmiConnector.credentials_schema)
    mounted = [mount.path for mount in registry.sandbox_mounts()]
    assert mounted == [f"/{name}" for name in sorted([*BUILT_IN, "acme"])]


async def test_a_registered_gateways_connector_talks_to_its_sandbox(acme: GatewayPlugin) -> None:
    transport = httpx.ASGITransport(app=acme.create_sandbox())
    async with httpx.AsyncClient(transport=transport) as http:
        config = ConnectorConfig(credentials=acme.sandbox_credentials, base_url="http://gw")
        connector = registry.connector("acme", config, http)
        assert isinstance(connector, AcmeConnector)
        assert (await connector.verify()).outcome is Outcome.APPROVED


def test_merchant_accounts_accept_a_gateway_only_while_it_is_registered() -> None:
    registry.register(ACME)
    try:
        assert provider_type.validate_python("acme") == "acme"
    finally:
        registry.unregister("acme")
    with pytest.raises(ValidationError, match="must be one of authorize_net, nmi, payflow, stripe"):
        provider_type.validate_python("acme")


def test_a_registered_gateway_has_an_integration_definition(acme: GatewayPlugin) -> None:
    [definition] = [d for d in DEFINITIONS.values() if d.gateway == "acme"]
    assert (definition.name, definition.logo_url) == ("Acme Pay", "/static/integrations/acme.svg")
    assert definition.provider == "ACME"
    assert DEFINITIONS["ACME"] is definition
    assert definition.row()["provider"] == "ACME"  # what `avnz migrate` upserts
    assert provider_code.validate_python("ACME") == "ACME"
    assert "ACME" in provider_code.json_schema()["enum"]


def test_integrations_accept_a_gateways_provider_code_only_while_it_is_registered() -> None:
    with pytest.raises(ValidationError, match="must be one of"):
        provider_code.validate_python("ACME")
    assert "ACME" not in provider_code.json_schema()["enum"]


@pytest.mark.parametrize("name", BUILT_IN)
def test_each_built_in_gateways_definition_is_built_from_its_declaration(name: str) -> None:
    plugin = registry.gateway(name)
    [definition] = [d for d in DEFINITIONS.values() if d.gateway == name]
    assert definition.provider == plugin.provider
    assert (definition.name, definition.description) == (plugin.label, plugin.description)
    assert definition.logo_url == f"/static/integrations/{plugin.icon}"
    assert definition.documentation_url == plugin.documentation_url


def test_a_taken_name_or_provider_code_is_refused() -> None:
    for taken in (registry.gateway("nmi"), dataclasses.replace(ACME, provider="STRIPE")):
        with pytest.raises(ValueError, match="already registered"):
            registry.register(taken)
    assert list(registry.GATEWAYS) == BUILT_IN
    with pytest.raises(registry.UnknownGatewayError):
        registry.unregister("paypal_classic")

"""The gateways avnz speaks, one line each.

A fifth gateway is a connector file, a sandbox file and one line in GATEWAYS; nothing else in
the product names a gateway.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import httpx
from starlette.applications import Starlette
from starlette.routing import Mount

from avnz.gateways import authorize_net, nmi, payflow, stripe
from avnz.gateways.base import Connector, ConnectorConfig
from avnz.gateways.sandbox import authorize_net as authorize_net_sandbox
from avnz.gateways.sandbox import nmi as nmi_sandbox
from avnz.gateways.sandbox import payflow as payflow_sandbox
from avnz.gateways.sandbox import stripe as stripe_sandbox

# Where `avnz serve` mounts the built-in sandboxes on its own port: /sandbox/{gateway}.
SANDBOX_MOUNT = "/sandbox"


@dataclass(frozen=True, slots=True)
class Gateway:
    connector: type[Connector]
    create_sandbox: Callable[[], Starlette]  # a fresh local emulator with an empty ledger
    sandbox_credentials: Mapping[str, str]  # what that emulator accepts

    @property
    def name(self) -> str:
        return self.connector.name


GATEWAYS: Mapping[str, Gateway] = {
    gateway.name: gateway
    for gateway in (
        Gateway(nmi.NmiConnector, nmi_sandbox.create_app, nmi_sandbox.SANDBOX_CREDENTIALS),
        Gateway(
            authorize_net.AuthorizeNetConnector,
            authorize_net_sandbox.create_app,
            authorize_net_sandbox.SANDBOX_CREDENTIALS,
        ),
        Gateway(
            payflow.PayflowConnector,
            payflow_sandbox.create_app,
            payflow_sandbox.SANDBOX_CREDENTIALS,
        ),
        Gateway(
            stripe.StripeConnector, stripe_sandbox.create_app, stripe_sandbox.SANDBOX_CREDENTIALS
        ),
    )
}


class UnknownGatewayError(KeyError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"unknown gateway {self.name!r}; known: {', '.join(sorted(GATEWAYS))}"


def gateway(name: str) -> Gateway:
    try:
        return GATEWAYS[name]
    except KeyError:
        raise UnknownGatewayError(name) from None


def connector(name: str, config: ConnectorConfig, http: httpx.AsyncClient) -> Connector:
    """The connector for gateway `name`, talking through the shared `http` client."""
    return gateway(name).connector(config, http)


def sandbox_mounts(names: Iterable[str] | None = None) -> list[Mount]:
    """A fresh sandbox per gateway (all of them by default), each mounted at `/{name}`."""
    chosen = [gateway(name) for name in names] if names is not None else GATEWAYS.values()
    return [Mount(f"/{g.name}", app=g.create_sandbox(), name=g.name) for g in chosen]


def sandbox_url(base_url: str, name: str) -> str:
    """The URL of gateway `name`'s sandbox mounted by `avnz serve` at `base_url`."""
    return f"{base_url.rstrip('/')}{SANDBOX_MOUNT}/{gateway(name).name}"

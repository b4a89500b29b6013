"""The gateways avnz speaks, found from their declarations.

Adding a gateway is one package plus its tests: create `avnz/gateways/<name>/` whose
`__init__.py` declares `GATEWAY = GatewayPlugin(...)` (see `plugin.py`: connector class, integration
provider code, catalogue text, icon, documentation URL, sandbox app and its credentials), and add
`tests/gateways/test_<name>.py`. The registry imports every package under `avnz.gateways` that
declares a `GATEWAY`; the integration definition, the sandbox mounted at /sandbox/<name>, the
CLI's choices and the merchant accounts' provider types all follow from it. Product code outside
the package does not name a gateway (the one exception left: the demo's NMI decline amount in
payments/demo.py).

Invariants: registry names and provider codes are unique; `GATEWAYS` is read-only and sorted by
name; only `register` and `unregister` change it (tests and extensions, never a request).
"""

import importlib
import pkgutil
from collections.abc import Iterable, Mapping
from types import MappingProxyType

import httpx
from starlette.responses import PlainTextResponse
from starlette.routing import Mount
from starlette.types import ASGIApp, Receive, Scope, Send

import avnz.gateways
from avnz.gateways.base import Connector, ConnectorConfig
from avnz.gateways.plugin import GatewayPlugin

# Where `avnz serve` mounts the built-in sandboxes on its own port: /sandbox/{gateway}.
SANDBOX_MOUNT = "/sandbox"


def _declared_gateways() -> list[GatewayPlugin]:
    """Every `GATEWAY` exported by a package directly under `avnz.gateways`."""
    found = []
    for package in pkgutil.iter_modules(avnz.gateways.__path__):
        if package.ispkg:
            module = importlib.import_module(f"{avnz.gateways.__name__}.{package.name}")
            declared = getattr(module, "GATEWAY", None)
            if isinstance(declared, GatewayPlugin):
                found.append(declared)
    return found


_registered: dict[str, GatewayPlugin] = {}
GATEWAYS: Mapping[str, GatewayPlugin] = MappingProxyType(_registered)


class UnknownGatewayError(KeyError):
    """No gateway is registered under this name; the message lists the ones that are."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"unknown gateway {self.name!r}; known: {', '.join(sorted(GATEWAYS))}"


def register(plugin: GatewayPlugin) -> None:
    """Add a gateway; its name and provider code must be new."""
    providers = {g.provider for g in _registered.values()}
    if plugin.name in _registered or plugin.provider in providers:
        raise ValueError(f"gateway {plugin.name!r} ({plugin.provider}) is already registered")
    entries = sorted([*_registered.values(), plugin], key=lambda g: g.name)
    _registered.clear()
    _registered.update((g.name, g) for g in entries)


def unregister(name: str) -> None:
    """Remove gateway `name` (a test's throwaway gateway); the others stay as they were."""
    if _registered.pop(name, None) is None:
        raise UnknownGatewayError(name)


def gateway(name: str) -> GatewayPlugin:
    """The declaration of gateway `name`, or UnknownGatewayError naming the known ones."""
    try:
        return GATEWAYS[name]
    except KeyError:
        raise UnknownGatewayError(name) from None


def connector(name: str, config: ConnectorConfig, http: httpx.AsyncClient) -> Connector:
    """The connector for gateway `name`, talking through the shared `http` client."""
    return gateway(name).connector(config, http)


# Where every sandbox serves its control routes (`sandbox.common.control_routes`).
CONTROLS_PATH = "/_sandbox/"


def sandbox_mounts(names: Iterable[str] | None = None, *, controls: bool = True) -> list[Mount]:
    """A fresh sandbox per gateway (all of them by default), each mounted at `/{name}`; without
    `controls`, its `/_sandbox/` routes answer 404 (`AVNZ_SANDBOX_CONTROLS`)."""
    chosen = [gateway(name) for name in names] if names is not None else GATEWAYS.values()
    return [
        Mount(f"/{g.name}", app=_gated(g.create_sandbox(), controls), name=g.name) for g in chosen
    ]


def _gated(sandbox: ASGIApp, controls: bool) -> ASGIApp:
    if controls:
        return sandbox

    async def without_controls(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and path[len(scope.get("root_path", "")) :].startswith(
            CONTROLS_PATH
        ):
            await PlainTextResponse("Not Found", status_code=404)(scope, receive, send)
            return
        await sandbox(scope, receive, send)

    return without_controls


def sandbox_url(base_url: str, name: str) -> str:
    """The URL of gateway `name`'s sandbox mounted by `avnz serve` at `base_url`."""
    return f"{base_url.rstrip('/')}{SANDBOX_MOUNT}/{gateway(name).name}"


for _declared in _declared_gateways():
    register(_declared)

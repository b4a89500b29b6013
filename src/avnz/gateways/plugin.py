"""What a gateway declares about itself: the one object a gateway package exports as `GATEWAY`.

Invariants: a gateway is described here and nowhere else. Its registry name, display label,
production and sandbox URLs and credentials schema are its connector's class attributes; the
rest (integration provider code, catalogue text, icon, documentation, sandbox) are fields below.
The registry, the integration definitions, the sandbox mounts and every list of provider types
are built from these objects.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette

from avnz.gateways.base import Connector


@dataclass(frozen=True, slots=True, eq=False)  # one object per gateway: compared by identity
class GatewayPlugin:
    """One gateway: how to talk to it, how to show it, and its local emulator."""

    connector: type[Connector]
    provider: str  # its integration provider code (`integration_definitions.provider`)
    description: str  # the catalogue's sentence about it
    icon: str  # a file name under web/static/integrations/
    documentation_url: str
    create_sandbox: Callable[[], Starlette]  # a fresh local emulator with an empty ledger
    sandbox_credentials: Mapping[str, str]  # what that emulator accepts

    @property
    def name(self) -> str:
        """The registry name (`merchant_accounts.provider_type`, `/sandbox/{name}`)."""
        return self.connector.name

    @property
    def label(self) -> str:
        """The name people read in the dashboard."""
        return self.connector.display_name

    @property
    def credentials_schema(self) -> Mapping[str, Any]:
        """The JSON Schema of an account's credentials (its integration's credential schema)."""
        return self.connector.credentials_schema

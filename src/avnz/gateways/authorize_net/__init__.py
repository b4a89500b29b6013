"""Authorize.Net, declared once: connector (`connector.py`), wire mapping (`payloads.py`,
`codes.py`, `responses.py`) and a local emulator (`sandbox/`). The registry reads `GATEWAY`."""

from avnz.gateways.authorize_net.connector import AuthorizeNetConnector
from avnz.gateways.authorize_net.sandbox import create_app
from avnz.gateways.authorize_net.sandbox.tables import SANDBOX_CREDENTIALS
from avnz.gateways.plugin import GatewayPlugin

GATEWAY = GatewayPlugin(
    connector=AuthorizeNetConnector,
    provider="AUTHORIZE_NET",
    description="Card payments through Authorize.Net; each integration feeds a merchant account "
    "of one brand.",
    icon="authorize_net.svg",
    documentation_url="https://developer.authorize.net/api/reference/",
    create_sandbox=create_app,
    sandbox_credentials=SANDBOX_CREDENTIALS,
)

"""NMI, declared once: connector (`connector.py`), wire mapping (`payloads.py`, `codes.py`,
`responses.py`) and a local emulator (`sandbox.py`). The registry reads `GATEWAY`."""

from avnz.gateways.nmi.connector import NmiConnector
from avnz.gateways.nmi.sandbox import SANDBOX_CREDENTIALS, create_app
from avnz.gateways.plugin import GatewayPlugin

GATEWAY = GatewayPlugin(
    connector=NmiConnector,
    provider="NMI",
    description="Card payments through NMI; each integration feeds a merchant account of one "
    "brand.",
    icon="nmi.svg",
    documentation_url="https://docs.nmi.com/reference/getting-started",
    create_sandbox=create_app,
    sandbox_credentials=SANDBOX_CREDENTIALS,
)

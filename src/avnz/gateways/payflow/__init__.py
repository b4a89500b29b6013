"""PayPal Payflow Pro, declared once: connector (`connector.py`), wire mapping (`nvp.py`,
`payloads.py`, `responses.py`) and a local emulator (`sandbox/`). The registry reads `GATEWAY`."""

from avnz.gateways.payflow.connector import PayflowConnector
from avnz.gateways.payflow.sandbox import create_app
from avnz.gateways.payflow.sandbox.triggers import SANDBOX_CREDENTIALS
from avnz.gateways.plugin import GatewayPlugin

GATEWAY = GatewayPlugin(
    connector=PayflowConnector,
    provider="PAYPAL_PAYFLOW",
    description="Card payments through PayPal Payflow Pro; each integration feeds a merchant "
    "account of one brand.",
    icon="paypal_payflow.svg",
    documentation_url="https://developer.paypal.com/api/nvp-soap/payflow/payflow-gateway-overview/",
    create_sandbox=create_app,
    sandbox_credentials=SANDBOX_CREDENTIALS,
)

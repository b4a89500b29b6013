"""Stripe, declared once: connector (`connector.py`), wire mapping (`payloads.py`, `codes.py`,
`responses.py`) and a local emulator (`sandbox/`). The registry reads `GATEWAY`."""

from avnz.gateways.plugin import GatewayPlugin
from avnz.gateways.stripe.connector import StripeConnector
from avnz.gateways.stripe.sandbox import create_app
from avnz.gateways.stripe.sandbox.tables import SANDBOX_CREDENTIALS

GATEWAY = GatewayPlugin(
    connector=StripeConnector,
    provider="STRIPE",
    description="Card payments through Stripe; each integration feeds a merchant account of one "
    "brand.",
    icon="stripe.svg",
    documentation_url="https://docs.stripe.com/api",
    create_sandbox=create_app,
    sandbox_credentials=SANDBOX_CREDENTIALS,
)

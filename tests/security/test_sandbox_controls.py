"""The sandboxes' control routes (faults, reset, transactions, settle) can fail or forget any
sandbox payment, so wherever the product mounts its sandboxes they are off unless
AVNZ_SANDBOX_CONTROLS turns them on; the sandboxes themselves keep answering (issue 21)."""

import pytest

from avnz.gateways import registry
from tests.security.helpers import asgi_client

CONTROLS = [
    ("GET", "/sandbox/nmi/_sandbox/transactions"),
    ("POST", "/sandbox/nmi/_sandbox/faults"),
    ("POST", "/sandbox/stripe/_sandbox/reset"),
    ("POST", "/sandbox/authorize_net/_sandbox/settle"),
]


@pytest.mark.parametrize(("method", "path"), CONTROLS)
async def test_control_routes_are_off_by_default(make_app, method: str, path: str) -> None:
    app = make_app(mount_sandboxes=True)
    async with asgi_client(app) as client:
        response = await client.request(method, path, json={"mode": "hang"})
        assert response.status_code == 404
        # The gateway behind it still answers: its own refusal of a request without a key.
        charge = await client.post("/sandbox/stripe/v1/payment_intents")
        assert charge.status_code == 401


async def test_a_sandbox_without_controls_cannot_be_made_to_fail(make_app) -> None:
    app = make_app(mount_sandboxes=True)
    async with asgi_client(app) as client:
        await client.post("/sandbox/nmi/_sandbox/faults", json={"mode": "error"})
        form = {
            "security_key": registry.gateway("nmi").sandbox_credentials["security_key"],
            "type": "sale",
            "amount": "12.00",
            "ccnumber": "4111111111111111",
            "ccexp": "1030",
        }
        sale = await client.post("/sandbox/nmi/api/transact.php", data=form)
        assert sale.status_code == 200 and "response=1" in sale.text


async def test_the_setting_turns_them_on(make_app) -> None:
    app = make_app(mount_sandboxes=True, sandbox_controls=True)
    async with asgi_client(app) as client:
        listed = await client.get("/sandbox/nmi/_sandbox/transactions")
        assert listed.status_code == 200 and isinstance(listed.json(), list)

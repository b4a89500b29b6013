"""`avnz demo` gives each agency's first brand one sandbox merchant account per gateway, aimed
at the sandboxes `avnz serve` mounts on its own port, so the demo charges locally end to end."""

import os
import subprocess
from pathlib import Path

import httpx
from sqlalchemy import func, select

from avnz.gateways import registry
from avnz.routing.accounts import service as routing
from avnz.routing.accounts.models import MerchantAccount
from avnz.runtime import Runtime
from avnz.tenancy import demo
from avnz.tenancy.models import Company
from tests.test_cli import AVNZ, _avnz, _free_port, _wait_until_up


async def test_demo_accounts_are_made_once_and_follow_the_base_url(runtime: Runtime) -> None:
    for base_url in ("http://127.0.0.1:8000", "http://127.0.0.1:8000", "http://localhost:9000/"):
        async with runtime.sessions.begin() as session:
            await demo.load(session, "pw", keyring=runtime.keyring, base_url=base_url)
    async with runtime.sessions() as session:
        accounts = (await session.scalars(select(MerchantAccount))).all()
        brands = (
            await session.scalars(
                select(Company.id).where(Company.slug.in_(("glow-skincare", "urban-coffee-club")))
            )
        ).all()
        assert len(brands) == 2
        assert await session.scalar(select(func.count()).select_from(MerchantAccount)) == 2 * len(
            registry.GATEWAYS
        )
    for brand in brands:
        mine = [a.provider_type for a in accounts if a.company_id == brand]
        assert sorted(mine) == sorted(registry.GATEWAYS)
    for account in accounts:
        assert account.environment.value == "sandbox" and account.status.value == "active"
        assert account.base_url == f"http://localhost:9000/sandbox/{account.provider_type}"
        assert routing.decrypt_credentials(runtime.keyring, account) == dict(
            registry.GATEWAYS[account.provider_type].sandbox_credentials
        )


def test_demo_accounts_pass_their_connection_test_against_avnz_serve(tmp_path: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AVNZ_")},
        "AVNZ_DATA_DIR": str(tmp_path),
        "AVNZ_BASE_URL": base,
    }
    assert _avnz(tmp_path, "migrate").returncode == 0
    made = subprocess.run(
        [AVNZ, "demo", "--password", "demo-password"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    process = subprocess.Popen(
        [AVNZ, "serve", "--port", str(port)],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_until_up(f"{base}/health/live", process)
        login = httpx.post(
            f"{base}/api/v1/auth/login",
            json={"email": "company.admin@demo.avnz.io", "password": "demo-password"},
        )
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        listed = httpx.get(f"{base}/api/v1/merchant-accounts", headers=headers)
        accounts = listed.json()["data"]
        assert sorted(a["provider_type"] for a in accounts) == sorted(registry.GATEWAYS)
        results = {
            a["provider_type"]: httpx.post(
                f"{base}/api/v1/merchant-accounts/{a['id']}/test", headers=headers, timeout=30
            ).json()
            for a in accounts
        }
        assert {name: r["success"] for name, r in results.items()} == dict.fromkeys(
            registry.GATEWAYS, True
        ), results
    finally:
        process.terminate()
        process.wait(timeout=15)

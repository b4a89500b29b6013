"""X-Forwarded-For against a real `avnz serve` (uvicorn used to believe it from any loopback
peer): rotating the header does not bypass the login limit. Without trusted proxies the peer
is the client; behind a trusted proxy each forwarded address has its own per-IP count, and the
per-account backoff still stops the guessing."""

import httpx

from avnz.config import Settings
from avnz.tenancy.models import Role
from tests.factories import World
from tests.reliability.support import Server, server_env, start_server, wait_until_up
from tests.support.payments import API


async def _rotating_guesses(server: Server, email: str, times: int) -> list[str]:
    """Each answer as `status` or, for a 429, `429 account` / `429 address` by what refused."""
    wrong = {"email": email, "password": "wrong-guess"}
    answers = []
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
        for n in range(times):
            forwarded = {"X-Forwarded-For": f"203.0.113.{n}"}
            answer = await http.post(f"{API}/auth/login", json=wrong, headers=forwarded)
            by = "account" if "this account" in answer.text else "address"
            answers.append(f"429 {by}" if answer.status_code == 429 else str(answer.status_code))
    return answers


async def test_rotating_x_forwarded_for_does_not_bypass_the_login_limit(
    world: World, settings: Settings, tmp_path
) -> None:
    email = world.a.users[Role.CLIENT_ADMIN].email
    base = server_env(settings, AVNZ_RATE_LIMIT_AUTH="3/minute", AVNZ_LOGIN_FREE_ATTEMPTS="3")
    direct = start_server(base, tmp_path / "direct.log")
    proxied = start_server(
        {**base, "AVNZ_TRUSTED_PROXIES": "127.0.0.1", "AVNZ_LOGIN_BACKOFF_BASE_SECONDS": "60"},
        tmp_path / "proxied.log",
    )
    try:
        wait_until_up(direct)
        wait_until_up(proxied)
        # No trusted proxy: the header is the client's own words; the per-IP limit holds.
        assert await _rotating_guesses(direct, email, 4) == ["401"] * 3 + ["429 address"]
        # Behind a trusted proxy every address counts apart, so the account's backoff stops it.
        other = world.a.users[Role.CLIENT_USER].email
        assert await _rotating_guesses(proxied, other, 5) == ["401"] * 3 + ["429 account"] * 2
    finally:
        direct.stop()
        proxied.stop()

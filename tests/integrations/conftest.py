"""Fixtures of the integration tests: local provider APIs, a real SMTP server with logins, and
the logs as `avnz serve` writes them."""

import logging
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
import structlog
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Sink
from aiosmtpd.smtp import AuthResult, LoginPassword

from avnz.core.logging import configure_logging
from tests.integrations.providers import Providers
from tests.support.live_server import free_port, live_server

SMTP_USER = "mailer@brand-a.example.com"
SMTP_PASSWORD = "Kq7-mailbox-Pw9!"


@pytest.fixture
def providers() -> Iterator[tuple[Providers, str]]:
    """The provider stand-ins and their base URL on loopback."""
    fake = Providers()
    with live_server(fake.app()) as url:
        yield fake, url


@pytest.fixture
def smtp_server() -> Iterator[Controller]:
    """aiosmtpd on loopback, asking for a login (without TLS, so tests need no certificate)."""

    def authenticator(
        server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == SMTP_USER.encode()
            and auth_data.password == SMTP_PASSWORD.encode()
        )
        return AuthResult(success=ok, handled=False)

    controller = Controller(
        Sink(),
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=authenticator,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


@pytest.fixture
def captured_logs() -> Iterator[StringIO]:
    """Logging configured as `avnz serve` does, at DEBUG, into a buffer (restored afterwards)."""
    saved_structlog = structlog.get_config()
    loggers = [logging.getLogger(name) for name in ("", "uvicorn", "uvicorn.error", "httpx")]
    saved = [(lg, lg.handlers[:], lg.level, lg.propagate) for lg in loggers]
    stream = StringIO()
    configure_logging(level="DEBUG", stream=stream)
    try:
        yield stream
    finally:
        structlog.configure(**saved_structlog)
        for lg, handlers, level, propagate in saved:
            lg.handlers[:] = handlers
            lg.setLevel(level)
            lg.propagate = propagate

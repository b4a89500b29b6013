"""Connection tests: one real exchange with the provider, with the integration's credentials.

Payment gateways answer through their connector's `verify()`, SMTP servers through a login, and
HTTP APIs through one cheap authenticated GET on their base URL (the definition's default, or
`settings.base_url`). A test never raises and never says a secret: its message is built from
status codes and error classes, and any credential value is masked out of it as a last net.
"""

import asyncio
import contextlib
import smtplib
import ssl
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httpx
import structlog

from avnz.core import clock
from avnz.core.masking import MASK, mask_text
from avnz.gateways import registry
from avnz.gateways.base import ConnectorConfig, Environment, GatewayResult, Outcome
from avnz.integrations import sigv4
from avnz.integrations.definitions import Definition
from avnz.integrations.probe_specs import (
    AwsSigV4,
    Basic,
    Bearer,
    GatewayProbe,
    Header,
    HttpProbe,
    OidcProbe,
    SmtpProbe,
)

log = structlog.get_logger(__name__)
HTTP_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
MESSAGE_LIMIT = 300


@dataclass(frozen=True, slots=True)
class ProbeResult:
    success: bool
    message: str
    latency_ms: float

    def as_json(self) -> dict[str, Any]:
        return {"success": self.success, "message": self.message, "latency_ms": self.latency_ms}


@dataclass(frozen=True, slots=True)
class Target:
    """What to test: a provider, with the credentials and settings of one integration."""

    definition: Definition
    credentials: Mapping[str, str]
    settings: Mapping[str, Any]
    environment: Environment


def _elapsed(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def _scrub(message: str, target: "Target") -> str:
    """Mask every secret credential value (the schema marks them writeOnly) out of `message`."""
    properties = target.definition.credential_schema.get("properties", {})
    secrets = [
        str(value)
        for name, value in target.credentials.items()
        if properties.get(name, {}).get("writeOnly") and len(str(value)) >= 4
    ]
    for value in sorted(secrets, key=len, reverse=True):
        message = message.replace(value, MASK)
    return mask_text(message)[:MESSAGE_LIMIT]


def _setting(target: Target, name: str) -> Any:
    """A setting's value, or the default its schema declares."""
    if name in target.settings:
        return target.settings[name]
    properties = target.definition.settings_schema.get("properties", {})
    return properties.get(name, {}).get("default")


def base_url(target: Target) -> str | None:
    """`settings.base_url`, else the definition's URL with its `{setting}` placeholders filled."""
    override = target.settings.get("base_url")
    if override:
        return str(override).rstrip("/")
    template = target.definition.api_base_url
    if template is None:
        return None
    names = {k: _setting(target, k) for k in target.definition.settings_schema["properties"]}
    return template.format_map({k: v for k, v in names.items() if v is not None}).rstrip("/")


# --- payment gateways ------------------------------------------------------------------------


def _gateway_message(name: str, result: GatewayResult) -> str:
    detail = result.raw_message or result.outcome.value
    if result.outcome is Outcome.APPROVED:
        return f"{name} accepted the credentials."
    if result.outcome is Outcome.CONFIG_ERROR:
        return f"{name} refused the credentials: {detail}"
    if result.outcome is Outcome.ERROR_BEFORE_SEND:
        return f"Could not reach {name} ({detail})."
    if result.outcome is Outcome.TIMEOUT_AFTER_SEND:
        return f"{name} did not answer in time ({detail})."
    return f"{name} answered with an error: {detail}"


async def _gateway(target: Target, http: httpx.AsyncClient) -> ProbeResult:
    assert target.definition.gateway is not None
    config = ConnectorConfig(
        credentials=dict(target.credentials),
        environment=target.environment,
        base_url=target.settings.get("base_url"),
    )
    connector = registry.connector(target.definition.gateway, config, http)
    started = time.perf_counter()
    try:
        result = await connector.verify()
    except ValueError as exc:  # a credential the connector needs is missing
        return ProbeResult(False, str(exc), _elapsed(started))
    return ProbeResult(
        result.outcome is Outcome.APPROVED,
        _gateway_message(connector.display_name, result),
        result.latency_ms or _elapsed(started),
    )


# --- SMTP ------------------------------------------------------------------------------------


def smtp_timeout(target: Target) -> float:
    """Seconds one SMTP operation of the target may take (its `timeout_seconds` setting)."""
    return float(_setting(target, "timeout_seconds"))


@contextlib.contextmanager
def smtp_session(target: Target) -> Iterator[smtplib.SMTP]:
    """An SMTP connection logged in with the target's credentials (STARTTLS or implicit TLS
    as its settings say), closed on exit. Blocking: run it in a thread."""
    host, port = str(target.settings["host"]), int(_setting(target, "port"))
    timeout = smtp_timeout(target)
    use_tls = bool(_setting(target, "use_tls"))
    context = ssl.create_default_context()
    smtp = (
        smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        if use_tls
        else smtplib.SMTP(host, port, timeout=timeout)
    )
    with smtp:
        smtp.ehlo()
        if bool(_setting(target, "starttls")) and not use_tls:
            smtp.starttls(context=context)
            smtp.ehlo()
        smtp.login(
            str(target.credentials.get("username", "")),
            str(target.credentials.get("password", "")),
        )
        yield smtp


def _smtp_login(target: Target) -> None:
    with smtp_session(target):
        pass


async def _smtp(target: Target, http: httpx.AsyncClient) -> ProbeResult:
    host = str(target.settings["host"])
    port = int(_setting(target, "port"))
    timeout = smtp_timeout(target)
    where = f"{host}:{port}"
    started = time.perf_counter()
    try:
        await asyncio.wait_for(asyncio.to_thread(_smtp_login, target), timeout=timeout * 2)
    except smtplib.SMTPAuthenticationError as exc:
        message = f"{where} refused the username or password (SMTP {exc.smtp_code})."
    except smtplib.SMTPNotSupportedError:
        message = f"{where} offers no login (AUTH) or no STARTTLS on this connection."
    except smtplib.SMTPException as exc:
        message = f"SMTP exchange with {where} failed ({type(exc).__name__})."
    except TimeoutError:
        message = f"{where} did not answer within {timeout:g} s."
    except ssl.SSLError as exc:
        message = f"TLS with {where} failed ({exc.reason or type(exc).__name__})."
    except OSError as exc:
        message = f"Could not connect to {where} ({type(exc).__name__})."
    else:
        return ProbeResult(True, f"Logged in to {where}.", _elapsed(started))
    return ProbeResult(False, message, _elapsed(started))


# --- HTTP APIs -------------------------------------------------------------------------------


def _request_parts(
    probe: HttpProbe, target: Target, url: str
) -> tuple[dict[str, str], httpx.BasicAuth | None]:
    headers = dict(probe.headers)
    credentials = target.credentials
    auth = probe.auth
    if isinstance(auth, Bearer):
        if credentials.get(auth.field):
            headers["authorization"] = f"Bearer {credentials[auth.field]}"
        elif not auth.optional:
            raise KeyError(auth.field)
    elif isinstance(auth, Header):
        headers[auth.name] = auth.template.format(credentials[auth.field])
    elif isinstance(auth, Basic):
        return headers, httpx.BasicAuth(credentials[auth.username], credentials[auth.password])
    elif isinstance(auth, AwsSigV4):
        headers = sigv4.sign(
            method="GET",
            url=url,
            headers=headers,
            body=b"",
            access_key_id=credentials["access_key_id"],
            secret_access_key=credentials["secret_access_key"],
            session_token=credentials.get("session_token"),
            region=str(_setting(target, "region")),
            service=auth.service,
            now=clock.now(),
        )
    return headers, None


async def _http(target: Target, http: httpx.AsyncClient) -> ProbeResult:
    probe = target.definition.probe
    assert isinstance(probe, HttpProbe)
    name = target.definition.name
    base = base_url(target)
    if not base:
        return ProbeResult(False, "No API base URL: set settings.base_url.", 0.0)
    values = {**target.settings, **target.credentials}
    try:
        url = base + probe.path.format_map({k: quote(str(v), safe="") for k, v in values.items()})
        if probe.query:
            url += "?" + urlencode(probe.query, quote_via=quote)
        headers, basic = _request_parts(probe, target, url)
    except KeyError as exc:
        return ProbeResult(False, f"The credentials lack {exc.args[0]!r}.", 0.0)
    host = urlsplit(base).netloc
    started = time.perf_counter()
    try:
        response = await http.get(url, headers=headers, auth=basic, timeout=HTTP_TIMEOUT)
    except httpx.TimeoutException:
        return ProbeResult(False, f"{host} did not answer in time.", _elapsed(started))
    except httpx.HTTPError as exc:
        return ProbeResult(
            False, f"Could not reach {host} ({type(exc).__name__}).", _elapsed(started)
        )
    latency = _elapsed(started)
    status = response.status_code
    if 200 <= status < 300:
        return ProbeResult(True, f"{name} accepted the credentials (HTTP {status}).", latency)
    if status in (401, 403):
        return ProbeResult(False, f"{name} refused the credentials (HTTP {status}).", latency)
    return ProbeResult(False, f"{name} at {host} answered HTTP {status}.", latency)


# --- OpenID Connect providers ----------------------------------------------------------------


async def _get_json(http: httpx.AsyncClient, url: str) -> Any:
    response = await http.get(url, timeout=HTTP_TIMEOUT)
    response.raise_for_status()
    return response.json()


async def _oidc(target: Target, http: httpx.AsyncClient) -> ProbeResult:
    issuer = str(target.settings.get("issuer", "")).rstrip("/")
    started = time.perf_counter()
    discovery_url = f"{issuer}/.well-known/openid-configuration"
    try:
        document = await _get_json(http, discovery_url)
        if not isinstance(document, dict) or str(document.get("issuer", "")).rstrip("/") != issuer:
            return ProbeResult(
                False, "The discovery document names another issuer.", _elapsed(started)
            )
        jwks_url = target.settings.get("jwks_uri") or document.get("jwks_uri")
        if not isinstance(jwks_url, str) or not jwks_url:
            return ProbeResult(False, "The discovery document names no JWKS.", _elapsed(started))
        keyset = await _get_json(http, jwks_url)
    except httpx.HTTPStatusError as exc:
        return ProbeResult(
            False,
            f"{exc.request.url.host} answered HTTP {exc.response.status_code} for "
            f"{exc.request.url.path}.",
            _elapsed(started),
        )
    except httpx.HTTPError as exc:
        return ProbeResult(
            False, f"Could not reach the issuer ({type(exc).__name__}).", _elapsed(started)
        )
    except ValueError:
        return ProbeResult(
            False, "The identity provider answered with invalid JSON.", _elapsed(started)
        )
    keys = keyset.get("keys") if isinstance(keyset, dict) else None
    if not isinstance(keys, list) or not keys:
        return ProbeResult(False, "The JWKS holds no signing keys.", _elapsed(started))
    return ProbeResult(
        True,
        f"Found the issuer's discovery document and {len(keys)} signing key(s).",
        _elapsed(started),
    )


Runner = Callable[[Target, httpx.AsyncClient], Awaitable[ProbeResult]]
RUNNERS: Mapping[type[Any], Runner] = {
    GatewayProbe: _gateway,
    SmtpProbe: _smtp,
    HttpProbe: _http,
    OidcProbe: _oidc,
}


async def check_connection(target: Target, http: httpx.AsyncClient) -> ProbeResult:
    """Run the provider's test; every failure, even an unexpected one, is a result, not an error."""
    started = time.perf_counter()
    try:
        result = await RUNNERS[type(target.definition.probe)](target, http)
    except Exception as exc:  # a connection test reports; it never turns into a 500
        log.warning(
            "integration_test_failed",
            provider=target.definition.provider,
            error_class=type(exc).__name__,
        )
        result = ProbeResult(
            False, f"The test failed unexpectedly ({type(exc).__name__}).", _elapsed(started)
        )
    return ProbeResult(result.success, _scrub(result.message, target), result.latency_ms)

"""Sign-in through the organization's identity provider: the OpenID Connect authorization code
flow with state, nonce and PKCE (S256), when an active auth integration has a client id.

The flow's secrets (state, nonce, code verifier, where to go next) travel in a short-lived
cookie encrypted with the keyring, so any server process can finish what another started."""

import base64
import hashlib
import hmac
import json
import time
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import jwt
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.auth import service as auth_service
from avnz.auth.oidc import verify_external_token
from avnz.core.errors import Unauthenticated
from avnz.integrations import identity
from avnz.runtime import Runtime
from avnz.security.keyring import DecryptionError
from avnz.security.passwords import new_token
from avnz.tenancy.models import User

COOKIE = "avnz_oidc"
COOKIE_PATH = "/login/oidc"
CALLBACK_PATH = "/login/oidc/callback"
FLOW_SECONDS = 600
_AAD = b"avnz.dashboard.oidc-flow"
_TIMEOUT = httpx.Timeout(10.0, connect=3.0)


class SignInFailed(Exception):
    """The identity provider's sign-in did not complete; `message` can be shown to the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class Flow:
    state: str
    nonce: str
    verifier: str
    next_path: str
    organization_id: str
    started: float


async def available(session: AsyncSession, runtime: Runtime) -> bool:
    """True when an active identity integration can take a sign-in redirect (has a client id)."""
    return any(config.client_id for _, config in await identity.oidc_configs(session))


def redirect_uri(runtime: Runtime) -> str:
    return runtime.settings.base_url.rstrip("/") + CALLBACK_PATH


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def _config(
    session: AsyncSession, runtime: Runtime, organization_id: str | None = None
) -> identity.SignInConfig:
    configs = await identity.sign_in_configs(session, runtime.keyring)
    for config in configs:
        if organization_id is None or config.organization_id == organization_id:
            return config
    raise SignInFailed("Sign-in with an identity provider is not set up.")


async def _discover(runtime: Runtime, issuer: str) -> dict[str, str]:
    """The provider's authorize and token endpoints, from its discovery document."""
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        response = await runtime.http.get(url, timeout=_TIMEOUT)
        response.raise_for_status()
        document: dict[str, Any] = response.json()
    except (httpx.HTTPError, ValueError):
        raise SignInFailed("The identity provider could not be reached. Try again.") from None
    endpoints = {}
    for name in ("authorization_endpoint", "token_endpoint"):
        value = document.get(name)
        if not isinstance(value, str) or urlsplit(value).scheme not in ("https", "http"):
            raise SignInFailed("The identity provider's configuration is incomplete.")
        endpoints[name] = value
    return endpoints


def _seal(runtime: Runtime, flow: Flow) -> str:
    return runtime.keyring.encrypt(json.dumps(asdict(flow)).encode(), aad=_AAD)


def _unseal(runtime: Runtime, sealed: str | None) -> Flow:
    if not sealed:
        raise SignInFailed("The sign-in took too long or was started elsewhere. Try again.")
    try:
        flow = Flow(**json.loads(runtime.keyring.decrypt(sealed, aad=_AAD)))
    except (DecryptionError, ValueError, TypeError):
        raise SignInFailed("The sign-in could not be verified. Try again.") from None
    if time.time() - flow.started > FLOW_SECONDS:
        raise SignInFailed("The sign-in took too long. Try again.")
    return flow


async def begin(session: AsyncSession, runtime: Runtime, next_path: str) -> tuple[str, str]:
    """(the provider's authorize URL to redirect to, the sealed flow for the cookie)."""
    config = await _config(session, runtime)
    endpoints = await _discover(runtime, config.oidc.issuer_str)
    flow = Flow(
        state=new_token(),
        nonce=new_token(),
        verifier=new_token() + new_token(),  # PKCE wants 43-128 characters
        next_path=next_path,
        organization_id=config.organization_id,
        started=time.time(),
    )
    query = urlencode(
        {
            "response_type": "code",
            "client_id": config.oidc.client_id,
            "redirect_uri": redirect_uri(runtime),
            "scope": "openid email profile",
            "state": flow.state,
            "nonce": flow.nonce,
            "code_challenge": _challenge(flow.verifier),
            "code_challenge_method": "S256",
        }
    )
    return f"{endpoints['authorization_endpoint']}?{query}", _seal(runtime, flow)


async def _exchange(
    runtime: Runtime, config: identity.SignInConfig, token_endpoint: str, code: str, flow: Flow
) -> str:
    """Trade the code (and the PKCE verifier) for the ID token."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri(runtime),
        "client_id": str(config.oidc.client_id),
        "code_verifier": flow.verifier,
    }
    if config.client_secret:
        form["client_secret"] = config.client_secret
    try:
        response = await runtime.http.post(token_endpoint, data=form, timeout=_TIMEOUT)
        body: dict[str, Any] = response.json()
    except (httpx.HTTPError, ValueError):
        raise SignInFailed("The identity provider could not be reached. Try again.") from None
    id_token = body.get("id_token")
    if response.status_code != 200 or not isinstance(id_token, str):
        raise SignInFailed("The identity provider refused the sign-in.")
    return id_token


async def _claims(
    runtime: Runtime, config: identity.SignInConfig, id_token: str, flow: Flow
) -> dict[str, Any]:
    """The ID token's claims: signed by the provider's key, for our client id, with our nonce."""
    # An ID token's audience is the client id, not the API audience the settings name.
    oidc = config.oidc.model_copy(update={"audience": config.oidc.client_id})
    try:
        header = jwt.get_unverified_header(id_token)
        claims = await verify_external_token(
            id_token, header=header, config=oidc, jwks=runtime.jwks
        )
    except (jwt.PyJWTError, Unauthenticated):
        raise SignInFailed("The identity provider's answer could not be verified.") from None
    if not hmac.compare_digest(str(claims.get("nonce", "")), flow.nonce):
        raise SignInFailed("The identity provider's answer could not be verified.")
    return claims


async def complete(
    session: AsyncSession, runtime: Runtime, *, sealed: str | None, code: str, state: str
) -> tuple[User, str]:
    """The user the provider signed in and where they wanted to go; raises SignInFailed."""
    flow = _unseal(runtime, sealed)
    if not hmac.compare_digest(state, flow.state):
        raise SignInFailed("The sign-in could not be verified. Try again.")
    config = await _config(session, runtime, flow.organization_id)
    endpoints = await _discover(runtime, config.oidc.issuer_str)
    id_token = await _exchange(runtime, config, endpoints["token_endpoint"], code, flow)
    claims = await _claims(runtime, config, id_token, flow)
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise SignInFailed("The identity provider's answer names no user.")
    email = claims.get("email") if claims.get("email_verified") is True else None
    user = await auth_service.user_for_identity(
        session=session,
        organization_id=flow.organization_id,
        subject=subject,
        verified_email=email if isinstance(email, str) else None,
    )
    if user is None:
        raise SignInFailed("No active avnz user is linked to this identity.")
    return user, flow.next_path

"""Tokens from an external OpenID Connect provider (Auth0 first; Okta and Cognito alike).

The provider's issuer and audience come from the organization's settings in the database. The
JWKS is fetched over HTTPS (or loopback HTTP in tests), cached, and fetched again when a token
names a key id we have not seen, at most once per `refetch_interval` so a flood of forged kids
cannot turn us into a traffic amplifier.
"""

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
from pydantic import BaseModel, Field, HttpUrl, field_validator

from avnz.auth.tokens import decode_or_raise
from avnz.core.errors import Unauthenticated

# Asymmetric only: HS* would let anyone holding the public key mint tokens (alg confusion).
SUPPORTED_ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "PS256")
_KEY_TYPE_FOR_ALG = {"RS": "RSA", "PS": "RSA", "ES": "EC"}


class OidcSettings(BaseModel):
    """`organization.settings["oidc"]`: which IdP may sign in this organization's users."""

    provider: str = Field(default="auth0", pattern="^(auth0|okta|cognito|oidc)$")
    issuer: HttpUrl
    audience: str = Field(min_length=1, max_length=500)
    jwks_uri: HttpUrl | None = None
    algorithms: list[str] = Field(default_factory=lambda: ["RS256"], min_length=1)
    client_id: str | None = Field(default=None, max_length=200)

    @field_validator("algorithms")
    @classmethod
    def _asymmetric_only(cls, value: list[str]) -> list[str]:
        bad = [alg for alg in value if alg not in SUPPORTED_ALGORITHMS]
        if bad:
            raise ValueError(f"unsupported algorithms {bad}; allowed: {list(SUPPORTED_ALGORITHMS)}")
        return value

    @property
    def issuer_str(self) -> str:
        return str(self.issuer)

    @property
    def jwks_url(self) -> str:
        if self.jwks_uri:
            return str(self.jwks_uri)
        return self.issuer_str.rstrip("/") + "/.well-known/jwks.json"


@dataclass
class _CachedJwks:
    keys: dict[str, jwt.PyJWK]
    fetched_at: float


@dataclass
class JwksCache:
    http: httpx.AsyncClient
    ttl_seconds: float = 600.0
    refetch_interval: float = 30.0
    _entries: dict[str, _CachedJwks] = field(default_factory=dict)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    async def key(self, jwks_url: str, kid: str) -> jwt.PyJWK:
        entry = self._entries.get(jwks_url)
        now = time.monotonic()
        stale = entry is None or now - entry.fetched_at > self.ttl_seconds
        unknown_kid = entry is not None and kid not in entry.keys
        if stale or (unknown_kid and entry and now - entry.fetched_at > self.refetch_interval):
            entry = await self._refresh(jwks_url, previous=entry)
        if entry is None or kid not in entry.keys:
            raise Unauthenticated("The token was signed by an unknown key.", code="unknown_key")
        return entry.keys[kid]

    async def _refresh(self, url: str, previous: _CachedJwks | None) -> _CachedJwks | None:
        lock = self._locks.setdefault(url, asyncio.Lock())
        async with lock:
            current = self._entries.get(url)
            if current is not previous:  # another request refreshed while we waited
                return current
            try:
                response = await self.http.get(url, timeout=httpx.Timeout(5.0, connect=2.0))
                response.raise_for_status()
                keyset = jwt.PyJWKSet.from_dict(response.json())
            except (httpx.HTTPError, ValueError, jwt.PyJWTError):
                if previous is not None:
                    # Keep the old keys and try the IdP again after refetch_interval, not on
                    # every request while it is down.
                    retry_at = time.monotonic() - self.ttl_seconds + self.refetch_interval
                    self._entries[url] = _CachedJwks(previous.keys, fetched_at=retry_at)
                    return self._entries[url]
                raise Unauthenticated(
                    "The identity provider's signing keys could not be fetched.",
                    code="jwks_unavailable",
                ) from None
            fresh = _CachedJwks(
                keys={k.key_id: k for k in keyset.keys if k.key_id}, fetched_at=time.monotonic()
            )
            self._entries[url] = fresh
            return fresh


async def verify_external_token(
    token: str, *, header: dict[str, Any], config: OidcSettings, jwks: JwksCache
) -> dict[str, Any]:
    """Claims of an IdP token after checking algorithm, key, signature, issuer, audience, expiry."""
    alg = str(header.get("alg", ""))
    if alg not in config.algorithms:
        raise Unauthenticated(
            f"Tokens signed with {alg!r} are not accepted.", code="invalid_algorithm"
        )
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise Unauthenticated("The token names no signing key.", code="unknown_key")
    jwk = await jwks.key(config.jwks_url, kid)
    if jwk.key_type != _KEY_TYPE_FOR_ALG[alg[:2]]:
        raise Unauthenticated(
            "The token's algorithm does not match its key.", code="invalid_algorithm"
        )
    # HttpUrl gives a bare host a trailing "/"; IdPs differ on whether their `iss` has one.
    issuers = [config.issuer_str, config.issuer_str.rstrip("/")]
    return decode_or_raise(
        token, key=jwk.key, algorithms=[alg], audience=config.audience, issuer=issuers
    )

"""Hand-made JWTs for the rejection tests: each differs from a valid token in one way only."""

import base64
import hashlib
import hmac
import json
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _segment(data: dict[str, Any]) -> str:
    return b64url(json.dumps(data, separators=(",", ":")).encode())


def claims_of(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def unsigned(claims: dict[str, Any], *, kid: str) -> str:
    """`alg: none` with an empty signature, naming a real key id."""
    return f"{_segment({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{_segment(claims)}."


def public_pem(key: PublicKeyTypes) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def hs256_with_public_key(claims: dict[str, Any], *, kid: str, public_key: PublicKeyTypes) -> str:
    """Algorithm confusion: an HMAC keyed with the verifier's (public) key PEM."""
    # Built by hand: PyJWT itself refuses to use a PEM public key as an HMAC secret.
    signing_input = f"{_segment({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{_segment(claims)}"
    signature = hmac.new(public_pem(public_key), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def with_payload(token: str, claims: dict[str, Any]) -> str:
    """The same header and signature over different claims (a tampered token)."""
    header, _, signature = token.split(".")
    return f"{header}.{_segment(claims)}.{signature}"

"""Access tokens signed by avnz (ES256) and the JWKS that publishes their public keys.

Keys live as PEM files in `<data dir>/keys/` (created on first use, mode 0600); the newest signs,
all verify, so a new key can be added before an old one is retired.
"""

import base64
import hashlib
import os
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from avnz.core import clock
from avnz.core.errors import Unauthenticated

AUDIENCE = "avnz-api"
ALGORITHM = "ES256"


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    private_key: ec.EllipticCurvePrivateKey

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self.private_key.public_key()

    def jwk(self) -> dict[str, Any]:
        numbers = self.public_key.public_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            "use": "sig",
            "alg": ALGORITHM,
            "kid": self.kid,
            "x": _b64(numbers.x.to_bytes(32, "big")),
            "y": _b64(numbers.y.to_bytes(32, "big")),
        }


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _kid_for(key: ec.EllipticCurvePrivateKey) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()[:16]


def _write_new_key(keys_dir: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    name = f"{clock.now():%Y%m%dT%H%M%S}-{_kid_for(key)}.pem"
    # O_EXCL + 0600: never overwrite a key, never readable by other users.
    fd = os.open(keys_dir / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)


class Keyset:
    """The signing keys found in a directory, newest first."""

    def __init__(self, keys: list[SigningKey]) -> None:
        if not keys:
            raise ValueError("a keyset needs at least one key")
        self.keys = keys
        self._by_kid = {k.kid: k for k in keys}

    @classmethod
    def load_or_create(cls, keys_dir: Path) -> "Keyset":
        keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not any(keys_dir.glob("*.pem")):
            _write_new_key(keys_dir)
        keys = []
        for path in sorted(keys_dir.glob("*.pem"), reverse=True):
            private = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(private, ec.EllipticCurvePrivateKey):
                raise ValueError(f"{path.name} is not an EC private key")
            keys.append(SigningKey(kid=_kid_for(private), private_key=private))
        return cls(keys)

    @property
    def active(self) -> SigningKey:
        return self.keys[0]

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.jwk() for k in self.keys]}

    def issue_access_token(
        self, *, issuer: str, subject: str, session_id: str, ttl: timedelta, claims: dict[str, Any]
    ) -> str:
        issued = clock.now()
        payload = {
            **claims,
            "iss": issuer,
            "aud": AUDIENCE,
            "sub": subject,
            "sid": session_id,
            "jti": secrets.token_urlsafe(12),
            "iat": int(issued.timestamp()),
            "exp": int((issued + ttl).timestamp()),
        }
        return jwt.encode(
            payload, self.active.private_key, ALGORITHM, headers={"kid": self.active.kid}
        )

    def verify_access_token(self, token: str, *, issuer: str) -> dict[str, Any]:
        """Claims of a token we signed; raises Unauthenticated for any flaw, saying which."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated("The access token is malformed.", code="invalid_token") from None
        key = self._by_kid.get(str(header.get("kid")))
        if key is None:
            raise Unauthenticated("The token was signed by an unknown key.", code="unknown_key")
        return decode_or_raise(
            token,
            key=key.public_key,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=issuer,
        )


def decode_or_raise(
    token: str, *, key: Any, algorithms: list[str], audience: str, issuer: str | list[str]
) -> dict[str, Any]:
    """jwt.decode with the required claims, turning each failure into a clear 401."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key=key,
            algorithms=algorithms,
            audience=audience,
            issuer=issuer,
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            leeway=timedelta(seconds=30),
        )
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("The access token has expired.", code="token_expired") from None
    except jwt.InvalidAudienceError:
        raise Unauthenticated(
            "The token is not meant for this API.", code="invalid_audience"
        ) from None
    except jwt.InvalidIssuerError:
        raise Unauthenticated("The token's issuer is not trusted.", code="invalid_issuer") from None
    except jwt.InvalidAlgorithmError:
        raise Unauthenticated(
            "The token's algorithm is not allowed.", code="invalid_algorithm"
        ) from None
    except jwt.InvalidSignatureError:
        raise Unauthenticated(
            "The token's signature is invalid.", code="invalid_signature"
        ) from None
    except jwt.PyJWTError:
        raise Unauthenticated("The access token is invalid.", code="invalid_token") from None
    return claims

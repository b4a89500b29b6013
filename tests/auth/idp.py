"""An OpenID Connect provider on loopback: publishes its JWKS over real HTTP, signs RS256 tokens.

It runs a stdlib HTTP server in a thread, so the app's own httpx client fetches the keys exactly
as it would from Auth0; `hits` counts those fetches.
"""

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

JWKS_PATH = "/.well-known/jwks.json"
AUDIENCE = "https://api.avnz.local"


@dataclass(frozen=True)
class RsaKey:
    kid: str
    private_key: rsa.RSAPrivateKey

    @classmethod
    def generate(cls, kid: str) -> "RsaKey":
        return cls(kid, rsa.generate_private_key(public_exponent=65537, key_size=2048))

    def jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = RSAAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}


class IdentityProvider:
    def __init__(self) -> None:
        self.published: list[RsaKey] = [RsaKey.generate("idp-key-1")]
        self.hits = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/"

    @property
    def signing_key(self) -> RsaKey:
        return self.published[-1]

    def oidc_settings(self, **overrides: Any) -> dict[str, Any]:
        """The organization's `settings.oidc` that trusts this provider."""
        return {"provider": "auth0", "issuer": self.issuer, "audience": AUDIENCE, **overrides}

    def rotate(self) -> RsaKey:
        """Publish a new key and sign with it from now on (the old one stays published)."""
        key = RsaKey.generate(f"idp-key-{len(self.published) + 1}")
        self.published.append(key)
        return key

    def claims(self, sub: str, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": AUDIENCE, "sub": sub, "iat": now, "exp": now + 600}
        return {**claims, **overrides}

    def token(self, sub: str, *, key: RsaKey | None = None, **overrides: Any) -> str:
        key = key or self.signing_key
        return jwt.encode(
            self.claims(sub, **overrides), key.private_key, "RS256", headers={"kid": key.kid}
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop serving (idempotent: a test may take the IdP down before teardown does)."""
        if not self._thread.is_alive():
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != JWKS_PATH:
                    self.send_error(404)
                    return
                provider.hits += 1
                body = json.dumps({"keys": [k.jwk() for k in provider.published]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep the test output quiet

        return Handler

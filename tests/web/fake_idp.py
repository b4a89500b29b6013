"""A small OpenID Connect provider on loopback HTTP for the dashboard's sign-in redirect:
discovery, an authorize endpoint that signs in `user_sub` at once, a token endpoint that
checks the code, redirect URI, client secret and PKCE verifier, and its JWKS."""

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt

from tests.auth.idp import RsaKey

CLIENT_ID = "avnz-dashboard"
CLIENT_SECRET = "idp-client-secret"


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    nonce: str
    challenge: str
    sub: str


@dataclass
class FakeIdp:
    user_sub: str = "idp|user-1"
    user_email: str | None = None
    nonce_override: str | None = None  # to send back a nonce other than the one asked for
    key: RsaKey = field(default_factory=lambda: RsaKey.generate("fake-idp-1"))
    grants: dict[str, Grant] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def integration_settings(self) -> dict[str, Any]:
        return {"issuer": self.issuer, "audience": "https://api.avnz.local", "client_id": CLIENT_ID}

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # --- endpoints ----------------------------------------------------------------------------

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/.well-known/jwks.json",
        }

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str]]:
        """Sign `user_sub` in at once and send the browser back with a code."""
        if query.get("client_id") != CLIENT_ID or query.get("code_challenge_method") != "S256":
            return 400, {}
        code = secrets.token_urlsafe(16)
        self.grants[code] = Grant(
            CLIENT_ID, query["redirect_uri"], query["nonce"], query["code_challenge"], self.user_sub
        )
        back = urlencode({"code": code, "state": query["state"]})
        return 302, {"Location": f"{query['redirect_uri']}?{back}"}

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        self.token_requests.append(form)
        grant = self.grants.pop(form.get("code", ""), None)  # a code works once
        verifier = form.get("code_verifier", "")
        digest = hashlib.sha256(verifier.encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        if (
            grant is None
            or form.get("client_secret") != CLIENT_SECRET
            or form.get("redirect_uri") != grant.redirect_uri
            or challenge != grant.challenge
        ):
            return 400, {"error": "invalid_grant"}
        return 200, {"id_token": self._id_token(grant), "token_type": "Bearer"}

    def _id_token(self, grant: Grant) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": grant.client_id,
            "sub": grant.sub,
            "nonce": self.nonce_override or grant.nonce,
            "iat": now,
            "exp": now + 300,
        }
        if self.user_email:
            claims |= {"email": self.user_email, "email_verified": True}
        return jwt.encode(claims, self.key.private_key, "RS256", headers={"kid": self.key.kid})


def _handler(idp: FakeIdp) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == "/.well-known/openid-configuration":
                self._json(200, idp.discovery())
            elif url.path == "/.well-known/jwks.json":
                self._json(200, {"keys": [idp.key.jwk()]})
            elif url.path == "/authorize":
                status, headers = idp.authorize(query)
                self._send(status, b"", headers)
            else:
                self._send(404, b"", {})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if urlsplit(self.path).path != "/token":
                self._send(404, b"", {})
                return
            self._json(*idp.token(form))

        def _json(self, status: int, body: dict[str, Any]) -> None:
            self._send(status, json.dumps(body).encode(), {"Content-Type": "application/json"})

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep the test output quiet

    return Handler

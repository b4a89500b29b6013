"""Local stand-ins for the providers' HTTP APIs, served over real loopback HTTP in tests.

Each route checks credentials the way its provider does (Anthropic's `x-api-key`, Klaviyo's
`Klaviyo-API-Key`, Twilio's basic auth, Datadog's `DD-API-KEY`, bearer tokens, AWS Signature
Version 4 recomputed over the request as received) and answers 401/403 otherwise, as they do.
"""

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from avnz.integrations import sigv4

ANTHROPIC_KEY = "sk-ant-api03-Zx9Qm4Lw7Rt2Vb8Nc5Hj3Kp6Ys1Df0Ga"
KLAVIYO_KEY = "pk_4f8a1c9e2b7d6a3f5e0c8b1d9a7e2f4c6b"
TWILIO = {"account_sid": "AC" + "3f" * 16, "auth_token": "9c1e" * 8}
DATADOG_KEY = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
SENTRY_TOKEN = "sntrys_Hq8Wd3Lz6Xc1Vb4Nm7Kj2Pf5"
OPENAI_KEY = "sk-proj-Ux7Wq2Er5Ty8Ui1Op4As7Df0Gh3Jk6Lz"
AWS = {
    "access_key_id": "AKIAIOSFODNN7EXAMPLE",
    "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
}
AWS_REGION = "eu-west-1"

_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, SignedHeaders=(?P<signed>[^,]+), "
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)


@dataclass
class Seen:
    path: str
    query: str
    headers: dict[str, str]


@dataclass
class Providers:
    """One app for all of them (their paths differ); `seen` records every request."""

    seen: list[Seen] = field(default_factory=list)
    issuer_override: str | None = None

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/models", self.anthropic),
                Route("/api/accounts/", self.klaviyo),
                Route("/2010-04-01/Accounts/{sid}.json", self.twilio),
                Route("/api/v1/validate", self.datadog),
                Route("/api/0/organizations/", self.sentry),
                Route("/models", self.openai),
                Route("/api/tags", self.ollama),
                Route("/v2/email/account", self.aws("ses")),
                Route("/foundation-models", self.aws("bedrock")),
                Route("/", self.aws_query),
                Route("/.well-known/openid-configuration", self.discovery),
                Route("/jwks", self.jwks),
            ]
        )

    def _record(self, request: Request) -> None:
        self.seen.append(Seen(request.url.path, request.url.query, dict(request.headers)))

    @staticmethod
    def _verdict(ok: bool, status: int = 401) -> Response:
        if ok:
            return JSONResponse({"data": []})
        return JSONResponse({"error": {"type": "authentication_error"}}, status_code=status)

    async def anthropic(self, request: Request) -> Response:
        self._record(request)
        ok = request.headers.get("x-api-key") == ANTHROPIC_KEY
        return self._verdict(ok and request.headers.get("anthropic-version") == "2023-06-01")

    async def klaviyo(self, request: Request) -> Response:
        self._record(request)
        ok = request.headers.get("authorization") == f"Klaviyo-API-Key {KLAVIYO_KEY}"
        return self._verdict(ok and "revision" in request.headers)

    async def twilio(self, request: Request) -> Response:
        self._record(request)
        expected = base64.b64encode(
            f"{TWILIO['account_sid']}:{TWILIO['auth_token']}".encode()
        ).decode()
        ok = request.headers.get("authorization") == f"Basic {expected}"
        return self._verdict(ok and request.path_params["sid"] == TWILIO["account_sid"])

    async def datadog(self, request: Request) -> Response:
        self._record(request)
        return self._verdict(request.headers.get("dd-api-key") == DATADOG_KEY, status=403)

    async def sentry(self, request: Request) -> Response:
        self._record(request)
        return self._verdict(request.headers.get("authorization") == f"Bearer {SENTRY_TOKEN}")

    async def openai(self, request: Request) -> Response:
        self._record(request)
        return self._verdict(request.headers.get("authorization") == f"Bearer {OPENAI_KEY}")

    async def ollama(self, request: Request) -> Response:
        self._record(request)
        return JSONResponse({"models": []})

    def aws(self, service: str) -> Any:
        async def endpoint(request: Request) -> Response:
            self._record(request)
            return self._verdict(_signed_by_aws_key(request, service), status=403)

        return endpoint

    async def aws_query(self, request: Request) -> Response:
        service = {"GetSMSAttributes": "sns", "DescribeAlarms": "monitoring"}.get(
            request.query_params.get("Action", ""), "?"
        )
        return await self.aws(service)(request)

    async def discovery(self, request: Request) -> Response:
        self._record(request)
        base = str(request.base_url)
        issuer = self.issuer_override or base
        return JSONResponse({"issuer": issuer, "jwks_uri": f"{base}jwks"})

    async def jwks(self, request: Request) -> Response:
        self._record(request)
        return JSONResponse({"keys": [{"kty": "RSA", "kid": "k1", "n": "AQAB", "e": "AQAB"}]})


def _signed_by_aws_key(request: Request, service: str) -> bool:
    """Recompute the SigV4 signature over the request as this server received it."""
    match = _AUTHORIZATION.match(request.headers.get("authorization", ""))
    if match is None or match["key"] != AWS["access_key_id"]:
        return False
    if (match["region"], match["service"]) != (AWS_REGION, service):
        return False
    headers = {name: request.headers.get(name, "") for name in match["signed"].split(";")}
    canonical, _ = sigv4.canonical_request(request.method, str(request.url), headers, b"")
    amz_date = request.headers.get("x-amz-date", "")
    scope = f"{match['date']}/{AWS_REGION}/{service}/aws4_request"
    to_sign = "\n".join(
        [sigv4.ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = sigv4.signing_key(AWS["secret_access_key"], match["date"], AWS_REGION, service)
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return {"host", "x-amz-date"} <= set(headers) and hmac.compare_digest(
        expected, match["signature"]
    )

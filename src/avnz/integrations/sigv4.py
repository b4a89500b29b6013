"""AWS Signature Version 4 for one request: enough to make an authenticated call to an AWS API
without an SDK (the connection tests of the AWS integrations make one GET each)."""

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import quote, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def _encode(value: str) -> str:
    return quote(value, safe="-_.~")


def signing_key(secret_access_key: str, date: str, region: str, service: str) -> bytes:
    key = _hmac(f"AWS4{secret_access_key}".encode(), date)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return key


def canonical_request(
    method: str, url: str, headers: Mapping[str, str], body: bytes
) -> tuple[str, str]:
    """The canonical request and its signed-header list. `headers` must include `host`."""
    parts = urlsplit(url)
    path = "/".join(_encode(segment) for segment in (parts.path or "/").split("/"))
    pairs = []
    for item in filter(None, parts.query.split("&")):
        key, _, value = item.partition("=")
        pairs.append((_encode(key), _encode(value)))
    query = "&".join(f"{k}={v}" for k, v in sorted(pairs))
    normalized = {name.lower(): " ".join(value.split()) for name, value in headers.items()}
    names = sorted(normalized)
    canonical_headers = "".join(f"{name}:{normalized[name]}\n" for name in names)
    signed = ";".join(names)
    payload = hashlib.sha256(body).hexdigest()
    return "\n".join([method.upper(), path, query, canonical_headers, signed, payload]), signed


def sign(
    *,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    access_key_id: str,
    secret_access_key: str,
    region: str,
    service: str,
    now: datetime,
    session_token: str | None = None,
) -> dict[str, str]:
    """The headers to send: `headers` plus host, x-amz-date, the session token if any, and
    Authorization. The query string of `url` must already be URL-encoded."""
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    date = amz_date[:8]
    signed_headers = {**headers, "host": urlsplit(url).netloc, "x-amz-date": amz_date}
    if session_token:
        signed_headers["x-amz-security-token"] = session_token
    request, signed = canonical_request(method, url, signed_headers, body)
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(request.encode()).hexdigest()])
    signature = hmac.new(
        signing_key(secret_access_key, date, region, service), to_sign.encode(), hashlib.sha256
    ).hexdigest()
    authorization = (
        f"{ALGORITHM} Credential={access_key_id}/{scope}, "
        f"SignedHeaders={signed}, Signature={signature}"
    )
    return {**signed_headers, "authorization": authorization}

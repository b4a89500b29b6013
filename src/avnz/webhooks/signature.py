"""The `Avnz-Signature` header: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.

The scheme is Stripe's: the timestamp is signed with the body, so a receiver that checks it
(`verify_signature`, tolerance 5 minutes) rejects a captured request replayed later. While a
rotated secret is still honoured, the header carries one `v1=` per secret; a receiver accepts
the request when any of them matches its secret. No ORM here: receivers can import this alone.
"""

import hashlib
import hmac
from collections.abc import Sequence

from avnz.core import clock

HEADER = "Avnz-Signature"
EVENT_ID_HEADER = "Avnz-Event-Id"
TOLERANCE_SECONDS = 300
SCHEME = "v1"


class SignatureError(ValueError):
    """The request was not signed with this secret, or was signed too long ago."""


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(secrets: Sequence[str], body: bytes, timestamp: int) -> str:
    """The header value for `body` sent at `timestamp`, one signature per secret."""
    signatures = ",".join(f"{SCHEME}={_digest(secret, timestamp, body)}" for secret in secrets)
    return f"t={timestamp},{signatures}"


def verify_signature(
    secret: str,
    header: str | None,
    body: bytes,
    tolerance: int = TOLERANCE_SECONDS,
    now: float | None = None,
) -> int:
    """Check an `Avnz-Signature` header against the raw request body; returns its timestamp.

    Raises SignatureError when the header is missing or malformed, no `v1` signature matches,
    or the timestamp is more than `tolerance` seconds away from `now` (default: the clock)."""
    if not header:
        raise SignatureError(f"no {HEADER} header")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == SCHEME and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureError(f"the {HEADER} header has no timestamp or no {SCHEME} signature")
    expected = _digest(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        raise SignatureError("no signature matches the body and the secret")
    current = clock.now().timestamp() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise SignatureError(f"the signature is older than {tolerance} seconds (a replay?)")
    return timestamp

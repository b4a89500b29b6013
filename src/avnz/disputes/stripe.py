"""Stripe's webhook signatures and dispute statuses.

`Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" under the endpoint's
signing secret>` (docs.stripe.com/webhooks, "verify manually"); several v1 entries may be sent
while a secret rolls; a timestamp older than the tolerance is refused (replays)."""

import hashlib
import hmac

from avnz.disputes.models import DisputeStatus

TOLERANCE_SECONDS = 300

# Stripe's dispute statuses; anything not listed is still open (never a guessed outcome).
STATUSES = {
    "won": DisputeStatus.WON,
    "lost": DisputeStatus.LOST,
    "warning_closed": DisputeStatus.WON,  # an inquiry that never became a chargeback
}
EVENTS = ("charge.dispute.created", "charge.dispute.updated", "charge.dispute.closed")


class BadSignature(ValueError):
    pass


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    """The header Stripe would send for `payload` (tests and the sandbox use it)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(payload: bytes, header: str | None, secret: str, now: float) -> None:
    """Raise BadSignature unless `header` signs `payload` with `secret`, recently."""
    if not header:
        raise BadSignature("No Stripe-Signature header.")
    parts = [item.partition("=") for item in header.split(",")]
    stamps = [value for key, _, value in parts if key.strip() == "t"]
    signatures = [value.strip() for key, _, value in parts if key.strip() == "v1"]
    if len(stamps) != 1 or not stamps[0].strip().isdigit() or not signatures:
        raise BadSignature("The Stripe-Signature header is malformed.")
    timestamp = int(stamps[0])
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        raise BadSignature("The Stripe-Signature timestamp is outside the tolerance.")
    expected = sign(payload, secret, timestamp).partition(",v1=")[2]
    if not any(hmac.compare_digest(expected, given) for given in signatures):
        raise BadSignature("No signature matches the webhook secret.")

"""CSRF tokens bound to the login session: an HMAC of the session id with a server key, so a
token outlives access-token refreshes but is worthless for any other session."""

import hmac

from fastapi import Request

from avnz.auth.scope import Principal
from avnz.runtime import Runtime

FORM_FIELD = "csrf_token"
HEADER = "X-CSRF-Token"


def token_for(runtime: Runtime, principal: Principal) -> str:
    # API keys never reach the dashboard; an empty session id still yields a per-user token.
    return runtime.keyring.fingerprint(f"{principal.id}:{principal.session_id}", scope="csrf")


def matches(runtime: Runtime, principal: Principal, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(
        presented.encode(), token_for(runtime, principal).encode()
    )


async def presented_token(request: Request) -> str | None:
    """The token from the header (HTMX, fetch) or else from the submitted form."""
    header = request.headers.get(HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get(FORM_FIELD)
        return value if isinstance(value, str) else None
    return None

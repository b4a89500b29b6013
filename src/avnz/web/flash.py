"""One-time messages shown on the next page ("Saved the pool's settings."), carried across the
redirect that follows a form in a signed, HttpOnly cookie.

`flash(request, message)` in a handler; `render` shows and clears what is waiting; the
middleware writes the cookie on the way out."""

import base64
import hmac
import json
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import Request
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "avnz_flash"
_NEW = "avnz.flash.new"
_SHOWN = "avnz.flash.shown"
MAX_MESSAGES = 5
Tone = Literal["ok", "bad", "info"]


@dataclass(frozen=True, slots=True)
class Flash:
    message: str
    tone: Tone = "ok"


def flash(request: Request, message: str, tone: Tone = "ok") -> None:
    """Show `message` on the next page this browser renders."""
    request.scope.setdefault("state", {}).setdefault(_NEW, []).append(Flash(message, tone))


def _signature(scope: Scope, payload: str) -> str:
    runtime = scope["app"].state.runtime
    return str(runtime.keyring.fingerprint(payload, scope="flash"))


def _encode(scope: Scope, flashes: list[Flash]) -> str:
    data = [[f.message, f.tone] for f in flashes[-MAX_MESSAGES:]]
    payload = base64.urlsafe_b64encode(json.dumps(data).encode()).decode()
    return f"{payload}.{_signature(scope, payload)}"


def _decode(scope: Scope, cookie: str | None) -> list[Flash]:
    payload, _, signature = (cookie or "").partition(".")
    if not payload or not hmac.compare_digest(signature, _signature(scope, payload)):
        return []
    try:
        data: Any = json.loads(base64.urlsafe_b64decode(payload))
        return [
            Flash(str(message), tone) for message, tone in data if tone in ("ok", "bad", "info")
        ]
    except (ValueError, TypeError):
        return []


def pop_flashes(request: Request) -> list[Flash]:
    """The messages waiting for this page (and any flashed during this request); they are
    cleared from the browser once this response goes out."""
    state = request.scope.setdefault("state", {})
    cookie = request.cookies.get(COOKIE)
    if cookie:
        state[_SHOWN] = True
    just_now: list[Flash] = state.pop(_NEW, [])
    return _decode(request.scope, cookie) + just_now


class FlashMiddleware:
    """Writes new messages into the cookie, or clears it once a page has shown them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                cookie = _cookie(scope, state)
                if cookie is not None:
                    MutableHeaders(scope=message).append("set-cookie", cookie)
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def _cookie(scope: Scope, state: dict[str, Any]) -> str | None:
    new: list[Flash] = state.get(_NEW, [])
    attributes = "Path=/; HttpOnly; SameSite=Lax"
    if new:
        return f"{COOKIE}={_encode(scope, new)}; {attributes}"
    if state.get(_SHOWN):
        return f"{COOKIE}=; Max-Age=0; {attributes}"
    return None

"""Jinja2 templates for the dashboard and `render`, which gives every page the shell's context:
the principal, a CSRF token, the role-aware sidebar, breadcrumbs and the current path."""

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import jinja2
from babel.numbers import format_currency
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from avnz.auth.scope import Principal
from avnz.core import clock
from avnz.core.money import currency_exponent
from avnz.security.passwords import new_token
from avnz.web import TEMPLATES_DIR, csrf, nav, router
from avnz.web.flash import pop_flashes
from avnz.web.icons import icon

Breadcrumbs = Sequence[tuple[str, str | None]]


def money(amount: int | None, currency: str | None) -> str:
    """Minor units to a formatted amount: (1999, "USD") -> "$19.99"; (1999, "JPY") -> "¥1,999"."""
    if amount is None or not currency:
        return "—"
    try:
        exponent = currency_exponent(currency)
    except ValueError:
        return f"{amount} {currency}"
    return format_currency(Decimal(amount).scaleb(-exponent), currency.upper(), locale="en_US")


def dt(value: datetime | None) -> str:
    """An aware datetime as readable UTC: "2026-11-26 04:09 UTC"."""
    if value is None:
        return "—"
    if value.tzinfo is None:  # SQLite hands back naive datetimes; they are UTC by convention
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


_UNITS = (("d", 86400), ("h", 3600), ("min", 60))


def ago(value: datetime | None) -> str:
    """How long before now: "just now", "5 min ago", "3 h ago", "2 d ago"."""
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    seconds = int((clock.now() - value).total_seconds())
    for unit, size in _UNITS:
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return "just now"


def plain(value: Any) -> str:
    """A condition's value in words: yes/no, lists joined, the rest as it is."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(plain(item) for item in value)
    return "" if value is None else str(value)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(money=money, dt=dt, ago=ago, plain=plain)
    env.globals["icon"] = icon
    env.globals["one_time_key"] = new_token  # a form's idempotency key
    return env


def csp_nonce(request: Request) -> dict[str, str]:
    """The response's script nonce (`security.middleware`), for `<script nonce=...>`."""
    return {"csp_nonce": getattr(request.state, "csp_nonce", "")}


templates = Jinja2Templates(env=_environment(), context_processors=[csp_nonce])


def page_paths(request: Request) -> frozenset[str]:
    """The GET page paths that exist (the request is for symmetry with the other helpers)."""
    return router.page_paths()


def auto_breadcrumbs(path: str, existing: frozenset[str]) -> list[tuple[str, str | None]]:
    """Crumbs from the path when a page names none: "/settings/integrations" gives
    Settings / Integrations, linking only the parts that are pages; ids stay as they are."""
    crumbs: list[tuple[str, str | None]] = []
    so_far = ""
    for part in [p for p in path.split("/") if p]:
        so_far += f"/{part}"
        label = part if "_" in part else part.replace("-", " ").capitalize()  # ids: pay_01…
        crumbs.append((label, so_far if so_far in existing else None))
    return crumbs


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    principal: Principal,
    status_code: int = 200,
    breadcrumbs: Breadcrumbs = (),
) -> HTMLResponse:
    """Render a page (or a partial) with the shell's context; `context` wins on name clashes."""
    runtime = request.app.state.runtime
    links = nav.build(principal, request.url.path, page_paths(request))
    values: dict[str, Any] = {
        "principal": principal,
        "csrf_token": csrf.token_for(runtime, principal),
        "nav": links,
        "settings_link": nav.first_in(links, "Settings"),
        "breadcrumbs": list(breadcrumbs) or auto_breadcrumbs(request.url.path, page_paths(request)),
        "active_path": request.url.path,
        "is_htmx": is_htmx(request),
        "flashes": pop_flashes(request),
    }
    values.update(context or {})
    return templates.TemplateResponse(request, template, values, status_code=status_code)


def render_public(
    request: Request, template: str, context: dict[str, Any], *, status_code: int = 200
) -> HTMLResponse:
    """A page shown without a login (the login page itself, errors before sign-in)."""
    values: dict[str, Any] = {
        "principal": None,
        "nav": [],
        "settings_link": None,
        "breadcrumbs": [],
        "active_path": request.url.path,
        "is_htmx": is_htmx(request),
    }
    values.update(context)
    return templates.TemplateResponse(request, template, values, status_code=status_code)


def badge(status: object) -> Markup:
    """The `badge` macro of macros/ui.html, for Python-built cells."""
    macro: Callable[[object], Markup] = templates.env.get_template("macros/ui.html").module.badge  # type: ignore[attr-defined]
    return macro(status)

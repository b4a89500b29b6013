"""Error pages: a dashboard path gets an HTML page in the dashboard's look; the API, the docs,
the sandboxes and the static files keep the JSON error shape they already have."""

from collections.abc import Awaitable, Callable
from typing import cast

from fastapi import FastAPI, Request
from starlette.responses import Response

from avnz.web.auth import PageInterrupt, on_page_interrupt
from avnz.web.templating import render_public

Handler = Callable[[Request, Exception], Awaitable[Response]]
NOT_PAGES = ("/api/", "/docs", "/sandbox/", "/.well-known/", "/health", "/static/", "/metrics")

_MESSAGES = {
    400: ("That request could not be read", "Check what you entered and try again."),
    401: ("Please sign in", "Your session has ended."),
    403: ("You don't have access", "Your role does not include this page."),
    404: ("Page not found", "The page or record does not exist, or is outside your scope."),
    409: ("That conflicts with the current state", "Reload the page and try again."),
    422: ("That request could not be read", "Check what you entered and try again."),
    429: ("Too many requests", "Wait a minute and try again."),
    503: ("Temporarily unavailable", "The service is busy; try again shortly."),
}
_FALLBACK = (
    "Something went wrong",
    "The error was logged. Try again, or go back to the home page.",
)


def is_page_request(request: Request) -> bool:
    """A dashboard page's error, or a browser (it asks for HTML) on a path that is no API."""
    if request.url.path.startswith(NOT_PAGES):
        return False
    endpoint = getattr(request.scope.get("route"), "endpoint", None)
    if endpoint is not None and endpoint.__module__.startswith(f"{__package__}."):
        return True
    return "text/html" in request.headers.get("accept", "")


def error_page(request: Request, status: int, request_id: str | None = None) -> Response:
    title, message = _MESSAGES.get(status, _FALLBACK)
    return render_public(
        request,
        "errors/error.html",
        {"status": status, "title": title, "message": message, "request_id": request_id},
        status_code=status,
    )


def _for_pages(json_handler: Handler) -> Handler:
    """Keep the JSON handler (and whatever it logs) and show its status as a page."""

    async def handler(request: Request, exc: Exception) -> Response:
        response = await json_handler(request, exc)
        if not is_page_request(request):
            return response
        page = error_page(request, response.status_code, response.headers.get("x-request-id"))
        for name in ("retry-after", "www-authenticate"):
            if name in response.headers:
                page.headers[name] = response.headers[name]
        return page

    return handler


def install_error_pages(app: FastAPI) -> None:
    """Call after `install_error_handlers`: wraps every JSON handler it registered."""
    for kind, existing in list(app.exception_handlers.items()):
        app.add_exception_handler(kind, _for_pages(cast(Handler, existing)))
    app.add_exception_handler(PageInterrupt, on_page_interrupt)

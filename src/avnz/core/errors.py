"""One error shape for every failure: `{"error": {type, code, message, param, request_id}}`."""

from typing import Any, ClassVar

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from avnz.core.masking import mask_text

log = structlog.get_logger(__name__)


class AppError(Exception):
    """An error a client can act on; subclasses fix the HTTP status and error type."""

    status_code: ClassVar[int] = 400
    type: ClassVar[str] = "invalid_request_error"
    default_code: ClassVar[str] = "invalid_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.param = param
        self.headers = headers


class InvalidRequest(AppError):
    pass


class Unauthenticated(AppError):
    status_code = 401
    type = "authentication_error"
    default_code = "unauthenticated"


class PermissionDenied(AppError):
    status_code = 403
    type = "permission_error"
    default_code = "permission_denied"


class NotFound(AppError):
    status_code = 404
    type = "not_found_error"
    default_code = "resource_missing"


class Conflict(AppError):
    status_code = 409
    type = "conflict_error"
    default_code = "conflict"


class PayloadTooLarge(AppError):
    status_code = 413
    default_code = "payload_too_large"


class RateLimited(AppError):
    status_code = 429
    type = "rate_limit_error"
    default_code = "rate_limited"


class ServiceUnavailable(AppError):
    status_code = 503
    type = "api_error"
    default_code = "service_unavailable"


class ErrorDetail(BaseModel):
    type: str
    code: str
    message: str
    param: str | None
    request_id: str | None


class ErrorResponse(BaseModel):
    """The documented shape of every error answer (see `error_body`)."""

    error: ErrorDetail


# The error answers every API route may give, for the OpenAPI spec. Documenting the 4XX range
# also replaces FastAPI's default 422 entry: validation errors are answered 400 in this shape.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"model": ErrorResponse, "description": "The request cannot be served as sent."},
    503: {"model": ErrorResponse, "description": "The database is unavailable; retry."},
}


def error_body(
    *, type_: str, code: str, message: str, param: str | None, request_id: str | None
) -> dict[str, Any]:
    return {
        "error": {
            "type": type_,
            "code": code,
            "message": message,
            "param": param,
            "request_id": request_id,
        }
    }


def _request_id(request: Request) -> str | None:
    value = getattr(request.state, "request_id", None)
    return value if isinstance(value, str) else None


def app_error_response(request: Request, exc: AppError) -> JSONResponse:
    body = error_body(
        type_=exc.type,
        code=exc.code,
        message=exc.message,
        param=exc.param,
        request_id=_request_id(request),
    )
    headers = exc.headers
    if exc.status_code == 401:  # RFC 9110: a 401 says which scheme would authenticate
        headers = {"WWW-Authenticate": "Bearer", **(headers or {})}
    return JSONResponse(body, status_code=exc.status_code, headers=headers)


def _validation_param(location: tuple[Any, ...]) -> str | None:
    # Drop the "body"/"query" prefix so the param names the field the client sent.
    parts = [str(p) for p in location[1:]] if len(location) > 1 else [str(p) for p in location]
    return ".".join(parts) or None


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    unknown = [
        _validation_param(tuple(e.get("loc", ())))
        for e in exc.errors()
        if e.get("type") == "extra_forbidden"
    ]
    if unknown:
        names = list(dict.fromkeys(name for name in unknown if name))
        plural = "s" if len(names) > 1 else ""
        return app_error_response(
            request,
            InvalidRequest(
                mask_text(
                    f"Received unknown parameter{plural}: {', '.join(names)}. "
                    "See the API reference for the parameters this operation accepts."
                ),
                code="parameter_unknown",
                param=names[0] if names else None,
            ),
        )
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "Invalid request"}
    if first.get("type") == "json_invalid":  # its loc is a character offset, not a field
        return app_error_response(
            request, InvalidRequest("The request body is not valid JSON.", code="invalid_json")
        )
    param = _validation_param(tuple(first.get("loc", ())))
    message = str(first.get("msg", "Invalid request"))
    if param:
        message = f"{param}: {message}"
    # The offending input is never echoed: it may be a card number or a password. Messages of
    # our own validators may quote it, so they are masked as a second net.
    return app_error_response(
        request, InvalidRequest(mask_text(message), code="validation_failed", param=param)
    )


async def _on_app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return app_error_response(request, exc)


_HTTP_STATUS_ERRORS: dict[int, tuple[str, str]] = {
    404: ("not_found_error", "route_not_found"),
    405: ("invalid_request_error", "method_not_allowed"),
    413: ("invalid_request_error", "payload_too_large"),
}


async def _on_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    type_, code = _HTTP_STATUS_ERRORS.get(exc.status_code, ("invalid_request_error", "http_error"))
    body = error_body(
        type_=type_,
        code=code,
        message=str(exc.detail),
        param=None,
        request_id=_request_id(request),
    )
    headers = exc.headers
    if exc.status_code == 405:
        # The router names the methods of the first route that matched the path only.
        headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(request))}
    return JSONResponse(body, status_code=exc.status_code, headers=headers)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app serves at the request's path (asked of the routes
    themselves, so a path served by several routes lists them all)."""
    routes = request.app.router.routes
    allowed = []
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in routes):
            allowed.append(method)
    return allowed


async def _on_database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.error("database_unavailable", error_class=type(exc).__name__)
    return app_error_response(
        request,
        ServiceUnavailable(
            "The database is unavailable; retry shortly.",
            code="database_unavailable",
            headers={"Retry-After": "5"},
        ),
    )


def _is_data_exception(exc: DBAPIError) -> bool:
    # SQLSTATE class 22 ("data exception"); asyncpg's are not all mapped to DataError.
    sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return isinstance(exc, DataError) or str(sqlstate or "").startswith("22")


async def _on_dbapi_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DBAPIError)
    if not _is_data_exception(exc):
        return await _on_unexpected(request, exc)
    # A value the database refuses (PostgreSQL rejects NUL characters, even in a path or query
    # parameter) is the client's mistake, not ours.
    log.info("unstorable_value", error_class=type(exc).__name__)
    return app_error_response(
        request,
        InvalidRequest(
            "A value in the request cannot be stored or compared; remove control characters.",
            code="invalid_value",
        ),
    )


def unexpected_error_response(request: Request, exc: Exception) -> JSONResponse:
    """Log `exc` with its traceback and answer a 500 that reveals nothing but the request id."""
    log.exception("unhandled_error", error_class=type(exc).__name__)
    body = error_body(
        type_="api_error",
        code="internal_error",
        message="Something went wrong on our side; the request id helps support find it.",
        param=None,
        request_id=_request_id(request),
    )
    return JSONResponse(body, status_code=500)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    return unexpected_error_response(request, exc)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _on_app_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_exception_handler(OperationalError, _on_database_unavailable)
    app.add_exception_handler(InterfaceError, _on_database_unavailable)
    app.add_exception_handler(ConnectionError, _on_database_unavailable)
    app.add_exception_handler(DBAPIError, _on_dbapi_error)
    app.add_exception_handler(Exception, _on_unexpected)

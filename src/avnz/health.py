"""Liveness and readiness for load balancers and orchestrators. Public routes.

Readiness is 503 only when the database does not answer. Redis is optional at run time: when it
is slow or down the process limits rates in memory and stays ready, `"status": "degraded"` with
the reason in `checks.redis`.
"""

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from avnz import __version__
from avnz.deps import RuntimeDep

router = APIRouter(tags=["health"])


async def _check_database(runtime: RuntimeDep) -> str:
    try:
        async with runtime.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "not ready"; the class name says which
        return f"error: {type(exc).__name__}"
    return "ok"


async def _check_redis(runtime: RuntimeDep) -> str:
    assert runtime.redis is not None
    reason = await runtime.redis.check()  # within the link's timeout
    return "ok" if reason is None else f"degraded: {reason}; rate limits are in process"


@router.get("/health/live")
async def live() -> dict[str, str]:
    """Public. The process is up and serving."""
    return {"status": "ok"}


@router.get("/health/ready")
async def ready(runtime: RuntimeDep) -> Any:
    """Public. 200 while the database answers (`degraded` when Redis, if configured, does not);
    503 otherwise."""
    checks = {"database": await _check_database(runtime)}
    if runtime.redis is not None:
        checks["redis"] = await _check_redis(runtime)
    if checks["database"] != "ok":
        status, code = "unavailable", 503
    elif any(value != "ok" for value in checks.values()):
        status, code = "degraded", 200
    else:
        status, code = "ok", 200
    return JSONResponse({"status": status, "checks": checks}, status_code=code)


@router.get("/health")
async def health(runtime: RuntimeDep) -> Any:
    """Public. Readiness plus the running version."""
    response = await ready(runtime)
    response.headers["x-avnz-version"] = __version__
    return response

"""Liveness and readiness for load balancers and orchestrators. Public routes."""

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from redis.asyncio import Redis
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


async def _check_redis(url: str) -> str:
    client = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        await client.ping()
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    finally:
        await client.aclose()
    return "ok"


@router.get("/health/live")
async def live() -> dict[str, str]:
    """Public. The process is up and serving."""
    return {"status": "ok"}


@router.get("/health/ready")
async def ready(runtime: RuntimeDep) -> Any:
    """Public. The database (and Redis, when configured) answer; 503 otherwise."""
    checks = {"database": await _check_database(runtime)}
    if runtime.settings.redis_url:
        checks["redis"] = await _check_redis(runtime.settings.redis_url)
    healthy = all(value == "ok" for value in checks.values())
    body = {"status": "ok" if healthy else "unavailable", "checks": checks}
    return JSONResponse(body, status_code=200 if healthy else 503)


@router.get("/health")
async def health(runtime: RuntimeDep) -> Any:
    """Public. Readiness plus the running version."""
    response = await ready(runtime)
    response.headers["x-avnz-version"] = __version__
    return response

"""The FastAPI application factory: middleware, routers, error handlers, lifespan."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from importlib.resources import files
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.routing import Router

from avnz import __version__, domains, health, tasks
from avnz.analytics import api as analytics_api
from avnz.audit import api as audit_api
from avnz.auth import api as auth_api
from avnz.bins import service as bins
from avnz.commerce import api as commerce_api
from avnz.config import SHUTDOWN_CLEANUP_SECONDS, Settings, get_settings
from avnz.core.errors import ERROR_RESPONSES, install_error_handlers
from avnz.db.migrate import ensure_migrated
from avnz.deps import RuntimeDep
from avnz.disputes import api as disputes_api
from avnz.gateways import registry as gateways
from avnz.gateways.sandbox import store as sandbox_store
from avnz.integrations import api as integrations_api
from avnz.jobs.worker import Worker
from avnz.payments import api as payments_api
from avnz.payments import history as payments_history
from avnz.routing.accounts import api as routing_api
from avnz.routing.pools import api as pools_api
from avnz.rules import api as rules_api
from avnz.runtime import Runtime
from avnz.security.middleware import RequestMiddleware
from avnz.tenancy import api as tenancy_api
from avnz.web import STATIC_DIR
from avnz.web.errors import install_error_pages
from avnz.web.flash import FlashMiddleware
from avnz.web.router import dashboard_router
from avnz.webhooks import api as webhooks_api

API_PREFIX = "/api/v1"


def _api_router() -> APIRouter:
    api = APIRouter(prefix=API_PREFIX, responses=ERROR_RESPONSES)
    api.include_router(auth_api.public_router)
    api.include_router(auth_api.router)
    api.include_router(tenancy_api.router)
    api.include_router(audit_api.router)
    api.include_router(payments_api.router)
    api.include_router(payments_api.payments_router)
    api.include_router(analytics_api.router)
    api.include_router(commerce_api.router)
    api.include_router(integrations_api.router)
    api.include_router(routing_api.router)
    api.include_router(pools_api.router)
    api.include_router(rules_api.router)
    api.include_router(webhooks_api.router)
    api.include_router(disputes_api.router)
    api.include_router(disputes_api.public_router)
    return api


def _mount_docs(app: FastAPI) -> None:
    # Swagger UI 5's assets ship in a Python package (fastapi-offline's static files): /docs
    # works without a CDN and reads the OpenAPI 3.1 document FastAPI writes.
    assets = files("fastapi_offline") / "static"
    app.mount("/docs/assets", StaticFiles(directory=str(assets)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=f"{API_PREFIX}/openapi.json",
            title="avnz API",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon.png",
        )
        # Its inline script (the one that starts Swagger UI) runs under the CSP's nonce.
        nonce = request.state.csp_nonce
        html = bytes(page.body).decode().replace("<script>", f'<script nonce="{nonce}">')
        return HTMLResponse(html)


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """Build the app. Tests pass their own settings/runtime; `avnz serve` uses the environment."""
    domains.load()
    settings = settings or (runtime.settings if runtime else get_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await ensure_migrated(app.state.runtime.engine)
        worker = Worker(
            app.state.runtime.sessions,
            tasks.handlers(app.state.runtime),
            tasks.recurring(),
            poll_seconds=settings.worker_poll_seconds,
            lease=timedelta(seconds=settings.job_lease_seconds),
        )
        if settings.run_embedded_worker:
            worker.start()
        try:
            async with bins.kept_current(app.state.runtime.sessions):
                yield
        finally:
            # Bounded: a database or Redis that never answers must not hold the exit (the
            # server's grace period, `avnz serve`, counts on it).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(SHUTDOWN_CLEANUP_SECONDS):
                    await worker.stop()
                    if runtime is None:  # we built it, we close it
                        await app.state.runtime.close()

    app = FastAPI(
        title="avnz",
        version=__version__,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.runtime = runtime or Runtime.build(settings)
    # Wired here, where every domain is known: the rule simulator reads the payments' history.
    app.state.runtime.payment_history = payments_history.rule_history
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(_api_router())
    _mount_docs(app)
    app.include_router(dashboard_router(), include_in_schema=False)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    install_error_pages(app)  # after the JSON handlers it wraps
    app.add_middleware(FlashMiddleware)
    if settings.sandboxes_mounted:
        # The embedded default: demo accounts charge the local gateways through this same port,
        # their state in the data directory's file that `avnz demo` writes too.
        state = sandbox_store.open_store(settings.data_dir / sandbox_store.MOUNTED_FILE)
        with sandbox_store.persisting(state):
            mounts = gateways.sandbox_mounts(controls=settings.sandbox_controls)
            app.mount(gateways.SANDBOX_MOUNT, Router(mounts))

    @app.get("/.well-known/jwks.json", tags=["auth"])
    async def jwks(runtime: RuntimeDep) -> dict[str, Any]:
        """Public. The keys that verify access tokens issued by avnz."""
        return runtime.keyset.jwks()

    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=True,
        allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"],
        expose_headers=["X-Request-ID", "Retry-After", "X-API-Version", "Idempotent-Replayed"],
        max_age=600,
    )
    app.add_middleware(
        RequestMiddleware,
        limiter=app.state.runtime.limiter,
        ip_limit=app.state.runtime.limits.ip,
        max_body_bytes=settings.max_body_bytes,
        trusted_proxies=settings.trusted_networks,
    )
    return app

"""The `avnz` command: serve, sandbox, worker, migrate, demo, keys, audit, bins,
disputes.

A configuration the process cannot start with (a bad setting, a database that is missing,
unreachable or refuses the role, a port in use) ends it with one line that names the setting
and the reason (`avnz.startup`); `avnz --debug ...` shows the traceback instead.
"""

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.routing import Router
from starlette.types import ASGIApp

from avnz import __version__, domains, startup, tasks
from avnz.audit import service as audit
from avnz.audit import verify as audit_verify
from avnz.auth.scope import Principal
from avnz.bins import service as bins
from avnz.config import Settings, get_settings
from avnz.core.errors import AppError
from avnz.core.logging import configure_logging
from avnz.db.engine import create_engine, session_factory
from avnz.db.migrate import NotMigrated, ensure_migrated, upgrade
from avnz.disputes import service as disputes
from avnz.disputes.schemas import ImportReport
from avnz.gateways import registry as gateways
from avnz.gateways.sandbox import store as sandbox_store
from avnz.integrations import definitions
from avnz.jobs.worker import Worker
from avnz.payments import demo as demo_payments
from avnz.routing.pools import demo as demo_pools
from avnz.rules import demo as demo_rules
from avnz.runtime import Runtime
from avnz.security.keyring import Keyring
from avnz.security.rotation import RotationReport, reencrypt_all
from avnz.tenancy import demo
from avnz.tenancy import service as tenancy

app = typer.Typer(help="avnz: payment orchestration platform.", no_args_is_help=True)
keys_app = typer.Typer(help="Master keys that encrypt stored secrets.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
bins_app = typer.Typer(help="BIN (IIN) data: brand, card type and country.", no_args_is_help=True)
app.add_typer(bins_app, name="bins")
disputes_app = typer.Typer(
    help="Disputes (chargebacks) reported by the gateways.", no_args_is_help=True
)
app.add_typer(disputes_app, name="disputes")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"avnz {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="On a failure to start, show the full traceback.")
    ] = False,
) -> None:
    """Settings come from AVNZ_* variables; data lives in AVNZ_DATA_DIR (default ./.avnz)."""
    domains.load()
    ctx.obj = startup.Refusal(debug=debug)


def _settings() -> Settings:
    settings = startup.settings(get_settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    configure_logging(settings.log_level)
    return settings


async def _check_migrated(settings: Settings) -> None:
    async with startup.database(settings):
        engine = create_engine(settings.resolved_database_url)
        try:
            await ensure_migrated(engine)
        finally:
            await engine.dispose()


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
) -> None:
    """Serve the API (and the embedded worker) until interrupted or SIGTERM (then gone within
    AVNZ_SHUTDOWN_GRACE_SECONDS, whatever still runs)."""
    with ctx.obj:
        settings = _settings()
        asyncio.run(_check_migrated(settings))
        sock = startup.listen(host, port)
        from avnz.app import create_app  # after logging is configured

        config = startup.server_config(create_app(settings), settings)
    typer.secho(f"avnz {__version__} serving on http://{host}:{port}", fg=typer.colors.GREEN)
    typer.echo(f"  Dashboard: http://{host}:{port}/")
    typer.echo(f"  API docs:  http://{host}:{port}/docs")
    typer.echo(f"  Health:    http://{host}:{port}/health")
    startup.GracefulServer(config, grace=settings.shutdown_grace_seconds).run(sockets=[sock])


@app.command()
def sandbox(
    gateway: Annotated[
        str, typer.Argument(help=f"all, or one of: {', '.join(gateways.GATEWAYS)}.")
    ] = "all",
    host: Annotated[
        str, typer.Option(help="Interface to bind (keep it on loopback).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 9100,
    state: Annotated[
        str | None,
        typer.Option(
            help="SQLite file that keeps the sandboxes' transactions across restarts "
            f"(default: {sandbox_store.STANDALONE_FILE} in the data dir; "
            f"{sandbox_store.MEMORY} forgets them at exit)."
        ),
    ] = None,
    controls: Annotated[
        bool,
        typer.Option(
            help="Serve the control routes under /_sandbox/ (faults, reset, transactions, "
            "settle); also on with AVNZ_SANDBOX_CONTROLS."
        ),
    ] = False,
) -> None:
    """Serve the local gateway sandboxes: `all` at /{gateway}, a single one at /."""
    settings = get_settings()
    configure_logging(settings.log_level)
    if gateway != "all" and gateway not in gateways.GATEWAYS:
        typer.secho(f"avnz: {gateways.UnknownGatewayError(gateway)}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=2)
    path = state or str(settings.data_dir / sandbox_store.STANDALONE_FILE)
    with sandbox_store.persisting(sandbox_store.open_store(path)):
        chosen = None if gateway == "all" else [gateway]
        mounts = gateways.sandbox_mounts(chosen, controls=controls or settings.sandbox_controls)
    sandbox_app: ASGIApp = Router(mounts) if gateway == "all" else mounts[0].app
    typer.echo(f"  state          {path}")
    for mount in mounts:
        url_path = mount.path if gateway == "all" else ""
        typer.echo(f"  {mount.name:<14} http://{host}:{port}{url_path}")
    uvicorn.run(sandbox_app, host=host, port=port, log_config=None, access_log=False)


@app.command()
def worker(ctx: typer.Context) -> None:
    """Run background jobs (any number of workers may run side by side)."""
    with ctx.obj:
        settings = _settings()
        asyncio.run(_check_migrated(settings))

    async def run() -> None:
        runtime = Runtime.build(settings)
        try:
            job_worker = Worker(
                runtime.sessions,
                tasks.handlers(runtime),
                tasks.recurring(),
                poll_seconds=settings.worker_poll_seconds,
                lease=timedelta(seconds=settings.job_lease_seconds),
            )
            await job_worker.run()
        finally:
            await runtime.close()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        typer.echo("worker stopped")


@app.command()
def migrate(ctx: typer.Context) -> None:
    """Create or upgrade the database schema to the newest migration, then write the
    integration definitions from code (a new gateway's row included)."""

    async def run(settings: Settings) -> None:
        async with startup.database(settings):
            # No statement timeout: a migration may rewrite a large table.
            engine = create_engine(settings.resolved_database_url, statement_timeout=None)
            try:
                await upgrade(engine)
                async with engine.begin() as connection:
                    await definitions.sync_reference_rows(connection)
            finally:
                await engine.dispose()

    with ctx.obj:
        asyncio.run(run(_settings()))
    typer.echo("database is at the newest migration")


@app.command("demo")
def load_demo(
    ctx: typer.Context,
    password: Annotated[
        str, typer.Option(help=f"Password for every demo user (default {demo.DEFAULT_PASSWORD}).")
    ] = demo.DEFAULT_PASSWORD,
) -> None:
    """Create the demo tenants, one user per role, sandbox accounts and payments (idempotent)."""
    with ctx.obj:
        settings = _settings()
        asyncio.run(_check_migrated(settings))

    async def run() -> tuple[list[demo.DemoLogin], int]:
        engine = create_engine(settings.resolved_database_url)
        keyring = Keyring.from_settings(settings)
        sessions = session_factory(engine)
        try:
            await ensure_migrated(engine)
            async with sessions.begin() as session:
                logins = await demo.load(
                    session, password, keyring=keyring, base_url=settings.base_url
                )
            async with sessions.begin() as session:
                operator, brands = await demo.operator_and_brands(session)
            targets = (demo_payments.DEMO_PAYMENTS, demo_payments.SECOND_BRAND_PAYMENTS)
            made = 0
            for brand, target in zip(brands, targets, strict=True):
                made += await _demo_brand(sessions, keyring, operator, brand.id, target)
            return logins, made
        finally:
            await engine.dispose()

    # The demo's payments go through sandboxes in this process; their state goes to the file
    # the server's sandboxes read, so the server can capture, void and refund them.
    state = sandbox_store.open_store(settings.data_dir / sandbox_store.MOUNTED_FILE)
    with sandbox_store.persisting(state):
        logins, payments_made = asyncio.run(run())
    typer.secho(f"Demo data ready. Log in with password {password!r} as:", fg=typer.colors.GREEN)
    for login in logins:
        typer.echo(f"  {login.role.value:<20} {login.email}")
    if payments_made:
        typer.echo(f"{payments_made} demo payments went through the built-in sandboxes.")


async def _demo_brand(
    sessions: async_sessionmaker[AsyncSession],
    keyring: Keyring,
    operator: Principal,
    company_id: str,
    payments: int,
) -> int:
    """One demo brand's default pool, payments and rules; how many payments it made."""
    async with sessions.begin() as session:
        pool = await demo_pools.load(session, operator, company_id)
    made = await demo_payments.load(sessions, keyring, operator, company_id, payments)
    async with sessions.begin() as session:
        await demo_rules.load(
            session,
            operator,
            company_id,
            pool_id=pool.pool_id if pool else None,
            account_ids=pool.account_ids if pool else None,
        )
    return made


@keys_app.command("rotate")
def rotate_keys(
    ctx: typer.Context,
    retire: Annotated[
        bool, typer.Option(help="Afterwards, drop every key but the newest from the key file.")
    ] = False,
) -> None:
    """Add a master key (key file) and re-encrypt every stored secret under the newest key.

    With AVNZ_MASTER_KEYS, first put the new key in front on every process, then run this;
    remove the old key from the variable once it reports done."""
    with ctx.obj:
        settings = _settings()
        asyncio.run(_check_migrated(settings))
    runtime_keyring = Keyring.from_settings(settings)
    if runtime_keyring.key_file is not None:
        version = runtime_keyring.key_file.add_key()
        runtime_keyring.reload()
        typer.echo(f"added master key version {version}")

    async def run() -> RotationReport:
        engine = create_engine(settings.resolved_database_url)
        try:
            await ensure_migrated(engine)
            sessions = session_factory(engine)
            report = await reencrypt_all(sessions, runtime_keyring)
            async with sessions.begin() as session:
                audit.record_key_rotation(
                    session,
                    organization_ids=await tenancy.all_organization_ids(session=session),
                    key_version=report.newest_version,
                    re_encrypted=report.rewritten,
                )
            return report
        finally:
            await engine.dispose()

    report = asyncio.run(run())
    for column, count in report.rewritten.items():
        typer.echo(f"  {column}: {count} re-encrypted")
    typer.secho(f"every secret is under key version {report.newest_version}", fg=typer.colors.GREEN)
    if retire and runtime_keyring.key_file is not None:
        retired = runtime_keyring.key_file.retire_all_but(report.newest_version)
        typer.echo(f"retired key versions: {retired or 'none'}")
    elif retire:
        typer.echo("keys come from AVNZ_MASTER_KEYS: remove the old versions there")


@audit_app.command("verify")
def verify_audit(
    ctx: typer.Context,
    organization: Annotated[
        str | None, typer.Option(help="Check this organization's chain only.")
    ] = None,
) -> None:
    """Check every organization's audit chain; name the first broken link of each (exit 1)."""
    with ctx.obj:
        settings = _settings()
        asyncio.run(_check_migrated(settings))

    async def run() -> list[audit_verify.ChainReport]:
        engine = create_engine(settings.resolved_database_url, sqlite_read_only=True)
        try:
            await ensure_migrated(engine)
            async with session_factory(engine)() as session:
                return await audit_verify.verify_all(session, organization)
        finally:
            await engine.dispose()

    reports = asyncio.run(run())
    for report in reports:
        if report.broken is None:
            typer.echo(
                f"{report.organization_id}: intact, {report.rows} rows, "
                f"head {report.head_seq} {report.head_hash}"
            )
            continue
        broken = report.broken
        where = f"row {broken.seq}" if broken.seq is not None else "a row"
        if broken.entry_id:
            where += f" ({broken.entry_id})"
        typer.secho(
            f"{report.organization_id}: BROKEN at {where}: {broken.reason}; "
            f"{report.rows} rows before it hold",
            fg=typer.colors.RED,
        )
    if not reports:
        typer.echo("no audit rows yet")
    if any(not report.intact for report in reports):
        raise typer.Exit(code=1)


@bins_app.command("import")
def import_bins(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="An open BIN CSV file.")
    ],
) -> None:
    """Replace the imported BIN table with FILE (binlist ranges.csv, bin-list-data and the like:
    columns bin/iin, brand/scheme, type, country alpha-2); running servers pick it up within
    a minute. Its rows take precedence over the packaged IIN ranges."""
    settings = _settings()
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        typer.secho(f"avnz: {file} is not a UTF-8 text file", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=1) from None

    async def run() -> bins.ImportReport:
        engine = create_engine(settings.resolved_database_url)
        try:
            await ensure_migrated(engine)
            async with session_factory(engine).begin() as session:
                return await bins.import_text(session=session, text=text, source=file.name)
        finally:
            await engine.dispose()

    try:
        report = asyncio.run(run())
    except (NotMigrated, bins.BinFileError) as exc:
        typer.secho(f"avnz: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=1) from None
    bins.install(report.table, report.version)
    typer.secho(
        f"imported {report.ranges} BIN ranges ({report.skipped} rows skipped); "
        f"BIN table version {report.version}",
        fg=typer.colors.GREEN,
    )


@disputes_app.command("import")
def import_disputes(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="A gateway's dispute CSV.")
    ],
    company: Annotated[str, typer.Option(help="The company (cmp_…) whose payments they are.")],
) -> None:
    """Record a gateway's dispute export (columns provider, dispute_id, transaction_id, status,
    amount, currency; optional reason_code, evidence_due_by, opened_at) for one company."""
    settings = _settings()
    text = file.read_text(encoding="utf-8-sig")

    async def run() -> ImportReport:
        engine = create_engine(settings.resolved_database_url)
        try:
            await ensure_migrated(engine)
            async with session_factory(engine).begin() as session:
                return await disputes.import_csv(session=session, company_id=company, text=text)
        finally:
            await engine.dispose()

    try:
        report = asyncio.run(run())
    except (NotMigrated, AppError) as exc:
        typer.secho(f"avnz: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=1) from None
    for error in report.errors:
        typer.secho(f"  {error}", fg=typer.colors.YELLOW, err=True)
    typer.secho(
        f"{report.created} disputes created, {report.updated} updated, "
        f"{len(report.errors)} rows refused",
        fg=typer.colors.GREEN if not report.errors else typer.colors.YELLOW,
    )

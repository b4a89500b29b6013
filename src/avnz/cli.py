"""The `avnz` command: serve, sandbox, worker, migrate, demo, keys, bins, disputes."""

import asyncio
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from starlette.routing import Router
from starlette.types import ASGIApp

from avnz import __version__, domains, tasks
from avnz.bins import service as bins
from avnz.config import Settings, get_settings
from avnz.core.errors import AppError
from avnz.core.logging import configure_logging
from avnz.db.engine import create_engine, session_factory
from avnz.db.migrate import NotMigrated, ensure_migrated, upgrade
from avnz.disputes import service as disputes
from avnz.disputes.schemas import ImportReport
from avnz.gateways import registry as gateways
from avnz.integrations import definitions
from avnz.jobs.worker import Worker
from avnz.payments import demo as demo_payments
from avnz.rules import demo as demo_rules
from avnz.runtime import Runtime
from avnz.security.keyring import Keyring
from avnz.security.rotation import RotationReport, reencrypt_all
from avnz.tenancy import demo

app = typer.Typer(help="avnz: payment orchestration platform.", no_args_is_help=True)
keys_app = typer.Typer(help="Master keys that encrypt stored secrets.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
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
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Settings come from AVNZ_* variables; data lives in AVNZ_DATA_DIR (default ./.avnz)."""
    domains.load()


def _settings() -> Settings:
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    configure_logging(settings.log_level)
    return settings


async def _check_migrated(settings: Settings) -> None:
    engine = create_engine(settings.resolved_database_url)
    try:
        await ensure_migrated(engine)
    finally:
        await engine.dispose()


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
) -> None:
    """Serve the API (and the embedded worker) until interrupted."""
    settings = _settings()
    try:
        asyncio.run(_check_migrated(settings))
    except NotMigrated as exc:
        typer.secho(f"avnz: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=1) from None
    from avnz.app import create_app  # after logging is configured

    typer.secho(f"avnz {__version__} serving on http://{host}:{port}", fg=typer.colors.GREEN)
    typer.echo(f"  Dashboard: http://{host}:{port}/")
    typer.echo(f"  API docs:  http://{host}:{port}/docs")
    typer.echo(f"  Health:    http://{host}:{port}/health")
    uvicorn.run(create_app(settings), host=host, port=port, log_config=None, access_log=False)


@app.command()
def sandbox(
    gateway: Annotated[
        str, typer.Argument(help=f"all, or one of: {', '.join(gateways.GATEWAYS)}.")
    ] = "all",
    host: Annotated[
        str, typer.Option(help="Interface to bind (keep it on loopback).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 9100,
) -> None:
    """Serve the local gateway sandboxes: `all` at /{gateway}, a single one at /."""
    configure_logging(get_settings().log_level)
    if gateway == "all":
        mounts = gateways.sandbox_mounts()
        sandbox_app: ASGIApp = Router(mounts)
    elif gateway in gateways.GATEWAYS:
        mounts = gateways.sandbox_mounts([gateway])
        sandbox_app = mounts[0].app
    else:
        typer.secho(f"avnz: {gateways.UnknownGatewayError(gateway)}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=2)
    for mount in mounts:
        path = mount.path if gateway == "all" else ""
        typer.echo(f"  {mount.name:<14} http://{host}:{port}{path}")
    uvicorn.run(sandbox_app, host=host, port=port, log_config=None, access_log=False)


@app.command()
def worker() -> None:
    """Run background jobs (any number of workers may run side by side)."""
    settings = _settings()

    async def run() -> None:
        runtime = Runtime.build(settings)
        try:
            await ensure_migrated(runtime.engine)
            job_worker = Worker(
                runtime.sessions,
                tasks.handlers(runtime),
                tasks.recurring(),
                poll_seconds=settings.worker_poll_seconds,
            )
            await job_worker.run()
        finally:
            await runtime.close()

    try:
        asyncio.run(run())
    except NotMigrated as exc:
        typer.secho(f"avnz: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=1) from None
    except KeyboardInterrupt:
        typer.echo("worker stopped")


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema to the newest migration, then write the
    integration definitions from code (a new gateway's row included)."""
    settings = _settings()

    async def run() -> None:
        engine = create_engine(settings.resolved_database_url)
        try:
            await upgrade(engine)
            async with engine.begin() as connection:
                await definitions.sync_reference_rows(connection)
        finally:
            await engine.dispose()

    asyncio.run(run())
    typer.echo("database is at the newest migration")


@app.command("demo")
def load_demo(
    password: Annotated[
        str, typer.Option(help=f"Password for every demo user (default {demo.DEFAULT_PASSWORD}).")
    ] = demo.DEFAULT_PASSWORD,
) -> None:
    """Create the demo tenants, one user per role, sandbox accounts and payments (idempotent)."""
    settings = _settings()

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
                operator, brand = await demo.operator_and_brand(session)
            made = await demo_payments.load(sessions, keyring, operator, brand.id)
            async with sessions.begin() as session:
                await demo_rules.load(session, operator, brand.id)
            return logins, made
        finally:
            await engine.dispose()

    try:
        logins, payments_made = asyncio.run(run())
    except NotMigrated as exc:
        typer.secho(f"avnz: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=1) from None
    typer.secho(f"Demo data ready. Log in with password {password!r} as:", fg=typer.colors.GREEN)
    for login in logins:
        typer.echo(f"  {login.role.value:<20} {login.email}")
    if payments_made:
        typer.echo(f"{payments_made} demo payments went through the built-in sandboxes.")


@keys_app.command("rotate")
def rotate_keys(
    retire: Annotated[
        bool, typer.Option(help="Afterwards, drop every key but the newest from the key file.")
    ] = False,
) -> None:
    """Add a master key (key file) and re-encrypt every stored secret under the newest key.

    With AVNZ_MASTER_KEYS, first put the new key in front on every process, then run this;
    remove the old key from the variable once it reports done."""
    settings = _settings()
    runtime_keyring = Keyring.from_settings(settings)
    if runtime_keyring.key_file is not None:
        version = runtime_keyring.key_file.add_key()
        runtime_keyring.reload()
        typer.echo(f"added master key version {version}")

    async def run() -> RotationReport:
        engine = create_engine(settings.resolved_database_url)
        try:
            await ensure_migrated(engine)
            return await reencrypt_all(session_factory(engine), runtime_keyring)
        finally:
            await engine.dispose()

    try:
        report = asyncio.run(run())
    except NotMigrated as exc:
        typer.secho(f"avnz: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=1) from None
    for column, count in report.rewritten.items():
        typer.echo(f"  {column}: {count} re-encrypted")
    typer.secho(f"every secret is under key version {report.newest_version}", fg=typer.colors.GREEN)
    if retire and runtime_keyring.key_file is not None:
        retired = runtime_keyring.key_file.retire_all_but(report.newest_version)
        typer.echo(f"retired key versions: {retired or 'none'}")
    elif retire:
        typer.echo("keys come from AVNZ_MASTER_KEYS: remove the old versions there")


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

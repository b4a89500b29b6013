"""A merchant account's connection test: the gateway's cheapest authenticated call with the
stored credentials, its result kept in the account's health (score 0 when it fails) and in the
audit log."""

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from avnz.audit import service as audit
from avnz.auth.scope import Principal
from avnz.core import clock
from avnz.core.errors import Conflict
from avnz.core.masking import mask_text
from avnz.gateways import registry
from avnz.gateways.base import GatewayResult, Outcome
from avnz.routing.accounts.models import MerchantAccount
from avnz.routing.accounts.schemas import ConnectionTestOut, HealthMetrics, LastTest
from avnz.routing.accounts.service import (
    audit_change,
    audit_snapshot,
    connector_config,
    get_account,
    open_account,
)
from avnz.routing.decisions import scoring
from avnz.security.keyring import DecryptionError, Keyring

_TEST_MESSAGES: dict[Outcome, str] = {
    Outcome.APPROVED: "{gateway} accepted the credentials.",
    Outcome.CONFIG_ERROR: "{gateway} refused the credentials: {detail}",
    Outcome.ERROR_BEFORE_SEND: "Could not reach {gateway}: {detail}",
    Outcome.TIMEOUT_AFTER_SEND: "{gateway} did not answer in time: {detail}",
    Outcome.GATEWAY_ERROR: "{gateway} answered with an error: {detail}",
}


def _test_message(provider: str, result: GatewayResult) -> str:
    template = _TEST_MESSAGES.get(result.outcome, "{gateway} answered {outcome}: {detail}")
    detail = mask_text(result.raw_message or "no details")[:300]
    gateway = registry.gateway(provider).connector.display_name
    return template.format(gateway=gateway, outcome=result.outcome.value, detail=detail)


async def verify_connection(
    *,
    sessions: async_sessionmaker[AsyncSession],
    principal: Principal,
    keyring: Keyring,
    http: httpx.AsyncClient,
    account_id: str,
) -> ConnectionTestOut:
    """Verify the credentials with the gateway's cheapest call and record the result, in two
    short transactions of its own around the call: none is open during network I/O (on
    SQLite, the database's one write lock). The caller commits its own work first."""
    async with sessions.begin() as session:
        account = await get_account(session=session, principal=principal, account_id=account_id)
        open_account(account)
        provider = account.provider_type
        try:
            config = await connector_config(session, keyring, account)
        except DecryptionError:
            raise Conflict(
                "The stored credentials cannot be decrypted; enter them again.",
                code="credentials_unreadable",
            ) from None
    try:
        result = await registry.connector(provider, config, http).verify()
        success, message = result.approved, _test_message(provider, result)
        latency = result.latency_ms
    except ValueError as exc:  # credentials that lack a field the connector needs
        success, message, latency = False, mask_text(str(exc)), 0.0
    async with sessions.begin() as session:
        # Read again (locked on PostgreSQL): it may have changed during the call.
        account = await session.get_one(MerchantAccount, account_id, with_for_update=True)
        before = audit_snapshot(account)
        now = clock.now()
        health = HealthMetrics.model_validate(account.health_metrics)
        health.last_health_check = now
        test = LastTest(success=success, message=message, latency_ms=latency, tested_at=now)
        health.last_test = test
        health.health_score = scoring.health_score(health)
        account.health_metrics = health.model_dump(mode="json")
        account.updated_by = principal.id
        await session.flush()
        operation = {"operation": "test", "success": success}
        audit_change(session, principal, audit.AuditAction.UPDATE, account, before, operation)
    return ConnectionTestOut(
        account_id=account_id, success=success, message=message, latency_ms=latency
    )

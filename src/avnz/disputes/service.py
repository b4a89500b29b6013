"""The disputes domain's face: record a gateway's dispute against its payment (marking the
payment charged back, which account health counts), list and read disputes, take Stripe's
dispute webhooks and other gateways' CSV exports, and say where an account stands in the card
networks' monitoring programs this month."""

import csv
import io
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import structlog
from pydantic import ValidationError
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.auth.scope import Principal, scope_clause
from avnz.core import clock
from avnz.core.errors import InvalidRequest, NotFound, Unauthenticated
from avnz.core.ids import new_id
from avnz.core.pagination import Page, PageParams, paginate
from avnz.disputes import programs, stripe
from avnz.disputes.models import Dispute, DisputeStatus
from avnz.disputes.schemas import (
    ImportReport,
    LevelOut,
    MonitoringOut,
    ProgramStandingOut,
    StripeDispute,
    StripeEvent,
    WebhookAck,
)
from avnz.payments import chargebacks
from avnz.routing.accounts import service as routing
from avnz.routing.accounts.models import MerchantAccount
from avnz.security.keyring import Keyring

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Report:
    """One gateway report of a dispute, whatever its source."""

    provider: str
    gateway_dispute_id: str
    status: DisputeStatus
    gateway_status: str | None
    amount: int
    currency: str
    reason_code: str | None
    evidence_due_by: datetime | None
    opened_at: datetime


def _visible(principal: Principal) -> ColumnElement[bool]:
    return scope_clause(
        principal,
        organization_id=Dispute.organization_id,
        client_id=Dispute.client_id,
        company_id=Dispute.company_id,
    )


async def list_disputes(
    *,
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    company_id: str | None = None,
    status: DisputeStatus | None = None,
    merchant_account_id: str | None = None,
    payment_id: str | None = None,
) -> Page[Dispute]:
    """The disputes the principal may see, newest first, filtered."""
    stmt = select(Dispute).where(_visible(principal))
    for column, value in (
        (Dispute.company_id, company_id),
        (Dispute.status, status.value if status else None),
        (Dispute.merchant_account_id, merchant_account_id),
        (Dispute.payment_id, payment_id),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    return await paginate(session, stmt, Dispute.id, page)


async def get_dispute(*, session: AsyncSession, principal: Principal, dispute_id: str) -> Dispute:
    dispute = await session.scalar(
        select(Dispute).where(Dispute.id == dispute_id, _visible(principal))
    )
    if dispute is None:
        raise NotFound(f"No dispute {dispute_id!r}.", param="id")
    return dispute


async def record(
    session: AsyncSession, payment: chargebacks.DisputedPayment, report: Report
) -> tuple[Dispute, bool]:
    """Create or update the dispute (one per gateway dispute id) and mark its payment charged
    back; True when it is new. A closed dispute never reopens from an older report."""
    dispute = await session.scalar(
        select(Dispute).where(
            Dispute.provider == report.provider,
            Dispute.gateway_dispute_id == report.gateway_dispute_id,
        )
    )
    created = dispute is None
    if dispute is None:
        dispute = Dispute(
            id=new_id("dsp"),
            organization_id=payment.organization_id,
            client_id=payment.client_id,
            company_id=payment.company_id,
            payment_id=payment.id,
            merchant_account_id=payment.merchant_account_id,
            provider=report.provider,
            gateway_dispute_id=report.gateway_dispute_id,
            card_brand=payment.card_brand,
            opened_at=report.opened_at,
        )
        session.add(dispute)
    elif dispute.payment_id != payment.id:
        raise InvalidRequest(
            f"Dispute {report.gateway_dispute_id!r} already belongs to another payment.",
            param="dispute_id",
        )
    if created or dispute.status == DisputeStatus.OPEN.value:
        dispute.status = report.status.value
        dispute.closed_at = None if report.status is DisputeStatus.OPEN else clock.now()
    dispute.gateway_status = report.gateway_status
    dispute.amount = report.amount
    dispute.currency = report.currency.upper()
    dispute.reason_code = report.reason_code
    dispute.evidence_due_by = report.evidence_due_by
    await session.flush()
    await chargebacks.mark_charged_back(session, payment_id=payment.id, at=report.opened_at)
    return dispute, created


# --- Stripe ----------------------------------------------------------------------------------


def _moment(unix: int) -> datetime:
    return datetime.fromtimestamp(unix, tz=UTC)


def _stripe_report(found: StripeDispute) -> Report:
    due = found.evidence_details.due_by if found.evidence_details else None
    return Report(
        provider="stripe",
        gateway_dispute_id=found.id,
        status=stripe.STATUSES.get(found.status, DisputeStatus.OPEN),
        gateway_status=found.status,
        amount=found.amount,
        currency=found.currency,
        reason_code=found.network_reason_code or found.reason,
        evidence_due_by=_moment(due) if due else None,
        opened_at=_moment(found.created),
    )


async def receive_stripe(
    *,
    session: AsyncSession,
    keyring: Keyring,
    account_id: str,
    payload: bytes,
    signature: str | None,
) -> WebhookAck:
    """Verify a Stripe webhook with the account's webhook secret, then record the dispute it
    carries; other event types are acknowledged and ignored. 401 when it cannot be verified."""
    account = await session.get(MerchantAccount, account_id)
    if account is None or account.provider_type != "stripe":
        raise NotFound(f"No Stripe merchant account {account_id!r}.", param="account_id")
    secret = (routing.decrypt_credentials(keyring, account) or {}).get("webhook_secret")
    if not secret:
        raise Unauthenticated(
            "This account has no webhook secret: add the endpoint's signing secret (whsec_…) "
            "to its credentials.",
            code="webhook_secret_missing",
        )
    try:
        stripe.verify(payload, signature, secret, clock.now().timestamp())
    except stripe.BadSignature as exc:
        raise Unauthenticated(str(exc), code="invalid_signature") from None
    try:
        event = StripeEvent.model_validate(json.loads(payload))
    except (ValueError, ValidationError):
        if _event_type(payload) in stripe.EVENTS:
            raise InvalidRequest("The dispute event is not one Stripe sends.") from None
        return WebhookAck()
    if event.type not in stripe.EVENTS:
        return WebhookAck()
    found = event.data.object
    payment = await chargebacks.find(
        session,
        references=[found.payment_intent or "", found.charge or ""],
        merchant_account_id=account.id,
    )
    if payment is None:
        log.warning("dispute for an unknown payment", account_id=account.id, dispute=found.id)
        return WebhookAck()
    dispute, _ = await record(session, payment, _stripe_report(found))
    return WebhookAck(dispute_id=dispute.id)


def _event_type(payload: bytes) -> str | None:
    try:
        body = json.loads(payload)
    except ValueError:
        return None
    return body.get("type") if isinstance(body, dict) else None


# --- CSV import ------------------------------------------------------------------------------

CSV_STATUSES = {
    "open": DisputeStatus.OPEN,
    "needs_response": DisputeStatus.OPEN,
    "under_review": DisputeStatus.OPEN,
    "pending": DisputeStatus.OPEN,
    "won": DisputeStatus.WON,
    "reversed": DisputeStatus.WON,
    "lost": DisputeStatus.LOST,
    "accepted": DisputeStatus.LOST,
}
CSV_COLUMNS = ("provider", "dispute_id", "transaction_id", "status", "amount", "currency")


def _when(value: str, field: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{field} {value!r} is not an ISO 8601 date") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _csv_report(row: dict[str, str]) -> Report:
    status = CSV_STATUSES.get(row["status"].lower())
    if status is None:
        raise ValueError(f"status {row['status']!r} is not one of {sorted(CSV_STATUSES)}")
    if not row["amount"].isdigit():
        raise ValueError(f"amount {row['amount']!r} is not an integer of minor units")
    if len(row["currency"]) != 3 or not row["currency"].isalpha():
        raise ValueError(f"currency {row['currency']!r} is not an ISO 4217 code")
    if not row["dispute_id"] or len(row["dispute_id"]) > 64:
        raise ValueError("dispute_id is missing or longer than 64 characters")
    return Report(
        provider=row["provider"].lower(),
        gateway_dispute_id=row["dispute_id"],
        status=status,
        gateway_status=row["status"].lower()[:40],
        amount=int(row["amount"]),
        currency=row["currency"],
        reason_code=row.get("reason_code", "")[:40] or None,
        evidence_due_by=_when(row.get("evidence_due_by", ""), "evidence_due_by"),
        opened_at=_when(row.get("opened_at", ""), "opened_at") or clock.now(),
    )


async def import_csv(*, session: AsyncSession, company_id: str, text: str) -> ImportReport:
    """Record every row of a gateway's dispute export for one company's payments (columns
    provider, dispute_id, transaction_id, status, amount, currency, and optionally reason_code,
    evidence_due_by, opened_at); a bad row is reported by number and skipped."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [name for name in CSV_COLUMNS if name not in (reader.fieldnames or ())]
    if missing:
        raise InvalidRequest(f"The file lacks the columns {missing}.", param="csv")
    created = updated = 0
    errors: list[str] = []
    for number, raw in enumerate(reader, start=2):
        row = {key: (value or "").strip() for key, value in raw.items() if key}
        try:
            report = _csv_report(row)
        except ValueError as exc:
            errors.append(f"row {number}: {exc}")
            continue
        payment = await chargebacks.find(
            session, references=[row["transaction_id"]], company_id=company_id
        )
        if payment is None or payment.provider != report.provider:
            errors.append(
                f"row {number}: no {report.provider} payment {row['transaction_id']!r} "
                "in this company"
            )
            continue
        async with session.begin_nested():
            try:
                _, new = await record(session, payment, report)
            except InvalidRequest as exc:
                errors.append(f"row {number}: {exc.message}")
                continue
        created, updated = created + new, updated + (not new)
    return ImportReport(created=created, updated=updated, errors=errors)


# --- monitoring programs ---------------------------------------------------------------------


def _month_start(day: date) -> datetime:
    return datetime.combine(day.replace(day=1), time(), tzinfo=UTC)


async def monitoring(
    *, session: AsyncSession, principal: Principal, account_id: str
) -> MonitoringOut:
    """This calendar month's disputes of the account against each network program."""
    account = await routing.get_account(session=session, principal=principal, account_id=account_id)
    now = clock.now()
    start = _month_start(now.date())
    previous = _month_start((start - timedelta(days=1)).date())
    counted = await session.execute(
        select(Dispute.card_brand, func.count())
        .where(Dispute.merchant_account_id == account.id, Dispute.opened_at >= start)
        .group_by(Dispute.card_brand)
    )
    disputes = {str(brand): int(count) for brand, count in counted}
    this_month = await chargebacks.settled_by_brand(
        session, merchant_account_id=account.id, since=start, until=now + timedelta(seconds=1)
    )
    last_month = await chargebacks.settled_by_brand(
        session, merchant_account_id=account.id, since=previous, until=start
    )
    standings = []
    for program in programs.PROGRAMS:
        sales = this_month if program.denominator == "same_month" else last_month
        standings.append(
            programs.standing(program, disputes.get(program.brand, 0), sales.get(program.brand, 0))
        )
    out = [_standing_out(found) for found in standings]
    return MonitoringOut(
        merchant_account_id=account.id,
        month=start.strftime("%Y-%m"),
        programs=out,
        warnings=[found.warning for found in out if found.warning],
    )


def _standing_out(found: programs.Standing) -> ProgramStandingOut:
    program = found.program
    warning = None
    if found.ratio is not None and found.over_ratio is not None:
        level = found.level or found.over_ratio
        percent = f"{found.ratio * 100:.2f} %"
        if found.level is not None:
            warning = (
                f"{program.label}: {percent} of {program.brand} sales disputed this month "
                f"({found.disputes} disputes) reaches the {level.name.upper()} level "
                f"({level.ratio * 100:.1f} % and {level.count} disputes)."
            )
        else:
            warning = (
                f"{program.label}: {percent} of {program.brand} sales disputed this month is at "
                f"or over the {level.name.upper()} ratio ({level.ratio * 100:.1f} %); the "
                f"program also needs {level.count} disputes in a month (now {found.disputes})."
            )
    return ProgramStandingOut(
        program=program.code,
        label=program.label,
        disputes=found.disputes,
        sales=found.sales,
        ratio=found.ratio,
        level=found.level.name if found.level else None,
        warning=warning,
        levels=[LevelOut(name=lv.name, ratio=lv.ratio, count=lv.count) for lv in program.levels],
    )

"""Transactions: the filterable list (with CSV export) and a payment's detail, where users allowed
to can capture, void and refund through the same follow-ups as the API."""

import json
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from avnz import idempotency
from avnz.auth.permissions import Permission
from avnz.auth.scope import Principal
from avnz.core.cards import Brand
from avnz.core.errors import AppError, InvalidRequest
from avnz.core.money import Money
from avnz.deps import RuntimeDep, Session
from avnz.idempotency import Claim
from avnz.payments import follow_ups, reading
from avnz.payments.models import Payment
from avnz.payments.runtime import PaymentRuntime
from avnz.payments.schemas import CaptureCreate, RefundCreate
from avnz.payments.states import PaymentStatus
from avnz.runtime import Runtime
from avnz.web import tables
from avnz.web.auth import CsrfChecked, page_requires
from avnz.web.csrf import FORM_FIELD
from avnz.web.payment_view import account_names, detail_context
from avnz.web.tables import Column, Filter, Table
from avnz.web.templating import badge, money, render

router = APIRouter()
P = Permission
TransactionsRead = Annotated[Principal, Depends(page_requires(P.TRANSACTIONS_READ))]
LIST_CRUMBS = (("Transactions", "/transactions"),)
SORTS = {"created": Payment.created_at, "amount": Payment.amount, "status": Payment.status}


def _card(payment: Payment) -> str | None:
    if not payment.card_last4:
        return payment.card_brand
    return f"{payment.card_brand or 'card'} •••• {payment.card_last4}"


def _columns(names: dict[str, str]) -> list[Column]:
    def account(payment: Payment) -> str | None:
        account_id = payment.merchant_account_id
        return names.get(account_id, account_id) if account_id else None

    def rule(payment: Payment) -> str | None:
        return (payment.routing or {}).get("rule_name")

    return [
        Column("created", "Created", sortable=True, value=lambda p: p.created_at),
        Column("id", "ID", link=lambda p: f"/transactions/{p.id}"),
        Column(
            "amount",
            "Amount",
            sortable=True,
            numeric=True,
            display=lambda p: money(p.amount, p.currency),
        ),
        Column("currency", "Currency", hidden=True),
        Column("status", "Status", sortable=True, display=lambda p: badge(p.status)),
        Column("card", "Card", value=_card),
        Column("customer_id", "Customer"),
        Column("account", "Account", value=account),
        Column("provider", "Gateway", hidden=True),
        Column("rule", "Rule", value=rule),
        Column("decline_reason", "Decline reason", hidden=True),
    ]


def _filters(names: dict[str, str]) -> list[Filter]:
    return [
        Filter("q", "Search", "search", placeholder="Payment, customer or gateway id"),
        Filter(
            "status",
            "Status",
            options=tuple((s.value, s.value.replace("_", " ")) for s in PaymentStatus),
        ),
        Filter(
            "card_brand",
            "Card brand",
            options=tuple((b.value, b.value.title()) for b in Brand if b is not Brand.UNKNOWN),
        ),
        Filter("account", "Account", options=tuple(sorted(names.items(), key=lambda i: i[1]))),
        Filter("from", "From", "date_from"),
        Filter("to", "To", "date_to"),
        Filter("amount_min", "Min amount", "number", placeholder="minor units"),
        Filter("amount_max", "Max amount", "number", placeholder="minor units"),
    ]


def _payment_filters(table: Table) -> reading.PaymentFilters:
    status = table.value("status")
    return reading.PaymentFilters(
        status=PaymentStatus(status) if status in set(PaymentStatus) else None,
        merchant_account_id=table.value("account"),
        card_brand=table.value("card_brand"),
        search=table.value("q"),
        created_gte=table.date_value("from"),
        created_lte=table.date_value("to"),
        amount_gte=table.int_value("amount_min"),
        amount_lte=table.int_value("amount_max"),
    )


@router.get("/transactions", response_class=HTMLResponse)
async def transactions(request: Request, session: Session, principal: TransactionsRead) -> Response:
    names = await account_names(session, principal)
    table = Table.from_request(
        request,
        id="transactions-table",
        columns=_columns(names),
        filters=_filters(names),
        default_sort="-created",
        empty_title="No transactions",
        empty_text="Payments made through the API show up here.",
        export_name="transactions",
        selectable=True,
    )
    stmt = reading.payments_query(principal, _payment_filters(table))
    if tables.wants_csv(request):
        return await tables.export(session, stmt, table, sorts=SORTS, tiebreak=Payment.id)
    await tables.load(session, stmt, table, sorts=SORTS, tiebreak=Payment.id)
    return tables.respond(
        request, table, "pages/transactions.html", principal=principal, breadcrumbs=LIST_CRUMBS
    )


@router.get("/transactions/{payment_id}", response_class=HTMLResponse)
async def transaction(
    request: Request,
    payment_id: str,
    session: Session,
    principal: TransactionsRead,
    notice: str | None = None,
) -> HTMLResponse:
    payment = await reading.get_payment(session, principal, payment_id)
    context = await detail_context(session, principal, payment)
    context |= {"error": None, "notice": NOTICES.get(notice or "")}
    return render(
        request,
        "pages/transaction.html",
        context,
        principal=principal,
        breadcrumbs=(*LIST_CRUMBS, (payment.id, None)),
    )


# --- follow-ups --------------------------------------------------------------------------------

PaymentsWrite = Annotated[Principal, Depends(page_requires(P.TRANSACTIONS_WRITE))]
PaymentsRefund = Annotated[Principal, Depends(page_requires(P.TRANSACTIONS_REFUND))]
IDEMPOTENCY_FIELD = "idempotency_key"
NOTICES = {
    "captured": "The payment was captured.",
    "voided": "The authorization was voided.",
    "refunded": "The refund was sent.",
}


def _minor_units(text: str, currency: str) -> int | None:
    """A major-unit amount typed in a form ("12.50") as minor units; empty means "all"."""
    if not text.strip():
        return None
    try:
        amount = Money.from_decimal(Decimal(text.strip()), currency).amount
    except (InvalidOperation, ValueError):
        raise InvalidRequest(
            f"Enter the amount in {currency}, like 12.50.", param="amount"
        ) from None
    if amount <= 0:
        raise InvalidRequest(
            "Enter an amount above zero, or leave it empty to refund what is left.", param="amount"
        )
    return amount


async def _form_key(request: Request) -> str | None:
    """The form's one-time key: a double-submitted form replays the first answer instead of
    repeating the follow-up."""
    value = (await request.form()).get(IDEMPOTENCY_FIELD)
    return value if isinstance(value, str) and value else None


async def _after_follow_up(
    request: Request,
    session: Session,
    runtime: Runtime,
    principal: Principal,
    payment_id: str,
    action: Callable[[Claim | None], Awaitable[object]],
    notice: str,
) -> Response:
    """Run a follow-up once per form key; on success back to the detail page, else the page
    with the reason."""
    # The follow-up works in its own sessions; on SQLite this request's open transaction
    # would hold the write lock they need.
    await session.commit()

    form = await request.form()
    fields = {k: v for k, v in form.items() if k not in (FORM_FIELD, IDEMPOTENCY_FIELD)}
    fingerprint = idempotency.fingerprint(
        runtime.keyring,
        scope=principal.key_scope,
        method="POST",
        path=request.url.path,
        body=json.dumps(fields, sort_keys=True, default=str).encode(),
    )
    try:
        replay = await idempotency.run_claiming(
            runtime.sessions,
            scope=principal.key_scope,
            key=await _form_key(request),
            fingerprint=fingerprint,
            work=partial(_noticed, action, notice),
            lazy=False,
        )
        answer = replay.response
    except AppError as exc:
        answer = idempotency.StoredResponse(exc.status_code, {"error": {"message": exc.message}})
    if answer.status < 400:
        return RedirectResponse(f"/transactions/{payment_id}?notice={notice}", status_code=303)
    payment = await reading.get_payment(session, principal, payment_id)
    context = await detail_context(session, principal, payment)
    context |= {"error": answer.body["error"]["message"], "notice": None}
    return render(
        request,
        "pages/transaction.html",
        context,
        principal=principal,
        status_code=answer.status,
        breadcrumbs=(*LIST_CRUMBS, (payment.id, None)),
    )


async def _noticed(
    action: Callable[[Claim | None], Awaitable[object]], notice: str, claim: Claim | None
) -> idempotency.StoredResponse:
    """The follow-up run under its claim (a refund records itself on it), answered as a notice."""
    await action(claim)
    return idempotency.StoredResponse(200, {"notice": notice})


@router.post("/transactions/{payment_id}/refund")
async def refund(
    request: Request,
    payment_id: str,
    session: Session,
    runtime: RuntimeDep,
    principal: PaymentsRefund,
    _: CsrfChecked,
    amount: Annotated[str, Form(max_length=32)] = "",
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    payment = await reading.get_payment(session, principal, payment_id)
    gateways = PaymentRuntime.of(runtime)

    async def send(claim: Claim | None) -> object:
        data = RefundCreate(
            amount=_minor_units(amount, payment.currency), reason=reason.strip() or None
        )
        return await follow_ups.refund_payment(gateways, principal, payment_id, data, claim)

    return await _after_follow_up(
        request, session, runtime, principal, payment_id, send, "refunded"
    )


@router.post("/transactions/{payment_id}/{action}")
async def capture_or_void(
    request: Request,
    payment_id: str,
    action: Literal["capture", "void"],
    session: Session,
    runtime: RuntimeDep,
    principal: PaymentsWrite,
    _: CsrfChecked,
) -> Response:
    """Capture an authorization in full, or void it (after the refund route: it is not one)."""
    gateways = PaymentRuntime.of(runtime)

    async def send(_claim: Claim | None) -> object:  # capture and void record nothing on it
        if action == "capture":
            return await follow_ups.capture_payment(
                gateways, principal, payment_id, CaptureCreate()
            )
        return await follow_ups.void_payment(gateways, principal, payment_id)

    notice = "captured" if action == "capture" else "voided"
    return await _after_follow_up(request, session, runtime, principal, payment_id, send, notice)

"""Routing decisions: which account served a payment, how the strategy chose it (with the
probability, for offline evaluation of other strategies), and every attempt failover made.

The payment path writes them with Core statements in its own short transactions:
`start_decision` when the payment is opened (after the payment row is flushed),
`add_attempt` after each gateway answer, the last one closing it when the payment settles
(`finish_for_payment` when the sweep settles it instead). Reads are
scoped like the payment: a decision outside the caller's scope is missing (404).
"""

from typing import Any

from sqlalchemy import ColumnElement, Integer, Table, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.auth.scope import Principal, scope_clause
from avnz.core import clock
from avnz.core.errors import NotFound
from avnz.core.ids import new_id
from avnz.gateways.base import GatewayResult
from avnz.routing.failover import Step
from avnz.routing.models import RoutingAttempt, RoutingDecision
from avnz.routing.schemas import RoutingAttemptOut, RoutingDecisionOut

DECISIONS: Table = RoutingDecision.__table__  # type: ignore[assignment]
ATTEMPTS: Table = RoutingAttempt.__table__  # type: ignore[assignment]


async def start_decision(
    session: AsyncSession,
    *,
    payment_id: str,
    organization_id: str,
    client_id: str,
    company_id: str,
    account_id: str,
    strategy: str,
    evaluation_time_ms: float,
    probability: float | None = None,
    pool_id: str | None = None,
    rule_id: str | None = None,
    rule_version: int | None = None,
    condition_results: list[dict[str, Any]] | None = None,
) -> str:
    """Record the strategy's choice for a payment (already flushed); returns the decision id."""
    decision_id = new_id("rdec")
    decision = {
        "id": decision_id,
        "organization_id": organization_id,
        "client_id": client_id,
        "company_id": company_id,
        "payment_id": payment_id,
        "pool_id": pool_id,
        "selected_account_id": account_id,
        "strategy": strategy,
        "probability": probability,
        "evaluation_time_ms": round(evaluation_time_ms, 3),
        "failover_attempts": 0,
        "rule_id": rule_id,
        "rule_version": rule_version,
        "condition_results": condition_results,
        "created_at": clock.now(),
    }
    await session.execute(_INSERT_DECISION, decision)
    return decision_id


async def reselect(session: AsyncSession, *, decision_id: str, account_id: str) -> None:
    """The strategy's choice had no capacity left: the payment opens on `account_id` instead,
    which no probability describes."""
    await session.execute(
        update(DECISIONS)
        .where(DECISIONS.c.id == decision_id)
        .values(selected_account_id=account_id, probability=None)
    )


async def add_attempt(
    session: AsyncSession,
    *,
    decision_id: str,
    attempt: int,
    account_id: str,
    result: GatewayResult,
    step: Step,
    final_outcome: str | None = None,
) -> None:
    """Record attempt number `attempt` (1 for the first account) and what failover did next;
    the decision's final account and failover count follow the latest attempt. With
    `final_outcome` the attempt is the last one: the decision is closed in the same UPDATE."""
    now = clock.now()
    attempt_row = {
        "id": new_id("ratt"),
        "decision_id": decision_id,
        "attempt": attempt,
        "account_id": account_id,
        "outcome": result.outcome.value,
        "decline_reason": result.decline_reason.value if result.decline_reason else None,
        "latency_ms": result.latency_ms,
        "step": step.value,
        "created_at": now,
    }
    await session.execute(_INSERT_ATTEMPT, attempt_row)
    closing = {"final": final_outcome, "completed": now if final_outcome else None}
    latest = {"decision": decision_id, "account": account_id, "failovers": attempt - 1}
    await session.execute(_FOLLOW_ATTEMPT, latest | closing)


# Built once: every payment runs them (the INSERTs' parameters name the columns).
_INSERT_DECISION = insert(DECISIONS)
_INSERT_ATTEMPT = insert(ATTEMPTS)
_FAILOVERS = bindparam("failovers", type_=Integer)
_FOLLOW_ATTEMPT = (
    update(DECISIONS)
    .where(DECISIONS.c.id == bindparam("decision"), DECISIONS.c.failover_attempts <= _FAILOVERS)
    .values(
        final_account_id=bindparam("account"),
        failover_attempts=_FAILOVERS,
        # NULL (not the last attempt) keeps what is there.
        final_outcome=func.coalesce(
            bindparam("final", type_=DECISIONS.c.final_outcome.type), DECISIONS.c.final_outcome
        ),
        completed_at=func.coalesce(
            bindparam("completed", type_=DECISIONS.c.completed_at.type), DECISIONS.c.completed_at
        ),
    )
)


async def finish_for_payment(session: AsyncSession, *, payment_id: str, final_outcome: str) -> None:
    """Close a payment's open decision once something else settled it (the stale-payment sweep)."""
    await session.execute(
        update(DECISIONS)
        .where(DECISIONS.c.payment_id == payment_id, DECISIONS.c.completed_at.is_(None))
        .values(final_outcome=final_outcome, completed_at=clock.now())
    )


# --- reading ---------------------------------------------------------------------------------


def _visible(principal: Principal) -> ColumnElement[bool]:
    return scope_clause(
        principal,
        organization_id=RoutingDecision.organization_id,
        client_id=RoutingDecision.client_id,
        company_id=RoutingDecision.company_id,
    )


async def get_for_payment(
    *, session: AsyncSession, principal: Principal, payment_id: str
) -> RoutingDecisionOut:
    """The payment's decision with its attempts in order; 404 when there is none in scope."""
    decision = await session.scalar(
        select(RoutingDecision).where(RoutingDecision.payment_id == payment_id, _visible(principal))
    )
    if decision is None:
        raise NotFound(f"No routing decision for payment {payment_id!r}.", param="payment_id")
    attempts = await session.scalars(
        select(RoutingAttempt)
        .where(RoutingAttempt.decision_id == decision.id)
        .order_by(RoutingAttempt.attempt)
    )
    values: dict[str, Any] = {
        name: getattr(decision, name)
        for name in RoutingDecisionOut.model_fields
        if name not in ("attempts", "failed_over")
    }
    return RoutingDecisionOut(
        **values,
        failed_over=decision.failover_attempts > 0,
        attempts=[RoutingAttemptOut.model_validate(a) for a in attempts.all()],
    )

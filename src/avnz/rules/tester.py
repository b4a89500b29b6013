"""The rule tester: one sample transaction through the company's rules (or a draft rule), with
every rule's condition results and what the matched rule would do. It touches nothing: no hit is
counted, no notification queued, no capacity reserved."""

import time
from dataclasses import asdict
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from avnz.auth.scope import Principal
from avnz.bins import service as bins
from avnz.commerce.models import Customer as CustomerRow
from avnz.core import clock
from avnz.core.errors import AppError, NotFound
from avnz.rules.actions.base import Directive
from avnz.rules.cache import RuleCache
from avnz.rules.compiler import NodeResult, explain
from avnz.rules.context import Customer, Product, RuleContext
from avnz.rules.engine import CompiledRule, Match, RuleSet, compile_rule, decide
from avnz.rules.inputs import CardFacts, Transaction, rule_context
from avnz.rules.models import RoutingRule
from avnz.rules.schedule import zone_of
from avnz.rules.schemas import (
    DirectiveOut,
    DraftRule,
    MatchedRuleOut,
    NodeResultOut,
    RuleResultOut,
    RuleTestOut,
    RuleTestRequest,
    SampleTransaction,
)
from avnz.rules.service import validate_definition
from avnz.tenancy.models import Company
from avnz.tenancy.visibility import target_company

DRAFT_KEY = "test"  # the A/B key of a sample without an id


async def test_rules(
    *, session: AsyncSession, principal: Principal, cache: RuleCache, data: RuleTestRequest
) -> RuleTestOut:
    company = await target_company(session, principal, data.company_id)
    context = await rule_context(session, company, await _transaction(session, company, data))
    if data.rule is not None:
        draft = await _draft(session, data.rule, company)
        rule_set = RuleSet(company.id, 0, company.timezone, zone_of(company.timezone), (draft,))
    else:
        rule_set = await cache.rule_set(session, company.id, company.timezone)
    sample = data.transaction
    started = time.perf_counter()
    match = decide(
        rule_set,
        context,
        transaction_key=sample.id or DRAFT_KEY,
        customer_key=sample.customer_id,
    )
    elapsed_us = (time.perf_counter() - started) * 1e6
    return RuleTestOut(
        matched_rule=_matched(match),
        actions=_actions(match),
        directive=_directive(match.directive, context) if match else None,
        rules=[_rule_result(rule, rule_set, context) for rule in rule_set.rules],
        rule_set_version=rule_set.version,
        evaluation_us=round(elapsed_us, 1),
    )


async def _transaction(
    session: AsyncSession, company: Company, data: RuleTestRequest
) -> Transaction:
    sample = data.transaction
    if sample.customer_id is not None:
        await _company_customer(session, company, sample.customer_id)
    return Transaction(
        amount=sample.amount,
        currency=sample.currency,
        moment=sample.at or clock.now(),
        card=_card(sample),
        country=sample.country,
        state=sample.state.upper() if sample.state else None,
        customer_id=sample.customer_id,
        is_tokenized=sample.is_tokenized,
        is_3ds_enrolled=sample.is_3ds_enrolled,
        is_digital_wallet=sample.is_digital_wallet,
        customer_facts=_customer_facts(sample),
        product_facts=Product(**sample.product.model_dump()) if sample.product else None,
    )


def _card(sample: SampleTransaction) -> CardFacts:
    """The sample's card facts; what it leaves out, its BIN says, as for a payment's card."""
    if sample.bin is None:
        return CardFacts(
            brand=sample.card_brand,
            card_type=sample.card_type,
            bin=None,
            issuing_country=sample.issuing_country,
        )
    known = bins.lookup(sample.bin)
    return CardFacts(
        brand=sample.card_brand or known.brand,
        card_type=sample.card_type or known.card_type,
        bin=sample.bin,
        issuing_country=sample.issuing_country or known.country,
    )


async def _company_customer(session: AsyncSession, company: Company, customer_id: str) -> None:
    row = await session.get(CustomerRow, customer_id)
    if row is None or row.company_id != company.id or row.deleted_at is not None:
        raise NotFound(
            f"No customer {customer_id!r} in this company.", param="transaction.customer_id"
        )


def _customer_facts(sample: SampleTransaction) -> Customer | None:
    if sample.customer is None or sample.customer_id is not None:
        return None
    given = sample.customer
    return Customer(
        type=given.type.lower() if given.type else None,
        account_age_days=given.account_age_days,
        lifetime_value=given.lifetime_value,
        risk_level=given.risk_level,
        chargeback_rate=given.chargeback_rate,
        segments=frozenset(given.segments),
    )


async def _draft(session: AsyncSession, draft: DraftRule, company: Company) -> CompiledRule:
    """The draft validated as a saved rule would be (errors name the path under `rule.`) and
    compiled as a transient rule, never added to the session."""
    fields = draft.model_dump(exclude={"name"}, exclude_none=True)
    try:
        stored = await validate_definition(session, company.id, fields)
    except AppError as invalid:
        param = f"rule.{invalid.param}" if invalid.param else "rule"
        raise type(invalid)(
            f"In the draft rule: {invalid.message}", code=invalid.code, param=param
        ) from None
    row = RoutingRule(
        id=None,
        company_id=company.id,
        name=draft.name,
        priority=0,
        version=0,
        is_default=False,
        **{"conditions": [], "schedule": None, "ab_test": None, **stored},
    )
    return compile_rule(row)


def _matched(match: Match | None) -> MatchedRuleOut | None:
    if match is None:
        return None
    rule = match.rule
    return MatchedRuleOut(
        id=rule.id,
        name=rule.name,
        version=rule.version or None,
        priority=rule.priority,
        arm=match.arm.value,
    )


def _actions(match: Match | None) -> list[dict[str, Any]]:
    if match is None:
        return []
    return [action.model_dump(mode="json") for action in match.actions]


def _directive(directive: Directive, context: RuleContext) -> DirectiveOut:
    return DirectiveOut(
        pool_id=directive.pool_id,
        strategy=directive.strategy,
        account_id=directive.account_id,
        refusals=[asdict(refusal) for refusal in directive.refusals.values()],
        surcharge=directive.surcharge,
        discount=directive.discount,
        final_amount=directive.final_amount(context.amount),
        review=asdict(directive.review) if directive.review else None,
        metadata=directive.metadata,
        notifications=[asdict(notification) for notification in directive.notifications],
        failures=directive.failures,
    )


def _rule_result(rule: CompiledRule, rule_set: RuleSet, context: RuleContext) -> RuleResultOut:
    conditions_hold, results = explain(rule.nodes, context)
    in_schedule = rule.in_force(context, rule_set.zone)
    return RuleResultOut(
        rule_id=rule.id,
        name=rule.name,
        priority=rule.priority,
        version=rule.version or None,
        is_default=rule.is_default,
        in_schedule=in_schedule,
        matched=conditions_hold and in_schedule,
        conditions=[_node(result) for result in results],
    )


def _node(result: NodeResult) -> NodeResultOut:
    return NodeResultOut(
        path=result.path,
        type=result.type,
        result=result.result,
        field=result.field,
        operator=result.operator,
        value=result.value,
        children=[_node(child) for child in result.children],
    )

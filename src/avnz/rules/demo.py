"""The demo brand's routing rules: what a careful merchant sets up first. None of them touches
the README's first payment (a US Visa card, no customer), so the quickstart stays predictable."""

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.auth.scope import Principal
from avnz.rules import service
from avnz.rules.models import RoutingRule
from avnz.rules.schemas import RuleCreate

DEMO_RULES: list[dict[str, Any]] = [
    {
        "name": "Block sanctioned countries",
        "description": "Cards or billing addresses in comprehensively embargoed countries.",
        "conditions": [
            {
                "type": "geography",
                "field": "is_sanctioned_country",
                "operator": "is",
                "value": True,
            }
        ],
        "actions": [{"type": "block", "reason": "We cannot accept payments from this country."}],
    },
    {
        "name": "Review critical-risk customers",
        "conditions": [
            {"type": "customer", "field": "risk_level", "operator": "gte", "value": "critical"}
        ],
        "actions": [
            {
                "type": "flag_for_review",
                "reason": "Customer risk is critical",
                "severity": "high",
                "hold_funds": True,
            }
        ],
    },
    {
        "name": "Tell the team about large orders",
        "conditions": [
            {
                "type": "amount",
                "field": "amount",
                "operator": "gte",
                "value": 50_000,
                "currency": "USD",
            }
        ],
        "actions": [
            {
                "type": "send_notification",
                "channel": "webhook",
                "message": "{rule_name}: {amount} {currency} from {country}",
            }
        ],
    },
]


def routing_rules(pool_id: str, account_ids: Mapping[str, str]) -> list[dict[str, Any]]:
    """The rules that route: EU cards to the brand's Stripe account, mid-size orders to the
    cheapest account of its default pool (the large ones are the notification's, above)."""
    rules: list[dict[str, Any]] = []
    if "stripe" in account_ids:
        rules.append(
            {
                "name": "EU cards to the European account",
                "description": "Stripe settles in EUR for this brand: fewer cross-border fees.",
                "conditions": [
                    {"type": "geography", "field": "is_eu", "operator": "is", "value": True}
                ],
                "actions": [{"type": "route_to_account", "account_id": account_ids["stripe"]}],
            }
        )
    rules.append(
        {
            "name": "Mid-size orders to the lowest-cost account",
            "conditions": [
                {
                    "type": "amount",
                    "field": "amount",
                    "operator": "gte",
                    "value": 20_000,
                    "currency": "USD",
                }
            ],
            "actions": [{"type": "route_to_pool", "pool_id": pool_id, "strategy": "lowest_cost"}],
        }
    )
    return rules


async def load(
    session: AsyncSession,
    principal: Principal,
    company_id: str,
    *,
    pool_id: str | None = None,
    account_ids: Mapping[str, str] | None = None,
) -> int:
    """The demo rules, once (a brand that has any rule already is left alone), the routing
    ones when the brand's default pool is given."""
    existing = await session.scalar(
        select(func.count()).where(RoutingRule.company_id == company_id)
    )
    if existing:
        return 0
    definitions = list(DEMO_RULES)
    if pool_id is not None:
        definitions += routing_rules(pool_id, account_ids or {})
    for definition in definitions:
        data = RuleCreate.model_validate({"company_id": company_id, **definition})
        await service.create_rule(session=session, principal=principal, data=data)
    return len(definitions)

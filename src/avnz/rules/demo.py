"""The demo brand's routing rules: what a careful merchant sets up first. None of them touches
the README's first payment (a US Visa card, no customer), so the quickstart stays predictable."""

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


async def load(session: AsyncSession, principal: Principal, company_id: str) -> int:
    """The demo rules, once: a brand that has any rule already is left alone."""
    existing = await session.scalar(
        select(func.count()).where(RoutingRule.company_id == company_id)
    )
    if existing:
        return 0
    for definition in DEMO_RULES:
        data = RuleCreate.model_validate({"company_id": company_id, **definition})
        await service.create_rule(session=session, principal=principal, data=data)
    return len(DEMO_RULES)

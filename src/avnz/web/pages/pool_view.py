"""Pool pages' view models: what each strategy does, the failover settings as inputs, the
statistics charts and the members' weight shares.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from avnz.routing.decisions.failover import FailoverConfig
from avnz.routing.pools.schemas import (
    PoolDetail,
    PoolStats,
)
from avnz.routing.strategies import STRATEGIES, Strategy


def strategy_choices() -> list[Strategy]:
    """The strategies a pool can use, as the registry has them now (each brings its label)."""
    return list(STRATEGIES.values())


def strategy_help() -> dict[str, str]:
    """What each strategy does, as its own declaration says it (`Strategy.summary`)."""
    return {name: strategy.summary for name, strategy in STRATEGIES.items()}


@dataclass(frozen=True, slots=True)
class ConfigField:
    """One failover setting as a form input, built from `FailoverConfig`'s own field metadata."""

    name: str
    label: str
    is_flag: bool
    value: Any
    minimum: Any
    maximum: Any
    help: str | None


def _bound(metadata: Sequence[Any], attribute: str) -> Any:
    return next((getattr(m, attribute) for m in metadata if hasattr(m, attribute)), None)


def failover_fields(config: FailoverConfig) -> list[ConfigField]:
    return [
        ConfigField(
            name=name,
            label=name.replace("_", " ").capitalize(),
            is_flag=info.annotation is bool,
            value=getattr(config, name),
            minimum=_bound(info.metadata, "ge"),
            maximum=_bound(info.metadata, "le"),
            help=info.description,
        )
        for name, info in FailoverConfig.model_fields.items()
    ]


def stats_charts(stats: PoolStats) -> dict[str, Any]:
    """The statistics card's chart data: payments per account (pie), success rate in %."""
    names = [a.account_name for a in stats.accounts]
    rates = [
        round(a.success_rate * 100, 1) if a.success_rate is not None else 0 for a in stats.accounts
    ]
    return {
        "distribution": {"labels": names, "data": [a.payments for a in stats.accounts]},
        "success": {"labels": names, "series": [{"label": "Success rate %", "data": rates}]},
    }


def weight_shares(detail: PoolDetail) -> dict[str, float]:
    """Each active member's part of the weights (what WEIGHTED sends it), 0-1."""
    active = [m for m in detail.memberships if m.is_active]
    total = sum(m.weight for m in active)
    return {m.merchant_account_id: (m.weight / total if total else 0.0) for m in active}

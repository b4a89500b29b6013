"""Merchant account view models: usage meters, the usage chart, and the activity log's lines."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from avnz.audit import service as audit
from avnz.audit.models import AuditLog
from avnz.routing.accounts.schemas import UsageBucketOut
from avnz.web.pages.account_forms import major_units

NEAR_LIMIT = 0.8  # a meter at or above 80 % of its cap raises an alert


@dataclass(frozen=True, slots=True)
class Meter:
    """One cap of one period: how much of it is used."""

    label: str
    period: str
    used: int
    cap: int
    is_money: bool

    @property
    def ratio(self) -> float:
        return self.used / self.cap if self.cap else 1.0

    @property
    def percent(self) -> int:
        return min(round(self.ratio * 100), 100)

    @property
    def near_limit(self) -> bool:
        return self.ratio >= NEAR_LIMIT


def meters(buckets: Sequence[UsageBucketOut]) -> list[Meter]:
    """A meter per capped count or volume of the current periods (uncapped ones have none)."""
    found = []
    for bucket in buckets:
        if bucket.transaction_limit is not None:
            found.append(
                Meter(
                    "transactions",
                    bucket.period.value,
                    bucket.transaction_count,
                    bucket.transaction_limit,
                    is_money=False,
                )
            )
        if bucket.volume_limit is not None:
            found.append(
                Meter(
                    "volume",
                    bucket.period.value,
                    bucket.volume_minor,
                    bucket.volume_limit,
                    is_money=True,
                )
            )
    return found


_BOOKKEEPING = frozenset({"updated_at", "updated_by", "status_changed_at"})


def activity_summary(entry: AuditLog) -> str:
    """One line for the activity log: what happened, and which fields a change touched."""
    details = entry.metadata_ or {}
    if details.get("operation") == "test":
        return "Connection test " + ("passed" if details.get("success") else "failed")
    if entry.action != audit.AuditAction.UPDATE.value:
        return {"CREATE": "Created", "DELETE": "Closed"}.get(entry.action, entry.action.lower())
    before, after = entry.previous_value or {}, entry.new_value or {}
    changed = sorted(
        name
        for name in set(before) | set(after)
        if name not in _BOOKKEEPING and before.get(name) != after.get(name)
    )
    return (
        "Changed " + ", ".join(name.replace("_", " ") for name in changed) if changed else "Saved"
    )


def usage_chart(history: Sequence[UsageBucketOut], currency: str) -> dict[str, Any]:
    """Past days' transactions and volume (major units), oldest first, for app.js's charts."""
    days = sorted(history, key=lambda bucket: bucket.period_start)
    return {
        "labels": [bucket.period_start.isoformat() for bucket in days],
        "series": [
            {"label": "Transactions", "data": [b.transaction_count for b in days]},
            {
                "label": f"Volume ({currency})",
                "data": [float(major_units(b.volume_minor, currency)) for b in days],
            },
        ],
    }

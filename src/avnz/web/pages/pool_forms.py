"""Pool pages' form parsing: the add modal, the settings, failover, members and simulator forms
turned into the routing service's requests.
"""

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from avnz.core.errors import Conflict, InvalidRequest
from avnz.routing.decisions.failover import FailoverConfig
from avnz.routing.pools.schemas import (
    MembershipUpdate,
    PoolCreate,
    PoolDetail,
    PoolUpdate,
    SimulateRequest,
)
from avnz.web import forms
from avnz.web.pages.pool_view import failover_fields

SETTINGS_FIELDS = ("name", "description", "strategy")


def _flag(form: forms.FormValues, name: str) -> bool:
    return form.get(name) in ("on", "true", "1")


def create_request(form: forms.FormValues) -> PoolCreate:
    """The add modal's fields as the API's create request (validated by it)."""
    values: dict[str, Any] = forms.nested(form, ("company_id", *SETTINGS_FIELDS))
    values["is_default"] = _flag(form, "is_default")
    return PoolCreate.model_validate(values)


def update_request(form: forms.FormValues) -> PoolUpdate:
    values: dict[str, Any] = {name: str(form.get(name) or "").strip() for name in SETTINGS_FIELDS}
    values["description"] = values["description"] or None
    values["is_active"] = _flag(form, "is_active")
    values["is_default"] = _flag(form, "is_default")
    return PoolUpdate.model_validate(values)


def failover_request(form: forms.FormValues) -> PoolUpdate:
    config: dict[str, Any] = {}
    for field in failover_fields(FailoverConfig()):
        key = f"failover_config.{field.name}"
        config[field.name] = _flag(form, key) if field.is_flag else str(form.get(key) or "")
    return PoolUpdate.model_validate(
        {"failover_enabled": _flag(form, "failover_enabled"), "failover_config": config}
    )


def _weights(form: forms.FormValues, name: str) -> dict[str, float]:
    """Equal weights for the picked values (the simulator's countries or card brands), picked as
    checkboxes or typed comma-separated."""
    picked = [part.strip() for value in form.getlist(name) for part in str(value).split(",")]
    return dict.fromkeys((value for value in picked if value), 1.0)


def simulate_request(form: forms.FormValues, currency: str) -> SimulateRequest:
    """The simulator's form: amounts typed in major units of `currency`."""
    low = forms.minor_units(forms.text(form, "amount_min"), currency, param="amount_min")
    high = forms.minor_units(forms.text(form, "amount_max"), currency, param="amount_max")
    band = {"min": low if low is not None else 100, "max": high if high is not None else 10_000}
    values: dict[str, Any] = {
        "transactions": str(form.get("transactions") or "1000"),
        "currency": currency,
        "amounts": [band],
        "countries": _weights(form, "countries") or {"US": 1.0},
        "card_brands": _weights(form, "card_brands") or {"visa": 1.0},
    }
    if seed := str(form.get("seed") or "").strip():
        values["seed"] = seed
    return SimulateRequest.model_validate(values)


@dataclass(frozen=True, slots=True)
class MemberChange:
    account_id: str
    update: MembershipUpdate


def member_changes(form: forms.FormValues, detail: PoolDetail) -> list[MemberChange]:
    """The members form (account ids in the new order, a weight and an active box each) as the
    changes to save: priority is the position. The list must hold exactly the pool's accounts,
    else the page is stale and nothing is saved."""
    order = [str(value) for value in form.getlist("account_id")]
    current = {m.merchant_account_id: m for m in detail.memberships}
    if sorted(order) != sorted(current):
        raise Conflict(
            "The pool's accounts changed since this page was loaded; reload it.",
            code="stale_members",
            param="account_id",
        )
    changes = []
    for position, account_id in enumerate(order):
        try:
            update = MembershipUpdate.model_validate(
                {
                    "priority": position,
                    "weight": str(form.get(f"weight.{account_id}") or "0"),
                    "is_active": _flag(form, f"active.{account_id}"),
                }
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            name = f"{first['loc'][0]}.{account_id}"
            raise InvalidRequest(f"{name}: {first['msg']}", param=name) from None
        member = current[account_id]
        if (member.priority, member.weight, member.is_active) != (
            update.priority,
            update.weight,
            update.is_active,
        ):
            changes.append(MemberChange(account_id, update))
    return changes

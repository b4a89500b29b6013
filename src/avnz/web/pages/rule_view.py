"""What the routing rule pages show and send: rules in words, their status badges, the rule
builder's reference data, and the builder's amounts (typed in major units) converted both ways.

Nothing here decides whether a rule is valid or matches: the rules service and the tester do.
The field lists come from the rule engine's own tables (`SPECS`, the action registry), so a new
field appears here or a test fails.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import pycountry

from avnz.core.cards import Brand
from avnz.core.money import currency_exponent
from avnz.routing.models import PoolStrategy
from avnz.rules import schema
from avnz.rules.actions import ACTIONS
from avnz.rules.actions.send_notification import PLACEHOLDERS
from avnz.rules.models import RoutingRule
from avnz.rules.schedule import Schedule
from avnz.web import forms

# --- conditions: the input each field needs ----------------------------------------------------

COUNTRIES = sorted(((c.alpha_2, c.name) for c in pycountry.countries), key=lambda c: c[1])
CURRENCIES = sorted(c.alpha_3 for c in pycountry.currencies)
BRANDS = tuple(brand.value for brand in Brand if brand is not Brand.UNKNOWN)
_NAMED = {
    "region": schema.REGIONS,
    "continent": schema.CONTINENTS,
    "card_brand": BRANDS,
    "card_type": schema.CARD_TYPES,
    "subscription_interval": schema.INTERVALS,
    "day_of_week": schema.WEEKDAYS,
    "risk_level": schema.RISK_LEVELS,
}
_KINDS = {
    "country": "country",
    "issuing_country": "country",
    "currency": "currency",
    "amount": "amount",
    "hour_of_day": "int",
    "account_age": "int",
    "lifetime_value": "int",
    "chargeback_rate": "rate",
    "date_range": "date",
    "bin_range": "bin",
}


def input_kind(kind: str, field: str) -> str:
    """The builder's input for a leaf field: bool, choice, country, currency, amount, int, rate,
    date, bin or text."""
    operators = schema.SPECS[kind][field][0]
    if operators == schema.IS:
        return "bool"
    if field in _NAMED:
        return "choice"
    return _KINDS.get(field, "text")


# Where the field's name does not read well on its own.
LABELS = {
    "is_domestic": "Domestic (card country is the company's)",
    "is_eu": "In the EU",
    "is_eea": "In the EEA",
    "is_sanctioned_country": "Sanctioned country",
    "is_high_risk_country": "High-risk country",
    "is_3ds_enrolled": "3-D Secure enrolled",
    "bin_range": "BIN range",
    "hour_of_day": "Hour of day",
    "type": "Customer type",
}


def _label(name: str) -> str:
    return LABELS.get(name) or name.replace("_", " ").removeprefix("is ").capitalize()


def condition_catalog() -> dict[str, Any]:
    """Per leaf type, per field: its label, input and operators (the order the builder offers)."""
    return {
        kind: {
            field: {
                "label": _label(field),
                "input": input_kind(kind, field),
                "operators": sorted(spec[0], key=OPERATOR_ORDER.index),
                "options": list(_NAMED.get(field, ())),
            }
            for field, spec in fields.items()
        }
        for kind, fields in schema.SPECS.items()
    }


OPERATOR_WORDS = {
    "equals": "is",
    "not_equals": "is not",
    "in": "is one of",
    "not_in": "is none of",
    "all": "has all of",
    "gt": "is more than",
    "gte": "is at least",
    "lt": "is less than",
    "lte": "is at most",
    "between": "is between",
    "in_tier": "is in the tier",
    "is": "is",
}
OPERATOR_ORDER = list(OPERATOR_WORDS)
TYPE_LABELS = {
    "geography": "Geography",
    "amount": "Amount",
    "time": "Time",
    "customer": "Customer",
    "product": "Product",
    "payment_method": "Payment method",
}


# --- conditions in words -----------------------------------------------------------------------


def _country_name(code: str) -> str:
    country = pycountry.countries.get(alpha_2=str(code))
    return country.name if country else str(code)


def _major(amount: int, currency: str) -> str:
    return f"{Decimal(amount).scaleb(-currency_exponent(currency))} {currency}"


def _one(leaf: Mapping[str, Any], value: Any) -> str:
    field = leaf["field"]
    if field in ("country", "issuing_country"):
        return _country_name(value)
    if field == "amount" and isinstance(value, int):
        return _major(value, leaf.get("currency") or "USD")
    if field == "day_of_week" and isinstance(value, int):
        return schema.WEEKDAYS[value]
    if field == "risk_level" and isinstance(value, int):
        return schema.RISK_LEVELS[value]
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def leaf_words(leaf: Mapping[str, Any]) -> str:
    """One condition as a sentence: "Card brand is visa", "Amount is between 10.00 USD and …"."""
    operator, value = leaf["operator"], leaf["value"]
    if operator == "is":
        return f"{_label(leaf['field'])}: {'yes' if value else 'no'}"
    if operator == "between":
        shown = f"{_one(leaf, value[0])} and {_one(leaf, value[1])}"
    elif isinstance(value, list | tuple):
        shown = ", ".join(_one(leaf, item) for item in value)
    else:
        shown = _one(leaf, value)
    return f"{_label(leaf['field'])} {OPERATOR_WORDS[operator]} {shown}"


@dataclass(frozen=True, slots=True)
class ConditionLine:
    """One node of a rule's conditions, flattened for display with its depth and path."""

    path: str
    depth: int
    text: str
    is_group: bool


def condition_lines(
    nodes: list[dict[str, Any]], path: str = "conditions", depth: int = 0
) -> list[ConditionLine]:
    lines = []
    for index, node in enumerate(nodes):
        here = f"{path}.{index}"
        if node.get("type") == "group":
            joined = "all of" if node["logic"] == "AND" else "any of"
            lines.append(ConditionLine(here, depth, f"{node['logic']}: {joined}", True))
            lines.extend(condition_lines(node["children"], f"{here}.children", depth + 1))
        else:
            lines.append(ConditionLine(here, depth, leaf_words(node), False))
    return lines


def condition_texts(nodes: list[dict[str, Any]]) -> dict[str, str]:
    """{path: words} for every node: what the tester's condition breakdown prints."""
    return {line.path: line.text for line in condition_lines(nodes)}


# --- actions in words ----------------------------------------------------------------------------


def _money_text(action: Mapping[str, Any], name: str) -> str | None:
    amount = action.get(name)
    if amount is None:
        return None
    currency = action.get("currency")
    return _major(amount, currency) if currency else f"{amount} minor units"


def _adjustment(action: Mapping[str, Any]) -> str:
    parts = [
        f"{action['percent']}%" if action.get("percent") else None,
        _money_text(action, "flat"),
    ]
    text = " + ".join(part for part in parts if part)
    cap = _money_text(action, "cap")
    return f"{action['type'].capitalize()} {text}" + (f" (at most {cap})" if cap else "")


def action_words(action: Mapping[str, Any], names: Mapping[str, str]) -> str:
    """One action as a sentence; `names` gives the pools' and accounts' names by id."""
    kind = action["type"]
    describe = _ACTION_TEXTS.get(kind)
    return describe(action, names) if describe else kind.replace("_", " ").capitalize()


def _route_pool(action: Mapping[str, Any], names: Mapping[str, str]) -> str:
    text = f"Route to pool {names.get(action['pool_id'], action['pool_id'])}"
    return text + (f" using {action['strategy']}" if action.get("strategy") else "")


def _route_account(action: Mapping[str, Any], names: Mapping[str, str]) -> str:
    return f"Route to account {names.get(action['account_id'], action['account_id'])}"


def _notify(action: Mapping[str, Any], names: Mapping[str, str]) -> str:
    to = ", ".join(action.get("recipients") or []) or "the company's webhook endpoints"
    return f"Notify by {action['channel']} ({to})"


_ACTION_TEXTS: dict[str, Callable[[Mapping[str, Any], Mapping[str, str]], str]] = {
    "route_to_pool": _route_pool,
    "route_to_account": _route_account,
    "block": lambda a, _: (
        f"Block: {a['reason']}" + (f" until {a['until']}" if a.get("until") else "")
    ),
    "surcharge": lambda a, _: _adjustment(a),
    "discount": lambda a, _: _adjustment(a),
    "require_3ds": lambda a, _: "Require 3-D Secure",
    "flag_for_review": lambda a, _: (
        f"Flag for review ({a.get('severity', 'medium')}): {a['reason']}"
    ),
    "add_metadata": lambda a, _: (
        "Add metadata " + ", ".join(f"{k}={v}" for k, v in a["metadata"].items())
    ),
    "send_notification": _notify,
}


# --- statuses ------------------------------------------------------------------------------------


def statuses(rule: RoutingRule, now: datetime) -> list[str]:
    """The badges of a rule: active or inactive, then default, scheduled or ended, A/B."""
    found = ["active" if rule.is_active else "inactive"]
    if rule.is_default:
        found.append("default")
    if rule.schedule:
        plan = Schedule.model_validate(rule.schedule)
        if plan.has_ended(now):
            found.append("ended")
        else:
            found.append("scheduled")
    if rule.ab_test:
        found.append("a/b")
    return found


# --- the builder's amounts: major units on screen, minor units stored --------------------------

MONEY_ACTION_FIELDS = ("flat", "cap")


def _to_major(amount: Any, currency: str) -> Any:
    return (
        str(Decimal(amount).scaleb(-currency_exponent(currency)))
        if isinstance(amount, int)
        else amount
    )


def _to_minor(amount: Any, currency: str, param: str) -> Any:
    if isinstance(amount, str):
        return forms.minor_units(amount, currency, param=param)
    return amount


def _walk_amounts(
    nodes: list[Any], convert: Callable[[Any, str, str], Any], path: str
) -> list[Any]:
    result = []
    for index, node in enumerate(nodes):
        here = f"{path}.{index}"
        if isinstance(node, dict) and node.get("type") == "group":
            children = _walk_amounts(node.get("children") or [], convert, f"{here}.children")
            node = {**node, "children": children}
        elif (
            isinstance(node, dict)
            and node.get("type") == "amount"
            and node.get("operator") != "in_tier"
        ):
            node = {**node, "value": _amount_value(node, convert, f"{here}.value")}
        result.append(node)
    return result


def _amount_value(node: dict[str, Any], convert: Callable[[Any, str, str], Any], param: str) -> Any:
    currency = str(node.get("currency") or "USD").upper()
    value = node.get("value")
    if isinstance(value, list):
        return [convert(item, currency, f"{param}.{index}") for index, item in enumerate(value)]
    return convert(value, currency, param)


def _actions_amounts(
    actions: list[Any], convert: Callable[[Any, str, str], Any], path: str
) -> list[Any]:
    result = []
    for index, action in enumerate(actions):
        if isinstance(action, dict):
            currency = str(action.get("currency") or "USD").upper()
            action = {
                **action,
                **{
                    name: convert(action[name], currency, f"{path}.{index}.{name}")
                    for name in MONEY_ACTION_FIELDS
                    if action.get(name) not in (None, "")
                },
            }
        result.append(action)
    return result


def _name_of(names: Sequence[str], value: Any) -> Any:
    return names[value] if isinstance(value, int) and 0 <= value < len(names) else value


def _named(nodes: list[Any]) -> list[Any]:
    """Weekdays and risk levels stored as indexes (the engine's normal form) shown and sent as
    the names the schema accepts; names stay names."""
    result = []
    for node in nodes:
        if node.get("type") == "group":
            node = {**node, "children": _named(node["children"])}
        elif node.get("field") in ("day_of_week", "risk_level"):
            names, value = _NAMED[node["field"]], node["value"]
            shown = [_name_of(names, v) for v in value] if isinstance(value, list) else None
            node = {**node, "value": shown if shown is not None else _name_of(names, value)}
        result.append(node)
    return result


def for_builder(definition: Mapping[str, Any]) -> dict[str, Any]:
    """A stored definition as the builder edits it: names for indexes, major-unit amounts."""
    edited = dict(definition)
    edited["conditions"] = _walk_amounts(
        _named(definition.get("conditions") or []), _major_of, "conditions"
    )
    edited["actions"] = _actions_amounts(definition.get("actions") or [], _major_of, "actions")
    ab_test = definition.get("ab_test")
    if ab_test:
        edited["ab_test"] = {
            **ab_test,
            "actions": _actions_amounts(ab_test["actions"], _major_of, "ab_test.actions"),
        }
    return edited


def _major_of(amount: Any, currency: str, param: str) -> Any:
    return _to_major(amount, currency)


def from_builder(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The builder's JSON with its major-unit amounts in minor units; a bad amount is a 400
    naming its path (`conditions.0.value.1`)."""
    stored = dict(payload)
    if isinstance(payload.get("conditions"), list):
        stored["conditions"] = _walk_amounts(payload["conditions"], _to_minor, "conditions")
    if isinstance(payload.get("actions"), list):
        stored["actions"] = _actions_amounts(payload["actions"], _to_minor, "actions")
    ab_test = payload.get("ab_test")
    if isinstance(ab_test, dict) and isinstance(ab_test.get("actions"), list):
        stored["ab_test"] = {
            **ab_test,
            "actions": _actions_amounts(ab_test["actions"], _to_minor, "ab_test.actions"),
        }
    return stored


# --- the builder's reference data ----------------------------------------------------------------

ACTION_FIELDS: dict[str, list[dict[str, Any]]] = {
    "route_to_pool": [
        {"name": "pool_id", "input": "pool", "label": "Pool"},
        {"name": "strategy", "input": "strategy", "label": "Strategy (default: the pool's)"},
    ],
    "route_to_account": [{"name": "account_id", "input": "account", "label": "Account"}],
    "block": [
        {"name": "reason", "input": "text", "label": "Reason"},
        {"name": "until", "input": "datetime", "label": "Until (UTC, empty: permanent)"},
    ],
    "surcharge": [
        {"name": "percent", "input": "decimal", "label": "Percent"},
        {"name": "flat", "input": "money", "label": "Flat amount"},
        {"name": "cap", "input": "money", "label": "At most"},
        {"name": "currency", "input": "currency", "label": "Currency of the amounts"},
    ],
    "discount": [
        {"name": "percent", "input": "decimal", "label": "Percent"},
        {"name": "flat", "input": "money", "label": "Flat amount"},
        {"name": "currency", "input": "currency", "label": "Currency of the amount"},
    ],
    "require_3ds": [{"name": "reason", "input": "text", "label": "Note (optional)"}],
    "flag_for_review": [
        {"name": "reason", "input": "text", "label": "Reason"},
        {
            "name": "severity",
            "input": "choice",
            "label": "Severity",
            "options": list(schema.RISK_LEVELS),
        },
        {"name": "hold_funds", "input": "bool", "label": "Hold funds (authorize only)"},
    ],
    "add_metadata": [
        {"name": "metadata", "input": "pairs", "label": "Metadata (key=value, one a line)"}
    ],
    "send_notification": [
        {"name": "channel", "input": "choice", "label": "Channel", "options": ["webhook", "email"]},
        {"name": "recipients", "input": "list", "label": "Recipients (emails, comma-separated)"},
        {"name": "subject", "input": "text", "label": "Subject"},
        {"name": "message", "input": "textarea", "label": "Message"},
    ],
}


def builder_reference(
    pools: list[tuple[str, str]], accounts: list[tuple[str, str]]
) -> dict[str, Any]:
    """Everything the builder's pickers offer, as JSON for the page."""
    return {
        "types": TYPE_LABELS,
        "catalog": condition_catalog(),
        "operators": OPERATOR_WORDS,
        "countries": COUNTRIES,
        "currencies": CURRENCIES,
        "tiers": list(schema.TIERS),
        "actions": {kind: ACTION_FIELDS[kind] for kind in ACTIONS},
        "pools": pools,
        "accounts": accounts,
        "strategies": [strategy.value for strategy in PoolStrategy],
        "weekdays": list(schema.WEEKDAYS),
        "placeholders": list(PLACEHOLDERS),
    }

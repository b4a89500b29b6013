"""What the routing rule pages show and send: rules in words, their status badges, the rule
builder's reference data, and the builder's amounts (typed in major units) converted both ways.

Nothing here decides whether a rule is valid or matches: the rules service and the tester do.
The field and action lists, labels and inputs come from the condition and action registries, so
a new condition or action appears here with nothing to add.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import pycountry

from avnz.core.money import currency_exponent
from avnz.routing.strategies import STRATEGIES
from avnz.rules.actions import InvalidActions, action_types, parse_actions
from avnz.rules.actions.base import Action, ActionInput
from avnz.rules.actions.send_notification import PLACEHOLDERS
from avnz.rules.conditions import condition_types
from avnz.rules.conditions.amount import TIERS
from avnz.rules.conditions.base import FieldSpec
from avnz.rules.conditions.payment_method import CARD_BRANDS
from avnz.rules.conditions.time import WEEKDAYS
from avnz.rules.models import RoutingRule
from avnz.rules.schedule import Schedule
from avnz.web import forms

# --- conditions: the input each field needs ----------------------------------------------------

COUNTRIES = sorted(((c.alpha_2, c.name) for c in pycountry.countries), key=lambda c: c[1])
CURRENCIES = sorted(c.alpha_3 for c in pycountry.currencies)
BRANDS = CARD_BRANDS


def field_spec(leaf: Mapping[str, Any]) -> FieldSpec | None:
    """The declaration of a stored leaf's field (None for a type or field no longer known)."""
    condition = condition_types().get(str(leaf.get("type")))
    if condition is None:
        return None
    return next((spec for spec in condition.FIELDS if spec.name == leaf.get("field")), None)


def condition_catalog() -> dict[str, Any]:
    """Per leaf type, per field: its label, input and operators (the order the builder offers)."""
    return {
        name: {
            spec.name: {
                "label": spec.title,
                "input": spec.input,
                "operators": sorted(spec.operators, key=OPERATOR_ORDER.index),
                "options": list(spec.choices),
                "params": list(spec.params),
            }
            for spec in condition.FIELDS
        }
        for name, condition in condition_types().items()
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

# --- conditions in words -----------------------------------------------------------------------


def _country_name(code: str) -> str:
    country = pycountry.countries.get(alpha_2=str(code))
    return country.name if country else str(code)


def _major(amount: int, currency: str) -> str:
    return f"{Decimal(amount).scaleb(-currency_exponent(currency))} {currency}"


def _one(leaf: Mapping[str, Any], spec: FieldSpec | None, value: Any) -> str:
    kind = spec.input if spec else "text"
    if kind == "country":
        return _country_name(value)
    if kind == "amount" and isinstance(value, int):
        return _major(value, leaf.get("currency") or "USD")
    if kind == "choice" and isinstance(value, int) and spec is not None:
        return spec.choices[value]  # ordered choices are stored as their index
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def leaf_words(leaf: Mapping[str, Any]) -> str:
    """One condition as a sentence: "Card brand is visa", "Amount is between 10.00 USD and …"."""
    operator, value, spec = leaf["operator"], leaf["value"], field_spec(leaf)
    label = spec.title if spec else str(leaf["field"])
    if operator == "is":
        return f"{label}: {'yes' if value else 'no'}"
    if operator == "between":
        shown = f"{_one(leaf, spec, value[0])} and {_one(leaf, spec, value[1])}"
    elif isinstance(value, list | tuple):
        shown = ", ".join(_one(leaf, spec, item) for item in value)
    else:
        shown = _one(leaf, spec, value)
    return f"{label} {OPERATOR_WORDS[operator]} {shown}"


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


def action_words(action: Mapping[str, Any], names: Mapping[str, str]) -> str:
    """One stored action as a sentence (the action's own `describe`); `names` gives the pools'
    and accounts' names by id."""
    try:
        [parsed] = parse_actions([action])
    except InvalidActions:
        return str(action.get("type", "")).replace("_", " ").capitalize()
    return parsed.describe(dict(names))


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
        elif isinstance(node, dict) and _is_amount(node) and node.get("operator") != "in_tier":
            node = {**node, "value": _amount_value(node, convert, f"{here}.value")}
        result.append(node)
    return result


def _is_amount(leaf: Mapping[str, Any]) -> bool:
    spec = field_spec(leaf)
    return spec is not None and spec.input == "amount"


def _money_fields(action: Mapping[str, Any]) -> tuple[str, ...]:
    declared = action_types().get(str(action.get("type")))
    return declared.MONEY if declared else ()


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
                    for name in _money_fields(action)
                    if action.get(name) not in (None, "")
                },
            }
        result.append(action)
    return result


def _name_of(names: Sequence[str], value: Any) -> Any:
    return names[value] if isinstance(value, int) and 0 <= value < len(names) else value


def _named(nodes: list[Any]) -> list[Any]:
    """Ordered choices (weekdays, risk levels) stored as indexes (the engine's normal form) shown
    and sent as the names the schema accepts; names stay names."""
    result = []
    for node in nodes:
        spec = field_spec(node)
        if node.get("type") == "group":
            node = {**node, "children": _named(node["children"])}
        elif spec is not None and spec.input == "choice":
            names, value = spec.choices, node["value"]
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


def _input(action: type[Action], declared: ActionInput) -> dict[str, Any]:
    field = action.model_fields[declared.name]
    default = None if field.is_required() else field.get_default(call_default_factory=True)
    return {**asdict(declared), "options": list(declared.options), "default": default}


def action_catalog() -> dict[str, list[dict[str, Any]]]:
    """Per action: the builder's inputs for its parameters, with the parameters' defaults."""
    return {
        name: [_input(action, each) for each in action.INPUTS]
        for name, action in action_types().items()
    }


def builder_reference(
    pools: list[tuple[str, str]], accounts: list[tuple[str, str]]
) -> dict[str, Any]:
    """Everything the builder's pickers offer, as JSON for the page."""
    return {
        "types": {name: condition.LABEL for name, condition in condition_types().items()},
        "catalog": condition_catalog(),
        "operators": OPERATOR_WORDS,
        "countries": COUNTRIES,
        "currencies": CURRENCIES,
        "tiers": list(TIERS),
        "actions": action_catalog(),
        "action_labels": {name: action.LABEL for name, action in action_types().items()},
        "pools": pools,
        "accounts": accounts,
        "strategies": list(STRATEGIES),
        "weekdays": list(WEEKDAYS),
        "placeholders": list(PLACEHOLDERS),
    }

"""The condition tree of a routing rule, validated by Pydantic discriminated unions.

A rule's `conditions` is a list of nodes combined with AND (an empty list matches everything).
A node is a group `{"type": "group", "logic": "AND"|"OR", "children": [...]}` or a leaf
`{"type", "field", "operator", "value"}`; each leaf type has its own fields, operators and
value shapes (`SPECS`). Values are normalised on the way in (country codes upper case, lists to
tuples, weekdays to 0-6, dates parsed), so evaluators never re-check them.
"""

from collections.abc import Callable, Sequence
from datetime import date
from typing import Annotated, Any, ClassVar, Literal

import holidays
import pycountry
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from avnz.core.cards import Brand
from avnz.core.money import currency_exponent

MAX_DEPTH = 5  # groups nested deeper than this are refused
MAX_LIST = 1000  # values in an `in` list

REGIONS = ("NA", "EU", "APAC", "LATAM", "MEA")
CONTINENTS = ("AF", "AN", "AS", "EU", "NA", "OC", "SA")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
RISK_LEVELS = ("low", "medium", "high", "critical")  # in increasing order
CARD_TYPES = ("credit", "debit", "prepaid", "unknown")
INTERVALS = ("day", "week", "month", "year")
# Amount tiers in major units of the leaf's currency, half-open [low, high).
TIERS: dict[str, tuple[int, int | None]] = {
    "micro": (0, 5),
    "small": (5, 50),
    "medium": (50, 500),
    "large": (500, 5000),
    "enterprise": (5000, None),
}

EQ = frozenset({"equals", "not_equals", "in", "not_in"})
NUM = frozenset({"equals", "not_equals", "gt", "gte", "lt", "lte", "between"})
IS = frozenset({"is"})

Operator = Literal[
    "equals",
    "not_equals",
    "in",
    "not_in",
    "all",
    "gt",
    "gte",
    "lt",
    "lte",
    "between",
    "in_tier",
    "is",
]


def _country(value: Any) -> str:
    if not isinstance(value, str) or len(value) != 2:
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code")
    code = value.upper()
    if pycountry.countries.get(alpha_2=code) is None:
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code")
    return code


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise ValueError("must be a non-empty string of at most 200 characters")
    return value.strip()


def _lower(value: Any) -> str:
    return _text(value).lower()


def _upper(value: Any) -> str:
    return _text(value).upper()


def _choice(choices: Sequence[str], fold: Callable[[str], str]) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if not isinstance(value, str) or fold(value) not in choices:
            raise ValueError(f"{value!r} is not one of {', '.join(choices)}")
        return fold(value)

    return check


def _currency(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not an ISO 4217 currency code")
    currency_exponent(value.upper())
    return value.upper()


def _int(low: int, high: int | None = None) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{value!r} is not an integer")
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise ValueError(f"{value} must be {bound}")
        return value

    return check


def _rate(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{value!r} is not a number")
    if not 0 <= value <= 1:
        raise ValueError(f"{value} must be between 0 and 1")
    return float(value)


def _weekday(value: Any) -> int:
    if not isinstance(value, str) or value.lower() not in WEEKDAYS:
        raise ValueError(f"{value!r} is not one of {', '.join(WEEKDAYS)}")
    return WEEKDAYS.index(value.lower())


def _risk(value: Any) -> int:
    if not isinstance(value, str) or value.lower() not in RISK_LEVELS:
        raise ValueError(f"{value!r} is not one of {', '.join(RISK_LEVELS)}")
    return RISK_LEVELS.index(value.lower())


def _date(value: Any) -> date:
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not an ISO date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO date (YYYY-MM-DD)") from None


def _bin(value: Any) -> str:
    if not isinstance(value, str) or not value.isdigit() or not 6 <= len(value) <= 8:
        raise ValueError(f"{value!r} is not a BIN of 6 to 8 digits")
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{value!r} is not true or false")
    return value


_BRAND = _choice(tuple(b.value for b in Brand), str.lower)

# Per leaf type, per field: the operators allowed and the check that normalises one value.
Spec = tuple[frozenset[str], Callable[[Any], Any]]
SPECS: dict[str, dict[str, Spec]] = {
    "geography": {
        "country": (EQ, _country),
        "state": (EQ, _upper),
        "region": (EQ, _choice(REGIONS, str.upper)),
        "continent": (EQ, _choice(CONTINENTS, str.upper)),
        "currency": (EQ, _currency),
        "is_domestic": (IS, _bool),
        "is_eu": (IS, _bool),
        "is_eea": (IS, _bool),
        "is_sanctioned_country": (IS, _bool),
        "is_high_risk_country": (IS, _bool),
    },
    "amount": {"amount": (NUM | {"in_tier"}, _int(0))},
    "time": {
        "hour_of_day": (EQ | {"between"}, _int(0, 23)),
        "day_of_week": (EQ, _weekday),
        "is_weekend": (IS, _bool),
        "is_business_hours": (IS, _bool),
        "is_holiday": (IS, _bool),
        "date_range": (frozenset({"between"}), _date),
    },
    "customer": {
        "type": (EQ, _lower),
        "account_age": (NUM, _int(0)),
        "lifetime_value": (NUM, _int(0)),
        "risk_level": (EQ | {"gte", "lte"}, _risk),
        "chargeback_rate": (NUM, _rate),
        "in_segment": (frozenset({"in", "not_in", "all"}), _text),
    },
    "product": {
        "sku": (EQ, _text),
        "category": (EQ, _lower),
        "is_subscription": (IS, _bool),
        "subscription_interval": (EQ, _choice(INTERVALS, str.lower)),
        "is_renewal": (IS, _bool),
        "is_trial": (IS, _bool),
    },
    "payment_method": {
        "card_brand": (EQ, _BRAND),
        "card_type": (EQ, _choice(CARD_TYPES, str.lower)),
        "bin_range": (frozenset({"between"}), _bin),
        "issuing_country": (EQ, _country),
        "is_tokenized": (IS, _bool),
        "is_3ds_enrolled": (IS, _bool),
        "is_digital_wallet": (IS, _bool),
    },
}

# `between` bounds that may run backwards: hours across midnight (22 to 2).
_WRAPPING = frozenset({"hour_of_day"})


def check_value(kind: str, field: str, operator: str, value: Any) -> Any:
    """The normalised value of a leaf, or ValueError naming what is wrong with it."""
    _, one = SPECS[kind][field]
    if operator in ("in", "not_in", "all"):
        if not isinstance(value, list | tuple) or not value:
            raise ValueError(f"`{operator}` needs a non-empty list")
        if len(value) > MAX_LIST:
            raise ValueError(f"`{operator}` takes at most {MAX_LIST} values")
        return tuple(one(item) for item in value)
    if operator == "between":
        if not isinstance(value, list | tuple) or len(value) != 2:
            raise ValueError("`between` needs [min, max]")
        low, high = one(value[0]), one(value[1])
        if field == "bin_range" and len(low) != len(high):
            raise ValueError("both ends of a BIN range need the same number of digits")
        if low > high and field not in _WRAPPING:
            raise ValueError("`between` needs min <= max")
        return (low, high)
    if operator == "in_tier":
        if value not in TIERS:
            raise ValueError(f"{value!r} is not one of {', '.join(TIERS)}")
        return value
    return one(value)


class _Leaf(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    KIND: ClassVar[str]

    @field_validator("operator", check_fields=False)
    @classmethod
    def _operator_fits_field(cls, operator: str, info: ValidationInfo) -> str:
        field = info.data.get("field")
        if field is None:
            return operator
        allowed = SPECS[cls.KIND][field][0]
        if operator not in allowed:
            raise ValueError(f"`{field}` takes {', '.join(sorted(allowed))}, not {operator!r}")
        return operator

    @field_validator("value", check_fields=False)
    @classmethod
    def _value_fits(cls, value: Any, info: ValidationInfo) -> Any:
        field, operator = info.data.get("field"), info.data.get("operator")
        if field is None or operator is None:
            return value
        return check_value(cls.KIND, field, operator, value)


class GeographyCondition(_Leaf):
    KIND: ClassVar[str] = "geography"
    type: Literal["geography"]
    field: Literal[
        "country",
        "state",
        "region",
        "continent",
        "currency",
        "is_domestic",
        "is_eu",
        "is_eea",
        "is_sanctioned_country",
        "is_high_risk_country",
    ]
    operator: Operator
    value: Any


class AmountCondition(_Leaf):
    """Amounts in minor units of `currency`; other currencies convert at the indicative rate."""

    KIND: ClassVar[str] = "amount"
    type: Literal["amount"]
    field: Literal["amount"]
    currency: str = "USD"
    operator: Operator
    value: Any

    @field_validator("currency")
    @classmethod
    def _currency_code(cls, currency: str) -> str:
        return _currency(currency)


class TimeCondition(_Leaf):
    """Evaluated in the company's timezone; `country` picks the holiday calendar (default: home)."""

    KIND: ClassVar[str] = "time"
    type: Literal["time"]
    field: Literal[
        "hour_of_day", "day_of_week", "is_weekend", "is_business_hours", "is_holiday", "date_range"
    ]
    country: str | None = None
    operator: Operator
    value: Any

    @field_validator("country")
    @classmethod
    def _holiday_country(cls, country: str | None) -> str | None:
        if country is None:
            return None
        code = _country(country)
        if code not in holidays.list_supported_countries():
            raise ValueError(f"no holiday calendar for {code}")
        return code


class CustomerCondition(_Leaf):
    KIND: ClassVar[str] = "customer"
    type: Literal["customer"]
    field: Literal[
        "type", "account_age", "lifetime_value", "risk_level", "chargeback_rate", "in_segment"
    ]
    operator: Operator
    value: Any


class ProductCondition(_Leaf):
    KIND: ClassVar[str] = "product"
    type: Literal["product"]
    field: Literal[
        "sku", "category", "is_subscription", "subscription_interval", "is_renewal", "is_trial"
    ]
    operator: Operator
    value: Any


class PaymentMethodCondition(_Leaf):
    KIND: ClassVar[str] = "payment_method"
    type: Literal["payment_method"]
    field: Literal[
        "card_brand",
        "card_type",
        "bin_range",
        "issuing_country",
        "is_tokenized",
        "is_3ds_enrolled",
        "is_digital_wallet",
    ]
    operator: Operator
    value: Any


Leaf = (
    GeographyCondition
    | AmountCondition
    | TimeCondition
    | CustomerCondition
    | ProductCondition
    | PaymentMethodCondition
)


class Group(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["group"]
    logic: Literal["AND", "OR"]
    children: list["Node"] = Field(min_length=1, max_length=100)


Node = Annotated[
    Group
    | GeographyCondition
    | AmountCondition
    | TimeCondition
    | CustomerCondition
    | ProductCondition
    | PaymentMethodCondition,
    Field(discriminator="type"),
]
Group.model_rebuild()


class RuleConditions(BaseModel):
    """What a rule stores: its condition nodes, combined with AND."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    conditions: list[Node] = Field(default_factory=list, max_length=100)


TAGS = frozenset({"group", *SPECS})


class InvalidConditions(ValueError):
    """A condition tree that does not validate; `errors` are (path, message) pairs."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{path}: {message}" for path, message in errors))
        self.errors = errors


def error_paths(
    exc: ValidationError, *, tags: frozenset[str] = TAGS, root: str | None = None
) -> list[tuple[str, str]]:
    """(dotted path, message) for each error, under `root` if given, without the union tags
    Pydantic puts in `loc` (a tag follows the index of the list item whose type it names)."""
    pairs = []
    for error in exc.errors():
        loc = [root] if root else []
        previous: object = None
        for part in error["loc"]:
            if not (isinstance(previous, int) and isinstance(part, str) and part in tags):
                loc.append(str(part))
            previous = part
        message = str(error["msg"]).removeprefix("Value error, ")
        pairs.append((".".join(loc), message))
    return pairs


def _too_deep(nodes: Sequence[Node], path: str, depth: int) -> list[tuple[str, str]]:
    found = []
    for index, node in enumerate(nodes):
        if isinstance(node, Group):
            here = f"{path}.{index}"
            if depth + 1 > MAX_DEPTH:
                found.append((here, f"groups may be nested at most {MAX_DEPTH} deep"))
            else:
                found.extend(_too_deep(node.children, f"{here}.children", depth + 1))
    return found


def parse_conditions(data: Any) -> list[Node]:
    """The validated condition nodes of `{"conditions": [...]}`, or InvalidConditions."""
    try:
        parsed = RuleConditions.model_validate(data)
    except ValidationError as exc:
        raise InvalidConditions(error_paths(exc)) from None
    deep = _too_deep(parsed.conditions, "conditions", 0)
    if deep:
        raise InvalidConditions(deep)
    return parsed.conditions

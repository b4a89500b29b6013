"""Property: the compiled predicate (short-circuiting) equals the tester's explanation (every node
evaluated) for random valid trees."""

from datetime import UTC, datetime, time
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from avnz.rules.compiler import compile_conditions, explain
from avnz.rules.conditions import InvalidConditions, condition_types, parse_conditions
from avnz.rules.conditions.amount import TIERS
from avnz.rules.conditions.customer import RISK_LEVELS
from avnz.rules.conditions.geography import CONTINENTS, REGIONS
from avnz.rules.conditions.payment_method import CARD_BRANDS, CARD_TYPES
from avnz.rules.conditions.product import INTERVALS
from avnz.rules.conditions.time import WEEKDAYS
from avnz.rules.context import BusinessHours, Customer, Product, RuleContext
from tests.rules.factories import fields_of, operators_of

COUNTRIES = ["US", "CA", "MX", "DE", "FR", "NO", "CH", "GB", "IR", "KP", "VN", "JP", "CY", "BR"]
CURRENCIES = ["USD", "EUR", "JPY", "GBP", "KWD", "ISK"]
BINS = ["222100", "272099", "272100", "411111", "51000012", "22210099", "3782", "601100"]
SEGMENTS = ["loyal", "eu", "wholesale"]

countries = st.sampled_from(COUNTRIES)
VALUES: dict[str, st.SearchStrategy[Any]] = {
    "country": countries,
    "state": st.sampled_from(["CA", "NY", "TX"]),
    "region": st.sampled_from(REGIONS),
    "continent": st.sampled_from(CONTINENTS),
    "currency": st.sampled_from(CURRENCIES),
    "amount": st.integers(0, 30000),
    "hour_of_day": st.integers(0, 23),
    "day_of_week": st.sampled_from(WEEKDAYS),
    "date_range": st.dates(datetime(2025, 6, 1).date(), datetime(2027, 6, 1).date()).map(str),
    "type": st.sampled_from(["new", "returning", "vip"]),
    "account_age": st.integers(0, 400),
    "lifetime_value": st.integers(0, 100000),
    "risk_level": st.sampled_from(RISK_LEVELS),
    "chargeback_rate": st.sampled_from([0.0, 0.005, 0.01, 0.02, 0.5, 1.0]),
    "in_segment": st.sampled_from(SEGMENTS),
    "sku": st.sampled_from(["S1", "S2", "S3"]),
    "category": st.sampled_from(["food", "beauty"]),
    "subscription_interval": st.sampled_from(INTERVALS),
    "card_brand": st.sampled_from(CARD_BRANDS),
    "card_type": st.sampled_from(CARD_TYPES),
    "bin_range": st.sampled_from(["222100", "272099", "400000", "499999", "510000", "559999"]),
    "issuing_country": countries,
}


@st.composite
def leaves(draw: st.DrawFn, kind: str | None = None, field: str | None = None) -> dict[str, Any]:
    kind = kind or draw(st.sampled_from(sorted(condition_types())))
    field = field or draw(st.sampled_from(sorted(fields_of(kind))))
    operator = draw(st.sampled_from(sorted(operators_of(kind, field))))
    node: dict[str, Any] = {"type": kind, "field": field, "operator": operator}
    one = VALUES.get(field, st.booleans())
    if operator == "is":
        node["value"] = draw(st.booleans())
    elif operator in ("in", "not_in", "all"):
        node["value"] = draw(st.lists(one, min_size=1, max_size=3))
    elif operator == "between":
        pair = [draw(one), draw(one)]
        node["value"] = pair if field == "hour_of_day" else sorted(pair)
    elif operator == "in_tier":
        node["value"] = draw(st.sampled_from(sorted(TIERS)))
    else:
        node["value"] = draw(one)
    if kind == "amount":
        node["currency"] = draw(st.sampled_from(CURRENCIES))
    if field == "is_holiday":
        node["country"] = draw(st.none() | st.sampled_from(["US", "DE", "GB", "JP"]))
    return node


def groups(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda logic, kids: {"type": "group", "logic": logic, "children": kids},
        st.sampled_from(["AND", "OR"]),
        st.lists(children, min_size=1, max_size=4),
    )


trees = st.lists(st.recursive(leaves(), groups, max_leaves=10), max_size=3)

HOURS = [BusinessHours(), BusinessHours(start=time(22), end=time(6), days=frozenset(range(7)))]
contexts = st.builds(
    RuleContext,
    amount=st.integers(0, 30000),
    currency=st.sampled_from(CURRENCIES),
    moment=st.datetimes(datetime(2025, 6, 1), datetime(2027, 6, 1), timezones=st.just(UTC)),
    country=st.none() | countries,
    state=st.none() | VALUES["state"],
    card_brand=st.none() | st.sampled_from(CARD_BRANDS),
    card_type=st.none() | VALUES["card_type"],
    bin=st.none() | st.sampled_from(BINS),
    issuing_country=st.none() | countries,
    is_tokenized=st.booleans(),
    is_3ds_enrolled=st.booleans(),
    is_digital_wallet=st.booleans(),
    customer=st.builds(
        Customer,
        type=st.none() | VALUES["type"],
        account_age_days=st.none() | VALUES["account_age"],
        lifetime_value=st.none() | VALUES["lifetime_value"],
        risk_level=st.none() | VALUES["risk_level"],
        chargeback_rate=st.none() | VALUES["chargeback_rate"],
        segments=st.frozensets(st.sampled_from(SEGMENTS)),
    ),
    product=st.builds(
        Product,
        sku=st.none() | VALUES["sku"],
        category=st.none() | VALUES["category"],
        is_subscription=st.booleans(),
        interval=st.none() | VALUES["subscription_interval"],
        is_renewal=st.booleans(),
        is_trial=st.booleans(),
    ),
    timezone=st.sampled_from(["UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata"]),
    home_country=st.sampled_from(["US", "DE", "GB"]),
    business_hours=st.sampled_from(HOURS),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=trees, ctxs=st.lists(contexts, min_size=1, max_size=5))
def test_compiled_equals_explained(tree: list[dict[str, Any]], ctxs: list[RuleContext]) -> None:
    try:
        nodes = parse_conditions({"conditions": tree})
    except InvalidConditions as exc:  # only nesting beyond MAX_DEPTH is possible here
        assert all("nested" in message for _, message in exc.errors)
        assume(False)
        raise
    predicate = compile_conditions(nodes)
    for ctx in ctxs:
        assert predicate(ctx) is explain(nodes, ctx)[0]


FIELDS = [(name, spec.name) for name, kind in condition_types().items() for spec in kind.FIELDS]


@pytest.mark.parametrize(("kind", "field"), FIELDS)
@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_every_field_agrees_with_its_explanation(
    kind: str, field: str, data: st.DataObject
) -> None:
    nodes = parse_conditions({"conditions": [data.draw(leaves(kind, field))]})
    predicate = compile_conditions(nodes)
    for ctx in data.draw(st.lists(contexts, min_size=1, max_size=5)):
        assert predicate(ctx) is explain(nodes, ctx)[0]

from typing import Any

import pytest

from avnz.rules.conditions import MAX_DEPTH, InvalidConditions, parse_conditions
from avnz.rules.conditions.geography import GeographyCondition
from tests.rules.factories import group, leaf


def errors(*items: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(InvalidConditions) as caught:
        parse_conditions({"conditions": list(items)})
    return caught.value.errors


def paths(*items: dict[str, Any]) -> list[str]:
    return [path for path, _ in errors(*items)]


def test_nested_bad_value_names_its_path() -> None:
    found = errors(
        leaf("amount", "amount", "gt", 100),
        group("OR", leaf("amount", "amount", "between", [500, 100])),
    )
    assert found == [("conditions.1.children.0.value", "`between` needs min <= max")]


def test_error_paths_strip_union_tags() -> None:
    [(path, message)] = errors(group("AND", leaf("geography", "country", "equals", "XX")))
    assert path == "conditions.0.children.0.value"
    assert "alpha-2" in message
    assert not message.startswith("Value error")


@pytest.mark.parametrize(
    ("item", "path"),
    [
        ({"type": "weather"}, "conditions.0"),
        (leaf("geography", "planet", "equals", "X"), "conditions.0.field"),
        (leaf("geography", "country", "gt", "DE"), "conditions.0.operator"),
        (leaf("geography", "country", "in", []), "conditions.0.value"),
        (leaf("geography", "country", "in", ["DE", "ZZ"]), "conditions.0.value"),
        (leaf("geography", "region", "equals", "EMEA"), "conditions.0.value"),
        (leaf("geography", "currency", "equals", "XYZ"), "conditions.0.value"),
        (leaf("geography", "is_eu", "is", "yes"), "conditions.0.value"),
        (leaf("amount", "amount", "between", [1]), "conditions.0.value"),
        (leaf("amount", "amount", "gt", -1), "conditions.0.value"),
        (leaf("amount", "amount", "gt", True), "conditions.0.value"),
        (leaf("amount", "amount", "in_tier", "huge"), "conditions.0.value"),
        (leaf("amount", "amount", "in_tier", [{}, {}]), "conditions.0.value"),  # was a 500
        (leaf("amount", "amount", "gt", 1, currency="ABC"), "conditions.0.currency"),
        (leaf("time", "hour_of_day", "equals", 24), "conditions.0.value"),
        (leaf("time", "day_of_week", "in", ["mon", "funday"]), "conditions.0.value"),
        (leaf("time", "date_range", "between", ["2026-12-31", "2026-01-01"]), "conditions.0.value"),
        (leaf("time", "date_range", "between", ["2026-13-01", "2026-12-31"]), "conditions.0.value"),
        (leaf("time", "is_holiday", "is", True, country="ZZ"), "conditions.0.country"),
        (leaf("customer", "risk_level", "equals", "extreme"), "conditions.0.value"),
        (leaf("customer", "chargeback_rate", "gt", 1.5), "conditions.0.value"),
        (leaf("customer", "in_segment", "equals", "vip"), "conditions.0.operator"),
        (leaf("product", "subscription_interval", "equals", "fortnight"), "conditions.0.value"),
        (leaf("payment_method", "card_brand", "equals", "visaa"), "conditions.0.value"),
        (leaf("payment_method", "bin_range", "between", ["2221", "2720"]), "conditions.0.value"),
        (
            leaf("payment_method", "bin_range", "between", ["222100", "2720999"]),
            "conditions.0.value",
        ),
        ({**leaf("product", "sku", "equals", "A"), "extra": 1}, "conditions.0.extra"),
        (group("XOR", leaf("product", "sku", "equals", "A")), "conditions.0.logic"),
        (group("AND"), "conditions.0.children"),
    ],
)
def test_invalid_leaf_is_refused_at_its_path(item: dict[str, Any], path: str) -> None:
    assert path in paths(item)


def test_depth_is_bounded() -> None:
    inner: dict[str, Any] = leaf("product", "is_trial", "is", True)
    for _ in range(MAX_DEPTH):
        inner = group("AND", inner)
    parse_conditions({"conditions": [inner]})
    found = errors(group("OR", inner))
    assert found[0][0] == "conditions.0" + ".children.0" * MAX_DEPTH
    assert "nested" in found[0][1]


def test_values_are_normalised() -> None:
    [country, weekday, brand] = parse_conditions(
        {
            "conditions": [
                leaf("geography", "country", "in", ["de", "Fr"]),
                leaf("time", "day_of_week", "equals", "Sat"),
                leaf("payment_method", "card_brand", "equals", "MasterCard"),
            ]
        }
    )
    assert isinstance(country, GeographyCondition)
    assert country.value == ("DE", "FR")
    assert weekday.value == 5  # type: ignore[union-attr]
    assert brand.value == "mastercard"  # type: ignore[union-attr]


def test_hours_may_wrap_midnight_and_empty_conditions_are_valid() -> None:
    parse_conditions({"conditions": [leaf("time", "hour_of_day", "between", [22, 2])]})
    assert parse_conditions({"conditions": []}) == []
    assert parse_conditions({}) == []

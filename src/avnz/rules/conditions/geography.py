"""Geography conditions: the customer's country, state, region, continent, currency, lists.

`is_sanctioned_country` and `is_high_risk_country` look at the customer's country and at the
card's issuing country: either on the list is a match. The others look at the customer's country.
"""

from operator import attrgetter
from typing import Any

from avnz.rules import reference
from avnz.rules.conditions.base import Getter, Predicate, from_getter, plain
from avnz.rules.context import RuleContext
from avnz.rules.schema import GeographyCondition


def _listed(members: frozenset[str], context: RuleContext) -> bool | None:
    codes = [code for code in (context.country, context.issuing_country) if code is not None]
    if not codes:
        return None
    return any(code in members for code in codes)


def _getter(field: str) -> Getter:
    if field in ("country", "state", "currency"):
        return attrgetter(field)
    if field == "region":
        return lambda c: reference.region(c.country) if c.country else None
    if field == "continent":
        return lambda c: reference.continent(c.country) if c.country else None
    if field == "is_domestic":
        return lambda c: c.country == c.home_country if c.country else None
    if field == "is_eu":
        eu = reference.eu()
        return lambda c: c.country in eu if c.country else None
    if field == "is_eea":
        eea = reference.eea()
        return lambda c: c.country in eea if c.country else None
    if field == "is_sanctioned_country":
        sanctioned = reference.sanctioned()
        return lambda c: _listed(sanctioned, c)
    if field == "is_high_risk_country":
        high_risk = reference.high_risk()
        return lambda c: _listed(high_risk, c)
    raise ValueError(f"unknown geography field {field!r}")


def compile(leaf: GeographyCondition) -> Predicate:
    """The leaf as a predicate, built once."""
    return from_getter(_getter(leaf.field), leaf.operator, leaf.value)


def extract(leaf: GeographyCondition, context: RuleContext) -> Any:
    """The value the leaf looks at, computed from scratch."""
    country = context.country
    if leaf.field in ("country", "state", "currency"):
        return getattr(context, leaf.field)
    if leaf.field == "is_sanctioned_country":
        return _listed(reference.sanctioned(), context)
    if leaf.field == "is_high_risk_country":
        return _listed(reference.high_risk(), context)
    if country is None:
        return None
    if leaf.field == "region":
        return reference.region(country)
    if leaf.field == "continent":
        return reference.continent(country)
    if leaf.field == "is_domestic":
        return country == context.home_country
    if leaf.field == "is_eu":
        return country in reference.eu()
    return country in reference.eea()


def evaluate(leaf: GeographyCondition, context: RuleContext) -> bool:
    """The leaf's result for one context, without compiling."""
    return plain(extract(leaf, context), leaf.operator, leaf.value)

"""The condition evaluators, one module per leaf type, and the registry that finds them."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from avnz.rules.conditions import amount, customer, geography, payment_method, product, time
from avnz.rules.conditions.base import Predicate
from avnz.rules.context import RuleContext


@dataclass(frozen=True, slots=True)
class Evaluator:
    compile: Callable[[Any], Predicate]  # leaf -> predicate, built once
    evaluate: Callable[[Any, RuleContext], bool]  # leaf, context -> result, from scratch


REGISTRY: dict[str, Evaluator] = {
    "geography": Evaluator(geography.compile, geography.evaluate),
    "amount": Evaluator(amount.compile, amount.evaluate),
    "time": Evaluator(time.compile, time.evaluate),
    "customer": Evaluator(customer.compile, customer.evaluate),
    "product": Evaluator(product.compile, product.evaluate),
    "payment_method": Evaluator(payment_method.compile, payment_method.evaluate),
}

"""The actions of a routing rule: one module per action type, one registry, parse and run.

A rule's `actions` is a list of 1 to 20 objects discriminated on `type`. `run_actions` applies
them in order to a fresh `Directive`, which the payment flow then follows.

Contradictions are allowed and the later action wins: of two routes (pool or account) the last
one counts, a later flag replaces an earlier review, later metadata keys overwrite earlier ones.
Amounts add up: surcharges and discounts accumulate, each percent taken of the transaction's own
amount, so their order does not change the total. Whether a block overrides a route is the
payment flow's call: the directive records both.

An action that fails while running (a flat fee in a currency without a rate) is logged and
listed in `Directive.failures`; the others still run, so a broken action never loses a payment.
"""

from collections.abc import Callable, Sequence
from typing import Annotated, Any

import structlog
from pydantic import Field, TypeAdapter, ValidationError

from avnz.rules.actions import (
    add_metadata,
    block,
    discount,
    flag_for_review,
    require_3ds,
    route_to_account,
    route_to_pool,
    send_notification,
    surcharge,
)
from avnz.rules.actions.base import Directive
from avnz.rules.context import RuleContext
from avnz.rules.schema import error_paths

log = structlog.get_logger(__name__)

MAX_ACTIONS = 20

Action = Annotated[
    route_to_pool.RouteToPool
    | route_to_account.RouteToAccount
    | block.Block
    | surcharge.Surcharge
    | discount.Discount
    | require_3ds.Require3DS
    | flag_for_review.FlagForReview
    | add_metadata.AddMetadata
    | send_notification.SendNotification,
    Field(discriminator="type"),
]

ACTIONS: dict[str, Callable[[Any, Directive, RuleContext], None]] = {
    "route_to_pool": route_to_pool.apply,
    "route_to_account": route_to_account.apply,
    "block": block.apply,
    "surcharge": surcharge.apply,
    "discount": discount.apply,
    "require_3ds": require_3ds.apply,
    "flag_for_review": flag_for_review.apply,
    "add_metadata": add_metadata.apply,
    "send_notification": send_notification.apply,
}

_LIST = TypeAdapter(Annotated[list[Action], Field(min_length=1, max_length=MAX_ACTIONS)])


class InvalidActions(ValueError):
    """An action list that does not validate; `errors` are (path, message) pairs."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{path}: {message}" for path, message in errors))
        self.errors = errors


def parse_actions(data: Any, *, path: str = "actions") -> list[Action]:
    """The validated actions of a list, or InvalidActions with paths under `path`."""
    try:
        return _LIST.validate_python(data)
    except ValidationError as exc:
        raise InvalidActions(error_paths(exc, tags=frozenset(ACTIONS), root=path)) from None


def run_actions(
    actions: Sequence[Action], context: RuleContext, *, rule_id: str, path: str = "actions"
) -> Directive:
    """Apply `actions` in order to a fresh directive; a failing one is logged and recorded."""
    directive = Directive()
    for index, action in enumerate(actions):
        try:
            ACTIONS[action.type](action, directive, context)
        except Exception as exc:  # one broken action must not lose the payment
            log.warning(
                "rules.action_failed",
                rule_id=rule_id,
                index=index,
                type=action.type,
                error=str(exc),
            )
            directive.failures.append(f"{path}.{index} ({action.type}): {exc}")
    return directive

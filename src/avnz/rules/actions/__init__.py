"""The action registry: which actions a rule may run, parsed and applied in order.

A rule's `actions` is a list of 1 to 20 objects discriminated on `type`. `run_actions` applies
them in order to a fresh `Directive`, which the payment flow then follows.

Contradictions are allowed and the later action wins: of two routes (pool or account) the last
one counts, a later flag replaces an earlier review, later metadata keys overwrite earlier ones.
Amounts add up: surcharges and discounts accumulate, each percent taken of the transaction's own
amount, so their order does not change the total. Refusals (a block, 3-D Secure required) are
recorded side by side; which one stands is `Directive.refusal`'s call.

An action that fails while running (a flat fee in a currency without a rate) is logged and
listed in `Directive.failures`; the others still run, so a broken action never loses a payment.

To add an action: write one module beside `block.py` with one `Action` subclass (`NAME`,
`LABEL`, `INPUTS`, its parameters, `apply`, `describe`), add it to `BUILT_IN`, and test it in
`tests/rules/test_actions.py`. The rule API, the builder, the tester and the payment flow take
it from here.
"""

from collections.abc import Sequence
from functools import lru_cache
from typing import Annotated, Any

import structlog
from pydantic import (
    GetJsonSchemaHandler,
    PlainValidator,
    SerializeAsAny,
    TypeAdapter,
    ValidationError,
    create_model,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from avnz.rules.actions.add_metadata import AddMetadata
from avnz.rules.actions.base import Action, Directive
from avnz.rules.actions.block import Block
from avnz.rules.actions.discount import Discount
from avnz.rules.actions.flag_for_review import FlagForReview
from avnz.rules.actions.require_3ds import Require3DS
from avnz.rules.actions.route_to_account import RouteToAccount
from avnz.rules.actions.route_to_pool import RouteToPool
from avnz.rules.actions.send_notification import SendNotification
from avnz.rules.actions.surcharge import Surcharge
from avnz.rules.context import RuleContext
from avnz.rules.errors import InvalidDefinition, error_paths
from avnz.rules.plugins import Registry, list_of, literal_of, tagged_union

log = structlog.get_logger(__name__)

MAX_ACTIONS = 20

BUILT_IN: tuple[type[Action], ...] = (
    RouteToPool,
    RouteToAccount,
    Block,
    Surcharge,
    Discount,
    Require3DS,
    FlagForReview,
    AddMetadata,
    SendNotification,
)


class InvalidActions(InvalidDefinition):
    """An action list that does not validate."""


REGISTRY: Registry[Action] = Registry("action")
register = REGISTRY.register
unregister = REGISTRY.unregister
action_types = REGISTRY.view


def _model(action: type[Action]) -> type[Action]:
    """`action` with `type` narrowed to its NAME (for the union)."""
    return create_model(
        action.__name__,
        __base__=action,
        __module__=action.__module__,
        type=(literal_of([action.NAME]), ...),
    )


def _action_list() -> TypeAdapter[list[Action]]:
    return _action_list_at(REGISTRY.version)


@lru_cache(maxsize=1)  # keyed by the registry's version: a change builds anew
def _action_list_at(version: int) -> TypeAdapter[list[Action]]:
    one = tagged_union([_model(action) for action in action_types().values()])
    return TypeAdapter(list_of(one, min_length=1, max_length=MAX_ACTIONS))


def parse_actions(data: Any, *, path: str = "actions") -> list[Action]:
    """The validated actions of a list, or InvalidActions with paths under `path`."""
    try:
        return validate_actions(data)
    except ValidationError as exc:
        raise InvalidActions(error_paths(exc, tags=frozenset(action_types()), root=path)) from None


def run_actions(
    actions: Sequence[Action], context: RuleContext, *, rule_id: str, path: str = "actions"
) -> Directive:
    """Apply `actions` in order to a fresh directive; a failing one is logged and recorded."""
    directive = Directive()
    for index, action in enumerate(actions):
        try:
            action.apply(directive, context)
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


def validate_actions(data: Any) -> list[Action]:
    """The validated actions of a list (ValidationError when they are not)."""
    return _action_list().validate_python(data)


class ActionListSchema:
    """`Annotated` metadata: the JSON schema of the registered actions, read when a schema is
    made (so the OpenAPI document lists the actions registered at that moment)."""

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return handler(_action_list().core_schema)


for _action in BUILT_IN:
    register(_action)


# A field holding a rule's actions: validated and documented by the registry.
RegisteredActions = Annotated[
    list[SerializeAsAny[Action]], PlainValidator(validate_actions), ActionListSchema
]

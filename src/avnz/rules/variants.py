"""A/B tests: a rule sends a share of its matches to an alternative set of actions.

The arm is a pure function of the rule and a key (the payment's id, or its customer's so one
customer always sees the same arm): a hash mapped onto [0, 1). It needs no state, gives the
same answer in every process, and a retried payment stays in its arm.
"""

import enum
import hashlib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from avnz.rules.actions import RegisteredActions


class Arm(enum.StrEnum):
    """Which action set a match ran: the rule's own, or its A/B test's alternative."""

    CONTROL = "control"
    VARIANT = "variant"


class ABTest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    share: float = Field(gt=0, lt=1, description="The fraction of matches that take the variant.")
    split_by: Literal["transaction", "customer"] = "transaction"
    actions: RegisteredActions


def choose_arm(rule_id: str, key: str, share: float) -> Arm:
    """`variant` for about `share` of all keys, the same one every time for a given key."""
    digest = hashlib.blake2b(f"{rule_id}:{key}".encode(), digest_size=8).digest()
    point = int.from_bytes(digest, "big") / 2**64
    return Arm.VARIANT if point < share else Arm.CONTROL

"""AddMetadata: key/value strings stored with the payment (a later action's keys win)."""

import re
from typing import Annotated, ClassVar

from pydantic import Field, field_validator

from avnz.rules.actions.base import Action, ActionInput, Directive, Names
from avnz.rules.context import RuleContext

KEY = re.compile(r"[A-Za-z0-9_.-]{1,40}")
MAX_VALUE = 500


class AddMetadata(Action):
    NAME: ClassVar[str] = "add_metadata"
    LABEL: ClassVar[str] = "Add metadata"
    INPUTS: ClassVar[tuple[ActionInput, ...]] = (
        ActionInput("metadata", "pairs", "Metadata (key=value, one a line)"),
    )
    metadata: Annotated[dict[str, str], Field(min_length=1, max_length=20)]

    @field_validator("metadata")
    @classmethod
    def _keys_and_values(cls, metadata: dict[str, str]) -> dict[str, str]:
        for key, value in metadata.items():
            if not KEY.fullmatch(key):
                raise ValueError(f"key {key!r} must be 1-40 letters, digits, '_', '.' or '-'")
            if len(value) > MAX_VALUE:
                raise ValueError(f"the value of {key!r} is longer than {MAX_VALUE} characters")
        return metadata

    def apply(self, directive: Directive, context: RuleContext) -> None:
        """Merge the keys into the directive's metadata, replacing earlier values."""
        directive.metadata.update(self.metadata)

    def describe(self, names: Names) -> str:
        return "Add metadata " + ", ".join(f"{k}={v}" for k, v in self.metadata.items())

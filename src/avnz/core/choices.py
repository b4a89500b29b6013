"""A string field whose allowed values come from a registry that can change at run time (the
routing strategies, the integration providers a gateway may add).

`Annotated[str, OneOf(names)]` checks a value against `names()` when it is validated, and
documents `names()` as the JSON schema's `enum` when a schema is made, so the OpenAPI document
lists what is registered at that moment. Nothing is cached: the registry is the only source.
"""

from collections.abc import Callable, Collection
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

Names = Callable[[], Collection[str]]


class OneOf:
    """`Annotated` metadata: valid when the value is one of `names()`, read at each validation;
    the JSON schema's `enum` is `names()` at schema time."""

    def __init__(self, names: Names) -> None:
        self._names = names

    def _check(self, value: str) -> str:
        known = self._names()
        if value not in known:
            raise ValueError(f"must be one of {', '.join(known)}")
        return value

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        document: dict[str, Any] = handler(schema)
        document["enum"] = list(self._names())
        return document

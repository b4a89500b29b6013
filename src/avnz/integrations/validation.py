"""Who may manage integrations, and the checks of what they enter: credentials and settings
against the provider's JSON Schema, with errors that name the offending field.
"""

from collections.abc import Mapping
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError as SchemaError
from jsonschema.exceptions import best_match
from pydantic import ValidationError

from avnz.auth.permissions import Level
from avnz.auth.scope import Principal
from avnz.core.errors import InvalidRequest, PermissionDenied
from avnz.core.masking import mask_text
from avnz.gateways.base import Environment
from avnz.integrations import identity
from avnz.integrations.models import (
    IntegrationCategory,
    IntegrationDefinition,
)


def require_organization_level(principal: Principal) -> None:
    if principal.level is not Level.ORGANIZATION:
        raise PermissionDenied("Platform integrations are managed by the organization's admins.")


def require_client_level(principal: Principal) -> None:
    if principal.level > Level.CLIENT:
        raise PermissionDenied("Integrations are managed at client level or above.")


def _schema_problem(error: SchemaError, root: str) -> tuple[str, str]:
    """(param, message) for a schema violation, naming the field and never quoting its value."""
    path = [root, *(str(part) for part in error.absolute_path)]
    keyword, schema = error.validator, error.schema
    expected: Any = error.validator_value
    instance = error.instance
    if keyword == "required" and isinstance(instance, dict):
        missing = next((name for name in expected if name not in instance), "?")
        return ".".join([*path, str(missing)]), "is required"
    if (
        keyword == "additionalProperties"
        and isinstance(instance, dict)
        and isinstance(schema, dict)
    ):
        known = sorted(schema.get("properties", {}))
        extra = next((name for name in sorted(instance) if name not in known), "?")
        return ".".join([*path, str(extra)]), f"is not a known field (known: {', '.join(known)})"
    templates = {
        "type": "must be of type {}",
        "minLength": "must be at least {} characters long",
        "maxLength": "must be at most {} characters long",
        "pattern": "does not have the expected format",
        "minimum": "must be at least {}",
        "maximum": "must be at most {}",
        "minItems": "must hold at least {} item(s)",
        "maxItems": "must hold at most {} item(s)",
        "uniqueItems": "must not repeat an item",
    }
    if keyword == "enum":
        message = f"must be one of: {', '.join(str(option) for option in expected)}"
    else:
        message = templates.get(str(keyword), "is not valid").format(expected)
    if keyword == "pattern" and isinstance(schema, dict) and schema.get("description"):
        message = f"{message} ({schema['description']})"
    return ".".join(path), message


def check_schema(schema: Mapping[str, Any], value: Mapping[str, Any], *, root: str) -> None:
    """Raise a 400 naming the first field of `value` that `schema` refuses."""
    validator = jsonschema.Draft202012Validator(schema)
    error = best_match(validator.iter_errors(dict(value)))
    if error is not None:
        param, message = _schema_problem(error, root)
        raise InvalidRequest(
            mask_text(f"{param} {message}."), code=f"invalid_{root.split('.')[0]}", param=param
        )


def checked_credentials(
    definition: IntegrationDefinition, value: Mapping[str, Any]
) -> dict[str, str]:
    """The credentials, checked against the provider's schema, as strings."""
    check_schema(definition.credential_schema, value, root="credentials")
    return {str(k): str(v) for k, v in value.items()}


def checked_settings(
    definition: IntegrationDefinition, value: Mapping[str, Any], environment: Environment
) -> dict[str, Any]:
    """The settings, checked against the provider's schema and environment."""
    check_schema(definition.settings_schema, value, root="settings")
    settings = dict(value)
    if (
        definition.category is IntegrationCategory.PAYMENT_GATEWAY
        and settings.get("base_url")
        and environment is not Environment.SANDBOX
    ):
        # A test sends the credentials there: a production gateway only talks to the gateway.
        raise InvalidRequest(
            "settings.base_url can be set on sandbox payment integrations only.",
            code="base_url_not_allowed",
            param="settings.base_url",
        )
    if definition.category is IntegrationCategory.AUTHENTICATION:
        try:
            identity.oidc_settings(definition.provider, settings)
        except ValidationError as exc:
            first = exc.errors()[0]
            param = ".".join(str(p) for p in ("settings", *first["loc"]))
            raise InvalidRequest(
                mask_text(f"{param}: {first['msg']}"), code="invalid_settings", param=param
            ) from None
    return settings

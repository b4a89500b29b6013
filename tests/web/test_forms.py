"""Forms generated from JSON Schemas: the inputs they render and the values they parse back."""

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from avnz.core.errors import InvalidRequest
from avnz.integrations.definitions import DEFINITIONS
from avnz.integrations.models import IntegrationProvider
from avnz.integrations.service import check_schema
from avnz.web import forms

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["api_key", "region"],
    "properties": {
        "api_key": {"type": "string", "title": "API key", "writeOnly": True, "minLength": 1},
        "password": {"type": "string", "format": "password"},
        "token": {"type": "string", "x-secret": True},
        "region": {"type": "string", "enum": ["eu", "us"], "description": "Where data lives."},
        "port": {"type": "integer", "minimum": 1, "default": 587},
        "starttls": {"type": "boolean", "default": True},
        "algorithms": {"type": "array", "items": {"enum": ["RS256", "ES256"]}},
    },
}


def by_name(fields: list[forms.FormField]) -> dict[str, forms.FormField]:
    return {field.name: field for field in fields}


def test_each_schema_type_gets_its_widget_label_and_required_marker() -> None:
    fields = by_name(forms.schema_fields(SCHEMA, prefix="credentials"))

    assert [f.widget for f in fields.values()] == [
        "password",
        "password",
        "password",
        "select",
        "number",
        "checkbox",
        "multiselect",
    ]
    assert fields["credentials.api_key"].label == "API key"
    assert fields["credentials.starttls"].label == "Starttls"
    assert fields["credentials.region"].options == ("eu", "us")
    assert fields["credentials.algorithms"].options == ("RS256", "ES256")
    assert fields["credentials.region"].description == "Where data lives."
    assert {n for n, f in fields.items() if f.required} == {
        "credentials.api_key",
        "credentials.region",
    }
    assert fields["credentials.port"].value == 587


def test_secrets_are_never_filled_in_and_an_edit_shows_their_mask() -> None:
    fields = by_name(
        forms.schema_fields(
            SCHEMA,
            prefix="credentials",
            values={"api_key": "sk-live-secret", "region": "eu"},
            masks={"api_key": "••••cret"},
            errors={"credentials.region": "must be one of: eu, us"},
        )
    )

    key = fields["credentials.api_key"]
    assert key.value is None
    assert key.placeholder == "••••cret — leave blank to keep"
    assert not key.required  # a stored secret need not be typed again
    assert fields["credentials.region"].value == "eu"
    assert fields["credentials.region"].error == "must be one of: eu, us"


def test_parsing_types_the_values_and_leaves_blanks_out() -> None:
    form = FormData(
        [
            ("credentials.api_key", "  key-123  "),
            ("credentials.region", "eu"),
            ("credentials.port", "2525"),
            ("credentials.starttls", "on"),
            ("credentials.algorithms", "RS256"),
            ("credentials.algorithms", "ES256"),
            ("credentials.token", "   "),
        ]
    )

    assert forms.parse_schema_form(SCHEMA, form, prefix="credentials") == {
        "api_key": "key-123",
        "region": "eu",
        "port": 2525,
        "starttls": True,
        "algorithms": ["RS256", "ES256"],
    }


def test_an_unchecked_box_is_false_and_bad_numbers_stay_text_for_the_schema_to_name() -> None:
    form = FormData([("settings.port", "twenty")])

    parsed = forms.parse_schema_form(SCHEMA, form, prefix="settings")

    assert parsed == {"port": "twenty", "starttls": False}
    with pytest.raises(InvalidRequest) as raised:
        check_schema(SCHEMA, parsed, root="settings")
    assert raised.value.param == "settings.api_key"  # the first problem, by name


def test_a_blank_secret_is_kept_only_when_asked() -> None:
    form = FormData([("credentials.api_key", ""), ("credentials.region", "us")])

    kept = forms.parse_schema_form(SCHEMA, form, prefix="credentials", keep_blank_secrets=True)

    assert kept == {"region": "us", "starttls": False}


def test_the_service_error_of_a_generated_form_names_its_input() -> None:
    nmi = DEFINITIONS[IntegrationProvider.NMI].credential_schema
    names = {field.name for field in forms.schema_fields(nmi, prefix="credentials")}

    with pytest.raises(InvalidRequest) as raised:
        check_schema(
            nmi, forms.parse_schema_form(nmi, FormData(), prefix="credentials"), root="credentials"
        )

    assert raised.value.param in names
    assert forms.errors_of(raised.value) == {raised.value.param: raised.value.message}


@pytest.mark.parametrize(
    ("typed", "currency", "minor"),
    [("1,250.50", "USD", 125050), ("1250", "JPY", 1250), ("0.125", "KWD", 125), ("", "USD", None)],
)
def test_amounts_in_major_units_become_minor_units(
    typed: str, currency: str, minor: int | None
) -> None:
    assert forms.minor_units(typed, currency, param="limits.daily_volume_limit") == minor


@pytest.mark.parametrize("typed", ["12.345", "abc", "NaN", "Infinity"])
def test_amounts_that_are_not_money_name_their_field(typed: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        forms.minor_units(typed, "USD", param="limits.daily_volume_limit")

    assert raised.value.param == "limits.daily_volume_limit"


def test_validation_errors_map_to_dotted_input_names_without_echoing_secrets() -> None:
    class Limits(BaseModel):
        daily: int

    class Request(BaseModel):
        name: str
        limits: Limits

    with pytest.raises(ValidationError) as raised:
        Request.model_validate({"limits": {"daily": "4111111111111111x"}})

    errors = forms.errors_of(raised.value)
    assert set(errors) == {"name", "limits.daily"}
    assert "4111111111111111" not in " ".join(errors.values())


def test_nested_builds_dicts_from_dotted_names_and_skips_blanks() -> None:
    form = FormData([("name", "Main"), ("limits.daily", "5"), ("limits.weekly", " ")])

    assert forms.nested(form, ("name", "limits.daily", "limits.weekly", "absent")) == {
        "name": "Main",
        "limits": {"daily": "5"},
    }

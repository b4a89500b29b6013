"""HTML forms of the dashboard: fields generated from a provider's JSON Schema, submitted values
parsed back into the types that schema expects, and a failed save's error mapped to its field.

Parsing only converts; the service that saves the values validates them (the same call the API
makes), and its error's `param` names the input to show the message at.
"""

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import ValidationError
from starlette.datastructures import FormData

from avnz.core.errors import AppError, InvalidRequest
from avnz.core.masking import mask_text
from avnz.core.money import currency_exponent

Widget = Literal["text", "password", "select", "checkbox", "number", "multiselect"]
FORM_ERROR = "__form__"  # an error that names no field: shown above the form
_INTEGER = re.compile(r"^[+-]?\d+$")


FormValues = FormData  # a submitted form (starlette's)


@dataclass(frozen=True, slots=True)
class FormField:
    """One input of a generated form; `name` is the dotted path the service's `param` uses."""

    name: str
    label: str
    widget: Widget
    required: bool
    description: str | None
    options: tuple[str, ...]
    value: Any
    placeholder: str
    error: str | None


def text(form: FormValues, name: str) -> str:
    """One input's value, stripped ("" when absent or a file)."""
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def is_secret(spec: Mapping[str, Any]) -> bool:
    """A field never shown back: write-only, a password format, or marked `x-secret`."""
    return bool(spec.get("writeOnly") or spec.get("x-secret") or spec.get("format") == "password")


def _widget(spec: Mapping[str, Any]) -> Widget:
    kind = spec.get("type")
    if kind == "boolean":
        return "checkbox"
    if kind in ("integer", "number"):
        return "number"
    if kind == "array":
        return "multiselect"
    if "enum" in spec:
        return "select"
    return "password" if is_secret(spec) else "text"


def _label(name: str, spec: Mapping[str, Any]) -> str:
    return str(spec.get("title") or name.replace("_", " ").capitalize())


def _options(spec: Mapping[str, Any]) -> tuple[str, ...]:
    source = spec.get("items", spec) if spec.get("type") == "array" else spec
    return tuple(str(option) for option in source.get("enum", ()))


def schema_fields(
    schema: Mapping[str, Any],
    *,
    prefix: str,
    values: Mapping[str, Any] | None = None,
    masks: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
) -> list[FormField]:
    """The inputs of an object schema, in its property order. A secret is never filled in: on
    an edit its mask is the placeholder and a blank input keeps the stored value."""
    values, masks, errors = values or {}, masks or {}, errors or {}
    required = set(schema.get("required", ()))
    fields = []
    for name, spec in schema.get("properties", {}).items():
        secret = is_secret(spec)
        mask = masks.get(name)
        value = None if secret else values.get(name, spec.get("default"))
        fields.append(
            FormField(
                name=f"{prefix}.{name}",
                label=_label(name, spec),
                widget=_widget(spec),
                required=name in required and not mask,
                description=spec.get("description"),
                options=_options(spec),
                value=value,
                placeholder=f"{mask} — leave blank to keep" if mask else "",
                error=errors.get(f"{prefix}.{name}"),
            )
        )
    return fields


def _scalar(spec: Mapping[str, Any], raw: str) -> Any:
    """The typed value of a text input; text the type refuses stays text, so the schema check
    reports it at its field instead of this parser guessing."""
    kind = spec.get("type")
    if kind == "integer" and _INTEGER.match(raw):
        return int(raw)
    if kind == "number":
        try:
            return float(Decimal(raw))
        except InvalidOperation:
            return raw
    return raw


def parse_schema_form(
    schema: Mapping[str, Any], form: FormValues, *, prefix: str, keep_blank_secrets: bool = False
) -> dict[str, Any]:
    """The submitted values of `schema_fields(schema, prefix=...)`. Blank inputs are left out
    (a required one then fails the schema check by name); with `keep_blank_secrets` a blank
    secret is left out too, which the services read as "keep the stored one"."""
    parsed: dict[str, Any] = {}
    for name, spec in schema.get("properties", {}).items():
        key = f"{prefix}.{name}"
        kind = spec.get("type")
        if kind == "boolean":
            parsed[name] = form.get(key) in ("on", "true", "1")
        elif kind == "array":
            chosen = [str(item) for item in form.getlist(key) if str(item).strip()]
            if chosen:
                parsed[name] = chosen
        else:
            raw = str(form.get(key) or "").strip()
            if raw:
                parsed[name] = _scalar(spec, raw)
            elif is_secret(spec) and keep_blank_secrets:
                continue
    return parsed


def nested(form: FormValues, names: Sequence[str]) -> dict[str, Any]:
    """The non-blank inputs `names` (dotted: `limits.daily_transaction_limit`) as a nested
    dict, ready for a request model whose validation errors then carry the same dotted names."""
    result: dict[str, Any] = {}
    for name in names:
        raw = str(form.get(name) or "").strip()
        if not raw:
            continue
        *parents, leaf = name.split(".")
        target = result
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = raw
    return result


def minor_units(raw: str | None, currency: str, *, param: str) -> int | None:
    """An amount typed in major units (`1,250.50`) as integer minor units of `currency`."""
    text = (raw or "").replace(",", "").strip()
    if not text:
        return None
    exponent = currency_exponent(currency)
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise InvalidRequest(f"{param} must be an amount like 1250.00.", param=param) from None
    if not amount.is_finite():
        raise InvalidRequest(f"{param} must be an amount like 1250.00.", param=param)
    minor = amount.scaleb(exponent)
    if minor != minor.to_integral_value():
        raise InvalidRequest(
            f"{param} has more than {exponent} decimal places for {currency}.", param=param
        )
    return int(minor)


def stray_errors(
    errors: Mapping[str, str], fields: Iterable[FormField], also: Iterable[str] = ()
) -> dict[str, str]:
    """The errors no input of the form shows (`fields` and the names in `also` do): the form
    lists them above its inputs so no message is lost."""
    placed = {f.name for f in fields} | set(also)
    return {name: message for name, message in errors.items() if name not in placed}


def errors_of(exc: AppError | ValidationError) -> dict[str, str]:
    """A failed save as {input name: message}; an error without a field goes to FORM_ERROR.
    Messages are masked: a validator may quote the value, and it can be a secret."""
    if isinstance(exc, AppError):
        return {exc.param or FORM_ERROR: mask_text(exc.message)}
    errors: dict[str, str] = {}
    for problem in exc.errors():
        # List positions are dropped: the input is the list (`restrictions.allowed_countries`).
        path = [str(part) for part in problem["loc"] if not isinstance(part, int)]
        name = ".".join(path) or FORM_ERROR
        message = str(problem["msg"]).removeprefix("Value error, ")
        errors.setdefault(name, mask_text(message))
    return errors

"""Merchant account forms: the add modal's and the edit tabs' inputs, turned into the routing
service's requests (amounts typed in major units become minor units) and filled back from an
account. A credential is never echoed into a re-rendered form.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from avnz.core.cards import Brand
from avnz.core.errors import InvalidRequest
from avnz.core.money import currency_exponent
from avnz.gateways import registry
from avnz.routing.accounts.models import MerchantAccount
from avnz.routing.accounts.schemas import (
    AccountLimits,
    MerchantAccountCreate,
    MerchantAccountDetail,
    MerchantAccountUpdate,
)
from avnz.web import forms

BRANDS = tuple(brand.value for brand in Brand if brand is not Brand.UNKNOWN)
MONEY_LIMITS = tuple(
    name for name in AccountLimits.model_fields if name.endswith(("_amount", "_volume_limit"))
)
COUNT_LIMITS = tuple(name for name in AccountLimits.model_fields if name not in MONEY_LIMITS)
GENERAL_FIELDS = ("name", "description", "merchant_id", "descriptor", "descriptor_phone")
TABS = ("general", "credentials", "limits", "restrictions")
RESTRICTION_LISTS = (
    "allowed_countries",
    "blocked_countries",
    "allowed_card_brands",
    "blocked_card_brands",
)
# Inputs of the add modal outside the provider's credentials (errors there show at the input).
MODAL_INPUTS = (
    "company_id",
    *GENERAL_FIELDS,
    "environment",
    "base_url",
    "currency",
    *(f"limits.{name}" for name in AccountLimits.model_fields),
    *(f"restrictions.{name}" for name in RESTRICTION_LISTS),
    "fees.base_percentage",
    "fees.international_percentage",
    "fees.base_flat_fee",
)


@dataclass(frozen=True, slots=True)
class ProviderForm:
    """A gateway of the add modal and the credential inputs its JSON Schema asks for."""

    name: str
    display_name: str
    fields: list[forms.FormField]


def provider_forms(errors: Mapping[str, str], chosen: str | None) -> list[ProviderForm]:
    """The add modal's gateways, each with the credential inputs its schema asks for."""
    return [
        ProviderForm(
            name,
            gateway.connector.display_name,
            forms.schema_fields(
                gateway.connector.credentials_schema,
                prefix="credentials",
                errors=errors if name == chosen else None,
            ),
        )
        for name, gateway in sorted(registry.GATEWAYS.items())
    ]


def _limits(form: forms.FormValues, currency: str) -> dict[str, Any]:
    """The limits tab: amounts typed in major units become minor units of `currency`."""
    limits: dict[str, Any] = {}
    for name in MONEY_LIMITS:
        amount = forms.minor_units(
            forms.text(form, f"limits.{name}"), currency, param=f"limits.{name}"
        )
        if amount is not None:
            limits[name] = amount
    for name in COUNT_LIMITS:
        raw = str(form.get(f"limits.{name}") or "").strip()
        if raw:
            limits[name] = raw
    return limits


def _codes(form: forms.FormValues, name: str) -> list[str]:
    """A list typed as comma-separated codes (`US, CA`) or picked as checkboxes."""
    values = [str(v) for v in form.getlist(name)]
    return [code.strip() for v in values for code in v.split(",") if code.strip()]


def _restrictions(form: forms.FormValues) -> dict[str, Any]:
    return {name: _codes(form, f"restrictions.{name}") for name in RESTRICTION_LISTS}


def _fees(form: forms.FormValues, currency: str) -> dict[str, Any]:
    fees: dict[str, Any] = {
        name: value
        for name in ("base_percentage", "international_percentage")
        if (value := forms.text(form, f"fees.{name}"))
    }
    flat = forms.minor_units(
        forms.text(form, "fees.base_flat_fee"), currency, param="fees.base_flat_fee"
    )
    if flat is not None:
        fees["base_flat_fee"] = flat
    return fees


def _currency(form: forms.FormValues, fallback: str = "USD") -> str:
    currency = (forms.text(form, "currency") or fallback).upper()
    try:
        currency_exponent(currency)
    except ValueError:
        raise InvalidRequest(f"{currency!r} is not a currency code.", param="currency") from None
    return currency


def _credentials(form: forms.FormValues, provider: str, *, keep_blank: bool) -> dict[str, Any]:
    if provider not in registry.GATEWAYS:
        raise InvalidRequest("Choose a gateway.", param="provider_type")
    schema = registry.gateway(provider).connector.credentials_schema
    return forms.parse_schema_form(
        schema, form, prefix="credentials", keep_blank_secrets=keep_blank
    )


def create_request(form: forms.FormValues) -> MerchantAccountCreate:
    """The 5-step modal's fields as the API's create request (validated by it)."""
    provider = str(form.get("provider_type") or "")
    currency = _currency(form)
    values: dict[str, Any] = {
        **forms.nested(form, ("company_id", *GENERAL_FIELDS, "environment", "base_url")),
        "provider_type": provider,
        "currency": currency,
        "credentials": _credentials(form, provider, keep_blank=False),
        "limits": _limits(form, currency),
        "fees": _fees(form, currency),
        "restrictions": _restrictions(form),
    }
    return MerchantAccountCreate.model_validate(values)


def update_request(
    tab: str,
    form: forms.FormValues,
    account: MerchantAccount,
    stored_credentials: Mapping[str, str],
) -> MerchantAccountUpdate:
    """One edit tab's fields as the API's update request; the other tabs' fields stay. A blank
    secret keeps the stored one (the API replaces credentials whole, so they are merged here)."""
    values: dict[str, Any]
    if tab == "general":
        values = {name: str(form.get(name) or "").strip() or None for name in GENERAL_FIELDS}
        values["name"] = str(form.get("name") or "")
        if status := form.get("status"):
            values["status"] = status
    elif tab == "credentials":
        changes = _credentials(form, account.provider_type, keep_blank=True)
        values = {"credentials": {**stored_credentials, **changes}}
    elif tab == "limits":
        values = {"limits": _limits(form, account.currency)}
    else:
        values = {"restrictions": _restrictions(form)}
    return MerchantAccountUpdate.model_validate(values)


def echo(form: forms.FormValues) -> dict[str, Any]:
    """What the re-rendered modal fills in again after a refused save: never a credential."""
    echo: dict[str, Any] = {
        str(key): str(value)
        for key, value in form.multi_items()
        if not str(key).startswith("credentials.") and key != "csrf_token"
    }
    for name in ("allowed_card_brands", "blocked_card_brands"):
        echo[f"restrictions.{name}"] = [str(v) for v in form.getlist(f"restrictions.{name}")]
    return echo


def major_units(amount: int, currency: str) -> str:
    """A minor-unit amount written in major units of `currency` (`1999` → `19.99`)."""
    return str(Decimal(amount).scaleb(-currency_exponent(currency)))


def form_values(detail: MerchantAccountDetail) -> dict[str, Any]:
    """The edit tabs' inputs filled from the account (amounts back in major units)."""
    values: dict[str, Any] = {name: getattr(detail, name) or "" for name in GENERAL_FIELDS}
    for name, amount in detail.limits.model_dump(exclude_none=True).items():
        shown = major_units(amount, detail.currency) if name in MONEY_LIMITS else str(amount)
        values[f"limits.{name}"] = shown
    restrictions = detail.restrictions.model_dump(mode="json")
    for name in RESTRICTION_LISTS:
        chosen = restrictions[name]
        values[f"restrictions.{name}"] = chosen if "brands" in name else ", ".join(chosen)
    return values

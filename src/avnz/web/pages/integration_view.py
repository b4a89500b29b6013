"""Integration pages' view models: the add wizard's provider choices grouped by category, what a
refused form echoes back, and the flash line of a connection test.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from avnz.core.errors import InvalidRequest
from avnz.integrations import probes
from avnz.integrations.definitions import DEFINITIONS
from avnz.integrations.models import (
    IntegrationCategory,
    IntegrationDefinition,
    PlatformIntegration,
)
from avnz.web import forms
from avnz.web.flash import flash

CATEGORY_LABELS: Mapping[IntegrationCategory, str] = {
    IntegrationCategory.PAYMENT_GATEWAY: "Payment gateways",
    IntegrationCategory.AUTHENTICATION: "Authentication",
    IntegrationCategory.EMAIL_TRANSACTIONAL: "Transactional email",
    IntegrationCategory.EMAIL_MARKETING: "Marketing email",
    IntegrationCategory.SMS: "SMS",
    IntegrationCategory.VOICE: "Voice",
    IntegrationCategory.PUSH_NOTIFICATION: "Push notifications",
    IntegrationCategory.AI_ML: "AI",
    IntegrationCategory.STORAGE: "Storage",
    IntegrationCategory.MONITORING: "Monitoring",
    IntegrationCategory.FEATURE_FLAGS: "Feature flags",
    IntegrationCategory.WEBHOOK: "Webhooks",
}


@dataclass(frozen=True, slots=True)
class ProviderChoice:
    """One provider of the add modal, with the inputs its JSON Schemas ask for."""

    definition: IntegrationDefinition
    credential_fields: list[forms.FormField]
    settings_fields: list[forms.FormField]
    platform_options: Sequence[PlatformIntegration] = ()


@dataclass(frozen=True, slots=True)
class CategoryGroup:
    category: IntegrationCategory
    label: str
    items: list[Any]


def provider_choice(
    definition: IntegrationDefinition,
    errors: Mapping[str, str],
    submitted: Mapping[str, Any],
    offers: Sequence[PlatformIntegration] = (),
) -> ProviderChoice:
    """The provider's inputs; the one just submitted keeps its values and shows its errors."""
    chosen = submitted.get("provider") == definition.provider
    return ProviderChoice(
        definition=definition,
        credential_fields=forms.schema_fields(
            definition.credential_schema,
            prefix="credentials",
            values=submitted.get("credentials") if chosen else None,
            errors=errors if chosen else None,
        ),
        settings_fields=forms.schema_fields(
            definition.settings_schema,
            prefix="settings",
            values=submitted.get("settings") if chosen else None,
            errors=errors if chosen else None,
        ),
        platform_options=offers,
    )


WIZARD_INPUTS = ("name", "environment", "company_id")
ECHOED = ("provider", "name", "environment", "company_id", "mode", "platform_integration_id")


def wizard(choices: list[ProviderChoice], errors: Mapping[str, str], chosen: str) -> dict[str, Any]:
    """The add modal's context: the catalog by category, and the errors its inputs cannot show."""
    picked = next((c for c in choices if c.definition.provider == chosen), None)
    fields = [*picked.credential_fields, *picked.settings_fields] if picked else []
    return {
        "catalog": by_category(choices, lambda c: c.definition.category),
        "stray": forms.stray_errors(errors, fields, WIZARD_INPUTS if picked else ()),
    }


def by_category(
    items: Iterable[Any], category_of: Callable[[Any], IntegrationCategory]
) -> list[CategoryGroup]:
    """Items grouped by category, in the categories' declared order."""
    groups: dict[IntegrationCategory, list[Any]] = {}
    for item in items:
        groups.setdefault(category_of(item), []).append(item)
    return [
        CategoryGroup(category, CATEGORY_LABELS.get(category, category.value), members)
        for category, members in sorted(groups.items(), key=lambda kv: _category_rank(kv[0]))
    ]


def _category_rank(category: IntegrationCategory) -> int:
    return list(IntegrationCategory).index(category)


def chosen_provider(form: forms.FormValues) -> str:
    """The provider picked in the wizard, or a 400 naming the input."""
    provider = str(form.get("provider") or "")
    if provider not in DEFINITIONS:
        raise InvalidRequest("Choose a provider.", param="provider")
    return provider


def submitted_values(form: forms.FormValues) -> dict[str, Any]:
    """What the re-rendered modal fills in again after a refused save (schema_fields never
    fills in a secret)."""
    echo: dict[str, Any] = {key: str(form.get(key) or "") for key in ECHOED}
    for root in ("credentials", "settings"):
        echo[root] = {
            str(key).removeprefix(f"{root}."): str(value)
            for key, value in form.multi_items()
            if str(key).startswith(f"{root}.")
        }
    return echo


def flash_test(request: Request, name: str, result: probes.ProbeResult) -> None:
    """Say how a connection test went (its message is already free of secrets)."""
    if result.success:
        flash(request, f"{name}: connection OK ({result.latency_ms:.0f} ms). {result.message}")
    else:
        flash(request, f"{name}: connection failed. {result.message}", "bad")

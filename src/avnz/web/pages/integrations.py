"""Integration pages: `/admin/integrations` (the organization's platform integrations, for its
admins) and `/settings/integrations` (a client's own gateways and services).

Every read and write is the integrations service's, called with the signed-in principal, exactly
as the API calls it; a refused save re-renders the page with the message at its field. The
wizard's view models are `integration_view`.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.auth.permissions import Level, Permission
from avnz.auth.scope import Principal
from avnz.core.errors import AppError
from avnz.deps import RuntimeDep, Session
from avnz.integrations import connection_tests, gateway_accounts, probes, schemas
from avnz.integrations import service as integrations
from avnz.integrations.models import (
    ClientIntegration,
    DefinitionStatus,
    IntegrationDefinition,
    IntegrationMode,
    PlatformIntegration,
)
from avnz.integrations.records import Integration
from avnz.runtime import Runtime
from avnz.tenancy import service as tenancy
from avnz.web import forms
from avnz.web.auth import CsrfChecked, page_requires
from avnz.web.flash import flash
from avnz.web.pages import common
from avnz.web.pages.common import EVERYTHING
from avnz.web.pages.integration_view import (
    by_category,
    chosen_provider,
    flash_test,
    provider_choice,
    submitted_values,
    wizard,
)
from avnz.web.templating import render

router = APIRouter()
P = Permission
# The API's rule: platform integrations are the organization's, a client's are client-level.
AdminRead = Annotated[Principal, Depends(page_requires(P.SETTINGS_READ, level=Level.ORGANIZATION))]
AdminWrite = Annotated[
    Principal, Depends(page_requires(P.SETTINGS_WRITE, level=Level.ORGANIZATION))
]
ClientRead = Annotated[Principal, Depends(page_requires(P.SETTINGS_READ, level=Level.CLIENT))]
ClientWrite = Annotated[Principal, Depends(page_requires(P.SETTINGS_WRITE, level=Level.CLIENT))]
ADMIN_PATH = "/admin/integrations"
CLIENT_PATH = "/settings/integrations"


# --- /admin/integrations ---------------------------------------------------------------------


async def _admin_page(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    *,
    errors: Mapping[str, str] | None = None,
    submitted: Mapping[str, Any] | None = None,
    sharing_errors: Mapping[str, Mapping[str, str]] | None = None,
    status_code: int = 200,
) -> Response:
    errors, submitted = errors or {}, submitted or {}
    page = await integrations.list_platform_integrations(
        session=session, principal=principal, page=EVERYTHING
    )
    definitions = [
        d
        for d in await integrations.list_definitions(session=session)
        if d.status is not DefinitionStatus.DEPRECATED
    ]
    choices = [provider_choice(d, errors, submitted) for d in definitions]
    return render(
        request,
        "integrations/admin.html",
        {
            "groups": by_category(page.items, lambda row: row.category),
            "stats": _status_counts(page.items),
            **wizard(choices, errors, submitted.get("provider", "")),
            "names": {d.provider: d.name for d in definitions},
            "errors": errors,
            "submitted": submitted,
            "open_modal": bool(errors),
            "sharing_errors": sharing_errors or {},
            "can_write": P.SETTINGS_WRITE in principal.permissions,
        },
        principal=principal,
        status_code=status_code,
        breadcrumbs=(("Settings", None), ("Platform integrations", ADMIN_PATH)),
    )


def _status_counts(rows: Sequence[PlatformIntegration]) -> dict[str, int]:
    """The status cards: how many integrations, and how their last tests went."""
    tested = [row.last_test_result for row in rows if row.last_test_result]
    return {
        "total": len(rows),
        "connected": sum(1 for result in tested if result.get("success")),
        "failing": sum(1 for result in tested if not result.get("success")),
        "shared": sum(1 for row in rows if row.is_shared_with_clients),
    }


@router.get(ADMIN_PATH)
async def admin_integrations(request: Request, session: Session, principal: AdminRead) -> Any:
    return await _admin_page(request, session, principal)


@router.post(ADMIN_PATH)
async def add_platform_integration(
    request: Request,
    session: Session,
    principal: AdminWrite,
    runtime: RuntimeDep,
    _csrf: CsrfChecked,
) -> Any:
    form = await request.form()
    submitted = submitted_values(form)
    try:
        definition = await integrations.get_definition(
            session=session, provider=chosen_provider(form)
        )
        data = schemas.PlatformIntegrationCreate.model_validate(
            {
                "provider": definition.provider,
                "name": form.get("name"),
                "environment": form.get("environment") or "sandbox",
                "credentials": forms.parse_schema_form(
                    definition.credential_schema, form, prefix="credentials"
                ),
                "settings": forms.parse_schema_form(
                    definition.settings_schema, form, prefix="settings"
                ),
                "is_shared_with_clients": form.get("is_shared_with_clients") == "on",
            }
        )
        row = await integrations.create_platform_integration(
            session=session, principal=principal, keyring=runtime.keyring, data=data
        )
    except (AppError, ValidationError) as exc:
        return await common.refused(_admin_page, request, session, principal, exc, submitted)
    flash(request, f"Added {row.name}. Run a connection test to check it.")
    return RedirectResponse(ADMIN_PATH, status_code=303)


@router.post(ADMIN_PATH + "/{integration_id}/test")
async def probe_platform_integration(
    integration_id: str,
    request: Request,
    session: Session,
    principal: AdminWrite,
    runtime: RuntimeDep,
    _csrf: CsrfChecked,
) -> Any:
    row, result = await _test("platform", session, principal, runtime, integration_id)
    flash_test(request, row.name, result)
    return RedirectResponse(ADMIN_PATH, status_code=303)


@router.post(ADMIN_PATH + "/{integration_id}/sharing")
async def share_platform_integration(
    integration_id: str,
    request: Request,
    session: Session,
    principal: AdminWrite,
    _csrf: CsrfChecked,
) -> Any:
    form = await request.form()
    shared = form.get("is_shared_with_clients") == "on"
    pricing = forms.nested(form, ("client_pricing.percent", "client_pricing.flat_minor"))
    try:
        data = schemas.SharingUpdate.model_validate(
            {"is_shared_with_clients": shared, **pricing}
            if shared
            else {"is_shared_with_clients": False}
        )
        row = await integrations.set_sharing(
            session=session, principal=principal, integration_id=integration_id, data=data
        )
    except (AppError, ValidationError) as exc:
        await session.rollback()
        return await _admin_page(
            request,
            session,
            principal,
            sharing_errors={integration_id: forms.errors_of(exc)},
            status_code=400,
        )
    offered = "now offered to" if shared else "no longer offered to"
    flash(request, f"{row.name} is {offered} clients.")
    return RedirectResponse(ADMIN_PATH, status_code=303)


@router.post(ADMIN_PATH + "/{integration_id}/delete")
async def delete_platform_integration(
    integration_id: str,
    request: Request,
    session: Session,
    principal: AdminWrite,
    _csrf: CsrfChecked,
) -> Any:
    try:
        row = await integrations.delete_platform_integration(
            session=session, principal=principal, integration_id=integration_id
        )
    except AppError as exc:
        if exc.status_code != 409:
            raise
        flash(request, exc.message, "bad")
        return RedirectResponse(ADMIN_PATH, status_code=303)
    flash(request, f"Deleted {row.name}.")
    return RedirectResponse(ADMIN_PATH, status_code=303)


# --- /settings/integrations ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClientCard:
    """A client integration as its card shows it (credentials masked, this month's usage)."""

    row: schemas.ClientIntegrationOut
    definition_name: str


async def _client_page(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    *,
    errors: Mapping[str, str] | None = None,
    submitted: Mapping[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    errors, submitted = errors or {}, submitted or {}
    page = await integrations.list_client_integrations(
        session=session, principal=principal, page=EVERYTHING
    )
    catalog = await integrations.available(session=session, principal=principal)
    names = {d.provider: d.name for d, _ in catalog}
    cards = [
        ClientCard(out, names.get(out.provider, out.provider))
        for out in await integrations.client_out(session, page.items)
    ]
    choices = [provider_choice(d, errors, submitted, offers) for d, offers in catalog]
    offers = [(c.definition, o) for c in choices for o in c.platform_options]
    return render(
        request,
        "integrations/client.html",
        {
            "groups": by_category(cards, lambda card: card.row.category),
            **wizard(choices, errors, submitted.get("provider", "")),
            "platform_offers": offers,
            "companies": await common.visible_companies(session, principal),
            **common.add_form_context(
                errors, submitted, can_write=P.SETTINGS_WRITE in principal.permissions
            ),
            # A refused platform offer is shown on its card, not in the add modal.
            "open_modal": bool(errors) and submitted.get("mode") != "platform",
        },
        principal=principal,
        status_code=status_code,
        breadcrumbs=(("Settings", None), ("Integrations", CLIENT_PATH)),
    )


@router.get(CLIENT_PATH)
async def client_integrations(request: Request, session: Session, principal: ClientRead) -> Any:
    return await _client_page(request, session, principal)


async def _client_create(
    session: AsyncSession, principal: Principal, form: forms.FormValues
) -> schemas.ClientIntegrationCreate:
    definition = await integrations.get_definition(session=session, provider=chosen_provider(form))
    own = (form.get("mode") or "own") == IntegrationMode.OWN.value
    values: dict[str, Any] = {
        "provider": definition.provider,
        "name": form.get("name"),
        "mode": IntegrationMode.OWN if own else IntegrationMode.PLATFORM,
        "is_default": form.get("is_default") == "on",
        "settings": forms.parse_schema_form(definition.settings_schema, form, prefix="settings"),
    }
    if company_id := form.get("company_id"):
        values["company_id"] = company_id
        company = await tenancy.get_company(
            session=session, principal=principal, company_id=str(company_id)
        )
        values["client_id"] = company.client_id
    if own:
        values["environment"] = form.get("environment") or "sandbox"
        values["credentials"] = forms.parse_schema_form(
            definition.credential_schema, form, prefix="credentials"
        )
    else:
        values["platform_integration_id"] = form.get("platform_integration_id")
    return schemas.ClientIntegrationCreate.model_validate(values)


@router.post(CLIENT_PATH)
async def add_client_integration(
    request: Request,
    session: Session,
    principal: ClientWrite,
    runtime: RuntimeDep,
    _csrf: CsrfChecked,
) -> Any:
    """Save the modal's integration, then test it (step 4: review & test)."""
    form = await request.form()
    try:
        data = await _client_create(session, principal, form)
        row = await gateway_accounts.create_client_integration(
            session=session, principal=principal, keyring=runtime.keyring, data=data
        )
    except (AppError, ValidationError) as exc:
        return await common.refused(
            _client_page, request, session, principal, exc, submitted_values(form)
        )
    _, result = await _test("client", session, principal, runtime, row.id)
    flash(request, f"Added {row.name}.")
    flash_test(request, row.name, result)
    return RedirectResponse(CLIENT_PATH, status_code=303)


async def _test(
    kind: connection_tests.Kind,
    session: AsyncSession,
    principal: Principal,
    runtime: Runtime,
    integration_id: str,
) -> tuple[Integration, probes.ProbeResult]:
    return await connection_tests.check_integration(
        kind=kind,
        session=session,
        principal=principal,
        keyring=runtime.keyring,
        http=runtime.http,
        integration_id=integration_id,
    )


@router.post(CLIENT_PATH + "/{integration_id}/test")
async def probe_client_integration(
    integration_id: str,
    request: Request,
    session: Session,
    principal: ClientWrite,
    runtime: RuntimeDep,
    _csrf: CsrfChecked,
) -> Any:
    row, result = await _test("client", session, principal, runtime, integration_id)
    flash_test(request, row.name, result)
    return RedirectResponse(CLIENT_PATH, status_code=303)


async def _edit_page(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    row: ClientIntegration,
    *,
    errors: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    definition = await integrations.get_definition(session=session, provider=row.provider)
    errors = errors or {}
    own = row.mode is IntegrationMode.OWN
    credential_fields = (
        forms.schema_fields(
            definition.credential_schema,
            prefix="credentials",
            masks=row.credentials_mask,
            errors=errors,
        )
        if own
        else []
    )
    settings_fields = forms.schema_fields(
        definition.settings_schema, prefix="settings", values=row.settings, errors=errors
    )
    return render(
        request,
        "integrations/edit.html",
        {
            "row": row,
            "definition": definition,
            "own": own,
            "credential_fields": credential_fields,
            "settings_fields": settings_fields,
            "errors": errors,
            "stray": forms.stray_errors(
                errors, [*credential_fields, *settings_fields], ("name", "status", "environment")
            ),
            "can_write": P.SETTINGS_WRITE in principal.permissions,
        },
        principal=principal,
        status_code=status_code,
        breadcrumbs=(
            ("Settings", None),
            ("Integrations", CLIENT_PATH),
            (row.name, f"{CLIENT_PATH}/{row.id}"),
        ),
    )


@router.get(CLIENT_PATH + "/{integration_id}")
async def edit_client_integration(
    integration_id: str, request: Request, session: Session, principal: ClientRead
) -> Any:
    row = await integrations.get_client_integration(
        session=session, principal=principal, integration_id=integration_id
    )
    return await _edit_page(request, session, principal, row)


def _changes(
    definition: IntegrationDefinition, row: ClientIntegration, form: forms.FormValues
) -> schemas.ClientIntegrationUpdate:
    values: dict[str, Any] = {
        "name": form.get("name"),
        "status": form.get("status") or None,
        "settings": forms.parse_schema_form(definition.settings_schema, form, prefix="settings"),
    }
    if row.mode is IntegrationMode.OWN:
        values["environment"] = form.get("environment") or None
        values["credentials"] = forms.parse_schema_form(
            definition.credential_schema, form, prefix="credentials", keep_blank_secrets=True
        )
    return schemas.ClientIntegrationUpdate.model_validate(
        {k: v for k, v in values.items() if v is not None}
    )


@router.post(CLIENT_PATH + "/{integration_id}")
async def save_client_integration(
    integration_id: str,
    request: Request,
    session: Session,
    principal: ClientWrite,
    runtime: RuntimeDep,
    _csrf: CsrfChecked,
) -> Any:
    row = await integrations.get_client_integration(
        session=session, principal=principal, integration_id=integration_id
    )
    definition = await integrations.get_definition(session=session, provider=row.provider)
    form = await request.form()
    try:
        row = await gateway_accounts.update_client_integration(
            session=session,
            principal=principal,
            keyring=runtime.keyring,
            integration_id=row.id,
            data=_changes(definition, row, form),
        )
        if form.get("is_default") == "on" and not row.is_default:
            row = await integrations.set_default(
                session=session, principal=principal, integration_id=row.id
            )
    except (AppError, ValidationError) as exc:
        await session.rollback()
        row = await integrations.get_client_integration(
            session=session, principal=principal, integration_id=integration_id
        )
        return await _edit_page(
            request, session, principal, row, errors=forms.errors_of(exc), status_code=400
        )
    flash(request, f"Saved {row.name}.")
    return RedirectResponse(CLIENT_PATH, status_code=303)


@router.post(CLIENT_PATH + "/{integration_id}/delete")
async def delete_client_integration(
    integration_id: str,
    request: Request,
    session: Session,
    principal: ClientWrite,
    _csrf: CsrfChecked,
) -> Any:
    row = await gateway_accounts.delete_client_integration(
        session=session, principal=principal, integration_id=integration_id
    )
    flash(request, f"Deleted {row.name}.")
    return RedirectResponse(CLIENT_PATH, status_code=303)

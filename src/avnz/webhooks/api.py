"""`/webhook-endpoints` and `/webhook-deliveries`: where a company receives its events, and the
log of what was sent. The signing secret is in the answer to create and rotate-secret only."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, status

from avnz.auth.permissions import Permission
from avnz.auth.scope import Principal
from avnz.conventions import ApiRoute
from avnz.core.pagination import PageOut, Paging, page_out
from avnz.deps import RuntimeDep, Session, require
from avnz.webhooks import service as webhooks
from avnz.webhooks.models import DeliveryStatus
from avnz.webhooks.schemas import (
    RotateSecret,
    WebhookDeliveryOut,
    WebhookEndpointCreate,
    WebhookEndpointOut,
    WebhookEndpointUpdate,
    WebhookEndpointWithSecret,
)

router = APIRouter(route_class=ApiRoute, tags=["webhooks"])
SettingsRead = Annotated[Principal, Depends(require(Permission.SETTINGS_READ))]
SettingsWrite = Annotated[Principal, Depends(require(Permission.SETTINGS_WRITE))]
Id = Annotated[str | None, Query(max_length=40)]
ENDPOINTS = "/webhook-endpoints"


def _production(runtime: RuntimeDep) -> bool:
    return runtime.settings.environment == "production"


@router.post(
    ENDPOINTS, status_code=status.HTTP_201_CREATED, response_model=WebhookEndpointWithSecret
)
async def create_webhook_endpoint(
    data: WebhookEndpointCreate, session: Session, principal: SettingsWrite, runtime: RuntimeDep
) -> Any:
    endpoint, secret = await webhooks.create_endpoint(
        session=session,
        principal=principal,
        keyring=runtime.keyring,
        production=_production(runtime),
        data=data,
    )
    return webhooks.to_out_with_secret(runtime.keyring, endpoint, secret)


@router.get(ENDPOINTS, response_model=PageOut[WebhookEndpointOut])
async def list_webhook_endpoints(
    session: Session,
    principal: SettingsRead,
    paging: Paging,
    runtime: RuntimeDep,
    company_id: Id = None,
    enabled: bool | None = None,
) -> Any:
    page = await webhooks.list_endpoints(
        session=session, principal=principal, page=paging, company_id=company_id, enabled=enabled
    )
    return page_out(page, lambda endpoint: webhooks.to_out(runtime.keyring, endpoint))


@router.get(ENDPOINTS + "/{endpoint_id}", response_model=WebhookEndpointOut)
async def get_webhook_endpoint(
    endpoint_id: str, session: Session, principal: SettingsRead, runtime: RuntimeDep
) -> Any:
    endpoint = await webhooks.get_endpoint(
        session=session, principal=principal, endpoint_id=endpoint_id
    )
    return webhooks.to_out(runtime.keyring, endpoint)


@router.patch(ENDPOINTS + "/{endpoint_id}", response_model=WebhookEndpointOut)
async def update_webhook_endpoint(
    endpoint_id: str,
    data: WebhookEndpointUpdate,
    session: Session,
    principal: SettingsWrite,
    runtime: RuntimeDep,
) -> Any:
    endpoint = await webhooks.update_endpoint(
        session=session,
        principal=principal,
        production=_production(runtime),
        endpoint_id=endpoint_id,
        data=data,
    )
    return webhooks.to_out(runtime.keyring, endpoint)


@router.delete(ENDPOINTS + "/{endpoint_id}", response_model=WebhookEndpointOut)
async def delete_webhook_endpoint(
    endpoint_id: str, session: Session, principal: SettingsWrite, runtime: RuntimeDep
) -> Any:
    endpoint = await webhooks.delete_endpoint(
        session=session, principal=principal, endpoint_id=endpoint_id
    )
    return webhooks.to_out(runtime.keyring, endpoint)


@router.post(ENDPOINTS + "/{endpoint_id}/rotate-secret", response_model=WebhookEndpointWithSecret)
async def rotate_webhook_secret(
    endpoint_id: str,
    session: Session,
    principal: SettingsWrite,
    runtime: RuntimeDep,
    data: Annotated[RotateSecret | None, Body()] = None,
) -> Any:
    endpoint, secret = await webhooks.rotate_secret(
        session=session,
        principal=principal,
        keyring=runtime.keyring,
        endpoint_id=endpoint_id,
        data=data or RotateSecret(),
    )
    return webhooks.to_out_with_secret(runtime.keyring, endpoint, secret)


@router.post(
    ENDPOINTS + "/{endpoint_id}/test",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=WebhookDeliveryOut,
)
async def test_webhook_endpoint(
    endpoint_id: str, session: Session, principal: SettingsWrite
) -> Any:
    """Queue a `webhook.test` event to this endpoint; the worker sends it within seconds."""
    test = await webhooks.send_test(session=session, principal=principal, endpoint_id=endpoint_id)
    return webhooks.delivery_out(test)


@router.get(ENDPOINTS + "/{endpoint_id}/deliveries", response_model=PageOut[WebhookDeliveryOut])
async def list_webhook_deliveries(
    endpoint_id: str,
    session: Session,
    principal: SettingsRead,
    paging: Paging,
    status: DeliveryStatus | None = None,
    event: Annotated[str | None, Query(max_length=100, description="An event name.")] = None,
) -> Any:
    page = await webhooks.list_deliveries(
        session=session,
        principal=principal,
        endpoint_id=endpoint_id,
        page=paging,
        status=status,
        event=event,
    )
    return page_out(page, webhooks.delivery_out)


@router.post(
    "/webhook-deliveries/{delivery_id}/resend",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=WebhookDeliveryOut,
)
async def resend_webhook_delivery(
    delivery_id: str, session: Session, principal: SettingsWrite
) -> Any:
    """Queue the delivery's event again for its endpoint (a new delivery, `resend_of` it)."""
    copy = await webhooks.resend(session=session, principal=principal, delivery_id=delivery_id)
    return webhooks.delivery_out(copy)

"""Request and response models of webhook endpoints and deliveries."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from avnz.core import events
from avnz.core.metadata import Metadata
from avnz.tenancy.schemas import ObjectId, StrictModel
from avnz.webhooks.models import DeliveryStatus

MAX_KEEP_PREVIOUS = 7 * 24 * 3600


def _event_pattern(value: str) -> str:
    if not events.known_pattern(value):
        raise ValueError(
            "must be `*`, `<prefix>.*` or one of " + ", ".join(sorted(events.catalogue()))
        )
    return value


EventPattern = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=100), AfterValidator(_event_pattern)
]
Events = Annotated[
    list[EventPattern],
    Field(min_length=1, max_length=50, description="Event names, `payment.*`, or `*` for all."),
]
Url = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=2048),
    Field(description="https (http only to a loopback address outside production)."),
]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


class WebhookEndpointCreate(StrictModel):
    company_id: ObjectId | None = Field(
        default=None, description="Required unless you are a company user (defaults to yours)."
    )
    url: Url
    events: Events
    description: Description | None = None
    metadata: Metadata = Field(default_factory=dict)
    enabled: bool = True


class WebhookEndpointUpdate(StrictModel):
    url: Url | None = None
    events: Events | None = None
    description: Description | None = None
    metadata: Metadata | None = None
    enabled: bool | None = None


class RotateSecret(StrictModel):
    keep_previous_for_seconds: int = Field(
        default=0,
        ge=0,
        le=MAX_KEEP_PREVIOUS,
        description=(
            "Keep signing with the old secret too for this long (up to 7 days), so receivers "
            "can switch without dropping events. 0 retires it at once."
        ),
    )


class WebhookEndpointOut(BaseModel):
    id: str
    object: Literal["webhook_endpoint"] = "webhook_endpoint"
    organization_id: str
    client_id: str
    company_id: str
    livemode: bool = Field(description="True: receives live events only; false: test events only.")
    url: str
    description: str | None
    events: list[str]
    metadata: dict[str, str]
    enabled: bool
    secret: str = Field(description="Masked; the full secret is shown on create and rotate only.")
    previous_secret_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime


class WebhookEndpointWithSecret(WebhookEndpointOut):
    secret: str = Field(
        description="The signing secret, in full. Store it now: it is not shown again."
    )


class WebhookDeliveryOut(BaseModel):
    id: str
    object: Literal["webhook_delivery"] = "webhook_delivery"
    endpoint_id: str
    event_id: str
    event: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    response_status: int | None
    latency_ms: int | None
    error: str | None
    delivered_at: datetime | None
    resend_of: str | None
    created_at: datetime

"""Response model of the audit log endpoints."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AuditLogOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    timestamp: datetime
    organization_id: str
    client_id: str | None
    company_id: str | None
    actor_type: str
    user_id: str | None
    user_email: str | None
    action: str
    resource: str
    resource_id: str | None
    previous_value: dict[str, Any] | None
    new_value: dict[str, Any] | None
    ip_address: str | None
    user_agent: str | None
    request_id: str | None
    metadata: dict[str, Any] = Field(validation_alias="metadata_")
    seq: int | None = Field(description="The row's place in its organization's hash chain.")
    prev_hash: str | None = Field(description="SHA-256 (hex) of the row before it in the chain.")
    hash: str | None = Field(description="SHA-256 (hex) of this row and prev_hash.")

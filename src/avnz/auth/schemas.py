"""Request and response models of the auth and API key endpoints."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from avnz.auth.permissions import Permission
from avnz.tenancy.models import Role

Password = Annotated[str, StringConstraints(min_length=10, max_length=256)]


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: EmailStr
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]


class RefreshIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=256)]


class AcceptInviteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    password: Password = Field(description="At least 10 characters.")
    name: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
        | None
    ) = None


class TokenOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - a scheme name
    expires_in: int


class MeOut(BaseModel):
    id: str
    kind: str
    email: str | None
    role: Role | None
    organization_id: str
    client_id: str | None
    company_id: str | None
    permissions: list[Permission]


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    company_id: Annotated[str, StringConstraints(min_length=1, max_length=40)] | None = Field(
        default=None, description="Required unless you are a company user (defaults to yours)."
    )
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    mode: Literal["test", "live"] = "test"
    permissions: list[Permission] = Field(min_length=1, max_length=len(Permission))


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    organization_id: str
    client_id: str
    company_id: str
    name: str
    mode: str
    display_prefix: str
    last4: str
    permissions: list[Permission]
    last_used_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime
    created_by: str | None


class ApiKeyCreated(ApiKeyOut):
    secret: str = Field(description="The full key. Shown once; store it now.")

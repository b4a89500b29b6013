"""Request and response models of the tenancy endpoints."""

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import available_timezones

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from avnz.tenancy.models import ClientStatus, CompanyStatus, Role, UserStatus

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Slug = Annotated[
    str,
    StringConstraints(min_length=1, max_length=80, pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$"),
]
ObjectId = Annotated[str, StringConstraints(min_length=1, max_length=40)]
JsonObject = Annotated[dict[str, Any], Field(max_length=100)]


def _known_timezone(value: str) -> str:
    if value not in available_timezones():
        raise ValueError(f"unknown IANA timezone {value!r}")
    return value


Timezone = Annotated[str, AfterValidator(_known_timezone)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True, populate_by_name=True)


class Audited(Out):
    created_at: datetime
    updated_at: datetime
    created_by: str | None
    updated_by: str | None


class OrganizationOut(Audited):
    id: str
    name: str
    slug: str
    billing_email: str | None
    support_email: str | None
    settings: dict[str, Any]


class OrganizationUpdate(StrictModel):
    name: Name | None = None
    billing_email: EmailStr | None = None
    support_email: EmailStr | None = None
    settings: JsonObject | None = Field(
        default=None, description="Organization settings; `oidc` configures the external IdP."
    )


class ClientCreate(StrictModel):
    name: Name
    slug: Slug | None = Field(default=None, description="Derived from the name when omitted.")
    settings: JsonObject = Field(default_factory=dict)
    metadata: JsonObject = Field(default_factory=dict)


class ClientUpdate(StrictModel):
    name: Name | None = None
    slug: Slug | None = None
    status: ClientStatus | None = None
    settings: JsonObject | None = None
    metadata: JsonObject | None = None


class ClientOut(Audited):
    id: str
    organization_id: str
    name: str
    slug: str
    status: ClientStatus
    settings: dict[str, Any]
    metadata: dict[str, Any] = Field(validation_alias="metadata_")
    deleted_at: datetime | None


class CompanyCreate(StrictModel):
    client_id: ObjectId | None = Field(
        default=None, description="Required for organization admins; defaults to your client."
    )
    name: Name
    slug: Slug | None = None
    timezone: Timezone = "UTC"
    settings: JsonObject = Field(default_factory=dict)
    metadata: JsonObject = Field(default_factory=dict)


class CompanyUpdate(StrictModel):
    name: Name | None = None
    slug: Slug | None = None
    status: CompanyStatus | None = None
    timezone: Timezone | None = None
    settings: JsonObject | None = None
    metadata: JsonObject | None = None


class CompanyOut(Audited):
    id: str
    organization_id: str
    client_id: str
    name: str
    slug: str
    status: CompanyStatus
    timezone: str
    settings: dict[str, Any]
    metadata: dict[str, Any] = Field(validation_alias="metadata_")
    deleted_at: datetime | None


class DepartmentCreate(StrictModel):
    company_id: ObjectId | None = Field(
        default=None, description="Required unless you are a company user (defaults to yours)."
    )
    name: Name
    description: Annotated[str, StringConstraints(max_length=1000)] | None = None


class DepartmentUpdate(StrictModel):
    name: Name | None = None
    description: Annotated[str, StringConstraints(max_length=1000)] | None = None


class DepartmentOut(Audited):
    id: str
    organization_id: str
    client_id: str
    company_id: str
    name: str
    description: str | None


class UserInvite(StrictModel):
    email: EmailStr
    name: Name
    role: Role
    client_id: ObjectId | None = None
    company_id: ObjectId | None = None
    department_id: ObjectId | None = None


class UserUpdate(StrictModel):
    name: Name | None = None
    role: Role | None = None
    status: UserStatus | None = Field(default=None, description="`active` or `suspended`.")
    department_id: ObjectId | None = None
    auth0_id: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None
    preferences: JsonObject | None = None


class UserOut(Audited):
    id: str
    auth0_id: str | None
    email: str
    name: str
    role: Role
    status: UserStatus
    organization_id: str
    client_id: str | None
    company_id: str | None
    department_id: str | None
    last_login_at: datetime | None
    preferences: dict[str, Any]
    deleted_at: datetime | None


class InviteOut(BaseModel):
    user: UserOut
    invite_token: str = Field(description="Shown once; the invited user sets a password with it.")
    accept_url: str
    expires_at: datetime

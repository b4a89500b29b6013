"""Request and response models of the tenancy endpoints."""

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    field_validator,
)

from avnz.tenancy.models import ClientStatus, CompanyStatus, Role, UserStatus

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Slug = Annotated[
    str,
    StringConstraints(min_length=1, max_length=80, pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$"),
]
ObjectId = Annotated[str, StringConstraints(min_length=1, max_length=40)]
MAX_JSON_DEPTH = 16


def _children(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [*value.keys(), *value.values()]
    return list(value) if isinstance(value, list) else []


def _shallow(value: dict[str, Any]) -> dict[str, Any]:
    # Deep nesting has no business use and would exhaust the recursion of masking and encoding;
    # measured level by level so that measuring it cannot exhaust the stack either.
    level: list[Any] = [value]
    for _ in range(MAX_JSON_DEPTH):
        level = [child for item in level for child in _children(item)]
    if any(isinstance(item, dict | list) for item in level):
        raise ValueError(f"must not nest deeper than {MAX_JSON_DEPTH} levels")
    return value


JsonObject = Annotated[dict[str, Any], Field(max_length=100), AfterValidator(_shallow)]


def _contains_nul(value: Any) -> bool:
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str) and "\x00" in item:
            return True
        pending.extend(_children(item))
    return False


def _known_timezone(value: str) -> str:
    if value not in available_timezones():
        raise ValueError("unknown IANA timezone")
    return value


Timezone = Annotated[str, AfterValidator(_known_timezone)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        """PostgreSQL cannot store NUL characters; refuse them here, naming the field."""
        if _contains_nul(value):
            raise ValueError("must not contain NUL characters")
        return value


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
        default=None,
        description="Organization settings. The external IdP is an integration "
        "(Auth0, Okta or Cognito), not a setting.",
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

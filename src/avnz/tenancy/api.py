"""Routes of the tenant hierarchy; each is a dependency list, one service call and a schema."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, status

from avnz.auth.permissions import Permission as P
from avnz.auth.scope import Principal
from avnz.conventions import ApiRoute
from avnz.core.pagination import PageOut, Paging, page_out
from avnz.deps import RuntimeDep, Session, require
from avnz.tenancy import schemas
from avnz.tenancy import service as tenancy
from avnz.tenancy.models import ClientStatus, CompanyStatus, Role, UserStatus

router = APIRouter(route_class=ApiRoute)


OrgAdmin = Annotated[Principal, Depends(require(P.ADMIN_SYSTEM))]
ClientsAdmin = Annotated[Principal, Depends(require(P.ADMIN_CLIENTS))]
SettingsRead = Annotated[Principal, Depends(require(P.SETTINGS_READ))]
SettingsWrite = Annotated[Principal, Depends(require(P.SETTINGS_WRITE))]
UsersAdmin = Annotated[Principal, Depends(require(P.ADMIN_USERS))]
Id = Annotated[str, Query(max_length=40)]

# --- organizations ---------------------------------------------------------------------------


@router.get(
    "/organizations", response_model=PageOut[schemas.OrganizationOut], tags=["organizations"]
)
async def list_organizations(session: Session, principal: OrgAdmin, paging: Paging) -> Any:
    page = await tenancy.list_organizations(session=session, principal=principal, page=paging)
    return page_out(page, schemas.OrganizationOut)


@router.get(
    "/organizations/{organization_id}",
    response_model=schemas.OrganizationOut,
    tags=["organizations"],
)
async def get_organization(organization_id: str, session: Session, principal: OrgAdmin) -> Any:
    return await tenancy.get_organization(
        session=session, principal=principal, organization_id=organization_id
    )


@router.patch(
    "/organizations/{organization_id}",
    response_model=schemas.OrganizationOut,
    tags=["organizations"],
)
async def update_organization(
    organization_id: str,
    data: schemas.OrganizationUpdate,
    session: Session,
    principal: OrgAdmin,
) -> Any:
    return await tenancy.update_organization(
        session=session, principal=principal, organization_id=organization_id, data=data
    )


# --- clients ---------------------------------------------------------------------------------


@router.post(
    "/clients",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.ClientOut,
    tags=["clients"],
)
async def create_client(
    data: schemas.ClientCreate, session: Session, principal: ClientsAdmin
) -> Any:
    return await tenancy.create_client(session=session, principal=principal, data=data)


@router.get("/clients", response_model=PageOut[schemas.ClientOut], tags=["clients"])
async def list_clients(
    session: Session, principal: SettingsRead, paging: Paging, status: ClientStatus | None = None
) -> Any:
    page = await tenancy.list_clients(
        session=session, principal=principal, page=paging, status=status
    )
    return page_out(page, schemas.ClientOut)


@router.get("/clients/{client_id}", response_model=schemas.ClientOut, tags=["clients"])
async def get_client(client_id: str, session: Session, principal: SettingsRead) -> Any:
    return await tenancy.get_client(session=session, principal=principal, client_id=client_id)


@router.patch("/clients/{client_id}", response_model=schemas.ClientOut, tags=["clients"])
async def update_client(
    client_id: str, data: schemas.ClientUpdate, session: Session, principal: SettingsWrite
) -> Any:
    return await tenancy.update_client(
        session=session, principal=principal, client_id=client_id, data=data
    )


@router.delete("/clients/{client_id}", response_model=schemas.ClientOut, tags=["clients"])
async def delete_client(client_id: str, session: Session, principal: ClientsAdmin) -> Any:
    return await tenancy.delete_client(session=session, principal=principal, client_id=client_id)


# --- companies -------------------------------------------------------------------------------


@router.post(
    "/companies",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.CompanyOut,
    tags=["companies"],
)
async def create_company(
    data: schemas.CompanyCreate, session: Session, principal: SettingsWrite
) -> Any:
    return await tenancy.create_company(session=session, principal=principal, data=data)


@router.get("/companies", response_model=PageOut[schemas.CompanyOut], tags=["companies"])
async def list_companies(
    session: Session,
    principal: SettingsRead,
    paging: Paging,
    client_id: Id | None = None,
    status: CompanyStatus | None = None,
) -> Any:
    page = await tenancy.list_companies(
        session=session, principal=principal, page=paging, client_id=client_id, status=status
    )
    return page_out(page, schemas.CompanyOut)


@router.get("/companies/{company_id}", response_model=schemas.CompanyOut, tags=["companies"])
async def get_company(company_id: str, session: Session, principal: SettingsRead) -> Any:
    return await tenancy.get_company(session=session, principal=principal, company_id=company_id)


@router.patch("/companies/{company_id}", response_model=schemas.CompanyOut, tags=["companies"])
async def update_company(
    company_id: str, data: schemas.CompanyUpdate, session: Session, principal: SettingsWrite
) -> Any:
    return await tenancy.update_company(
        session=session, principal=principal, company_id=company_id, data=data
    )


@router.delete("/companies/{company_id}", response_model=schemas.CompanyOut, tags=["companies"])
async def delete_company(company_id: str, session: Session, principal: SettingsWrite) -> Any:
    return await tenancy.delete_company(session=session, principal=principal, company_id=company_id)


# --- departments -----------------------------------------------------------------------------


@router.post(
    "/departments",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.DepartmentOut,
    tags=["departments"],
)
async def create_department(
    data: schemas.DepartmentCreate, session: Session, principal: SettingsWrite
) -> Any:
    return await tenancy.create_department(session=session, principal=principal, data=data)


@router.get("/departments", response_model=PageOut[schemas.DepartmentOut], tags=["departments"])
async def list_departments(
    session: Session, principal: SettingsRead, paging: Paging, company_id: Id | None = None
) -> Any:
    page = await tenancy.list_departments(
        session=session, principal=principal, page=paging, company_id=company_id
    )
    return page_out(page, schemas.DepartmentOut)


@router.get(
    "/departments/{department_id}", response_model=schemas.DepartmentOut, tags=["departments"]
)
async def get_department(department_id: str, session: Session, principal: SettingsRead) -> Any:
    return await tenancy.get_department(
        session=session, principal=principal, department_id=department_id
    )


@router.patch(
    "/departments/{department_id}", response_model=schemas.DepartmentOut, tags=["departments"]
)
async def update_department(
    department_id: str, data: schemas.DepartmentUpdate, session: Session, principal: SettingsWrite
) -> Any:
    return await tenancy.update_department(
        session=session, principal=principal, department_id=department_id, data=data
    )


@router.delete(
    "/departments/{department_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["departments"]
)
async def delete_department(department_id: str, session: Session, principal: SettingsWrite) -> None:
    await tenancy.delete_department(
        session=session, principal=principal, department_id=department_id
    )


# --- users -----------------------------------------------------------------------------------


@router.post(
    "/users/invite",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.InviteOut,
    tags=["users"],
)
async def invite_user(
    data: schemas.UserInvite, session: Session, principal: UsersAdmin, runtime: RuntimeDep
) -> Any:
    user, token, expires_at = await tenancy.invite_user(
        session=session,
        principal=principal,
        data=data,
        invite_ttl_seconds=runtime.settings.invite_ttl_seconds,
    )
    return schemas.InviteOut(
        user=schemas.UserOut.model_validate(user),
        invite_token=token,
        accept_url=f"{runtime.settings.base_url.rstrip('/')}/accept-invite#token={token}",
        expires_at=expires_at,
    )


@router.get("/users", response_model=PageOut[schemas.UserOut], tags=["users"])
async def list_users(
    session: Session,
    principal: UsersAdmin,
    paging: Paging,
    role: Role | None = None,
    status: UserStatus | None = None,
    company_id: Id | None = None,
    email: Annotated[str | None, Query(max_length=320)] = None,
) -> Any:
    page = await tenancy.list_users(
        session=session,
        principal=principal,
        page=paging,
        role=role,
        status=status,
        company_id=company_id,
        email=email,
    )
    return page_out(page, schemas.UserOut)


@router.get("/users/{user_id}", response_model=schemas.UserOut, tags=["users"])
async def get_user(user_id: str, session: Session, principal: UsersAdmin) -> Any:
    return await tenancy.get_user(session=session, principal=principal, user_id=user_id)


@router.patch("/users/{user_id}", response_model=schemas.UserOut, tags=["users"])
async def update_user(
    user_id: str, data: schemas.UserUpdate, session: Session, principal: UsersAdmin
) -> Any:
    return await tenancy.update_user(
        session=session, principal=principal, user_id=user_id, data=data
    )


@router.delete("/users/{user_id}", response_model=schemas.UserOut, tags=["users"])
async def delete_user(user_id: str, session: Session, principal: UsersAdmin) -> Any:
    return await tenancy.delete_user(session=session, principal=principal, user_id=user_id)

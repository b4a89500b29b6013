"""`/customers`, `/products` and `/orders` of a company: customers:read to see them,
customers:write to create and change them, customers:delete to delete them."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, status

from avnz.auth.permissions import Permission
from avnz.auth.scope import Principal
from avnz.commerce import schemas
from avnz.commerce import service as commerce
from avnz.commerce.models import CustomerStatus, CustomerType, OrderStatus, RiskLevel
from avnz.conventions import ApiRoute
from avnz.core.money import CurrencyCode
from avnz.core.pagination import PageOut, Paging, page_out
from avnz.core.params import IsoAwareDatetime
from avnz.deps import Session, require

router = APIRouter(route_class=ApiRoute)
Read = Annotated[Principal, Depends(require(Permission.CUSTOMERS_READ))]
Write = Annotated[Principal, Depends(require(Permission.CUSTOMERS_WRITE))]
Delete = Annotated[Principal, Depends(require(Permission.CUSTOMERS_DELETE))]
Id = Annotated[str | None, Query(max_length=40)]
Search = Annotated[str | None, Query(max_length=200, description="Part of the name or email.")]
Amount = Annotated[int | None, Query(ge=0, le=schemas.MAX_TOTAL, description="Minor units.")]
Instant = Annotated[IsoAwareDatetime | None, Query(description="Inclusive, ISO 8601 with offset.")]

# --- customers -------------------------------------------------------------------------------


@router.post(
    "/customers",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.CustomerOut,
    tags=["customers"],
)
async def create_customer(data: schemas.CustomerCreate, session: Session, principal: Write) -> Any:
    return await commerce.create_customer(session=session, principal=principal, data=data)


@router.get("/customers", response_model=PageOut[schemas.CustomerOut], tags=["customers"])
async def list_customers(
    session: Session,
    principal: Read,
    paging: Paging,
    company_id: Id = None,
    status: Annotated[
        CustomerStatus | None, Query(description="`deleted` lists deleted customers.")
    ] = None,
    type: CustomerType | None = None,
    risk_level: RiskLevel | None = None,
    segment: Annotated[
        schemas.Segment | None, Query(max_length=64, description="Customers in this segment.")
    ] = None,
    email: Annotated[str | None, Query(max_length=320, description="Exact, any case.")] = None,
    external_id: Annotated[str | None, Query(max_length=100)] = None,
    search: Search = None,
) -> Any:
    page = await commerce.list_customers(
        session=session,
        principal=principal,
        page=paging,
        company_id=company_id,
        status=status,
        type=type,
        risk_level=risk_level,
        segment=segment,
        email=email,
        external_id=external_id,
        search=search,
    )
    return page_out(page, schemas.CustomerOut)


@router.get("/customers/{customer_id}", response_model=schemas.CustomerOut, tags=["customers"])
async def get_customer(customer_id: str, session: Session, principal: Read) -> Any:
    return await commerce.get_customer(
        session=session, principal=principal, customer_id=customer_id
    )


@router.patch("/customers/{customer_id}", response_model=schemas.CustomerOut, tags=["customers"])
async def update_customer(
    customer_id: str, data: schemas.CustomerUpdate, session: Session, principal: Write
) -> Any:
    return await commerce.update_customer(
        session=session, principal=principal, customer_id=customer_id, data=data
    )


@router.delete("/customers/{customer_id}", response_model=schemas.CustomerOut, tags=["customers"])
async def delete_customer(customer_id: str, session: Session, principal: Delete) -> Any:
    return await commerce.delete_customer(
        session=session, principal=principal, customer_id=customer_id
    )


# --- products --------------------------------------------------------------------------------


@router.post(
    "/products",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.ProductOut,
    tags=["products"],
)
async def create_product(data: schemas.ProductCreate, session: Session, principal: Write) -> Any:
    return await commerce.create_product(session=session, principal=principal, data=data)


@router.get("/products", response_model=PageOut[schemas.ProductOut], tags=["products"])
async def list_products(
    session: Session,
    principal: Read,
    paging: Paging,
    company_id: Id = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
    active: bool | None = None,
    is_subscription: bool | None = None,
    sku: Annotated[str | None, Query(max_length=64)] = None,
    search: Annotated[
        str | None, Query(max_length=200, description="Part of the name or sku.")
    ] = None,
) -> Any:
    page = await commerce.list_products(
        session=session,
        principal=principal,
        page=paging,
        company_id=company_id,
        category=category,
        active=active,
        is_subscription=is_subscription,
        sku=sku,
        search=search,
    )
    return page_out(page, schemas.ProductOut)


@router.get("/products/{product_id}", response_model=schemas.ProductOut, tags=["products"])
async def get_product(product_id: str, session: Session, principal: Read) -> Any:
    return await commerce.get_product(session=session, principal=principal, product_id=product_id)


@router.patch("/products/{product_id}", response_model=schemas.ProductOut, tags=["products"])
async def update_product(
    product_id: str, data: schemas.ProductUpdate, session: Session, principal: Write
) -> Any:
    return await commerce.update_product(
        session=session, principal=principal, product_id=product_id, data=data
    )


@router.delete("/products/{product_id}", response_model=schemas.ProductOut, tags=["products"])
async def delete_product(product_id: str, session: Session, principal: Delete) -> Any:
    return await commerce.delete_product(
        session=session, principal=principal, product_id=product_id
    )


# --- orders ----------------------------------------------------------------------------------


@router.post(
    "/orders",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.OrderOut,
    tags=["orders"],
)
async def create_order(data: schemas.OrderCreate, session: Session, principal: Write) -> Any:
    return await commerce.create_order(session=session, principal=principal, data=data)


@router.get("/orders", response_model=PageOut[schemas.OrderOut], tags=["orders"])
async def list_orders(
    session: Session,
    principal: Read,
    paging: Paging,
    company_id: Id = None,
    customer_id: Id = None,
    status: OrderStatus | None = None,
    currency: Annotated[CurrencyCode | None, Query(max_length=3)] = None,
    created_gte: Instant = None,
    created_lte: Instant = None,
    total_gte: Amount = None,
    total_lte: Amount = None,
) -> Any:
    page = await commerce.list_orders(
        session=session,
        principal=principal,
        page=paging,
        company_id=company_id,
        customer_id=customer_id,
        status=status,
        currency=currency,
        created_gte=created_gte,
        created_lte=created_lte,
        total_gte=total_gte,
        total_lte=total_lte,
    )
    return page_out(page, schemas.OrderOut)


@router.get("/orders/{order_id}", response_model=schemas.OrderOut, tags=["orders"])
async def get_order(order_id: str, session: Session, principal: Read) -> Any:
    return await commerce.get_order(session=session, principal=principal, order_id=order_id)


@router.patch("/orders/{order_id}", response_model=schemas.OrderOut, tags=["orders"])
async def update_order(
    order_id: str, data: schemas.OrderUpdate, session: Session, principal: Write
) -> Any:
    return await commerce.update_order(
        session=session, principal=principal, order_id=order_id, data=data
    )


@router.delete("/orders/{order_id}", response_model=schemas.OrderOut, tags=["orders"])
async def delete_order(order_id: str, session: Session, principal: Delete) -> Any:
    return await commerce.delete_order(session=session, principal=principal, order_id=order_id)

"""`GET /routing-rules/lint`: what rule lint finds in a company's routing rules.

Included before the rules CRUD router, so `/routing-rules/lint` is not read as a rule id."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from avnz.auth.permissions import Permission
from avnz.auth.scope import Principal
from avnz.deps import Session, require
from avnz.rules import lint

router = APIRouter(prefix="/routing-rules", tags=["routing rules"])
RoutingRead = Annotated[Principal, Depends(require(Permission.ROUTING_READ))]


@router.get("/lint", response_model=lint.LintOut)
async def lint_routing_rules(
    session: Session,
    principal: RoutingRead,
    company_id: Annotated[
        str, Query(max_length=40, description="The company whose rules to lint.")
    ],
) -> Any:
    """Warnings about the company's rules: never matching, shadowed, ended, bad targets."""
    return await lint.lint_visible_company(
        session=session, principal=principal, company_id=company_id
    )

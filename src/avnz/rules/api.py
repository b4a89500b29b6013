"""`/routing-rules`: a company's gateway rules, in priority order, with their version history
and analytics; rule lint, the tester and the simulator.

The fixed paths (`/lint`, `/test`, `/simulate`, `/reorder`) are declared before `/{rule_id}`
in this one router, so a rule id never captures them."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, status

from avnz.auth.permissions import Permission
from avnz.auth.scope import Principal
from avnz.conventions import ApiRoute
from avnz.core.pagination import Page, PageOut, Paging, page_out
from avnz.core.params import IsoDate
from avnz.deps import RuntimeDep, Session, require
from avnz.rules import lint, service, simulation, tester
from avnz.rules.schemas import (
    ReorderRequest,
    RuleAnalyticsOut,
    RuleCreate,
    RuleDetail,
    RuleOut,
    RuleTestOut,
    RuleTestRequest,
    RuleUpdate,
    RuleVersionOut,
    RuleWithWarnings,
    SimulationOut,
    SimulationRequest,
)

router = APIRouter(route_class=ApiRoute, prefix="/routing-rules", tags=["routing rules"])
RoutingRead = Annotated[Principal, Depends(require(Permission.ROUTING_READ))]
RoutingWrite = Annotated[Principal, Depends(require(Permission.ROUTING_WRITE))]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=RuleWithWarnings)
async def create_routing_rule(data: RuleCreate, session: Session, principal: RoutingWrite) -> Any:
    rule = await service.create_rule(session=session, principal=principal, data=data)
    return await service.with_warnings(session=session, rule=rule)


@router.get("", response_model=PageOut[RuleOut])
async def list_routing_rules(
    session: Session,
    principal: RoutingRead,
    paging: Paging,
    is_active: bool | None = None,
    is_default: bool | None = None,
    company_id: Annotated[str | None, Query(max_length=40)] = None,
    q: Annotated[str | None, Query(max_length=200, description="Name contains (any case).")] = None,
) -> Any:
    """Live rules in priority order (lower first, then id); the cursor is a rule id."""
    page = await service.list_rules(
        session=session,
        principal=principal,
        page=paging,
        is_active=is_active,
        is_default=is_default,
        company_id=company_id,
        q=q,
    )
    return page_out(page, RuleOut)


@router.post("/reorder", response_model=PageOut[RuleOut])
async def reorder_routing_rules(
    data: ReorderRequest, session: Session, principal: RoutingWrite
) -> Any:
    """Priorities 10, 20, 30… in the order given; every live rule of the company, once."""
    rules = await service.reorder_rules(session=session, principal=principal, data=data)
    return page_out(Page(items=rules, has_more=False), RuleOut)


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


@router.post("/test", response_model=RuleTestOut)
async def test_routing_rules(
    data: RuleTestRequest, session: Session, principal: RoutingRead, runtime: RuntimeDep
) -> Any:
    """One sample transaction through the company's rules (or through `rule`, a draft): the
    rule that matches, every rule's condition results and the actions that would run. Nothing
    is counted, queued or reserved."""
    return await tester.test_rules(
        session=session, principal=principal, cache=runtime.rule_cache, data=data
    )


@router.post("/simulate", response_model=SimulationOut)
async def simulate_routing_rules(
    data: SimulationRequest, session: Session, principal: RoutingRead, runtime: RuntimeDep
) -> Any:
    """Replay the payments of a date range (at most 92 days, `limit` payments) through the
    current rules: what would match versus what actually routed them."""
    history = runtime.payment_history
    assert history is not None, "avnz.app wires the payments domain's history into the runtime"
    return await simulation.simulate(
        session=session, principal=principal, cache=runtime.rule_cache, history=history, data=data
    )


@router.get("/{rule_id}", response_model=RuleDetail)
async def get_routing_rule(rule_id: str, session: Session, principal: RoutingRead) -> Any:
    rule = await service.get_rule(session=session, principal=principal, rule_id=rule_id)
    return await service.rule_detail(session=session, rule=rule)


@router.patch("/{rule_id}", response_model=RuleWithWarnings)
async def update_routing_rule(
    rule_id: str, data: RuleUpdate, session: Session, principal: RoutingWrite
) -> Any:
    rule = await service.update_rule(
        session=session, principal=principal, rule_id=rule_id, data=data
    )
    return await service.with_warnings(session=session, rule=rule)


@router.delete("/{rule_id}", response_model=RuleOut)
async def delete_routing_rule(rule_id: str, session: Session, principal: RoutingWrite) -> Any:
    """Soft delete: the rule stops running and leaves the list; its history stays."""
    return await service.delete_rule(session=session, principal=principal, rule_id=rule_id)


@router.post("/{rule_id}/toggle", response_model=RuleOut)
async def toggle_routing_rule(rule_id: str, session: Session, principal: RoutingWrite) -> Any:
    return await service.toggle_rule(session=session, principal=principal, rule_id=rule_id)


@router.post(
    "/{rule_id}/duplicate", status_code=status.HTTP_201_CREATED, response_model=RuleWithWarnings
)
async def duplicate_routing_rule(rule_id: str, session: Session, principal: RoutingWrite) -> Any:
    """An inactive copy, last in the order."""
    rule = await service.duplicate_rule(session=session, principal=principal, rule_id=rule_id)
    return await service.with_warnings(session=session, rule=rule)


@router.get("/{rule_id}/analytics", response_model=RuleAnalyticsOut)
async def routing_rule_analytics(
    rule_id: str,
    session: Session,
    principal: RoutingRead,
    since: Annotated[
        IsoDate | None, Query(description="First UTC day (default: 29 days ago).")
    ] = None,
    until: Annotated[IsoDate | None, Query(description="Last UTC day (default: today).")] = None,
) -> Any:
    """Hits and outcomes per day and per A/B arm; at most 366 days."""
    return await service.analytics_for(
        session=session, principal=principal, rule_id=rule_id, since=since, until=until
    )


@router.get("/{rule_id}/versions", response_model=PageOut[RuleVersionOut])
async def list_routing_rule_versions(
    rule_id: str, session: Session, principal: RoutingRead, paging: Paging
) -> Any:
    """Newest first."""
    page = await service.list_versions(
        session=session, principal=principal, rule_id=rule_id, page=paging
    )
    return page_out(page, RuleVersionOut)

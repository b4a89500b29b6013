"""`POST /routing-rules/test` and `POST /routing-rules/simulate`: try the rules without routing
anything. Both read the company's rules through the process's compiled cache, as payments do."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from avnz.auth.permissions import Permission
from avnz.auth.scope import Principal
from avnz.deps import RuntimeDep, Session, require
from avnz.rules import simulation, testing
from avnz.rules.tool_schemas import RuleTestOut, RuleTestRequest, SimulationOut, SimulationRequest

router = APIRouter(prefix="/routing-rules", tags=["routing rules"])
RoutingRead = Annotated[Principal, Depends(require(Permission.ROUTING_READ))]


@router.post("/test", response_model=RuleTestOut)
async def test_routing_rules(
    data: RuleTestRequest, session: Session, principal: RoutingRead, runtime: RuntimeDep
) -> Any:
    """One sample transaction through the company's rules (or through `rule`, a draft): the
    rule that matches, every rule's condition results and the actions that would run. Nothing
    is counted, queued or reserved."""
    return await testing.test_rules(
        session=session, principal=principal, cache=runtime.rule_cache, data=data
    )


@router.post("/simulate", response_model=SimulationOut)
async def simulate_routing_rules(
    data: SimulationRequest, session: Session, principal: RoutingRead, runtime: RuntimeDep
) -> Any:
    """Replay the payments of a date range (at most 92 days, `limit` payments) through the
    current rules: what would match versus what actually routed them."""
    return await simulation.simulate(
        session=session,
        principal=principal,
        cache=runtime.rule_cache,
        history=_wired(runtime.payment_history),
        data=data,
    )


def _wired(history: simulation.PaymentHistory | None) -> simulation.PaymentHistory:
    assert history is not None, "avnz.app wires the payments domain's history into the runtime"
    return history

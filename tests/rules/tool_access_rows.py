"""The access-matrix rows of the rule tester and simulator: routing:read, aimed at brand A1
(which needs no rules: no match and an empty replay are answers too)."""

from tests.tenancy.matrix import Endpoint, P

SAMPLE = {"amount": 1999, "currency": "USD", "country": "DE"}
RANGE = {"since": "2026-01-01T00:00:00Z", "until": "2026-02-01T00:00:00Z"}

ROWS: list[Endpoint] = [
    Endpoint(
        "POST",
        "/routing-rules/test",
        P.ROUTING_READ,
        body=lambda s: {"company_id": s.target("company"), "transaction": SAMPLE},
        echoes=None,
    ),
    Endpoint(
        "POST",
        "/routing-rules/simulate",
        P.ROUTING_READ,
        body=lambda s: {"company_id": s.target("company"), **RANGE},
        echoes=None,
    ),
]

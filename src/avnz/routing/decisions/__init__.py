"""Which account takes a payment: `models` (circuits, routing's attempt records), `schemas`
(a payment's routing decision and attempts), `service` (the face: `plan_route`, `prefer`,
`record_attempts`), with `snapshot` (the live usage, circuits and stats one plan reads),
`failover`, `circuit_breaker`, `scoring` (health score) and `tasks`. The strategies it runs are
plugins in `routing.strategies`."""

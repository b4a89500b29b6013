"""Pools: groups of a company's merchant accounts and the strategy that spreads payments over
them. `models` (tables), `schemas` (the API's models), `service` (the face: CRUD, memberships,
stats, simulation), `api` (`/account-pools`)."""

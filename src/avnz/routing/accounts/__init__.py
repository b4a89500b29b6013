"""Merchant accounts (MIDs): `models` (accounts, usage counters, their enums), `schemas`,
`service` (the face: CRUD, credentials, integration links), `api` (`/merchant-accounts`), with
`usage` (caps: reserve, release, read), `fees`, `connection` (test a connection), `integration_sync`
and `health` (the periodic health check)."""

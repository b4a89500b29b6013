"""The domain packages, named in one place; `load()` registers their tables and their events.

The database layer and the outbox sit below the domains and never import them, so whoever needs
the whole picture (the app factory, the CLI, Alembic's env.py, the tests) calls `load()` first:
it fills `Base.metadata` from each domain's ORM modules and the event catalogue from each
domain's `events.py`. A new domain adds its package here.
"""

import importlib

from avnz.core import events

# Every module that declares ORM tables, domain by domain.
MODEL_MODULES = (
    "avnz.tenancy.models",
    "avnz.auth.models",
    "avnz.audit.models",
    "avnz.commerce.models",
    "avnz.bins.models",
    "avnz.integrations.models",
    "avnz.payments.models",
    "avnz.idempotency",
    "avnz.routing.accounts.models",
    "avnz.routing.decisions.models",
    "avnz.routing.pools.models",
    "avnz.rules.models",
    "avnz.webhooks.models",
    "avnz.disputes.models",
    "avnz.outbox.models",
    "avnz.jobs.models",
    "avnz.db.versions",
)

# Every module that declares events (an `EVENTS` mapping of name to meaning).
EVENT_MODULES = (
    "avnz.payments.events",
    "avnz.rules.events",
    "avnz.webhooks.events",
)


def load() -> None:
    """Import every domain's tables and declare every domain's events; safe to call again."""
    for name in MODEL_MODULES:
        importlib.import_module(name)
    for name in EVENT_MODULES:
        events.declare(importlib.import_module(name).EVENTS)

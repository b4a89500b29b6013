"""Every background job handler, gathered for the worker."""

from avnz.audit import tasks as audit_tasks
from avnz.auth import tasks as auth_tasks
from avnz.jobs.service import Handler
from avnz.payments import history as payments_history
from avnz.payments import tasks as payments_tasks
from avnz.routing.decisions import tasks as routing_tasks
from avnz.rules import notify as rules_notify
from avnz.runtime import Runtime
from avnz.webhooks import tasks as webhooks_tasks


def handlers(runtime: Runtime) -> dict[str, Handler]:
    """The handlers; some need the process's runtime (HTTP client, keyring, sessions)."""
    return {
        **audit_tasks.HANDLERS,
        **auth_tasks.HANDLERS,
        **payments_tasks.handlers(runtime),
        **routing_tasks.handlers(runtime, money=payments_history.money_windows),
        **rules_notify.handlers(runtime),
        **webhooks_tasks.handlers(runtime),
    }


def recurring() -> list[str]:
    return [
        *audit_tasks.RECURRING,
        *auth_tasks.RECURRING,
        *payments_tasks.RECURRING,
        *routing_tasks.RECURRING,
        *webhooks_tasks.RECURRING,
    ]

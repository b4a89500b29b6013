"""Every background job handler, gathered for the worker."""

from avnz.auth import tasks as auth_tasks
from avnz.core.jobs import Handler


def handlers() -> dict[str, Handler]:
    return {**auth_tasks.HANDLERS}


def recurring() -> list[str]:
    return [*auth_tasks.RECURRING]

"""Every gateway's sandbox on one loopback port, started once per test process."""

import contextlib
import functools

from starlette.routing import Router

from avnz.gateways import registry
from tests.support.live_server import live_server


@functools.cache
def sandbox_base_url() -> str:
    """{base}/{gateway} serves that gateway's sandbox until the process exits."""
    server = live_server(Router(registry.sandbox_mounts()))
    base = server.__enter__()  # left open on purpose: a daemon thread ends with the process
    _keep.append(server)
    return base


_keep: list[contextlib.AbstractContextManager[str]] = []

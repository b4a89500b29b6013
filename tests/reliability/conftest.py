"""Fixtures of the reliability tests: an NMI sandbox of their own, and servers as processes."""

from collections.abc import Iterator

import pytest

from avnz.gateways import registry
from avnz.gateways.sandbox.common import FaultMode
from tests.reliability.support import Sandbox
from tests.support.live_server import live_server


@pytest.fixture(scope="module")
def nmi() -> Iterator[Sandbox]:
    app = registry.gateway("nmi").create_sandbox()
    with live_server(app) as url:
        yield Sandbox(url, app.state.sandbox)


@pytest.fixture
def sandbox(nmi: Sandbox) -> Iterator[Sandbox]:
    """The module's sandbox, with no fault and an empty ledger for this test."""
    nmi.state.ledger.transactions.clear()
    yield nmi
    nmi.state.faults.set(FaultMode.NONE)

"""Fixtures of the auth tests: an identity provider served over loopback HTTP."""

from collections.abc import Iterator

import pytest

from tests.auth.idp import IdentityProvider


@pytest.fixture
def idp() -> Iterator[IdentityProvider]:
    provider = IdentityProvider()
    provider.start()
    yield provider
    provider.stop()

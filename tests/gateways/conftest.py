"""Shared fixtures for connector tests: an httpx client for the connector under test."""

from collections.abc import AsyncIterator

import httpx
import pytest


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """The shared outbound client a connector gets in production (real sockets)."""
    async with httpx.AsyncClient() as client:
        yield client

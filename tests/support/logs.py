"""`captured_logs`: logging as `avnz serve` configures it, into a buffer a test can search."""

import logging
from collections.abc import Iterator
from io import StringIO

import pytest
import structlog

from avnz.core.logging import configure_logging

_TOUCHED_LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access", "alembic")


@pytest.fixture
def captured_logs() -> Iterator[StringIO]:
    """Logging as `avnz serve` configures it, at DEBUG so that every library speaks, into a
    buffer; the previous configuration comes back afterwards."""
    saved_structlog = structlog.get_config()
    loggers = [logging.getLogger(name) for name in _TOUCHED_LOGGERS]
    saved = [(lg, lg.handlers[:], lg.level, lg.propagate) for lg in loggers]
    stream = StringIO()
    configure_logging(level="DEBUG", stream=stream)
    try:
        yield stream
    finally:
        structlog.configure(**saved_structlog)
        for lg, handlers, level, propagate in saved:
            lg.handlers[:] = handlers
            lg.setLevel(level)
            lg.propagate = propagate

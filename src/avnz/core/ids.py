"""Opaque, prefixed, time-sortable identifiers (`org_01JD…`)."""

from ulid import ULID

PREFIXES = frozenset(
    {
        "org",
        "cli",
        "com",
        "dep",
        "usr",
        "key",
        "ses",
        "rtk",
        "inv",
        "aud",
        "job",
        "pm",
        "pint",
        "cint",
        "ma",
        "cus",  # customer
        "prd",  # product
        "ord",  # order
        "pay",  # payment transaction
        "rfd",  # refund
        "dsp",  # dispute (chargeback)
        "evt",  # outbox event
        "whe",  # webhook endpoint
        "whd",  # webhook delivery
        "rdec",  # routing decision
        "ratt",  # routing attempt
        "pool",  # account pool
        "pmem",  # pool membership
        "rule",  # routing rule
        "rulev",  # routing rule version
    }
)


def new_id(prefix: str) -> str:
    """Return a new id; ids created later sort after earlier ones (millisecond precision)."""
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    return f"{prefix}_{str(ULID()).lower()}"

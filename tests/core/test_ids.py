"""Ids: a known prefix, opaque, unique, and sortable by creation time."""

import re
import time

import pytest
from ulid import ULID

from avnz.core.ids import PREFIXES, new_id

CROCKFORD_LOWER = r"[0-9abcdefghjkmnpqrstvwxyz]{26}"


@pytest.mark.parametrize("prefix", sorted(PREFIXES))
def test_id_is_prefix_and_lower_case_ulid(prefix):
    value = new_id(prefix)
    assert re.fullmatch(rf"{prefix}_{CROCKFORD_LOWER}", value)


@pytest.mark.parametrize("prefix", ["", "xyz", "ORG", "org_"])
def test_unknown_prefix_is_refused(prefix):
    with pytest.raises(ValueError, match="unknown id prefix"):
        new_id(prefix)


def test_ids_are_unique():
    assert len({new_id("dep") for _ in range(5000)}) == 5000


def test_ids_sort_in_creation_order_across_milliseconds():
    ids = []
    for _ in range(5):
        ids.append(new_id("dep"))
        time.sleep(0.002)  # the ordering promise is to the millisecond
    assert sorted(ids) == ids
    # Lower-casing keeps ULID order, so string comparison (the pagination cursor) agrees.
    timestamps = [ULID.from_str(value.removeprefix("dep_").upper()).timestamp for value in ids]
    assert timestamps == sorted(timestamps)
    assert len(set(timestamps)) == len(ids)

"""The vault (every card payment) and the rule tester derive brand, type and issuing country
from a BIN the same way, the imported table first; `avnz bins import` stores a file."""

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from avnz.bins import service as bins
from avnz.bins.table import BinTable
from avnz.runtime import Runtime
from avnz.tenancy.models import Role
from tests.bins.test_bins import BIN_LIST_DATA, BINLIST
from tests.factories import World
from tests.rules.support import RULES, create_rule
from tests.test_cli import _avnz

AMEX_GB = "374245455400126"  # Luhn-valid, BIN 374245 (GB in BIN_LIST_DATA)
MASTERCARD_2 = "2720991234567894"  # BIN 27209912 (FR in BINLIST)


def rule_on(field: str, value: str) -> dict[str, Any]:
    return {"type": "payment_method", "field": field, "operator": "equals", "value": value}


@pytest.fixture(autouse=True)
def _no_import_held() -> Iterator[None]:
    bins.install(BinTable(), 0)
    yield
    bins.install(BinTable(), 0)


async def imported(runtime: Runtime, text: str) -> None:
    async with runtime.sessions.begin() as writing:
        report = await bins.import_text(session=writing, text=text, source="test.csv")
    bins.install(report.table, report.version)


async def vaulted(client: httpx.AsyncClient, headers: dict[str, str], number: str) -> Any:
    card = {
        "number": number,
        "exp_month": 12,
        "exp_year": 2030,
        "cvv": "1234" if number.startswith("3") else "123",
    }
    response = await client.post("/api/v1/payment-methods", json={"card": card}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["card"]


async def matched(client: httpx.AsyncClient, headers: dict[str, str], bin_: str) -> list[bool]:
    sample = {"amount": 1999, "currency": "USD", "country": "DE", "bin": bin_}
    response = await client.post(f"{RULES}/test", json={"transaction": sample}, headers=headers)
    assert response.status_code == 200, response.text
    return [rule["matched"] for rule in response.json()["rules"]]


async def test_vault_and_tester_read_the_same_facts_from_the_bin(
    client: httpx.AsyncClient, world: World, runtime: Runtime
) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    for field, value in (
        ("card_brand", "amex"),
        ("card_type", "credit"),
        ("issuing_country", "GB"),
    ):
        await create_rule(
            client, headers, name=f"{field} {value}", conditions=[rule_on(field, value)]
        )

    # Without an import: the brand from the IIN ranges, no type or country.
    card = await vaulted(client, headers, AMEX_GB)
    assert (card["brand"], card["type"], card["issuing_country"]) == ("amex", "unknown", None)
    assert await matched(client, headers, "374245") == [True, False, False]

    await imported(runtime, BIN_LIST_DATA)
    card = await vaulted(client, headers, AMEX_GB)
    assert (card["brand"], card["type"], card["issuing_country"]) == ("amex", "credit", "GB")
    assert await matched(client, headers, "374245") == [True, True, True]


async def test_a_mastercard_2_series_card_gets_its_country(
    client: httpx.AsyncClient, world: World, runtime: Runtime
) -> None:
    headers = world.headers(Role.COMPANY_ADMIN)
    await imported(runtime, BINLIST)
    card = await vaulted(client, headers, MASTERCARD_2)
    assert (card["brand"], card["type"], card["issuing_country"]) == ("mastercard", "credit", "FR")


def test_the_cli_imports_a_file_into_the_database(tmp_path: Path) -> None:
    assert _avnz(tmp_path, "migrate").returncode == 0
    source = tmp_path / "ranges.csv"
    source.write_text(BINLIST)
    result = _avnz(tmp_path, "bins", "import", str(source))
    assert result.returncode == 0, result.stderr
    assert "imported 4 BIN ranges (1 rows skipped)" in result.stdout
    with sqlite3.connect(tmp_path / "avnz.db") as db:
        assert db.execute("select count(*) from bin_ranges").fetchone() == (4,)
        assert db.execute("select version, ranges from bin_table_versions").fetchone() == (1, 4)
    bad = tmp_path / "bad.csv"
    bad.write_text("name,country\nfoo,US\n")
    refused = _avnz(tmp_path, "bins", "import", str(bad))
    assert refused.returncode == 1
    assert "No BIN column" in refused.stderr

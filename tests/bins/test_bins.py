"""BIN data (issue 19 item 3): the open CSV formats, the in-process table, the precedence of an
import over the packaged tables, and the reload another process's import triggers."""

from collections.abc import Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.bins import formats
from avnz.bins import service as bins
from avnz.bins.table import BinInfo, BinRange, BinTable
from avnz.runtime import Runtime

# binlist/data ranges.csv, its header as published.
BINLIST = (
    "iin_start,iin_end,number_length,scheme,brand,type,prepaid,country,bank_name,bank_logo,"
    "bank_url,bank_phone,bank_city\n"
    """371241,371242,,AMEX,,CREDIT,,US,AMERICAN EXPRESS,,www.americanexpress.com,8005284800,
360218,,,DINERS,DINERS CLUB INTERNATIONAL,CREDIT,,EC,DINERS CLUB DEL ECUADOR S.A.,,,,Quito
535316,,16,MASTERCARD,STANDARD,DEBIT,true,DE,COMMERZBANK,,,,
27209912,,16,MASTERCARD,WORLD,CREDIT,,FR,BNP PARIBAS,,,,
not-a-bin,,,VISA,,CREDIT,,US,,,,,
"""
)
# bin-list-data (binlookup.io lite) style: one BIN a row, alpha-2 and alpha-3 columns.
BIN_LIST_DATA = (
    "BIN,Brand,Type,Category,Issuer,IssuerPhone,IssuerUrl,isoCode2,isoCode3,CountryName\n"
    """374245,AMERICAN EXPRESS,CREDIT,GOLD,AMERICAN EXPRESS,,,GB,GBR,United Kingdom
411111,VISA,DEBIT,CLASSIC,NATWEST,,,GB,GBR,United Kingdom
622126,DISCOVER,CREDIT,,DISCOVER FINANCIAL,,,US,USA,United States
"""
)
# "BIN List Download": semicolons, spaced header names.
SEMICOLONS = """BIN Number;Card Brand;Card Type;Card Category;Country Code;Country Name;Issuer Name
45717360;VISA;DEBIT;CLASSIC;DK;Denmark;DANSKE BANK
"""


@pytest.fixture(autouse=True)
def _no_import_held() -> Iterator[None]:
    """Each test starts and ends with no imported table in this process."""
    bins.install(BinTable(), 0)
    yield
    bins.install(BinTable(), 0)


def test_the_most_specific_range_wins_inside_nested_ranges() -> None:
    table = BinTable(
        [
            BinRange("4", "4", BinInfo(brand="visa")),
            BinRange("411111", "411111", BinInfo(country="US")),
            BinRange("41111100", "41111105", BinInfo(country="GB")),
            BinRange("5", "5", BinInfo(brand="other")),
        ]
    )
    assert table.find("4111110312345678") == BinInfo(country="GB")
    assert table.find("4111110612345678") == BinInfo(country="US")
    assert table.find("4111120000000000") == BinInfo(brand="visa")
    assert table.find("4999999999999999") == BinInfo(brand="visa")
    assert table.find("3999999999999999") is None
    assert table.find("6000000000000000") is None
    assert table.find("411111") == BinInfo(country="GB")  # a bare BIN reads as its first card
    # Flattened into disjoint, sorted segments, so a bisect finds the one.
    assert table.starts == sorted(table.starts)
    assert all(end < after for end, after in zip(table.ends, table.starts[1:], strict=False))


def test_binlist_ranges_csv() -> None:
    parsed = formats.parse(BINLIST)
    assert parsed.skipped == 1
    by_start = {found.start: found for found in parsed.ranges}
    assert by_start["371241"].end == "371242"
    assert by_start["371241"].info == BinInfo("amex", "credit", "US", "AMERICAN EXPRESS")
    assert by_start["360218"].info.brand == "diners"  # the scheme column, not the product
    assert by_start["535316"].info.card_type == "prepaid"  # prepaid=true wins over DEBIT
    assert by_start["27209912"].info == BinInfo("mastercard", "credit", "FR", "BNP PARIBAS")


def test_bin_list_data_and_semicolon_files() -> None:
    [amex, visa, discover] = formats.parse(BIN_LIST_DATA).ranges
    assert amex.info == BinInfo("amex", "credit", "GB", "AMERICAN EXPRESS")
    assert visa.info.card_type == "debit"
    assert discover.info.brand == "discover"
    [danish] = formats.parse(SEMICOLONS).ranges
    assert (danish.start, danish.info.country, danish.info.card_type) == ("45717360", "DK", "debit")


def test_a_file_without_a_bin_column_is_refused() -> None:
    with pytest.raises(formats.BinFileError, match="No BIN column"):
        formats.parse("name,country\nfoo,US\n")
    with pytest.raises(formats.BinFileError, match="empty"):
        formats.parse("# only a comment\n")


def test_any_real_card_has_a_brand_without_an_import() -> None:
    # A Mastercard 2-series and an Amex BIN the packaged test-card table does not list.
    assert bins.lookup("2720991234567891").brand == "mastercard"
    assert bins.lookup("272099").brand == "mastercard"
    assert bins.lookup("374245").brand == "amex"
    assert bins.lookup("220412").brand == "mir"  # not Mastercard's 2221-2720
    assert bins.lookup("654321").brand == "discover"
    assert bins.lookup("352800").brand == "jcb"
    assert bins.lookup("374245").card_type == "unknown"
    assert bins.lookup("374245").country is None
    assert bins.lookup("4111111111111111").country == "US"  # the packaged test-card table


async def test_an_import_takes_precedence_and_moves_the_version(
    runtime: Runtime, session: AsyncSession
) -> None:
    async with runtime.sessions.begin() as writing:
        report = await bins.import_text(session=writing, text=BIN_LIST_DATA, source="bins.csv")
    assert (report.ranges, report.skipped, report.version) == (3, 0, 1)
    assert bins.lookup("374245").country is None  # not installed in this process yet
    bins.install(report.table, report.version)
    amex = bins.lookup("3742451234567890")
    assert (amex.brand, amex.card_type, amex.country) == ("amex", "credit", "GB")
    visa = bins.lookup("4111111111111111")
    assert (visa.card_type, visa.country, visa.issuer) == ("debit", "GB", "NATWEST")
    # Co-badged 622126: the file says Discover where the IIN ranges say UnionPay.
    assert bins.lookup("6221260000000000").brand == "discover"
    assert await bins.current_version(session) == 1
    async with runtime.sessions.begin() as writing:
        again = await bins.import_text(session=writing, text=SEMICOLONS, source="dk.csv")
    assert again.version == 2


async def test_another_process_sees_an_import_on_refresh(runtime: Runtime) -> None:
    async with runtime.sessions() as reading:
        assert not await bins.refresh(reading)  # nothing imported, nothing to load
    async with runtime.sessions.begin() as writing:
        await bins.import_text(session=writing, text=BINLIST, source="ranges.csv")
    # This process holds no table (as a server that did not run the import).
    assert bins.lookup("2720991234567891").country is None
    async with runtime.sessions() as reading:
        assert await bins.refresh(reading)
        assert not await bins.refresh(reading)  # same version: no reload
    assert bins.loaded_version() == 1
    assert bins.lookup("2720991234567891").country == "FR"
    assert bins.lookup("3712421234567890").country == "US"  # within the range's end


async def test_a_file_with_no_usable_row_changes_nothing(runtime: Runtime) -> None:
    async with runtime.sessions.begin() as writing:
        await bins.import_text(session=writing, text=SEMICOLONS, source="dk.csv")
    with pytest.raises(formats.BinFileError, match="No usable BIN row"):
        async with runtime.sessions.begin() as writing:
            await bins.import_text(session=writing, text="bin,brand\nabc,VISA\n", source="x")
    async with runtime.sessions() as reading:
        assert await bins.current_version(reading) == 1

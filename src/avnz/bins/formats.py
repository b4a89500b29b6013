"""The open BIN CSV formats, read by their headers (any order, any case, `,` `;` tab or `|`):

- binlist/data `ranges.csv`: iin_start, iin_end, number_length, scheme, brand, type, prepaid,
  country (alpha-2), bank_name, ...
- binlist-style single BINs (bin-list-data, binlookup exports): BIN, Brand, Type, Category,
  Issuer, isoCode2 / alpha_2, isoCode3, CountryName, ...
- "BIN List Download" semicolon files: BIN Number; Card Brand; Card Type; Card Category;
  Country Code; Country Name; Issuer Name; ...
- avnz's own `prefix, brand, type, country, issuer` (the packaged table).

A row whose BIN is not 4 to 11 digits, or whose range end has another width, is skipped and
counted; brand, type and country values outside what avnz knows read as unknown, so the
packaged ranges answer for them.
"""

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import pycountry

from avnz.bins.table import BinInfo, BinRange
from avnz.core.cards import Brand

START = ("iinstart", "binstart", "binmin", "binlo", "bin", "iin", "binnumber", "prefix")
END = ("iinend", "binend", "binmax", "binhi")
BRAND = ("scheme", "cardscheme", "network", "brand", "cardbrand")
TYPE = ("type", "cardtype", "fundingtype", "funding")
PREPAID = ("prepaid", "isprepaid")
COUNTRY = (
    "isocode2",
    "alpha2",
    "countryalpha2",
    "countrycode",
    "countryiso",
    "isocountry",
    "country",
    "isocode3",
    "alpha3",
)
ISSUER = ("bankname", "issuer", "issuername", "bank", "issuingbank")

_BRANDS = {
    "visa": Brand.VISA,
    "mastercard": Brand.MASTERCARD,
    "mc": Brand.MASTERCARD,
    "amex": Brand.AMEX,
    "americanexpress": Brand.AMEX,
    "discover": Brand.DISCOVER,
    "diners": Brand.DINERS,
    "dinersclub": Brand.DINERS,
    "dinersclubinternational": Brand.DINERS,
    "jcb": Brand.JCB,
    "unionpay": Brand.UNIONPAY,
    "chinaunionpay": Brand.UNIONPAY,
    "cup": Brand.UNIONPAY,
    "maestro": Brand.MAESTRO,
    "mir": Brand.MIR,
    "nspkmir": Brand.MIR,
}
_TYPES = {
    "credit": "credit",
    "charge": "credit",
    "chargecard": "credit",
    "debit": "debit",
    "deferreddebit": "debit",
    "prepaid": "prepaid",
}
_YES = {"true", "yes", "y", "1"}


class BinFileError(ValueError):
    """The file is not a BIN table this reader knows."""


@dataclass(slots=True)
class Parsed:
    ranges: list[BinRange] = field(default_factory=list)
    skipped: int = 0


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _column(headers: dict[str, str], names: tuple[str, ...]) -> str | None:
    return next((headers[name] for name in names if name in headers), None)


def _country(value: str) -> str | None:
    code = value.strip().upper()
    if len(code) == 2:
        found = pycountry.countries.get(alpha_2=code)
    elif len(code) == 3:
        found = pycountry.countries.get(alpha_3=code)
    else:
        return None
    return found.alpha_2 if found is not None else None


def _card_type(value: str, prepaid: str) -> str | None:
    if prepaid.strip().lower() in _YES:
        return "prepaid"
    return _TYPES.get(_slug(value))


def parse(text: str) -> Parsed:
    """Every usable range of a BIN CSV file; BinFileError when no column holds the BIN."""
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if not lines:
        raise BinFileError("The file is empty.")
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(lines[0], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO("\n".join(lines)), dialect=dialect)
    headers = {_slug(name): name for name in reader.fieldnames or ()}
    start = _column(headers, START)
    if start is None:
        raise BinFileError(
            f"No BIN column: the header names {sorted(headers.values())}; expected one of "
            "bin, iin, iin_start, bin_number, prefix."
        )
    columns = {
        "end": _column(headers, END),
        "brand": _column(headers, BRAND),
        "type": _column(headers, TYPE),
        "prepaid": _column(headers, PREPAID),
        "country": _column(headers, COUNTRY),
        "issuer": _column(headers, ISSUER),
    }
    parsed = Parsed()
    for row in reader:
        found = _range(row, start, columns)
        if found is None:
            parsed.skipped += 1
        else:
            parsed.ranges.append(found)
    return parsed


def _range(
    row: dict[str, str | None], start: str, columns: dict[str, str | None]
) -> BinRange | None:
    def value(name: str | None) -> str:
        return (row.get(name) or "").strip() if name else ""

    first = value(start).replace(" ", "")
    last = value(columns["end"]).replace(" ", "") or first
    if not (first.isdigit() and last.isdigit() and 4 <= len(first) <= 11):
        return None
    if len(last) != len(first) or last < first:
        return None
    brand = _BRANDS.get(_slug(value(columns["brand"])))
    issuer = value(columns["issuer"])[:120] or None
    info = BinInfo(
        brand=brand.value if brand else None,
        card_type=_card_type(value(columns["type"]), value(columns["prepaid"])),
        country=_country(value(columns["country"])),
        issuer=issuer,
    )
    return BinRange(first, last, info)


def rows(parsed: Parsed) -> Iterator[dict[str, str | None]]:
    """The ranges as rows of the `bin_ranges` table."""
    for found in parsed.ranges:
        yield {
            "start": found.start,
            "end": found.end,
            "brand": found.info.brand,
            "card_type": found.info.card_type,
            "country": found.info.country,
            "issuer": found.info.issuer,
        }

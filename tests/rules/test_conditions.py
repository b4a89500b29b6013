"""Every condition field and operator; each case also checks the tester's explanation agrees
(`matches`)."""

from datetime import UTC, datetime, time

import pytest

from avnz.core.cards import Brand
from avnz.rules import reference
from avnz.rules.conditions.payment_method import CARD_BRANDS, UNKNOWN_BRAND
from avnz.rules.context import BusinessHours, Customer, Product
from tests.rules.factories import context, leaf, matches

# --- geography ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operator", "value", "country", "expected"),
    [
        ("equals", "DE", "DE", True),
        ("equals", "de", "FR", False),
        ("not_equals", "DE", "FR", True),
        ("in", ["DE", "FR"], "FR", True),
        ("in", ["DE", "FR"], "US", False),
        ("not_in", ["DE", "FR"], "US", True),
        ("not_in", ["DE", "FR"], "DE", False),
        ("not_in", ["DE"], None, False),  # an unknown country matches nothing
    ],
)
def test_country(operator: str, value: object, country: str | None, expected: bool) -> None:
    assert matches(leaf("geography", "country", operator, value), context(country=country)) is (
        expected
    )


def test_state_and_currency() -> None:
    ctx = context(country="US", state="CA", currency="EUR")
    assert matches(leaf("geography", "state", "in", ["ca", "NY"]), ctx)
    assert not matches(leaf("geography", "state", "equals", "TX"), ctx)
    assert matches(leaf("geography", "currency", "equals", "eur"), ctx)
    assert matches(leaf("geography", "currency", "not_in", ["USD", "GBP"]), ctx)


@pytest.mark.parametrize(
    ("country", "region", "continent"),
    [
        ("US", "NA", "NA"),
        ("MX", "LATAM", "NA"),
        ("BR", "LATAM", "SA"),
        ("DE", "EU", "EU"),
        ("CY", "EU", "AS"),
        ("TR", "EU", "AS"),
        ("JP", "APAC", "AS"),
        ("AU", "APAC", "OC"),
        ("AE", "MEA", "AS"),
        ("NG", "MEA", "AF"),
    ],
)
def test_region_and_continent(country: str, region: str, continent: str) -> None:
    ctx = context(country=country)
    assert matches(leaf("geography", "region", "equals", region), ctx)
    assert matches(leaf("geography", "continent", "equals", continent), ctx)
    others = [r for r in ("NA", "EU", "APAC", "LATAM", "MEA") if r != region]
    assert not matches(leaf("geography", "region", "in", others), ctx)


def test_every_iso_country_has_a_continent() -> None:
    import pycountry

    for country in pycountry.countries:
        assert reference.continent(country.alpha_2) is not None, country.alpha_2


@pytest.mark.parametrize(
    ("country", "eu", "eea"),
    [("DE", True, True), ("NO", False, True), ("IS", False, True), ("LI", False, True),
     ("CH", False, False), ("GB", False, False), ("GR", True, True), ("RE", True, True)],
)  # fmt: skip
def test_eu_versus_eea(country: str, eu: bool, eea: bool) -> None:
    ctx = context(country=country)
    assert matches(leaf("geography", "is_eu", "is", True), ctx) is eu
    assert matches(leaf("geography", "is_eu", "is", False), ctx) is not eu
    assert matches(leaf("geography", "is_eea", "is", True), ctx) is eea


def test_lists_have_their_sizes() -> None:
    assert len(reference.eu() - {"GF", "GP", "MQ", "RE", "YT", "MF", "AX"}) == 27
    assert reference.eea() - reference.eu() == {"IS", "LI", "NO"}


def test_is_domestic_uses_the_company_home_country() -> None:
    assert matches(leaf("geography", "is_domestic", "is", True), context(country="US"))
    assert matches(leaf("geography", "is_domestic", "is", False), context(country="CA"))
    assert matches(
        leaf("geography", "is_domestic", "is", True), context(country="DE", home_country="DE")
    )
    assert not matches(leaf("geography", "is_domestic", "is", False), context(country=None))


def test_sanctioned_and_high_risk_look_at_both_countries() -> None:
    sanctioned = leaf("geography", "is_sanctioned_country", "is", True)
    assert matches(sanctioned, context(country="IR"))
    assert matches(sanctioned, context(country="US", issuing_country="KP"))
    assert not matches(sanctioned, context(country="SY"))  # program ended 2025-07-01
    assert matches(leaf("geography", "is_sanctioned_country", "is", False), context(country="US"))
    high = leaf("geography", "is_high_risk_country", "is", True)
    assert matches(high, context(country="MM"))
    assert matches(high, context(country="VN"))
    assert not matches(high, context(country="DZ"))  # removed June 2026
    assert not matches(high, context())


# --- amount ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operator", "value", "amount", "expected"),
    [
        ("equals", 1000, 1000, True),
        ("equals", 1000, 1001, False),
        ("not_equals", 1000, 1001, True),
        ("gt", 1000, 1000, False),
        ("gt", 1000, 1001, True),
        ("gte", 1000, 1000, True),
        ("gte", 1000, 999, False),
        ("lt", 1000, 1000, False),
        ("lt", 1000, 999, True),
        ("lte", 1000, 1000, True),
        ("lte", 1000, 1001, False),
        ("between", [1000, 2000], 1000, True),
        ("between", [1000, 2000], 2000, True),
        ("between", [1000, 2000], 999, False),
        ("between", [1000, 2000], 2001, False),
        ("between", [1000, 1000], 1000, True),
    ],
)
def test_amount_operators(operator: str, value: object, amount: int, expected: bool) -> None:
    assert matches(leaf("amount", "amount", operator, value), context(amount=amount)) is expected


@pytest.mark.parametrize(
    ("amount", "tier"),
    [(0, "micro"), (499, "micro"), (500, "small"), (4999, "small"), (5000, "medium"),
     (50000, "large"), (499999, "large"), (500000, "enterprise"), (10**9, "enterprise")],
)  # fmt: skip
def test_amount_tiers_are_half_open(amount: int, tier: str) -> None:
    ctx = context(amount=amount)
    assert matches(leaf("amount", "amount", "in_tier", tier), ctx)
    others = {"micro", "small", "medium", "large", "enterprise"} - {tier}
    assert not any(matches(leaf("amount", "amount", "in_tier", t), ctx) for t in others)


def test_amount_across_currencies() -> None:
    eur = context(amount=10000, currency="EUR")  # 100 EUR ~ 108 USD
    assert matches(leaf("amount", "amount", "gt", 10000), eur)
    assert matches(leaf("amount", "amount", "equals", 10800), eur)
    assert matches(leaf("amount", "amount", "equals", 10000, currency="EUR"), eur)
    jpy = context(amount=15000, currency="JPY")  # 15,000 JPY ~ 100.50 USD
    assert matches(leaf("amount", "amount", "between", [10000, 10100]), jpy)
    assert matches(
        leaf("amount", "amount", "in_tier", "medium", currency="JPY"), context(amount=60)
    )
    # 60 cents USD ~ 90 JPY: JPY tiers are in yen, so "small" (5 to 50 yen) does not fit
    assert not matches(
        leaf("amount", "amount", "in_tier", "small", currency="JPY"), context(amount=60)
    )


def test_amount_without_a_rate_never_matches() -> None:
    ctx = context(amount=100, currency="ISK")
    assert not matches(leaf("amount", "amount", "gte", 0), ctx)
    assert not matches(leaf("amount", "amount", "in_tier", "micro"), ctx)
    assert matches(leaf("amount", "amount", "gte", 0, currency="ISK"), ctx)


def test_convert_rounds_to_minor_units() -> None:
    assert reference.convert(1000, "USD", "USD") == 1000
    assert reference.convert(100, "KWD", "USD") == 32  # 0.100 KWD = 32.5 cents, half to even
    assert reference.convert(1, "USD", "JPY") == 1  # 0.01 USD ~ 1.49 JPY
    assert reference.convert(1, "XXX", "USD") is None


# --- time --------------------------------------------------------------------------------------


def test_hour_and_day_in_the_company_timezone() -> None:
    # 03:30 UTC Thursday is 22:30 Wednesday in New York (EST, UTC-5).
    ctx = context(moment=datetime(2026, 11, 26, 3, 30, tzinfo=UTC), timezone="America/New_York")
    assert matches(leaf("time", "hour_of_day", "equals", 22), ctx)
    assert matches(leaf("time", "day_of_week", "equals", "wed"), ctx)
    assert not matches(leaf("time", "day_of_week", "in", ["thu", "fri"]), ctx)
    assert matches(leaf("time", "day_of_week", "not_in", ["thu"]), ctx)
    utc = context(moment=datetime(2026, 11, 26, 3, 30, tzinfo=UTC))
    assert matches(leaf("time", "day_of_week", "equals", "thu"), utc)


def test_hour_between_across_midnight() -> None:
    night = leaf("time", "hour_of_day", "between", [22, 2])
    for hour, expected in [(21, False), (22, True), (23, True), (0, True), (2, True), (3, False)]:
        ctx = context(moment=datetime(2026, 11, 25, hour, tzinfo=UTC))
        assert matches(night, ctx) is expected, hour
    day = leaf("time", "hour_of_day", "between", [9, 17])
    assert matches(day, context(moment=datetime(2026, 11, 25, 17, 59, tzinfo=UTC)))
    assert not matches(day, context(moment=datetime(2026, 11, 25, 18, tzinfo=UTC)))


def test_dst_changes_the_local_hour() -> None:
    nine = leaf("time", "hour_of_day", "equals", 9)
    # Berlin: 08:00 UTC is 09:00 CET in winter, 10:00 CEST in summer.
    winter = context(moment=datetime(2026, 1, 15, 8, tzinfo=UTC), timezone="Europe/Berlin")
    summer = context(moment=datetime(2026, 7, 15, 8, tzinfo=UTC), timezone="Europe/Berlin")
    assert matches(nine, winter)
    assert not matches(nine, summer)
    # The morning of the spring change (2026-03-29): 00:30 UTC is 01:30 CET, 01:30 UTC 03:30 CEST.
    assert matches(
        leaf("time", "hour_of_day", "equals", 1),
        context(moment=datetime(2026, 3, 29, 0, 30, tzinfo=UTC), timezone="Europe/Berlin"),
    )
    assert matches(
        leaf("time", "hour_of_day", "equals", 3),
        context(moment=datetime(2026, 3, 29, 1, 30, tzinfo=UTC), timezone="Europe/Berlin"),
    )


def test_weekend() -> None:
    saturday = context(moment=datetime(2026, 11, 28, 12, tzinfo=UTC))
    assert matches(leaf("time", "is_weekend", "is", True), saturday)
    assert matches(leaf("time", "is_weekend", "is", False), context())
    # Friday 23:30 UTC is Saturday in Tokyo.
    tokyo = context(moment=datetime(2026, 11, 27, 23, 30, tzinfo=UTC), timezone="Asia/Tokyo")
    assert matches(leaf("time", "is_weekend", "is", True), tokyo)


def test_business_hours_default_and_configured() -> None:
    open_ = leaf("time", "is_business_hours", "is", True)
    assert matches(open_, context())  # Wednesday 12:00
    assert not matches(open_, context(moment=datetime(2026, 11, 25, 17, tzinfo=UTC)))  # end open
    assert matches(open_, context(moment=datetime(2026, 11, 25, 9, tzinfo=UTC)))
    assert not matches(open_, context(moment=datetime(2026, 11, 28, 12, tzinfo=UTC)))  # Saturday
    night_shift = BusinessHours(start=time(22), end=time(6), days=frozenset(range(7)))
    for hour, expected in [(23, True), (3, True), (6, False), (12, False), (22, True)]:
        ctx = context(moment=datetime(2026, 11, 25, hour, tzinfo=UTC), business_hours=night_shift)
        assert matches(open_, ctx) is expected, hour
    assert matches(
        leaf("time", "is_business_hours", "is", False), context(business_hours=night_shift)
    )


def test_holidays_per_country() -> None:
    thanksgiving = datetime(2026, 11, 26, 17, tzinfo=UTC)
    holiday = leaf("time", "is_holiday", "is", True)
    assert matches(holiday, context(moment=thanksgiving))  # home country US
    assert not matches(holiday, context(moment=thanksgiving, home_country="DE"))
    assert not matches(
        leaf("time", "is_holiday", "is", True, country="GB"), context(moment=thanksgiving)
    )
    unity_day = datetime(2026, 10, 3, 12, tzinfo=UTC)
    assert matches(leaf("time", "is_holiday", "is", True, country="DE"), context(moment=unity_day))
    assert not matches(holiday, context(moment=unity_day))
    assert matches(leaf("time", "is_holiday", "is", False), context(moment=unity_day))


def test_holiday_follows_the_local_date() -> None:
    # 2026-12-25 03:00 UTC is still Christmas Eve in Los Angeles.
    ctx = context(moment=datetime(2026, 12, 25, 3, tzinfo=UTC), timezone="America/Los_Angeles")
    assert not matches(leaf("time", "is_holiday", "is", True), ctx)
    assert matches(
        leaf("time", "is_holiday", "is", True),
        context(moment=datetime(2026, 12, 25, 12, tzinfo=UTC)),
    )


def test_date_range_inclusive_in_local_time() -> None:
    black_friday = leaf("time", "date_range", "between", ["2026-11-27", "2026-11-30"])
    assert matches(black_friday, context(moment=datetime(2026, 11, 27, 0, tzinfo=UTC)))
    assert matches(black_friday, context(moment=datetime(2026, 11, 30, 23, 59, tzinfo=UTC)))
    assert not matches(black_friday, context(moment=datetime(2026, 12, 1, tzinfo=UTC)))
    # 04:00 UTC on 1 Dec is still 30 Nov in New York.
    ny = context(moment=datetime(2026, 12, 1, 4, tzinfo=UTC), timezone="America/New_York")
    assert matches(black_friday, ny)


# --- customer ----------------------------------------------------------------------------------


def test_customer_fields() -> None:
    ctx = context(
        customer=Customer(
            type="VIP",
            account_age_days=30,
            lifetime_value=50000,
            risk_level="high",
            chargeback_rate=0.01,
            segments=frozenset({"loyal", "eu"}),
        )
    )
    assert matches(leaf("customer", "type", "equals", "vip"), ctx)
    assert matches(leaf("customer", "type", "not_in", ["new"]), ctx)
    assert matches(leaf("customer", "account_age", "between", [30, 60]), ctx)
    assert not matches(leaf("customer", "account_age", "lt", 30), ctx)
    assert matches(leaf("customer", "lifetime_value", "gte", 50000), ctx)
    assert matches(leaf("customer", "risk_level", "gte", "high"), ctx)
    assert not matches(leaf("customer", "risk_level", "gte", "critical"), ctx)
    assert matches(leaf("customer", "risk_level", "lte", "high"), ctx)
    assert matches(leaf("customer", "risk_level", "in", ["high", "critical"]), ctx)
    assert matches(leaf("customer", "chargeback_rate", "gt", 0.009), ctx)
    assert matches(leaf("customer", "chargeback_rate", "between", [0.01, 0.02]), ctx)
    assert matches(leaf("customer", "in_segment", "in", ["loyal", "x"]), ctx)
    assert not matches(leaf("customer", "in_segment", "not_in", ["loyal", "x"]), ctx)
    assert matches(leaf("customer", "in_segment", "all", ["loyal", "eu"]), ctx)
    assert not matches(leaf("customer", "in_segment", "all", ["loyal", "x"]), ctx)


def test_unknown_customer_matches_no_comparison() -> None:
    ctx = context()
    assert not matches(leaf("customer", "account_age", "gte", 0), ctx)
    assert not matches(leaf("customer", "risk_level", "lte", "critical"), ctx)
    assert not matches(leaf("customer", "in_segment", "in", ["loyal"]), ctx)
    assert matches(leaf("customer", "in_segment", "not_in", ["loyal"]), ctx)


# --- product -----------------------------------------------------------------------------------


def test_product_fields() -> None:
    ctx = context(
        product=Product(
            sku="SKU-1", category="Supplements", is_subscription=True, interval="month",
            is_renewal=True, is_trial=False,
        )
    )  # fmt: skip
    assert matches(leaf("product", "sku", "equals", "SKU-1"), ctx)
    assert not matches(leaf("product", "sku", "equals", "sku-1"), ctx)  # SKUs are exact
    assert matches(leaf("product", "category", "in", ["supplements", "beauty"]), ctx)
    assert matches(leaf("product", "is_subscription", "is", True), ctx)
    assert matches(leaf("product", "subscription_interval", "equals", "Month"), ctx)
    assert matches(leaf("product", "subscription_interval", "not_in", ["year"]), ctx)
    assert matches(leaf("product", "is_renewal", "is", True), ctx)
    assert matches(leaf("product", "is_trial", "is", False), ctx)
    assert not matches(leaf("product", "is_trial", "is", True), ctx)


# --- payment method ----------------------------------------------------------------------------

TWO_SERIES = leaf("payment_method", "bin_range", "between", ["222100", "272099"])


@pytest.mark.parametrize(
    ("bin_", "expected"),
    [("222100", True), ("22210012", True), ("222099", False), ("272099", True),
     ("27209999", True), ("272100", False), ("510000", False), ("2500", False)],
)  # fmt: skip
def test_two_series_mastercard_bins(bin_: str, expected: bool) -> None:
    assert matches(TWO_SERIES, context(bin=bin_)) is expected


def test_eight_digit_bin_range() -> None:
    narrow = leaf("payment_method", "bin_range", "between", ["42424200", "42424299"])
    assert matches(narrow, context(bin="42424250"))
    assert not matches(narrow, context(bin="424242"))  # too short to tell


def test_card_fields() -> None:
    ctx = context(
        card_brand=Brand.MASTERCARD, card_type="debit", issuing_country="GB",
        is_tokenized=True, is_3ds_enrolled=False, is_digital_wallet=True,
    )  # fmt: skip
    assert matches(leaf("payment_method", "card_brand", "equals", "mastercard"), ctx)
    assert matches(leaf("payment_method", "card_brand", "not_in", ["visa", "amex"]), ctx)
    assert not matches(leaf("payment_method", "card_brand", "in", ["visa"]), ctx)
    assert matches(leaf("payment_method", "card_type", "equals", "Debit"), ctx)
    assert matches(leaf("payment_method", "issuing_country", "in", ["gb", "IE"]), ctx)
    assert matches(leaf("payment_method", "is_tokenized", "is", True), ctx)
    assert matches(leaf("payment_method", "is_3ds_enrolled", "is", False), ctx)
    assert matches(leaf("payment_method", "is_digital_wallet", "is", True), ctx)
    assert not matches(leaf("payment_method", "card_brand", "equals", "visa"), context())


def test_the_brands_a_rule_names_are_the_card_vaults() -> None:
    assert [*CARD_BRANDS, UNKNOWN_BRAND] == [brand.value for brand in Brand]

"""The card networks' dispute monitoring programs, as data: a program flags a merchant whose
month's disputes reach both its ratio and its count. Figures and sources: docs/decisions.md
("Disputes (issue 19)"); they change, so each carries the date it is taken from.

- Visa VAMP (Acquirer Monitoring Program), merchant "excessive": VAMP ratio >= 1.5 % from
  2026-04-01 (2.2 % before), with more than 1,500 fraud reports plus disputes in the month
  (outside MENA). The ratio's numerator also counts TC40 fraud reports, which no gateway export
  here carries: ours counts disputes only, so it can read low, never high.
- Mastercard Excessive Chargeback Program: "chargeback-monitored" (CMM) at 1.0 % and 100
  chargebacks, ECM at 1.5 % and 100, HECM at 3.0 % and 300; the ratio is the month's
  chargebacks over the previous month's sales.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Level:
    name: str  # "excessive", "ecm", ...
    ratio: Decimal  # a fraction: 0.015 is 1.5 %
    count: int  # disputes in the month, at least


@dataclass(frozen=True, slots=True)
class Program:
    code: str
    label: str
    brand: str  # as core.cards names brands
    denominator: str  # "same_month" or "previous_month" sales
    levels: tuple[Level, ...]  # mildest first
    as_of: date
    source: str


PROGRAMS = (
    Program(
        code="visa_vamp",
        label="Visa VAMP",
        brand="visa",
        denominator="same_month",
        levels=(Level("excessive", Decimal("0.015"), 1501),),
        as_of=date(2026, 4, 1),
        source="support.checkout.com: VAMP thresholds (merchant excessive ratio, April 1, 2026)",
    ),
    Program(
        code="mastercard_ecp",
        label="Mastercard ECP",
        brand="mastercard",
        denominator="previous_month",
        levels=(
            Level("cmm", Decimal("0.010"), 100),
            Level("ecm", Decimal("0.015"), 100),
            Level("hecm", Decimal("0.030"), 300),
        ),
        as_of=date(2019, 10, 1),
        source="developer.paypal.com/braintree: Mastercard Excessive Chargeback Program",
    ),
)


@dataclass(frozen=True, slots=True)
class Standing:
    """Where an account stands in one program this month."""

    program: Program
    disputes: int
    sales: int
    ratio: Decimal | None  # None without sales to divide by
    level: Level | None  # the worst level both reached
    over_ratio: Level | None  # the worst level whose ratio alone is reached (an early warning)


def standing(program: Program, disputes: int, sales: int) -> Standing:
    """The program's verdict on a month's disputes over its sales."""
    ratio = (Decimal(disputes) / Decimal(sales)).quantize(Decimal("0.0001")) if sales else None
    reached = [lv for lv in program.levels if ratio is not None and ratio >= lv.ratio]
    both = [lv for lv in reached if disputes >= lv.count]
    return Standing(
        program=program,
        disputes=disputes,
        sales=sales,
        ratio=ratio,
        level=both[-1] if both else None,
        over_ratio=reached[-1] if reached else None,
    )

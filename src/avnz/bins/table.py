"""BIN tables in memory: nested prefix ranges flattened into sorted disjoint segments, so a
lookup is one bisect. The most specific range (the narrowest) wins; among equal ones, the last
given. No I/O here: the rows come from a packaged file or from the database."""

import heapq
import itertools
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

WIDTH = 19  # the longest PAN: every prefix is padded to it, so ranges of any width compare


@dataclass(frozen=True, slots=True)
class BinInfo:
    """What a BIN says about a card; None where the source does not know."""

    brand: str | None = None  # as `core.cards.Brand` names brands
    card_type: str | None = None  # credit / debit / prepaid
    country: str | None = None  # ISO 3166-1 alpha-2
    issuer: str | None = None

    def over(self, base: "BinInfo") -> "BinInfo":
        """These facts, with `base`'s where these are unknown."""
        return BinInfo(
            brand=self.brand or base.brand,
            card_type=self.card_type or base.card_type,
            country=self.country or base.country,
            issuer=self.issuer or base.issuer,
        )


NOTHING = BinInfo()


@dataclass(frozen=True, slots=True)
class BinRange:
    """The card numbers starting with `start` through those starting with `end` (equal widths)."""

    start: str
    end: str
    info: BinInfo

    @property
    def low(self) -> int:
        return int(self.start.ljust(WIDTH, "0"))

    @property
    def high(self) -> int:
        return int(self.end.ljust(WIDTH, "9"))


def key(number: str) -> int:
    """A card number (or any prefix of one) as the point the segments are searched for."""
    return int(number[:WIDTH].ljust(WIDTH, "0"))


class BinTable:
    """Disjoint segments `[starts[i], ends[i]] -> infos[i]`, sorted by start."""

    __slots__ = ("ends", "infos", "size", "starts")

    def __init__(self, ranges: Iterable[BinRange] = ()) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.infos: list[BinInfo] = []
        self.size = 0
        self._flatten(list(ranges))

    def find(self, number: str) -> BinInfo | None:
        """The most specific range's facts for a card number or BIN; None outside every range."""
        if not number.isdigit():
            return None
        point = key(number)
        index = bisect_right(self.starts, point) - 1
        if index >= 0 and point <= self.ends[index]:
            return self.infos[index]
        return None

    def _flatten(self, ranges: Sequence[BinRange]) -> None:
        self.size = len(ranges)
        bounds = [(r.low, r.high, order, r.info) for order, r in enumerate(ranges)]
        bounds.sort(key=lambda b: b[0])
        points = sorted({b[0] for b in bounds} | {b[1] + 1 for b in bounds})
        active: list[tuple[int, int, int, BinInfo]] = []  # (span, -order, high, info)
        taken = 0
        for here, after in itertools.pairwise(points):
            while taken < len(bounds) and bounds[taken][0] == here:
                low, high, order, info = bounds[taken]
                heapq.heappush(active, (high - low, -order, high, info))
                taken += 1
            while active and active[0][2] < here:  # ended before this segment
                heapq.heappop(active)
            if not active:
                continue
            # The narrowest active range may end inside; the segment ends at the next point.
            info = active[0][3]
            if self.infos and self.ends[-1] == here - 1 and self.infos[-1] == info:
                self.ends[-1] = after - 1
            else:
                self.starts.append(here)
                self.ends.append(after - 1)
                self.infos.append(info)

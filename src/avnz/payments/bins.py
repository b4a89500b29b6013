"""What the vault learns from a card's BIN: the BIN domain's lookup (imported table, packaged
table, IIN ranges), in process, no SQL on the payment path."""

from avnz.bins.service import UNKNOWN, BinInfo, lookup

__all__ = ["UNKNOWN", "BinInfo", "lookup"]

"""BIN (IIN) data: brand, card type, issuing country and issuer of a card from its first digits.

The packaged tables answer for any card (the public IIN ranges per brand in `core.cards`, and
`payments/data/bins.csv` for the gateways' test cards); an operator's import of an open BIN
file (`avnz bins import FILE`) takes precedence and is held in process as sorted ranges, so a
payment's lookup runs no SQL.
"""

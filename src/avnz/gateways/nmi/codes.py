"""NMI's vocabulary mapped to ours: response codes and texts, AVS and CVV answers, transaction
conditions. Anything not listed maps to an unknown/pending value, never to approved.
"""

from avnz.gateways.base import AvsResult, CvvResult, DeclineReason, GatewayState

APPROVED, DECLINED, ERROR = "1", "2", "3"

# `response_code` → reason. The hard/soft split follows the network rules (payments-data §5):
# issuer "never" answers (lost, stolen, closed, stop-payment) are hard; "not now" answers are soft.
DECLINE_REASONS: dict[str, DeclineReason] = {
    "200": DeclineReason.GENERIC_DECLINE,
    "201": DeclineReason.DO_NOT_HONOR,
    "202": DeclineReason.INSUFFICIENT_FUNDS,
    "203": DeclineReason.LIMIT_EXCEEDED,
    "204": DeclineReason.RESTRICTED_CARD,
    "220": DeclineReason.INVALID_CARD,
    "221": DeclineReason.INVALID_CARD,
    "222": DeclineReason.INVALID_CARD,
    "223": DeclineReason.EXPIRED_CARD,
    "224": DeclineReason.INVALID_EXPIRY,
    "225": DeclineReason.INVALID_CVV,
    "226": DeclineReason.INVALID_REQUEST,  # bad PIN: re-entering is a data fix, not a retry
    "240": DeclineReason.CALL_ISSUER,
    "250": DeclineReason.STOLEN_OR_LOST,
    "251": DeclineReason.STOLEN_OR_LOST,
    "252": DeclineReason.STOLEN_OR_LOST,
    "253": DeclineReason.FRAUD_SUSPECTED,
    "260": DeclineReason.GENERIC_DECLINE,
    "261": DeclineReason.RESTRICTED_CARD,  # stop all recurring payments
    "262": DeclineReason.RESTRICTED_CARD,  # stop this recurring program
    "263": DeclineReason.INVALID_CARD,  # updated cardholder data available: not the same data
    "264": DeclineReason.GENERIC_DECLINE,  # retry in a few days
    "300": DeclineReason.INVALID_REQUEST,
    "301": DeclineReason.RATE_LIMITED,
    "400": DeclineReason.PROCESSING_ERROR,
    "420": DeclineReason.PROCESSING_ERROR,
    "421": DeclineReason.PROCESSING_ERROR,
    "430": DeclineReason.DUPLICATE_TRANSACTION,
    "440": DeclineReason.INVALID_REQUEST,
    "441": DeclineReason.INVALID_REQUEST,
    "460": DeclineReason.INVALID_REQUEST,
    "461": DeclineReason.CARD_NOT_SUPPORTED,
}

# An unlisted code: a decline (2) is the issuer's generic no, an error (3) the gateway's trouble.
UNKNOWN_CODE_REASONS: dict[str, DeclineReason] = {
    DECLINED: DeclineReason.GENERIC_DECLINE,
    ERROR: DeclineReason.PROCESSING_ERROR,
}

# The account, not the card, is at fault: invalid merchant configuration, inactive account.
CONFIG_CODES = frozenset({"410", "411"})

# `responsetext` prefixes, matched case-insensitively (texts end in a varying `REFID:<n>`), that
# say more than the catch-all code 300 "rejected by gateway".
AUTH_FAILURES = ("authentication failed", "invalid security key", "invalid username")
TEXT_REASONS: tuple[tuple[str, DeclineReason], ...] = (
    ("transaction not found", DeclineReason.TRANSACTION_NOT_FOUND),
    ("invalid transaction id", DeclineReason.TRANSACTION_NOT_FOUND),
    ("only transactions pending settlement can be voided", DeclineReason.INVALID_STATE),
    ("a capture requires that the existing transaction be an auth", DeclineReason.INVALID_STATE),
    ("the specified amount of", DeclineReason.INVALID_AMOUNT),  # capture above authorized
    ("refund amount may not exceed", DeclineReason.INVALID_AMOUNT),
    ("invalid amount", DeclineReason.INVALID_AMOUNT),
    ("invalid credit card number", DeclineReason.INVALID_CARD),
    ("invalid payment token", DeclineReason.INVALID_CARD),
    ("duplicate transaction", DeclineReason.DUPLICATE_TRANSACTION),
    ("rate limit exceeded", DeclineReason.RATE_LIMITED),
    ("the cc payment type", DeclineReason.CARD_NOT_SUPPORTED),  # card brand/currency not accepted
)

AVS_RESULTS: dict[str, AvsResult] = {
    **dict.fromkeys("XYDM26", AvsResult.MATCH),
    **dict.fromkeys("AB37", AvsResult.ADDRESS_ONLY),
    **dict.fromkeys("WZPL15", AvsResult.POSTAL_ONLY),
    **dict.fromkeys("NC48", AvsResult.NO_MATCH),
    **dict.fromkeys("UGIRES0O", AvsResult.UNAVAILABLE),
}

CVV_RESULTS: dict[str, CvvResult] = {
    "M": CvvResult.MATCH,
    "N": CvvResult.NO_MATCH,
    "P": CvvResult.NOT_PROCESSED,
    "S": CvvResult.NOT_PROVIDED,  # merchant says the card has no CVV
    "U": CvvResult.UNAVAILABLE,  # issuer not certified
}

# Query API `condition` → what exists at the gateway. Refunds refine the captured states below.
CONDITION_STATES: dict[str, GatewayState] = {
    "pending": GatewayState.AUTHORIZED,
    "pendingsettlement": GatewayState.CAPTURED,
    "complete": GatewayState.CAPTURED,
    "canceled": GatewayState.VOIDED,
    "failed": GatewayState.DECLINED,
    # in_progress, abandoned, unknown and anything new stay UNKNOWN
}

# The first action of a transaction says what it is; these are the ones that can move money in.
PAYMENT_KINDS = frozenset({"sale", "auth"})
CAPTURING_ACTIONS = frozenset({"sale", "capture"})

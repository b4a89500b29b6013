"""Authorize.Net's vocabulary mapped to ours: AVS and CVV answers, reason and message codes,
transaction statuses. Anything not listed maps to an unknown/pending value, never to approved.
"""

from avnz.gateways.base import AvsResult, CvvResult, DeclineReason, GatewayState

AVS_RESULTS: dict[str, AvsResult] = {
    "A": AvsResult.ADDRESS_ONLY,  # street matches, ZIP does not
    "B": AvsResult.UNAVAILABLE,  # no address submitted
    "E": AvsResult.UNAVAILABLE,  # AVS error
    "G": AvsResult.UNAVAILABLE,  # non-US issuer
    "N": AvsResult.NO_MATCH,
    "P": AvsResult.UNAVAILABLE,  # not applicable
    "R": AvsResult.UNAVAILABLE,  # retry, system unavailable
    "S": AvsResult.UNAVAILABLE,  # not supported by issuer
    "U": AvsResult.UNAVAILABLE,  # address information unavailable
    "W": AvsResult.POSTAL_ONLY,  # nine-digit ZIP matches, street does not
    "X": AvsResult.MATCH,  # street and nine-digit ZIP
    "Y": AvsResult.MATCH,  # street and five-digit ZIP
    "Z": AvsResult.POSTAL_ONLY,  # five-digit ZIP matches, street does not
}

CVV_RESULTS: dict[str, CvvResult] = {
    "M": CvvResult.MATCH,
    "N": CvvResult.NO_MATCH,
    "P": CvvResult.NOT_PROCESSED,
    "S": CvvResult.NOT_PROVIDED,  # should be on the card, merchant says it is not
    "U": CvvResult.UNAVAILABLE,  # issuer not certified
}

# Transaction reason codes (`errors[].errorCode`, or `messages[].code` with responseCode 1).
REASON_CODES: dict[str, DeclineReason] = {
    "2": DeclineReason.GENERIC_DECLINE,
    "3": DeclineReason.CALL_ISSUER,  # referral for voice authorization
    "4": DeclineReason.STOLEN_OR_LOST,  # pick up card
    "5": DeclineReason.INVALID_AMOUNT,
    "6": DeclineReason.INVALID_CARD,
    "7": DeclineReason.INVALID_EXPIRY,
    "8": DeclineReason.EXPIRED_CARD,
    "9": DeclineReason.INVALID_REQUEST,  # ABA routing number
    "10": DeclineReason.INVALID_REQUEST,  # bank account number
    "11": DeclineReason.DUPLICATE_TRANSACTION,
    "15": DeclineReason.INVALID_REQUEST,  # transaction id missing or not numeric
    "16": DeclineReason.TRANSACTION_NOT_FOUND,
    "17": DeclineReason.CARD_NOT_SUPPORTED,
    "19": DeclineReason.PROCESSING_ERROR,
    "20": DeclineReason.PROCESSING_ERROR,
    "21": DeclineReason.PROCESSING_ERROR,
    "22": DeclineReason.PROCESSING_ERROR,
    "23": DeclineReason.PROCESSING_ERROR,
    "25": DeclineReason.PROCESSING_ERROR,
    "26": DeclineReason.PROCESSING_ERROR,
    "27": DeclineReason.AVS_MISMATCH,
    "28": DeclineReason.CARD_NOT_SUPPORTED,
    "33": DeclineReason.INVALID_REQUEST,  # "%s cannot be left blank."
    "37": DeclineReason.INVALID_CARD,
    # The account does not take this currency: another account may, so not a config error.
    "39": DeclineReason.INVALID_REQUEST,
    "41": DeclineReason.FRAUD_SUSPECTED,
    "44": DeclineReason.INVALID_CVV,
    "45": DeclineReason.INVALID_CVV,  # AVS and card code both refused
    "47": DeclineReason.INVALID_AMOUNT,  # capture above the authorized amount
    "49": DeclineReason.LIMIT_EXCEEDED,
    "50": DeclineReason.INVALID_STATE,  # awaiting settlement, cannot be refunded
    "51": DeclineReason.INVALID_AMOUNT,
    "54": DeclineReason.INVALID_STATE,  # refund of an unsettled transaction: void it instead
    "55": DeclineReason.INVALID_AMOUNT,  # refunds would exceed the captured amount
    "57": DeclineReason.PROCESSING_ERROR,
    "58": DeclineReason.PROCESSING_ERROR,
    "59": DeclineReason.PROCESSING_ERROR,
    "60": DeclineReason.PROCESSING_ERROR,
    "61": DeclineReason.PROCESSING_ERROR,
    "62": DeclineReason.PROCESSING_ERROR,
    "63": DeclineReason.PROCESSING_ERROR,
    "65": DeclineReason.INVALID_CVV,
    "78": DeclineReason.INVALID_CVV,
    "120": DeclineReason.PROCESSING_ERROR,
    "121": DeclineReason.PROCESSING_ERROR,
    "122": DeclineReason.PROCESSING_ERROR,
    "127": DeclineReason.AVS_MISMATCH,
    "165": DeclineReason.INVALID_CVV,
    "250": DeclineReason.FRAUD_SUSPECTED,
    "251": DeclineReason.FRAUD_SUSPECTED,
    "254": DeclineReason.FRAUD_SUSPECTED,
    "310": DeclineReason.INVALID_STATE,  # already voided
    "311": DeclineReason.INVALID_STATE,  # already captured
    "315": DeclineReason.INVALID_CARD,
    "316": DeclineReason.INVALID_EXPIRY,
    "317": DeclineReason.EXPIRED_CARD,
    "318": DeclineReason.DUPLICATE_TRANSACTION,
    "319": DeclineReason.TRANSACTION_NOT_FOUND,
}

# Bad login or a merchant account set up wrong at the processor: the account is the problem.
CONFIG_REASON_CODES = frozenset({"13", "24", "29", "30", "31", "34", "35", "38", "43"})

# The gateway answers 310/311 with responseCode "1": a refusal dressed as an approval.
STATE_REFUSALS = frozenset({"310", "311"})

# Request-level `messages[].code` when there is no transaction to judge.
MESSAGE_CODES: dict[str, DeclineReason] = {
    "E00002": DeclineReason.INVALID_REQUEST,
    "E00003": DeclineReason.INVALID_REQUEST,  # schema / key order / field length
    "E00004": DeclineReason.INVALID_REQUEST,
    "E00013": DeclineReason.INVALID_REQUEST,
    "E00014": DeclineReason.INVALID_REQUEST,
    "E00015": DeclineReason.INVALID_REQUEST,
    "E00016": DeclineReason.INVALID_REQUEST,
    "E00027": DeclineReason.GENERIC_DECLINE,  # "The transaction was unsuccessful." without detail
    "E00040": DeclineReason.TRANSACTION_NOT_FOUND,
    "E00041": DeclineReason.INVALID_REQUEST,
}
CONFIG_MESSAGE_CODES = frozenset(
    {"E00005", "E00006", "E00007", "E00008", "E00009", "E00010", "E00011"}
)

TRANSACTION_STATES: dict[str, GatewayState] = {
    "authorizedPendingCapture": GatewayState.AUTHORIZED,
    "capturedPendingSettlement": GatewayState.CAPTURED,
    "settledSuccessfully": GatewayState.CAPTURED,
    "voided": GatewayState.VOIDED,
    "expired": GatewayState.VOIDED,  # an authorization nobody captured: the hold is gone
    "refundPendingSettlement": GatewayState.REFUNDED,
    "refundSettledSuccessfully": GatewayState.REFUNDED,
    "declined": GatewayState.DECLINED,
    "generalError": GatewayState.DECLINED,
    "failedReview": GatewayState.DECLINED,
    # underReview, FDSPendingReview, approvedReview, couldNotVoid, communicationError,
    # settlementError, returnedItem, chargeback ...: UNKNOWN, a person has to look.
}
# A found payment that holds money outranks a declined retry or a refund of the same order.
STATE_RANK: dict[GatewayState, int] = {
    GatewayState.CAPTURED: 0,
    GatewayState.AUTHORIZED: 0,
    GatewayState.UNKNOWN: 1,
    GatewayState.DECLINED: 2,
    GatewayState.VOIDED: 2,
    GatewayState.REFUNDED: 3,
}
SETTLED_STATES = frozenset({GatewayState.CAPTURED, GatewayState.REFUNDED})

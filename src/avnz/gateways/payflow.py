"""PayPal Payflow Pro over its name-value-pair (NVP) protocol (reference/gateways.md §3).

One POST to `/` per transaction, body `NAME=value&NAME=value` (`text/namevalue`, not URL-encoded);
a value holding `&` or `=` carries a length tag: `BILLTOSTREET[9]=1 & 2 Elm`. Credentials travel
in the body (PARTNER, VENDOR, USER, PWD). The answer is NVP too, `RESULT=0&PNREF=...`; RESULT 0
is the only approval. We send `PAYPAL-NVP: Y` so the answer comes back length-tagged and a RESPMSG
holding `&` or `=` cannot break parsing.

What shapes the mapping:
- A delayed capture (TRXTYPE D) is a transaction of its own with its own PNREF. Credits (C) must
  reference the sale or that capture: crediting the authorization is refused with RESULT 105.
- `X-VPS-REQUEST-ID` makes a retry return the original answer; it is derived from the idempotency
  key, so the same key always replays instead of charging twice.
- Every sale and authorization carries our order id as CUSTREF (and INVNUM), so an inquiry
  (TRXTYPE I) finds it after a timeout when we never saw its PNREF. Payflow keeps credits as
  separate transactions, so an inquiry never reports a transaction as refunded.
"""

import dataclasses
import hashlib
import math
import re
import uuid
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from avnz.core.money import Money
from avnz.gateways.base import (
    Address,
    AvsResult,
    CaptureRequest,
    Connector,
    CvvResult,
    DeclineReason,
    Environment,
    GatewayResult,
    GatewayState,
    InquireRequest,
    Operation,
    Outcome,
    PaymentRequest,
    RefundRequest,
    Timeouts,
    TransportFailure,
    VoidRequest,
    config_error,
    declined,
    gateway_text,
    send,
    transport_failure_result,
    unreadable_reply_result,
)

PILOT_URL = "https://pilot-payflowpro.paypal.com"
LIVE_URL = "https://payflowpro.paypal.com"

# Payflow's default currency when a reply does not name one (amounts are "dollars, two decimals").
DEFAULT_CURRENCY = "USD"


# --- the NVP codec ---------------------------------------------------------------------------

_KEY = re.compile(r"([A-Za-z][A-Za-z0-9_]*)(?:\[(\d+)\])?=")


def encode_nvp(fields: Mapping[str, str]) -> str:
    """`NAME=value` pairs joined by `&`; values holding `&` or `=` get a length tag."""
    return "&".join(_pair(name, value) for name, value in fields.items())


def _pair(name: str, value: str) -> str:
    if "&" in value or "=" in value:
        return f"{name}[{len(value)}]={value}"
    return f"{name}={value}"


def parse_nvp(text: str) -> dict[str, str]:
    """Read plain and length-tagged pairs (a tagged value is exactly n characters); names are
    upper-cased. Raises ValueError on anything that is not NVP."""
    fields: dict[str, str] = {}
    pos = 0
    while pos < len(text):
        match = _KEY.match(text, pos)
        if match is None:
            raise ValueError(f"expected NAME= at offset {pos}")
        start = match.end()
        if match.group(2) is None:
            amp = text.find("&", start)
            end = len(text) if amp < 0 else amp
        else:
            end = start + int(match.group(2))
            if end > len(text) or (end < len(text) and text[end] != "&"):
                raise ValueError(f"the length tag of {match.group(1)} does not fit")
        fields[match.group(1).upper()] = text[start:end]
        pos = end + 1
    return fields


class PayflowReply(BaseModel):
    """The fields of a Payflow answer we read; the rest is ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    result: int = Field(alias="RESULT")
    pnref: str | None = Field(None, alias="PNREF")
    respmsg: str | None = Field(None, alias="RESPMSG")
    authcode: str | None = Field(None, alias="AUTHCODE")
    avsaddr: str | None = Field(None, alias="AVSADDR")
    avszip: str | None = Field(None, alias="AVSZIP")
    cvv2match: str | None = Field(None, alias="CVV2MATCH")
    amt: Decimal | None = Field(None, alias="AMT")
    currency: str | None = Field(None, alias="CURRENCY")
    origresult: int | None = Field(None, alias="ORIGRESULT")
    origpnref: str | None = Field(None, alias="ORIGPNREF")
    transstate: int | None = Field(None, alias="TRANSSTATE")
    duplicate: str | None = Field(None, alias="DUPLICATE")

    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_absent(cls, value: Any) -> Any:
        # Payflow sends `AUTHCODE=` rather than leaving a field out.
        return None if value == "" else value


def parse_reply(body: bytes) -> PayflowReply:
    """Decode and validate an answer; raises ValueError when it is not a Payflow reply."""
    return PayflowReply.model_validate(parse_nvp(body.decode("utf-8")))


# --- code tables -----------------------------------------------------------------------------

# RESULT codes that say the account or its credentials are wrong; nothing reached an issuer.
CONFIG_RESULTS: frozenset[int] = frozenset({1, 2, 5, 6, 8, 14, 25, 26, 27, 28, 100, 131})

# RESULT codes after which the processor may have acted although the answer says nothing
# certain (timeouts inside PayPal, fraud review of an authorized payment): inquire first.
UNCERTAIN_RESULTS: frozenset[int] = frozenset({11, 103, 104, 107, 109, 126, 127, 150})

DECLINE_REASONS: dict[int, DeclineReason] = {
    3: DeclineReason.INVALID_REQUEST,  # transaction type not allowed here
    4: DeclineReason.INVALID_AMOUNT,
    7: DeclineReason.INVALID_REQUEST,  # field format error
    9: DeclineReason.INVALID_REQUEST,
    10: DeclineReason.INVALID_REQUEST,
    12: DeclineReason.GENERIC_DECLINE,
    13: DeclineReason.CALL_ISSUER,  # referral: voice authorization only
    19: DeclineReason.TRANSACTION_NOT_FOUND,
    20: DeclineReason.TRANSACTION_NOT_FOUND,  # CUSTREF not found
    22: DeclineReason.INVALID_CARD,
    23: DeclineReason.INVALID_CARD,
    24: DeclineReason.INVALID_EXPIRY,
    29: DeclineReason.INVALID_REQUEST,
    30: DeclineReason.DUPLICATE_TRANSACTION,
    36: DeclineReason.PROCESSING_ERROR,
    50: DeclineReason.INSUFFICIENT_FUNDS,
    51: DeclineReason.LIMIT_EXCEEDED,
    99: DeclineReason.PROCESSING_ERROR,
    101: DeclineReason.INVALID_REQUEST,
    102: DeclineReason.PROCESSING_ERROR,  # processor not available: nothing was processed
    105: DeclineReason.INVALID_STATE,  # credit error
    106: DeclineReason.PROCESSING_ERROR,  # host not available
    108: DeclineReason.INVALID_STATE,  # void error
    110: DeclineReason.INVALID_STATE,
    111: DeclineReason.INVALID_STATE,  # capture error
    112: DeclineReason.AVS_MISMATCH,
    113: DeclineReason.LIMIT_EXCEEDED,
    114: DeclineReason.INVALID_CVV,
    115: DeclineReason.PROCESSING_ERROR,  # system busy
    116: DeclineReason.PROCESSING_ERROR,
    117: DeclineReason.INVALID_REQUEST,  # the merchant's own security settings refused it
    118: DeclineReason.INVALID_REQUEST,
    120: DeclineReason.INVALID_STATE,  # reference to a failed transaction
    122: DeclineReason.LIMIT_EXCEEDED,
    125: DeclineReason.FRAUD_SUSPECTED,
    128: DeclineReason.FRAUD_SUSPECTED,
    151: DeclineReason.PROCESSING_ERROR,  # issuing bank unavailable
    1000: DeclineReason.PROCESSING_ERROR,  # generic host error
}

# (AVSADDR, AVSZIP): X means the issuer did not check that part.
AVS_RESULTS: dict[tuple[str | None, str | None], AvsResult] = {
    ("Y", "Y"): AvsResult.MATCH,
    ("Y", "N"): AvsResult.ADDRESS_ONLY,
    ("Y", "X"): AvsResult.ADDRESS_ONLY,
    ("N", "Y"): AvsResult.POSTAL_ONLY,
    ("X", "Y"): AvsResult.POSTAL_ONLY,
    ("N", "N"): AvsResult.NO_MATCH,
    ("N", "X"): AvsResult.NO_MATCH,
    ("X", "N"): AvsResult.NO_MATCH,
}

CVV_RESULTS: dict[str, CvvResult] = {
    "Y": CvvResult.MATCH,
    "N": CvvResult.NO_MATCH,
    "X": CvvResult.UNAVAILABLE,  # the issuer does not support the check
}

# TRANSSTATE of an inquiry. 0 is an account verification or a "general success" that names no
# state, so it stays UNKNOWN; settlement failures (11, 12, 14, ...) and the +100/+200 "no
# acknowledgement" states are UNKNOWN too.
TRANSSTATES: dict[int, GatewayState] = {
    1: GatewayState.DECLINED,
    3: GatewayState.AUTHORIZED,
    4: GatewayState.CAPTURED,  # partially captured authorization
    6: GatewayState.CAPTURED,  # settlement pending
    7: GatewayState.CAPTURED,  # settlement in progress
    8: GatewayState.CAPTURED,  # settled
    9: GatewayState.CAPTURED,  # authorization captured
}
VOIDED_INCREMENT = 1000  # a void adds 1000 to the original TRANSSTATE (3 → 1003, 6 → 1006)

# A V with an ORIGID that cannot exist moves no money; ActiveMerchant checks credentials this
# way. Good credentials get "not found" (19) or a format error (7), bad ones RESULT 1 or 26.
VERIFY_ACCEPTED: frozenset[int] = frozenset({0, 7, 19})


# --- requests --------------------------------------------------------------------------------


class MissingCredentials(ValueError):
    """The account's credentials lack a required field."""


def auth_fields(credentials: Mapping[str, str]) -> dict[str, str]:
    """PARTNER/VENDOR/USER/PWD; USER defaults to the vendor login, as Payflow documents."""
    missing = [name for name in ("partner", "vendor", "password") if not credentials.get(name)]
    if missing:
        raise MissingCredentials(f"payflow credentials lack {', '.join(missing)}")
    return {
        "PARTNER": credentials["partner"],
        "VENDOR": credentials["vendor"],
        "USER": credentials.get("user") or credentials["vendor"],
        "PWD": credentials["password"],
    }


def format_amount(amount: int, currency: str) -> str:
    """Minor units to Payflow's decimal amount: 1999 USD → "19.99", 500 JPY → "500"."""
    return f"{Money(amount, currency).to_decimal():f}"


def request_id(idempotency_key: str | None) -> str:
    """X-VPS-REQUEST-ID: 32 hex characters; the same key always gives the same id, so a retry
    replays the original answer. Without a key every call is a new transaction."""
    if idempotency_key is None:
        return uuid.uuid4().hex
    return hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]


def request_headers(idempotency_key: str | None, timeouts: Timeouts) -> dict[str, str]:
    return {
        "Content-Type": "text/namevalue",
        "X-VPS-REQUEST-ID": request_id(idempotency_key),
        # Tells PayPal how long we wait, so it gives up (RESULT 11) rather than answer into a void.
        "X-VPS-CLIENT-TIMEOUT": str(max(1, math.ceil(timeouts.read))),
        "PAYPAL-NVP": "Y",
    }


def _present(fields: Mapping[str, str | None]) -> dict[str, str]:
    return {name: value for name, value in fields.items() if value}


def _source_fields(request: PaymentRequest) -> dict[str, str]:
    if request.card is None:
        # A token is the PNREF of an earlier transaction: a reference transaction re-uses its card.
        return {"ORIGID": request.token or ""}
    card = request.card
    return _present(
        {
            "ACCT": card.number,
            "EXPDATE": f"{card.exp_month:02d}{card.exp_year % 100:02d}",
            "CVV2": card.cvv,
        }
    )


def _billing_fields(billing: Address | None, holder_name: str | None) -> dict[str, str]:
    billing = billing or Address()
    first, last = billing.first_name, billing.last_name
    if not (first or last) and holder_name:
        first, _, last = holder_name.rpartition(" ")
    return _present(
        {
            "BILLTOFIRSTNAME": first,
            "BILLTOLASTNAME": last,
            "COMPANYNAME": billing.company,
            "BILLTOSTREET": billing.line1,
            "BILLTOSTREET2": billing.line2,
            "BILLTOCITY": billing.city,
            "BILLTOSTATE": billing.state,
            "BILLTOZIP": billing.postal_code,
            "BILLTOCOUNTRY": billing.country,
            "BILLTOPHONENUM": billing.phone,
        }
    )


def _payment_payload(
    trxtype: str, request: PaymentRequest, credentials: Mapping[str, str]
) -> dict[str, str]:
    holder = request.card.holder_name if request.card else None
    return {
        **auth_fields(credentials),
        "TRXTYPE": trxtype,
        "TENDER": "C",
        "VERBOSITY": "HIGH",
        "AMT": format_amount(request.amount, request.currency),
        "CURRENCY": request.currency,
        **_source_fields(request),
        **_billing_fields(request.billing, holder),
        **_present(
            {
                "CUSTREF": request.order_id,
                "INVNUM": request.order_id,
                "EMAIL": request.email,
                "CUSTIP": request.ip_address,
                "COMMENT1": (request.description or "")[:128],  # Payflow's limit
                "MERCHDESCR": request.descriptor,
            }
        ),
    }


def to_sale_payload(request: PaymentRequest, credentials: Mapping[str, str]) -> dict[str, str]:
    return _payment_payload("S", request, credentials)


def to_authorize_payload(request: PaymentRequest, credentials: Mapping[str, str]) -> dict[str, str]:
    """TRXTYPE A; with amount 0 it is an account verification."""
    return _payment_payload("A", request, credentials)


def _reference_payload(
    trxtype: str,
    origid: str,
    credentials: Mapping[str, str],
    amount: int | None = None,
    currency: str | None = None,
) -> dict[str, str]:
    fields = {
        **auth_fields(credentials),
        "TRXTYPE": trxtype,
        "TENDER": "C",
        "ORIGID": origid,
        "VERBOSITY": "HIGH",  # so the answer states the amount it moved
    }
    if amount is not None and currency is not None:
        fields |= {"AMT": format_amount(amount, currency), "CURRENCY": currency}
    return fields


def to_capture_payload(request: CaptureRequest, credentials: Mapping[str, str]) -> dict[str, str]:
    """TRXTYPE D; without AMT Payflow captures the whole authorization."""
    return _reference_payload(
        "D", request.transaction_id, credentials, request.amount, request.currency
    )


def to_void_payload(request: VoidRequest, credentials: Mapping[str, str]) -> dict[str, str]:
    return _reference_payload("V", request.transaction_id, credentials)


def to_refund_payload(request: RefundRequest, credentials: Mapping[str, str]) -> dict[str, str]:
    """A referenced credit (TRXTYPE C); without AMT Payflow credits what is left."""
    fields = _reference_payload(
        "C", request.transaction_id, credentials, request.amount, request.currency
    )
    return fields | _present({"COMMENT1": request.reason})


def to_verify_payload(credentials: Mapping[str, str]) -> dict[str, str]:
    return {**auth_fields(credentials), "TRXTYPE": "V", "TENDER": "C", "ORIGID": "0"}


def to_inquire_payload(request: InquireRequest, credentials: Mapping[str, str]) -> dict[str, str]:
    """TRXTYPE I by PNREF, or by CUSTREF (our order id) when we never learned the PNREF."""
    reference = (
        {"ORIGID": request.transaction_id}
        if request.transaction_id
        else {"CUSTREF": request.order_id or ""}
    )
    return {
        **auth_fields(credentials),
        "TRXTYPE": "I",
        "TENDER": "C",
        "VERBOSITY": "HIGH",
        **reference,
    }


# --- replies ---------------------------------------------------------------------------------


def _minor_units(reply: PayflowReply, currency: str | None, fallback: int | None) -> int | None:
    if reply.amt is None:
        return fallback
    try:
        return Money.from_decimal(reply.amt, currency or reply.currency or DEFAULT_CURRENCY).amount
    except ValueError:
        return fallback


def avs_result(reply: PayflowReply) -> AvsResult:
    return AVS_RESULTS.get((reply.avsaddr, reply.avszip), AvsResult.UNAVAILABLE)


def cvv_result(reply: PayflowReply, *, cvv_sent: bool) -> CvvResult:
    if reply.cvv2match is None:
        return CvvResult.NOT_PROCESSED if cvv_sent else CvvResult.NOT_PROVIDED
    return CVV_RESULTS.get(reply.cvv2match, CvvResult.UNAVAILABLE)


def _classify(operation: Operation, reply: PayflowReply, **fields: Any) -> GatewayResult:
    """RESULT → outcome: 0 approves; unknown codes are never a success nor a decline."""
    common: dict[str, Any] = {
        "transaction_id": reply.pnref,
        "raw_code": str(reply.result),
        "raw_message": gateway_text(reply.respmsg),
        **fields,
    }
    if reply.result == 0:
        return GatewayResult(operation, Outcome.APPROVED, auth_code=reply.authcode, **common)
    common.pop("amount", None)  # nothing was processed
    if reply.result in CONFIG_RESULTS:
        # Nothing reached an issuer, so the same card may succeed on another account.
        return config_error(operation, **common)
    reason = DECLINE_REASONS.get(reply.result)
    if reason is None or reply.result in UNCERTAIN_RESULTS:
        return GatewayResult(
            operation,
            Outcome.GATEWAY_ERROR,
            decline_reason=DeclineReason.PROCESSING_ERROR,
            retryable=False,  # inquire before trying again: the processor may have acted
            **common,
        )
    return declined(operation, reason, **common)


def from_payment_response(
    operation: Operation,
    reply: PayflowReply,
    *,
    amount: int,
    currency: str,
    cvv_sent: bool,
) -> GatewayResult:
    """A sale or an authorization; AVS and CVV are read whatever the RESULT."""
    return _classify(
        operation,
        reply,
        amount=_minor_units(reply, currency, amount),
        avs=avs_result(reply),
        cvv=cvv_result(reply, cvv_sent=cvv_sent),
    )


def from_reference_response(
    operation: Operation,
    reply: PayflowReply,
    *,
    amount: int | None = None,
    currency: str | None = None,
) -> GatewayResult:
    """A capture, void or refund: the new transaction's PNREF and the amount it moved."""
    return _classify(operation, reply, amount=_minor_units(reply, currency, amount))


def from_verify_response(reply: PayflowReply) -> GatewayResult:
    if reply.result in VERIFY_ACCEPTED:
        return GatewayResult(
            Operation.VERIFY,
            Outcome.APPROVED,
            raw_code=str(reply.result),
            raw_message=gateway_text(reply.respmsg),
        )
    return _classify(Operation.VERIFY, reply, transaction_id=None)


def inquiry_state(reply: PayflowReply) -> GatewayState:
    if reply.origresult not in (None, 0):
        return GatewayState.DECLINED
    if reply.transstate is None:
        return GatewayState.UNKNOWN
    if VOIDED_INCREMENT <= reply.transstate < 1_000_000:
        return GatewayState.VOIDED
    return TRANSSTATES.get(reply.transstate, GatewayState.UNKNOWN)


def from_inquire_response(reply: PayflowReply) -> GatewayResult:
    """A lookup that found the transaction is APPROVED whatever the transaction's own fate,
    which `state` carries; not found is a TRANSACTION_NOT_FOUND decline with state NOT_FOUND."""
    if reply.result != 0:
        result = _classify(Operation.INQUIRE, reply, transaction_id=None)
        if result.decline_reason is DeclineReason.TRANSACTION_NOT_FOUND:
            return dataclasses.replace(result, state=GatewayState.NOT_FOUND)
        return result
    return GatewayResult(
        Operation.INQUIRE,
        Outcome.APPROVED,
        transaction_id=reply.origpnref or reply.pnref,
        auth_code=reply.authcode,
        amount=_minor_units(reply, None, None),
        avs=avs_result(reply),
        cvv=CVV_RESULTS.get(reply.cvv2match or "", CvvResult.UNAVAILABLE),
        raw_code=str(reply.result),
        raw_message=gateway_text(reply.respmsg),
        state=inquiry_state(reply),
    )


# --- the connector ---------------------------------------------------------------------------

Interpret = Callable[[PayflowReply], GatewayResult]


class PayflowConnector(Connector):
    name: ClassVar[str] = "payflow"
    display_name: ClassVar[str] = "PayPal Payflow Pro"
    base_urls: ClassVar[Mapping[Environment, str]] = {
        Environment.SANDBOX: PILOT_URL,
        Environment.PRODUCTION: LIVE_URL,
    }
    credentials_schema: ClassVar[Mapping[str, Any]] = {
        "type": "object",
        "title": "PayPal Payflow Pro credentials",
        "required": ["partner", "vendor", "password"],
        "additionalProperties": False,
        "properties": {
            "partner": {
                "type": "string",
                "title": "Partner",
                "description": "The reseller that registered the account; PayPal when you "
                "signed up with PayPal directly.",
                "default": "PayPal",
                "minLength": 1,
            },
            "vendor": {
                "type": "string",
                "title": "Vendor (merchant login)",
                "description": "The merchant login ID chosen when the account was registered.",
                "minLength": 1,
            },
            "user": {
                "type": "string",
                "title": "User",
                "description": "An API user set up in PayPal Manager; leave empty to use the "
                "vendor login.",
            },
            "password": {
                "type": "string",
                "title": "Password",
                "description": "The password of the user (or of the vendor login).",
                "minLength": 6,
                "maxLength": 32,
                "writeOnly": True,
            },
        },
    }

    async def sale(self, request: PaymentRequest) -> GatewayResult:
        return await self._payment(Operation.SALE, to_sale_payload, request)

    async def authorize(self, request: PaymentRequest) -> GatewayResult:
        return await self._payment(Operation.AUTHORIZE, to_authorize_payload, request)

    async def capture(self, request: CaptureRequest) -> GatewayResult:
        return await self._call(
            Operation.CAPTURE,
            lambda: to_capture_payload(request, self.config.credentials),
            request.idempotency_key,
            lambda reply: from_reference_response(
                Operation.CAPTURE, reply, amount=request.amount, currency=request.currency
            ),
        )

    async def void(self, request: VoidRequest) -> GatewayResult:
        return await self._call(
            Operation.VOID,
            lambda: to_void_payload(request, self.config.credentials),
            request.idempotency_key,
            lambda reply: from_reference_response(Operation.VOID, reply),
        )

    async def refund(self, request: RefundRequest) -> GatewayResult:
        return await self._call(
            Operation.REFUND,
            lambda: to_refund_payload(request, self.config.credentials),
            request.idempotency_key,
            lambda reply: from_reference_response(
                Operation.REFUND, reply, amount=request.amount, currency=request.currency
            ),
        )

    async def verify(self) -> GatewayResult:
        return await self._call(
            Operation.VERIFY,
            lambda: to_verify_payload(self.config.credentials),
            None,
            from_verify_response,
        )

    async def inquire(self, request: InquireRequest) -> GatewayResult:
        return await self._call(
            Operation.INQUIRE,
            lambda: to_inquire_payload(request, self.config.credentials),
            None,  # a lookup moves nothing; a fresh request id keeps it from replaying a stale one
            from_inquire_response,
        )

    async def _payment(
        self,
        operation: Operation,
        build: Callable[[PaymentRequest, Mapping[str, str]], dict[str, str]],
        request: PaymentRequest,
    ) -> GatewayResult:
        cvv_sent = bool(request.card and request.card.cvv)
        return await self._call(
            operation,
            lambda: build(request, self.config.credentials),
            request.idempotency_key,
            lambda reply: from_payment_response(
                operation,
                reply,
                amount=request.amount,
                currency=request.currency,
                cvv_sent=cvv_sent,
            ),
        )

    async def _call(
        self,
        operation: Operation,
        build: Callable[[], dict[str, str]],
        idempotency_key: str | None,
        interpret: Interpret,
    ) -> GatewayResult:
        return self.logged(await self._exchange(operation, build, idempotency_key, interpret))

    async def _exchange(
        self,
        operation: Operation,
        build: Callable[[], dict[str, str]],
        idempotency_key: str | None,
        interpret: Interpret,
    ) -> GatewayResult:
        try:
            body = encode_nvp(build()).encode("utf-8")
        except MissingCredentials as exc:
            return config_error(operation, str(exc), request_sent=False)
        except ValueError as exc:  # e.g. a currency with no minor unit: never sent
            return declined(
                operation,
                DeclineReason.INVALID_REQUEST,
                raw_code=None,
                raw_message=str(exc)[:200],
                request_sent=False,
            )
        timeouts = self.config.timeouts
        try:
            reply = await send(
                self.http,
                "POST",
                f"{self.base_url}/",
                timeouts=timeouts,
                content=body,
                headers=request_headers(idempotency_key, timeouts),
            )
        except TransportFailure as failure:
            return transport_failure_result(operation, failure)
        if reply.status != 200:
            return unreadable_reply_result(operation, reply, f"HTTP {reply.status}")
        try:
            parsed = parse_reply(reply.body)
        except ValueError as exc:
            # The parser's message may quote the body; the type is enough to tell failures apart.
            why = f"not a Payflow reply ({type(exc).__name__})"
            return unreadable_reply_result(operation, reply, why)
        return dataclasses.replace(interpret(parsed), latency_ms=reply.latency_ms)

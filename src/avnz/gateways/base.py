"""The connector protocol: normalized requests in, normalized results out.

A connector is stateless. It turns a request into its gateway's wire format, sends it with
explicit timeouts, and turns the answer back into a GatewayResult. Only an explicit approval is
an approval and only an explicit decline is a decline; anything the connector cannot read after
the request left is reported so the caller knows a charge may exist. Connectors never import the
ORM, never log credentials or card data, and keep their wire mapping in pure functions
(`to_<op>_payload`, `from_<op>_response`) that tests can run on sample messages.
"""

import enum
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx
import structlog

from avnz.core.masking import mask_text

_log = structlog.get_logger("avnz.gateways")


class Outcome(enum.StrEnum):
    APPROVED = "approved"
    HARD_DECLINE = "hard_decline"
    SOFT_DECLINE = "soft_decline"
    ERROR_BEFORE_SEND = "error_before_send"  # nothing reached the gateway: safe elsewhere
    TIMEOUT_AFTER_SEND = "timeout_after_send"  # ambiguous: the charge may exist, inquire first
    GATEWAY_ERROR = "gateway_error"
    CONFIG_ERROR = "config_error"  # bad credentials or account setup


class DeclineReason(enum.StrEnum):
    INSUFFICIENT_FUNDS = "insufficient_funds"
    DO_NOT_HONOR = "do_not_honor"
    EXPIRED_CARD = "expired_card"
    INVALID_CVV = "invalid_cvv"
    INVALID_EXPIRY = "invalid_expiry"
    STOLEN_OR_LOST = "stolen_or_lost"
    FRAUD_SUSPECTED = "fraud_suspected"
    INVALID_CARD = "invalid_card"
    INVALID_AMOUNT = "invalid_amount"
    LIMIT_EXCEEDED = "limit_exceeded"
    RESTRICTED_CARD = "restricted_card"
    CARD_NOT_SUPPORTED = "card_not_supported"
    AUTHENTICATION_REQUIRED = "authentication_required"
    CALL_ISSUER = "call_issuer"
    AVS_MISMATCH = "avs_mismatch"
    DUPLICATE_TRANSACTION = "duplicate_transaction"
    INVALID_REQUEST = "invalid_request"
    INVALID_STATE = "invalid_state"  # e.g. void after capture, capture twice
    TRANSACTION_NOT_FOUND = "transaction_not_found"
    RATE_LIMITED = "rate_limited"
    PROCESSING_ERROR = "processing_error"
    GENERIC_DECLINE = "generic_decline"


# Can the same card succeed if tried again (later, or on another account)?
RETRYABLE: dict[DeclineReason, bool] = {
    DeclineReason.INSUFFICIENT_FUNDS: True,
    DeclineReason.DO_NOT_HONOR: True,
    DeclineReason.LIMIT_EXCEEDED: True,
    DeclineReason.PROCESSING_ERROR: True,
    DeclineReason.RATE_LIMITED: True,
    DeclineReason.AUTHENTICATION_REQUIRED: True,
    DeclineReason.GENERIC_DECLINE: True,
    DeclineReason.CALL_ISSUER: False,
    DeclineReason.EXPIRED_CARD: False,
    DeclineReason.INVALID_CVV: False,
    DeclineReason.INVALID_EXPIRY: False,
    DeclineReason.STOLEN_OR_LOST: False,
    DeclineReason.FRAUD_SUSPECTED: False,
    DeclineReason.INVALID_CARD: False,
    DeclineReason.INVALID_AMOUNT: False,
    DeclineReason.RESTRICTED_CARD: False,
    DeclineReason.CARD_NOT_SUPPORTED: False,
    DeclineReason.AVS_MISMATCH: False,
    DeclineReason.DUPLICATE_TRANSACTION: False,
    DeclineReason.INVALID_REQUEST: False,
    DeclineReason.INVALID_STATE: False,
    DeclineReason.TRANSACTION_NOT_FOUND: False,
}

# A soft decline may succeed on retry; a hard one never will with the same card data.
SOFT_REASONS = frozenset(reason for reason, retry in RETRYABLE.items() if retry)


def decline_outcome(reason: DeclineReason) -> Outcome:
    """SOFT_DECLINE for a reason worth retrying, HARD_DECLINE otherwise."""
    return Outcome.SOFT_DECLINE if reason in SOFT_REASONS else Outcome.HARD_DECLINE


class AvsResult(enum.StrEnum):
    MATCH = "match"  # address and postal code
    ADDRESS_ONLY = "address_only"
    POSTAL_ONLY = "postal_only"
    NO_MATCH = "no_match"
    UNAVAILABLE = "unavailable"  # not checked, not supported, retry, international, ...


class CvvResult(enum.StrEnum):
    MATCH = "match"
    NO_MATCH = "no_match"
    NOT_PROCESSED = "not_processed"
    NOT_PROVIDED = "not_provided"
    UNAVAILABLE = "unavailable"


class Operation(enum.StrEnum):
    SALE = "sale"
    AUTHORIZE = "authorize"
    CAPTURE = "capture"
    VOID = "void"
    REFUND = "refund"
    VERIFY = "verify"
    INQUIRE = "inquire"


class GatewayState(enum.StrEnum):
    """What an inquiry found at the gateway."""

    AUTHORIZED = "authorized"
    CAPTURED = "captured"  # sale or captured authorization
    VOIDED = "voided"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"
    DECLINED = "declined"
    NOT_FOUND = "not_found"
    UNKNOWN = "unknown"


class Environment(enum.StrEnum):
    SANDBOX = "sandbox"
    PRODUCTION = "production"


@dataclass(frozen=True, slots=True)
class Card:
    number: str
    exp_month: int
    exp_year: int  # four digits
    cvv: str | None = None
    holder_name: str | None = None

    def __repr__(self) -> str:  # tracebacks and debuggers must never show the PAN or CVV
        return (
            f"Card(bin={self.number[:6]}, last4={self.last4}, exp={self.exp_month}/{self.exp_year})"
        )

    __str__ = __repr__

    @property
    def last4(self) -> str:
        return self.number[-4:]


@dataclass(frozen=True, slots=True)
class Address:
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None  # ISO 3166-1 alpha-2
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """A sale or an authorization. Exactly one of `card` and `token` (a gateway token)."""

    amount: int  # minor units
    currency: str  # ISO 4217, upper case
    order_id: str
    card: Card | None = None
    token: str | None = None
    billing: Address | None = None
    email: str | None = None
    ip_address: str | None = None
    customer_id: str | None = None
    descriptor: str | None = None
    description: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    idempotency_key: str | None = None

    def __post_init__(self) -> None:
        if (self.card is None) == (self.token is None):
            raise ValueError("a payment needs exactly one of card or token")
        if self.amount < 0:
            raise ValueError("amount must not be negative")


@dataclass(frozen=True, slots=True)
class CaptureRequest:
    transaction_id: str
    amount: int | None  # None: the whole authorized amount
    currency: str
    order_id: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class VoidRequest:
    transaction_id: str
    order_id: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class RefundRequest:
    transaction_id: str
    amount: int | None  # None: everything still refundable
    currency: str
    order_id: str | None = None
    card_last4: str | None = None  # Authorize.Net wants it on referenced refunds
    reason: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class InquireRequest:
    """Look a transaction up by the gateway's id or, after a timeout, by our order id."""

    transaction_id: str | None = None
    order_id: str | None = None

    def __post_init__(self) -> None:
        if not (self.transaction_id or self.order_id):
            raise ValueError("inquire needs a transaction_id or an order_id")


@dataclass(frozen=True, slots=True)
class GatewayResult:
    operation: Operation
    outcome: Outcome
    transaction_id: str | None = None
    auth_code: str | None = None
    amount: int | None = None  # what the gateway says it processed, minor units
    decline_reason: DeclineReason | None = None
    retryable: bool = False
    avs: AvsResult = AvsResult.UNAVAILABLE
    cvv: CvvResult = CvvResult.UNAVAILABLE
    raw_code: str | None = None
    raw_message: str | None = None
    latency_ms: float = 0.0
    request_sent: bool = True
    state: GatewayState | None = None  # inquire only

    @property
    def approved(self) -> bool:
        return self.outcome is Outcome.APPROVED

    @property
    def charge_may_exist(self) -> bool:
        """True when the gateway may have acted although we did not get a clear answer."""
        if self.outcome is Outcome.TIMEOUT_AFTER_SEND:
            return True
        return self.outcome is Outcome.GATEWAY_ERROR and self.request_sent


def declined(
    operation: Operation,
    reason: DeclineReason,
    *,
    raw_code: str | None,
    raw_message: str | None,
    **fields: Any,
) -> GatewayResult:
    """A decline result whose outcome class and retry advice follow from the reason."""
    return GatewayResult(
        operation=operation,
        outcome=decline_outcome(reason),
        decline_reason=reason,
        retryable=RETRYABLE[reason],
        raw_code=raw_code,
        raw_message=raw_message,
        **fields,
    )


def config_error(
    operation: Operation,
    raw_message: str | None,
    *,
    raw_code: str | None = None,
    request_sent: bool = True,
    **fields: Any,
) -> GatewayResult:
    """Bad credentials or account setup. Nothing was charged and no issuer judged the card, so
    another account may well take it: retryable, whatever the gateway."""
    return GatewayResult(
        operation=operation,
        outcome=Outcome.CONFIG_ERROR,
        retryable=True,
        raw_code=raw_code,
        raw_message=raw_message,
        request_sent=request_sent,
        **fields,
    )


def gateway_text(text: str | None) -> str | None:
    """A gateway's free text, fit for results and logs: short, and anything that looks like a
    card number masked (error texts can quote the value that was sent)."""
    return mask_text(text)[:200] or None if text else None


# --- transport -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float = 5.0
    read: float = 30.0

    def httpx(self) -> httpx.Timeout:
        return httpx.Timeout(self.read, connect=self.connect, pool=self.connect)


@dataclass(frozen=True, slots=True)
class HttpReply:
    status: int
    headers: httpx.Headers
    body: bytes
    latency_ms: float


class TransportFailure(Exception):
    """The HTTP exchange failed; `outcome` says whether the request can have reached the gateway."""

    def __init__(self, outcome: Outcome, message: str, latency_ms: float) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.message = message
        self.latency_ms = latency_ms


# Raised before any byte of the request left: connection refused, DNS, TLS handshake, pool full.
_BEFORE_SEND = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.UnsupportedProtocol,
)


async def send(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    timeouts: Timeouts,
    **kwargs: Any,
) -> HttpReply:
    """One HTTP exchange, classified: raises TransportFailure with ERROR_BEFORE_SEND when nothing
    was sent, TIMEOUT_AFTER_SEND when the request went out and no complete answer came back."""
    started = time.perf_counter()
    try:
        response = await http.request(method, url, timeout=timeouts.httpx(), **kwargs)
    except _BEFORE_SEND as exc:
        raise TransportFailure(
            Outcome.ERROR_BEFORE_SEND, type(exc).__name__, _ms(started)
        ) from None
    except httpx.TransportError as exc:  # read timeout, reset, protocol error after sending
        raise TransportFailure(
            Outcome.TIMEOUT_AFTER_SEND, type(exc).__name__, _ms(started)
        ) from None
    return HttpReply(response.status_code, response.headers, response.content, _ms(started))


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def transport_failure_result(operation: Operation, failure: TransportFailure) -> GatewayResult:
    """The result of a call that failed in transport, retryable only before sending."""
    return GatewayResult(
        operation=operation,
        outcome=failure.outcome,
        retryable=failure.outcome is Outcome.ERROR_BEFORE_SEND,
        decline_reason=DeclineReason.PROCESSING_ERROR,
        raw_message=failure.message,
        latency_ms=failure.latency_ms,
        request_sent=failure.outcome is not Outcome.ERROR_BEFORE_SEND,
    )


def unreadable_reply_result(operation: Operation, reply: HttpReply, why: str) -> GatewayResult:
    """A reply we cannot trust (5xx, garbage): the gateway got the request and may have acted."""
    reason = DeclineReason.RATE_LIMITED if reply.status == 429 else DeclineReason.PROCESSING_ERROR
    return GatewayResult(
        operation=operation,
        outcome=Outcome.GATEWAY_ERROR,
        decline_reason=reason,
        retryable=True,
        raw_code=str(reply.status),
        raw_message=why[:200],
        latency_ms=reply.latency_ms,
        request_sent=True,
    )


# --- the connector ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConnectorConfig:
    credentials: Mapping[str, str] = field(repr=False)
    environment: Environment = Environment.SANDBOX
    base_url: str | None = None  # overrides the environment's URL (local sandboxes, proxies)
    timeouts: Timeouts = field(default_factory=Timeouts)


class Connector(ABC):
    """One gateway. Subclasses set the class attributes and implement the seven operations."""

    name: ClassVar[str]
    display_name: ClassVar[str]
    base_urls: ClassVar[Mapping[Environment, str]]
    # JSON Schema of the credentials an account needs (used by the integrations framework).
    credentials_schema: ClassVar[Mapping[str, Any]]

    def __init__(self, config: ConnectorConfig, http: httpx.AsyncClient) -> None:
        self.config = config
        self.http = http

    @property
    def base_url(self) -> str:
        return (self.config.base_url or self.base_urls[self.config.environment]).rstrip("/")

    def logged(self, result: GatewayResult, **context: str | None) -> GatewayResult:
        """Log one call: its classification and ids only, never the payload, the credentials or
        the gateway's raw answer (requests carry card data)."""
        _log.info(
            "gateway.call",
            gateway=self.name,
            operation=result.operation.value,
            outcome=result.outcome.value,
            decline_reason=result.decline_reason.value if result.decline_reason else None,
            raw_code=result.raw_code,
            transaction_id=result.transaction_id,
            request_sent=result.request_sent,
            latency_ms=result.latency_ms,
            **context,
        )
        return result

    def credential(self, name: str) -> str:
        value = self.config.credentials.get(name)
        if not value:
            raise ValueError(f"{self.name} credentials lack {name!r}")
        return value

    @abstractmethod
    async def sale(self, request: PaymentRequest) -> GatewayResult: ...

    @abstractmethod
    async def authorize(self, request: PaymentRequest) -> GatewayResult: ...

    @abstractmethod
    async def capture(self, request: CaptureRequest) -> GatewayResult: ...

    @abstractmethod
    async def void(self, request: VoidRequest) -> GatewayResult: ...

    @abstractmethod
    async def refund(self, request: RefundRequest) -> GatewayResult: ...

    @abstractmethod
    async def verify(self) -> GatewayResult:
        """Check the credentials with the cheapest call the gateway offers; moves no money."""

    @abstractmethod
    async def inquire(self, request: InquireRequest) -> GatewayResult: ...

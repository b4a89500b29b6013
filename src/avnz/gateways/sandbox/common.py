"""What every gateway sandbox shares: a ledger of the transactions it approved (kept in a
`store.SandboxStore`: memory, or a SQLite file that outlives the process), fault injection (slow,
hang after receiving, 5xx, malformed body), and control routes under `/_sandbox/` that tests and
load scripts use over HTTP. Faults are the process's own and are never stored.

Control routes (JSON):
  POST /_sandbox/faults   {"mode": "slow|hang|error|malformed|none", "delay_ms": 0, "count": null}
                          `count` limits the fault to the next N requests (null: until reset)
  POST /_sandbox/reset    forget every transaction and fault
  GET  /_sandbox/transactions
  POST /_sandbox/settle   run the daily settlement batch (gateways that settle in batches)
"""

import asyncio
import contextlib
import enum
import itertools
import secrets
import string
from collections.abc import Awaitable, Callable, Collection, MutableMapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from avnz.gateways.sandbox.store import Codec, MemoryStore, SandboxStore, current

HANG_SECONDS = 3600.0


class FaultMode(enum.StrEnum):
    NONE = "none"
    SLOW = "slow"  # answer normally after delay_ms
    HANG = "hang"  # read the request, then never answer (the client times out after sending)
    ERROR = "error"  # HTTP 500 with an HTML body, as a broken load balancer would
    MALFORMED = "malformed"  # HTTP 200 with a body no parser accepts


@dataclass
class Faults:
    mode: FaultMode = FaultMode.NONE
    delay_ms: int = 0
    count: int | None = None
    base_delay_ms: int = 0  # applied to every request, e.g. to emulate network latency

    def set(self, mode: FaultMode, delay_ms: int = 0, count: int | None = None) -> None:
        self.mode, self.delay_ms, self.count = mode, delay_ms, count

    def _take(self) -> FaultMode:
        if self.mode is FaultMode.NONE:
            return FaultMode.NONE
        mode = self.mode
        if self.count is not None:
            self.count -= 1
            if self.count <= 0:
                self.set(FaultMode.NONE)
        return mode

    async def apply(self) -> Response | None:
        """Run the configured fault; a Response means "send this instead of the real answer"."""
        if self.base_delay_ms:
            await asyncio.sleep(self.base_delay_ms / 1000)
        delay_ms = self.delay_ms  # read before _take(), which resets it with the last use
        mode = self._take()
        if mode is FaultMode.SLOW:
            await asyncio.sleep(delay_ms / 1000)
        elif mode is FaultMode.HANG:
            await asyncio.sleep(HANG_SECONDS)
        elif mode is FaultMode.ERROR:
            return Response(
                "<html><body>502 Bad Gateway</body></html>", status_code=502, media_type="text/html"
            )
        elif mode is FaultMode.MALFORMED:
            return Response(
                b"\x00\xffnot-a-gateway-answer{{",
                status_code=200,
                media_type="application/octet-stream",
            )
        return None


class TxnState(enum.StrEnum):
    AUTHORIZED = "authorized"
    CAPTURED = "captured"
    VOIDED = "voided"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"
    DECLINED = "declined"


@dataclass
class SandboxTxn:
    id: str
    kind: str  # sale / auth / capture / refund / void as the gateway names them
    amount: int  # minor units
    currency: str
    state: TxnState
    order_id: str | None = None
    card_last4: str | None = None
    captured: int = 0
    refunded: int = 0
    auth_code: str | None = None
    parent_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def refundable(self) -> int:
        return self.captured - self.refunded


def _dump_txn(txn: SandboxTxn) -> dict[str, Any]:
    return {f.name: getattr(txn, f.name) for f in fields(SandboxTxn)}


def _load_txn(data: dict[str, Any]) -> SandboxTxn:
    return SandboxTxn(**{**data, "state": TxnState(data["state"])})


TXN_CODEC: Codec[SandboxTxn] = Codec(_dump_txn, _load_txn, order_key=lambda txn: txn.order_id)


@dataclass
class Ledger:
    """The sandbox's memory of transactions, so follow-up operations behave like the real thing.

    `transactions` is a dict in memory or a view of the store's file; change a transaction only
    inside `store.unit()`, which writes it back."""

    id_factory: Callable[[], str]
    transactions: MutableMapping[str, SandboxTxn] = field(default_factory=dict)
    store: SandboxStore = field(default_factory=MemoryStore)

    @classmethod
    def stored(
        cls, gateway: str, id_factory: Callable[[], str], store: SandboxStore | None = None
    ) -> "Ledger":
        """The ledger of `gateway` in `store` (default: the store in effect, `store.current`)."""
        chosen = store or current()
        return cls(id_factory, chosen.records(gateway, "transactions", TXN_CODEC), chosen)

    def add(self, txn: SandboxTxn) -> SandboxTxn:
        self.transactions[txn.id] = txn
        return txn

    def get(self, txn_id: str) -> SandboxTxn | None:
        return self.transactions.get(txn_id)

    def by_order(self, order_id: str) -> list[SandboxTxn]:
        indexed = getattr(self.transactions, "by_order_key", None)
        if indexed is not None:
            found: list[SandboxTxn] = indexed(order_id)
            return found
        return [t for t in self.transactions.values() if t.order_id == order_id]

    def new_id(self) -> str:
        """A fresh id; one a restarted or other process already used is skipped."""
        while (txn_id := self.id_factory()) in self.transactions:
            pass
        return txn_id


def numeric_ids(start: int = 2_000_000_000) -> Callable[[], str]:
    """A source of increasing numeric transaction ids from a random start."""
    counter = itertools.count(start + secrets.randbelow(1_000_000) * 1000)
    return lambda: str(next(counter))


def alnum_ids(prefix: str = "", length: int = 12) -> Callable[[], str]:
    """A source of random upper-case alphanumeric ids with `prefix`."""
    alphabet = string.ascii_uppercase + string.digits
    return lambda: prefix + "".join(secrets.choice(alphabet) for _ in range(length))


def auth_code() -> str:
    """A random six-character authorization code."""
    return "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(6))


@dataclass
class SandboxState:
    ledger: Ledger
    faults: Faults = field(default_factory=Faults)


def control_routes(state: SandboxState) -> list[BaseRoute]:
    """The `/_sandbox/` routes every sandbox has: set faults, reset, list transactions."""

    async def set_faults(request: Request) -> Response:
        try:
            body = await request.json()
            state.faults.set(
                FaultMode(body.get("mode", "none")), int(body.get("delay_ms", 0)), body.get("count")
            )
        except (ValueError, TypeError, AttributeError):
            return JSONResponse({"error": "expected {mode, delay_ms, count}"}, status_code=400)
        return JSONResponse({"mode": state.faults.mode.value, "count": state.faults.count})

    async def reset(_request: Request) -> Response:
        with state.ledger.store.unit():
            state.ledger.transactions.clear()
        state.faults.set(FaultMode.NONE)
        return JSONResponse({"reset": True})

    async def transactions(_request: Request) -> Response:
        with state.ledger.store.unit():
            listed = [asdict(t) for t in state.ledger.transactions.values()]
        return JSONResponse(jsonable(listed))

    return [
        Route("/_sandbox/faults", set_faults, methods=["POST"]),
        Route("/_sandbox/reset", reset, methods=["POST"]),
        Route("/_sandbox/transactions", transactions, methods=["GET"]),
    ]


Endpoint = Callable[[Request], Awaitable[Response]]


def gateway_endpoint(
    state: SandboxState,
    handler: Endpoint,
    *,
    processed_first: Collection[FaultMode] = (FaultMode.HANG,),
) -> Endpoint:
    """Wrap a gateway endpoint in the configured faults.

    A fault in `processed_first` strikes after the gateway did the work: the answer is lost on
    its way back, the transaction exists, and only an inquiry can tell (a hang is always such a
    fault). Any other fault comes from in front of the gateway and nothing is processed.
    """

    async def faulted(request: Request) -> Response:
        await request.body()  # a fault strikes only once the whole request was received
        if state.faults.mode in processed_first:
            answer = await handler(request)
            injected = await state.faults.apply()
            return answer if injected is None else injected
        injected = await state.faults.apply()
        return await handler(request) if injected is None else injected

    return _until_disconnect(faulted)


def _until_disconnect(endpoint: Endpoint) -> Endpoint:
    """Stop working on a request whose client hung up, as a server drops a dead connection;
    otherwise a hung request would outlive its test (uvicorn waits for it when it shuts down)."""

    async def wrapped(request: Request) -> Response:
        await request.body()
        work = asyncio.ensure_future(endpoint(request))
        gone = asyncio.ensure_future(_disconnected(request))
        done, _ = await asyncio.wait({work, gone}, return_when=asyncio.FIRST_COMPLETED)
        gone.cancel()
        if work in done:
            return work.result()
        work.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await work
        return Response(status_code=499)  # nobody is listening any more

    return wrapped


async def _disconnected(request: Request) -> None:
    # After the body, the only message left to receive is the client's disconnect.
    with contextlib.suppress(Exception):
        while (await request.receive())["type"] != "http.disconnect":
            pass


def sandbox_app(
    state: SandboxState, routes: list[BaseRoute], *, settle: Callable[[], int] | None = None
) -> Starlette:
    """The sandbox: its gateway routes, the control routes, and `POST /_sandbox/settle` when the
    gateway settles in batches (`settle` runs the batch and returns how many it settled)."""
    controls = control_routes(state)
    if settle is not None:

        async def settle_batch(_request: Request) -> Response:
            with state.ledger.store.unit():
                settled = settle()
            return JSONResponse({"settled": settled})

        controls.append(Route("/_sandbox/settle", settle_batch, methods=["POST"]))
    app = Starlette(routes=[*controls, *routes])
    app.state.sandbox = state
    return app


def jsonable(value: Any) -> Any:
    """`value` with datetimes as ISO strings, for a JSON answer."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value.isoformat() if hasattr(value, "isoformat") else value

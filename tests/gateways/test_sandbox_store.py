"""Sandbox state that outlives the process: the SQLite store, and every gateway's sandbox made,
restarted on the same file (a new app, a new connection), then asked to refund the payment."""

import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import httpx
import pytest

from avnz.gateways import registry
from avnz.gateways.base import (
    Card,
    Connector,
    ConnectorConfig,
    GatewayState,
    InquireRequest,
    Outcome,
    PaymentRequest,
    RefundRequest,
)
from avnz.gateways.sandbox.common import TXN_CODEC, Ledger, SandboxTxn, TxnState, numeric_ids
from avnz.gateways.sandbox.store import (
    JSON_CODEC,
    MemoryStore,
    SqliteStore,
    current,
    decode,
    encode,
    open_store,
    persisting,
)
from tests.support.live_server import live_server

# A card every sandbox approves, with its CVV (PayPal's pilot list is the narrowest).
CARDS = {
    "authorize_net": ("4111111111111111", "123"),
    "nmi": ("4111111111111111", "999"),
    "payflow": ("4111111111111111", "123"),
    "stripe": ("4242424242424242", "123"),
}


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def _txn(txn_id: str, **extra: object) -> SandboxTxn:
    return SandboxTxn(txn_id, "sale", 1000, "USD", TxnState.CAPTURED, order_id="o-1", extra=extra)


# --- the store itself ----------------------------------------------------------------------------


def test_a_record_written_in_a_unit_is_read_by_another_connection(tmp_path: Path) -> None:
    first, second = SqliteStore(tmp_path / "s.sqlite3"), SqliteStore(tmp_path / "s.sqlite3")
    ledger = Ledger.stored("nmi", numeric_ids(), first)
    when = datetime(2026, 12, 5, 1, 2, 3, tzinfo=UTC)
    with first.unit():
        ledger.add(_txn("1", submitted=when, nested={"a": [1, 2]}))
    other = Ledger.stored("nmi", numeric_ids(), second)
    with second.unit():
        found = other.get("1")
    assert found == _txn("1", submitted=when, nested={"a": [1, 2]})
    assert Ledger.stored("stripe", numeric_ids(), second).get("1") is None  # per gateway


def test_a_change_to_a_read_record_is_written_back_at_the_end_of_its_unit(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite3")
    ledger = Ledger.stored("nmi", numeric_ids(), store)
    with store.unit():
        ledger.add(_txn("1"))
    with store.unit():
        txn = ledger.get("1")
        assert txn is not None
        txn.refunded, txn.state = 400, TxnState.PARTIALLY_REFUNDED
    fresh = Ledger.stored("nmi", numeric_ids(), SqliteStore(tmp_path / "s.sqlite3"))
    stored = fresh.get("1")
    assert stored is not None and (stored.refunded, stored.state) == (
        400,
        TxnState.PARTIALLY_REFUNDED,
    )


def test_a_unit_that_raises_keeps_nothing(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite3")
    ledger = Ledger.stored("nmi", numeric_ids(), store)
    with pytest.raises(RuntimeError), store.unit():
        ledger.add(_txn("1"))
        raise RuntimeError("the handler failed")
    assert ledger.get("1") is None
    assert len(ledger.transactions) == 0


def test_records_keep_insertion_order_and_find_by_order_id(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite3")
    ledger = Ledger.stored("payflow", numeric_ids(), store)
    with store.unit():
        for txn_id in ("9", "3", "5"):
            ledger.add(_txn(txn_id))
        ledger.add(SandboxTxn("7", "sale", 1, "USD", TxnState.DECLINED, order_id="o-2"))
    assert [t.id for t in ledger.transactions.values()] == ["9", "3", "5", "7"]
    assert [t.id for t in ledger.by_order("o-2")] == ["7"]
    with store.unit():
        ledger.transactions.clear()
    assert list(ledger.transactions) == []


def test_new_ids_skip_ids_already_in_the_file(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite3")
    ids = iter(["1", "1", "2"])
    ledger = Ledger(lambda: next(ids), store.records("nmi", "transactions", TXN_CODEC), store)
    with store.unit():
        ledger.add(_txn(ledger.new_id()))
        assert ledger.new_id() == "2"  # "1" is taken, as after a restart


def test_json_records_and_datetimes_round_trip() -> None:
    value = {"at": datetime(2026, 1, 2, tzinfo=UTC), "list": [{"x": None}], "n": 1}
    assert decode(encode(value)) == value
    with pytest.raises(TypeError):
        encode({"bad": object()})


def test_two_threads_writing_through_two_connections_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"

    def write(prefix: str) -> None:
        store = SqliteStore(path)
        counters = store.records("stripe", "counters", JSON_CODEC)
        for i in range(50):
            with store.unit():
                counters[f"{prefix}{i}"] = {"n": i}
                total = counters.get("total") or {"n": 0}
                counters["total"] = {"n": total["n"] + 1}

    threads = [threading.Thread(target=write, args=(p,)) for p in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counters = SqliteStore(path).records("stripe", "counters", JSON_CODEC)
    assert len(counters) == 101 and counters["total"] == {"n": 100}


def test_sandboxes_made_while_persisting_use_the_store_and_others_start_empty(
    tmp_path: Path,
) -> None:
    store = open_store(tmp_path / "s.sqlite3")
    assert isinstance(store, SqliteStore)
    assert isinstance(open_store(":memory:"), MemoryStore)
    with persisting(store):
        assert current() is store
        persisted = registry.sandbox_mounts(["nmi"])[0].app
    assert current() is not store
    fresh = registry.sandbox_mounts(["nmi"])[0].app
    assert persisted.state.sandbox.ledger.store is store
    assert isinstance(fresh.state.sandbox.ledger.store, MemoryStore)


# --- every gateway: pay, restart, refund ---------------------------------------------------------


def _payment(name: str) -> PaymentRequest:
    number, cvv = CARDS[name]
    card = Card(number=number, exp_month=12, exp_year=datetime.now(UTC).year + 2, cvv=cvv)
    return PaymentRequest(
        amount=1500, currency="USD", order_id=f"ord-{uuid4().hex[:12]}", card=card
    )


def _connector(name: str, url: str, http: httpx.AsyncClient) -> Connector:
    gateway = registry.gateway(name)
    config = ConnectorConfig(credentials=dict(gateway.sandbox_credentials), base_url=url)
    return registry.connector(name, config, http)


@pytest.mark.parametrize("name", sorted(CARDS))
async def test_a_payment_survives_a_restart_and_is_refunded(
    tmp_path: Path, http: httpx.AsyncClient, name: str
) -> None:
    path = tmp_path / "sandboxes.sqlite3"
    request = _payment(name)
    with persisting(SqliteStore(path)), live_server(registry.sandbox_mounts([name])[0].app) as url:
        paid = await _connector(name, url, http).sale(request)
    assert paid.outcome is Outcome.APPROVED and paid.transaction_id

    # A new app on the same file: another process, or the same server after a restart.
    with persisting(SqliteStore(path)), live_server(registry.sandbox_mounts([name])[0].app) as url:
        await http.post(f"{url}/_sandbox/settle")  # gateways that refund settled payments only
        connector = _connector(name, url, http)
        found = await connector.inquire(
            InquireRequest(transaction_id=paid.transaction_id, order_id=request.order_id)
        )
        refund = RefundRequest(
            transaction_id=paid.transaction_id,
            amount=500,
            currency="USD",
            order_id=request.order_id,
            card_last4="1111" if name != "stripe" else "4242",
        )
        refunded = await connector.refund(refund)
    assert found.state is GatewayState.CAPTURED
    assert refunded.outcome is Outcome.APPROVED, refunded

    # Memory alone forgets: the same refund against a fresh sandbox finds nothing.
    with live_server(registry.sandbox_mounts([name])[0].app) as url:
        forgotten = await _connector(name, url, http).refund(refund)
    assert forgotten.outcome is not Outcome.APPROVED

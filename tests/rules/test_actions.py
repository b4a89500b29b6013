"""Rule actions: validation with path-named errors, what each one decides, and running a list
of them in order where a failing action is recorded and the others still apply."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from structlog.testing import capture_logs

from avnz.rules import reference
from avnz.rules.actions import InvalidActions, action_types, parse_actions, run_actions
from avnz.rules.actions.base import Directive, Notification, Refusal, Review
from avnz.rules.actions.send_notification import PLACEHOLDERS
from avnz.rules.context import RuleContext
from tests.rules.factories import NOON, context

NO_RATE = "XOF"  # a real ISO 4217 currency that rules/data/rates.csv does not price


def errors(*actions: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(InvalidActions) as caught:
        parse_actions(list(actions))
    return caught.value.errors


def paths(*actions: dict[str, Any]) -> list[str]:
    return [path for path, _ in errors(*actions)]


def run(*actions: dict[str, Any], ctx: RuleContext | None = None) -> Directive:
    return run_actions(parse_actions(list(actions)), ctx or context(), rule_id="rule_test")


def surcharge(**fields: Any) -> dict[str, Any]:
    return {"type": "surcharge", **fields}


def discount(**fields: Any) -> dict[str, Any]:
    return {"type": "discount", **fields}


def email(**fields: Any) -> dict[str, Any]:
    return {
        "type": "send_notification",
        "channel": "email",
        "recipients": ["ops@brand.example.com"],
        "message": "Rule {rule_name} matched {payment_id}",
        **fields,
    }


# --- the list --------------------------------------------------------------------------------


def test_every_action_type_is_registered() -> None:
    assert set(action_types()) == {
        "route_to_pool",
        "route_to_account",
        "block",
        "surcharge",
        "discount",
        "require_3ds",
        "flag_for_review",
        "add_metadata",
        "send_notification",
    }


def test_an_empty_list_is_refused() -> None:
    assert errors() == [("actions", "List should have at least 1 item after validation, not 0")]


def test_more_than_twenty_actions_are_refused() -> None:
    assert paths(*[{"type": "require_3ds"}] * 21) == ["actions"]


def test_not_a_list_is_refused() -> None:
    with pytest.raises(InvalidActions) as caught:
        parse_actions({"type": "require_3ds"})
    assert [path for path, _ in caught.value.errors] == ["actions"]


def test_unknown_and_missing_types_name_the_item() -> None:
    found = errors({"type": "require_3ds"}, {"type": "teleport"}, {"reason": "x"})
    assert [path for path, _ in found] == ["actions.1", "actions.2"]
    assert "teleport" in found[0][1]


def test_paths_leave_out_the_type_tag_and_use_the_given_root() -> None:
    with pytest.raises(InvalidActions) as caught:
        parse_actions([{"type": "require_3ds"}, surcharge(percent=0)], path="variants.0.actions")
    assert caught.value.errors == [
        ("variants.0.actions.1.percent", "Input should be greater than 0")
    ]


def test_unknown_fields_are_refused() -> None:
    assert paths({"type": "require_3ds", "force": True}) == ["actions.0.force"]


def test_a_metadata_key_named_like_an_action_stays_in_the_path() -> None:
    assert paths({"type": "add_metadata", "metadata": {"block": 5}}) == ["actions.0.metadata.block"]


# --- routes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"pool_id": "ma_01jd"}, "actions.0.pool_id"),
        ({"pool_id": "pool_"}, "actions.0.pool_id"),
        ({"pool_id": "pool_" + "a" * 36}, "actions.0.pool_id"),
        ({"pool_id": "pool_01jd", "strategy": "fastest"}, "actions.0.strategy"),
        ({}, "actions.0.pool_id"),
    ],
)
def test_route_to_pool_validation(fields: dict[str, Any], path: str) -> None:
    assert paths({"type": "route_to_pool", **fields}) == [path]


def test_route_to_account_needs_an_account_id() -> None:
    assert paths({"type": "route_to_account", "account_id": "pool_01jd"}) == [
        "actions.0.account_id"
    ]


def test_route_to_pool_with_a_strategy_override() -> None:
    found = run({"type": "route_to_pool", "pool_id": "pool_01jd", "strategy": "round_robin"})
    assert (found.pool_id, found.strategy, found.account_id) == ("pool_01jd", "round_robin", None)


def test_the_later_route_wins() -> None:
    pool = {"type": "route_to_pool", "pool_id": "pool_01jd", "strategy": "capacity"}
    account = {"type": "route_to_account", "account_id": "ma_01jd"}
    to_account = run(pool, account)
    assert (to_account.pool_id, to_account.strategy, to_account.account_id) == (
        None,
        None,
        "ma_01jd",
    )
    to_pool = run(account, pool, {"type": "route_to_pool", "pool_id": "pool_02jd"})
    assert (to_pool.pool_id, to_pool.strategy, to_pool.account_id) == ("pool_02jd", None, None)


# --- block -----------------------------------------------------------------------------------


def blocked(reason: str, until: datetime | None = None) -> Refusal:
    return Refusal("payment_blocked", f"blocked the payment: {reason}", until)


def test_block_reason_is_stripped_and_bounded() -> None:
    (action,) = parse_actions([{"type": "block", "reason": "  fraud ring  "}])
    found = run_actions([action], context(), rule_id="r")
    assert found.refusals == {"payment_blocked": blocked("fraud ring")}
    assert paths({"type": "block", "reason": "   "}) == ["actions.0.reason"]
    assert paths({"type": "block", "reason": "x" * 201}) == ["actions.0.reason"]


def test_block_refuses_a_naive_until() -> None:
    found = errors({"type": "block", "reason": "x", "until": "2026-12-01T00:00:00"})
    assert found == [("actions.0.until", "Input should have timezone info")]


def test_block_until_a_future_time_blocks_and_a_past_one_does_nothing() -> None:
    later = NOON + timedelta(hours=1)
    future = run({"type": "block", "reason": "cool-off", "until": later.isoformat()})
    assert future.refusals == {"payment_blocked": blocked("cool-off", later)}
    past = run({"type": "block", "reason": "cool-off", "until": NOON.isoformat()})
    assert past.refusals == {}


def test_block_until_compares_instants_across_offsets() -> None:
    # 13:30 in UTC+2 is 11:30 UTC, half an hour before the payment at noon UTC.
    found = run({"type": "block", "reason": "x", "until": "2026-11-25T13:30:00+02:00"})
    assert found.refusals == {}


# --- surcharge -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "path", "message"),
    [
        ({}, "actions.0", "needs percent, flat or both"),
        ({"percent": 0}, "actions.0.percent", "Input should be greater than 0"),
        ({"percent": "100.01"}, "actions.0.percent", "Input should be less than or equal to 100"),
        (
            {"percent": "1.23456"},
            "actions.0.percent",
            "Decimal input should have no more than 4 decimal places",
        ),
        ({"flat": 0}, "actions.0.flat", "Input should be greater than or equal to 1"),
        ({"flat": 2.5}, "actions.0.flat", "Input should be a valid integer"),
        ({"flat": "25"}, "actions.0.flat", "Input should be a valid integer"),
        ({"flat": True}, "actions.0.flat", "Input should be a valid integer"),
        ({"flat": 10, "cap": 0}, "actions.0.cap", "Input should be greater than or equal to 1"),
        ({"flat": 10, "currency": "EURO"}, "actions.0.currency", "'EURO' is not an ISO 4217"),
    ],
)
def test_surcharge_validation(fields: dict[str, Any], path: str, message: str) -> None:
    ((found_path, found_message),) = errors(surcharge(**fields))
    assert found_path == path
    assert found_message.startswith(message)


def test_surcharge_accepts_the_bounds() -> None:
    (action,) = parse_actions([surcharge(percent="100", currency="eur", flat=1)])
    assert action.percent == Decimal(100)
    assert action.currency == "EUR"
    parse_actions([surcharge(percent="0.0001")])


def test_surcharge_percent_rounds_half_up_on_odd_amounts() -> None:
    # 2.5 % of 1999 is 49.975 and of 1 is 0.025; 0.5 % of 1001 is 5.005.
    assert run(surcharge(percent="2.5"), ctx=context(amount=1999)).surcharge == 50
    assert run(surcharge(percent="2.5"), ctx=context(amount=1)).surcharge == 0
    assert run(surcharge(percent="0.5"), ctx=context(amount=1001)).surcharge == 5
    assert run(surcharge(percent="50"), ctx=context(amount=1)).surcharge == 1  # 0.5 up


def test_surcharge_in_a_zero_decimal_currency() -> None:
    # 3 % of 1,999 yen is 59.97 yen: yen have no minor unit below 1.
    assert run(surcharge(percent="3"), ctx=context(amount=1999, currency="JPY")).surcharge == 60


def test_surcharge_flat_in_another_currency_is_converted() -> None:
    expected = reference.convert(250, "EUR", "USD")
    assert expected == 270
    assert run(surcharge(flat=250, currency="EUR")).surcharge == expected
    in_yen = run(surcharge(flat=100), ctx=context(amount=5000, currency="JPY"))
    assert in_yen.surcharge == 100  # no currency: the transaction's


def test_surcharge_cap_is_converted_and_limits_the_total() -> None:
    capped = run(surcharge(percent="10", flat=100, cap=300), ctx=context(amount=10_000))
    assert capped.surcharge == 300
    under = run(surcharge(percent="1", cap=300), ctx=context(amount=10_000))
    assert under.surcharge == 100
    # A cap of 1.00 EUR on a yen payment: 1.08 USD / 0.0067 = 161 yen.
    in_yen = run(
        surcharge(percent="10", cap=100, currency="EUR"), ctx=context(amount=5000, currency="JPY")
    )
    assert in_yen.surcharge == reference.convert(100, "EUR", "JPY") == 161


def test_surcharges_add_up() -> None:
    found = run(surcharge(percent="1"), surcharge(flat=30), ctx=context(amount=2000))
    assert found.surcharge == 50
    assert found.final_amount(2000) == 2050


def test_surcharge_without_a_rate_fails_and_changes_nothing() -> None:
    found = run(surcharge(percent="5", flat=100, currency=NO_RATE))
    assert found.surcharge == 0
    assert found.failures == [f"actions.0 (surcharge): no exchange rate for {NO_RATE}"]


def test_a_transaction_currency_without_a_rate_is_named() -> None:
    found = run(surcharge(flat=100, currency="USD"), ctx=context(currency=NO_RATE))
    assert found.failures == [f"actions.0 (surcharge): no exchange rate for {NO_RATE}"]


# --- discount --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({}, "actions.0"),
        ({"percent": 100}, "actions.0.percent"),
        ({"percent": -1}, "actions.0.percent"),
        ({"flat": -5}, "actions.0.flat"),
        ({"percent": 10, "cap": 100}, "actions.0.cap"),
    ],
)
def test_discount_validation(fields: dict[str, Any], path: str) -> None:
    assert paths(discount(**fields)) == [path]


def test_discount_percent_and_flat() -> None:
    found = run(discount(percent="12.5", flat=100), ctx=context(amount=1999))
    assert found.discount == 250 + 100  # 249.875 rounds up to 250
    assert found.final_amount(1999) == 1649


def test_discount_never_takes_the_whole_amount() -> None:
    found = run(discount(flat=5000), discount(percent="99.99"), ctx=context(amount=1000))
    assert found.discount == 999
    assert found.final_amount(1000) == 1


def test_discount_floor_holds_in_a_zero_decimal_currency() -> None:
    found = run(discount(flat=10, currency="USD"), ctx=context(amount=5, currency="JPY"))
    assert found.discount == 4
    assert found.final_amount(5) == 1


def test_discount_on_a_one_unit_payment_is_nothing() -> None:
    found = run(discount(percent="50"), ctx=context(amount=1))
    assert found.discount == 0 and found.final_amount(1) == 1


def test_final_amount_is_never_below_one() -> None:
    assert Directive(discount=500).final_amount(100) == 1
    assert Directive(surcharge=20, discount=5).final_amount(100) == 115


# --- 3DS, review, metadata -------------------------------------------------------------------


def test_require_3ds() -> None:
    assert set(run({"type": "require_3ds"}).refusals) == {"authentication_required"}
    assert set(run({"type": "require_3ds", "reason": "high value"}).refusals) == {
        "authentication_required"
    }
    assert run({"type": "add_metadata", "metadata": {"a": "b"}}).refusals == {}
    assert paths({"type": "require_3ds", "reason": ""}) == ["actions.0.reason"]


def test_flag_for_review_defaults_and_later_flag_wins() -> None:
    found = run({"type": "flag_for_review", "reason": "new customer"})
    assert found.review == Review("new customer", "medium", False)
    later = run(
        {"type": "flag_for_review", "reason": "first"},
        {"type": "flag_for_review", "reason": "second", "severity": "critical", "hold_funds": True},
    )
    assert later.review == Review("second", "critical", True)


def test_flag_for_review_validation() -> None:
    found = paths({"type": "flag_for_review", "reason": "x", "severity": "urgent"})
    assert found == ["actions.0.severity"]
    assert paths({"type": "flag_for_review", "hold_funds": "maybe", "reason": "x"}) == [
        "actions.0.hold_funds"
    ]
    assert paths({"type": "flag_for_review"}) == ["actions.0.reason"]


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({}, "Dictionary should have at least 1 item"),
        ({f"k{n}": "v" for n in range(21)}, "Dictionary should have at most 20 items"),
        ({"bad key": "v"}, "key 'bad key' must be 1-40 letters"),
        ({"k" * 41: "v"}, f"key '{'k' * 41}' must be 1-40 letters"),
        ({"note": "x" * 501}, "the value of 'note' is longer than 500 characters"),
    ],
)
def test_add_metadata_validation(metadata: dict[str, str], message: str) -> None:
    ((path, found),) = errors({"type": "add_metadata", "metadata": metadata})
    assert path == "actions.0.metadata"
    assert found.startswith(message)


def test_metadata_merges_and_later_keys_win() -> None:
    found = run(
        {"type": "add_metadata", "metadata": {"segment": "eu", "tier": "gold", "a.b-c_d": "1"}},
        {"type": "add_metadata", "metadata": {"tier": "platinum", "x": "y" * 500}},
    )
    assert found.metadata == {"segment": "eu", "tier": "platinum", "a.b-c_d": "1", "x": "y" * 500}


# --- send_notification -----------------------------------------------------------------------


def test_notification_is_queued_with_placeholders_unfilled() -> None:
    found = run(email(subject="Blocked {payment_id}", recipients=["a@x.example", "b@x.example"]))
    assert found.notifications == [
        Notification(
            channel="email",
            recipients=("a@x.example", "b@x.example"),
            subject="Blocked {payment_id}",
            message="Rule {rule_name} matched {payment_id}",
        )
    ]


def test_every_placeholder_is_accepted() -> None:
    message = " ".join(f"{{{name}}}" for name in PLACEHOLDERS) + " {{literal}}"
    parse_actions([email(message=message, subject="{card_brand} in {country}")])


@pytest.mark.parametrize(
    ("fields", "path", "message"),
    [
        ({"message": "Hi {card_number}"}, "actions.0.message", "unknown placeholder {card_number}"),
        ({"subject": "{amount.real}"}, "actions.0.subject", "unknown placeholder {amount.real}"),
        ({"message": "{amount:>10}"}, "actions.0.message", "placeholder {amount} takes no format"),
        ({"message": "{amount!r}"}, "actions.0.message", "placeholder {amount} takes no format"),
        ({"message": "Half {brace"}, "actions.0.message", "expected '}' before end of string"),
        ({"message": ""}, "actions.0.message", "String should have at least 1 character"),
        ({"message": "x" * 1001}, "actions.0.message", "String should have at most 1000"),
        ({"subject": "x" * 201}, "actions.0.subject", "String should have at most 200"),
        ({"recipients": []}, "actions.0.recipients", "email needs 1 to 10 recipients"),
        ({"recipients": ["not-an-address"]}, "actions.0.recipients.0", "value is not a valid"),
        (
            {"recipients": [f"u{n}@x.example" for n in range(11)]},
            "actions.0.recipients",
            "List should have at most 10 items",
        ),
        ({"channel": "sms"}, "actions.0.channel", "Input should be 'webhook' or 'email'"),
    ],
)
def test_send_notification_validation(fields: dict[str, Any], path: str, message: str) -> None:
    ((found_path, found_message),) = errors(email(**fields))
    assert found_path == path
    assert found_message.startswith(message)


def test_email_needs_recipients_even_when_the_field_is_left_out() -> None:
    action = email()
    del action["recipients"]
    assert paths(action) == ["actions.0.recipients"]


def test_webhook_refuses_recipients_and_needs_none() -> None:
    assert errors(email(channel="webhook")) == [
        (
            "actions.0.recipients",
            "webhook notifications go to the company's endpoints: no recipients",
        )
    ]
    hook = {"type": "send_notification", "channel": "webhook", "message": "{amount} {currency}"}
    assert run(hook).notifications[0].recipients == ()


# --- running a list --------------------------------------------------------------------------


def test_actions_run_in_order_on_a_fresh_directive() -> None:
    actions = parse_actions(
        [
            {"type": "route_to_pool", "pool_id": "pool_01jd"},
            surcharge(percent="2"),
            {"type": "add_metadata", "metadata": {"k": "v"}},
        ]
    )
    first = run_actions(actions, context(amount=1000), rule_id="rule_a")
    second = run_actions(actions, context(amount=1000), rule_id="rule_a")
    assert first == second
    assert first.surcharge == 20 and first.metadata == {"k": "v"} and first.failures == []
    assert first.metadata is not second.metadata


def test_a_failing_action_is_logged_and_recorded_and_the_rest_still_apply() -> None:
    actions = parse_actions(
        [
            surcharge(percent="1"),
            surcharge(flat=100, currency=NO_RATE),
            {"type": "route_to_account", "account_id": "ma_01jd"},
            discount(flat=50, currency=NO_RATE),
            {"type": "require_3ds"},
        ]
    )
    with capture_logs() as logs:
        found = run_actions(actions, context(amount=2000, bin="411111"), rule_id="rule_7")
    assert found.surcharge == 20
    assert found.account_id == "ma_01jd" and "authentication_required" in found.refusals
    assert found.failures == [
        f"actions.1 (surcharge): no exchange rate for {NO_RATE}",
        f"actions.3 (discount): no exchange rate for {NO_RATE}",
    ]
    assert [entry for entry in logs if entry["event"] == "rules.action_failed"] == [
        {
            "event": "rules.action_failed",
            "log_level": "warning",
            "rule_id": "rule_7",
            "index": index,
            "type": kind,
            "error": f"no exchange rate for {NO_RATE}",
        }
        for index, kind in ((1, "surcharge"), (3, "discount"))
    ]
    assert "411111" not in str(logs)


def test_failures_use_the_given_path() -> None:
    actions = parse_actions([surcharge(flat=1, currency=NO_RATE)])
    found = run_actions(actions, context(), rule_id="r", path="variants.1.actions")
    assert found.failures == [f"variants.1.actions.0 (surcharge): no exchange rate for {NO_RATE}"]


# --- properties ------------------------------------------------------------------------------

CURRENCIES = ["USD", "EUR", "JPY", "KWD", "GBP"]
percents = st.decimals(min_value="0.0001", max_value="99.9999", places=4)
amounts = st.integers(min_value=0, max_value=10**9)


@given(
    amount=amounts,
    currency=st.sampled_from(CURRENCIES),
    percent=st.none() | percents,
    flat=st.none() | st.integers(1, 10**6),
    cap=st.integers(1, 10**6),
    fee_currency=st.sampled_from(CURRENCIES),
)
def test_a_surcharge_never_exceeds_its_cap(
    amount: int,
    currency: str,
    percent: Decimal | None,
    flat: int | None,
    cap: int,
    fee_currency: str,
) -> None:
    if percent is None and flat is None:
        flat = 1
    fields = {"percent": percent, "flat": flat, "cap": cap, "currency": fee_currency}
    found = run(surcharge(**fields), ctx=context(amount=amount, currency=currency))
    limit = reference.convert(cap, fee_currency, currency)
    assert limit is not None
    assert 0 <= found.surcharge <= limit
    assert found.failures == []


@given(
    amount=st.integers(min_value=1, max_value=10**9),
    currency=st.sampled_from(CURRENCIES),
    adjustments=st.lists(
        st.tuples(st.sampled_from(["surcharge", "discount"]), percents, st.integers(1, 10**7)),
        min_size=1,
        max_size=8,
    ),
)
def test_the_final_amount_is_at_least_one_and_discounts_stay_below_the_amount(
    amount: int, currency: str, adjustments: list[tuple[str, Decimal, int]]
) -> None:
    actions = [{"type": kind, "percent": p, "flat": flat} for kind, p, flat in adjustments]
    found = run(*actions, ctx=context(amount=amount, currency=currency))
    assert found.discount <= amount - 1
    assert found.final_amount(amount) >= 1
    assert found.final_amount(amount) == amount + found.surcharge - found.discount


@given(moment=st.datetimes(timezones=st.just(UTC)), offset=st.integers(-(10**6), 10**6))
def test_a_block_applies_exactly_before_its_until(moment: datetime, offset: int) -> None:
    until = NOON + timedelta(seconds=offset)
    found = run(
        {"type": "block", "reason": "x", "until": until.isoformat()}, ctx=context(moment=moment)
    )
    assert ("payment_blocked" in found.refusals) == (moment < until)

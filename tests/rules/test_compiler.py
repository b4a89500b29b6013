from typing import Any

from avnz.rules.compiler import compile_conditions, explain
from avnz.rules.conditions.amount import AmountCondition
from avnz.rules.context import RuleContext
from tests.rules.factories import context, group, leaf, matches, nodes

DE = leaf("geography", "country", "equals", "DE")
FR = leaf("geography", "country", "equals", "FR")
BIG = leaf("amount", "amount", "gt", 10000)
VISA = leaf("payment_method", "card_brand", "equals", "visa")


def test_no_conditions_match_everything() -> None:
    assert compile_conditions([])(context())
    assert explain([], context())[0]


def test_top_level_list_is_and() -> None:
    tree = nodes(DE, BIG)
    assert compile_conditions(tree)(context(country="DE", amount=20000))
    assert not compile_conditions(tree)(context(country="DE", amount=100))


def test_nested_and_or() -> None:
    # (DE or FR) and (big or (visa and not trial))
    rule = group(
        "AND",
        group("OR", DE, FR),
        group("OR", BIG, group("AND", VISA, leaf("product", "is_trial", "is", False))),
    )
    cases: list[tuple[dict[str, Any], bool]] = [
        ({"country": "DE", "amount": 20000}, True),
        ({"country": "FR", "amount": 100, "card_brand": "visa"}, True),
        ({"country": "FR", "amount": 100}, False),
        ({"country": "IT", "amount": 20000}, False),
    ]
    for overrides, expected in cases:
        assert matches(rule, context(**overrides)) is expected, overrides
    single = group("OR", group("AND", group("OR", DE)))
    assert matches(single, context(country="DE"))
    assert matches(group("OR", DE, FR, BIG), context(amount=20000))
    assert not matches(group("AND", DE, FR, BIG), context(country="DE", amount=20000))


def test_short_circuit_stops_at_the_deciding_child(monkeypatch: Any) -> None:
    calls: list[str] = []
    real = AmountCondition.compile

    def counting(leaf_: AmountCondition) -> Any:
        predicate = real(leaf_)

        def wrapped(ctx: RuleContext) -> bool:
            calls.append(leaf_.operator)
            return predicate(ctx)

        return wrapped

    monkeypatch.setattr(AmountCondition, "compile", counting)
    lt = leaf("amount", "amount", "lt", 10)
    gt = leaf("amount", "amount", "gt", 10)
    three = [lt, gt, leaf("amount", "amount", "gte", 0)]
    compile_conditions(nodes(group("AND", *three)))(context(amount=1000))
    assert calls == ["lt"]
    calls.clear()
    compile_conditions(nodes(group("OR", gt, lt, gt)))(context(amount=1000))
    assert calls == ["gt"]
    calls.clear()
    compile_conditions(nodes(lt, gt))(context(amount=1000))
    assert calls == ["lt"]


def test_explain_gives_every_node_with_its_path() -> None:
    tree = nodes(BIG, group("OR", DE, FR))
    result, results = explain(tree, context(country="FR", amount=20000))
    assert result is True
    assert [r.path for r in results] == ["conditions.0", "conditions.1"]
    assert results[0].field == "amount" and results[0].result
    assert [(c.path, c.result) for c in results[1].children] == [
        ("conditions.1.children.0", False),
        ("conditions.1.children.1", True),
    ]
    assert results[1].operator == "OR" and results[1].type == "group"
    # no short circuit: a false first node still shows the rest
    result, results = explain(tree, context(country="DE", amount=1))
    assert result is False
    assert results[1].result is True

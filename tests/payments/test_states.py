"""The payment state machine: every legal move, and a 409 for everything else."""

import pytest

from avnz.payments.states import (
    FINAL,
    InvalidPaymentState,
    PaymentAction,
    PaymentStatus,
    can,
    next_status,
)

S, A = PaymentStatus, PaymentAction

LEGAL = {
    (S.PENDING, A.AUTHORIZE): S.AUTHORIZED,
    (S.PENDING, A.SALE): S.CAPTURED,
    (S.PENDING, A.DECLINE): S.DECLINED,
    (S.PENDING, A.FAIL): S.FAILED,
    (S.AUTHORIZED, A.CAPTURE): S.CAPTURED,
    (S.AUTHORIZED, A.VOID): S.VOIDED,
    (S.CAPTURED, A.REFUND_PART): S.PARTIALLY_REFUNDED,
    (S.CAPTURED, A.REFUND_ALL): S.REFUNDED,
    (S.PARTIALLY_REFUNDED, A.REFUND_PART): S.PARTIALLY_REFUNDED,
    (S.PARTIALLY_REFUNDED, A.REFUND_ALL): S.REFUNDED,
}


@pytest.mark.parametrize("status", list(S))
@pytest.mark.parametrize("action", list(A))
def test_each_pair_is_legal_exactly_when_the_table_says(
    status: PaymentStatus, action: PaymentAction
) -> None:
    if (status, action) in LEGAL:
        assert can(status, action)
        assert next_status(status, action) is LEGAL[(status, action)]
    else:
        assert not can(status, action)
        with pytest.raises(InvalidPaymentState) as refused:
            next_status(status, action)
        assert refused.value.status_code == 409
        assert refused.value.code == "invalid_state"
        assert f"A {status.value} payment cannot" in refused.value.message


def test_final_statuses_allow_nothing() -> None:
    for status in FINAL:
        assert not any(can(status, action) for action in A), status
        with pytest.raises(InvalidPaymentState, match="it allows: nothing"):
            next_status(status, A.CAPTURE)


def test_the_refusal_says_what_is_allowed() -> None:
    with pytest.raises(InvalidPaymentState, match="A voided payment cannot be captured"):
        next_status(S.VOIDED, A.CAPTURE)
    with pytest.raises(InvalidPaymentState, match="it allows: capture, void"):
        next_status(S.AUTHORIZED, A.REFUND_PART)

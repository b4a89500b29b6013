"""Unit tests of the masking nets: card numbers in text, and values under secret keys."""

import copy

import pytest

from avnz.core.logging import mask_processor
from avnz.core.masking import MASK, mask_text, mask_value

PAN = "4111111111111111"
MASKED_PAN = "411111******1111"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (PAN, MASKED_PAN),
        ("4111 1111 1111 1111", MASKED_PAN),
        ("4111-1111-1111-1111", MASKED_PAN),
        (f"charge card {PAN} now", f"charge card {MASKED_PAN} now"),
        ("/pay?card=4111+1111+1111+1111&x=1", f"/pay?card={MASKED_PAN}&x=1"),
        ("/pay?card=4111%201111%201111%201111", f"/pay?card={MASKED_PAN}"),
        ("amex 378282246310005", "amex 378282*****0005"),
        (f"('{PAN}',)", f"('{MASKED_PAN}',)"),
    ],
)
def test_card_numbers_in_text_keep_bin_and_last_four(text, expected):
    assert mask_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "4111111111111112",  # fails the Luhn check
        "order 1234567890123 shipped",
        "call +1 555 123 4567",
        "total 12.4111111111111111",  # part of a decimal number
        "4111 1111",  # too short to be a card
        "ids 20261125224657 and 42",
    ],
)
def test_digit_runs_that_are_not_cards_are_untouched(text):
    assert mask_text(text) == text


@pytest.mark.parametrize(
    ("text", "leaked"),
    [
        ("Authorization: Bearer eyJhbGciOi.payload.signature", "eyJhbGciOi"),
        ("Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpw"),
        ("password=hunter22&user=ann", "hunter22"),
        ('{"client_secret": "cs_9f8e7d6c5b4a"}', "cs_9f8e7d6c5b4a"),
        ("cvv=737 exp=12/30", "737"),
        ("key sk_live_abcdEFGH1234 used", "abcdEFGH1234"),
    ],
)
def test_credentials_in_text_are_masked(text, leaked):
    masked = mask_text(text)
    assert leaked not in masked
    assert MASK in masked


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("cvv", "737", MASK),
        ("CVC2", 123, MASK),
        ("password", "hunter22", MASK),
        ("newPassword", "a-much-longer-password", f"{MASK}word"),
        ("apiKey", "short", MASK),
        ("X-API-Key", "sk_test_0123456789abcd", f"{MASK}abcd"),
        ("Authorization", "Bearer eyJhbGciOi.payload.sig4", f"{MASK}sig4"),
        ("client_secret", "cs_live_8c7d6e5f", f"{MASK}6e5f"),
        ("transaction_key", "7aB3kL9qXz2M", f"{MASK}Xz2M"),
        ("card_number", "4111 1111 1111 1111", MASKED_PAN),
        ("pan", int(PAN), MASKED_PAN),
        ("password", None, None),
        ("password", "", ""),
    ],
)
def test_values_under_secret_keys_are_masked(key, value, expected):
    assert mask_value({key: value}) == {key: expected}


def test_nested_structures_are_masked_at_every_level_without_mutating_the_input():
    payload = {
        "payment": {
            "amount": 1999,
            "card": {"number": PAN, "cvv": "737", "holder": "Ann Lee"},
            "notes": [f"card {PAN}", {"apiKey": "k" * 20}, ("Bearer abcdefgh",)],
        },
        "headers": {"Authorization": "Bearer abcdefghijkl", "Accept": "application/json"},
    }
    original = copy.deepcopy(payload)

    masked = mask_value(payload)

    assert payload == original
    assert masked == {
        "payment": {
            "amount": 1999,
            "card": {"number": MASKED_PAN, "cvv": MASK, "holder": "Ann Lee"},
            "notes": [f"card {MASKED_PAN}", {"apiKey": f"{MASK}kkkk"}, [f"Bearer {MASK}"]],
        },
        "headers": {"Authorization": f"{MASK}ijkl", "Accept": "application/json"},
    }


def test_credentials_mapping_is_masked_key_by_key():
    assert mask_value({"credentials": {"login": "api", "transaction_key": "x"}}) == {
        "credentials": {"login": MASK, "transaction_key": MASK}
    }


def test_mask_processor_masks_every_field_of_a_log_event():
    event = {
        "event": f"charge declined for {PAN}",
        "password": "hunter22",
        "request": {"headers": {"Authorization": "Bearer abcdefghijklmnop"}, "cvv": "737"},
        "query": "cvv=737&card=4111+1111+1111+1111",
        "amount": 1999,
        "level": "info",
    }
    masked = mask_processor(None, "info", event)
    assert masked == {
        "event": f"charge declined for {MASKED_PAN}",
        "password": MASK,
        "request": {"headers": {"Authorization": f"{MASK}mnop"}, "cvv": MASK},
        "query": f"cvv={MASK}&card={MASKED_PAN}",
        "amount": 1999,
        "level": "info",
    }

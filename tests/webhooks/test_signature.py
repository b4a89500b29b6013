"""`Avnz-Signature`: what a receiver accepts and what it must reject."""

import hashlib
import hmac

import pytest

from avnz.webhooks.signature import SignatureError, sign, verify_signature

SECRET = "whsec_test_0123456789abcdef"
BODY = b'{"id":"evt_1","type":"payment.succeeded"}'
T = 1_790_000_000


def test_the_header_is_t_and_v1_hmac_of_t_dot_body():
    expected = hmac.new(SECRET.encode(), f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign([SECRET], BODY, T) == f"t={T},v1={expected}"


def test_a_fresh_signature_verifies_and_returns_its_timestamp():
    assert verify_signature(SECRET, sign([SECRET], BODY, T), BODY, now=T + 30) == T


@pytest.mark.parametrize("age", [301, 3600, -301], ids=["5-min-old", "hour-old", "future"])
def test_a_replayed_or_skewed_signature_is_rejected(age):
    header = sign([SECRET], BODY, T)
    with pytest.raises(SignatureError, match="older than 300 seconds"):
        verify_signature(SECRET, header, BODY, now=T + age)


def test_the_tolerance_is_the_receivers_choice():
    header = sign([SECRET], BODY, T)
    assert verify_signature(SECRET, header, BODY, tolerance=3600, now=T + 3000) == T


@pytest.mark.parametrize(
    ("secret", "body", "header"),
    [
        ("whsec_other", BODY, None),
        (SECRET, BODY + b" ", None),
        (SECRET, BODY, f"t={T + 1},v1=" + sign([SECRET], BODY, T).split("v1=")[1]),
    ],
    ids=["wrong-secret", "tampered-body", "moved-timestamp"],
)
def test_a_signature_that_does_not_match_is_rejected(secret, body, header):
    with pytest.raises(SignatureError, match="no signature matches"):
        verify_signature(secret, header or sign([SECRET], BODY, T), body, now=T)


@pytest.mark.parametrize(
    "header", [None, "", "v1=abc", f"t={T}", "t=soon,v1=abc", "garbage"], ids=repr
)
def test_a_malformed_header_is_rejected(header):
    with pytest.raises(SignatureError):
        verify_signature(SECRET, header, BODY, now=T)


def test_during_a_rotation_either_secret_verifies():
    header = sign(["whsec_new", "whsec_old"], BODY, T)
    assert header.count("v1=") == 2
    assert verify_signature("whsec_new", header, BODY, now=T) == T
    assert verify_signature("whsec_old", header, BODY, now=T) == T
    with pytest.raises(SignatureError):
        verify_signature("whsec_other", header, BODY, now=T)

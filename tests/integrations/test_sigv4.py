"""AWS Signature Version 4, checked against the example in AWS's documentation."""

import hashlib
from datetime import UTC, datetime

from avnz.integrations import sigv4

# AWS's published example: IAM ListUsers, 2015-08-30T12:36:00Z, us-east-1.
EXAMPLE = {
    "method": "GET",
    "url": "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08",
    "headers": {"content-type": "application/x-www-form-urlencoded; charset=utf-8"},
    "body": b"",
    "access_key_id": "AKIDEXAMPLE",
    "secret_access_key": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    "region": "us-east-1",
    "service": "iam",
    "now": datetime(2015, 8, 30, 12, 36, tzinfo=UTC),
}


def test_the_documented_example_signs_to_the_documented_signature():
    headers = sigv4.sign(**EXAMPLE)
    assert headers["authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-date, "
        "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
    )
    assert headers["x-amz-date"] == "20150830T123600Z"
    assert headers["host"] == "iam.amazonaws.com"


def test_the_canonical_request_hashes_as_documented():
    headers = {
        **EXAMPLE["headers"],
        "host": "iam.amazonaws.com",
        "x-amz-date": "20150830T123600Z",
    }
    canonical, signed = sigv4.canonical_request("GET", EXAMPLE["url"], headers, b"")
    assert signed == "content-type;host;x-amz-date"
    assert hashlib.sha256(canonical.encode()).hexdigest() == (
        "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"
    )


def test_a_session_token_is_signed_and_another_secret_signs_differently():
    with_token = sigv4.sign(**{**EXAMPLE, "session_token": "FQoGZXIvYXdzEXAMPLE"})
    assert with_token["x-amz-security-token"] == "FQoGZXIvYXdzEXAMPLE"
    assert (
        "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token,"
        in (with_token["authorization"])
    )
    other = sigv4.sign(**{**EXAMPLE, "secret_access_key": "another-secret-key-0000"})
    assert other["authorization"] != sigv4.sign(**EXAMPLE)["authorization"]

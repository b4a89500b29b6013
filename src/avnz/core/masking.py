"""Masking of secrets and card data wherever they might appear: logs, audit rows, errors.

Two nets: keys whose name says "secret" (password, cvv, authorization, credentials, ...) have
their values masked whatever they hold, and any string is scanned for card numbers (Luhn-valid
digit runs), bearer tokens and `key=value` pairs of sensitive keys.
"""

import re
from collections.abc import Mapping
from typing import Any

from stdnum import luhn

MASK = "••••"

# Compared after lower-casing and dropping "_" and "-": "API-Key", "api_key" and "apiKey" match.
_SECRET_KEYS = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "newpassword",
        "currentpassword",
        "passwordhash",
        "secret",
        "clientsecret",
        "webhooksecret",
        "signingsecret",
        "token",
        "accesstoken",
        "refreshtoken",
        "idtoken",
        "invitetoken",
        "apikey",
        "key",
        "authorization",
        "proxyauthorization",
        "cookie",
        "setcookie",
        "xapikey",
        "credentials",
        "privatekey",
        "transactionkey",
        "securitykey",
        "signature",
        "cvv",
        "cvv2",
        "cvc",
        "cvc2",
        "cid",
        "securitycode",
        "cardcode",
        "cardsecuritycode",
    }
)
_CARD_KEYS = frozenset({"cardnumber", "pan", "acct", "ccnumber", "accountnumber", "number"})
_CVV_KEYS = frozenset({"cvv", "cvv2", "cvc", "cvc2", "cid", "securitycode", "cardcode"})

# Digits may be grouped by spaces or dashes, or by "+" / "%20" once URL-encoded in a query.
_PAN_SEPARATOR = r"(?:[ +-]|%20)"
_PAN_CANDIDATE = re.compile(rf"(?<![\d.])\d(?:{_PAN_SEPARATOR}?\d){{12,18}}(?![\d.])")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{4,}")
_PAIR_KEYS = r"password|passwd|pwd|secret|token|api[_-]?key|cvv2?|cvc2?|authorization|security_?key"
_PAIR = re.compile(
    rf"(?i)([\"']?\b(?:[a-z_]*?)(?:{_PAIR_KEYS})[\"']?\s*[:=]\s*[\"']?)([^\"'&\s,;}}]+)"
)
_API_KEY = re.compile(r"\b(sk|rk)_(test|live)_[A-Za-z0-9]{8,}")


def _normalize(key: str) -> str:
    return key.lower().replace("_", "").replace("-", "")


def mask_pan(digits: str) -> str:
    """BIN and last four only: 4111111111111111 → 411111******1111."""
    return f"{digits[:6]}{'*' * (len(digits) - 10)}{digits[-4:]}"


def mask_secret(value: str) -> str:
    """Keep the last four characters of long secrets so a person can tell two apart."""
    return f"{MASK}{value[-4:]}" if len(value) >= 12 else MASK


def _mask_pan_match(match: re.Match[str]) -> str:
    digits = re.sub(_PAN_SEPARATOR, "", match.group(0))
    return mask_pan(digits) if luhn.is_valid(digits) else match.group(0)


def mask_text(text: str) -> str:
    """Mask card numbers, bearer credentials, API keys and sensitive `k=v` pairs in free text."""
    text = _PAN_CANDIDATE.sub(_mask_pan_match, text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)
    text = _API_KEY.sub(lambda m: f"{m.group(1)}_{m.group(2)}_{MASK}", text)
    return _PAIR.sub(lambda m: f"{m.group(1)}{MASK}", text)


def _mask_for_key(key: str, value: Any) -> Any:
    name = _normalize(key)
    if name in _CVV_KEYS:
        return MASK
    if name in _CARD_KEYS and isinstance(value, str | int):
        digits = re.sub(r"[ -]", "", str(value))
        if digits.isdigit() and 12 <= len(digits) <= 19:
            return mask_pan(digits)
    if name in _SECRET_KEYS or name.endswith(("password", "secret", "token", "apikey")):
        if value is None or value == "":
            return value
        if isinstance(value, Mapping):
            return {k: MASK for k in value}
        return mask_secret(str(value))
    return mask_value(value)


def mask_value(value: Any) -> Any:
    """Return a copy of `value` (dicts, lists, strings) that is safe to log or store in audit."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, Mapping):
        return {k: _mask_for_key(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [mask_value(v) for v in value]
    return value

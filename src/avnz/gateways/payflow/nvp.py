"""Payflow's name-value-pair codec (length tags for values holding `&` or `=`) and the
validated model of a reply.
"""

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

_KEY = re.compile(r"([A-Za-z][A-Za-z0-9_]*)(?:\[(\d+)\])?=")


def encode_nvp(fields: Mapping[str, str]) -> str:
    """`NAME=value` pairs joined by `&`; values holding `&` or `=` get a length tag."""
    return "&".join(_pair(name, value) for name, value in fields.items())


def _pair(name: str, value: str) -> str:
    if "&" in value or "=" in value:
        return f"{name}[{len(value)}]={value}"
    return f"{name}={value}"


def parse_nvp(text: str) -> dict[str, str]:
    """Read plain and length-tagged pairs (a tagged value is exactly n characters); names are
    upper-cased. Raises ValueError on anything that is not NVP."""
    fields: dict[str, str] = {}
    pos = 0
    while pos < len(text):
        match = _KEY.match(text, pos)
        if match is None:
            raise ValueError(f"expected NAME= at offset {pos}")
        start = match.end()
        if match.group(2) is None:
            amp = text.find("&", start)
            end = len(text) if amp < 0 else amp
        else:
            end = start + int(match.group(2))
            if end > len(text) or (end < len(text) and text[end] != "&"):
                raise ValueError(f"the length tag of {match.group(1)} does not fit")
        fields[match.group(1).upper()] = text[start:end]
        pos = end + 1
    return fields


class PayflowReply(BaseModel):
    """The fields of a Payflow answer we read; the rest is ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    result: int = Field(alias="RESULT")
    pnref: str | None = Field(None, alias="PNREF")
    respmsg: str | None = Field(None, alias="RESPMSG")
    authcode: str | None = Field(None, alias="AUTHCODE")
    avsaddr: str | None = Field(None, alias="AVSADDR")
    avszip: str | None = Field(None, alias="AVSZIP")
    cvv2match: str | None = Field(None, alias="CVV2MATCH")
    amt: Decimal | None = Field(None, alias="AMT")
    currency: str | None = Field(None, alias="CURRENCY")
    origresult: int | None = Field(None, alias="ORIGRESULT")
    origpnref: str | None = Field(None, alias="ORIGPNREF")
    transstate: int | None = Field(None, alias="TRANSSTATE")
    duplicate: str | None = Field(None, alias="DUPLICATE")

    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_absent(cls, value: Any) -> Any:
        # Payflow sends `AUTHCODE=` rather than leaving a field out.
        return None if value == "" else value


def parse_reply(body: bytes) -> PayflowReply:
    """Decode and validate an answer; raises ValueError when it is not a Payflow reply."""
    return PayflowReply.model_validate(parse_nvp(body.decode("utf-8")))

"""Authorize.Net's XML flavour of the same API (the official SDKs speak it): a request in XML is
read into the dictionary the JSON API would have given, and the answer goes back in XML.

Reading: children in document order become keys in that order (so the XSD order check runs as
for JSON), a repeated element becomes a list, text becomes a string (JSON requests keep the
wrappers too: `userFields: {userField: [...]}`). A DOCTYPE is refused
before parsing (no entities). Writing: the root is the request's name with `Request` replaced by
`Response` (`ErrorResponse` when the request could not be read), in the API's namespace, after
a UTF-8 byte order mark as the gateway sends it; the lists the JSON API flattens are wrapped
again (`errors` → `<errors><error>…`).
"""

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from avnz.gateways.authorize_net.sandbox.tables import BOM, NAMESPACE

# JSON lists whose XML has a wrapper element around one element per item.
WRAPPED = {
    "messages": "message",
    "errors": "error",
    "transactions": "transaction",
    "userFields": "userField",
    "lineItems": "lineItem",
}


# Fields the JSON answers carry that the XSD (as the SDKs ship it) does not know; a binding
# that validates against it would refuse the whole answer.
JSON_ONLY = frozenset({"SupplementalDataQualificationIndicator"})


BASE_RESPONSE = ("refId", "messages", "sessionToken")


class XmlRefused(ValueError):
    """The body is not an XML document the gateway would read."""


def looks_like_xml(body: bytes, content_type: str) -> bool:
    """Whether a request is the XML flavour (by its content type or its first character)."""
    if "xml" in content_type.lower():
        return True
    return body.decode("utf-8-sig", "replace").lstrip().startswith("<")


def read_xml(body: bytes) -> dict[str, Any]:
    """{method: content} from an XML request, content as the JSON API would carry it."""
    text = body.decode("utf-8-sig", "replace")
    if "<!DOCTYPE" in text.upper() or "<!ENTITY" in text.upper():
        raise XmlRefused("DTDs are not allowed.")
    try:
        root = ET.fromstring(text)  # noqa: S314 - no DTD, so no entities to expand
    except ET.ParseError as error:
        raise XmlRefused(str(error)) from None
    return {_local(root.tag): _content(root)}


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _content(element: ET.Element) -> Any:
    children = list(element)
    if not children:
        return (element.text or "").strip()
    content: dict[str, Any] = {}
    for child in children:
        name, value = _local(child.tag), _content(child)
        if name in content:
            previous = content[name]
            content[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            content[name] = value
    return content


def xml_answer(method: str | None, document: Mapping[str, Any]) -> Response:
    """The answer to a request named `method` (None: unreadable) in the gateway's XML."""
    name = method.removesuffix("Request") + "Response" if method else "ErrorResponse"
    root = ET.Element(name, {"xmlns": NAMESPACE})
    # The XSD's response base type (refId, messages, sessionToken) comes before what a method
    # adds; the JSON answers put the additions first.
    first = {key: document[key] for key in BASE_RESPONSE if key in document}
    _write(root, {**first, **{k: v for k, v in document.items() if k not in first}})
    body = ET.tostring(root, encoding="unicode")
    text = f'{BOM}<?xml version="1.0" encoding="utf-8"?>{body}'
    return Response(text.encode("utf-8"), media_type="application/xml; charset=utf-8")


def _write(parent: ET.Element, document: Mapping[str, Any]) -> None:
    for key, value in document.items():
        if value is None or key in JSON_ONLY:
            continue
        if isinstance(value, list) and key in WRAPPED:
            wrapper = ET.SubElement(parent, key)
            for item in value:
                _element(wrapper, WRAPPED[key], item)
        elif isinstance(value, list):
            for item in value:
                _element(parent, key, item)
        else:
            _element(parent, key, value)


def _element(parent: ET.Element, name: str, value: Any) -> None:
    element = ET.SubElement(parent, name)
    if isinstance(value, Mapping):
        _write(element, value)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif isinstance(value, float):
        element.text = f"{value:.2f}"
    else:
        element.text = str(value)

"""Events and webhook endpoints in the Stripe sandbox: `GET /v1/events[/{id}]` and
`/v1/webhook_endpoints` (create, retrieve, update, delete, list). The secret of an endpoint
(`whsec_…`) is shown once, when it is created, as Stripe does; deliveries are signed with it
(`webhooks.py`).
"""

from typing import Any
from urllib.parse import urlsplit

from avnz.core import clock
from avnz.gateways.stripe.sandbox.calls import (
    Call,
    StripeSandbox,
    find_record,
    invalid_request,
    listing,
)
from avnz.gateways.stripe.sandbox.tables import endpoint_ids, secret_ids


def retrieve_event(sandbox: StripeSandbox, call: Call) -> dict[str, Any]:
    """GET /v1/events/{event}."""
    event: dict[str, Any] = find_record(sandbox, "events", call.path["event"], "id")
    return event


def list_events(sandbox: StripeSandbox, call: Call) -> dict[str, Any]:
    """GET /v1/events, newest first, by `type` (a trailing `*` matches a prefix)."""
    wanted = call.params.get("type")
    events = list(reversed(list(sandbox.records("events").values())))
    if wanted:
        prefix = wanted.removesuffix("*")
        exact = not wanted.endswith("*")
        events = [
            e for e in events if (e["type"] == wanted if exact else e["type"].startswith(prefix))
        ]
    return listing("/v1/events", events, call.params)


def _events_param(call: Call, required: bool) -> list[str] | None:
    names = [v for k, v in call.params.pairs if k.partition("[")[0] == "enabled_events"]
    if not names and required:
        raise invalid_request(
            "Missing required param: enabled_events.",
            code="parameter_missing",
            param="enabled_events",
        )
    return names or None


def _url_param(call: Call, required: bool) -> str | None:
    url = call.params.get("url")
    if url is None and not required:
        return None
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise invalid_request(
            "Invalid URL: must be an http(s) URL.", code="url_invalid", param="url"
        )
    return url


def _public(endpoint: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in endpoint.items() if k != "secret"}


def create_endpoint(sandbox: StripeSandbox, call: Call) -> dict[str, Any]:
    """POST /v1/webhook_endpoints: `url` and `enabled_events[]` (`*` for all)."""
    endpoint: dict[str, Any] = {
        "id": endpoint_ids(),
        "object": "webhook_endpoint",
        "api_version": call.params.get("api_version"),
        "created": int(clock.now().timestamp()),
        "description": call.params.get("description"),
        "enabled_events": _events_param(call, required=True),
        "livemode": False,
        "metadata": call.params.prefixed("metadata"),
        "secret": secret_ids(),
        "status": "enabled",
        "url": _url_param(call, required=True),
    }
    sandbox.records("webhook_endpoints")[endpoint["id"]] = endpoint
    return endpoint  # the only answer that shows the secret


def _find(sandbox: StripeSandbox, endpoint_id: str) -> dict[str, Any]:
    endpoint: dict[str, Any] = find_record(sandbox, "webhook_endpoints", endpoint_id, "id")
    return endpoint


def retrieve_endpoint(sandbox: StripeSandbox, call: Call) -> dict[str, Any]:
    """GET /v1/webhook_endpoints/{endpoint}."""
    return _public(_find(sandbox, call.path["endpoint"]))


def update_endpoint(sandbox: StripeSandbox, call: Call) -> dict[str, Any]:
    """POST /v1/webhook_endpoints/{endpoint}: url, enabled_events, disabled, metadata."""
    endpoint = _find(sandbox, call.path["endpoint"])
    endpoint["url"] = _url_param(call, required=False) or endpoint["url"]
    endpoint["enabled_events"] = _events_param(call, required=False) or endpoint["enabled_events"]
    disabled = call.params.get("disabled")
    if disabled is not None:
        endpoint["status"] = "disabled" if disabled == "true" else "enabled"
    endpoint["metadata"] = {**endpoint["metadata"], **call.params.prefixed("metadata")}
    return _public(endpoint)


def delete_endpoint(sandbox: StripeSandbox, call: Call) -> dict[str, Any]:
    """DELETE /v1/webhook_endpoints/{endpoint}."""
    endpoint = _find(sandbox, call.path["endpoint"])
    del sandbox.records("webhook_endpoints")[endpoint["id"]]
    return {"id": endpoint["id"], "object": "webhook_endpoint", "deleted": True}


def list_endpoints(sandbox: StripeSandbox, call: Call) -> dict[str, Any]:
    """GET /v1/webhook_endpoints."""
    found = [_public(e) for e in sandbox.records("webhook_endpoints").values()]
    return listing("/v1/webhook_endpoints", list(reversed(found)), call.params)

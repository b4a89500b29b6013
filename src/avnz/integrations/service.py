"""The integrations domain's face: what routes, pages and other domains call.

Integration definitions, the organization's platform integrations and each client's own live in
`catalog`, `platform` and `client`; credentials are checked against the provider's JSON Schema
(`validation`), sealed with the keyring and only ever shown masked (`records`). A platform-mode
integration records what the platform bills the client for it (`usage`). Two flows sit above
this face, because routing calls it: `gateway_accounts` keeps a payment integration's merchant
account in step, and `connection_tests` drives a test's read, call and record steps.
"""

from avnz.integrations.catalog import get_definition, list_definitions
from avnz.integrations.client import (
    available,
    client_provider_target,
    client_test_target,
    get_client_integration,
    list_client_integrations,
    record_client_test,
    set_default,
)
from avnz.integrations.platform import (
    create_platform_integration,
    delete_platform_integration,
    get_platform_integration,
    list_platform_integrations,
    platform_credentials,
    platform_test_target,
    record_platform_test,
    set_sharing,
    update_platform_integration,
)
from avnz.integrations.usage import client_out, record_platform_usage, usage
from avnz.integrations.validation import check_schema

__all__ = [
    "available",
    "check_schema",
    "client_out",
    "client_provider_target",
    "client_test_target",
    "create_platform_integration",
    "delete_platform_integration",
    "get_client_integration",
    "get_definition",
    "get_platform_integration",
    "list_client_integrations",
    "list_definitions",
    "list_platform_integrations",
    "platform_credentials",
    "platform_test_target",
    "record_client_test",
    "record_platform_test",
    "record_platform_usage",
    "set_default",
    "set_sharing",
    "update_platform_integration",
    "usage",
]

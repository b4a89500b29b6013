"""Every provider avnz integrates with: who may configure it, the JSON Schemas of its credentials
and settings, and how a connection test reaches it.

This module is where a provider is described; a payment gateway is described by its own
declaration (`avnz.gateways.<name>.GATEWAY`) and its definition here is built from it, so its
credential schema is its connector's `credentials_schema`, never a copy. `DEFINITIONS` is read
live: a gateway registered later appears in it. The `integration_definitions` table holds the
same data as reference rows: migration 0003 wrote a snapshot of this module, and
`sync_reference_rows` (run by `avnz migrate`) upserts every definition from code, so a new gateway
or a changed definition needs no migration row. A test keeps the migrated rows equal to the code.
"""

import copy
import functools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncConnection

from avnz.auth.oidc import SUPPORTED_ALGORITHMS
from avnz.gateways import registry
from avnz.gateways.base import Environment
from avnz.gateways.plugin import GatewayPlugin
from avnz.integrations.models import (
    DefinitionStatus,
    IntegrationCategory,
    IntegrationDefinition,
    IntegrationProvider,
)
from avnz.integrations.probe_specs import (
    AwsSigV4,
    Basic,
    Bearer,
    GatewayProbe,
    Header,
    HttpProbe,
    OidcProbe,
    Probe,
    SmtpProbe,
)

C = IntegrationCategory
P = IntegrationProvider

# --- schema building blocks -------------------------------------------------------------------


def _object(
    properties: Mapping[str, Mapping[str, Any]], required: tuple[str, ...] = (), **extra: Any
) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": dict(properties),
        **extra,
    }
    if required:
        schema["required"] = list(required)
    return schema


def _text(title: str, description: str | None = None, **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "title": title, "minLength": 1, **extra}
    if description:
        schema["description"] = description
    return schema


def _secret(title: str, description: str | None = None, **extra: Any) -> dict[str, Any]:
    return _text(title, description, writeOnly=True, **extra)


URL_PATTERN = r"^https?://[^\s/?#]+[^\s]*$"

BASE_URL = _text(
    "API base URL",
    "Overrides the provider's URL: a proxy, a regional endpoint or a local emulator.",
    pattern=URL_PATTERN,
    maxLength=500,
)

AWS_CREDENTIALS = _object(
    {
        "access_key_id": _text(
            "Access key ID",
            "An IAM user's or role's key ID (AKIA… / ASIA…).",
            pattern="^[A-Z0-9]{16,128}$",
        ),
        "secret_access_key": _secret("Secret access key", minLength=16, maxLength=128),
        "session_token": _secret(
            "Session token", "Only with temporary credentials (ASIA…).", maxLength=4096
        ),
    },
    required=("access_key_id", "secret_access_key"),
    title="AWS credentials",
)

AWS_REGION = _text(
    "Region",
    "The AWS region, e.g. us-east-1.",
    pattern=r"^[a-z]{2}(-[a-z]+)+-\d+$",
    default="us-east-1",
)

OIDC_CREDENTIALS = _object(
    {"client_secret": _secret("Client secret", "For sign-in flows; verifying tokens needs none.")},
    title="Application secret (optional)",
)

OIDC_SETTINGS = _object(
    {
        "issuer": _text(
            "Issuer",
            "The `iss` of the provider's tokens, e.g. https://tenant.us.auth0.com/.",
            pattern=URL_PATTERN,
            maxLength=500,
        ),
        "audience": _text(
            "Audience", "The API identifier the tokens are issued for.", maxLength=500
        ),
        "client_id": _text("Client ID", "The application's client ID (public).", maxLength=200),
        "jwks_uri": _text(
            "JWKS URL",
            "Defaults to <issuer>/.well-known/jwks.json.",
            pattern=URL_PATTERN,
            maxLength=500,
        ),
        "algorithms": {
            "type": "array",
            "title": "Accepted signing algorithms",
            "items": {"enum": list(SUPPORTED_ALGORITHMS)},
            "minItems": 1,
            "uniqueItems": True,
            "default": ["RS256"],
        },
    },
    required=("issuer", "audience"),
)

GATEWAY_SETTINGS = _object({"base_url": BASE_URL})


# --- the definitions --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Definition:
    provider: str  # an IntegrationProvider, or the code a gateway declares
    category: IntegrationCategory
    name: str
    description: str
    documentation_url: str
    credential_schema: Mapping[str, Any]
    settings_schema: Mapping[str, Any]
    probe: Probe
    client_allowed: bool = False
    platform_offered: bool = False  # clients may use the organization's in `platform` mode
    api_base_url: str | None = None  # `{field}` placeholders come from the settings
    required_compliance: tuple[str, ...] = ()
    status: DefinitionStatus = DefinitionStatus.AVAILABLE
    gateway: str | None = None  # the gateway registry name of a payment provider
    icon: str | None = None  # under /static/integrations/; by default `<provider>.svg`

    def __post_init__(self) -> None:
        if self.platform_offered and not self.client_allowed:
            raise ValueError(f"{self.provider}: a platform offer is for clients")

    @property
    def logo_url(self) -> str:
        return f"/static/integrations/{self.icon or f'{self.provider.lower()}.svg'}"

    def row(self) -> dict[str, Any]:
        """The reference row of this definition, as `integration_definitions` stores it."""
        return {
            "provider": self.provider,
            "category": self.category.value,
            "name": self.name,
            "description": self.description,
            "logo_url": self.logo_url,
            "documentation_url": self.documentation_url,
            "api_base_url": self.api_base_url,
            "is_org_only": not self.client_allowed,
            "is_client_allowed": self.client_allowed,
            "is_platform_offered": self.platform_offered,
            "credential_schema": json.loads(json.dumps(self.credential_schema)),
            "settings_schema": json.loads(json.dumps(self.settings_schema)),
            "required_compliance": list(self.required_compliance),
            "status": self.status.value,
        }


@functools.cache
def _gateway(plugin: GatewayPlugin) -> Definition:
    return Definition(
        provider=plugin.provider,
        category=C.PAYMENT_GATEWAY,
        name=plugin.label,
        description=plugin.description,
        documentation_url=plugin.documentation_url,
        credential_schema=copy.deepcopy(dict(plugin.credentials_schema)),
        settings_schema=GATEWAY_SETTINGS,
        probe=GatewayProbe(),
        client_allowed=True,
        platform_offered=True,
        api_base_url=plugin.connector.base_urls[Environment.PRODUCTION],
        required_compliance=("PCI_DSS",),
        gateway=plugin.name,
        icon=plugin.icon,
    )


def _identity(provider: IntegrationProvider, name: str, docs: str) -> Definition:
    return Definition(
        provider=provider,
        category=C.AUTHENTICATION,
        name=name,
        description=f"Sign users in with {name}: avnz trusts its tokens (issuer, audience, "
        "JWKS). One active identity integration per organization.",
        documentation_url=docs,
        credential_schema=OIDC_CREDENTIALS,
        settings_schema=OIDC_SETTINGS,
        probe=OidcProbe(),
        required_compliance=("SOC2",),
    )


def _aws(
    provider: IntegrationProvider,
    category: IntegrationCategory,
    name: str,
    description: str,
    docs: str,
    host: str,
    probe: HttpProbe,
    settings: Mapping[str, Mapping[str, Any]],
) -> Definition:
    return Definition(
        provider=provider,
        category=category,
        name=name,
        description=description,
        documentation_url=docs,
        credential_schema=AWS_CREDENTIALS,
        settings_schema=_object({"region": AWS_REGION, **settings, "base_url": BASE_URL}),
        probe=probe,
        api_base_url=f"https://{host}.{{region}}.amazonaws.com",
    )


# The providers that are not gateways; each gateway brings its own (see `_gateway`).
_NON_GATEWAYS: tuple[Definition, ...] = (
    _identity(P.AUTH0, "Auth0", "https://auth0.com/docs/secure/tokens/access-tokens"),
    _identity(P.OKTA, "Okta", "https://developer.okta.com/docs/guides/validate-access-tokens/"),
    _identity(
        P.COGNITO,
        "Amazon Cognito",
        "https://docs.aws.amazon.com/cognito/latest/developerguide/"
        "amazon-cognito-user-pools-using-tokens-verifying-a-jwt.html",
    ),
    _aws(
        P.AWS_SES,
        C.EMAIL_TRANSACTIONAL,
        "Amazon SES",
        "Transactional email (receipts, dunning, save-flow messages) sent by the platform.",
        "https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_GetAccount.html",
        "email",
        HttpProbe("/v2/email/account", AwsSigV4("ses")),
        {
            "from_email": _text("From address", pattern=r"^[^@\s]+@[^@\s]+$", maxLength=320),
            "configuration_set": _text("Configuration set", maxLength=64),
        },
    ),
    Definition(
        provider=P.KLAVIYO,
        category=C.EMAIL_MARKETING,
        name="Klaviyo",
        description="Marketing email and audience sync with a brand's Klaviyo account.",
        documentation_url="https://developers.klaviyo.com/en/reference/get_accounts",
        credential_schema=_object(
            {
                "private_api_key": _secret(
                    "Private API key", "Settings → API keys (pk_…).", pattern="^pk_[A-Za-z0-9]+$"
                )
            },
            required=("private_api_key",),
        ),
        settings_schema=_object(
            {"default_list_id": _text("Default list ID", maxLength=64), "base_url": BASE_URL}
        ),
        probe=HttpProbe(
            "/api/accounts/",
            Header("Authorization", "private_api_key", "Klaviyo-API-Key {}"),
            headers={"revision": "2024-10-15", "accept": "application/vnd.api+json"},
        ),
        client_allowed=True,
        api_base_url="https://a.klaviyo.com",
        required_compliance=("CAN_SPAM", "GDPR"),
    ),
    _aws(
        P.AWS_SNS,
        C.SMS,
        "Amazon SNS",
        "Text messages (one-time codes, alerts) sent by the platform.",
        "https://docs.aws.amazon.com/sns/latest/api/API_GetSMSAttributes.html",
        "sns",
        HttpProbe(
            "/", AwsSigV4("sns"), query={"Action": "GetSMSAttributes", "Version": "2010-03-31"}
        ),
        {
            "sender_id": _text("Sender ID", pattern="^[A-Za-z0-9]{1,11}$"),
            "sms_type": {"enum": ["Transactional", "Promotional"], "default": "Transactional"},
        },
    ),
    Definition(
        provider=P.TWILIO,
        category=C.SMS,
        name="Twilio",
        description="Text messages and calls from a Twilio account: the brand's own, or the "
        "platform's, billed back.",
        documentation_url="https://www.twilio.com/docs/usage/api/account",
        credential_schema=_object(
            {
                "account_sid": _text("Account SID", pattern="^AC[0-9a-fA-F]{32}$"),
                "auth_token": _secret("Auth token", pattern="^[0-9a-fA-F]{32}$"),
            },
            required=("account_sid", "auth_token"),
        ),
        settings_schema=_object(
            {
                "from_number": _text("From number (E.164)", pattern=r"^\+[1-9]\d{1,14}$"),
                "messaging_service_sid": _text(
                    "Messaging service SID", pattern="^MG[0-9a-fA-F]{32}$"
                ),
                "base_url": BASE_URL,
            }
        ),
        probe=HttpProbe(
            "/2010-04-01/Accounts/{account_sid}.json", Basic("account_sid", "auth_token")
        ),
        client_allowed=True,
        platform_offered=True,
        api_base_url="https://api.twilio.com",
        required_compliance=("TCPA",),
    ),
    _aws(
        P.AWS_BEDROCK,
        C.AI_ML,
        "Amazon Bedrock",
        "Foundation models for customer service, content and churn insights.",
        "https://docs.aws.amazon.com/bedrock/latest/APIReference/API_ListFoundationModels.html",
        "bedrock",
        HttpProbe("/foundation-models", AwsSigV4("bedrock")),
        {"model_id": _text("Model ID", maxLength=200)},
    ),
    Definition(
        provider=P.DATADOG,
        category=C.MONITORING,
        name="Datadog",
        description="Metrics, traces and logs of the platform.",
        documentation_url="https://docs.datadoghq.com/api/latest/authentication/",
        credential_schema=_object(
            {
                "api_key": _secret("API key", pattern="^[0-9a-fA-F]{32}$"),
                "application_key": _secret("Application key", pattern="^[0-9a-fA-F]{40}$"),
            },
            required=("api_key",),
        ),
        settings_schema=_object(
            {
                "site": {
                    "enum": [
                        "datadoghq.com",
                        "us3.datadoghq.com",
                        "us5.datadoghq.com",
                        "datadoghq.eu",
                        "ap1.datadoghq.com",
                        "ddog-gov.com",
                    ],
                    "default": "datadoghq.com",
                },
                "service": _text("Service name", maxLength=100),
                "base_url": BASE_URL,
            }
        ),
        probe=HttpProbe("/api/v1/validate", Header("DD-API-KEY", "api_key")),
        api_base_url="https://api.{site}",
    ),
    Definition(
        provider=P.SENTRY,
        category=C.MONITORING,
        name="Sentry",
        description="Error reporting of the platform.",
        documentation_url="https://docs.sentry.io/api/auth/",
        credential_schema=_object(
            {
                "auth_token": _secret(
                    "Auth token", "An organization or user auth token.", minLength=20
                )
            },
            required=("auth_token",),
        ),
        settings_schema=_object(
            {
                "dsn": _text(
                    "DSN", "Where the SDK sends events.", pattern=URL_PATTERN, maxLength=500
                ),
                "organization_slug": _text("Organization slug", maxLength=100),
                "base_url": BASE_URL,
            }
        ),
        probe=HttpProbe("/api/0/organizations/", Bearer("auth_token")),
        api_base_url="https://sentry.io",
    ),
    _aws(
        P.CLOUDWATCH,
        C.MONITORING,
        "Amazon CloudWatch",
        "Platform metrics and alarms in CloudWatch.",
        "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html",
        "monitoring",
        HttpProbe(
            "/",
            AwsSigV4("monitoring"),
            query={"Action": "DescribeAlarms", "MaxRecords": "1", "Version": "2010-08-01"},
        ),
        {
            "namespace": _text("Metric namespace", maxLength=255, default="avnz"),
            "log_group": _text("Log group", maxLength=512),
        },
    ),
    Definition(
        provider=P.SMTP,
        category=C.EMAIL_TRANSACTIONAL,
        name="SMTP server",
        description="Email through any SMTP server with a login (a brand's own mail host).",
        documentation_url="https://www.rfc-editor.org/rfc/rfc4954",
        credential_schema=_object(
            {
                "username": _text("Username", maxLength=320),
                "password": _secret("Password", maxLength=500),
            },
            required=("username", "password"),
        ),
        settings_schema=_object(
            {
                "host": _text("Host", pattern=r"^[A-Za-z0-9.\-:\[\]]+$", maxLength=255),
                "port": {"type": "integer", "minimum": 1, "maximum": 65535, "default": 587},
                "starttls": {
                    "type": "boolean",
                    "default": True,
                    "description": "Upgrade the connection with STARTTLS before logging in.",
                },
                "use_tls": {
                    "type": "boolean",
                    "default": False,
                    "description": "Implicit TLS from the first byte (usually port 465).",
                },
                "from_email": _text("From address", pattern=r"^[^@\s]+@[^@\s]+$", maxLength=320),
                "timeout_seconds": {"type": "number", "minimum": 1, "maximum": 60, "default": 10},
            },
            required=("host",),
        ),
        probe=SmtpProbe(),
        client_allowed=True,
        required_compliance=("CAN_SPAM",),
    ),
    Definition(
        provider=P.OLLAMA,
        category=C.AI_ML,
        name="Ollama",
        description="Self-hosted open models served by Ollama.",
        documentation_url="https://github.com/ollama/ollama/blob/main/docs/api.md",
        credential_schema=_object(
            {"api_key": _secret("API key", "Only when a proxy in front of Ollama wants one.")}
        ),
        settings_schema=_object({"model": _text("Model", maxLength=200), "base_url": BASE_URL}),
        probe=HttpProbe("/api/tags", Bearer("api_key", optional=True)),
        client_allowed=True,
        api_base_url="http://localhost:11434",
    ),
    Definition(
        provider=P.ANTHROPIC,
        category=C.AI_ML,
        name="Anthropic",
        description="Claude models for customer service, content and insights.",
        documentation_url="https://docs.anthropic.com/en/api/models-list",
        credential_schema=_object(
            {"api_key": _secret("API key", pattern="^sk-ant-[A-Za-z0-9_-]+$")},
            required=("api_key",),
        ),
        settings_schema=_object({"model": _text("Model", maxLength=200), "base_url": BASE_URL}),
        probe=HttpProbe(
            "/v1/models",
            Header("x-api-key", "api_key"),
            headers={"anthropic-version": "2023-06-01"},
        ),
        client_allowed=True,
        platform_offered=True,
        api_base_url="https://api.anthropic.com",
    ),
    Definition(
        provider=P.OPENAI_COMPATIBLE,
        category=C.AI_ML,
        name="OpenAI-compatible endpoint",
        description="Any server that speaks the OpenAI API (OpenAI, vLLM, LiteLLM, ...).",
        documentation_url="https://platform.openai.com/docs/api-reference/models/list",
        credential_schema=_object(
            {"api_key": _secret("API key", "Leave out for servers that want none.", maxLength=500)}
        ),
        settings_schema=_object(
            {
                "model": _text("Model", maxLength=200),
                "organization": _text("Organization", maxLength=200),
                "base_url": BASE_URL,
            }
        ),
        probe=HttpProbe("/models", Bearer("api_key", optional=True)),
        client_allowed=True,
        api_base_url="https://api.openai.com/v1",
    ),
)


class _Catalogue(Mapping[str, Definition]):
    """The definitions by provider: the fixed ones, then one per registered gateway, read live."""

    def _current(self) -> dict[str, Definition]:
        every = (*_NON_GATEWAYS, *map(_gateway, registry.GATEWAYS.values()))
        return {d.provider: d for d in every}

    def __getitem__(self, provider: str) -> Definition:
        return self._current()[provider]

    def __iter__(self) -> Iterator[str]:
        return iter(self._current())

    def __len__(self) -> int:
        return len(self._current())


DEFINITIONS: Mapping[str, Definition] = _Catalogue()


def definition(provider: str) -> Definition:
    """The definition of `provider`; KeyError when no provider or gateway declares it."""
    return DEFINITIONS[provider]


def reference_rows() -> list[dict[str, Any]]:
    """Every definition as an `integration_definitions` row (what `sync_reference_rows` writes)."""
    return [d.row() for d in DEFINITIONS.values()]


async def sync_reference_rows(connection: AsyncConnection) -> None:
    """Upsert every definition's row; a row the code no longer defines stays (integrations may
    still name its provider)."""
    for row in reference_rows():
        by_provider = IntegrationDefinition.provider == row["provider"]
        stmt = update(IntegrationDefinition).where(by_provider).values(**row)
        if (await connection.execute(stmt)).rowcount == 0:
            await connection.execute(insert(IntegrationDefinition).values(**row))

"""integrations: definitions (reference data), platform and client integrations, usage

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 09:00:00.000000

The definitions are a snapshot of `avnz.integrations.definitions` as of this revision (a
migration must not change when the code does); `tests/integrations/test_definitions.py` checks
that the code and the migrated rows still agree. An organization's OIDC settings move from
`organizations.settings["oidc"]` into an identity integration (and back on downgrade).
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from ulid import ULID

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OIDC_PROVIDERS = {"auth0": "AUTH0", "okta": "OKTA", "cognito": "COGNITO", "oidc": "AUTH0"}
OIDC_FIELDS = ("issuer", "audience", "jwks_uri", "algorithms", "client_id")

DEFINITIONS: list[dict[str, Any]] = [
    {
        "provider": "AUTH0",
        "category": "AUTHENTICATION",
        "name": "Auth0",
        "description": "Sign users in with Auth0: avnz trusts its tokens (issuer, audience, "
        "JWKS). One active identity integration per organization.",
        "logo_url": "/static/integrations/auth0.svg",
        "documentation_url": "https://auth0.com/docs/secure/tokens/access-tokens",
        "api_base_url": None,
        "is_org_only": True,
        "is_client_allowed": False,
        "is_platform_offered": False,
        "credential_schema": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "client_secret": {
                    "type": "string",
                    "title": "Client secret",
                    "minLength": 1,
                    "writeOnly": True,
                    "description": "For sign-in flows; verifying tokens needs none.",
                }
            },
            "title": "Application secret (optional)",
        },
        "settings_schema": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "issuer": {
                    "type": "string",
                    "title": "Issuer",
                    "minLength": 1,
                    "pattern": "^https?://[^\\s/?#]+[^\\s]*$",
                    "maxLength": 500,
                    "description": "The `iss` of the "
                    "provider's tokens, "
                    "e.g. "
                    "https://tenant.us.auth0.com/.",
                },
                "audience": {
                    "type": "string",
                    "title": "Audience",
                    "minLength": 1,
                    "maxLength": 500,
                    "description": "The API identifier the tokens are issued for.",
                },
                "client_id": {
                    "type": "string",
                    "title": "Client ID",
                    "minLength": 1,
                    "maxLength": 200,
                    "description": "The application's client ID (public).",
                },
                "jwks_uri": {
                    "type": "string",
                    "title": "JWKS URL",
                    "minLength": 1,
                    "pattern": "^https?://[^\\s/?#]+[^\\s]*$",
                    "maxLength": 500,
                    "description": "Defaults to <issuer>/.well-known/jwks.json.",
                },
                "algorithms": {
                    "type": "array",
                    "title": "Accepted signing algorithms",
                    "items": {"enum": ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]},
                    "minItems": 1,
                    "uniqueItems": True,
                    "default": ["RS256"],
                },
            },
            "required": ["issuer", "audience"],
        },
        "required_compliance": ["SOC2"],
        "status": "available",
    },
    {
        "provider": "OKTA",
        "category": "AUTHENTICATION",
        "name": "Okta",
        "description": "Sign users in with Okta: avnz trusts its tokens (issuer, audience, "
        "JWKS). One active identity integration per organization.",
        "logo_url": "/static/integrations/okta.svg",
        "documentation_url": "https://developer.okta.com/docs/guides/validate-access-tokens/",
        "api_base_url": None,
        "is_org_only": True,
        "is_client_allowed": False,
        "is_platform_offered": False,
        "credential_schema": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "client_secret": {
                    "type": "string",
                    "title": "Client secret",
                    "minLength": 1,
                    "writeOnly": True,
                    "description": "For sign-in flows; verifying tokens needs none.",
                }
            },
            "title": "Application secret (optional)",
        },
        "settings_schema": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "issuer": {
                    "type": "string",
                    "title": "Issuer",
                    "minLength": 1,
                    "pattern": "^https?://[^\\s/?#]+[^\\s]*$",
                    "maxLength": 500,
                    "description": "The `iss` of the "
                    "provider's tokens, "
                    "e.g. "
                    "https://tenant.us.auth0.com/.",
                },
                "audience": {
                    "type": "string",
                    "title": "Audience",
                    "minLength": 1,
                    "maxLength": 500,
                    "description": "The API identifier the tokens are issued for.",
                },
                "client_id": {
                    "type": "string",
                    "title": "Client ID",
                    "minLength": 1,
                    "maxLength": 200,
                    "description": "The application's client ID (public).",
                },
                "jwks_uri": {
                    "type": "string",
                    "title": "JWKS URL",
                    "minLength": 1,
                    "pattern": "^https?://[^\\s/?#]+[^\\s]*$",
                    "maxLength": 500,
                    "description": "Defaults to <issuer>/.well-known/jwks.json.",
                },
                "algorithms": {
                    "type": "array",
                    "title": "Accepted signing algorithms",
                    "items": {"enum": ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]},
                    "minItems": 1,
                    "uniqueItems": True,
                    "default": ["RS256"],
                },
            },
            "required": ["issuer", "audience"],
        },
        "required_compliance": ["SOC2"],
        "status": "available",
    },
    {
        "provider": "COGNITO",
        "category": "AUTHENTICATION",
        "name": "Amazon Cognito",
        "description": "Sign users in with Amazon Cognito: avnz trusts its tokens (issuer, "
        "audience, JWKS). One active identity integration per organization.",
        "logo_url": "/static/integrations/cognito.svg",
        "documentation_url": "https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-tokens-verifying-a-jwt.html",
        "api_base_url": None,
        "is_org_only": True,
        "is_client_allowed": False,
        "is_platform_offered": False,
        "credential_schema": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "client_secret": {
                    "type": "string",
                    "title": "Client secret",
                    "minLength": 1,
                    "writeOnly": True,
                    "description": "For sign-in flows; verifying tokens needs none.",
                }
            },
            "title": "Application secret (optional)",
        },
        "settings_schema": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "issuer": {
                    "type": "string",
                    "title": "Issuer",
                    "minLength": 1,
                    "pattern": "^https?://[^\\s/?#]+[^\\s]*$",
                    "maxLength": 500,
                    "description": "The `iss` of the "
                    "provider's tokens, "
                    "e.g. "
                    "https://tenant.us.auth0.com/.",
                },
                "audience": {
                    "type": "string",
                    "title": "Audience",
                    "minLength": 1,
                    "maxLength": 500,
                    "description": "The API identifier the tokens are issued for.",
                },
                "client_id": {
                    "type": "string",
                    "title": "Client ID",
                    "minLength": 1,
                    "maxLength": 200,
                    "description": "The application's client ID (public).",
                },
                "jwks_uri": {
                    "type": "string",
                    "title": "JWKS URL",
                    "minLength": 1,
                    "pattern": "^https?://[^\\s/?#]+[^\\s]*$",
                    "maxLength": 500,
                    "description": "Defaults to <issuer>/.well-known/jwks.json.",
                },
                "algorithms": {
                    "type": "array",
                    "title": "Accepted signing algorithms",
                    "items": {"enum": ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]},
                    "minItems": 1,
                    "uniqueItems": True,
                    "default": ["RS256"],
                },
            },
            "required": ["issuer", "audience"],
        },
        "required_compliance": ["SOC2"],
        "status": "available",
    },
    {
        "provider": "PAYPAL_PAYFLOW",
        "category": "PAYMENT_GATEWAY",
        "name": "PayPal Payflow Pro",
        "description": "Card payments through PayPal Payflow Pro; each integration feeds a "
        "merchant account of one brand.",
        "logo_url": "/static/integrations/paypal_payflow.svg",
        "documentation_url": "https://developer.paypal.com/api/nvp-soap/payflow/payflow-gateway-overview/",
        "api_base_url": "https://payflowpro.paypal.com",
        "is_org_only": False,
        "is_client_allowed": True,
        "is_platform_offered": True,
        "credential_schema": {
            "type": "object",
            "title": "PayPal Payflow Pro credentials",
            "required": ["partner", "vendor", "password"],
            "additionalProperties": False,
            "properties": {
                "partner": {
                    "type": "string",
                    "title": "Partner",
                    "description": "The reseller that "
                    "registered the "
                    "account; PayPal "
                    "when you signed up "
                    "with PayPal "
                    "directly.",
                    "default": "PayPal",
                    "minLength": 1,
                },
                "vendor": {
                    "type": "string",
                    "title": "Vendor (merchant login)",
                    "description": "The merchant login ID chosen when the account was registered.",
                    "minLength": 1,
                },
                "user": {
                    "type": "string",
                    "title": "User",
                    "description": "An API user set up in "
                    "PayPal Manager; leave "
                    "empty to use the "
                    "vendor login.",
                },
                "password": {
                    "type": "string",
                    "title": "Password",
                    "description": "The password of the user (or of the vendor login).",
                    "minLength": 6,
                    "maxLength": 32,
                    "writeOnly": True,
                },
            },
        },
        "settings_schema": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "base_url": {
                    "type": "string",
                    "title": "API base URL",
                    "minLength": 1,
                    "pattern": "^https?://[^\\s/?#]+[^\\s]*$",
                    "maxLength": 500,
                    "description": "Overrides the "
                    "provider's URL: a "
                    "proxy, a regional "
                    "endpoint or a local "
                    "emulator.",
                }
            },
        },
        "required_compliance": ["PCI_DSS"],
        "status": "available",
    },
    {
        "provider": "NMI",
        "category": "PAYMENT_GATEWAY",
        "name": "NMI",
        "description": "Card payments through NMI; each integration feeds a merchant account "
        "of one brand.",
        "logo_url": "/static/integrations/nmi.svg",
        "documentation_url": "https://docs.nmi.com/reference/getting-started",
        "api_base_url": "https://secure.nmi.com",
        "is_org_only": False,
        "is_client_allowed": True,
        "is_platform_offered": True,
        "credential_schema": {
            "type": "object",
            "title": "NMI credentials",
            "required": ["security_key"],
            "additionalProperties": False,
            "properties": {
                "security_key": {
                    "type": "string",
                    "title": "Security key",
                    "description": "Private API "
                    "security key "
                    "(Merchant "
                    "Portal → "
                    "Settings → "
                    "Security "
                    "Keys). A test "
                    "account's key, "
                    "or NMI's "
                    "public demo "
                    "key, for "
                    "testing.",
                    "minLength": 1,
                    "writeOnly": True,
                }
            },
        },
        "settings_schema": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "base_url": {
                    "type": "string",
                    "title": "API base URL",
                    "minLength": 1,
                    "pattern": "^https?://[^\\s/?#]+[^\\s]*$",
                    "maxLength": 500,
                    "description": "Overrides the "
                    "provider's URL: a "
                    "proxy, a regional "
                    "endpoint or a local "
                    "emulator.",
                }
            },
        },
        "required_compliance": ["PCI_DSS"],
        "status": "available",
    },
    {
        "provider": "AUTHORIZE_NET",
        "category": "PAYMENT_GATEWAY",
        "name": "Authorize.Net",
        "description": "Card payments through Authorize.Net; each integration feeds a "
        "merchant account of one brand.",
        "logo_url": "/static/integrations/authorize_net.svg",
        "documentation_url": "https://developer.authorize.net/api/reference/",
        "api_base_url": "https://api.authorize.net",
        "is_org_only": False,
        "is_client_allowed": True,
        "is_platform_offered": True,
        "credential_schema": {
            "type": "object",
            "title": "Authorize.Net API credentials",
            "required": ["api_login_id", "transaction_key"],
            "additionalProperties": False,
            "properties": {
                "api_login_id": {
                    "type": "string",
                    "title": "API Login ID",
                    "description": "Account > "
                    "Settings > API "
                    "Credentials & "
                    "Keys in the "
                    "Merchant "
                    "Interface. "
                    "Sandbox and "
                    "production IDs "
                    "differ.",
                    "minLength": 1,
                    "maxLength": 25,
                },
                "transaction_key": {
                    "type": "string",
                    "title": "Transaction Key",
                    "description": "The 16-character key generated next to the API Login ID.",
                    "minLength": 16,
                    "maxLength": 16,
                    "writeOnly": True,
                },
            },
        },
        "settings_schema": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "base_url": {
                    "type": "string",
                    "title": "API base URL",
                    "minLength": 1,
                    "pattern": "^https?://[^\\s/?#]+[^\\s]*$",
                    "maxLength": 500,
                    "description": "Overrides the "
                    "provider's URL: a "
                    "proxy, a regional "
                    "endpoint or a local "
                    "emulator.",
                }
            },
        },
        "required_compliance": ["PCI_DSS"],
        "status": "available",
    },
    {
        "provider": "STRIPE",
        "category": "PAYMENT_GATEWAY",
        "name": "Stripe",
        "description": "Card payments through Stripe; each integration feeds a merchant "
        "account of one brand.",
        "logo_url": "/static/integrations/stripe.svg",
        "documentation_url": "https://docs.stripe.com/api",
        "api_base_url": "https://api.stripe.com",
        "is_org_only": False,
        "is_client_allowed": True,
        "is_platform_offered": True,
        "credential_schema": {
            "type": "object",
            "title": "Stripe",
            "description": "An API key of the Stripe account that processes the payments.",
            "required": ["secret_key"],
            "additionalProperties": False,
            "properties": {
                "secret_key": {
                    "type": "string",
                    "title": "Secret key",
                    "description": "Secret (sk_…) or "
                    "restricted "
                    "(rk_…) key with "
                    "write access to "
                    "PaymentIntents "
                    "and Refunds: a "
                    "test key "
                    "(sk_test_…) for "
                    "sandbox "
                    "accounts, a live "
                    "key (sk_live_…) "
                    "for production. "
                    "Raw card numbers "
                    "also need Stripe "
                    "to enable raw "
                    "card data APIs "
                    "on the account; "
                    "tokens (pm_…) do "
                    "not.",
                    "pattern": "^(sk|rk)_(test|live)_[A-Za-z0-9]+$",
                    "minLength": 16,
                    "writeOnly": True,
                }
            },
        },
        "settings_schema": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "base_url": {
                    "type": "string",
                    "title": "API base URL",
                    "minLength": 1,
                    "pattern": "^https?://[^\\s/?#]+[^\\s]*$",
                    "maxLength": 500,
                    "description": "Overrides the "
                    "provider's URL: a "
                    "proxy, a regional "
                    "endpoint or a local "
                    "emulator.",
                }
            },
        },
        "required_compliance": ["PCI_DSS"],
        "status": "available",
    },
    {
        "provider": "AWS_SES",
        "category": "EMAIL_TRANSACTIONAL",
        "name": "Amazon SES",
        "description": "Transactional email (receipts, dunning, save-flow messages) sent by "
        "the platform.",
        "logo_url": "/static/integrations/aws_ses.svg",
        "documentation_url": "https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_GetAccount.html",
        "api_base_url": "https://email.{region}.amazonaws.com",
        "is_org_only": True,
        "is_client_allowed": False,
        "is_platform_offered": False,
        "credential_schema": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "access_key_id": {
                    "type": "string",
                    "title": "Access key ID",
                    "minLength": 1,
                    "pattern": "^[A-Z0-9]{16,128}$",
                    "description": "An IAM user's or role's key ID (AKIA… / ASIA…).",
                },
                "secret_access_key": {
                    "type": "string",
                    "title": "Secret access key",
                    "minLength": 16,
                    "writeOnly": True,
                    "maxLength": 128,
                },
                "session_token": {
                    "type": "string",
                    "title": "Session token",
                    "minLength": 1,
                    "writeOnly": True,
                    "maxLength": 4096,
                    "description": "Only with temporary credentials (ASIA…).",
                },
            },
            "title": "AWS credentials",
            "required": ["access_key_id", "secret_access_key"],
        },
        "settings_schema": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "region": {
                    "type": "string",
                    "title": "Region",
                    "minLength": 1,
                    "pattern": "^[a-z]{2}(-[a-z]+)+-\\d+$",
                    "default": "us-east-1",
                    "description": "The AWS region, e.g. us-east-1.",
                },
                "from_email": {
                    "type": "string",
                    "title": "From address",
                    "minLength": 1,
                    "pattern": "^[^@\\s]+@[^@\\s]+$",
                    "maxLength": 320,
                },
                "configuration_set": {
                    "type": "string",
                    "title": "Configuration set",
                    "minLength": 1,
                    "maxLength": 64,
                },
                "base_url": {
                    "type": "string",
                    "title": "API base URL",
                    "minLength": 1,
                    "pattern": "^https?://[^\\s/?#]+[^\\s]*$",
                    "maxLength": 500,
                    "description": "Overrides the "
                    "provider's URL: a "
                    "proxy, a regional "
                    "endpoint or a local "
                    "emulator.",
                },
            },
        },
        "required_compliance": [],
        "status": "available",
    },
    {
        "provider": "KLAVIYO",
        "category": "EMAIL_MARKETING",
        "name": "Klaviyo",
        "description": "Marketing email and audience sync with a brand's Klaviyo account.",
        "logo_url": "/static/integrations/klaviyo.svg",
        "documentation_url": "https://developers.klaviyo.com/en/reference/get_accounts",
        "api_base_url": "https://a.klaviyo.com",
        "is_org_only": False,
        "is_client_allowed": True,
        "is_platform_offered": False,
        "credential_schema": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "private_api_key": {
                    "type": "string",
                    "title": "Private API key",
                    "minLength": 1,
                    "writeOnly": True,
                    "pattern": "^pk_[A-Za-z0-9]+$",
                    "description": "Settings → API keys (pk_…).",
                }
            },
            "required": ["private_api_key"],
        },
        "settings_schema": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "default_list_id": {
                    "type": "string",
                    "title": "Default list ID",
                    "minLength": 1,
                    "maxLength": 64,
                },
                "base_url": {
                    "type": "string",
                    "title": "API base URL",
                    "minLength": 1,
                    "pattern": "^https?://[^\\s/?#]+[^\\s]*$",
                    "maxLength": 500,
                    "description": "Overrides the "
                    "provider's URL: a "
                    "proxy, a regional "
                    "endpoint or a local "
                    "emulator.",
                },
            },
        },
        "required_compliance": ["CAN_SPAM", "GDPR"],
        "status": "available",
    },
    {
        "provider": "AWS_SNS",
        "category": "SMS",
        "name": "Amazon SNS",
        "description": "Text messages (one-time codes, alerts) sent by the platform.",
        "logo_url": "/static/integrations/aws_sns.svg",
        "documentation_url": "https://docs.aws.amazon.com/sns/latest/api/API_GetSMSAttributes.html",
        "api_base_url": "https://sns.{region}.amazonaws.com",
        "is_org_only": True,
        "is_client_allowed": False,
        "is_platform_offered": False,
        "credential_schema": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "access_key_id": {
                    "type": "string",
                    "title": "Access key ID",
                    "minLength": 1,
                    "pattern": "^[A-Z0-9]{16,128}$",
                    "description": "An IAM user's or role's key ID (AKIA… / ASIA…).",
                },
                "secret_access_key": {
                    "type": "string",
                    "title": "Secret access key",
                    "minLength": 16,
                    "writeOnly": True,
                    "maxLength": 128,
                },
                "session_token": {
                    "type": "string",
                    "title": "Session token",
                    "minLength": 1,
                    "writeOnly": True,
                    "maxLength": 4096,
                    "description": "Only with temporary credentials (ASIA…).",
                },
            },
            "title": "AWS credentials",
            "required": ["access_key_id", "secret_access_key"],
        },
        "settings_schema": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "region": {
                    "type": "string",
                    "title": "Region",
                    "minLength": 1,
                    "pattern": "^[a-z]{2}(-[a-z]+)+-\\d+$",
                    "default": "us-east-1",
                    "description": "The AWS region, e.g. us-east-1.",
                },
                "sender_id": {
                    "type": "string",
                    "title": "Sender ID",
                    "minLength": 1,
                    "pattern": "^[A-Za-z0-9]{1,11}$",
                },
                "sms_type": {"enum": ["Transactional", "Promotional"], "default": "Transactional"},
                "base_url": {
                    "type": "string",
                    "title": "API base URL",
                    "minLength": 1,
                    "pattern": "^https?://[^\\s/?#]+[^\\s]*$",
                    "maxLength": 500,
                    "description": "Overrides the "
                    "provider's URL: a "
                    "proxy, a regional "
                    "endpoint or a local "
                    "emulator.",
                },
            },
        },
        "required_compliance": [],
        "status": "available",
    },
    {
        "provider": "TWILIO",
        "category": "SMS",
        "name": "Twilio",
        "description": "Text messages and calls from a Twilio account: the brand's own, or "
        "the platform's, billed back.",
        "logo_url": "/static/integrations/twilio.svg",
        "documentation_url": "https://www.twilio.com/docs/usage/api/account",
        "api_base_url": "https://api.twilio.com",
        "is_org_only": False,
        "is_client_allowed": True,
        "is_platform_offered": True,
        "credential_schema": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "account_sid": {
                    "type": "string",
                    "title": "Account SID",
                    "minLength": 1,
                    "pattern": "^AC[0-9a-fA-F]{32}$",
                },
                "auth_token": {
                    "type": "string",
                    "title": "Auth token",
                    "minLength": 1,
                    "writeOnly": True,
                    "pattern": "^[0-9a-fA-F]{32}$",
                },
            },
            "required": ["account_sid", "auth_token"],
        },
        "settings_schema": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "from_number": {
                    "type": "string",
                    "title": "From number (E.164)",
                    "minLength": 1,
                    "pattern": "^\\+[1-9]\\d{1,14}$",
                },
                "messaging_service_sid": {
                    "type": "string",
                    "title": "Messaging service SID",
                    "minLength": 1,
                    "pattern": "^MG[0-9a-fA-F]{32}$",
                },
                "base_url": {
                    "type": "string",
                    "title": "API base URL",
                    "minLength": 1,
                    "pattern": "^https?://[^\\s/?#]+[^\\s]*$",
                    "maxLength": 500,
                    "description": "Overrides the "
                    "provider's URL: a "
                    "proxy, a regional "
                    "endpoint or a local "
                    "emulator.",
                },
            },
        },
        "required_compliance": ["TCPA"],
        "status": "available",
    },
    {
        "provider": "AWS_BEDROCK",
        "category": "AI_ML",
        "name": "Amazon Bedrock",
        "description": "Foundation models for customer service, content and churn insights.",
        "logo_url": "/static/integrations/aws_bedrock.svg",
        "documentation_url": "https://docs.aws.amazon.com/bedrock/latest/APIReference/API_ListFoundationModels.html",
        "api_base_url": "https://bedrock.{region}.amazonaws.com",
        "is_org_only": True,
        "is_client_allowed": False,
        "is_platform_offered": False,
        "credential_schema": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "access_key_id": {
                    "type": "string",
                    "title": "Access key ID",
                    "minLength": 1,
                    "pattern": "^[A-Z0-9]{16,128}$",
                    "description": "An IAM user's or role's key ID (AKIA… / ASIA…).",
                },
                "secret_access_key": {
                    "type": "string",
                    "title": "Secret access key",
                    "minLength": 16,
                    "writeOnly": True,
                    "maxLength": 128,
                },
                "session_token": {
                    "type": "string",
                    "title": "Session token",
                    "minLength": 1,
                    "writeOnly": True,
                    "maxLength": 4096,
                    "description": "Only with temporary credentials (ASIA…).",
                },
            },
            "title": "AWS credentials",
            "required": ["access_key_id", "secret_access_key"],
        },
        "settings_schema": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "region": {
                    "type": "string",
                    "title": "Region",
                    "minLength": 1,
                    "pattern": "^[a-z]{2}(-[a-z]+)+-\\d+$",
                    "default": "us-east-1",
                    "description": "The AWS region, e.g. us-east-1.",
                },
                "model_id": {
                    "type": "string",
                    "title": "Model ID",
                    "minLength": 1,
                    "maxLength": 200,
                },
                "base_url": {
                    "type": "string",
                    "title": "API base URL",
                    "minLength": 1,
                    "pattern": "^https?://[^\\s/?#]+[^\\s]*$",
                    "maxLength": 500,
                    "description": "Overrides the "
                    "provider's URL: a "
                    "proxy, a regional "
                    "endpoint or a local "
                    "emulator.",
                },
            },
        },
        "required_compliance": [],
        "status": "available",
    },
    {
        "provider": "DATADOG",
        "category": "MONITORING",
        "name": "Datadog",
        "description": "Metrics, traces and logs of the platform.",
        "logo_url": "/static/integrations/datadog.svg",
        "documentation_url": "https://docs.datadoghq.com/api/latest/authentication/",
        "api_base_url": "https://api.{site}",
        "is_org_only": True,
        "is_client_allowed": False,
        "is_platform_offered": False,
        "credential_schema": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "api_key": {
                    "type": "string",
                    "title": "API key",
                    "minLength": 1,
                    "writeOnly": True,
                    "pattern": "^[0-9a-fA-F]{32}$",
                },
                "application_key": {
                    "type": "string",
                    "title": "Application key",
                    "minLength": 1,
                    "writeOnly": True,
                    "pattern": "^[0-9a-fA-F]{40}$",
                },
            },
            "required": ["api_key"],
        },
        "settings_schema": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
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
                "service": {
                    "type": "string",
                    "title": "Service name",
                    "minLength": 1,
                    "maxLength": 100,
                },
                "base_url": {
                    "type": "string",
                    "title": "API base URL",
                    "minLength": 1,
                    "pattern": "^https?://[^\\s/?#]+[^\\s]*$",
                    "maxLength": 500,
                    "description": "Overrides the "
                    "provider's URL: a "
                    "proxy, a regional "
                    "endpoint or a local "
                    "emulator.",
                },
            },
        },
        "required_compliance": [],
        "status": "available",
    },
    {
        "provider": "SENTRY",
        "category": "MONITORING",
        "name": "Sentry",
        "description": "Error reporting of the platform.",
        "logo_url": "/static/integrations/sentry.svg",
        "documentation_url": "https://docs.sentry.io/api/auth/",
        "api_base_url": "https://sentry.io",
        "is_org_only": True,
        "is_client_allowed": False,
        "is_platform_offered": False,
        "credential_schema": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "auth_token": {
                    "type": "string",
                    "title": "Auth token",
                    "minLength": 20,
                    "writeOnly": True,
                    "description": "An organization or user auth token.",
                }
            },
            "required": ["auth_token"],
        },
        "settings_schema": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "dsn": {
                    "type": "string",
                    "title": "DSN",
                    "minLength": 1,
                    "pattern": "^https?://[^\\s/?#]+[^\\s]*$",
                    "maxLength": 500,
                    "description": "Where the SDK sends events.",
                },
                "organization_slug": {
                    "type": "string",
                    "title": "Organization slug",
                    "minLength": 1,
                    "maxLength": 100,
                },
                "base_url": {
                    "type": "string",
                    "title": "API base URL",
                    "minLength": 1,
                    "pattern": "^https?://[^\\s/?#]+[^\\s]*$",
                    "maxLength": 500,
                    "description": "Overrides the "
                    "provider's URL: a "
                    "proxy, a regional "
                    "endpoint or a local "
                    "emulator.",
                },
            },
        },
        "required_compliance": [],
        "status": "available",
    },
    {
        "provider": "CLOUDWATCH",
        "category": "MONITORING",
        "name": "Amazon CloudWatch",
        "description": "Platform metrics and alarms in CloudWatch.",
        "logo_url": "/static/integrations/cloudwatch.svg",
        "documentation_url": "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html",
        "api_base_url": "https://monitoring.{region}.amazonaws.com",
        "is_org_only": True,
        "is_client_allowed": False,
        "is_platform_offered": False,
        "credential_schema": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "access_key_id": {
                    "type": "string",
                    "title": "Access key ID",
                    "minLength": 1,
                    "pattern": "^[A-Z0-9]{16,128}$",
                    "description": "An IAM user's or role's key ID (AKIA… / ASIA…).",
                },
                "secret_access_key": {
                    "type": "string",
                    "title": "Secret access key",
                    "minLength": 16,
                    "writeOnly": True,
                    "maxLength": 128,
                },
                "session_token": {
                    "type": "string",
                    "title": "Session token",
                    "minLength": 1,
                    "writeOnly": True,
                    "maxLength": 4096,
                    "description": "Only with temporary credentials (ASIA…).",
                },
            },
            "title": "AWS credentials",
            "required": ["access_key_id", "secret_access_key"],
        },
        "settings_schema": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "region": {
                    "type": "string",
                    "title": "Region",
                    "minLength": 1,
                    "pattern": "^[a-z]{2}(-[a-z]+)+-\\d+$",
                    "default": "us-east-1",
                    "description": "The AWS region, e.g. us-east-1.",
                },
                "namespace": {
                    "type": "string",
                    "title": "Metric namespace",
                    "minLength": 1,
                    "maxLength": 255,
                    "default": "avnz",
                },
                "log_group": {
                    "type": "string",
                    "title": "Log group",
                    "minLength": 1,
                    "maxLength": 512,
                },
                "base_url": {
                    "type": "string",
                    "title": "API base URL",
                    "minLength": 1,
                    "pattern": "^https?://[^\\s/?#]+[^\\s]*$",
                    "maxLength": 500,
                    "description": "Overrides the "
                    "provider's URL: a "
                    "proxy, a regional "
                    "endpoint or a local "
                    "emulator.",
                },
            },
        },
        "required_compliance": [],
        "status": "available",
    },
    {
        "provider": "SMTP",
        "category": "EMAIL_TRANSACTIONAL",
        "name": "SMTP server",
        "description": "Email through any SMTP server with a login (a brand's own mail host).",
        "logo_url": "/static/integrations/smtp.svg",
        "documentation_url": "https://www.rfc-editor.org/rfc/rfc4954",
        "api_base_url": None,
        "is_org_only": False,
        "is_client_allowed": True,
        "is_platform_offered": False,
        "credential_schema": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "username": {
                    "type": "string",
                    "title": "Username",
                    "minLength": 1,
                    "maxLength": 320,
                },
                "password": {
                    "type": "string",
                    "title": "Password",
                    "minLength": 1,
                    "writeOnly": True,
                    "maxLength": 500,
                },
            },
            "required": ["username", "password"],
        },
        "settings_schema": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "host": {
                    "type": "string",
                    "title": "Host",
                    "minLength": 1,
                    "pattern": "^[A-Za-z0-9.\\-:\\[\\]]+$",
                    "maxLength": 255,
                },
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
                "from_email": {
                    "type": "string",
                    "title": "From address",
                    "minLength": 1,
                    "pattern": "^[^@\\s]+@[^@\\s]+$",
                    "maxLength": 320,
                },
                "timeout_seconds": {"type": "number", "minimum": 1, "maximum": 60, "default": 10},
            },
            "required": ["host"],
        },
        "required_compliance": ["CAN_SPAM"],
        "status": "available",
    },
    {
        "provider": "OLLAMA",
        "category": "AI_ML",
        "name": "Ollama",
        "description": "Self-hosted open models served by Ollama.",
        "logo_url": "/static/integrations/ollama.svg",
        "documentation_url": "https://github.com/ollama/ollama/blob/main/docs/api.md",
        "api_base_url": "http://localhost:11434",
        "is_org_only": False,
        "is_client_allowed": True,
        "is_platform_offered": False,
        "credential_schema": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "api_key": {
                    "type": "string",
                    "title": "API key",
                    "minLength": 1,
                    "writeOnly": True,
                    "description": "Only when a proxy in front of Ollama wants one.",
                }
            },
        },
        "settings_schema": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "model": {"type": "string", "title": "Model", "minLength": 1, "maxLength": 200},
                "base_url": {
                    "type": "string",
                    "title": "API base URL",
                    "minLength": 1,
                    "pattern": "^https?://[^\\s/?#]+[^\\s]*$",
                    "maxLength": 500,
                    "description": "Overrides the "
                    "provider's URL: a "
                    "proxy, a regional "
                    "endpoint or a local "
                    "emulator.",
                },
            },
        },
        "required_compliance": [],
        "status": "available",
    },
    {
        "provider": "ANTHROPIC",
        "category": "AI_ML",
        "name": "Anthropic",
        "description": "Claude models for customer service, content and insights.",
        "logo_url": "/static/integrations/anthropic.svg",
        "documentation_url": "https://docs.anthropic.com/en/api/models-list",
        "api_base_url": "https://api.anthropic.com",
        "is_org_only": False,
        "is_client_allowed": True,
        "is_platform_offered": True,
        "credential_schema": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "api_key": {
                    "type": "string",
                    "title": "API key",
                    "minLength": 1,
                    "writeOnly": True,
                    "pattern": "^sk-ant-[A-Za-z0-9_-]+$",
                }
            },
            "required": ["api_key"],
        },
        "settings_schema": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "model": {"type": "string", "title": "Model", "minLength": 1, "maxLength": 200},
                "base_url": {
                    "type": "string",
                    "title": "API base URL",
                    "minLength": 1,
                    "pattern": "^https?://[^\\s/?#]+[^\\s]*$",
                    "maxLength": 500,
                    "description": "Overrides the "
                    "provider's URL: a "
                    "proxy, a regional "
                    "endpoint or a local "
                    "emulator.",
                },
            },
        },
        "required_compliance": [],
        "status": "available",
    },
    {
        "provider": "OPENAI_COMPATIBLE",
        "category": "AI_ML",
        "name": "OpenAI-compatible endpoint",
        "description": "Any server that speaks the OpenAI API (OpenAI, vLLM, LiteLLM, ...).",
        "logo_url": "/static/integrations/openai_compatible.svg",
        "documentation_url": "https://platform.openai.com/docs/api-reference/models/list",
        "api_base_url": "https://api.openai.com/v1",
        "is_org_only": False,
        "is_client_allowed": True,
        "is_platform_offered": False,
        "credential_schema": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "api_key": {
                    "type": "string",
                    "title": "API key",
                    "minLength": 1,
                    "writeOnly": True,
                    "maxLength": 500,
                    "description": "Leave out for servers that want none.",
                }
            },
        },
        "settings_schema": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "model": {"type": "string", "title": "Model", "minLength": 1, "maxLength": 200},
                "organization": {
                    "type": "string",
                    "title": "Organization",
                    "minLength": 1,
                    "maxLength": 200,
                },
                "base_url": {
                    "type": "string",
                    "title": "API base URL",
                    "minLength": 1,
                    "pattern": "^https?://[^\\s/?#]+[^\\s]*$",
                    "maxLength": 500,
                    "description": "Overrides the "
                    "provider's URL: a "
                    "proxy, a regional "
                    "endpoint or a local "
                    "emulator.",
                },
            },
        },
        "required_compliance": [],
        "status": "available",
    },
]


definitions_table = sa.table(
    "integration_definitions",
    sa.column("provider", sa.String),
    sa.column("category", sa.String),
    sa.column("name", sa.String),
    sa.column("description", sa.String),
    sa.column("logo_url", sa.String),
    sa.column("documentation_url", sa.String),
    sa.column("api_base_url", sa.String),
    sa.column("is_org_only", sa.Boolean),
    sa.column("is_client_allowed", sa.Boolean),
    sa.column("is_platform_offered", sa.Boolean),
    sa.column("credential_schema", sa.JSON),
    sa.column("settings_schema", sa.JSON),
    sa.column("required_compliance", sa.JSON),
    sa.column("status", sa.String),
)
organizations_table = sa.table(
    "organizations", sa.column("id", sa.String), sa.column("settings", sa.JSON)
)
platform_table = sa.table(
    "platform_integrations",
    sa.column("id", sa.String),
    sa.column("organization_id", sa.String),
    sa.column("provider", sa.String),
    sa.column("category", sa.String),
    sa.column("name", sa.String),
    sa.column("credentials_mask", sa.JSON),
    sa.column("settings", sa.JSON),
    sa.column("environment", sa.String),
    sa.column("is_shared_with_clients", sa.Boolean),
    sa.column("status", sa.String),
    sa.column("deleted_at", sa.DateTime(timezone=True)),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    op.create_table(
        "integration_definitions",
        sa.Column(
            "provider",
            sa.Enum(
                "AUTH0",
                "OKTA",
                "COGNITO",
                "PAYPAL_PAYFLOW",
                "NMI",
                "AUTHORIZE_NET",
                "STRIPE",
                "AWS_SES",
                "KLAVIYO",
                "AWS_SNS",
                "TWILIO",
                "AWS_BEDROCK",
                "DATADOG",
                "SENTRY",
                "CLOUDWATCH",
                "SMTP",
                "OLLAMA",
                "ANTHROPIC",
                "OPENAI_COMPATIBLE",
                name="integration_provider",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "category",
            sa.Enum(
                "AUTHENTICATION",
                "PAYMENT_GATEWAY",
                "EMAIL_TRANSACTIONAL",
                "EMAIL_MARKETING",
                "SMS",
                "VOICE",
                "PUSH_NOTIFICATION",
                "AI_ML",
                "STORAGE",
                "MONITORING",
                "FEATURE_FLAGS",
                "WEBHOOK",
                name="integration_category",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=False),
        sa.Column("logo_url", sa.String(length=500), nullable=False),
        sa.Column("documentation_url", sa.String(length=500), nullable=False),
        sa.Column("api_base_url", sa.String(length=500), nullable=True),
        sa.Column("is_org_only", sa.Boolean(), nullable=False),
        sa.Column("is_client_allowed", sa.Boolean(), nullable=False),
        sa.Column("is_platform_offered", sa.Boolean(), nullable=False),
        sa.Column("credential_schema", sa.JSON(), nullable=False),
        sa.Column("settings_schema", sa.JSON(), nullable=False),
        sa.Column("required_compliance", sa.JSON(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "available",
                "beta",
                "deprecated",
                name="integration_definition_status",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("provider", name=op.f("pk_integration_definitions")),
    )
    with op.batch_alter_table("integration_definitions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_integration_definitions_category"), ["category"], unique=False
        )

    op.create_table(
        "platform_integrations",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("organization_id", sa.String(length=40), nullable=False),
        sa.Column(
            "provider",
            sa.Enum(
                "AUTH0",
                "OKTA",
                "COGNITO",
                "PAYPAL_PAYFLOW",
                "NMI",
                "AUTHORIZE_NET",
                "STRIPE",
                "AWS_SES",
                "KLAVIYO",
                "AWS_SNS",
                "TWILIO",
                "AWS_BEDROCK",
                "DATADOG",
                "SENTRY",
                "CLOUDWATCH",
                "SMTP",
                "OLLAMA",
                "ANTHROPIC",
                "OPENAI_COMPATIBLE",
                name="integration_provider",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "category",
            sa.Enum(
                "AUTHENTICATION",
                "PAYMENT_GATEWAY",
                "EMAIL_TRANSACTIONAL",
                "EMAIL_MARKETING",
                "SMS",
                "VOICE",
                "PUSH_NOTIFICATION",
                "AI_ML",
                "STORAGE",
                "MONITORING",
                "FEATURE_FLAGS",
                "WEBHOOK",
                name="integration_category",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=True),
        sa.Column("credentials_ciphertext", sa.Text(), nullable=True),
        sa.Column("credentials_mask", sa.JSON(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column(
            "environment",
            sa.Enum(
                "sandbox",
                "production",
                name="integration_environment",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("is_shared_with_clients", sa.Boolean(), nullable=False),
        sa.Column("client_pricing", sa.JSON(), nullable=True),
        sa.Column(
            "status",
            sa.Enum("active", "inactive", name="integration_status", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("last_tested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_test_result", sa.JSON(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        sa.Column("updated_by", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_platform_integrations_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["provider"],
            ["integration_definitions.provider"],
            name=op.f("fk_platform_integrations_provider_integration_definitions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_integrations")),
    )
    with op.batch_alter_table("platform_integrations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_platform_integrations_organization_id"),
            ["organization_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_platform_integrations_provider"), ["provider"], unique=False
        )

    op.create_table(
        "client_integrations",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("organization_id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("company_id", sa.String(length=40), nullable=True),
        sa.Column(
            "provider",
            sa.Enum(
                "AUTH0",
                "OKTA",
                "COGNITO",
                "PAYPAL_PAYFLOW",
                "NMI",
                "AUTHORIZE_NET",
                "STRIPE",
                "AWS_SES",
                "KLAVIYO",
                "AWS_SNS",
                "TWILIO",
                "AWS_BEDROCK",
                "DATADOG",
                "SENTRY",
                "CLOUDWATCH",
                "SMTP",
                "OLLAMA",
                "ANTHROPIC",
                "OPENAI_COMPATIBLE",
                name="integration_provider",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "category",
            sa.Enum(
                "AUTHENTICATION",
                "PAYMENT_GATEWAY",
                "EMAIL_TRANSACTIONAL",
                "EMAIL_MARKETING",
                "SMS",
                "VOICE",
                "PUSH_NOTIFICATION",
                "AI_ML",
                "STORAGE",
                "MONITORING",
                "FEATURE_FLAGS",
                "WEBHOOK",
                name="integration_category",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=True),
        sa.Column(
            "mode",
            sa.Enum("own", "platform", name="integration_mode", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("credentials_ciphertext", sa.Text(), nullable=True),
        sa.Column("credentials_mask", sa.JSON(), nullable=False),
        sa.Column("platform_integration_id", sa.String(length=40), nullable=True),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column(
            "environment",
            sa.Enum(
                "sandbox",
                "production",
                name="integration_environment",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("active", "inactive", name="integration_status", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("is_verified", sa.Boolean(), nullable=False),
        sa.Column("last_tested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_test_result", sa.JSON(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        sa.Column("updated_by", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_client_integrations_client_id_clients")
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_client_integrations_company_id_companies"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_client_integrations_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["platform_integration_id"],
            ["platform_integrations.id"],
            name=op.f("fk_client_integrations_platform_integration_id_platform_integrations"),
        ),
        sa.ForeignKeyConstraint(
            ["provider"],
            ["integration_definitions.provider"],
            name=op.f("fk_client_integrations_provider_integration_definitions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client_integrations")),
    )
    with op.batch_alter_table("client_integrations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_client_integrations_client_id"), ["client_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_client_integrations_company_id"), ["company_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_client_integrations_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_client_integrations_platform_integration_id"),
            ["platform_integration_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_client_integrations_provider"), ["provider"], unique=False
        )
        batch_op.create_index(
            "uq_client_integrations_default",
            ["client_id", "category"],
            unique=True,
            sqlite_where=sa.text("is_default"),
            postgresql_where=sa.text("is_default"),
        )

    op.create_table(
        "client_integration_usage",
        sa.Column("client_integration_id", sa.String(length=40), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("transaction_count", sa.Integer(), nullable=False),
        sa.Column("volume_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_integration_id"],
            ["client_integrations.id"],
            name=op.f("fk_client_integration_usage_client_integration_id_client_integrations"),
        ),
        sa.PrimaryKeyConstraint(
            "client_integration_id", "month", "currency", name=op.f("pk_client_integration_usage")
        ),
    )

    op.bulk_insert(definitions_table, DEFINITIONS)
    _oidc_settings_to_integrations()


def _oidc_settings_to_integrations() -> None:
    bind = op.get_bind()
    now = datetime.now(UTC)
    rows = bind.execute(sa.select(organizations_table.c.id, organizations_table.c.settings))
    for organization_id, settings in rows.all():
        oidc = (settings or {}).get("oidc")
        if not oidc:
            continue
        provider = OIDC_PROVIDERS.get(str(oidc.get("provider", "auth0")), "AUTH0")
        bind.execute(
            platform_table.insert().values(
                id=f"pint_{str(ULID()).lower()}",
                organization_id=organization_id,
                provider=provider,
                category="AUTHENTICATION",
                name="Identity provider",
                credentials_mask={},
                settings={k: oidc[k] for k in OIDC_FIELDS if oidc.get(k) is not None},
                environment="production",
                is_shared_with_clients=False,
                status="active",
                created_at=now,
                updated_at=now,
            )
        )
        rest = {k: v for k, v in settings.items() if k != "oidc"}
        bind.execute(
            organizations_table.update()
            .where(organizations_table.c.id == organization_id)
            .values(settings=rest)
        )


def _integrations_to_oidc_settings() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(
            platform_table.c.organization_id, platform_table.c.provider, platform_table.c.settings
        ).where(
            platform_table.c.category == "AUTHENTICATION",
            platform_table.c.status == "active",
            platform_table.c.deleted_at.is_(None),
        )
    )
    for organization_id, provider, settings in rows.all():
        current = bind.execute(
            sa.select(organizations_table.c.settings).where(
                organizations_table.c.id == organization_id
            )
        ).scalar_one()
        oidc = {**(settings or {}), "provider": str(provider).lower()}
        bind.execute(
            organizations_table.update()
            .where(organizations_table.c.id == organization_id)
            .values(settings={**(current or {}), "oidc": oidc})
        )


def downgrade() -> None:
    _integrations_to_oidc_settings()
    op.drop_table("client_integration_usage")
    with op.batch_alter_table("client_integrations", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_client_integrations_default",
            sqlite_where=sa.text("is_default"),
            postgresql_where=sa.text("is_default"),
        )
        batch_op.drop_index(batch_op.f("ix_client_integrations_provider"))
        batch_op.drop_index(batch_op.f("ix_client_integrations_platform_integration_id"))
        batch_op.drop_index(batch_op.f("ix_client_integrations_organization_id"))
        batch_op.drop_index(batch_op.f("ix_client_integrations_company_id"))
        batch_op.drop_index(batch_op.f("ix_client_integrations_client_id"))

    op.drop_table("client_integrations")
    with op.batch_alter_table("platform_integrations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_platform_integrations_provider"))
        batch_op.drop_index(batch_op.f("ix_platform_integrations_organization_id"))

    op.drop_table("platform_integrations")
    with op.batch_alter_table("integration_definitions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_integration_definitions_category"))

    op.drop_table("integration_definitions")

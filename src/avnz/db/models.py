"""Imports every ORM model so Base.metadata is complete (for Alembic and tests)."""

from avnz.audit.models import AuditLog
from avnz.auth.models import ApiKey, AuthSession, Invite, RefreshToken
from avnz.commerce.models import Customer, Order, Product
from avnz.core.events import OutboxEvent
from avnz.core.jobs import Job
from avnz.db.base import Base
from avnz.integrations.models import (
    ClientIntegration,
    ClientIntegrationUsage,
    IntegrationDefinition,
    PlatformIntegration,
)
from avnz.payments.idempotency import IdempotencyKey
from avnz.payments.models import PaymentMethod
from avnz.routing.models import (
    AccountCircuit,
    AccountPool,
    MerchantAccount,
    MerchantAccountUsage,
    PoolMembership,
    RoutingAttempt,
)
from avnz.rules.models import RoutingRule, RuleDailyStats, RuleSetVersion, RuleVersion
from avnz.tenancy.models import Client, Company, Department, Organization, User
from avnz.webhooks.models import WebhookDelivery, WebhookEndpoint

__all__ = [
    "AccountCircuit",
    "AccountPool",
    "ApiKey",
    "AuditLog",
    "AuthSession",
    "Base",
    "Client",
    "ClientIntegration",
    "ClientIntegrationUsage",
    "Company",
    "Customer",
    "Department",
    "IdempotencyKey",
    "IntegrationDefinition",
    "Invite",
    "Job",
    "MerchantAccount",
    "MerchantAccountUsage",
    "Order",
    "Organization",
    "OutboxEvent",
    "PaymentMethod",
    "PlatformIntegration",
    "PoolMembership",
    "Product",
    "RefreshToken",
    "RoutingAttempt",
    "RoutingRule",
    "RuleDailyStats",
    "RuleSetVersion",
    "RuleVersion",
    "User",
    "WebhookDelivery",
    "WebhookEndpoint",
]

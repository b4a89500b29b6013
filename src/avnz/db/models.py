"""Imports every ORM model so Base.metadata is complete (for Alembic and tests)."""

from avnz.audit.models import AuditLog
from avnz.auth.models import ApiKey, AuthSession, Invite, RefreshToken
from avnz.core.jobs import Job
from avnz.db.base import Base
from avnz.payments.models import PaymentMethod
from avnz.tenancy.models import Client, Company, Department, Organization, User

__all__ = [
    "ApiKey",
    "AuditLog",
    "AuthSession",
    "Base",
    "Client",
    "Company",
    "Department",
    "Invite",
    "Job",
    "Organization",
    "PaymentMethod",
    "RefreshToken",
    "User",
]

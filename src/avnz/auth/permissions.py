"""The seed's permissions (Week 1 Day 3-4), the five roles and what each may do."""

import enum

from avnz.tenancy.models import Role


class Permission(enum.StrEnum):
    TRANSACTIONS_READ = "transactions:read"
    TRANSACTIONS_WRITE = "transactions:write"
    TRANSACTIONS_REFUND = "transactions:refund"
    CUSTOMERS_READ = "customers:read"
    CUSTOMERS_WRITE = "customers:write"
    CUSTOMERS_DELETE = "customers:delete"
    SETTINGS_READ = "settings:read"
    SETTINGS_WRITE = "settings:write"
    BILLING_READ = "billing:read"
    BILLING_WRITE = "billing:write"
    ROUTING_READ = "routing:read"
    ROUTING_WRITE = "routing:write"
    ACCOUNTS_READ = "accounts:read"
    ACCOUNTS_WRITE = "accounts:write"
    POOLS_READ = "pools:read"
    POOLS_WRITE = "pools:write"
    ADMIN_USERS = "admin:users"
    ADMIN_CLIENTS = "admin:clients"
    ADMIN_SYSTEM = "admin:system"


class Level(enum.IntEnum):
    """Where in the hierarchy a principal stands; a lower number sees more."""

    ORGANIZATION = 0
    CLIENT = 1
    COMPANY = 2


P = Permission
_READS = frozenset(p for p in Permission if p.value.endswith(":read"))
_ALL = frozenset(Permission)

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ORGANIZATION_ADMIN: _ALL,
    Role.CLIENT_ADMIN: _ALL - {P.ADMIN_SYSTEM, P.ADMIN_CLIENTS},
    Role.CLIENT_USER: _READS | {P.TRANSACTIONS_WRITE, P.CUSTOMERS_WRITE},
    Role.COMPANY_ADMIN: _ALL - {P.ADMIN_SYSTEM, P.ADMIN_CLIENTS, P.BILLING_WRITE},
    Role.COMPANY_USER: (_READS - {P.BILLING_READ}) | {P.CUSTOMERS_WRITE},
}

ROLE_LEVEL: dict[Role, Level] = {
    Role.ORGANIZATION_ADMIN: Level.ORGANIZATION,
    Role.CLIENT_ADMIN: Level.CLIENT,
    Role.CLIENT_USER: Level.CLIENT,
    Role.COMPANY_ADMIN: Level.COMPANY,
    Role.COMPANY_USER: Level.COMPANY,
}

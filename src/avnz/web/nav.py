"""The sidebar: the seed's groups, each item shown only to callers with its permission and level,
and only once a page at its path exists (so the sidebar never holds a dead link)."""

from dataclasses import dataclass

from avnz.auth.permissions import Level, Permission
from avnz.auth.scope import Principal

P = Permission


@dataclass(frozen=True, slots=True)
class NavItem:
    label: str
    path: str
    icon: str
    permissions: frozenset[Permission] = frozenset()
    # The lowest place in the hierarchy that may see it (COMPANY: everyone).
    lowest_level: Level = Level.COMPANY


@dataclass(frozen=True, slots=True)
class NavGroup:
    label: str
    items: tuple[NavItem, ...]


def _item(
    label: str, path: str, icon: str, *permissions: Permission, level: Level = Level.COMPANY
) -> NavItem:
    return NavItem(label, path, icon, frozenset(permissions), level)


# A page module adds its entry here (one line); the item appears once its route is registered.
NAV: tuple[NavGroup, ...] = (
    NavGroup("Dashboard", (_item("Home", "/", "home"),)),
    NavGroup(
        "Transactions", (_item("Transactions", "/transactions", "card", P.TRANSACTIONS_READ),)
    ),
    NavGroup("Customers", (_item("Customers", "/customers", "users", P.CUSTOMERS_READ),)),
    NavGroup(
        "Routing",
        (
            _item("Merchant accounts", "/merchant-accounts", "bank", P.ACCOUNTS_READ),
            _item("Pools", "/pools", "layers", P.POOLS_READ),
            _item("Rules", "/routing/rules", "route", P.ROUTING_READ),
            _item("Rule tester", "/routing/tester", "search", P.ROUTING_READ),
        ),
    ),
    NavGroup("Billing", (_item("Billing", "/billing", "receipt", P.BILLING_READ),)),
    NavGroup(
        "Settings",
        (
            _item(
                "Integrations",
                "/settings/integrations",
                "plug",
                P.SETTINGS_READ,
                level=Level.CLIENT,
            ),
            _item(
                "Platform integrations",
                "/admin/integrations",
                "shield",
                P.SETTINGS_READ,
                level=Level.ORGANIZATION,
            ),
        ),
    ),
    NavGroup("Momentum", (_item("Momentum", "/momentum", "spark", P.CUSTOMERS_READ),)),
)


@dataclass(frozen=True, slots=True)
class NavLink:
    label: str
    path: str
    icon: str
    active: bool


def allowed(item: NavItem, principal: Principal) -> bool:
    return item.permissions <= principal.permissions and principal.level <= item.lowest_level


def is_active(path: str, current: str) -> bool:
    if path == "/":
        return current == "/"
    return current == path or current.startswith(path + "/")


def build(
    principal: Principal, current_path: str, existing: frozenset[str]
) -> list[tuple[str, list[NavLink]]]:
    """The groups this principal sees, each with its links; empty groups are left out."""
    groups = []
    for group in NAV:
        links = [
            NavLink(item.label, item.path, item.icon, is_active(item.path, current_path))
            for item in group.items
            if item.path in existing and allowed(item, principal)
        ]
        if links:
            groups.append((group.label, links))
    return groups


def first_in(groups: list[tuple[str, list[NavLink]]], group_label: str) -> str | None:
    """The path of the first link this principal sees in a group (the user menu's shortcut)."""
    for label, links in groups:
        if label == group_label and links:
            return links[0].path
    return None

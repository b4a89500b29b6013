"""What platform and client integrations share: credentials sealed at rest (bound to the row
and its tenant, shown only masked), the audit trail of their changes, and the last test result.
"""

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from avnz.audit import service as audit
from avnz.auth.scope import Principal
from avnz.core import clock
from avnz.core.errors import Conflict
from avnz.core.masking import mask_secret
from avnz.integrations.definitions import DEFINITIONS
from avnz.integrations.models import (
    ClientIntegration,
    PlatformIntegration,
    credentials_aad,
)
from avnz.integrations.probes import ProbeResult, Target
from avnz.security.keyring import DecryptionError, Keyring

Integration = PlatformIntegration | ClientIntegration


def _mask_credentials(credentials: Mapping[str, str]) -> dict[str, str]:
    return {name: mask_secret(value) for name, value in credentials.items() if value}


def seal(row: Integration, credentials: Mapping[str, str], keyring: Keyring) -> None:
    """Encrypt `credentials` into the row (its id and tenant must be set): bound to both."""
    if not credentials:
        row.credentials_ciphertext, row.credentials_mask = None, {}
        return
    plaintext = json.dumps(dict(credentials), separators=(",", ":"), sort_keys=True).encode()
    row.credentials_ciphertext = keyring.encrypt(plaintext, aad=credentials_aad(row))
    row.credentials_mask = _mask_credentials(credentials)


def unseal(row: Integration, keyring: Keyring) -> dict[str, str]:
    """The credentials of the row in clear; unreadable ones (their key retired) are a 409."""
    if row.credentials_ciphertext is None:
        return {}
    try:
        plaintext = keyring.decrypt(row.credentials_ciphertext, aad=credentials_aad(row))
    except DecryptionError:
        # The key that sealed them was retired before `avnz keys rotate` reached this row.
        raise Conflict(
            "The stored credentials cannot be decrypted; enter them again.",
            code="credentials_unreadable",
            param="credentials",
        ) from None
    loaded: dict[str, str] = json.loads(plaintext)
    return loaded


def merged_credentials(
    row: Integration, changes: Mapping[str, Any], keyring: Keyring
) -> dict[str, Any]:
    """The stored credentials with `changes` applied: a null removes a field. Unreadable ones
    (their key retired) count as none, so entering them all again repairs the row."""
    try:
        stored = unseal(row, keyring)
    except Conflict:
        stored = {}
    merged: dict[str, Any] = {**stored, **changes}
    return {k: v for k, v in merged.items() if v is not None}


def snapshot(row: Integration) -> dict[str, Any]:
    """The row as the audit log keeps it: everything but the ciphertext."""
    values = audit.snapshot(row)
    values.pop("credentials_ciphertext", None)  # the mask stays: it is what the API shows
    return values


def audit_change(
    session: AsyncSession,
    principal: Principal,
    action: audit.AuditAction,
    row: Integration,
    before: dict[str, Any] | None = None,
    event: str | None = None,
    **details: Any,
) -> None:
    """Record a change of a platform or client integration in the audit log."""
    if isinstance(row, PlatformIntegration):
        resource, tenant = "platform_integration", audit.Tenant(row.organization_id)
    else:
        resource = "client_integration"
        tenant = audit.Tenant(row.organization_id, row.client_id, row.company_id)
    audit.record(
        session,
        actor=principal,
        action=action,
        resource=resource,
        resource_id=row.id,
        tenant=tenant,
        before=before,
        after=snapshot(row),
        metadata={"event": event, **details} if event else None,
    )


def target_of(row: Integration, keyring: Keyring) -> Target:
    """What a connection test of this integration sends, and where."""
    return Target(DEFINITIONS[row.provider], unseal(row, keyring), row.settings, row.environment)


def record_test_result(row: Integration, result: ProbeResult) -> None:
    """Keep a connection test's result and time on the integration."""
    row.last_tested_at = clock.now()
    row.last_test_result = {**result.as_json(), "tested_at": row.last_tested_at.isoformat()}

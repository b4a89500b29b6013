"""Housekeeping of auth data, run by the worker."""

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from avnz.auth.models import Invite, RefreshToken
from avnz.core import clock

PURGE_EVERY = timedelta(hours=1)
# Expired rows are kept a while so a reused token is still recognised as reuse, not as garbage.
KEEP_EXPIRED = timedelta(days=7)


async def purge_expired(session: AsyncSession, _payload: dict[str, Any]) -> datetime:
    """Delete refresh tokens and unaccepted invites that expired more than a week ago."""
    cutoff = clock.now() - KEEP_EXPIRED
    await session.execute(delete(RefreshToken).where(RefreshToken.expires_at < cutoff))
    await session.execute(
        delete(Invite).where(Invite.expires_at < cutoff, Invite.accepted_at.is_(None))
    )
    return clock.now() + PURGE_EVERY


HANDLERS = {"auth.purge_expired": purge_expired}
RECURRING = ["auth.purge_expired"]

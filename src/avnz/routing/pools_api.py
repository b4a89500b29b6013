"""The pools' router under its old name, for `avnz.app` alone: the app factory is being
reshaped on another branch, so its import is left as it is. Delete this module and import
`avnz.routing.pools.api` in `app.py` once that branch has landed."""

from avnz.routing.pools.api import router

__all__ = ["router"]

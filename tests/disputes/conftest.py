"""The dashboard's signed-in client, for the account page's warnings."""

from tests.web.conftest import signed_in

__all__ = ["signed_in"]

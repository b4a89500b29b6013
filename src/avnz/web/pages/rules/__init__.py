"""Routing rule pages: `/routing/rules` (priority order, toggles, drag-and-drop, lint warnings),
the 5-step builder (`/routing/rules/new`, `/routing/rules/{id}/edit`), the rule's history and
analytics (`/routing/rules/{id}`) and the tester (`/routing/tester`).

One module per page (`listing`, `builder`, `tester`, `detail`); `shared` holds what they share.
Every read and write is the rules service's, the tester the rules tester's, called with the
signed-in principal as the API calls them.
"""

from fastapi import APIRouter

from avnz.web.pages.rules import builder, detail, listing, tester

router = APIRouter()
# Fixed paths (`/order`, `/new`) before the builder's and the detail's `/{rule_id}`.
for page in (listing, builder, tester, detail):
    router.include_router(page.router)

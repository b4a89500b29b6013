"""Dashboard pages: each module has a `router` and is listed in `avnz.web.router.PAGE_MODULES`."""

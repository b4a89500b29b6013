"""The dashboard: server-rendered pages (Jinja2 + HTMX + Alpine.js) over the same services as the
API. Pages live in `avnz.web.pages`, one module per area, each exporting a `router`."""

from pathlib import Path

WEB_DIR = Path(__file__).parent
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"

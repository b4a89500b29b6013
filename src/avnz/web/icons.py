"""A small inline SVG icon set (stroke paths in the style of Lucide, ISC), so pages need no
icon font or extra request: `{{ icon("home") }}` in a template."""

from markupsafe import Markup

_PATHS: dict[str, str] = {
    "home": "M3 10.5 12 3l9 7.5V21h-6v-6H9v6H3z",
    "card": "M2 6h20v12H2zM2 10h20M6 15h4",
    "users": "M16 20v-2a4 4 0 0 0-8 0v2M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8M22 20v-2a4 4 0 0 0-3-3.9",
    "bank": "M3 21h18M4 10h16M12 3l9 5H3zM6 10v8M10 10v8M14 10v8M18 10v8",
    "layers": "M12 2 2 7l10 5 10-5zM2 17l10 5 10-5M2 12l10 5 10-5",
    "route": "M6 19a2 2 0 1 0 0-4 2 2 0 0 0 0 4M18 9a2 2 0 1 0 0-4 2 2 0 0 0 0 4M8 17h8a3 3 0 0 "
    "0 0-6H8a3 3 0 0 1 0-6h8",
    "receipt": "M4 2v20l3-2 3 2 2-2 2 2 3-2 3 2V2l-3 2-3-2-2 2-2-2-3 2zM8 8h8M8 12h8M8 16h5",
    "plug": "M9 2v6M15 2v6M6 8h12v3a6 6 0 0 1-12 0zM12 17v5",
    "shield": "M12 2 4 5v6c0 5 3.5 9.5 8 11 4.5-1.5 8-6 8-11V5z",
    "spark": "M12 2v6M12 16v6M2 12h6M16 12h6M5 5l3 3M16 16l3 3M5 19l3-3M16 8l3-3",
    "search": "M11 19a8 8 0 1 0 0-16 8 8 0 0 0 0 16M21 21l-4.3-4.3",
    "bell": "M6 8a6 6 0 0 1 12 0c0 7 3 9 3 9H3s3-2 3-9M10.3 21a1.9 1.9 0 0 0 3.4 0",
    "sun": "M12 16a4 4 0 1 0 0-8 4 4 0 0 0 0 8M12 2v2M12 20v2M4.9 4.9l1.4 1.4M17.7 17.7l1.4 "
    "1.4M2 12h2M20 12h2M6.3 17.7l-1.4 1.4M19.1 4.9l-1.4 1.4",
    "moon": "M12 3a6 6 0 0 0 9 9 9 9 0 1 1-9-9",
    "menu": "M4 6h16M4 12h16M4 18h16",
    "chevron-left": "M15 18l-6-6 6-6",
    "chevron-right": "M9 18l6-6-6-6",
    "chevron-down": "M6 9l6 6 6-6",
    "logout": "M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4M16 17l5-5-5-5M21 12H9",
    "user": "M20 21a8 8 0 0 0-16 0M12 13a5 5 0 1 0 0-10 5 5 0 0 0 0 10",
    "settings": "M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6M19.4 15a1.7 1.7 0 0 0 .3 1.8l.1.1a2 2 0 1 "
    "1-2.8 2.8l-.1-.1a1.7 1.7 0 0 0-2.9 1.2V21a2 2 0 0 1-4 0v-.1a1.7 1.7 0 0 0-2.9-1.2l-.1.1a2 "
    "2 0 1 1-2.8-2.8l.1-.1A1.7 1.7 0 0 0 3 15H3a2 2 0 0 1 0-4h.1A1.7 1.7 0 0 0 4.6 9l-.1-.1a2 2 "
    "0 1 1 2.8-2.8l.1.1A1.7 1.7 0 0 0 9 4.6V3a2 2 0 0 1 4 0v.1a1.7 1.7 0 0 0 2.9 1.2l.1-.1a2 2 0 "
    "1 1 2.8 2.8l-.1.1A1.7 1.7 0 0 0 19.4 9H21a2 2 0 0 1 0 4h-.1a1.7 1.7 0 0 0-1.5 2",
    "x": "M18 6 6 18M6 6l12 12",
    "columns": "M3 3h18v18H3zM9 3v18M15 3v18",
    "download": "M12 3v12M7 10l5 5 5-5M5 21h14",
    "plus": "M12 5v14M5 12h14",
    "alert": "M12 9v4M12 17h.01M10.3 3.9 1.8 18a2 2 0 0 0 1.7 3h17a2 2 0 0 0 1.7-3L13.7 3.9a2 2 "
    "0 0 0-3.4 0",
    "inbox": "M22 12h-6l-2 3h-4l-2-3H2M5.5 5h13L22 12v7H2v-7z",
    "refresh": "M21 12a9 9 0 1 1-3-6.7L21 8M21 3v5h-5",
}


def icon(name: str, size: int = 18, label: str | None = None) -> Markup:
    """An inline SVG; decorative (aria-hidden) unless given a label."""
    path = _PATHS.get(name, _PATHS["spark"])
    aria = (
        Markup('role="img" aria-label="{}"').format(label)
        if label
        else Markup('aria-hidden="true"')
    )
    return Markup(
        '<svg class="icon" width="{size}" height="{size}" viewBox="0 0 24 24" fill="none" '
        'stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" '
        '{aria}><path d="{path}"/></svg>'
    ).format(size=int(size), aria=aria, path=path)

"""The Content-Security-Policy: no inline script runs without the response's own nonce, no
plugins, no <base> rewriting; the templates carry no inline handler the policy would refuse."""

import re

import httpx

from avnz.web import TEMPLATES_DIR
from tests.security.helpers import API, csp_directives

_NONCE = re.compile(r"^'nonce-([A-Za-z0-9_-]{22,})'$")
_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)([^>]*)>")
_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)


def _nonce(response: httpx.Response) -> str:
    sources = csp_directives(response)["script-src"]
    found = [m.group(1) for source in sources if (m := _NONCE.match(source))]
    assert len(found) == 1, sources
    return found[0]


async def test_scripts_need_our_origin_or_the_responses_nonce(client: httpx.AsyncClient) -> None:
    response = await client.get("/login")
    csp = csp_directives(response)
    assert csp["script-src"][0] == "'self'" and len(csp["script-src"]) == 2
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]
    assert "'unsafe-inline'" not in csp["script-src"]


async def test_every_response_gets_a_fresh_nonce(client: httpx.AsyncClient) -> None:
    nonces = {_nonce(await client.get(path)) for path in ("/login", "/login", f"{API}/auth/me")}
    assert len(nonces) == 3


async def test_the_pages_inline_scripts_carry_the_headers_nonce(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/login")
    assert response.status_code == 200
    inline = _INLINE_SCRIPT.findall(response.text)
    assert inline, "the login page has its theme script inline"
    nonce = _nonce(response)
    assert all(f'nonce="{nonce}"' in attributes for attributes in inline)


def test_no_template_has_an_inline_handler_or_an_unnonced_inline_script() -> None:
    for path in TEMPLATES_DIR.rglob("*.html"):
        text = path.read_text()
        assert not _HANDLER.search(text), f"{path}: inline event handler"
        assert "javascript:" not in text, f"{path}: javascript: URL"
        for attributes in _INLINE_SCRIPT.findall(text):
            assert 'nonce="{{ csp_nonce }}"' in attributes, f"{path}: inline script without nonce"

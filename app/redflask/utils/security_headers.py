"""Security headers on every response the app sends.

- X-Content-Type-Options: nosniff - a browser never guesses another type than the one sent
  (downloads are application/octet-stream attachments, errors JSON).
- X-Frame-Options: DENY and CSP frame-ancestors 'none' - no page may frame the app
  (the first for old browsers, the second is the standard).
- Referrer-Policy: no-referrer - the strictest: nothing the app serves needs to tell
  another site where a click came from, and URLs of the API (file names, owner ids in
  the query) stay out of other sites' logs. strict-origin-when-cross-origin would still
  send the origin cross-site.
- Content-Security-Policy: the API answers JSON and files, so `default-src 'none'` -
  nothing may load, run or be framed. The documentation pages are the one exception
  (below).

Swagger UI (/api/v1/swagger, assets served by the app from the flask-openapi3-swagger
wheel) has one inline <script> (its start-up call, which embeds the document URL and the
SWAGGER_CONFIG) and one inline <style>; its OAuth2 redirect page one inline <script>;
flask-openapi3's index page (/api/v1/) one <style> and onclick handlers. These HTML
pages, and only they, get a policy that allows scripts from the app itself plus exactly
their inline code, by SHA-256 computed from the page being sent - so a new wheel version
or another configuration can never silently allow more script than it renders. No
'unsafe-inline' for scripts, no 'unsafe-eval' (the bundle's only `new Function` is a
fallback behind `globalThis`, never reached by a current browser). Styles are the app's
own or inline: the bundle injects <style> elements as it renders, which no hash of the
page can name (tests/test_swagger_browser.py renders the page in headless Chromium and
fails on any CSP violation). Images may also be data: URIs
(its stylesheet draws icons that way); connections go to the app itself only ("Try it
out"). The pages are also "the one exception" in the list above.
"""

from __future__ import annotations

import base64
import hashlib
from html.parser import HTMLParser

from flask import Flask, Response, request

STRICT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# Blueprints of the interactive documentation: flask-openapi3's own (its /api/v1/ index
# page, whose links are onclick handlers) and its Swagger UI plugin's.
DOCS_BLUEPRINTS = frozenset({"openapi", "swagger"})

STATIC_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


class _InlineBlocks(HTMLParser):
    """The text of every inline <script> (one without src) of a page, and of its inline
    event handlers (onclick=...)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.scripts: list[str] = []
        self.handlers: list[str] = []
        self._current: list[str] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append(value or "")
        if tag == "script" and not any(name == "src" for name, _ in attrs):
            self._current, self._text = self.scripts, []

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if self._current is not None and tag == "script":
            self._current.append("".join(self._text))
            self._current = None


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def _sources(blocks: list[str], attributes: list[str]) -> str:
    """'self' plus the hashes of the page's inline blocks; attribute values (event
    handlers, style="...") can only be allowed by hash with 'unsafe-hashes', which allows
    exactly those values and nothing else."""
    sources = ["'self'", *dict.fromkeys(_hash(block) for block in blocks)]
    if attributes:
        sources += ["'unsafe-hashes'", *dict.fromkeys(_hash(value) for value in attributes)]
    return " ".join(sources)


def docs_policy(html: str) -> str:
    """The CSP for a documentation page: the app's own assets plus its inline blocks."""
    parser = _InlineBlocks()
    parser.feed(html)
    parser.close()
    return (
        "default-src 'none'; "
        f"script-src {_sources(parser.scripts, parser.handlers)}; "
        # Styles, unlike scripts, cannot be pinned by hash: Swagger UI's bundle injects
        # <style> elements as it renders (headless Chromium reported them blocked; see
        # tests/test_swagger_browser.py), and a hash beside 'unsafe-inline' would turn it
        # off. These pages show the static API document only, so inline CSS there can
        # leak nothing; scripts stay pinned to their hashes.
        "style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; "
        "connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )


def _add_security_headers(response: Response) -> Response:
    for name, value in STATIC_HEADERS.items():
        response.headers[name] = value
    policy = STRICT_CSP
    if (
        request.blueprint in DOCS_BLUEPRINTS
        and response.mimetype == "text/html"
        and not response.direct_passthrough
    ):
        policy = docs_policy(response.get_data(as_text=True))
    response.headers["Content-Security-Policy"] = policy
    return response


def init_security_headers(app: Flask) -> None:
    app.after_request(_add_security_headers)

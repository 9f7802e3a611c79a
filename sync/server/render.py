"""How the server's pages are made: Jinja2 templates (sync/server/templates/) through Starlette's
`Jinja2Templates`, with autoescaping on, so every value a page shows — a patient's name, a filing id,
a rejection reason — is escaped unless a template marks it safe. Every page extends layout.html and
every POST form is macros.html `form()`, which always carries the session's CSRF token. No page has
inline script or inline style (the Content-Security-Policy allows neither): the one stylesheet is
static/pages.css, served at /static/pages.css."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse

from sync.server import auth

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
# StrictUndefined: a misspelt name in a template is an error in the tests, not an empty cell on a page.
ENV = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(("html", "svg")),
                  undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
ENV.globals["roles"] = auth.ROLES
TEMPLATES = Jinja2Templates(env=ENV)


def render(request: Request, name: str, *, user: dict | None = None, message: str = "", error: str = "",
           status: int = 200, **context) -> HTMLResponse:
    """`name` rendered with the signed-in `user` (the nav bar and the CSRF token) and the page's
    message or error line (from ?msg= / ?err=, shown escaped like everything else)."""
    return TEMPLATES.TemplateResponse(request, name, {"user": user, "message": message, "error": error, **context},
                                      status_code=status)


def percent(ratio) -> str:
    return f"{ratio:.0%}"


def plain(number) -> str:
    """A Decimal without trailing zeros or exponent (在库数量 100, 2.5)."""
    return f"{number.normalize():f}"


def segment(value) -> str:
    """A value as one URL path segment: every reserved character quoted, "/" included."""
    return quote(str(value), safe="")


ENV.globals.update(pct=percent, plain=plain)
ENV.filters["segment"] = segment

"""Who may see the township pages: a signed-in server account (sync/server/auth.py) of township staff
or the 医保 reviewer; only township staff may change the entered figures and settings. A clinic's
device token is for the sync API and its own clinic's reports (downloads.py), never these pages."""

from __future__ import annotations

import secrets
import time
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from sync.server import auth
from sync.server.pages import COOKIE
from sync.server.render import render

VIEWERS = ("township", "reviewer")
EDITORS = ("township",)


class Denied(Exception):
    def __init__(self, response):
        super().__init__("denied")
        self.response = response


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


def staff(request: Request, roles: tuple[str, ...] = VIEWERS) -> dict:
    """The signed-in account, or Denied with the answer to send: a device token gets 403, anyone
    else is sent to sign in."""
    session = request.app.state.web_sessions.get(request.cookies.get(COOKIE, ""))
    if session is None or session["expires"] < time.monotonic():
        if bearer(request):
            raise Denied(notice(request, "无权访问", "村卫生室设备令牌只能用于同步和获取本机构报表，不能查看乡镇页面。",
                                status=403))
        raise Denied(RedirectResponse("/login?err=" + quote("请以乡镇卫生院或医保经办账户登录"), status_code=303))
    if session["role"] not in roles:
        raise Denied(notice(request, "无权访问", f"{auth.ROLES.get(session['role'], '')}账户不能进行此操作，"
                                                 "请以乡镇卫生院账户登录。", session, status=403))
    return session


async def checked_form(request: Request, user: dict, page_path: str) -> dict:
    """The posted form, if it carries the session's CSRF token; else back to `page_path` with a reason."""
    form = dict(await request.form())
    if not secrets.compare_digest(str(form.get("csrf", "")), user["csrf"]):
        raise Denied(back(page_path, error="页面已过期，请刷新后重试"))
    return form


def back(path: str, message: str = "", error: str = "") -> RedirectResponse:
    sep = "&" if "?" in path else "?"
    query = f"{sep}msg={quote(message)}" if message else (f"{sep}err={quote(error)}" if error else "")
    return RedirectResponse(path + query, status_code=303)


def notice(request: Request, title: str, text: str = "", user: dict | None = None, *, error: str = "",
           back_to: str = "", status: int = 200) -> HTMLResponse:
    """A page with a title and one sentence (or an error above a link back): refusals and bad requests."""
    return render(request, "notice.html", user=user, error=error, status=status, title=title, text=text,
                  back=back_to)

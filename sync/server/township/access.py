"""Who may see the township pages: a signed-in server account (sync/server/auth.py) of township staff
or the 医保 reviewer; only township staff may change the entered figures and settings. A clinic's
device token is for the sync API and its own clinic's reports (downloads.py), never these pages."""

from __future__ import annotations

import secrets
import time
from html import escape
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from sync.server import auth
from sync.server.pages import COOKIE, STYLE

VIEWERS = ("township", "reviewer")
EDITORS = ("township",)
EXTRA_STYLE = (".num{text-align:right}.warn{color:#b00000;font-weight:bold}.ok{color:#1a6e1a}"
               "nav a{margin-right:1em}details{margin:.5em 0}h2{margin-top:1.4em}")


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
            raise Denied(page("无权访问", "<p>村卫生室设备令牌只能用于同步和获取本机构报表，不能查看乡镇页面。</p>",
                              status=403))
        raise Denied(RedirectResponse("/login?err=" + quote("请以乡镇卫生院或医保经办账户登录"), status_code=303))
    if session["role"] not in roles:
        raise Denied(page("无权访问", f"<p>{escape(auth.ROLES.get(session['role'], ''))}账户不能进行此操作，"
                                      "请以乡镇卫生院账户登录。</p>", session, status=403))
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


def page(title: str, body: str, user: dict | None = None, message: str = "", error: str = "",
         status: int = 200) -> HTMLResponse:
    nav = ""
    if user:
        nav = (f"<nav>{escape(user['name'])}（{escape(auth.ROLES.get(user['role'], ''))}） · "
               "<a href='/township/dashboard'>乡镇仪表盘</a><a href='/township/reports'>报表下载</a>"
               "<a href='/township/settings'>录入与设置</a><a href='/township'>同步情况</a>"
               "<a href='/review'>备案审核</a><form class='inline' method='post' action='/logout'>"
               f"<input type='hidden' name='csrf' value='{user['csrf']}'><button>退出</button></form></nav>")
    notes = (f"<p class='msg'>{escape(message)}</p>" if message else "") + (
        f"<p class='err'>{escape(error)}</p>" if error else "")
    return HTMLResponse(f"<!doctype html><html lang='zh'><head><meta charset='utf-8'><title>{escape(title)}</title>"
                        f"<style>{STYLE}{EXTRA_STYLE}</style></head><body><h1>{escape(title)}</h1>{nav}{notes}"
                        f"{body}</body></html>", status_code=status)

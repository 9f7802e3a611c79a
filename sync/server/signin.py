"""Signing in to the server's web pages (issue 13): sessions, the sign-in and sign-out flow, the sign-in log.

- Sessions live in memory (a restart signs everyone out) under a random id that is new at every
  sign-in: whatever id the browser brought is dropped, so an id planted before sign-in is never the
  signed-in one. A session ends after `session_idle_minutes` (30) without a page request, and
  `session_hours` (8, a working day) after sign-in however busy — product defaults in ServerSettings
  (no policy document gives them). The cookie is HttpOnly, SameSite=Strict, and Secure whenever the
  request came over HTTPS (directly, or through a proxy the server was told to trust: `serve --trust-proxy`).
- Each client address may try `signin_burst` (20) sign-ins at once, then `signin_per_minute` (10) a
  minute; beyond that a 429 with Retry-After before any password is looked at.
- The password check is the clinic's lockout rule (sync/server/auth.py): five wrong in a row lock the
  account for `security.lockout_minutes`; unknown names cost the same Argon2 work and get the same
  message. Sign-ins run one at a time, so concurrent wrong guesses cannot race past the count.
- Every attempt that reaches the password check is a row of `server_signin` (time, name as typed,
  address, outcome), which township staff read at /township/signins.
- Signing out needs the session's CSRF token, like every other form.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import insert, select
from starlette.concurrency import run_in_threadpool

from clinic.db.models.township import ServerSignin
from clinic.users import lockout_minutes
from sync.server import auth
from sync.server.render import render

COOKIE = "lb_web"
OUTCOMES = {"success": "成功", "failure": "密码错误或无此用户", "lockout": "连续错误，账户被锁定",
            "locked": "账户锁定中，被拒绝"}
LOG_ROWS = 500          # the page shows the latest this many attempts
router = APIRouter()


class WebSessions:
    """Signed-in sessions by id, with idle and absolute expiry on an injectable clock (UTC)."""

    def __init__(self, idle: timedelta, absolute: timedelta, clock: Callable[[], datetime]):
        self.idle, self.absolute, self.clock = idle, absolute, clock
        self._sessions: dict[str, dict] = {}
        self._lock = threading.Lock()

    def _ends(self, session: dict) -> datetime:
        return min(session["seen"] + self.idle, session["signed_in"] + self.absolute)

    def _stamp(self, session: dict, now: datetime) -> None:
        session["seen"] = now
        # Pages that still compare session["expires"] with time.monotonic() see the same end.
        session["expires"] = time.monotonic() + (self._ends(session) - now).total_seconds()

    def get(self, token: str | None) -> dict | None:
        """The live session for this id (and it counts as activity), or None: unknown or expired."""
        if not token:
            return None
        now = self.clock()
        with self._lock:
            session = self._sessions.get(token)
            if session is None:
                return None
            if self._ends(session) <= now:
                del self._sessions[token]
                return None
            self._stamp(session, now)
            return session

    def start(self, account: dict, replacing: str | None = None) -> str:
        """A new session with a new random id and CSRF token; the id the browser had is dropped."""
        now, token = self.clock(), secrets.token_urlsafe(32)
        with self._lock:
            if replacing:
                self._sessions.pop(replacing, None)
            for old in [t for t, s in self._sessions.items() if self._ends(s) <= now]:
                del self._sessions[old]         # keeps memory bounded without a sweeper thread
            session = {**account, "csrf": secrets.token_urlsafe(32), "signed_in": now}
            self._stamp(session, now)
            self._sessions[token] = session
        return token

    def end(self, token: str | None) -> None:
        with self._lock:
            self._sessions.pop(token or "", None)

    def __len__(self) -> int:
        return len(self._sessions)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "?"


def current_user(request: Request) -> dict | None:
    return request.app.state.web_sessions.get(request.cookies.get(COOKIE))


def _log(session, at: datetime, username: str, address: str, outcome: str) -> None:
    # A Core insert: the sign-in log is itself the record, no audit event per row.
    session.execute(insert(ServerSignin.__table__).values(at=at, username=username.strip()[:40],
                                                          address=address[:64], outcome=outcome))


def attempt(app, username: str, password: str, address: str) -> dict:
    """Check one sign-in and log it; the account as the session keeps it, or auth.SignInRefused."""
    db, now = app.state.db, app.state.clock()
    with app.state.signin_lock:
        try:
            with db.session("login", write=True) as s:
                account = auth.authenticate(s, username, password, now=now)
                _log(s, now, username, address, "success")
                return {"user": account.username, "name": account.display_name, "role": account.role}
        except auth.SignInRefused as refused:
            with db.session("login", write=True) as s:
                _log(s, now, username, address, refused.outcome)
            raise


def _set_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/",
                        secure=request.url.scheme == "https",
                        max_age=int(request.app.state.web_sessions.absolute.total_seconds()))


async def sign_in(request: Request) -> Response:
    app, address = request.app, client_address(request)
    wait = app.state.signin_limiter.wait(address)
    if wait:
        response = render(request, "notice.html", title="登录", text="", back="/login", status=429,
                          error=f"本地址登录尝试过于频繁，请 {wait} 秒后再试")
        response.headers["Retry-After"] = str(wait)
        return response
    form = await request.form()
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    try:
        found = await run_in_threadpool(attempt, app, username, password, address)
    except auth.SignInRefused as refused:
        return RedirectResponse("/login?err=" + quote(str(refused)), status_code=303)
    token = app.state.web_sessions.start(found, replacing=request.cookies.get(COOKIE))
    response = RedirectResponse("/", status_code=303)
    _set_cookie(request, response, token)
    return response


async def sign_out(request: Request) -> Response:
    sessions, token = request.app.state.web_sessions, request.cookies.get(COOKIE)
    user = sessions.get(token)
    if user is not None:
        form = await request.form()
        if not secrets.compare_digest(str(form.get("csrf", "")), user["csrf"]):
            return render(request, "notice.html", user=user, title="未退出", back="/", status=403,
                          text="退出请求没有带本页面的令牌（可能来自其他网站），未退出。请用页面上的“退出”按钮。")
        sessions.end(token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict",
                           secure=request.url.scheme == "https")
    return response


@router.get("/township/signins")
def signins_page(request: Request, user_name: str = ""):
    from sync.server.township.access import EDITORS, Denied, staff

    try:
        user = staff(request, EDITORS)
    except Denied as denied:
        return denied.response
    query = select(ServerSignin).order_by(ServerSignin.id.desc()).limit(LOG_ROWS)
    if user_name.strip():
        query = query.where(ServerSignin.username == user_name.strip()[:40])
    with request.app.state.db.session("signins") as s:
        rows = s.scalars(query).all()
        minutes = lockout_minutes(s)
    return render(request, "signins.html", user=user, rows=rows, outcomes=OUTCOMES, user_name=user_name,
                  minutes=minutes, limit=LOG_ROWS)

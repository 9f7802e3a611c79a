"""The township server's FastAPI application: `create_app(db_url)`.

Limits protect a small server on a township line: request size (compressed and unpacked), records per
batch, and a per-device request rate (429 with Retry-After, which the clinic honours). Every refusal
is a JSON body `{"error": "..."}` with a sentence a person can act on.

Every response carries security headers (a Content-Security-Policy allowing no script at all and no
inline style — the pages use /static/pages.css — no framing, no referrer, no MIME sniffing). With
`https_only` the pages (everything outside /api/) refuse plain HTTP with a reason; the sync API stays
reachable for clinics on the township line. Sign-in protection and sessions: sync/server/signin.py.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.middleware.gzip import GZipMiddleware

from clinic.db.types import utcnow
from sync.server.storage import ServerDatabase, open_server_database


@dataclass(frozen=True)
class ServerSettings:
    max_body_bytes: int = 4_000_000          # as sent (gzip)
    max_json_bytes: int = 16_000_000         # unpacked
    max_batch_records: int = 500
    requests_per_minute: int = 600           # per device (or per address before enrolment)
    burst: int = 120
    # Web sign-in (issue 13), product defaults: no policy document gives them.
    signin_per_minute: int = 10              # sign-in attempts per client address, after…
    signin_burst: int = 20                   # …this many at once
    session_idle_minutes: int = 30           # signed out after this long without a page request
    session_hours: int = 8                   # and this long after signing in, whatever happens
    https_only: bool = False                 # pages refuse plain HTTP (serve --https-only)


class ApiError(Exception):
    def __init__(self, status: int, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.status, self.message, self.retry_after = status, message, retry_after


class RateLimiter:
    """A token bucket per key; `check` raises 429 with the seconds until a request is allowed again."""

    def __init__(self, per_minute: int, burst: int):
        self.rate, self.burst = per_minute / 60.0, burst
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def wait(self, key: str) -> int:
        """0 and a token taken if a request is allowed now, else the seconds until one will be."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens < 1:
                self._buckets[key] = (tokens, now)
                return math.ceil((1 - tokens) / self.rate) if self.rate > 0 else 60
            self._buckets[key] = (tokens - 1, now)
            return 0

    def check(self, key: str) -> None:
        wait = self.wait(key)
        if wait:
            raise ApiError(429, f"请求过于频繁，请 {wait} 秒后再试", retry_after=wait)


SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; script-src 'none'; style-src 'self'; object-src 'none'; "
                                 b"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
]


class SecurityHeaders:
    """ASGI middleware: the security headers on every response, and `https_only` for the pages."""

    def __init__(self, app, https_only: bool = False):
        self.app, self.https_only = app, https_only

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message):
            if message["type"] == "http.response.start":
                names = {name for name, _ in SECURITY_HEADERS}
                message["headers"] = [h for h in message.get("headers", []) if h[0].lower() not in names] + \
                    SECURITY_HEADERS
            await send(message)

        if self.https_only and scope.get("scheme") == "http" and not scope["path"].startswith("/api/"):
            return await _plain_http_refused(scope)(scope, receive, with_headers)
        return await self.app(scope, receive, with_headers)


def _plain_http_refused(scope) -> HTMLResponse:
    host = dict(scope.get("headers", [])).get(b"host", b"").decode("latin-1")
    url = escape(f"https://{host}{scope['path']}")
    return HTMLResponse("<!doctype html><html lang='zh'><head><meta charset='utf-8'><title>请使用 HTTPS</title>"
                        f"</head><body><h1>请使用 HTTPS</h1><p>本服务器的网页只接受 HTTPS 加密访问（密码和患者信息不能"
                        f"明文传输）。请改用 <a href='{url}'>{url}</a>。</p></body></html>", status_code=403)


def error_response(status: int, message: str, retry_after: int | None = None) -> JSONResponse:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return JSONResponse({"error": message, "server_time": utcnow().isoformat()}, status_code=status,
                        headers=headers)


def create_app(db_url: str | ServerDatabase, settings: ServerSettings | None = None, *,
               clock: Callable[[], datetime] = utcnow) -> FastAPI:
    """The server on a database URL or SQLite path (migrated on open), or on an open ServerDatabase.
    `clock` (UTC) times sessions, lockouts and the sign-in log; tests pass their own."""
    from sync.server import api, pages, signin

    db = db_url if isinstance(db_url, ServerDatabase) else open_server_database(db_url)
    app = FastAPI(title="两病 乡镇同步服务器", docs_url=None, redoc_url=None, openapi_url=api.OPENAPI_URL,
                  exception_handlers=api.EXCEPTION_HANDLERS)       # JSON errors under /api/, no traceback
    app.state.db = db
    app.state.settings = settings or ServerSettings()
    app.state.limiter = RateLimiter(app.state.settings.requests_per_minute, app.state.settings.burst)
    settings = app.state.settings
    app.state.clock = clock
    app.state.signin_limiter = RateLimiter(settings.signin_per_minute, settings.signin_burst)
    app.state.signin_lock = threading.Lock()
    app.state.web_sessions = signin.WebSessions(timedelta(minutes=settings.session_idle_minutes),
                                                timedelta(hours=settings.session_hours), clock)
    app.add_middleware(GZipMiddleware, minimum_size=2000)
    app.add_middleware(SecurityHeaders, https_only=settings.https_only)     # outermost: on every answer

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.retry_after)

    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(signin.router)
    from sync.server.township import router as township_router  # issue 6: township pages and reports
    app.include_router(township_router)
    return app

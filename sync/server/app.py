"""The township server's FastAPI application: `create_app(db_url)`.

Limits protect a small server on a township line: request size (compressed and unpacked), records per
batch, and a per-device request rate (429 with Retry-After, which the clinic honours). Every refusal
is a JSON body `{"error": "..."}` with a sentence a person can act on.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
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

    def check(self, key: str) -> None:
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens < 1:
                self._buckets[key] = (tokens, now)
                wait = math.ceil((1 - tokens) / self.rate) if self.rate > 0 else 60
                raise ApiError(429, f"请求过于频繁，请 {wait} 秒后再试", retry_after=wait)
            self._buckets[key] = (tokens - 1, now)


def error_response(status: int, message: str, retry_after: int | None = None) -> JSONResponse:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return JSONResponse({"error": message, "server_time": utcnow().isoformat()}, status_code=status,
                        headers=headers)


def create_app(db_url: str | ServerDatabase, settings: ServerSettings | None = None) -> FastAPI:
    """The server on a database URL or SQLite path (migrated on open), or on an open ServerDatabase."""
    from sync.server import api, pages

    db = db_url if isinstance(db_url, ServerDatabase) else open_server_database(db_url)
    app = FastAPI(title="两病 乡镇同步服务器", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.db = db
    app.state.settings = settings or ServerSettings()
    app.state.limiter = RateLimiter(app.state.settings.requests_per_minute, app.state.settings.burst)
    app.state.web_sessions = {}
    app.add_middleware(GZipMiddleware, minimum_size=2000)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.retry_after)

    app.include_router(api.router)
    app.include_router(pages.router)
    from sync.server.township import router as township_router  # issue 6: township pages and reports
    app.include_router(township_router)
    return app

"""HTTP to the township server with the retry rules of issue 5:
- network errors, 5xx and 429: the same request again after a backoff with full jitter, or after the
  server's Retry-After when it gives one; after the last attempt, Unreachable;
- 401/403: stop at once (NeedsEnrolment): retrying cannot help, the clinic must enrol again;
- any other 4xx: Refused, with the server's reason;
- a 2xx answer that is not the sync service's JSON (a captive portal's login page, a proxy's notice):
  Unreachable, saying so; nothing is marked sent.
Bodies go out as gzip JSON; every answer's `server_time` feeds the clock-skew estimate.
"""

from __future__ import annotations

import gzip
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import requests


class SyncError(Exception):
    """A reason the pass stopped, in words for the doctor."""


class Unreachable(SyncError):
    pass


class NeedsEnrolment(SyncError):
    pass


class Refused(SyncError):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    base_delay: float = 1.0
    max_delay: float = 30.0
    max_retry_after: float = 120.0


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _json_object(response: requests.Response) -> dict | None:
    try:
        answer = response.json()
    except ValueError:
        return None
    return answer if isinstance(answer, dict) else None


def _reason(response: requests.Response, answer: dict | None) -> str:
    if answer and answer.get("error"):
        return str(answer["error"])
    return f"HTTP {response.status_code} {response.reason}"


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


class Transport:
    def __init__(self, base_url: str, token: str | None = None, *, session: requests.Session | None = None,
                 retry: RetryPolicy | None = None, timeout: tuple[float, float] = (5.0, 120.0),
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], datetime] = utc_now,
                 rng: Callable[[], float] = random.random):
        self.base_url = base_url.rstrip("/")
        self.token, self.session = token, session or requests.Session()
        self.retry, self.timeout, self.sleep, self.clock, self.rng = retry or RetryPolicy(), timeout, sleep, clock, rng
        self.clock_skew: float | None = None       # server minus client, seconds (information only)
        self.waits: list[float] = []                # what was slept between attempts (tests, logs)
        self.tried = False                          # a request was attempted
        self.answered = False                       # the sync service answered (even with an error)

    def backoff(self, attempt: int) -> float:
        return self.rng() * min(self.retry.max_delay, self.retry.base_delay * 2 ** attempt)

    def request(self, method: str, path: str, *, body: dict | None = None, params: dict | None = None,
                json_bytes: bytes | None = None) -> dict:
        """The answer's JSON object; `body` (or `json_bytes`, already encoded) goes out as gzip JSON."""
        url = f"{self.base_url}{path}"
        headers = {"Accept-Encoding": "gzip"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None
        if body is not None:
            json_bytes = json.dumps(body, ensure_ascii=False).encode("utf-8")
        if json_bytes is not None:
            data = gzip.compress(json_bytes, compresslevel=5)
            headers.update({"Content-Type": "application/json", "Content-Encoding": "gzip"})
        error: SyncError = Unreachable(f"无法连接乡镇服务器 {self.base_url}")
        self.tried = True
        for attempt in range(self.retry.attempts):
            sent = self.clock()
            delay = self.backoff(attempt)
            try:
                response = self.session.request(method, url, data=data, params=params, headers=headers,
                                                timeout=self.timeout)
            except requests.RequestException as exc:
                error = Unreachable(f"无法连接乡镇服务器 {self.base_url}（{type(exc).__name__}），请检查网络后重试；"
                                    f"记录已保存在本机，联网后会自动上传")
            else:
                answer = _json_object(response)
                self.answered = self.answered or answer is not None    # the sync service, not a portal
                if response.status_code in (401, 403):
                    raise NeedsEnrolment(_reason(response, answer))
                if response.status_code == 429 or response.status_code >= 500:
                    error = Unreachable(f"乡镇服务器暂时无法处理（{_reason(response, answer)}），稍后会自动重试")
                    asked = _retry_after(response)
                    delay = min(delay if asked is None else asked, self.retry.max_retry_after)
                elif response.status_code >= 400:
                    raise Refused(response.status_code, _reason(response, answer))
                elif answer is None:
                    raise Unreachable(f"{self.base_url} 的应答不是乡镇同步服务的应答（可能是需要登录的网络、"
                                      f"代理或地址填错），请检查网络和服务器地址；记录已保存在本机")
                else:
                    self._note_clock(answer, sent)
                    return answer
            if attempt + 1 < self.retry.attempts:
                self.waits.append(delay)
                self.sleep(delay)
        raise error

    def _note_clock(self, answer: dict, sent: datetime) -> None:
        stamp = answer.get("server_time") if isinstance(answer, dict) else None
        if not stamp:
            return
        try:
            server = datetime.fromisoformat(stamp).replace(tzinfo=None)
        except ValueError:
            return
        middle = sent + (self.clock() - sent) / 2
        self.clock_skew = (server - middle).total_seconds()

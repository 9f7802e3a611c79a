"""HTTP to the township server with the retry rules of issue 5:
- network errors, 5xx and 429: the same request again after a backoff with full jitter, or after the
  server's Retry-After when it gives one; after the last attempt, Unreachable;
- 401/403: stop at once (NeedsEnrolment): retrying cannot help, the clinic must enrol again;
- any other 4xx: Refused, with the server's reason.
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


def _reason(response: requests.Response) -> str:
    try:
        return str(response.json().get("error") or response.reason)
    except ValueError:
        return f"HTTP {response.status_code} {response.reason}"


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    if value.isdigit():
        return float(value)
    try:
        from email.utils import parsedate_to_datetime

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

    def backoff(self, attempt: int) -> float:
        return self.rng() * min(self.retry.max_delay, self.retry.base_delay * 2 ** attempt)

    def request(self, method: str, path: str, *, body: dict | None = None, params: dict | None = None) -> dict:
        url = f"{self.base_url}{path}"
        headers = {"Accept-Encoding": "gzip"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None
        if body is not None:
            data = gzip.compress(json.dumps(body, ensure_ascii=False).encode("utf-8"), compresslevel=5)
            headers.update({"Content-Type": "application/json", "Content-Encoding": "gzip"})
        error: SyncError = Unreachable(f"无法连接乡镇服务器 {self.base_url}")
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
                if response.status_code in (401, 403):
                    raise NeedsEnrolment(_reason(response))
                if response.status_code == 429 or response.status_code >= 500:
                    error = Unreachable(f"乡镇服务器暂时无法处理（{_reason(response)}），稍后会自动重试")
                    asked = _retry_after(response)
                    delay = min(delay if asked is None else asked, self.retry.max_retry_after)
                elif response.status_code >= 400:
                    raise Refused(response.status_code, _reason(response))
                else:
                    answer = response.json()
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

"""A real HTTP server on 127.0.0.1 standing between a clinic and the township server, like the reverse
proxy or the village's router would: it answers the first requests itself with what a test scripts
(502/503 while the app restarts, 403 from an access rule, a captive portal's login page) and forwards
the rest to the township server. It records every request body it saw (unpacked) so a test can tell
that a retry sent the same batch again."""

from __future__ import annotations

import gzip
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

PORTAL = "<html><head><title>上网认证</title></head><body>请输入手机号登录后上网</body></html>"


@dataclass
class Canned:
    status: int
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


class Gateway:
    def __init__(self, upstream: str, script: list[Canned] | None = None, *, always: Canned | None = None):
        self.upstream, self.script, self.always = upstream, list(script or []), always
        self.seen: list[tuple[str, str, bytes]] = []        # (method, path, unpacked body)
        self._lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                gateway._handle(self)

            def do_POST(self) -> None:
                gateway._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def bodies(self, path: str) -> list[bytes]:
        return [body for _, p, body in self.seen if p.startswith(path)]

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        raw = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        unpacked = gzip.decompress(raw) if handler.headers.get("Content-Encoding") == "gzip" and raw else raw
        with self._lock:
            self.seen.append((handler.command, handler.path, unpacked))
            canned = self.script.pop(0) if self.script else self.always
        if canned is None:
            headers = {k: v for k, v in handler.headers.items() if k.lower() not in ("host", "content-length")}
            answer = requests.request(handler.command, self.upstream + handler.path, data=raw, headers=headers,
                                      timeout=60)
            status, body, headers = answer.status_code, answer.content, {
                "Content-Type": answer.headers.get("Content-Type", "application/json")}
        else:
            status, body = canned.status, canned.body.encode("utf-8")
            headers = {"Content-Type": f"{canned.content_type}; charset=utf-8", **canned.headers}
        handler.send_response(status)
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

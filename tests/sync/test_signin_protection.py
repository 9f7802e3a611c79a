"""Sign-in protection of the township server's web pages (issue 13 item 2), on a real server on 127.0.0.1:
lockout after five wrong passwords (the clinic's rule and setting), per-address throttling, the same
Argon2 work for unknown names, CSRF on sign-out, a new session id at sign-in, idle and absolute
expiry (on an injected clock, no sleeping), the sign-in log page, and the security headers."""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
import uvicorn
from argon2 import PasswordHasher
from sqlalchemy import select

from clinic.db.models import Setting
from clinic.db.models.township import ServerAccount, ServerSignin
from clinic.users import DEFAULT_LOCKOUT_MINUTES, LOCKOUT_SETTING, _dummy_hash
from sync.server import auth
from sync.server.app import ServerSettings, create_app
from sync.server.signin import COOKIE
from sync.server.storage import open_server_database
from tests.sync.helpers import LiveServer, free_socket

STAFF = ("staff", "staff-pass-1")
REVIEWER = ("reviewer", "review-pass-1")
WIDE = ServerSettings(signin_per_minute=6000, signin_burst=1000)     # lockout tests: throttle out of the way
HEADERS = {"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"}


class Clock:
    """The server's UTC clock, moved by the test."""

    def __init__(self):
        self.now = datetime(2026, 3, 2, 9, 0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


def start(db_url: str, settings: ServerSettings | None = None, clock=None) -> LiveServer:
    """Like LiveServer.start, with the app's clock given."""
    db = open_server_database(db_url)
    with db.session("test", write=True) as s:
        auth.add_account(s, STAFF[0], "乡镇员工", "township", STAFF[1])
        auth.add_account(s, REVIEWER[0], "审核员", "reviewer", REVIEWER[1])
    sock = free_socket()
    app = create_app(db, settings, **({"clock": clock} if clock else {}))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    return LiveServer(db, f"http://127.0.0.1:{sock.getsockname()[1]}", server, thread, db_url)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def live(server_db_url, clock):
    server = start(server_db_url, WIDE, clock)
    yield server
    server.stop()


def sign_in(url: str, who=STAFF, web: requests.Session | None = None) -> requests.Response:
    web = web or requests.Session()
    return web.post(f"{url}/login", data={"username": who[0], "password": who[1]}, timeout=30)


def signed_in(url: str, who=STAFF) -> tuple[requests.Session, str]:
    web = requests.Session()
    page = sign_in(url, who, web)
    assert page.status_code == 200 and "退出" in page.text, page.text
    return web, re.search(r"name='csrf' value='([^']+)'", page.text).group(1)


def signed_in_page(web: requests.Session, url: str) -> bool:
    answer = web.get(f"{url}/township", timeout=30, allow_redirects=False)
    return answer.status_code == 200


def outcomes(server: LiveServer) -> list[str]:
    with server.db.session() as s:
        return list(s.scalars(select(ServerSignin.outcome).order_by(ServerSignin.id)))


def local_hhmm(utc: datetime) -> str:
    return utc.replace(tzinfo=UTC).astimezone().strftime("%H:%M")


# -- lockout ---------------------------------------------------------------------------------------

def test_five_wrong_passwords_lock_the_account_and_the_right_one_is_refused_while_locked(live, clock):
    answers = [sign_in(live.url, (STAFF[0], f"guess-{n}")) for n in range(130)]
    assert all("退出" not in a.text for a in answers), "no wrong password signs in"
    assert all("用户名或密码错误" in a.text for a in answers[:4])
    until = local_hhmm(clock.now + timedelta(minutes=DEFAULT_LOCKOUT_MINUTES))
    locked = f"账号 staff 因连续 5 次密码错误已锁定，请在 {until} 后再试"
    assert all(locked in a.text for a in answers[4:]), answers[4].text
    right = sign_in(live.url)
    assert locked in right.text and "退出" not in right.text
    assert outcomes(live) == ["failure"] * 4 + ["lockout"] + ["locked"] * 126
    clock.advance(minutes=DEFAULT_LOCKOUT_MINUTES, seconds=1)
    assert "退出" in sign_in(live.url).text, "the lock ends when its time has passed"
    assert "退出" in sign_in(live.url, REVIEWER).text, "other accounts were never locked"


def test_the_lock_lasts_the_security_lockout_minutes_setting_like_the_clinic(live, clock):
    assert DEFAULT_LOCKOUT_MINUTES == 15 and LOCKOUT_SETTING == "security.lockout_minutes"
    with live.db.session("test", write=True) as s:
        s.add(Setting(key=LOCKOUT_SETTING, value="40"))
    for n in range(5):
        sign_in(live.url, (STAFF[0], f"guess-{n}"))
    clock.advance(minutes=39)
    assert f"请在 {local_hhmm(clock.now + timedelta(minutes=1))} 后再试" in sign_in(live.url).text
    clock.advance(minutes=1, seconds=1)
    assert "退出" in sign_in(live.url).text


def test_a_new_password_from_add_user_unlocks_the_account(live):
    for n in range(5):
        sign_in(live.url, (STAFF[0], f"guess-{n}"))
    assert "已锁定" in sign_in(live.url).text
    with live.db.session("test", write=True) as s:
        auth.add_account(s, STAFF[0], "乡镇员工", "township", "new-pass-123")
    assert "退出" in sign_in(live.url, (STAFF[0], "new-pass-123")).text


# -- throttling ------------------------------------------------------------------------------------

@pytest.fixture
def strict(server_db_url):
    server = start(server_db_url, ServerSettings(signin_per_minute=1, signin_burst=3))
    yield server
    server.stop()


def test_sign_in_attempts_from_one_address_are_throttled_with_429_and_retry_after(strict):
    first = [sign_in(strict.url, (STAFF[0], f"guess-{n}")) for n in range(3)]
    assert all(a.status_code == 200 and "用户名或密码错误" in a.text for a in first)
    over = sign_in(strict.url)
    assert over.status_code == 429 and int(over.headers["Retry-After"]) > 0
    assert f"本地址登录尝试过于频繁，请 {over.headers['Retry-After']} 秒后再试" in over.text
    assert outcomes(strict) == ["failure"] * 3, "a throttled attempt never reaches the password check"


def test_the_issue_13_guessing_run_with_the_default_settings_never_signs_in(server_db_url):
    assert (ServerSettings().signin_burst, ServerSettings().signin_per_minute) == (20, 10)
    server = start(server_db_url)
    try:
        began = time.monotonic()
        answers = [sign_in(server.url, (STAFF[0], f"guess-{n}")) for n in range(130)]
        refill = int((time.monotonic() - began) * 10 / 60) + 1      # a slow machine earns a few more tokens
        assert all("退出" not in a.text for a in answers)
        assert sum(a.status_code != 429 for a in answers) <= 20 + refill
        assert all(int(a.headers["Retry-After"]) > 0 for a in answers if a.status_code == 429)
        right = sign_in(server.url)
        assert right.status_code in (200, 429) and "退出" not in right.text
        assert outcomes(server)[:5] == ["failure"] * 4 + ["lockout"]
    finally:
        server.stop()


# -- no user enumeration ---------------------------------------------------------------------------

def test_an_unknown_user_costs_the_same_argon2_verification_as_a_known_one(live, monkeypatch):
    verified: list[str] = []
    real = PasswordHasher.verify

    def counting(self, hash, password):
        verified.append(hash)
        return real(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", counting)
    with live.db.session() as s:
        staff_hash = s.get(ServerAccount, STAFF[0]).password_hash
    with live.db.session("test", write=True) as s:
        s.get(ServerAccount, REVIEWER[0]).active = False
    known = sign_in(live.url, (STAFF[0], "wrong-pass-1"))
    unknown = sign_in(live.url, ("nobody", "wrong-pass-1"))
    disabled = sign_in(live.url, REVIEWER)
    assert verified == [staff_hash, _dummy_hash(), _dummy_hash()], "one Argon2 verification each, same cost"
    assert PasswordHasher().check_needs_rehash(_dummy_hash()) is False, "the dummy hash has the accounts' cost"
    message = "用户名或密码错误"
    assert all(message in page.text for page in (known, unknown, disabled))
    assert re.findall("<p class='err'>(.*?)</p>", known.text) == re.findall("<p class='err'>(.*?)</p>", unknown.text)


# -- sessions --------------------------------------------------------------------------------------

def test_logout_without_the_csrf_token_is_refused_and_keeps_the_session(live):
    web, csrf = signed_in(live.url)
    for data in ({}, {"csrf": "forged"}):
        refused = web.post(f"{live.url}/logout", data=data, timeout=30)
        assert refused.status_code == 403 and "未退出" in refused.text
        assert signed_in_page(web, live.url)
    assert web.post(f"{live.url}/logout", data={"csrf": csrf}, timeout=30).url.endswith("/login")
    assert not signed_in_page(web, live.url)


def test_the_session_id_changes_at_sign_in_and_the_one_before_no_longer_works(live):
    web = requests.Session()
    web.cookies.set(COOKIE, "planted-by-someone-else", domain="127.0.0.1")
    sign_in(live.url, web=web)
    first = web.cookies.get(COOKIE)
    assert first and first != "planted-by-someone-else" and signed_in_page(web, live.url)
    old_csrf = re.search(r"name='csrf' value='([^']+)'", web.get(f"{live.url}/township", timeout=30).text).group(1)
    sign_in(live.url, REVIEWER, web=web)
    second = web.cookies.get(COOKIE)
    assert second != first and signed_in_page(web, live.url)
    new_csrf = re.search(r"name='csrf' value='([^']+)'", web.get(f"{live.url}/township", timeout=30).text).group(1)
    assert new_csrf != old_csrf
    before = requests.Session()
    before.cookies.set(COOKIE, first, domain="127.0.0.1")
    assert not signed_in_page(before, live.url), "the id from before the sign-in is dead"


def test_a_session_ends_after_30_idle_minutes(live, clock):
    assert ServerSettings().session_idle_minutes == 30
    web, _ = signed_in(live.url)
    for _ in range(3):
        clock.advance(minutes=29)
        assert signed_in_page(web, live.url), "a request within 30 minutes keeps the session"
    clock.advance(minutes=30, seconds=1)
    assert not signed_in_page(web, live.url)
    assert web.get(f"{live.url}/township/dashboard", timeout=30, allow_redirects=False).status_code == 303


def test_a_session_ends_8_hours_after_sign_in_however_busy(live, clock):
    assert ServerSettings().session_hours == 8
    web = requests.Session()
    first = web.post(f"{live.url}/login", data={"username": STAFF[0], "password": STAFF[1]}, allow_redirects=False,
                     timeout=30)
    assert f"Max-Age={8 * 3600}" in first.headers["set-cookie"] and signed_in_page(web, live.url)
    for _ in range(8 * 3 - 1):
        clock.advance(minutes=20)
        assert signed_in_page(web, live.url)
    clock.advance(minutes=20)
    assert not signed_in_page(web, live.url)


def test_session_expiry_follows_the_server_settings(server_db_url, clock):
    server = start(server_db_url, ServerSettings(session_idle_minutes=5, session_hours=1), clock)
    try:
        web, _ = signed_in(server.url)
        clock.advance(minutes=5, seconds=1)
        assert not signed_in_page(web, server.url)
        web, _ = signed_in(server.url)
        for _ in range(14):
            clock.advance(minutes=4)
            assert signed_in_page(web, server.url)
        clock.advance(minutes=4)
        assert not signed_in_page(web, server.url)
    finally:
        server.stop()


# -- the sign-in log -------------------------------------------------------------------------------

def test_the_signin_log_page_lists_attempts_with_time_name_address_and_is_escaped(live, clock):
    hostile = "<script>alert(1)</script>"
    sign_in(live.url, (hostile, "x"))
    for n in range(5):
        sign_in(live.url, (REVIEWER[0], f"guess-{n}"))
    sign_in(live.url, REVIEWER)
    web, _ = signed_in(live.url)
    page = web.get(f"{live.url}/township/signins", timeout=30)
    assert page.status_code == 200 and "登录记录" in page.text
    assert hostile not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    rows = re.findall(r"<tr class='(\w+)'><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td></tr>",
                      page.text)
    assert [r[0] for r in rows] == ["success", "locked", "lockout"] + ["failure"] * 5
    assert all(r[1] == clock.now.strftime("%Y-%m-%d %H:%M:%S") and r[3] == "127.0.0.1" for r in rows)
    assert [r[2] for r in rows[:3]] == ["staff", "reviewer", "reviewer"]
    assert [r[4] for r in rows[:3]] == ["成功", "账户锁定中，被拒绝", "连续错误，账户被锁定"]
    only = web.get(f"{live.url}/township/signins", params={"user_name": "staff"}, timeout=30).text
    assert len(re.findall(r"<tr class='", only)) == 1


def test_only_township_staff_read_the_signin_log(live):
    anonymous = requests.get(f"{live.url}/township/signins", timeout=30, allow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    web, _ = signed_in(live.url, REVIEWER)
    assert web.get(f"{live.url}/township/signins", timeout=30).status_code == 403


# -- security headers ------------------------------------------------------------------------------

def test_security_headers_are_on_every_page_the_api_and_a_404(live):
    staff, _ = signed_in(live.url)
    reviewer, _ = signed_in(live.url, REVIEWER)
    answers = {"/login": requests.get(f"{live.url}/login", timeout=30),
               "/review": reviewer.get(f"{live.url}/review", timeout=30),
               "/township/dashboard": staff.get(f"{live.url}/township/dashboard", timeout=30),
               "/township/signins": staff.get(f"{live.url}/township/signins", timeout=30),
               "404": staff.get(f"{live.url}/no/such/page", timeout=30),
               "api": requests.get(f"{live.url}/api/v1/health", timeout=30)}
    assert answers["404"].status_code == 404 and answers["api"].status_code == 200
    for where, answer in answers.items():
        policy = answer.headers.get("Content-Security-Policy", "")
        for directive in ("script-src 'none'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"):
            assert directive in policy, (where, directive)
        assert "unsafe-inline" not in policy, where
        for name, value in HEADERS.items():
            assert answer.headers.get(name) == value, (where, name)
    for where in ("/login", "/review", "/township/dashboard", "/township/signins"):
        html = answers[where].text
        assert answers[where].status_code == 200, where
        assert "<script" not in html and "<style" not in html and " style=" not in html, \
            f"{where} has inline script or style, which the policy blocks"
    css = requests.get(f"{live.url}/static/pages.css", timeout=30)
    assert css.status_code == 200 and css.headers["X-Content-Type-Options"] == "nosniff"

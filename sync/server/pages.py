"""Two small server-rendered pages (plain HTML forms with POST, no JavaScript):
- /review for the 医保 reviewer: submitted filings to approve or reject with a reason, and the
  cross-clinic flags (over the cap, duplicate dispensing) to settle;
- /township for township staff: each clinic's last sync, its reported outbox, rejections and flags.
Sign-in is by server account (argon2 passwords, sync/server/auth.py); sessions live in memory, so a
restart signs everyone out. Every form carries the session's CSRF token.
"""

from __future__ import annotations

import secrets
import time
from html import escape
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from clinic.db.models import ClaimFlag, Institution, SyncDevice, SyncRecordHead, SyncRejection
from clinic.vocab import DISEASES, INSTITUTION_LEVELS, TIERS
from sync.server import auth, review

router = APIRouter()
COOKIE, SESSION_SECONDS = "lb_web", 8 * 3600
STYLE = ("body{font-family:sans-serif;margin:1.5em;max-width:80em}table{border-collapse:collapse;width:100%}"
         "td,th{border:1px solid #ccc;padding:.3em;text-align:left;vertical-align:top}.msg{background:#eef;"
         "padding:.5em}.err{background:#fee;padding:.5em}form.inline{display:inline}textarea{width:95%}")


def _page(title: str, body: str, user: dict | None = None, message: str = "", error: str = "") -> HTMLResponse:
    bar = ""
    if user:
        bar = (f"<p>{escape(user['name'])}（{escape(auth.ROLES[user['role']])}） · <a href='/review'>备案审核</a> · "
               f"<a href='/township'>各村卫生室</a> · <form class='inline' method='post' action='/logout'>"
               f"<input type='hidden' name='csrf' value='{user['csrf']}'><button>退出</button></form></p>")
    notes = (f"<p class='msg'>{escape(message)}</p>" if message else "") + (
        f"<p class='err'>{escape(error)}</p>" if error else "")
    return HTMLResponse(f"<!doctype html><html lang='zh'><head><meta charset='utf-8'><title>{escape(title)}</title>"
                        f"<style>{STYLE}</style></head><body><h1>{escape(title)}</h1>{bar}{notes}{body}</body></html>")


def _user(request: Request) -> dict | None:
    session = request.app.state.web_sessions.get(request.cookies.get(COOKIE, ""))
    if session is None or session["expires"] < time.monotonic():
        return None
    return session


def _back(path: str, message: str = "", error: str = "") -> RedirectResponse:
    query = f"?msg={quote(message)}" if message else (f"?err={quote(error)}" if error else "")
    return RedirectResponse(path + query, status_code=303)


async def _form(request: Request, user: dict) -> dict:
    form = dict(await request.form())
    if not secrets.compare_digest(str(form.get("csrf", "")), user["csrf"]):
        raise PermissionError
    return form


@router.get("/")
def home(request: Request):
    user = _user(request)
    if user is None:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse("/review" if user["role"] == "reviewer" else "/township", status_code=303)


@router.get("/login")
def login_form(err: str = "") -> HTMLResponse:
    return _page("登录 · 两病乡镇服务器", "<form method='post' action='/login'><p>用户名 <input name='username' "
                 "autofocus></p><p>密码 <input name='password' type='password'></p><button>登录</button></form>",
                 error=err)


@router.post("/login")
async def login(request: Request):
    request.app.state.limiter.check(f"login:{request.client.host if request.client else '?'}")
    form = dict(await request.form())

    def check():
        with request.app.state.db.session("login") as s:
            account = auth.authenticate(s, str(form.get("username", "")), str(form.get("password", "")))
            return {"user": account.username, "name": account.display_name, "role": account.role}

    try:
        found = await run_in_threadpool(check)
    except auth.AuthError as exc:
        return _back("/login", error=str(exc))
    token = secrets.token_urlsafe(24)
    request.app.state.web_sessions[token] = {**found, "csrf": secrets.token_urlsafe(16),
                                             "expires": time.monotonic() + SESSION_SECONDS}
    response = _back("/")
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", max_age=SESSION_SECONDS)
    return response


@router.post("/logout")
async def logout(request: Request):
    request.app.state.web_sessions.pop(request.cookies.get(COOKIE, ""), None)
    response = _back("/login")
    response.delete_cookie(COOKIE)
    return response


def _filing_row(item: review.QueuedFiling, csrf: str) -> str:
    f, p = item.filing, item.patient
    hidden = f"<input type='hidden' name='csrf' value='{csrf}'>"
    return (f"<tr><td>{escape(item.clinic_name)}</td><td>{escape(p.name)}<br>{escape(p.id_number[:6])}…"
            f"{escape(p.id_number[-4:])}</td><td>{DISEASES.get(f.disease, f.disease)} · {TIERS.get(f.tier, f.tier)}"
            f" · {'主要' if f.is_primary else '次要'}病种<br>{'认定' if f.kind == 'initial' else '变更'}备案 "
            f"{f.filed_on}</td><td>{escape(f.history_diagnosis)}</td><td>{escape(f.treatment_plan)}</td><td>"
            f"<form method='post' action='/review/filings/{f.id}'>{hidden}<input type='hidden' name='action' "
            f"value='approve'><input name='opinion' placeholder='审核意见（可不填）'><label><input type='checkbox' "
            f"name='make_primary' value='1'>设为主要病种</label><button>通过</button></form>"
            f"<form method='post' action='/review/filings/{f.id}'>{hidden}<input type='hidden' name='action' "
            f"value='reject'><input name='reason' placeholder='驳回原因（必填）'><button>驳回</button></form>"
            f"</td></tr>")


def _flag_row(flag, patient_name: str, csrf: str) -> str:
    amount = f"<br>超出 {flag.amount} 元" if flag.amount is not None else ""
    choices = "".join(f"<option value='{k}'>{v}</option>" for k, v in review.DECISIONS.items())
    return (f"<tr><td>{escape(flag.institution_code)}</td><td>{escape(patient_name)}</td>"
            f"<td>{'超年度限额' if flag.kind == 'over_cap' else '重复配药'}{amount}</td><td>{escape(flag.detail)}</td>"
            f"<td><form method='post' action='/review/flags/{flag.id}'><input type='hidden' name='csrf' "
            f"value='{csrf}'><select name='decision'>{choices}</select><input name='note' placeholder='说明'>"
            f"<button>处理</button></form></td></tr>")


@router.get("/review")
def review_page(request: Request, msg: str = "", err: str = ""):
    user = _user(request)
    if user is None or user["role"] != "reviewer":
        return _back("/login", error="请以医保经办审核账户登录")
    with request.app.state.db.session("review") as s:
        queue = review.filing_queue(s)
        flags = review.open_flags(s)
        rows = "".join(_filing_row(item, user["csrf"]) for item in queue)
        flag_rows = "".join(_flag_row(flag, name, user["csrf"]) for flag, name in flags)
    body = (f"<h2>待审核备案（{len(queue)}）</h2><table><tr><th>机构</th><th>患者</th><th>备案</th><th>病史及诊断</th>"
            f"<th>治疗方案</th><th>审核</th></tr>{rows}</table>"
            f"<h2>跨机构提示（{len(flags)}）</h2><table><tr><th>机构</th><th>患者</th><th>类型</th><th>说明</th>"
            f"<th>处理</th></tr>{flag_rows}</table>")
    return _page("备案审核 · 医保经办", body, user, msg, err)


@router.post("/review/filings/{filing_id}")
async def decide_filing(request: Request, filing_id: str):
    user = _user(request)
    if user is None or user["role"] != "reviewer":
        return _back("/login", error="请以医保经办审核账户登录")
    try:
        form = await _form(request, user)
    except PermissionError:
        return _back("/review", error="页面已过期，请刷新后重试")
    db = request.app.state.db
    try:
        if form.get("action") == "approve":
            await run_in_threadpool(review.approve_filing, db, filing_id, user["user"], str(form.get("opinion", "")),
                                    make_primary=form.get("make_primary") == "1")
            return _back("/review", "已通过，结果将在村卫生室下次同步时送达")
        await run_in_threadpool(review.reject_filing, db, filing_id, user["user"], str(form.get("reason", "")))
        return _back("/review", "已驳回，原因将在村卫生室下次同步时送达")
    except review.ReviewError as exc:
        return _back("/review", error=str(exc))


@router.post("/review/flags/{flag_id}")
async def decide_flag(request: Request, flag_id: str):
    user = _user(request)
    if user is None or user["role"] != "reviewer":
        return _back("/login", error="请以医保经办审核账户登录")
    try:
        form = await _form(request, user)
        await run_in_threadpool(review.resolve_flag, request.app.state.db, flag_id, user["user"],
                                str(form.get("decision", "")), str(form.get("note", "")))
    except PermissionError:
        return _back("/review", error="页面已过期，请刷新后重试")
    except review.ReviewError as exc:
        return _back("/review", error=str(exc))
    return _back("/review", "已处理")


def clinic_overview(s) -> list[dict]:
    devices = s.execute(select(SyncDevice.institution_code, func.max(SyncDevice.last_push_at),
                               func.max(SyncDevice.last_pull_at)).group_by(SyncDevice.institution_code)).all()
    last = {code: (push, pull) for code, push, pull in devices}
    pending = dict(s.execute(select(SyncDevice.institution_code, SyncDevice.reported_pending)
                             .where(SyncDevice.revoked_at.is_(None), SyncDevice.enrolled_at.is_not(None))
                             .order_by(SyncDevice.last_push_at)).all())
    rejected = dict(s.execute(select(SyncRejection.institution_code, func.count()).group_by(
        SyncRejection.institution_code)).all())
    flags = dict(s.execute(select(ClaimFlag.institution_code, func.count()).where(ClaimFlag.resolved_at.is_(None))
                           .group_by(ClaimFlag.institution_code)).all())
    records = dict(s.execute(select(SyncRecordHead.institution_code, func.count()).group_by(
        SyncRecordHead.institution_code)).all())
    return [{"code": inst.code, "name": inst.name, "level": inst.level, "township": inst.township_name,
             "last_push": last.get(inst.code, (None, None))[0], "last_pull": last.get(inst.code, (None, None))[1],
             "pending": pending.get(inst.code), "rejected": rejected.get(inst.code, 0),
             "flags": flags.get(inst.code, 0), "records": records.get(inst.code, 0)}
            for inst in s.scalars(select(Institution).order_by(Institution.code))]


@router.get("/township")
def township_page(request: Request, msg: str = "", err: str = ""):
    user = _user(request)
    if user is None:
        return _back("/login")
    with request.app.state.db.session("township") as s:
        clinics = clinic_overview(s)
    rows = "".join(
        f"<tr><td>{escape(c['code'])}</td><td>{escape(c['name'])}</td><td>{INSTITUTION_LEVELS.get(c['level'], '')}"
        f"</td><td>{c['last_push'] or '从未同步'}</td><td>{'' if c['pending'] is None else c['pending']}</td>"
        f"<td>{c['rejected']}</td><td>{c['flags']}</td><td>{c['records']}</td></tr>" for c in clinics)
    body = ("<p>时间为服务器时间（UTC）。待上传为村卫生室最近一次同步时报告的数量。</p><table><tr><th>编码</th>"
            "<th>机构</th><th>级别</th><th>最近同步</th><th>待上传</th><th>被拒收</th><th>待处理提示</th>"
            f"<th>已收记录</th></tr>{rows}</table>")
    return _page("各村卫生室同步情况", body, user, msg, err)

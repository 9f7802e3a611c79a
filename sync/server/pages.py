"""Two small server-rendered pages (plain HTML forms with POST, no JavaScript):
- /review for the 医保 reviewer: submitted filings to approve or reject with a reason, and the
  cross-clinic flags (over the cap, duplicate dispensing) to settle;
- /township for township staff: each clinic's last sync, its reported outbox, rejections and flags.
Sign-in is by server account (argon2 passwords, sync/server/auth.py); sessions live in memory, so a
restart signs everyone out. Pages are Jinja2 templates with autoescaping (sync/server/render.py); every
POST form is the templates' `form` macro, which carries the session's CSRF token.
"""

from __future__ import annotations

import secrets
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from clinic.db.models import ClaimFlag, Institution, SyncDevice, SyncRecordHead, SyncRejection
from clinic.resources import resources_dir
from clinic.vocab import DISEASES, INSTITUTION_LEVELS, TIERS
from sync.server import review, signin
from sync.server.render import STATIC, render

router = APIRouter()
COOKIE = signin.COOKIE          # township/access.py reads it from here


@router.get("/static/pages.css", include_in_schema=False)
def stylesheet() -> FileResponse:
    return FileResponse(STATIC / "pages.css", media_type="text/css", headers={"Cache-Control": "max-age=3600"})


@router.get("/static/cjk.ttf", include_in_schema=False)
def chinese_font() -> FileResponse:
    """The application's CJK font, for a browser on a PC without one (pages.css names it last)."""
    return FileResponse(resources_dir() / "fonts" / "DroidSansFallbackFull.ttf", media_type="font/ttf",
                        headers={"Cache-Control": "max-age=604800"})


def _user(request: Request) -> dict | None:
    return signin.current_user(request)     # None when signed out or expired (idle or absolute)


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
def login_form(request: Request, err: str = ""):
    return render(request, "login.html", error=err)


@router.post("/login")
async def login(request: Request):
    """Throttled per address, lockout per account, a new session id: sync/server/signin.py."""
    return await signin.sign_in(request)


@router.post("/logout")
async def logout(request: Request):
    return await signin.sign_out(request)       # only with the session's CSRF token


@router.get("/review")
def review_page(request: Request, msg: str = "", err: str = ""):
    user = _user(request)
    if user is None or user["role"] != "reviewer":
        return _back("/login", error="请以医保经办审核账户登录")
    with request.app.state.db.session("review") as s:
        queue = review.filing_queue(s)
        flags = review.open_flags(s)
        return render(request, "review.html", user=user, message=msg, error=err, queue=queue, flags=flags,
                      diseases=DISEASES, tiers=TIERS, decisions=review.DECISIONS)


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
    return render(request, "township.html", user=user, message=msg, error=err, clinics=clinics,
                  levels=INSTITUTION_LEVELS)

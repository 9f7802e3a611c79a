"""Staff accounts: 医生 / 药师 / 管理员, passwords or PINs hashed with Argon2id.

Lockout (issue 7): five wrong passwords in a row lock the account for `security.lockout_minutes`
minutes (a product default of 15 that an administrator can change: no policy document gives it); an
administrator can unlock or reset it at once. Attempts are counted per username in `login_guard`,
a local table, in their own transaction, so a failed login's rollback cannot undo the count.
Logins that fail, locks, unlocks and resets are audit events (the ORM hook skips password hashes).
The same rule (`check_secret`) guards the township server's web accounts (sync/server/auth.py).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from clinic.db.models import LoginGuard, Setting, User
from clinic.db.types import utcnow
from clinic.permissions import require
from clinic.vocab import ROLES, check

_hasher = PasswordHasher()
MIN_SECRET = 4          # a 4-digit PIN is the shortest secret a busy clinic will accept
MAX_FAILED_LOGINS = 5   # issue 7: "five wrong attempts lock the account for a while"
LOCKOUT_SETTING = "security.lockout_minutes"
DEFAULT_LOCKOUT_MINUTES = 15
MAX_LOCKOUT_MINUTES = 24 * 60
GUARD = LoginGuard.__table__


class UserError(ValueError):
    pass


class AccountLocked(UserError):
    def __init__(self, message: str, until: datetime):
        super().__init__(message)
        self.until = until                # UTC


def hash_secret(secret: str) -> str:
    if len(secret) < MIN_SECRET:
        raise UserError(f"密码或PIN至少{MIN_SECRET}位")
    return _hasher.hash(secret)


def create_user(session: Session, username: str, display_name: str, role: str, secret: str,
                insurance_doctor_code: str | None = None) -> User:
    check(ROLES, role, "角色")
    username = username.strip()
    if not username:
        raise UserError("用户名不能为空")
    if session.scalar(select(User).where(User.username == username)):
        raise UserError(f"用户名 {username} 已存在")
    user = User(username=username, display_name=display_name.strip() or username, role=role,
                password_hash=hash_secret(secret), insurance_doctor_code=insurance_doctor_code)
    session.add(user)
    return user


# -- lockout ---------------------------------------------------------------------------------------

def lockout_minutes(session: Session) -> int:
    value = session.scalar(select(Setting.value).where(Setting.key == LOCKOUT_SETTING))
    return int(value) if value else DEFAULT_LOCKOUT_MINUTES


def set_lockout_minutes(session: Session, actor_role: str, minutes: object) -> None:
    require(actor_role, "users.manage")
    try:
        value = int(str(minutes).strip())
    except ValueError:
        raise UserError(f"锁定时长应为分钟数，收到：{minutes!r}") from None
    if not 1 <= value <= MAX_LOCKOUT_MINUTES:
        raise UserError(f"锁定时长应在 1 到 {MAX_LOCKOUT_MINUTES} 分钟之间")
    row = session.get(Setting, LOCKOUT_SETTING)
    if row is None:
        session.add(Setting(key=LOCKOUT_SETTING, value=str(value)))
    else:
        row.value = str(value)


def _audit(session: Session, conn: Connection, user: str, username: str, action: str, detail: dict) -> None:
    from clinic.db.audit import append_events  # the tamper-evident chain (issue 13)

    append_events(conn, [dict(
        at=utcnow(), user_name=user[:40], institution_code=session.info.get("institution_code"),
        entity="user_account", entity_id=username[:40],
        action=action, changes=json.dumps(detail, ensure_ascii=False))])


def _local(moment: datetime) -> str:
    return moment.replace(tzinfo=UTC).astimezone().strftime("%H:%M")


ADMIN_UNLOCKS = "或请管理员解锁"


def _locked_message(username: str, until: datetime, remedy: str = ADMIN_UNLOCKS) -> str:
    return f"账号 {username} 因连续 {MAX_FAILED_LOGINS} 次密码错误已锁定，请在 {_local(until)} 后再试，{remedy}"


_DUMMY: list[str] = []


def _dummy_hash() -> str:
    if not _DUMMY:
        _DUMMY.append(_hasher.hash("no such user"))
    return _DUMMY[0]


def _record_failure(session: Session, username: str, now: datetime) -> tuple[int, datetime | None]:
    """Count a wrong attempt in a transaction of its own (the caller's is about to roll back)."""
    minutes = lockout_minutes(session)
    with session.get_bind().begin() as conn:
        row = conn.execute(select(GUARD.c.failed_count).where(GUARD.c.username == username)).first()
        count = (row.failed_count if row else 0) + 1
        until = now + timedelta(minutes=minutes) if count >= MAX_FAILED_LOGINS else None
        values = {"failed_count": 0 if until else count, "locked_until": until, "last_failed_at": now}
        if row is None:
            conn.execute(insert(GUARD).values(username=username, **values))
        else:
            conn.execute(update(GUARD).where(GUARD.c.username == username).values(**values))
        _audit(session, conn, username, username, "login_fail", {"attempt": [None, count]})
        if until:
            _audit(session, conn, username, username, "locked", {"locked_until": [None, until.isoformat()],
                                                        "minutes": [None, minutes]})
    return count, until


def check_secret(session: Session, username: str, secret: str, password_hash: str | None, *,
                 now: datetime | None = None, remedy: str = ADMIN_UNLOCKS) -> None:
    """The lockout rule around one Argon2 check, for any kind of account: the clinic's users (below)
    and the township server's web accounts (sync/server/auth.py). `password_hash` is None when no such
    account can sign in: the same verification then runs against a dummy hash, so response times do not
    reveal which names exist, and the wrong attempt is counted like any other. Raises AccountLocked
    (even for the right secret while locked) or UserError (the same message for an unknown name and a
    wrong secret); on success the caller clears the count with `clear_failures`."""
    now = now or utcnow()
    locked_until = session.scalar(select(GUARD.c.locked_until).where(GUARD.c.username == username))
    if locked_until is not None and locked_until > now:
        raise AccountLocked(_locked_message(username, locked_until, remedy), locked_until)
    try:
        _hasher.verify(password_hash if password_hash is not None else _dummy_hash(), secret)
        if password_hash is None:
            raise VerificationError
    except (VerificationError, InvalidHashError):
        count, until = _record_failure(session, username, now)
        if until is not None:
            raise AccountLocked(_locked_message(username, until, remedy), until) from None
        left = MAX_FAILED_LOGINS - count
        warning = f"（再错 {left} 次账号将被锁定）" if left <= 2 else ""
        raise UserError(f"用户名或密码错误{warning}") from None


def clear_failures(session: Session, username: str) -> None:
    session.execute(delete(GUARD).where(GUARD.c.username == username))


def authenticate(session: Session, username: str, secret: str, *, now: datetime | None = None) -> User:
    """The user, or UserError (wrong name or password) / AccountLocked (check_secret)."""
    username = username.strip()[:40]
    user = session.scalar(select(User).where(User.username == username, User.active, User.deleted_at.is_(None)))
    check_secret(session, username, secret, user.password_hash if user is not None else None, now=now)
    clear_failures(session, username)
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(secret)
    return user


def login_state(session: Session, username: str, now: datetime | None = None) -> tuple[int, datetime | None]:
    """(wrong attempts since the last success, locked until (UTC) or None) — for the users page."""
    row = session.execute(select(GUARD.c.failed_count, GUARD.c.locked_until)
                          .where(GUARD.c.username == username)).first()
    if row is None:
        return 0, None
    locked = row.locked_until if row.locked_until and row.locked_until > (now or utcnow()) else None
    return row.failed_count, locked


# -- what an administrator does --------------------------------------------------------------------

def _account(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username.strip(), User.deleted_at.is_(None)))
    if user is None:
        raise UserError(f"找不到用户 {username}")
    return user


def unlock(session: Session, actor: User, username: str) -> None:
    require(actor.role, "users.manage")
    user = _account(session, username)
    session.execute(delete(GUARD).where(GUARD.c.username == user.username))
    _audit(session, session.connection(), actor.username, user.username, "unlock", {})


def reset_password(session: Session, actor: User, username: str, new_secret: str) -> None:
    """An administrator sets a new password or PIN for someone who forgot theirs; also unlocks."""
    require(actor.role, "users.manage")
    user = _account(session, username)
    user.password_hash = hash_secret(new_secret)
    session.execute(delete(GUARD).where(GUARD.c.username == user.username))
    _audit(session, session.connection(), actor.username, user.username, "pw_reset", {})


def change_password(session: Session, username: str, old_secret: str, new_secret: str) -> None:
    user = authenticate(session, username, old_secret)
    user.password_hash = hash_secret(new_secret)
    _audit(session, session.connection(), user.username, user.username, "pw_change", {})


def set_role(session: Session, actor: User, username: str, role: str) -> None:
    require(actor.role, "users.manage")
    check(ROLES, role, "角色")
    user = _account(session, username)
    if user.role == "admin" and role != "admin" and _active_admins(session) <= 1:
        raise UserError("至少保留一名管理员")
    user.role = role


def set_active(session: Session, actor: User, username: str, active: bool) -> None:
    require(actor.role, "users.manage")
    user = _account(session, username)
    if not active and user.role == "admin" and user.active and _active_admins(session) <= 1:
        raise UserError("至少保留一名管理员")
    if not active and user.username == actor.username:
        raise UserError("不能停用当前登录的账号")
    user.active = active


def _active_admins(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User).where(
        User.role == "admin", User.active, User.deleted_at.is_(None))) or 0

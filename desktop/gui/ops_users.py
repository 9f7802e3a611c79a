"""What the 用户 section of 设置 runs in the worker (administrators only): list accounts with their
lockout state, add one, reset a password, unlock, change role, enable or disable, and the lockout
period. The rules (last administrator kept, lockout) live in clinic/users.py. No Qt here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC

from sqlalchemy import select

from clinic.db.engine import Database
from clinic.db.models import User
from clinic.permissions import PermissionDenied, require
from clinic.users import (
    MAX_FAILED_LOGINS,
    create_user,
    lockout_minutes,
    login_state,
    reset_password,
    set_active,
    set_lockout_minutes,
    set_role,
    unlock,
)
from clinic.vocab import ROLES
from desktop.gui.context import UserInfo


@dataclass(frozen=True)
class UserRow:
    username: str
    display_name: str
    role: str                  # code
    doctor_code: str
    active: bool
    failed: int
    locked_until: str          # local time, "" when not locked

    @property
    def state(self) -> str:
        if not self.active:
            return "已停用"
        if self.locked_until:
            return f"已锁定至 {self.locked_until}"
        if self.failed:
            return f"启用（连续输错 {self.failed}/{MAX_FAILED_LOGINS} 次）"
        return "启用"


def _actor(session, user: UserInfo) -> User:
    require(user.role, "users.manage")
    actor = session.scalar(select(User).where(User.username == user.username, User.active,
                                              User.deleted_at.is_(None)))
    if actor is None or actor.role != "admin":
        raise PermissionDenied("当前账号无权管理用户，请用管理员账号登录")
    return actor


def list_users(db: Database, user: UserInfo) -> tuple[list[UserRow], int]:
    """Every account, and the lockout period in minutes."""
    require(user.role, "users.manage")
    with db.session(user.username) as s:
        rows = []
        for account in s.scalars(select(User).where(User.deleted_at.is_(None)).order_by(User.username)):
            failed, until = login_state(s, account.username)
            shown = until.replace(tzinfo=UTC).astimezone().strftime("%H:%M") if until else ""
            rows.append(UserRow(account.username, account.display_name, account.role,
                                account.insurance_doctor_code or "", account.active, failed, shown))
        return rows, lockout_minutes(s)


def add_user(db: Database, user: UserInfo, *, username: str, display_name: str, role: str, secret: str,
             doctor_code: str = "") -> None:
    with db.session(user.username) as s:
        _actor(s, user)
        create_user(s, username, display_name, role, secret, doctor_code.strip() or None)


def reset(db: Database, user: UserInfo, username: str, secret: str) -> None:
    with db.session(user.username) as s:
        reset_password(s, _actor(s, user), username, secret)


def unlock_account(db: Database, user: UserInfo, username: str) -> None:
    with db.session(user.username) as s:
        unlock(s, _actor(s, user), username)


def change_role(db: Database, user: UserInfo, username: str, role: str) -> None:
    with db.session(user.username) as s:
        set_role(s, _actor(s, user), username, role)


def enable(db: Database, user: UserInfo, username: str, active: bool) -> None:
    with db.session(user.username) as s:
        set_active(s, _actor(s, user), username, active)


def save_lockout(db: Database, user: UserInfo, minutes: str) -> None:
    with db.session(user.username) as s:
        set_lockout_minutes(s, _actor(s, user).role, minutes)


ROLE_NAMES = ROLES

"""Staff accounts: 医生 / 药师 / 管理员, passwords or PINs hashed with Argon2id."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from clinic.db.models import User
from clinic.vocab import ROLES, check

_hasher = PasswordHasher()
MIN_SECRET = 4          # a 4-digit PIN is the shortest secret a busy clinic will accept


class UserError(ValueError):
    pass


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


def authenticate(session: Session, username: str, secret: str) -> User:
    user = session.scalar(select(User).where(User.username == username.strip(), User.active,
                                             User.deleted_at.is_(None)))
    if user is None:
        raise UserError("用户名或密码错误")
    try:
        _hasher.verify(user.password_hash, secret)
    except (VerificationError, InvalidHashError):
        raise UserError("用户名或密码错误") from None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(secret)
    return user

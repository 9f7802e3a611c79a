"""Who may talk to the server: clinic devices by token, people on the web pages by password.

An enrolment code is printed once by `liangbing-server add-clinic` and is good for one enrolment
within a week; the device token it is exchanged for is random, stored only as its SHA-256 (a long
random secret needs no slow hash), and revocable. Passwords of reviewers and township staff are
hashed with Argon2id like the clinic's own accounts (clinic/users.py), and signing in to the web pages
follows the clinic's lockout rule (`clinic.users.check_secret`): five wrong passwords in a row lock the
account for `security.lockout_minutes` (default 15; the same setting, here in the server database), an
unknown name costs the same Argon2 verification as a known one, and both get the same message.
`add-user` with a new password also unlocks the account.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from clinic.db.models import Institution, ServerAccount, SyncDevice
from clinic.db.types import utcnow
from clinic.users import AccountLocked, UserError, check_secret, clear_failures, hash_secret, login_state
from clinic.vocab import INSTITUTION_LEVELS, check

ROLES = {"reviewer": "医保经办审核", "township": "乡镇卫生院"}
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"     # no 0/O or 1/I: read aloud over the phone
CODE_VALID = timedelta(days=7)
UNLOCK_REMEDY = "或请管理员用 liangbing-server add-user 重设密码（同时解锁）"


class AuthError(ValueError):
    pass


class SignInRefused(AuthError):
    """A refused sign-in and what the sign-in log calls it: failure | lockout (this attempt locked the
    account) | locked (tried while locked, password not even checked)."""

    def __init__(self, message: str, outcome: str):
        super().__init__(message)
        self.outcome = outcome


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _normalise_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def add_clinic(session: Session, code: str, name: str, level: str, township: str,
               region: str = "ezhou") -> str:
    """Register a clinic (or refresh its details) and return a new one-time enrolment code."""
    check(INSTITUTION_LEVELS, level, "机构级别")
    code, name = code.strip(), name.strip()
    if not code or not name:
        raise AuthError("机构编码和名称不能为空")
    inst = session.get(Institution, code)
    if inst is None:
        inst = Institution(code=code, name=name, level=level, region=region, township_name=township,
                           is_local=False)
        session.add(inst)
    else:
        inst.name, inst.level, inst.region, inst.township_name = name, level, region, township
    plain = "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))
    session.add(SyncDevice(institution_code=code, enrol_code_hash=digest(plain),
                           enrol_expires_at=utcnow() + CODE_VALID))
    session.flush()
    return "-".join(plain[i:i + 4] for i in range(0, 12, 4))


def enrol(session: Session, code: str, institution_code: str, device_name: str | None) -> tuple[str, SyncDevice]:
    device = session.scalar(select(SyncDevice).where(SyncDevice.enrol_code_hash == digest(_normalise_code(code))))
    if device is None or device.revoked_at is not None:
        raise AuthError("接入码无效或已使用，请向乡镇卫生院索取新的接入码")
    if device.institution_code != institution_code:
        raise AuthError(f"该接入码是为机构 {device.institution_code} 签发的，本机构编码为 {institution_code}；"
                        f"请核对本机构编码，或向乡镇卫生院索取本机构的接入码")
    if device.enrol_expires_at is not None and device.enrol_expires_at < utcnow():
        raise AuthError("接入码已过期（有效期 7 天），请向乡镇卫生院索取新的接入码")
    token = secrets.token_urlsafe(32)
    device.token_hash, device.enrol_code_hash = digest(token), None
    device.enrolled_at, device.name = utcnow(), (device_name or "").strip() or None
    return token, device


def device_for_token(session: Session, token: str | None) -> SyncDevice | None:
    if not token:
        return None
    device = session.scalar(select(SyncDevice).where(SyncDevice.token_hash == digest(token)))
    return device if device is not None and device.revoked_at is None else None


def revoke_clinic(session: Session, code: str) -> int:
    """Revoke every device of a clinic (a stolen PC, a clinic closed); it must enrol again."""
    result = session.execute(update(SyncDevice).where(SyncDevice.institution_code == code,
                                                      SyncDevice.revoked_at.is_(None)).values(revoked_at=utcnow()))
    return result.rowcount


def add_account(session: Session, username: str, display_name: str, role: str, password: str) -> ServerAccount:
    check(ROLES, role, "角色")
    username = username.strip()
    if not username:
        raise AuthError("用户名不能为空")
    if len(password) < 8:
        raise AuthError("服务器账户的密码至少 8 位")
    account = session.get(ServerAccount, username)
    if account is None:
        account = ServerAccount(username=username, display_name=display_name.strip() or username, role=role,
                                password_hash=hash_secret(password))
        session.add(account)
    else:
        account.display_name, account.role = display_name.strip() or username, role
        account.password_hash, account.active = hash_secret(password), True
    clear_failures(session, username)           # a new password from the administrator unlocks
    return account


def authenticate(session: Session, username: str, password: str, *, now: datetime | None = None) -> ServerAccount:
    """The account, or SignInRefused. A disabled account is treated as unknown (dummy hash, same message)."""
    username, now = username.strip()[:40], now or utcnow()
    account = session.get(ServerAccount, username) if username else None
    usable = account if account is not None and account.active else None
    was_locked = login_state(session, username, now)[1] is not None
    try:
        check_secret(session, username, password, usable.password_hash if usable else None, now=now,
                     remedy=UNLOCK_REMEDY)
    except AccountLocked as exc:
        raise SignInRefused(str(exc), "locked" if was_locked else "lockout") from None
    except UserError as exc:
        raise SignInRefused(str(exc), "failure") from None
    clear_failures(session, username)
    return usable

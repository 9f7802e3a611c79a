"""Operations for start-up and login (run in the task runner, never on the GUI thread)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from clinic.catalogue import load_starter_catalogue
from clinic.db.engine import Database, open_database
from clinic.db.models import Setting, User
from clinic.profile import create_local_institution, local_institution
from clinic.users import authenticate, create_user
from desktop.gui.context import UserInfo


def clinic_state(db: Database) -> dict:
    """Whether the database has a clinic profile and users yet, its name, and whether it is a demo."""
    with db.session() as s:
        inst = s.scalar(select(Setting).where(Setting.key == "demo"))
        has_users = s.scalar(select(User.id).limit(1)) is not None
        try:
            name = local_institution(s).name
        except ValueError:
            name = ""
    return {"configured": bool(name) and has_users, "clinic_name": name, "is_demo": inst is not None}


def open_clinic(path: Path) -> tuple[Database, dict]:
    """Open (creating and migrating when needed) the clinic file, and say what state it is in."""
    db = open_database(path)
    try:
        return db, clinic_state(db)
    except Exception:
        db.close()
        raise


DEMO_DOCTOR, DEMO_ADMIN = "doctor", "admin"


def demo_login(db: Database, username: str = DEMO_DOCTOR) -> UserInfo:
    """A demo account (the doctor; the administrator for the settings), without a password: only on a
    database `liangbing demo` built."""
    with db.session(username) as s:
        marker = s.get(Setting, "demo")
        if marker is None or marker.value != "1":
            raise PermissionError("--demo-login 只能用于 liangbing demo 生成的演示数据库")
        user = s.scalar(select(User).where(User.username == username, User.active, User.deleted_at.is_(None)))
        if user is None:
            raise LookupError(f"演示数据库中没有演示账号 {username}")
        return UserInfo(user.username, user.display_name, user.role)


def login(db: Database, username: str, secret: str) -> UserInfo:
    with db.session(username) as s:
        user = authenticate(s, username, secret)
        return UserInfo(user.username, user.display_name, user.role)


def first_run(db: Database, *, code: str, name: str, level: str, region: str, township: str,
              admin_username: str, admin_name: str, admin_secret: str) -> None:
    """Create the clinic profile and its first administrator in one transaction, with the bundled
    starter drug catalogue so the clinic can prescribe on day one (the provincial list replaces it)."""
    with db.session(admin_username) as s:
        create_local_institution(s, code, name, level, region, None, township or None)
        create_user(s, admin_username, admin_name, "admin", admin_secret)
        load_starter_catalogue(s)
    db.load_local_institution()

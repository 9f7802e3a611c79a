"""Operations for start-up and login (run in the task runner, never on the GUI thread)."""

from __future__ import annotations

from sqlalchemy import select

from clinic.db.engine import Database
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


def login(db: Database, username: str, secret: str) -> UserInfo:
    with db.session(username) as s:
        user = authenticate(s, username, secret)
        return UserInfo(user.username, user.display_name, user.role)


def first_run(db: Database, *, code: str, name: str, level: str, region: str, township: str,
              admin_username: str, admin_name: str, admin_secret: str) -> None:
    """Create the clinic profile and its first administrator in one transaction."""
    with db.session(admin_username) as s:
        create_local_institution(s, code, name, level, region, None, township or None)
        create_user(s, admin_username, admin_name, "admin", admin_secret)
    db.load_local_institution()

"""Accounts (issue 7 "Accounts and audit"): argon2 hashes, five wrong attempts lock the account for the
administrator's `security.lockout_minutes` (product default 15), an administrator unlocks or resets,
roles limit who may."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta

import pytest
from sqlalchemy import select

from clinic.db.models import AuditEvent, User
from clinic.db.types import utcnow
from clinic.permissions import PermissionDenied, allowed
from clinic.users import (
    DEFAULT_LOCKOUT_MINUTES,
    MAX_FAILED_LOGINS,
    AccountLocked,
    UserError,
    authenticate,
    create_user,
    login_state,
    reset_password,
    set_active,
    set_lockout_minutes,
    set_role,
    unlock,
)


@pytest.fixture(scope="module")
def staffed_file(tmp_path_factory):
    """A clinic with its three staff, made once (argon2 hashing is slow on purpose) and copied per test."""
    from clinic.db.engine import open_database
    from clinic.profile import create_local_institution

    path = tmp_path_factory.mktemp("staff") / "clinic.db"
    db = open_database(path)
    with db.session("setup") as s:
        create_local_institution(s, "H42070400101", "临江乡卫生室", "1", "ezhou")
        create_user(s, "admin", "管理员", "admin", "admin1234")
        create_user(s, "doctor", "王医生", "doctor", "doctor123")
        create_user(s, "pharm", "李药师", "pharmacist", "pharm1234")
    db.close()
    return path


@pytest.fixture
def staff(staffed_file, tmp_path):
    from clinic.db.engine import open_database

    path = tmp_path / "clinic.db"
    shutil.copyfile(staffed_file, path)
    db = open_database(path)
    yield db
    db.close()


def login(db, username, secret, now=None):
    """As the GUI does it: one unit of work that rolls back when the login fails."""
    with db.session(username) as s:
        return authenticate(s, username, secret, now=now).username


def wrong(db, username, times, now=None):
    for _ in range(times):
        with pytest.raises(UserError):
            login(db, username, "wrong-pass", now)


def test_passwords_are_stored_as_argon2id_hashes(staff):
    with staff.session() as s:
        stored = s.scalar(select(User.password_hash).where(User.username == "doctor"))
    assert stored.startswith("$argon2id$") and "doctor123" not in stored


def test_five_wrong_passwords_lock_the_account_even_for_the_right_password(staff):
    wrong(staff, "doctor", MAX_FAILED_LOGINS - 1)
    assert login(staff, "doctor", "doctor123") == "doctor"         # four, then right: the count starts over
    wrong(staff, "doctor", MAX_FAILED_LOGINS - 1)
    with pytest.raises(AccountLocked, match="已锁定") as caught:
        login(staff, "doctor", "wrong-pass")
    assert caught.value.until > utcnow() + timedelta(minutes=DEFAULT_LOCKOUT_MINUTES - 1)
    with pytest.raises(AccountLocked):
        login(staff, "doctor", "doctor123")
    assert login(staff, "admin", "admin1234") == "admin", "other accounts are not locked"


def test_the_warning_counts_down_before_the_lock(staff):
    wrong(staff, "doctor", 2)
    with pytest.raises(UserError, match="再错 2 次"):
        login(staff, "doctor", "nope1234")


def test_the_lock_lasts_the_minutes_an_administrator_set(staff):
    with staff.session("admin") as s:
        set_lockout_minutes(s, "admin", "30")
    start = utcnow()
    wrong(staff, "doctor", MAX_FAILED_LOGINS, start)
    with pytest.raises(AccountLocked):
        login(staff, "doctor", "doctor123", start + timedelta(minutes=29))
    assert login(staff, "doctor", "doctor123", start + timedelta(minutes=31)) == "doctor"
    with staff.session() as s:
        assert login_state(s, "doctor") == (0, None)


def test_only_an_administrator_changes_the_lock_time_and_within_bounds(staff):
    with pytest.raises(PermissionDenied), staff.session("doctor") as s:
        set_lockout_minutes(s, "doctor", 1)
    for bad in ("0", "abc", str(24 * 60 + 1)):
        with pytest.raises(UserError), staff.session("admin") as s:
            set_lockout_minutes(s, "admin", bad)


def test_an_administrator_unlocks_at_once_and_the_unlock_is_audited(staff):
    wrong(staff, "doctor", MAX_FAILED_LOGINS)
    with staff.session("admin") as s:
        admin = s.scalar(select(User).where(User.username == "admin"))
        unlock(s, admin, "doctor")
    assert login(staff, "doctor", "doctor123") == "doctor"
    with staff.session() as s:
        actions = s.scalars(select(AuditEvent.action).where(AuditEvent.entity_id == "doctor")
                            .order_by(AuditEvent.id)).all()
    assert actions.count("login_fail") == MAX_FAILED_LOGINS and "locked" in actions and "unlock" in actions


def test_an_administrator_resets_a_forgotten_password_which_also_unlocks(staff):
    wrong(staff, "doctor", MAX_FAILED_LOGINS)
    with staff.session("admin") as s:
        admin = s.scalar(select(User).where(User.username == "admin"))
        reset_password(s, admin, "doctor", "new-pin-2468")
    with pytest.raises(UserError):
        login(staff, "doctor", "doctor123")
    assert login(staff, "doctor", "new-pin-2468") == "doctor"
    with staff.session() as s:
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "pw_reset"))
    assert event.user_name == "admin" and event.entity_id == "doctor" and "new-pin" not in event.changes


@pytest.mark.parametrize("role", ["doctor", "pharmacist"])
def test_only_administrators_reset_unlock_or_change_roles(staff, role):
    username = {"doctor": "doctor", "pharmacist": "pharm"}[role]
    with staff.session(username) as s:
        actor = s.scalar(select(User).where(User.username == username))
        for action in (lambda: reset_password(s, actor, "admin", "taken-over1"), lambda: unlock(s, actor, "admin"),
                       lambda: set_role(s, actor, username, "admin")):
            with pytest.raises(PermissionDenied, match="无权"):
                action()
    assert login(staff, "admin", "admin1234") == "admin"


def test_roles_limit_what_each_may_do():
    """permissions.py is the one table; the rules the clinic relies on:"""
    assert allowed("doctor", "prescription.edit") and not allowed("pharmacist", "prescription.edit")
    assert allowed("pharmacist", "stock.edit") and not allowed("doctor", "stock.edit")
    assert allowed("doctor", "dispense") and allowed("pharmacist", "dispense")
    for action in ("users.manage", "audit.view", "settings.edit"):
        assert allowed("admin", action) and not allowed("doctor", action) and not allowed("pharmacist", action)


def test_the_last_administrator_cannot_be_demoted_or_disabled(staff):
    with staff.session("admin") as s:
        admin = s.scalar(select(User).where(User.username == "admin"))
        with pytest.raises(UserError, match="至少保留一名管理员"):
            set_role(s, admin, "admin", "doctor")
        with pytest.raises(UserError):
            set_active(s, admin, "admin", False)
        set_active(s, admin, "doctor", False)
    with pytest.raises(UserError):
        login(staff, "doctor", "doctor123")


def test_unknown_usernames_get_the_same_answer_and_are_counted_too(staff):
    with pytest.raises(UserError, match="用户名或密码错误") as unknown:
        login(staff, "nobody", "whatever1")
    with pytest.raises(UserError, match="用户名或密码错误") as bad:
        login(staff, "doctor", "whatever1")
    assert str(unknown.value) == str(bad.value)
    wrong(staff, "nobody", MAX_FAILED_LOGINS - 1)
    with pytest.raises(AccountLocked):
        login(staff, "nobody", "whatever1")


def test_failed_logins_are_audit_events_without_the_tried_password(staff):
    wrong(staff, "pharm", 1)
    with staff.session() as s:
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "login_fail"))
    assert event.entity_id == "pharm" and json.loads(event.changes) == {"attempt": [None, 1]}
    assert "wrong-pass" not in event.changes

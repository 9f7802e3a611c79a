"""Shared fixtures: every test gets its own fresh SQLite file under tmp_path."""

from __future__ import annotations

import os
import tempfile

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Sync tokens go to a throw-away folder, never to the tester's own OS keyring (sync/token_store.py).
os.environ.setdefault("LIANGBING_SECRETS_DIR", tempfile.mkdtemp(prefix="liangbing-secrets-"))


@pytest.fixture
def db(tmp_path):
    """A fresh, migrated clinic database with a village clinic (一级, Ezhou policy) as its institution."""
    from clinic.db.engine import open_database
    from clinic.profile import create_local_institution, set_policy_setting

    database = open_database(tmp_path / "clinic.db")
    with database.session("test-admin") as s:
        create_local_institution(s, "H42070400101", "鄂州市华容区临江乡卫生室", "1", "ezhou",
                                 "H420704001", "华容区临江乡卫生院")
        set_policy_setting(s, "ezhou", "payment_standard", "vbp_price")   # the document names no 支付标准
    database.load_local_institution()
    yield database
    database.close()

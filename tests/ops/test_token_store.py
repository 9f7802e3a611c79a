"""The sync device token lives outside the database (issue 7 "Protecting data at rest"): in the OS
keyring when there is one, else an owner-only file; an older release's plain copy is moved out."""

from __future__ import annotations

import shutil
import stat
import sys

import keyring
import pytest
from keyrings.alt.file import PlaintextKeyring

from clinic.db.engine import open_database
from sync import token_store
from sync.token_store import ENV_DIR, FileStore, KeyringStore, default_store, load_token, save_token
from tests.ops.helpers import ROOT

TOKEN = "device-token-7f3a9c1e5b"


def file_contains(path, text: str) -> bool:
    """Whether the text is anywhere in the database file or its WAL (pages, free space, anything)."""
    files = [path, path.with_name(path.name + "-wal")]
    return any(p.exists() and text.encode() in p.read_bytes() for p in files)


def test_a_saved_token_is_found_again_but_is_nowhere_in_the_database_file(db, tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_DIR, str(tmp_path / "secrets"))
    save_token(db, TOKEN)
    assert load_token(db) == TOKEN
    db.close()
    assert not file_contains(db.path, TOKEN)
    reopened = open_database(db.path)
    assert load_token(reopened) == TOKEN                   # the same database on the same PC
    reopened.close()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
def test_the_fallback_file_is_readable_by_its_owner_only(db, tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_DIR, str(tmp_path / "secrets"))
    save_token(db, TOKEN)
    (token_file,) = (tmp_path / "secrets").iterdir()
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600 and token_file.read_text() == TOKEN


def test_a_copy_of_the_database_on_another_pc_has_no_token(db, tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_DIR, str(tmp_path / "secrets-here"))
    save_token(db, TOKEN)
    db.close()
    copy = tmp_path / "copy.db"
    shutil.copyfile(db.path, copy)
    monkeypatch.setenv(ENV_DIR, str(tmp_path / "secrets-elsewhere"))
    other = open_database(copy)
    assert load_token(other) is None                       # it must enrol before it can push
    other.close()


def test_a_plain_token_from_release_0_1_is_moved_out_on_first_use(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_DIR, str(tmp_path / "secrets"))
    from tests.upgrade.make_samples import SYNC_TOKEN

    path = tmp_path / "clinic.db"
    shutil.copyfile(ROOT / "tests" / "upgrade" / "samples" / "schema-0003.db", path)
    db = open_database(path)
    assert load_token(db) == SYNC_TOKEN
    with db.session() as s:
        from clinic.db.models import Setting

        assert s.get(Setting, "sync.token") is None and s.get(Setting, "sync.token_ref") is not None
    assert load_token(db) == SYNC_TOKEN
    db.close()


def test_the_os_keyring_is_used_when_one_is_available(db, tmp_path, monkeypatch):
    """keyrings.alt's file keyring stands in for Windows Credential Manager: a real keyring backend."""
    monkeypatch.delenv(ENV_DIR, raising=False)
    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "keyring.cfg")
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    try:
        store = default_store()
        assert isinstance(store, KeyringStore)
        save_token(db, TOKEN)
        assert load_token(db) == TOKEN
        with db.session() as s:
            from clinic.db.models import Setting

            ref_value = s.get(Setting, "sync.token_ref").value
        assert backend.get_password(token_store.SERVICE, ref_value) == TOKEN
        token_store.forget_token(db)
        assert backend.get_password(token_store.SERVICE, ref_value) is None and load_token(db) is None
    finally:
        keyring.set_keyring(previous)


def test_without_a_keyring_backend_the_file_store_is_used(monkeypatch, tmp_path):
    from keyring.backends import fail

    monkeypatch.delenv(ENV_DIR, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        store = default_store()
    finally:
        keyring.set_keyring(previous)
    assert isinstance(store, FileStore)

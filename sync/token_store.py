"""Where a clinic keeps its sync device token (issue 7 "Protecting data at rest"): not in the database.

The database is copied to USB sticks, backed up, mailed to support; a token inside it would let any
copy push records as this clinic. The token goes to the OS keyring (Windows Credential Manager,
macOS Keychain, Secret Service) under a random reference that the database does hold
(`sync.token_ref`), so a restored backup on the same PC still finds it and a copy elsewhere must enrol.

Without a usable keyring (a headless Linux box) the token is a file readable only by this OS user in
the per-user config folder; `LIANGBING_SECRETS_DIR` chooses that folder and skips the keyring (tests).
Release 0.1 kept the token in the `setting` table as `sync.token`: it is moved out on first use.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from sqlalchemy import delete, select

from clinic.db.engine import Database
from clinic.db.models import Setting
from clinic.owner_only import create_private_file, restrict

SERVICE = "liangbing-sync"
REF_KEY = "sync.token_ref"
PLAIN_KEY = "sync.token"
ENV_DIR = "LIANGBING_SECRETS_DIR"


class FileStore:
    """One file per reference, created with owner-only permissions (0600 in a 0700 folder, or a
    restricted ACL on Windows) and replaced atomically."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def _path(self, ref: str) -> Path:
        return self.folder / f"{SERVICE}-{ref}.token"

    def get(self, ref: str) -> str | None:
        try:
            return self._path(ref).read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None

    def set(self, ref: str, token: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        restrict(self.folder)               # the folder is this store's own, even if it was made before
        partial = self._path(ref).with_suffix(".partial")
        create_private_file(partial)        # a leftover partial would keep its own, wider mode
        with open(partial, "w", encoding="utf-8") as handle:
            handle.write(token)
        os.replace(partial, self._path(ref))

    def delete(self, ref: str) -> None:
        self._path(ref).unlink(missing_ok=True)


class KeyringStore:
    def __init__(self, backend):
        self.backend = backend

    def get(self, ref: str) -> str | None:
        return self.backend.get_password(SERVICE, ref)

    def set(self, ref: str, token: str) -> None:
        self.backend.set_password(SERVICE, ref, token)

    def delete(self, ref: str) -> None:
        import keyring.errors

        try:
            self.backend.delete_password(SERVICE, ref)
        except keyring.errors.PasswordDeleteError:
            pass


def default_store() -> FileStore | KeyringStore:
    folder = os.environ.get(ENV_DIR)
    if folder:
        return FileStore(Path(folder))
    try:
        import keyring
        from keyring.backends import fail

        backend = keyring.get_keyring()
        if not isinstance(backend, fail.Keyring) and backend.priority > 0:
            return KeyringStore(backend)
    except Exception:       # a broken keyring install must not stop sync: fall back to the file
        pass
    from platformdirs import user_config_dir

    return FileStore(Path(user_config_dir("liangbing", appauthor=False)) / "secrets")


def _setting(session, key: str) -> Setting | None:
    return session.scalar(select(Setting).where(Setting.key == key))


def save_token(db: Database, token: str, store=None) -> None:
    """Keep the token for this database (a fresh reference each enrolment)."""
    store = store or default_store()
    ref = uuid.uuid4().hex
    store.set(ref, token)
    with db.session("sync") as s:
        old = _setting(s, REF_KEY)
        if old is not None:
            store.delete(old.value)
            old.value = ref
        else:
            s.add(Setting(key=REF_KEY, value=ref))
        s.execute(delete(Setting).where(Setting.key == PLAIN_KEY))


def load_token(db: Database, store=None) -> str | None:
    """This database's token, or None (never enrolled here, or a copy from another PC)."""
    with db.session("sync") as s:
        plain, ref = _setting(s, PLAIN_KEY), _setting(s, REF_KEY)
        plain_value, ref_value = (plain.value if plain else None), (ref.value if ref else None)
    store = store or default_store()
    if plain_value:                       # an older release's plain copy: move it out now
        save_token(db, plain_value, store)
        return plain_value
    return store.get(ref_value) if ref_value else None


def forget_token(db: Database, store=None) -> None:
    store = store or default_store()
    with db.session("sync") as s:
        ref = _setting(s, REF_KEY)
        if ref is not None:
            store.delete(ref.value)
            s.delete(ref)
        s.execute(delete(Setting).where(Setting.key == PLAIN_KEY))

"""Files only this OS user may read: databases, their -wal/-shm, backups and token files hold patients'
identities and the keys to push as a clinic, so other accounts on the PC (or the township server) must not
read them.

POSIX: files 0600, folders 0700. Windows: an ACL without inherited entries granting full control to
the current user and SYSTEM only (`icacls`); this half runs only when `os.name == "nt"` and is not
exercised by the tests, which run on Linux.

SQLite creates a database's -wal, -shm and -journal files with the database file's own mode, so a
database made owner-only keeps its companions owner-only too.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

FILE_MODE = 0o600
FOLDER_MODE = 0o700
SYSTEM_SID = "*S-1-5-18"            # LocalSystem: backup and antivirus services run as it
COMPANIONS = ("-wal", "-shm", "-journal")


def _windows_user() -> str:
    user = os.environ.get("USERNAME") or os.getlogin()
    domain = os.environ.get("USERDOMAIN")
    return f"{domain}\\{user}" if domain else user


def _icacls(path: Path, folder: bool) -> None:
    rights = "(OI)(CI)F" if folder else "F"
    subprocess.run(["icacls", str(path), "/inheritance:r", "/grant:r", f"{_windows_user()}:{rights}",
                    "/grant:r", f"{SYSTEM_SID}:{rights}"], check=True, capture_output=True)


def restrict(path: str | Path) -> bool:
    """Make an existing file or folder owner-only. False when it is missing or cannot be changed (a
    file another account owns, a FAT-formatted USB stick): the caller's work goes on regardless."""
    path = Path(path)
    try:
        folder = path.is_dir()
        if not path.exists():
            return False
        if os.name == "nt":
            _icacls(path, folder)
        else:
            os.chmod(path, FOLDER_MODE if folder else FILE_MODE)
    except (OSError, subprocess.SubprocessError):
        return False
    return True


def restrict_database(path: str | Path) -> None:
    """The database file and whichever of its companions exist."""
    path = Path(path)
    for candidate in (path, *(Path(f"{path}{suffix}") for suffix in COMPANIONS)):
        if candidate.exists():
            restrict(candidate)


def create_private_file(path: str | Path) -> None:
    """Create an empty file that is owner-only from its first byte (replacing a leftover of that name,
    whose mode open() would otherwise keep)."""
    path = Path(path)
    path.unlink(missing_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    if os.name == "nt":
        restrict(path)


def private_folder(path: str | Path) -> Path:
    """The folder, created owner-only (with any missing parents) when it does not exist yet. An
    existing folder is left as it is: it may be one a person chose and shares on purpose."""
    path = Path(path)
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True, mode=FOLDER_MODE)
        restrict(path)                  # mkdir's mode passes through the umask; Windows ignores it
    return path

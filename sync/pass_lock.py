"""One sync pass at a time per clinic database (the GUI's background pass and `liangbing sync` may
meet): an OS file lock on `<database>.sync-lock`, released by the OS if the process dies."""

from __future__ import annotations

import os
from pathlib import Path

from sync.transport import SyncError

if os.name == "nt":
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError:
            return False

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


class Busy(SyncError):
    """Another pass holds the lock; it will record its own outcome."""


class PassLock:
    def __init__(self, database: Path):
        self.path = Path(f"{database}.sync-lock")
        self.fd: int | None = None

    def __enter__(self) -> PassLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        if not _try_lock(fd):
            os.close(fd)
            raise Busy("另一个同步正在进行，请稍后再试")
        self.fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            _unlock(self.fd)
            os.close(self.fd)
            self.fd = None

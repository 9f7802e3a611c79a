"""Run database and network work off the GUI thread; results come back by signal (Anki's
`operations` / `taskman` split).

Writes go through one worker thread (SQLite has one writer; ordering matters for a clinic's records);
reads, such as search-as-you-type, use a second one so they never wait behind a long write; slow
background work (a sync pass over a slow network, a backup) uses a third, so a save never waits for it.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

log = logging.getLogger(__name__)
POOLS = ("write", "read", "background")


class _Signals(QObject):
    done = Signal(object)
    failed = Signal(object)


class _Task(QRunnable):
    def __init__(self, fn: Callable[[], object]):
        super().__init__()
        self.fn = fn
        self.signals = _Signals()
        self.setAutoDelete(False)

    def run(self) -> None:
        try:
            result = self.fn()
        except Exception as exc:  # handed to the GUI thread, which shows it
            exc.trace = traceback.format_exc()
            self.signals.failed.emit(exc)
            return
        self.signals.done.emit(result)


class TaskRunner(QObject):
    """`run(fn, on_done, on_error)`; `idle` is emitted when nothing is pending (tests and screenshots
    wait on it)."""

    idle = Signal()
    busy_changed = Signal(bool)     # for the status bar's "处理中" marker
    error = Signal(object)          # unhandled task errors, for the main window to show

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._pools = {name: QThreadPool(self) for name in POOLS}
        for pool in self._pools.values():
            pool.setMaxThreadCount(1)
        self._pending: set[_Task] = set()

    @property
    def busy(self) -> bool:
        return bool(self._pending)

    def run(self, fn: Callable[[], object], on_done: Callable[[object], None] | None = None,
            on_error: Callable[[Exception], None] | None = None, *, read_only: bool = False,
            pool: str | None = None) -> None:
        """`pool`: "write" (default), "read" (same as read_only=True) or "background"."""
        pool = pool or ("read" if read_only else "write")
        if pool not in self._pools:
            raise ValueError(f"unknown pool {pool!r}")
        task = _Task(fn)
        self._pending.add(task)
        if len(self._pending) == 1:
            self.busy_changed.emit(True)

        # The callback runs before the task counts as finished, so a callback that starts the next
        # task (load details, then the tabs) never lets `idle` fire in between.
        @Slot(object)
        def finished(result: object) -> None:
            try:
                if on_done is not None:
                    on_done(result)
            finally:
                self._finish(task)

        @Slot(object)
        def failed(exc: Exception) -> None:
            try:
                log.warning("task failed: %s\n%s", exc, getattr(exc, "trace", ""))
                (on_error or self.error.emit)(exc)
            finally:
                self._finish(task)

        task.signals.done.connect(finished)
        task.signals.failed.connect(failed)
        self._pools[pool].start(task)

    def _finish(self, task: _Task) -> None:
        self._pending.discard(task)
        if not self._pending:
            self.busy_changed.emit(False)
            self.idle.emit()

    def wait(self, msecs: int = 30000) -> None:
        for pool in self._pools.values():
            pool.waitForDone(msecs)

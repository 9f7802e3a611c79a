"""What every page needs: the open database, the task runner, who is logged in, and today's date
(injectable, so demo screenshots and tests see a fixed day)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from clinic.db.engine import Database
from clinic.permissions import allowed
from desktop.gui.tasks import TaskRunner


@dataclass(frozen=True)
class UserInfo:
    username: str
    display_name: str
    role: str


@dataclass
class AppContext:
    db: Database
    runner: TaskRunner
    user: UserInfo | None = None
    is_demo: bool = False
    clinic_name: str = ""
    today: Callable[[], date] = field(default=date.today)

    def can(self, action: str) -> bool:
        return self.user is not None and allowed(self.user.role, action)

    @property
    def user_name(self) -> str:
        return self.user.display_name if self.user else "system"

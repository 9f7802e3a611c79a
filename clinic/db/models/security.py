"""Login attempts per account, kept apart from the synced user record: a wrong password on one PC is
nothing the township needs, and counting it must not create a sync row or touch the user's hash."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from clinic.db.models.base import Base


class LoginGuard(Base):
    __tablename__ = "login_guard"
    username: Mapped[str] = mapped_column(String(40), primary_key=True)
    failed_count: Mapped[int] = mapped_column(Integer, default=0)     # wrong attempts since the last success
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)   # UTC; None = not locked
    last_failed_at: Mapped[datetime | None] = mapped_column(DateTime)

"""Health management (national plan 六, 云南 八): follow-up visits; and local settings."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Date, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from clinic.db.models.base import Base, Synced
from clinic.db.models.people import PatientRef
from clinic.db.types import DecimalText


class FollowUp(PatientRef, Synced, Base):
    __tablename__ = "follow_up"
    visit_on: Mapped[date] = mapped_column(Date, index=True)
    sbp: Mapped[int | None] = mapped_column(Integer)                       # 收缩压 mmHg
    dbp: Mapped[int | None] = mapped_column(Integer)                       # 舒张压 mmHg
    fasting_glucose: Mapped[Decimal | None] = mapped_column(DecimalText)   # 空腹血糖 mmol/L
    hba1c: Mapped[Decimal | None] = mapped_column(DecimalText)             # 糖化血红蛋白 %
    adherence: Mapped[str | None] = mapped_column(String(12))              # regular | intermittent | none
    next_visit_on: Mapped[date | None] = mapped_column(Date)
    doctor_name: Mapped[str] = mapped_column(String(40))
    notes: Mapped[str | None] = mapped_column(Text)


class Setting(Base):
    """A local setting: clinic profile values and policy figures an administrator filled in
    (key `policy.<region>.<setting key>`)."""

    __tablename__ = "setting"
    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    value: Mapped[str] = mapped_column(Text)

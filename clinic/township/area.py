"""Which institutions a township report covers: every clinic the server knows, one township's, or one."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from clinic.db.models import Institution


@dataclass(frozen=True)
class Village:
    code: str
    name: str
    level: str
    region: str
    township: str            # 乡镇 name ("" when the clinic was registered without one)


def villages(session: Session, township: str | None = None) -> list[Village]:
    """The clinics reporting to this server (the local institution of a clinic file is left out, so
    the same call on a clinic's own file finds no villages), by code."""
    query = select(Institution).where(Institution.is_local.is_(False)).order_by(Institution.code)
    found = [Village(i.code, i.name, i.level, i.region, i.township_name or "") for i in session.scalars(query)]
    if township is None:
        return found
    chosen = [v for v in found if v.township == township]
    if not chosen:
        known = "、".join(sorted({v.township for v in found if v.township})) or "无"
        raise ValueError(f"服务器上没有乡镇“{township}”的机构（已有：{known}）")
    return chosen


def townships(session: Session) -> list[str]:
    return sorted({v.township for v in villages(session)})


def scope_codes(session: Session, township: str | None = None, institution: str | None = None) -> list[str]:
    """Codes of the institutions a report covers; an unknown code or township is an error, never an
    empty report."""
    chosen = villages(session, township)
    if institution is not None:
        chosen = [v for v in chosen if v.code == institution]
        if not chosen:
            where = f"乡镇“{township}”" if township else "服务器"
            raise ValueError(f"{where}上没有机构编码 {institution}")
    if not chosen:
        raise ValueError("服务器上还没有登记任何村卫生室（liangbing-server add-clinic）")
    return [v.code for v in chosen]


def unit_name(session: Session, unit: str) -> str:
    """The name of an input unit — a clinic's code, `镇:<乡镇>` or `全域` — or ValueError if unknown."""
    if unit == "全域":
        return unit
    if unit.startswith("镇:"):
        if unit[2:] not in townships(session):
            raise ValueError(f"服务器上没有乡镇“{unit[2:]}”（已有：{'、'.join(townships(session)) or '无'}）")
        return f"{unit[2:]}卫生院"
    found = [v for v in villages(session) if v.code == unit]
    if not found:
        raise ValueError(f"服务器上没有机构编码 {unit}（单位应为机构编码、镇:乡镇名 或 全域）")
    return found[0].name

"""The audit log for administrators (issue 7): read it, filter it, export it to Excel.

The log itself is append-only (triggers from migration 0004 refuse UPDATE and DELETE); reading and
exporting it needs the 管理员 role's `audit.view` (clinic/permissions.py), and an export is itself
an audit event. Events carry the changed fields, so a patient's ID number is in them: the export
counts them (clinic/sensitive.py) so the caller can warn, and can mask them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from sqlalchemy import select
from sqlalchemy.orm import Session

from clinic.db.audit import append_events
from clinic.db.models import AuditEvent
from clinic.db.types import utcnow
from clinic.permissions import require
from clinic.sensitive import find_id_numbers, mask_id_numbers

ENTITIES = {"patient": "患者", "filing": "备案", "prescription": "处方", "dispense": "配药", "settlement": "结算",
            "follow_up": "随访", "stock_lot": "库存批次", "stock_movement": "库存变动", "user_account": "用户",
            "setting": "设置", "drug": "药品", "institution": "机构", "audit_event": "审计日志", "database": "数据库"}
ACTIONS = {"insert": "新增", "update": "修改", "delete": "删除", "login_fail": "登录失败", "locked": "账号锁定",
           "unlock": "解锁", "pw_reset": "重置密码", "pw_change": "修改密码", "export": "导出", "restore": "恢复备份"}
HEADERS = ("时间", "操作人", "机构编码", "对象", "记录编号", "操作", "变更内容（字段: 原值 → 新值）")
WIDTHS = (20, 12, 16, 10, 38, 10, 100)


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: datetime                         # local time
    user: str
    institution_code: str | None
    entity: str
    entity_id: str
    action: str
    changes: str                         # readable: "name: None → 张三; phone: …"

    @property
    def cells(self) -> tuple:
        return (self.at.strftime("%Y-%m-%d %H:%M:%S"), self.user, self.institution_code or "",
                ENTITIES.get(self.entity, self.entity), self.entity_id, ACTIONS.get(self.action, self.action),
                self.changes)


def _readable(changes: str) -> str:
    try:
        data = json.loads(changes or "{}")
    except ValueError:
        return changes
    if not isinstance(data, dict):
        return changes
    parts = []
    for key, value in data.items():
        if isinstance(value, list) and len(value) == 2:
            parts.append(f"{key}: {value[0]} → {value[1]}")
        else:
            parts.append(f"{key}: {value}")
    return "; ".join(parts)


def _utc(day: date) -> datetime:
    """Midnight at the start of a local day, in UTC (events are stored in UTC)."""
    return datetime.combine(day, time()).astimezone().astimezone(UTC).replace(tzinfo=None)


def audit_events(session: Session, actor_role: str, *, since: date | None = None, until: date | None = None,
                 user: str | None = None, entity: str | None = None, limit: int | None = None) -> list[AuditRow]:
    """Events newest first; `since`/`until` are local dates, both included."""
    require(actor_role, "audit.view")
    query = select(AuditEvent).order_by(AuditEvent.id.desc())
    if since:
        query = query.where(AuditEvent.at >= _utc(since))
    if until:
        query = query.where(AuditEvent.at < _utc(until + timedelta(days=1)))
    if user:
        query = query.where(AuditEvent.user_name == user)
    if entity:
        query = query.where(AuditEvent.entity == entity)
    if limit:
        query = query.limit(limit)
    return [AuditRow(e.id, e.at.replace(tzinfo=UTC).astimezone().replace(tzinfo=None), e.user_name,
                     e.institution_code, e.entity, e.entity_id, e.action, _readable(e.changes))
            for e in session.scalars(query)]


def id_numbers_in(rows: list[AuditRow]) -> set[str]:
    found: set[str] = set()
    for row in rows:
        found |= find_id_numbers(row.changes) | find_id_numbers(row.entity_id)
    return found


def export_audit_xlsx(session: Session, actor_username: str, actor_role: str, path: str | Path,
                      rows: list[AuditRow], *, mask_ids: bool = False) -> Path:
    """Write the rows (from audit_events) to an .xlsx file, whole or not at all, and log the export."""
    require(actor_role, "audit.view")
    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        raise ValueError(f"导出文件须以 .xlsx 结尾：{path}")
    book = Workbook(write_only=True)
    sheet = book.create_sheet("审计日志")
    for i, width in enumerate(WIDTHS):
        sheet.column_dimensions[chr(ord("A") + i)].width = width
    sheet.freeze_panes = "A2"
    header = []
    for text in HEADERS:
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    for row in rows:
        cells = row.cells
        sheet.append([mask_id_numbers(c) if mask_ids and isinstance(c, str) else c for c in cells])
    partial = path.with_name(f".{path.name}.partial")
    try:
        book.save(partial)
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise ValueError(f"无法写入 {path}：{exc.strerror or exc}") from None
    append_events(session.connection(), [dict(          # chained like every event (issue 13)
        at=utcnow(), user_name=actor_username[:40], institution_code=session.info.get("institution_code"),
        entity="audit_event", entity_id=path.name[:40], action="export",
        changes=json.dumps({"rows": [None, len(rows)], "masked": [None, mask_ids]}, ensure_ascii=False))])
    return path


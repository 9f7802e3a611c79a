"""The patient's dispensing and settlement history, and 退费 (no Qt).

A refund is clinic.dispensing.refund_purchase: a new settlement with the amounts negated that points
at the original (DESIGN.md: claims are append-only facts), and the drugs go back to their lots.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select

from clinic.db.engine import Database
from clinic.db.models import Dispense, Drug, Settlement
from clinic.dispensing import refund_purchase
from clinic.permissions import require
from desktop.gui.context import UserInfo

STATES = {"settled_offline": "待上传", "uploaded": "已上传", "accepted": "审核通过", "adjusted": "已调整",
          "rejected": "被拒付"}


@dataclass(frozen=True)
class SettlementRow:
    id: str
    settled_on: date
    receipt_no: str
    is_refund: bool
    drugs: str                   # 苯磺酸氨氯地平片×28片、盐酸二甲双胍片×56片
    total: Decimal
    fund_pay: Decimal
    self_pay: Decimal
    major_illness_eligible: Decimal
    state: str                   # upload state: 待上传 / 已上传 / 审核通过 …
    note: str                    # 已退费（退费单 TF…） / 原结算单 H…，原因：…
    operator: str
    refundable: bool


def history(db: Database, patient_id: str) -> list[SettlementRow]:
    """Every settlement of the patient, newest first; a refund and what it refunds both say so."""
    with db.session() as s:
        found = s.scalars(select(Settlement).where(Settlement.patient_id == patient_id,
                                                   Settlement.deleted_at.is_(None))
                          .order_by(Settlement.settled_on.desc(), Settlement.created_at.desc(),
                                    Settlement.receipt_no.desc())).all()
        by_id = {x.id: x for x in found}
        refunded_by = {x.reverses_id: x for x in found if x.reverses_id}
        dispenses = {d.id: d for d in s.scalars(select(Dispense).where(
            Dispense.id.in_({x.dispense_id for x in found})))}
        units = dict(s.execute(select(Drug.code, Drug.unit)).all())
        rows = []
        for x in found:
            dispense = dispenses.get(x.dispense_id)
            drugs = "、".join(f"{line.drug_name}×{line.quantity.normalize():f}{units.get(line.drug_code, '')}"
                             for line in dispense.lines) if dispense else ""
            note = x.review_note or ""
            if x.reverses_id:
                original = by_id.get(x.reverses_id)
                note = f"原结算单 {original.receipt_no if original else '?'}，原因：{x.refund_reason}"
            elif x.id in refunded_by:
                note = f"已退费（退费单 {refunded_by[x.id].receipt_no}）"
            rows.append(SettlementRow(x.id, x.settled_on, x.receipt_no, bool(x.reverses_id), drugs, x.total,
                                      x.fund_pay, x.self_pay, x.major_illness_eligible, STATES.get(x.state, x.state),
                                      note, x.operator_name, not x.reverses_id and x.id not in refunded_by))
        return rows


def refund(db: Database, user: UserInfo, settlement_id: str, reason: str, today: date) -> SettlementRow:
    """退费 in full with a reason; returns the new (negative) settlement's row."""
    require(user.role, "refund")
    with db.session(user.username) as s:
        reversal = refund_purchase(s, s.get(Settlement, settlement_id), today, reason, user.display_name)
        s.flush()
        reversal_id = reversal.id
        patient_id = reversal.patient_id
    return next(row for row in history(db, patient_id) if row.id == reversal_id)

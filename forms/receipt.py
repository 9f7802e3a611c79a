"""结算单 / 退费单: what one 两病 purchase cost and who paid it, handed to the patient.

A4 portrait, like 附件2 and 附件3: a village clinic has one printer with A4 in it, and the receipt's
many figures (the totals, each disease's ratio, year-to-date and cap) stay at a size elderly
patients can read. A refund (DESIGN.md: a new settlement reversing the old one) prints as 退费单
with the original receipt number, the reason, and its amounts negative.

大病保险 (seeds/000 二(一)5): the self-paid part of the policy-range cost and the part above the annual
cap are eligible; the engine's `major_illness_eligible` is their sum and the receipt shows both parts.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from clinic.db.models import Dispense, Patient, Settlement
from clinic.ledger import year_to_date_after
from clinic.vocab import CONTRIBUTIONS, DISEASES, INSURANCES, TIERS
from forms.layout import Sheet, money, new_canvas, price, split_pages, width_mm
from forms.sources import DEMO_NOTE, institution_for, is_demo, mask_id_number, quantity_text

LEFT, RIGHT = 18.0, 192.0
ROW_H, LINE_H = 8.5, 7.5
LINES_PER_PAGE, LINES_WITH_TOTALS = 24, 13           # drug lines on a full page / beside the totals
LINE_COLUMNS = (("药品", 50), ("规格", 26), ("数量", 20), ("单价", 22), ("金额", 26), ("医保支付标准", 30))
DISEASE_COLUMNS = (("病种", 38), ("报销比例", 18), ("基金支付", 20), ("本年累计基金支付", 30), ("年度限额", 22),
                   ("剩余额度", 22), ("超限额", 24))
TOTALS = (("费用总额", "total"), ("政策范围内费用", "policy_range"), ("范围外费用", "out_of_scope"),
          ("超支付标准自付", "over_standard"), ("起付线", "deductible"), ("统筹基金支付", "fund_pay"),
          ("超限额费用", "over_cap"), ("个人自付", "self_pay"), ("大病保险可申报金额", "major_illness_eligible"))


@dataclass(frozen=True)
class ReceiptLine:
    name: str
    spec: str
    quantity: str                   # with its unit
    unit_price: Decimal
    amount: Decimal                 # negative on a refund
    payment_standard: Decimal | None


@dataclass(frozen=True)
class DiseaseShare:
    label: str                      # 高血压（普通·主要）
    ratio: Decimal
    fund_pay: Decimal
    year_to_date: Decimal           # fund paid this year, this settlement included
    cap: Decimal
    cap_remaining: Decimal
    over_cap: Decimal


@dataclass(frozen=True)
class ReceiptData:
    institution: str
    receipt_no: str
    settled_on: date
    patient_name: str
    masked_id: str
    insurance: str
    lines: tuple[ReceiptLine, ...]
    amounts: dict[str, Decimal] = field(hash=False)   # keyed by the names in TOTALS
    diseases: tuple[DiseaseShare, ...]
    operator: str
    refund_of: str | None = None    # the original receipt number, on a refund
    refund_reason: str | None = None
    demo: bool = False


def receipt_data(session: Session, settlement: Settlement) -> ReceiptData:
    patient = session.get(Patient, settlement.patient_id)
    dispense = session.get(Dispense, settlement.dispense_id)
    sign = -1 if settlement.reverses_id else 1        # a refund hands the same lines back
    lines = tuple(ReceiptLine(line.drug_name, line.spec,
                              quantity_text(session, line.drug_code, sign * line.quantity),
                              line.unit_price, sign * line.line_total, line.payment_standard)
                  for line in dispense.lines)
    paid = year_to_date_after(session, settlement).fund_paid     # the ledger as it stood after it
    diseases = tuple(DiseaseShare(
        f"{DISEASES[d.disease]}（{TIERS[d.tier]}·{'主要' if d.is_primary else '次要'}）", d.ratio, d.fund_pay,
        paid.get(d.disease, d.fund_pay), d.cap, d.cap_remaining, d.over_cap) for d in settlement.diseases)
    insurance = INSURANCES.get(settlement.insurance, settlement.insurance)
    if settlement.contribution and settlement.contribution != "100":
        insurance += f"（{CONTRIBUTIONS[settlement.contribution]}）"
    original = session.get(Settlement, settlement.reverses_id) if settlement.reverses_id else None
    return ReceiptData(
        institution=institution_for(session, settlement.institution_code).name, receipt_no=settlement.receipt_no,
        settled_on=settlement.settled_on, patient_name=patient.name, masked_id=mask_id_number(patient.id_number),
        insurance=insurance, lines=lines, amounts={key: getattr(settlement, key) for _, key in TOTALS},
        diseases=diseases, operator=settlement.operator_name,
        refund_of=original.receipt_no if original else None, refund_reason=settlement.refund_reason,
        demo=is_demo(session))


def render_receipt(data: ReceiptData) -> bytes:
    buffer = io.BytesIO()
    title = "“两病”门诊用药退费单" if data.refund_of else "“两病”门诊用药结算单"
    canvas = new_canvas(buffer, f"{title} {data.receipt_no}")
    pages = split_pages(len(data.lines), LINES_PER_PAGE, LINES_WITH_TOTALS)
    for number, rows in enumerate(pages, start=1):
        sheet = Sheet(canvas)
        top = _heading(sheet, data, title + ("（续）" if number > 1 else ""), number, len(pages))
        top = _line_table(sheet, data, rows, top)
        if number == len(pages):
            _totals(sheet, data, top + 4)
        if data.demo:
            sheet.grey()
            sheet.text((LEFT + RIGHT) / 2, 290, DEMO_NOTE, 8, align="center")
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _row(sheet: Sheet, top: float, cells: list[tuple[str, float]], h: float, size: float = 10.5,
         values: str = "center") -> float:
    """One grid row of centred headings; in a label–value row every second cell is a value aligned
    as `values` says."""
    x = LEFT
    for i, (text, w) in enumerate(cells):
        sheet.cell(x, top, w, h, text, size, 6, align=values if i % 2 else "center")
        x += w
    return top + h


def _heading(sheet: Sheet, data: ReceiptData, title: str, number: int, of: int) -> float:
    sheet.fit(data.institution, LEFT, 14, RIGHT - LEFT, 9, 13, 9, align="center")
    sheet.fit(title, LEFT, 24, RIGHT - LEFT, 11, 18, 12, align="center", bold=True)
    if of > 1:
        sheet.text(RIGHT, 38, f"第 {number} 页 / 共 {of} 页", 9, align="right")
    word = "退费" if data.refund_of else "结算"
    rows = [(f"{word}单号", data.receipt_no, f"{word}日期", data.settled_on.isoformat()),
            ("姓名", data.patient_name, "身份证号", data.masked_id),
            ("险种", data.insurance, "经办人", data.operator)]
    if data.refund_of:
        rows.append(("原结算单号", data.refund_of, "退费原因", data.refund_reason or ""))
    top = 40.0
    for row in rows:
        top = _row(sheet, top, list(zip(row, (24, 63, 24, 63), strict=True)), ROW_H, values="left")
    return top + 4


def _line_table(sheet: Sheet, data: ReceiptData, rows: range, top: float) -> float:
    widths = [w for _, w in LINE_COLUMNS]
    top = _row(sheet, top, [(name, w) for name, w in LINE_COLUMNS], LINE_H, 10)
    for index in rows:
        line = data.lines[index]
        standard = price(line.payment_standard) if line.payment_standard is not None else "—"
        texts = (line.name, line.spec, line.quantity, price(line.unit_price), money(line.amount), standard)
        x = LEFT
        for i, (text, w) in enumerate(zip(texts, widths, strict=True)):
            sheet.cell(x, top, w, LINE_H, text, 10, 6, align="left" if i < 2 else "right")
            x += w
        top += LINE_H
    return top


def _totals(sheet: Sheet, data: ReceiptData, top: float) -> None:
    pairs = [(label, money(data.amounts[key])) for label, key in TOTALS[:-1]]
    for left, right in zip(pairs[::2], pairs[1::2], strict=True):
        top = _row(sheet, top, list(zip((*left, *right), (38, 49, 38, 49), strict=True)), ROW_H, values="right")
    eligible, over_cap = data.amounts["major_illness_eligible"], data.amounts["over_cap"]
    parts = f"（限额内个人自负 {money(eligible - over_cap)} + 超限额 {money(over_cap)}）"
    sheet.cell(LEFT, top, 38, ROW_H, TOTALS[-1][0], 10.5, 6, align="center")
    sheet.cell(LEFT + 38, top, 87, ROW_H, parts, 9.5, 6, align="left")
    sheet.cell(LEFT + 125, top, 49, ROW_H, money(eligible), 10.5, 6, align="right")
    top += ROW_H
    top += 4
    top = _row(sheet, top, list(DISEASE_COLUMNS), LINE_H, 9.5)
    for d in data.diseases:
        texts = (d.label, f"{(d.ratio * 100).normalize():f}%", money(d.fund_pay), money(d.year_to_date),
                 money(d.cap), money(d.cap_remaining), money(d.over_cap))
        x = LEFT
        for i, (text, (_, w)) in enumerate(zip(texts, DISEASE_COLUMNS, strict=True)):
            sheet.cell(x, top, w, LINE_H, text, 10, 6, align="left" if i == 0 else "right")
            x += w
        top += LINE_H
    word = "退费" if data.refund_of else "结算"
    note = ("注：个人自付中，政策范围内的个人自负部分和超过年度最高支付限额的部分列入大病保险保障范围"
            f"（大病保险可申报金额）；本年累计基金支付含本次{word}。")
    if data.refund_of:
        note += f"本单为退费单，冲销原结算单 {data.refund_of}，金额以负数表示。"
    sheet.fit(note, LEFT, top + 2, RIGHT - LEFT, 10, 9, 7, pad=0, wrap_first=True, valign="top")
    sheet.field(LEFT, top + 20, "经办人：", data.operator, 40)
    sheet.field(RIGHT - 45 - width_mm("患者（家属）签字：", 11), top + 20, "患者（家属）签字：", "", 44)

"""附件3 （医疗机构）慢性病用药连续（外配）处方 (seeds/000_12abe66d303e04d1.txt, 附件3).

One print is both copies the form asks for (“本处方一式二份”): the clinic's copy, then the patient's,
each marked in its top-right corner. A copy with more drug lines than one sheet holds continues on
further sheets whose header repeats with “（续）”; every sheet carries the signatures and notes, so
no sheet can be taken for a shorter prescription. Note 2's refill window is the policy's figure.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from clinic.db.models import Patient, Prescription
from clinic.idcard import age_on
from forms.layout import Sheet, new_canvas, split_pages, width_mm, ymd
from forms.sources import DEMO_NOTE, institution_for, is_demo, policy_on, quantity_text, refill_window_days

COPIES = ("医疗机构留存", "患者留存")
LEFT, RIGHT = 18.0, 192.0                          # mm: 18 mm side margins on A4
SECOND = 126.0                                     # where the right-hand field of a header line starts
LINES_PER_PAGE = 10
ROWS_TOP, ROW_H = 103.0, 9.5
# Drug line columns (mm): number, 药品名称, 规格, 数量, 用法用量.
COLUMNS = {"no": (LEFT, 10), "name": (28, 52), "spec": (80, 28), "quantity": (108, 18), "usage": (126, 66)}
STATEMENT = "本人已充分了解慢性病连续处方政策及注意事项，要求开具慢性病连续处方。"
TWO_COPIES = "（本处方一式二份，一份由开具处方的医疗机构留存，一份交由患者。）"


def notes(refill_window_days: int) -> tuple[str, str, str]:
    """注意 1–3 as the seed words them; note 2 carries the policy's refill window."""
    return ("1.本处方根据有关规定由患者自愿申请开具；",
            f"2.本处方须在上一次剩余用药量不超过{refill_window_days}日（含）内凭本处方配取；",
            "3.期间如果病情发生变化，请及时就医。")


@dataclass(frozen=True)
class RxLine:
    name: str
    spec: str
    quantity: str        # with its unit, e.g. 84片
    usage: str           # 用法用量


@dataclass(frozen=True)
class PrescriptionFormData:
    institution: str     # fills the title's “（医疗机构）” blank
    name: str
    sex: str
    age: int | None
    category: str        # 人员类别
    outpatient_no: str
    department: str
    address: str
    phone: str
    diagnosis: str
    prescribed_on: date
    valid_until: date | None
    prescriber: str
    lines: tuple[RxLine, ...]
    refill_window_days: int
    demo: bool = False


def prescription_form_data(session: Session, prescription: Prescription) -> PrescriptionFormData:
    patient = session.get(Patient, prescription.patient_id)
    on = prescription.prescribed_on
    lines = tuple(RxLine(line.drug_name, line.spec, quantity_text(session, line.drug_code, line.quantity),
                         f"{line.usage}（{line.days}天）") for line in prescription.lines)
    return PrescriptionFormData(
        institution=institution_for(session, prescription.institution_code).name, name=patient.name,
        sex=patient.sex, age=age_on(patient.birth_date, on) if on >= patient.birth_date else None,
        category=patient.category or "", outpatient_no=patient.outpatient_no or "",
        department=prescription.department or "", address=patient.address or "", phone=patient.phone or "",
        diagnosis=prescription.diagnosis, prescribed_on=on, valid_until=prescription.valid_until,
        prescriber=prescription.prescriber_name, lines=lines,
        refill_window_days=refill_window_days(policy_on(session, on)), demo=is_demo(session))


def title(institution: str) -> str:
    """The seed's “（医疗机构）慢性病用药连续（外配）处方” with the blank filled in."""
    return f"{institution}慢性病用药连续（外配）处方"


def render_prescription(data: PrescriptionFormData) -> bytes:
    buffer = io.BytesIO()
    canvas = new_canvas(buffer, f"{title(data.institution)} {data.name}")
    pages = split_pages(len(data.lines), LINES_PER_PAGE)
    for copy in COPIES:
        for number, rows in enumerate(pages, start=1):
            sheet = Sheet(canvas)
            _header(sheet, data, copy, number, len(pages))
            _drug_lines(sheet, data, rows, last=number == len(pages))
            _footer(sheet, data)
            canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _field(sheet: Sheet, x: float, baseline: float, label: str, value: str, end: float,
           room: float | None = None) -> None:
    """A label and its underline running to `end` (mm)."""
    sheet.field(x, baseline, label, value, end - x - width_mm(label, 11) - 1, room=room)


def _header(sheet: Sheet, data: PrescriptionFormData, copy: str, number: int, of: int) -> None:
    sheet.text(LEFT, 19, "附件3", 10.5)
    sheet.box(RIGHT - 40, 12, 40, 9)
    sheet.fit(copy, RIGHT - 40, 12, 40, 9, 12, 8, align="center", bold=True)
    if of > 1:
        sheet.text(RIGHT, 26, f"第 {number} 页 / 共 {of} 页", 9, align="right")
    more = "（续）" if number > 1 else ""
    sheet.fit(title(data.institution) + more, LEFT, 27, RIGHT - LEFT, 13, 16, 10, align="center", bold=True)
    age = "" if data.age is None else str(data.age)
    room = 7.5                              # a long value wraps up into the 9 mm line pitch
    gap = SECOND - 4                        # left-hand underlines stop short of the right-hand label
    _field(sheet, LEFT, 49, "姓名", data.name, 64, room=room)
    _field(sheet, 70, 49, "性别", data.sex, 92)
    _field(sheet, 98, 49, "年龄", age, 120)
    _field(sheet, SECOND, 49, "人员类别", data.category, RIGHT, room=room)
    _field(sheet, LEFT, 58, "门诊号", data.outpatient_no, gap, room=room)
    _field(sheet, SECOND, 58, "科别", data.department, RIGHT, room=room)
    _field(sheet, LEFT, 67, "地址", data.address, gap, room=room)
    _field(sheet, SECOND, 67, "电话", data.phone, RIGHT, room=room)
    _field(sheet, LEFT, 76, "临床诊断", data.diagnosis, RIGHT, room=room)
    _field(sheet, LEFT, 85, "开方日期", ymd(data.prescribed_on), 82)
    if data.valid_until:
        _field(sheet, SECOND, 85, "有效期至", ymd(data.valid_until), RIGHT)
    sheet.hline(LEFT, RIGHT, 90, line_width=1.2)


def _drug_lines(sheet: Sheet, data: PrescriptionFormData, rows: range, last: bool) -> None:
    sheet.text(LEFT, 100, "Rp", 20, bold=True)
    sheet.grey()
    for key, heading in (("name", "药品名称"), ("spec", "规格"), ("quantity", "数量"), ("usage", "用法用量")):
        x, _ = COLUMNS[key]
        sheet.text(x + 1.5, 100, heading, 9)
    sheet.black()
    top = ROWS_TOP
    for index in rows:
        line = data.lines[index]
        cells = {"no": f"{index + 1}.", "name": line.name, "spec": line.spec, "quantity": line.quantity,
                 "usage": line.usage}
        for key, text in cells.items():
            x, w = COLUMNS[key]
            sheet.fit(text, x, top, w, ROW_H, 11, 6, pad=1)
        top += ROW_H
    if last and len(rows) < LINES_PER_PAGE:
        sheet.text((LEFT + RIGHT) / 2, top + 6, "（以下空白）", 10, align="center")
    elif not last:
        sheet.text(RIGHT, ROWS_TOP + LINES_PER_PAGE * ROW_H + 3, "（续下页）", 10, align="right")


def _footer(sheet: Sheet, data: PrescriptionFormData) -> None:
    sheet.hline(LEFT, RIGHT, 204, line_width=0.5)
    colon = 146                            # the three signature labels end in a common colon
    for baseline, label, value in ((213, "医    生：", data.prescriber), (222, "配药药师：", ""),
                                   (231, "复核药师：", "")):
        sheet.field(colon - width_mm(label, 11), baseline, label, value, 44)
    sheet.box(LEFT, 207, 62, 27, dash=(2, 2))
    sheet.text(LEFT + 3, 231, "收 费（机构） 盖 章", 11)
    sheet.text(LEFT, 243, "注意：", 10)
    indent = LEFT + width_mm("注意：", 10)
    for i, note in enumerate(notes(data.refill_window_days)):
        sheet.text(indent, 243 + i * 5.5, note, 10)
    sheet.fit(STATEMENT, LEFT, 258, RIGHT - LEFT, 7, 10, 7, pad=0)
    sheet.field(RIGHT - 45 - width_mm("处方申请人：", 11), 271, "处方申请人：", "", 44)
    sheet.text((LEFT + RIGHT) / 2, 280, TWO_COPIES, 10, align="center")
    if data.demo:
        sheet.grey()
        sheet.text((LEFT + RIGHT) / 2, 290, DEMO_NOTE, 8, align="center")
        sheet.black()

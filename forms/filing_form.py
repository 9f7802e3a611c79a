"""附件2 参保人员“两病”门诊用药保障审定表 (seeds/000_12abe66d303e04d1.txt, 附件2; items 9–11).

The grid follows the paper form: one row of 姓名/性别/年龄/身份证号, one of 家庭住址/参保地, the
申报病种 check boxes, the 专家意见 block (病史及诊断, 治疗方案, each signed and dated) and 医院意见
(签章, date). Empty fields stay empty for handwriting. When a patient declares both diseases the
same day, one form covers both filings, both boxes ticked.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from clinic.db.models import Filing, Patient
from clinic.idcard import age_on
from clinic.vocab import CHANGE_REASONS, DISEASES
from forms.layout import Sheet, new_canvas, ymd
from forms.sources import DEMO_NOTE, is_demo, policy_on

LEFT, RIGHT = 20.0, 190.0                          # mm: 20 mm side margins on A4
COLUMNS = (20, 28, 14, 12, 14, 12, 24, 46)         # 姓名 | … | 身份证号 | value, 170 mm in all
EDGES = tuple(LEFT + sum(COLUMNS[:i]) for i in range(len(COLUMNS) + 1))
TABLE_TOP, ROW_H = 45.0, 13.0
OPINION_H, HOSPITAL_H = 72.0, 50.0                 # each 专家意见 part; 医院意见
BLANK_DATE = "      年    月    日"


@dataclass(frozen=True)
class Signed:
    """A block of the form: its text, who signed it and when (None: left for handwriting)."""

    text: str = ""
    signer: str | None = None
    signed_on: date | None = None


@dataclass(frozen=True)
class FilingFormData:
    city: str                    # from the policy, e.g. 鄂州市
    name: str
    sex: str
    age: int | None
    id_number: str
    address: str
    insured_place: str
    declared: tuple[str, ...]    # disease codes ticked under 申报病种
    history: Signed              # 病史及诊断
    plan: Signed                 # 治疗方案
    hospital: Signed             # 医院意见 (signed by stamp: no signer name)
    kind: str = "认定备案"
    demo: bool = False


def _declared_together(session: Session, filing: Filing) -> list[Filing]:
    """The filing, and the other disease's filing of the same kind made the same day, in the
    order the form lists the diseases."""
    other = session.scalars(select(Filing).where(
        Filing.patient_id == filing.patient_id, Filing.disease != filing.disease, Filing.kind == filing.kind,
        Filing.filed_on == filing.filed_on, Filing.deleted_at.is_(None)).order_by(Filing.created_at.desc())).first()
    filings = [filing, other] if other is not None else [filing]
    return sorted(filings, key=lambda f: list(DISEASES).index(f.disease))


def _merge(filings: list[Filing], text: str, signer: str | None, signed_on: str) -> Signed:
    """One block from one or two filings: each disease's text under its name (once, unnamed, when both
    say the same), the signers once each."""
    parts = [(DISEASES[f.disease], (getattr(f, text) or "").strip()) for f in filings]
    parts = [(name, body) for name, body in parts if body]
    same = len(parts) == len(filings) and len({body for _, body in parts}) == 1
    body = parts[0][1] if same else "\n".join(f"{name}：{body}" for name, body in parts)
    signers = list(dict.fromkeys(s for s in (getattr(f, signer) for f in filings) if s)) if signer else []
    dates = [d for d in (getattr(f, signed_on) for f in filings) if d]
    return Signed(body, "、".join(signers) or None, max(dates) if dates else None)


def filing_form_data(session: Session, filing: Filing) -> FilingFormData:
    patient = session.get(Patient, filing.patient_id)
    filings = _declared_together(session, filing)
    kind = "认定备案" if filing.kind == "initial" else \
        f"变更备案（{CHANGE_REASONS.get(filing.change_reason or '', filing.change_reason or '')}）"
    return FilingFormData(
        city=policy_on(session, filing.filed_on).city, name=patient.name, sex=patient.sex,
        age=age_on(patient.birth_date, filing.filed_on) if filing.filed_on >= patient.birth_date else None,
        id_number=patient.id_number, address=patient.address or "", insured_place=patient.insured_place or "",
        declared=tuple(f.disease for f in filings),
        history=_merge(filings, "history_diagnosis", "history_signer", "history_signed_on"),
        plan=_merge(filings, "treatment_plan", "plan_signer", "plan_signed_on"),
        hospital=_merge(filings, "hospital_opinion", None, "hospital_signed_on"),
        kind=kind, demo=is_demo(session))


def render_filing_form(data: FilingFormData) -> bytes:
    buffer = io.BytesIO()
    canvas = new_canvas(buffer, f"{data.city}参保人员“两病”门诊用药保障审定表 {data.name}")
    sheet = Sheet(canvas)
    sheet.text(LEFT, 22, "附件2", 12)
    sheet.grey()
    sheet.text(RIGHT, 22, data.kind, 9, align="right")
    sheet.black()
    sheet.fit(f"{data.city}参保人员“两病”门诊用药保障审定表", LEFT, 27, RIGHT - LEFT, 13, 18, 12,
              align="center", bold=True)
    top = _person_rows(sheet, data, TABLE_TOP)
    top = _opinion_block(sheet, "专家意见", top, [("病史及诊断：", data.history, "签字："),
                                                  ("治疗方案：", data.plan, "签字：")], OPINION_H)
    _opinion_block(sheet, "医院意见", top, [("", data.hospital, "签章：")], HOSPITAL_H)
    if data.demo:
        sheet.grey()
        sheet.text((LEFT + RIGHT) / 2, 289, DEMO_NOTE, 8, align="center")
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _span(first: int, last: int) -> tuple[float, float]:
    """x and width of the cells from column `first` to column `last` inclusive."""
    return EDGES[first], EDGES[last + 1] - EDGES[first]


def _person_rows(sheet: Sheet, data: FilingFormData, top: float) -> float:
    age = "" if data.age is None else str(data.age)
    row = ("姓名", data.name, "性别", data.sex, "年龄", age, "身份证号", data.id_number)
    for i, text in enumerate(row):
        x, w = _span(i, i)
        sheet.cell(x, top, w, ROW_H, text, 11, 6, align="center", pad=1)
    top += ROW_H
    for (first, last), text, align in (((0, 0), "家庭住址", "center"), ((1, 5), data.address, "left"),
                                       ((6, 6), "参保地", "center"), ((7, 7), data.insured_place, "left")):
        x, w = _span(first, last)
        sheet.cell(x, top, w, ROW_H, text, 11, 6, align=align)
    top += ROW_H
    boxes = "          ".join(("☑" if code in data.declared else "□") + name for code, name in DISEASES.items())
    sheet.cell(LEFT, top, COLUMNS[0], ROW_H, "申报病种", 11, align="center")
    x, w = _span(1, 7)
    sheet.box(x, top, w, ROW_H)
    sheet.fit(boxes, x + 8, top, w - 8, ROW_H, 12)
    return top + ROW_H


def _opinion_block(sheet: Sheet, label: str, top: float, parts: list[tuple[str, Signed, str]],
                   part_h: float) -> float:
    """A label cell spanning the block, and one bordered part per (heading, content, signature word)."""
    sheet.cell(LEFT, top, COLUMNS[0], part_h * len(parts), label, 11, align="center")
    x, w = _span(1, 7)
    for heading, content, sign_word in parts:
        sheet.box(x, top, w, part_h)
        text_top = top + 2
        if heading:
            sheet.text(x + 2, top + 7, heading, 11)
            text_top = top + 9
        if content.text:
            sheet.fit(content.text, x + 2, text_top, w - 4, top + part_h - 19 - text_top, 11, 7,
                      valign="top", wrap_first=True)
        sheet.field(x + 84, top + part_h - 12, sign_word, content.signer or "", 44)
        sheet.text(RIGHT - 6, top + part_h - 4, ymd(content.signed_on, BLANK_DATE), 11, align="right")
        top += part_h
    return top

"""附件3 （医疗机构）慢性病用药连续（外配）处方 (seeds/000_12abe66d303e04d1.txt 附件3), read back from the PDF."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from clinic.db.engine import open_database
from clinic.db.models import Prescription
from clinic.profile import create_local_institution, set_policy_setting
from forms import prescription_form
from forms.layout import width_mm
from forms.prescription_form import prescription_form_data, render_prescription
from forms.sources import FormError
from tests.clinic_fixtures import AML, add_drugs, add_patient
from tests.forms.clinic_for_forms import CLINIC_NAME, LONG_ADDRESS, LONG_DIAGNOSIS, LONG_NAME, as_stored, latest
from tests.forms.pdf_tools import fonts, page_texts, squash, text_in_box, words

LABELS = ("附件3", "慢性病用药连续（外配）处方", "姓名", "性别", "年龄", "人员类别", "门诊号", "科别", "地址", "电话",
          "临床诊断", "开方日期", "医生：", "配药药师：", "复核药师：", "收费（机构）盖章", "注意：",
          "1.本处方根据有关规定由患者自愿申请开具；", "3.期间如果病情发生变化，请及时就医。",
          "本人已充分了解慢性病连续处方政策及注意事项，要求开具慢性病连续处方。", "处方申请人：",
          "（本处方一式二份，一份由开具处方的医疗机构留存，一份交由患者。）")


def _note_2(days: int) -> str:
    return f"2.本处方须在上一次剩余用药量不超过{days}日（含）内凭本处方配取；"


def _pdf(session, id_number: str) -> bytes:
    return render_prescription(prescription_form_data(session, latest(session, Prescription, id_number)))


def test_one_print_gives_the_two_copies_each_with_every_label_and_value(session, forms_clinic):
    pages = [squash(text) for text in page_texts(_pdf(session, forms_clinic.regular))]
    assert len(pages) == 2
    # The copy's mark heads the sheet (the notes also say 医疗机构留存, so compare the start).
    assert pages[0].startswith("附件3医疗机构留存") and pages[1].startswith("附件3患者留存")
    for flat in pages:
        for label in (*LABELS, _note_2(15)):
            assert squash(label) in flat, label
        assert f"{CLINIC_NAME}慢性病用药连续（外配）处方" in flat          # the institution fills the title
        for value in ("张秀兰", "女", "67", "普通居民", "MZ202600123", "全科", "鄂州市华容区临江乡燕矶村3组12号",
                      "13871234567", "原发性高血压、2型糖尿病", "2026年3月2日", "王建华"):
            assert squash(value) in flat, value
        # Each drug line: name, spec, quantity with its unit, 用法用量 (84 days: 84 and 2 × 84 tablets).
        assert "1.苯磺酸氨氯地平片5mg84片口服每日1次每次1片（84天）" in flat
        assert "2.盐酸二甲双胍片0.5g168片口服每日2次每次1片（84天）" in flat
        assert "第1页" not in flat                                       # one sheet per copy: no page numbers


def test_prescription_embeds_every_font_as_a_subset(session, forms_clinic):
    found = fonts(_pdf(session, forms_clinic.long_text))
    assert found and all(f.embedded and f.subset for f in found), found


def test_thirty_drug_lines_continue_on_further_sheets_with_the_header_repeated(session, forms_clinic):
    rx = latest(session, Prescription, forms_clinic.long_text)
    names = [line.drug_name for line in rx.lines]
    assert len(names) == 30
    pdf = _pdf(session, forms_clinic.long_text)
    pages = [squash(text) for text in page_texts(pdf)]
    assert len(pages) == 6                                              # 10 lines a sheet, two copies
    per_page = prescription_form.LINES_PER_PAGE
    for number, flat in enumerate(pages):
        sheet, copy = number % 3 + 1, prescription_form.COPIES[number // 3]
        assert flat.startswith(f"附件3{copy}第{sheet}页/共3页")
        assert ("（续）" in flat) == (sheet > 1) and ("（续下页）" in flat) == (sheet < 3)
        for label in (*LABELS, _note_2(15)):                            # every sheet is a whole form
            assert squash(label) in flat, (number, label)
        first = (sheet - 1) * per_page
        for i, name in enumerate(names):
            assert (f"{i + 1}.{name}" in flat) == (first <= i < first + per_page), (number, i)
    # No line runs into the signatures: every drug-line word sits above the footer rule.
    footer = 204.0
    for page in (1, 3):
        table = [w for w in words(pdf, page) if prescription_form.ROWS_TOP <= w.top < footer]
        assert table and all(w.bottom < footer for w in table)


def test_long_name_address_and_diagnosis_stay_on_their_lines(session, forms_clinic):
    pdf = _pdf(session, forms_clinic.long_text)
    found = words(pdf)
    room = 7.5
    left, second, right = prescription_form.LEFT, prescription_form.SECOND, prescription_form.RIGHT
    fields = {("姓名", LONG_NAME): (64, 49), ("地址", as_stored(LONG_ADDRESS)): (second - 4, 67),
              ("临床诊断", LONG_DIAGNOSIS): (right, 76)}
    for (label, value), (end, baseline) in fields.items():
        # The value's box: from the end of its label to the end of its underline, and from the line
        # above (it may wrap upwards into the line pitch) down to the underline.
        start = left + width_mm(label, 11) + 1
        assert text_in_box(found, start, baseline - room - 1.5, end, baseline + 1.2) == squash(value), value
    assert all(w.right <= prescription_form.RIGHT + 0.3 for w in found)


def _lvliang_prescription(tmp_path):
    """A 吕梁 clinic's prescription: its policy document gives no refill window (seeds/002)."""
    from clinic.prescriptions import LineInput, create_prescription
    from clinic.profile import policy_in_force

    db = open_database(tmp_path / "lvliang.db")
    with db.session("admin") as s:
        create_local_institution(s, "H14110000101", "吕梁市离石区信义镇某村卫生室", "1", "lvliang")
    db.load_local_institution()
    with db.session("doctor") as s:
        add_drugs(s)
        patient = add_patient(s, filed_on=date(2026, 2, 1))
        on = date(2026, 3, 2)
        create_prescription(s, patient, policy_in_force(s, on), entitled={"hypertension"}, prescriber_name="王医生",
                            prescribed_on=on, diagnosis="原发性高血压", lines=[LineInput(AML, Decimal(1), "qd", 28)])
    return db


def test_note_2_takes_the_refill_window_from_the_policy_and_refuses_to_guess(tmp_path):
    db = _lvliang_prescription(tmp_path)
    with pytest.raises(FormError, match="prescription.refill_window_days"), db.session() as s:
        prescription_form_data(s, s.query(Prescription).one())
    with db.session("admin") as s:
        set_policy_setting(s, "lvliang", "prescription.refill_window_days", "10")
    with db.session() as s:
        pages = [squash(text) for text in page_texts(render_prescription(
            prescription_form_data(s, s.query(Prescription).one())))]
    db.close()
    assert all(_note_2(10) in flat and _note_2(15) not in flat for flat in pages)

"""附件2 参保人员“两病”门诊用药保障审定表 (seeds/000_12abe66d303e04d1.txt 附件2), read back from the PDF."""

from __future__ import annotations

from datetime import date

from clinic.db.engine import open_database
from clinic.db.models import Filing
from clinic.profile import create_local_institution
from forms import filing_form
from forms.filing_form import filing_form_data, render_filing_form
from tests.clinic_fixtures import add_patient
from tests.forms.clinic_for_forms import (
    HISTORY,
    LONG_ADDRESS,
    LONG_INSURED_PLACE,
    LONG_NAME,
    OPINION,
    PLANS,
    as_stored,
    latest,
)
from tests.forms.pdf_tools import fonts, page_texts, squash, text_in_box, words

# Every label the seed's 附件2 prints, in its words.
LABELS = ("附件2", "参保人员“两病”门诊用药保障审定表", "姓名", "性别", "年龄", "身份证号", "家庭住址", "参保地",
          "申报病种", "高血压", "糖尿病", "专家意见", "病史及诊断：", "治疗方案：", "签字：", "医院意见", "签章：")


def _pdf(session, id_number: str) -> bytes:
    return render_filing_form(filing_form_data(session, latest(session, Filing, id_number)))


def test_filing_form_prints_every_label_of_附件2_and_the_filing_filled_in(session, forms_clinic):
    pdf = _pdf(session, forms_clinic.regular)
    (text,) = page_texts(pdf)
    flat = squash(text)
    for label in LABELS:
        assert squash(label) in flat, label
    assert "鄂州市参保人员“两病”门诊用药保障审定表" in flat
    for value in ("张秀兰", "女", "67", forms_clinic.regular, "鄂州市华容区临江乡燕矶村3组12号", "鄂州市华容区",
                  "王建华", "2026年1月12日", OPINION, "2026年1月20日"):
        assert squash(value) in flat, value
    # Both diseases were declared the same day: one form, both ticked, each text under its disease.
    assert "☑高血压" in flat and "☑糖尿病" in flat and "□" not in flat
    for disease, name in (("hypertension", "高血压"), ("diabetes", "糖尿病")):
        assert squash(f"{name}：{HISTORY[disease]}") in flat
        assert squash(f"{name}：{PLANS[disease]}") in flat
    assert flat.count("签字：") == 2 and flat.count("签章：") == 1
    assert "演示数据" not in flat                       # not a demo database


def test_filing_form_embeds_every_font_as_a_subset(session, forms_clinic):
    found = fonts(_pdf(session, forms_clinic.regular))
    assert found and all(f.embedded and f.subset and f.type == "TrueType" for f in found), found


def test_undeclared_disease_box_and_unsigned_opinions_stay_blank_for_handwriting(session, forms_clinic):
    # 钱桂英 declared diabetes only; the filing is submitted, not yet reviewed: no 医院意见 yet.
    pdf = _pdf(session, forms_clinic.filed_only)
    flat = squash(page_texts(pdf)[0])
    assert "□高血压" in flat and "☑糖尿病" in flat
    found = words(pdf)
    x, w = filing_form._span(1, 7)
    hospital_top = filing_form.TABLE_TOP + 3 * filing_form.ROW_H + 2 * filing_form.OPINION_H
    hospital = text_in_box(found, x, hospital_top, x + w, hospital_top + filing_form.HOSPITAL_H)
    assert hospital == "签章：年月日"                    # the words of the blank, nothing filled in


def test_long_name_address_and_insured_place_shrink_or_wrap_inside_their_cells(session, forms_clinic):
    pdf = _pdf(session, forms_clinic.long_text)
    found = words(pdf)
    top, second = filing_form.TABLE_TOP, filing_form.TABLE_TOP + filing_form.ROW_H
    cells = {LONG_NAME: (filing_form._span(1, 1), top), as_stored(LONG_ADDRESS): (filing_form._span(1, 5), second),
             as_stored(LONG_INSURED_PLACE): (filing_form._span(7, 7), second)}
    for value, ((x, w), cell_top) in cells.items():
        assert text_in_box(found, x, cell_top, x + w, cell_top + filing_form.ROW_H) == squash(value), value
    overflowing = [word for word in found if word.right > filing_form.RIGHT + 0.3]
    assert not overflowing


def test_title_city_comes_from_the_clinic_policy_region(tmp_path):
    # A 吕梁 clinic prints 吕梁市 (resources/policies/lvliang-*.toml city), not 鄂州市.
    db = open_database(tmp_path / "lvliang.db")
    with db.session("admin") as s:
        create_local_institution(s, "H14110000101", "吕梁市离石区信义镇某村卫生室", "1", "lvliang")
    db.load_local_institution()
    with db.session("doctor") as s:
        add_patient(s, filed_on=date(2026, 2, 1))
    with db.session() as s:
        filing = s.query(Filing).one()
        flat = squash(page_texts(render_filing_form(filing_form_data(s, filing)))[0])
    db.close()
    assert "吕梁市参保人员“两病”门诊用药保障审定表" in flat and "鄂州" not in flat

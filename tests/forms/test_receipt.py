"""结算单 and 退费单: every figure the settlement stored, printed to the cent, read back from the PDF."""

from __future__ import annotations

from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select

from clinic.db.models import Dispense, Settlement
from forms.receipt import receipt_data, render_receipt
from tests.forms.clinic_for_forms import CLINIC_NAME, PHARMACIST, REFUND_REASON
from tests.forms.pdf_tools import fonts, page_texts, squash

LABELS = ("“两病”门诊用药结算单", "结算单号", "结算日期", "姓名", "身份证号", "险种", "经办人", "药品", "规格", "数量",
          "单价", "金额", "医保支付标准", "费用总额", "政策范围内费用", "范围外费用", "超支付标准自付", "起付线",
          "统筹基金支付", "超限额费用", "个人自付", "大病保险可申报金额", "病种", "报销比例", "基金支付",
          "本年累计基金支付", "年度限额", "剩余额度", "超限额", "患者（家属）签字：")


def _settlement(session, receipt_no: str) -> Settlement:
    return session.scalar(select(Settlement).where(Settlement.receipt_no == receipt_no))


def _text(session, receipt_no: str) -> str:
    (page,) = page_texts(render_receipt(receipt_data(session, _settlement(session, receipt_no))))
    return squash(page)


def _row(label: str, amount: Decimal) -> str:
    return f"{label}{amount:.2f}"


def test_receipt_shows_clinic_patient_lines_and_every_stored_amount(session, forms_clinic):
    s = _settlement(session, forms_clinic.receipt_no)
    flat = _text(session, forms_clinic.receipt_no)
    for label in LABELS:
        assert squash(label) in flat, label
    assert flat.startswith(CLINIC_NAME + "“两病”门诊用药结算单")
    for value in (forms_clinic.receipt_no, "2026-03-02", "张秀兰", "4207**********0249", "城乡居民", PHARMACIST):
        assert value in flat, value
    assert forms_clinic.regular not in flat                       # the full ID number is not handed out
    for line in session.get(Dispense, s.dispense_id).lines:
        assert f"{line.drug_name}{line.spec}{line.quantity.normalize():f}片" in flat
        assert f"{line.line_total:.2f}" in flat
    for label, amount in (("费用总额", s.total), ("政策范围内费用", s.policy_range), ("统筹基金支付", s.fund_pay),
                          ("个人自付", s.self_pay), ("范围外费用", s.out_of_scope), ("起付线", s.deductible)):
        assert _row(label, amount) in flat, label
    assert s.total == s.fund_pay + s.self_pay and s.fund_pay > 0
    # Primary hypertension at 60 %, secondary diabetes at half of it (seeds/000 二(一)4(1),(4)).
    by_disease = {d.disease: d for d in s.diseases}
    hypertension, diabetes = by_disease["hypertension"], by_disease["diabetes"]
    assert (hypertension.ratio, diabetes.ratio) == (Decimal("0.60"), Decimal("0.30"))
    assert (f"高血压（普通·主要）60%{hypertension.fund_pay:.2f}{hypertension.fund_pay:.2f}1000.00"
            f"{Decimal(1000) - hypertension.fund_pay:.2f}0.00") in flat
    assert (f"糖尿病（普通·次要）30%{diabetes.fund_pay:.2f}{diabetes.fund_pay:.2f}1000.00"
            f"{Decimal(1000) - diabetes.fund_pay:.2f}0.00") in flat
    assert "退费" not in flat


def test_refund_prints_as_a_refund_with_negative_amounts_and_the_original_receipt(session, forms_clinic):
    original = _settlement(session, forms_clinic.receipt_no)
    flat = _text(session, forms_clinic.refund_no)
    assert "“两病”门诊用药退费单" in flat and "“两病”门诊用药结算单" not in flat
    assert f"退费单号{forms_clinic.refund_no}退费日期2026-03-03" in flat
    assert f"原结算单号{forms_clinic.receipt_no}退费原因{REFUND_REASON}" in flat
    for label, amount in (("费用总额", original.total), ("统筹基金支付", original.fund_pay),
                          ("个人自付", original.self_pay), ("政策范围内费用", original.policy_range)):
        assert _row(label, -amount) in flat, label
    for line in session.get(Dispense, original.dispense_id).lines:
        assert f"-{line.quantity.normalize():f}片" in flat and f"-{line.line_total:.2f}" in flat
    # After the refund the fund's payment is back under the cap: year to date 0.00, all 1000.00 left.
    hypertension = next(d for d in original.diseases if d.disease == "hypertension")
    assert f"高血压（普通·主要）60%-{hypertension.fund_pay:.2f}0.001000.001000.00" in flat
    assert f"冲销原结算单{forms_clinic.receipt_no}" in flat


def test_purchase_past_the_annual_cap_shows_what_大病保险_may_cover(session, forms_clinic):
    # seeds/000 二(一)4(2),5: 职工 80 % 缴费 → 90 − 5 = 85 %; cap 2000 with 1999.00 already paid elsewhere;
    # the self-paid part and the part above the cap go to 大病保险.
    s = _settlement(session, forms_clinic.over_cap_receipt_no)
    flat = _text(session, forms_clinic.over_cap_receipt_no)
    assert s.fund_pay == Decimal("1.00")
    covered = (s.fund_pay / Decimal("0.85")).quantize(Decimal("0.01"), ROUND_HALF_UP)   # cost the 1.00 paid 85 % of
    within_cap, over_cap = covered - s.fund_pay, s.policy_range - covered
    assert (within_cap, over_cap) == (Decimal("0.18"), s.over_cap) and over_cap > 0
    assert s.major_illness_eligible == within_cap + over_cap
    assert "城镇职工（按80%标准缴费）" in flat
    assert _row("超限额费用", s.over_cap) in flat
    assert (f"大病保险可申报金额（限额内个人自负{within_cap:.2f}+超限额{s.over_cap:.2f}）"
            f"{s.major_illness_eligible:.2f}") in flat
    assert f"高血压（普通·主要）85%1.002000.002000.000.00{s.over_cap:.2f}" in flat


def test_receipt_embeds_every_font_as_a_subset(session, forms_clinic):
    pdf = render_receipt(receipt_data(session, _settlement(session, forms_clinic.refund_no)))
    found = fonts(pdf)
    assert found and all(f.embedded and f.subset for f in found), found


def test_a_long_receipt_continues_and_prints_its_totals_once_on_the_last_page(session, forms_clinic):
    data = receipt_data(session, _settlement(session, forms_clinic.receipt_no))
    many = replace(data, lines=tuple(replace(data.lines[0], name=f"药品{i + 1:02d}号") for i in range(30)))
    pages = [squash(text) for text in page_texts(render_receipt(many))]
    assert len(pages) == 2                                          # 24 lines, then 6 beside the totals
    assert "第1页/共2页" in pages[0] and "第2页/共2页" in pages[1] and "（续）" in pages[1]
    assert [f"药品{i + 1:02d}号" in pages[0] for i in range(30)] == [i < 24 for i in range(30)]
    assert all(f"药品{i + 1:02d}号" in pages[1] for i in range(24, 30))
    assert "费用总额" not in pages[0] and pages[1].count("费用总额") == 1
    assert all(forms_clinic.receipt_no in page and "张秀兰" in page for page in pages)

"""Text fitting shared by every form (forms/layout.py): text never leaves its box, shrinks before it
wraps, wraps without breaking numbers or starting a line with closing punctuation, and is only cut
(visibly, with …) when even the smallest size has no room."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from reportlab.lib.units import mm

from forms.layout import LEADING, fit_text, money, price, split_pages, width, wrap

CJK_TEXT = st.text(alphabet=st.sampled_from(list("张王李秀兰建国鄂州华容区临江乡村组号，。、（）：0123456789mgL./ ")),
                   min_size=0, max_size=120)


@settings(max_examples=150, deadline=None)
@given(text=CJK_TEXT, box_w=st.floats(15, 120), box_h=st.floats(4, 30))
def test_fitted_text_never_leaves_its_box(text, box_w, box_h):
    fitted = fit_text(text, box_w * mm, box_h * mm, 11, 6)
    assert 6 <= fitted.size <= 11
    assert all(width(line, fitted.size) <= box_w * mm + 1e-6 for line in fitted.lines)
    if not fitted.truncated:
        assert fitted.height <= box_h * mm + 1e-6 or len(fitted.lines) == 1
        assert "".join(fitted.lines).replace(" ", "") == text.strip().replace(" ", "")   # nothing lost


def test_a_name_that_almost_fits_shrinks_on_one_line_before_it_wraps():
    name = "阿卜杜热合曼·买买提"
    fitted = fit_text(name, width(name, 11) * 0.9, 11 * LEADING * 2.5, 11, 6)
    assert fitted.lines == (name,) and 11 * 0.75 <= fitted.size < 11


def test_wrapping_keeps_numbers_and_units_whole_and_never_starts_a_line_with_closing_punctuation():
    text = "最高血压180/110mmHg，空腹血糖7.8mmol/L。"
    for w in range(40, 200, 7):
        lines = wrap(text, 11, w)
        assert "".join(lines) == text
        assert all(line[0] not in "，。）" for line in lines if line)
        for token in ("180/110mmHg", "7.8mmol/L"):        # each followed by a full-width ，or 。
            if width(token + "。", 11) <= w:
                assert any(token in line for line in lines), (w, lines)


def test_text_too_long_for_the_smallest_size_is_cut_visibly_and_says_so():
    fitted = fit_text("鄂州市华容区" * 40, 30 * mm, 8 * mm, 11, 6)
    assert fitted.truncated and fitted.size == 6 and fitted.lines[-1].endswith("…")
    assert fitted.height <= 8 * mm


def test_money_prints_cents_and_a_refund_negative_never_minus_zero():
    assert money(Decimal("8.4")) == "8.40" and money(Decimal("-5.6")) == "-5.60"
    assert money(Decimal("-0.00")) == "0.00" and money(Decimal("0.005")) == "0.01"     # half up
    assert price(Decimal("0.0658")) == "0.0658" and price(Decimal("3")) == "3.00"


def test_pages_of_lines_leave_room_for_the_totals_on_the_last_page():
    assert split_pages(30, 10) == [range(0, 10), range(10, 20), range(20, 30)]
    assert split_pages(0, 10) == [range(0, 0)]
    # 24 lines a page, 13 beside the totals: the totals never stand alone on a page.
    pages = split_pages(25, 24, 13)
    assert [len(p) for p in pages] == [24, 1] and pages[-1] == range(24, 25)
    assert [len(p) for p in split_pages(14, 24, 13)] == [13, 1]

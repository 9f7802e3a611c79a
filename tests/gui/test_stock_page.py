"""药品库存 page: receive stock, count corrections with a reason, warnings, and the drug-list import,
through the real widgets on a real clinic database."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from PySide6.QtCore import QDate
from PySide6.QtWidgets import QPlainTextEdit

from clinic.db.models import StockMovement
from clinic.stock import on_hand, receive
from desktop.gui.stock_page import LOW_BG, SOON_BG, StockPage
from tests.clinic_fixtures import AML, MET, add_drugs
from tests.gui.b_helpers import finish_b_tasks, install_app_fonts, make_ctx, settle  # noqa: F401 (an autouse fixture)

TODAY = date(2026, 3, 15)


@pytest.fixture
def stocked_db(db):
    with db.session("test") as s:
        add_drugs(s)
    return db


def open_page(qtbot, qapp, db, role="pharmacist") -> StockPage:
    install_app_fonts(qapp)
    ctx = make_ctx(db, role, TODAY)
    page = StockPage(ctx)
    qtbot.addWidget(page)
    page.resize(1366, 768)
    page.show()
    with qtbot.waitSignal(page.loaded, timeout=20000):
        page.refresh()
    return page


def row_of(page: StockPage, code: str) -> int:
    return [row.code for row in page.rows].index(code)


def select_drug(qtbot, page: StockPage, code: str) -> None:
    with qtbot.waitSignal(page.lots_loaded, timeout=20000):
        page.drugs.selectRow(row_of(page, code))


def test_receiving_stock_increases_on_hand(qtbot, qapp, stocked_db):
    page = open_page(qtbot, qapp, stocked_db)
    assert page.rows[row_of(page, AML)].stocked is False
    dialog = page.receive(AML)
    qtbot.waitUntil(lambda: dialog.drug.count() > 0, timeout=20000)
    assert dialog.selected_code() == AML
    dialog.lot_no.setText("L2026A")
    dialog.quantity.setText("100")
    dialog.cost.setText("0.42")
    dialog.supplier.setText("国药控股鄂州有限公司")
    # No expiry typed: refused in the dialog, nothing saved.
    dialog.ok.click()
    assert "有效期" in dialog.message.text() and dialog.isVisible()
    dialog.expiry.setDate(QDate(2027, 12, 31))
    with qtbot.waitSignal(page.changed, timeout=20000) as saved:
        dialog.ok.click()
    assert "现有库存 100" in saved.args[0]
    settle(qtbot, page.ctx)
    with stocked_db.session() as s:
        assert on_hand(s, AML) == Decimal(100)
    r = row_of(page, AML)
    assert page.drugs.item(r, 7).text() == "100"
    qtbot.waitUntil(lambda: page.lot_table.rowCount() == 1, timeout=20000)
    assert page.lot_table.item(0, 0).text() == "L2026A"
    assert page.lot_table.item(0, 4).text() == "国药控股鄂州有限公司"
    assert page.moves.item(0, 1).text() == "入库" and page.moves.item(0, 3).text() == "+100"
    settle(qtbot, page.ctx)


def test_an_expired_lot_is_refused_with_the_reason(qtbot, qapp, stocked_db):
    page = open_page(qtbot, qapp, stocked_db)
    dialog = page.receive(MET)
    qtbot.waitUntil(lambda: dialog.drug.count() > 0, timeout=20000)
    dialog.lot_no.setText("OLD1")
    dialog.quantity.setText("50")
    dialog.expiry.setDate(QDate(2026, 1, 31))
    dialog.ok.click()
    qtbot.waitUntil(lambda: "过期" in dialog.message.text(), timeout=20000)
    assert "不能入库" in dialog.message.text() and dialog.isVisible()
    with stocked_db.session() as s:
        assert on_hand(s, MET) == 0
    dialog.reject()
    settle(qtbot, page.ctx)


def test_a_count_correction_needs_a_reason(qtbot, qapp, stocked_db):
    with stocked_db.session("test") as s:
        receive(s, AML, "L1", date(2027, 6, 30), "100", TODAY)
    page = open_page(qtbot, qapp, stocked_db)
    select_drug(qtbot, page, AML)
    dialog = page.change_lot("count")
    assert dialog.quantity.text() == "100"
    dialog.quantity.setText("96")
    dialog.ok.click()
    assert "必须填写原因" in dialog.message.text()
    with stocked_db.session() as s:
        assert on_hand(s, AML) == Decimal(100)            # nothing written without a reason
    dialog.reason.setText("月末盘点实数")
    with qtbot.waitSignal(page.changed, timeout=20000) as saved:
        dialog.ok.click()
    assert "-4" in saved.args[0]
    with stocked_db.session() as s:
        assert on_hand(s, AML) == Decimal(96)
        move = s.query(StockMovement).filter_by(kind="count").one()
        assert move.reason == "月末盘点实数" and move.quantity == Decimal(-4)
    qtbot.waitUntil(lambda: page.moves.rowCount() == 2 and page.moves.item(0, 1).text() == "盘点调整", timeout=20000)
    assert page.moves.item(0, 4).text() == "月末盘点实数"
    settle(qtbot, page.ctx)


def test_a_loss_larger_than_the_lot_is_refused(qtbot, qapp, stocked_db):
    with stocked_db.session("test") as s:
        receive(s, AML, "L1", date(2027, 6, 30), "10", TODAY)
    page = open_page(qtbot, qapp, stocked_db)
    select_drug(qtbot, page, AML)
    dialog = page.change_lot("loss")
    dialog.quantity.setText("11")
    dialog.reason.setText("包装破损")
    dialog.ok.click()
    qtbot.waitUntil(lambda: "不能报损" in dialog.message.text(), timeout=20000)
    dialog.reject()
    settle(qtbot, page.ctx)


def test_low_stock_and_near_expiry_are_highlighted(qtbot, qapp, stocked_db):
    with stocked_db.session("test") as s:
        receive(s, AML, "SOON", date(2026, 5, 1), "200", TODAY)      # expires within 90 days
        receive(s, MET, "FEW", date(2028, 1, 1), "12", TODAY)        # below the default 30
    page = open_page(qtbot, qapp, stocked_db)
    aml, met = page.rows[row_of(page, AML)], page.rows[row_of(page, MET)]
    assert aml.near_expiry and not aml.low and aml.warning == "近效期"
    assert met.low and not met.near_expiry and met.warning == "库存不足"
    assert page.drugs.item(row_of(page, AML), 1).background().color() == SOON_BG
    assert page.drugs.item(row_of(page, MET), 1).background().color() == LOW_BG
    assert row_of(page, AML) < 2 and row_of(page, MET) < 2          # warned drugs come first
    # The thresholds are the clinic's to change: with a lower minimum and a shorter window, no warning.
    page.low_edit.setText("10")
    page.days_edit.setText("30")
    with qtbot.waitSignal(page.loaded, timeout=20000):
        page.save_limits.click()
    assert not page.rows[row_of(page, MET)].low and not page.rows[row_of(page, AML)].near_expiry
    page.only_warnings.setChecked(True)
    qtbot.waitUntil(lambda: page.rows == [], timeout=20000)
    page.only_warnings.setChecked(False)
    page.low_edit.setText("-1")
    page.save_limits.click()
    qtbot.waitUntil(lambda: "不能为负数" in page.limits_message.text(), timeout=20000)
    settle(qtbot, page.ctx)
    assert page.low_edit.text() == "-1"               # the user's input stays for correction
    settle(qtbot, page.ctx)


def test_stock_page_screenshot(qtbot, qapp, tmp_path_factory):
    from clinic.db.engine import open_database
    from clinic.demo.build import build_demo
    database = open_database(tmp_path_factory.mktemp("stockdemo") / "demo.db")
    build_demo(database, patients=30, today=TODAY)
    page = open_page(qtbot, qapp, database, "admin")
    qtbot.waitUntil(lambda: page.lot_table.rowCount() > 0, timeout=20000)
    assert any(row.stocked for row in page.rows)
    page.grab().save("/tmp/b_stock_page.png")
    settle(qtbot, page.ctx)
    database.close()


def test_importing_the_provincial_list_reports_each_bad_row(qtbot, qapp, stocked_db, tmp_path):
    csv = tmp_path / "省药品目录.csv"
    csv.write_text("医保药品编码,通用名,规格,剂型,最小单位,类别,甲乙类,零售价\n"
                   "XC09AAA001,卡托普利片,25mg,片剂,片,降压,甲,0.05\n"
                   "XC09AAA002,依那普利片,5mg,片剂,片,降压,丙,0.10\n", encoding="utf-8")
    page = open_page(qtbot, qapp, stocked_db)
    with qtbot.waitSignal(page.loaded, timeout=20000):
        page.import_file(csv)
    text = page.import_dialog.findChild(QPlainTextEdit, "importSummary").toPlainText()
    assert "新增 1 条" in text and "第 3 行" in text and "甲乙类" in text
    assert "XC09AAA001" in [row.code for row in page.rows]
    assert "XC09AAA002" not in [row.code for row in page.rows]
    page.import_dialog.close()
    settle(qtbot, page.ctx)


def test_a_doctor_sees_stock_but_cannot_change_it(qtbot, qapp, stocked_db):
    page = open_page(qtbot, qapp, stocked_db, "doctor")
    assert len(page.rows) == 3
    for button in (page.receive_button, page.import_button, page.count_button, page.loss_button, page.save_limits):
        assert not button.isEnabled()
    settle(qtbot, page.ctx)

"""本年度医保额度 on the patient page and 期初余额 in 设置 (issue 12 items 2 and 8), through the real widgets
on a fresh clinic file per test: purchases, a refund across the year end and an opening balance made
by the product's own code; every read and the import run as background tasks (waited on by signal)."""

from __future__ import annotations

from datetime import date

import pytest

from clinic.opening_balances import import_opening_balances
from desktop.gui.patient_page import PatientPage
from desktop.gui.settings_page import SettingsPage
from tests.gui.b_helpers import finish_b_tasks, make_ctx, settle  # noqa: F401 (an autouse fixture)
from tests.ledger_helpers import make_shop

ID = "420704196001010016"
TODAY = date(2026, 1, 20)
HEADER = "身份证号,病种,年度,统筹基金已支付,起付线已付\n"


@pytest.fixture
def shop(tmp_path):
    shop = make_shop(tmp_path / "c.db", id_number=ID)
    yield shop
    shop.db.close()


def opening_csv(tmp_path, *rows: str, name: str = "opening.csv"):
    path = tmp_path / name
    path.write_text(HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")
    return str(path)


def cells(table) -> list[list[str]]:
    return [[table.item(r, c).text() for c in range(table.columnCount())] for r in range(table.rowCount())]


def test_patient_page_ledger_box_shows_cap_paid_remaining_and_every_entry(qtbot, shop, tmp_path):
    december = shop.buy(date(2025, 12, 1), "T1", 100)           # fund 600.00
    refund = shop.refund(december, date(2026, 1, 5))             # credits 2025
    with shop.db.session("admin") as s:
        import_opening_balances(s, opening_csv(tmp_path, f"{ID},高血压,2026,200.00,0"), user="admin", role="admin",
                                today=date(2026, 1, 8))
    january = shop.buy(date(2026, 1, 10), "T1", 50)               # fund 300.00
    ctx = make_ctx(shop.db, "doctor", TODAY)
    page = PatientPage(ctx)
    qtbot.addWidget(page)
    page.show()
    with qtbot.waitSignal(page.ledger.loaded, timeout=20000):
        page.set_patient(shop.patient_id)
    box = page.ledger
    assert page.tabs.tabText(page.tabs.indexOf(box)) == "本年度医保额度"
    # 鄂州方案 二(一)4(1): 城乡居民 普通 1000 元; 200.00 before the product + 300.00 here.
    assert cells(box.quota) == [["高血压", "普通", "1000.00", "500.00", "500.00"]]
    assert box.deductible.text() == "起付线：本年 0.00 元，已付 0.00 元，剩余 0.00 元"
    assert [row[:8] for row in cells(box.entries)] == [
        ["2026-01-10", january.receipt_no, "高血压", "300.00", "0.00", "2026", "", "本机构"],
        ["—", "—", "高血压", "200.00", "0.00", "2026", "", "期初余额"]]
    with qtbot.waitSignal(box.loaded, timeout=20000):
        box.year.setValue(2025)
    assert cells(box.quota) == [["高血压", "普通", "1000.00", "0.00", "1000.00"]]
    assert [(row[0], row[1], row[3], row[5], row[6]) for row in cells(box.entries)] == [
        ("2025-12-01", december.receipt_no, "600.00", "2025", ""),
        ("2026-01-05", refund.receipt_no, "-600.00", "2025", december.receipt_no)]
    settle(qtbot, ctx)


def open_settings(qtbot, db, role) -> SettingsPage:
    ctx = make_ctx(db, role, TODAY)
    page = SettingsPage(ctx)
    qtbot.addWidget(page)
    page.show()
    settle(qtbot, ctx)
    return page


def test_settings_opening_balance_import_runs_in_the_background_and_shows_the_report(qtbot, shop, tmp_path):
    page = open_settings(qtbot, shop.db, "admin")
    titles = [page.tabs.tabText(i) for i in range(page.tabs.count())]
    assert "期初余额" in titles
    section = page.opening
    path = opening_csv(tmp_path, f"{ID},高血压,2026,300,0", f"{ID},肺结核,2026,1,0", f"{ID},糖尿病,2030,1,0")
    with qtbot.waitSignal(section.imported, timeout=20000) as done:
        section.import_file(path)
    assert (done.args[0].added, done.args[0].refused) == (1, 2)
    assert "已导入 1 条，2 条有错误未导入" in section.message.text()
    text = section.report.toPlainText()
    assert "第 3 行【病种】病种应为“高血压”或“糖尿病”，而不是“肺结核”" in text and "第 4 行【年度】" in text
    with qtbot.waitSignal(section.failed, timeout=20000):
        section.import_file(str(tmp_path / "missing.xlsx"))
    assert section.message.text().startswith("未导入任何数据：无法读取文件 missing.xlsx")
    assert section.import_button.isEnabled()
    with qtbot.waitSignal(section.imported, timeout=20000):
        section.import_file(opening_csv(tmp_path, f"{ID},高血压,2026,350,0", name="fixed.csv"))
    assert section.message.text() == "已全部导入（1 条）" and "更新 1 条" in section.report.toPlainText()
    settle(qtbot, page.ctx)


def test_settings_opening_balance_import_is_for_administrators_only(qtbot, shop):
    for role in ("doctor", "pharmacist"):
        page = open_settings(qtbot, shop.db, role)
        assert page.opening is None
        assert "期初余额" not in [page.tabs.tabText(i) for i in range(page.tabs.count())]

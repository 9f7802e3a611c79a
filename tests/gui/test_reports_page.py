"""报表 page: a month and a report → the table on screen, print preview, XLSX export equal to the report."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import openpyxl
import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox

from clinic.db.engine import open_database
from clinic.demo.build import build_demo
from clinic.reports import HeaderCell, ReportTable, Row
from clinic.reports.table import COUNT, TEXT
from desktop.gui import ops_reports
from desktop.gui.reports_page import ReportsPage
from tests.gui.b_helpers import finish_b_tasks, install_app_fonts, make_ctx, settle  # noqa: F401 (an autouse fixture)

TODAY = date(2026, 3, 15)


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    database = open_database(tmp_path_factory.mktemp("reports") / "demo.db")
    build_demo(database, patients=60, today=TODAY)
    yield database
    database.close()


@pytest.fixture
def page(qtbot, qapp, demo_db):
    install_app_fonts(qapp)
    ctx = make_ctx(demo_db, "doctor", TODAY)
    widget = ReportsPage(ctx)
    qtbot.addWidget(widget)
    widget.resize(1366, 768)
    widget.show()
    yield widget
    settle(qtbot, ctx)


def generate(qtbot, page: ReportsPage, key: str) -> ReportTable:
    page.kind.setCurrentIndex(page.kind.findData(key))
    with qtbot.waitSignal(page.report_shown, timeout=30000) as shown:
        page.generate_button.click()
    return shown.args[0]


def test_report_defaults_to_last_month_and_shows_every_row(qtbot, page):
    assert page.selected_month() == date(2026, 2, 1)      # reports go up early in the month for the last one
    report = generate(qtbot, page, "monthly.resident")
    assert report.form_label == "附件4" and report.period == "2026年02月" or "2026年2月" in report.period
    depth = len(report.header)
    assert page.table.rowCount() == depth + len(report.rows)
    labels = [page.table.cell(r, 0) for r in range(len(report.rows))]
    assert labels == ["普通高血压", "普通糖尿病", "合计", "重症高血压", "重症糖尿病", "合计"]
    # The screen shows the report's own figures, money to the cent.
    total = report.row("ordinary", "total")
    for c in range(1, report.columns):
        shown = page.table.cell(2, c)
        value = total.cells[c]
        assert shown == (f"{value:.2f}" if isinstance(value, Decimal) else str(value))
    assert report.demo and "演示数据" in page.status.text()
    assert page.xlsx_button.isEnabled() and page.preview_button.isEnabled()
    page.grab().save("/tmp/b_reports_page.png")


def test_xlsx_export_holds_the_figures_of_the_report(qtbot, page, tmp_path, monkeypatch):
    report = generate(qtbot, page, "monthly.resident")
    target = tmp_path / "附件4.xlsx"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    with qtbot.waitSignal(page.exported, timeout=30000):
        page.xlsx_button.click()
    assert "已导出" in page.status.text()
    sheet = openpyxl.load_workbook(target).active
    rows = [[cell for cell in row] for row in sheet.iter_rows(values_only=True)]
    body = [row for row in rows if row and row[0] in ("普通高血压", "普通糖尿病", "合计", "重症高血压", "重症糖尿病")]
    assert len(body) == len(report.rows)
    for written, row in zip(body, report.rows, strict=True):
        for value, expected in zip(written, row.cells, strict=True):
            if isinstance(expected, Decimal):
                assert Decimal(str(value)).quantize(Decimal("0.01")) == expected
            else:
                assert value == expected
    # Some money actually moved in the month (the demo dispenses every month), so this compared figures.
    assert any(isinstance(v, Decimal) and v > 0 for row in report.rows for v in row.cells)


def test_every_report_kind_generates(qtbot, page):
    for kind in ops_reports.REPORT_KINDS:
        report = generate(qtbot, page, kind.key)
        assert page.table.rowCount() == len(report.header) + len(report.rows), kind.key
        assert page.heading.text().endswith(report.title)


def test_kpi_inputs_are_used_and_bad_ones_refused(qtbot, page):
    page.kind.setCurrentIndex(page.kind.findData("kpi"))
    assert page.inputs.isVisible() and "chronic_signing" in page.input_edits
    page.input_edits["chronic_signing"].setText("92%")
    page.input_edits["complaints"].setText("1")
    report = generate(qtbot, page, "kpi")
    assert report.value(("chronic_signing",), "实测率") == Decimal("0.92")
    assert report.value(("complaints",), "扣分例数") == 1
    assert report.value(("package_completion",), "得分") == "待录入"
    page.input_edits["complaints"].setText("很多")
    page.generate_button.click()
    qtbot.waitUntil(lambda: "合理投诉例数" in page.status.text(), timeout=20000)
    assert page.report is report                      # the last good report stays on screen
    # Each report keeps its own inputs: 附件4 asks for 参保人数, and the KPI's are still there on return.
    page.kind.setCurrentIndex(page.kind.findData("monthly.resident"))
    assert "ordinary.hypertension" in page.input_edits and "complaints" not in page.input_edits
    page.kind.setCurrentIndex(page.kind.findData("kpi"))
    assert page.input_edits["chronic_signing"].text() == "92%"
    page.kind.setCurrentIndex(page.kind.findData("units"))
    assert not page.inputs.isVisible()


def test_insured_counts_typed_in_appear_in_the_monthly_report(qtbot, page):
    report = generate(qtbot, page, "monthly.resident")
    assert report.value(("ordinary", "hypertension"), "参保人数") == "待录入"
    page.input_edits["ordinary.hypertension"].setText("1200")
    report = generate(qtbot, page, "monthly.resident")
    assert report.value(("ordinary", "hypertension"), "参保人数") == 1200
    assert page.table.cell(0, 1) == "1200"


def test_print_preview_opens_the_report_pdf(qtbot, page):
    generate(qtbot, page, "units")
    page.preview_button.click()
    qtbot.waitUntil(lambda: getattr(page, "preview_dialog", None) is not None, timeout=30000)
    dialog = page.preview_dialog
    qtbot.waitUntil(lambda: len(dialog.page_labels) >= 1, timeout=30000)
    assert dialog.windowTitle().endswith("参保人员“两病”情况统计表")
    dialog.close()


def test_an_export_with_id_numbers_asks_first(qtbot, page, monkeypatch):
    report = ReportTable(title="名单", header=[[HeaderCell("姓名"), HeaderCell("身份证号"), HeaderCell("次数")]],
                    formats=(TEXT, TEXT, COUNT), rows=[Row(("张三", "420704196001010016", 1))],
                    period="2026年02月", unit="测试")
    assert ops_reports.id_numbers_in(report) == 1
    page.report, page.shown_key = report, "units"
    asked = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.No)
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda *a, **k: pytest.fail("no file may be written after the user said no"))
    page.ask_export("xlsx")
    assert asked and "1 个身份证号" in asked[0]


def test_an_id_like_number_with_a_wrong_check_digit_is_not_counted():
    report = ReportTable(title="t", header=[[HeaderCell("a")]], formats=(TEXT,),
                    rows=[Row(("420704196001010012",)), Row(("订单 4207041960010100111",))], period="", unit="")
    assert ops_reports.id_numbers_in(report) == 0

"""The reports as printed and exported: PDFs read back with poppler (pdftotext: every row label, the
header and signature words and figures; pdffonts: every font embedded), one rendered to PNG, and
XLSX workbooks read back with openpyxl equal to the table (numbers as numbers, merged headers)."""

from __future__ import annotations

import subprocess
from decimal import Decimal
from io import BytesIO

import pytest
from openpyxl import load_workbook

from clinic.reports import dispatch_table, kpi_table, monthly_table, units_table
from clinic.reports.table import MONEY, PERCENT, SCORE
from forms.report_pdf import cell_text, render_pdf
from forms.report_xlsx import header_top, render_xlsx
from tests.reports.builders import MONTH
from tests.reports.test_kpi import ALL_INPUTS

D12 = Decimal("1e-12")
REPORTS = {
    "monthly": lambda s: monthly_table(s, MONTH, "employee", insured={"ordinary.hypertension": 812}),
    "units": lambda s: units_table(s, MONTH),
    "dispatch": lambda s: dispatch_table(s, MONTH),
    "shanxi": lambda s: dispatch_table(s, MONTH, variant="shanxi"),
    "kpi": lambda s: kpi_table(s, MONTH, inputs=ALL_INPUTS),
}


def pdf_text(path) -> str:
    return subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def squeeze(text: str) -> str:
    """pdftotext -raw keeps each cell's text together (content order) but breaks wrapped lines: drop whitespace."""
    return "".join(text.split())


@pytest.mark.parametrize("kind", list(REPORTS))
def test_pdf_shows_every_row_label_the_header_and_the_signature_line(session, tmp_path, kind):
    table = REPORTS[kind](session)
    path = tmp_path / f"{kind}.pdf"
    path.write_bytes(render_pdf(table))
    text = squeeze(pdf_text(path))
    for needed in (table.title, table.form_label, f"统计月份：{table.period}", *table.footer,
                   *(cell.text for cell in table.placed_header())):
        assert squeeze(needed) in text, needed
    for row in table.rows:
        labels = [cell for cell in row.cells if isinstance(cell, str) and cell]
        for label in labels[:3]:
            assert squeeze(label) in text, (row.key, label)
    figures = [cell_text(v, f) for row in table.rows for v, f in zip(row.cells, table.formats, strict=True)
               if isinstance(v, Decimal | int) and abs(v) >= 10]
    assert figures and all(figure in text for figure in figures[:16])
    assert "演示数据" in text                     # the file is demo data, and the print says so


@pytest.mark.parametrize("kind", ["monthly", "kpi"])
def test_every_font_in_the_pdf_is_embedded(session, tmp_path, kind):
    path = tmp_path / "r.pdf"
    path.write_bytes(render_pdf(REPORTS[kind](session)))
    lines = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout.splitlines()
    fonts = lines[2:]
    assert fonts, "no fonts listed"
    for line in fonts:
        assert line.split()[-5] == "yes", line           # the "emb" column
    assert not any("Helvetica" in line for line in fonts)


def test_monthly_report_renders_to_a_landscape_page_with_ink_in_the_table(session, tmp_path):
    from PIL import Image

    path = tmp_path / "m.pdf"
    path.write_bytes(render_pdf(REPORTS["monthly"](session)))
    subprocess.run(["pdftoppm", "-r", "50", "-png", "-f", "1", "-l", "1", str(path), str(tmp_path / "m")], check=True)
    image = Image.open(tmp_path / "m-1.png").convert("L")
    assert image.width > image.height                       # A4 landscape
    band = image.crop((0, int(image.height * 0.15), image.width, int(image.height * 0.45)))
    dark = sum(band.histogram()[:128])
    assert dark > 0.01 * band.width * band.height           # the ruled table is drawn


@pytest.mark.parametrize("kind", list(REPORTS))
def test_xlsx_has_the_same_rows_numbers_as_numbers_and_merged_headers(session, kind):
    table = REPORTS[kind](session)
    sheet = load_workbook(BytesIO(render_xlsx(table))).active
    top = header_top(table)
    assert sheet.cell(top - 2, 1).value == table.title
    merged = {str(r) for r in sheet.merged_cells.ranges}
    for cell in table.placed_header():
        assert sheet.cell(top + cell.row, 1 + cell.col).value == cell.text
        if cell.rowspan > 1 or cell.colspan > 1:
            first = sheet.cell(top + cell.row, 1 + cell.col).coordinate
            last = sheet.cell(top + cell.row + cell.rowspan - 1, cell.col + cell.colspan).coordinate
            assert f"{first}:{last}" in merged
    body = top + len(table.header)
    for r, row in enumerate(table.rows):
        covered = {(m.row + d, m.col) for m in table.merges for d in range(1, m.rowspan)}
        for c, (value, fmt) in enumerate(zip(row.cells, table.formats, strict=True)):
            got = sheet.cell(body + r, 1 + c)
            if (r, c) in covered:
                assert got.value is None
            elif isinstance(value, Decimal):
                # Money and scores are exact; a rate is a fraction Excel stores as a double.
                stored = Decimal(str(got.value))
                assert got.data_type == "n", (row.key, c)
                assert stored == value if fmt != PERCENT else abs(stored - value) < D12, (row.key, c)
                assert got.number_format == {MONEY: "#,##0.00", PERCENT: "0.00%", SCORE: "0.00"}[fmt]
            else:
                assert got.value == (value if value != "" else None), (row.key, c)
    assert sheet.cell(body + len(table.rows) + 1, 1).value.startswith(table.footer[0])


def test_a_long_table_continues_on_the_next_page_under_its_header(tmp_path):
    from clinic.reports import HeaderCell, ReportTable, Row
    from clinic.reports.table import COUNT, TEXT

    rows = [Row((n, f"第{n}村卫生室", n * 3), key=(str(n),)) for n in range(1, 71)]
    table = ReportTable(title="鄂州市参保人员“两病”情况统计表", header=[[HeaderCell("序号"), HeaderCell("填报单位"),
                                                                   HeaderCell("总计")]],
                        formats=(TEXT, TEXT, COUNT), rows=rows, period="2026年2月", unit="华容区临江乡卫生院")
    path = tmp_path / "long.pdf"
    path.write_bytes(render_pdf(table))
    pages = [page for page in pdf_text(path).split("\f") if page.strip()]
    assert len(pages) >= 2
    for n, page in enumerate(pages, start=1):
        assert "序号 填报单位 总计" in page and f"第 {n} 页" in page           # the header repeats
    assert "第70村卫生室" in pages[-1] and "第70村卫生室" not in pages[0]

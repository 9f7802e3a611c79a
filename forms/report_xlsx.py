"""Any clinic.reports ReportTable as an Excel workbook the township can edit and forward: the form label,
title, the merged multi-level header as on paper, the same rows and totals as the PDF with grouped body
cells merged; numbers stay numbers with a display format (money 0.00, rates 0.00%, counts 0), never
text; the signature line and the notes below the table; A4 landscape, one page wide when printed.
"""

from __future__ import annotations

from decimal import Decimal
from io import BytesIO

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from clinic.reports.table import COUNT, MONEY, PERCENT, SCORE, TEXT, ReportTable

NUMBER_FORMATS = {COUNT: "0", MONEY: "#,##0.00", PERCENT: "0.00%", SCORE: "0.00", TEXT: "General"}
THIN = Side(style="thin")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
HEADER_FILL = PatternFill("solid", fgColor="E6E6E6")
TOTAL_FILL = PatternFill("solid", fgColor="F2F2F2")
CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)


def _width(text: str) -> float:
    """Excel column width units: a CJK character takes about two."""
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def header_top(report: ReportTable) -> int:
    """The sheet row (1-based) of the first header row: after the form label, the title and the period."""
    return 4 if report.form_label else 3


def render_xlsx(report: ReportTable) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = (report.form_label or "报表")[:31]
    last = get_column_letter(report.columns)

    if report.form_label:
        sheet.append([report.form_label])
    sheet.append([report.title])
    title_row = sheet.max_row
    sheet.merge_cells(f"A{title_row}:{last}{title_row}")
    sheet.cell(title_row, 1).font = Font(size=14, bold=True)
    sheet.cell(title_row, 1).alignment = CENTER
    sheet.row_dimensions[title_row].height = 28
    period = f"统计月份：{report.period}" + ("　【演示数据，非真实报表】" if report.demo else "")
    sheet.append([period] + [None] * (report.columns - 2) + [report.measure])
    top = header_top(report)

    for cell in report.placed_header():
        row, col = top + cell.row, 1 + cell.col
        sheet.cell(row=row, column=col, value=cell.text)
        if cell.rowspan > 1 or cell.colspan > 1:
            sheet.merge_cells(start_row=row, start_column=col, end_row=row + cell.rowspan - 1,
                              end_column=col + cell.colspan - 1)
    depth = len(report.header)
    for row in sheet.iter_rows(min_row=top, max_row=top + depth - 1, max_col=report.columns):
        for cell in row:
            cell.border, cell.fill, cell.alignment, cell.font = BOX, HEADER_FILL, CENTER, Font(bold=True)

    widths = [min(_width(path[-1]) / 2 + 2, 24) for path in report.column_paths()]
    covered = {(m.row + dr, m.col) for m in report.merges for dr in range(1, m.rowspan)}
    body = top + depth
    for r, data in enumerate(report.rows):
        for c, (value, fmt) in enumerate(zip(data.cells, report.formats, strict=True)):
            cell = sheet.cell(row=body + r, column=c + 1)
            cell.border = BOX
            if data.total:
                cell.fill, cell.font = TOTAL_FILL, Font(bold=True)
            if (r, c) in covered:
                continue
            cell.value = value
            if isinstance(value, Decimal | int) and not isinstance(value, bool):
                cell.number_format = NUMBER_FORMATS[fmt]
                cell.alignment = Alignment(horizontal="right", vertical="center")
            else:
                cell.alignment = Alignment(horizontal="center" if len(str(value or "")) <= 4 else "left",
                                           vertical="center", wrap_text=True)
            shown = f"{value:,.2f}" if isinstance(value, Decimal) else str(value if value is not None else "")
            widths[c] = max(widths[c], min(_width(shown) + 2, 40))
    for m in report.merges:
        sheet.merge_cells(start_row=body + m.row, start_column=m.col + 1, end_row=body + m.row + m.rowspan - 1,
                          end_column=m.col + 1)
    for c, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(c)].width = max(width, 6)

    below = body + len(report.rows) + 1
    sheet.cell(row=below, column=1, value="　　　　".join(report.footer))
    sheet.merge_cells(start_row=below, start_column=1, end_row=below, end_column=report.columns)
    if report.notes:
        text = "说明：\n" + "\n".join(f"{n}. {note}" for n, note in enumerate(report.notes, start=1))
        notes = sheet.cell(row=below + 1, column=1, value=text)
        notes.alignment = Alignment(wrap_text=True, vertical="top")
        sheet.merge_cells(start_row=below + 1, start_column=1, end_row=below + 1, end_column=report.columns)
        sheet.row_dimensions[below + 1].height = 16 * (len(report.notes) + 1) + 20
    sheet.freeze_panes = sheet.cell(row=body, column=1)
    sheet.print_title_rows = f"{top}:{body - 1}"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    out = BytesIO()
    book.save(out)
    return out.getvalue()

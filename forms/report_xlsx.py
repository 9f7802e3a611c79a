"""Any clinic.reports Report as an Excel workbook the township can edit and forward: the same title,
merged multi-level header, rows and totals as the PDF; numbers stay numbers (money 0.00, rates 0.00%),
the 填报单位/填报人/审核人/填报日期 line and the notes below the table.
"""

from __future__ import annotations

from decimal import Decimal
from io import BytesIO

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from clinic.reports.table import COUNT, MONEY, PERCENT, SCORE, TEXT, Report

NUMBER_FORMATS = {COUNT: "0", MONEY: "0.00", PERCENT: "0.00%", SCORE: "0.00", TEXT: "General"}
THIN = Side(style="thin")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
HEADER_FILL = PatternFill("solid", fgColor="E6E6E6")
TOTAL_FILL = PatternFill("solid", fgColor="F2F2F2")
CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)


def _width(text: str) -> float:
    """Excel column width units: a CJK character takes about two."""
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def render_xlsx(report: Report) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = (report.form_label or "报表")[:31]
    last = get_column_letter(report.columns)

    sheet.append([report.title])
    sheet.merge_cells(f"A1:{last}1")
    sheet["A1"].font = Font(size=14, bold=True)
    sheet["A1"].alignment = CENTER
    sheet.row_dimensions[1].height = 28
    period = f"统计月份：{report.period}" + ("　【演示数据，非真实报表】" if report.demo else "")
    sheet.append([period] + [None] * (report.columns - 2) + [report.measure])
    top = 3

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

    widths = [_width(path[-1]) / 2 for path in report.column_paths()]
    for r, data in enumerate(report.rows, start=top + depth):
        for c, (value, fmt) in enumerate(zip(data.cells, report.formats, strict=True), start=1):
            cell = sheet.cell(row=r, column=c, value=value)
            cell.border = BOX
            if isinstance(value, Decimal | int) and not isinstance(value, bool):
                cell.number_format = NUMBER_FORMATS[fmt]
                cell.alignment = Alignment(horizontal="right", vertical="center")
            else:
                cell.alignment = Alignment(horizontal="center" if len(str(value or "")) <= 4 else "left",
                                           vertical="center", wrap_text=True)
            if data.total:
                cell.fill, cell.font = TOTAL_FILL, Font(bold=True)
            widths[c - 1] = max(widths[c - 1], min(_width(str(value if value is not None else "")) + 2, 40))
    for c, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(c)].width = max(width, 6)

    below = top + depth + len(report.rows) + 1
    made = f"{report.prepared_on.year}年{report.prepared_on.month}月{report.prepared_on.day}日" \
        if report.prepared_on else ""
    sheet.cell(row=below, column=1,
               value=f"填报单位：{report.unit}　　填报人：　　　　审核人：　　　　填报日期：{made}")
    sheet.merge_cells(start_row=below, start_column=1, end_row=below, end_column=report.columns)
    if report.notes:
        text = "说明：\n" + "\n".join(f"{n}. {note}" for n, note in enumerate(report.notes, start=1))
        notes = sheet.cell(row=below + 1, column=1, value=text)
        notes.alignment = Alignment(wrap_text=True, vertical="top")
        sheet.merge_cells(start_row=below + 1, start_column=1, end_row=below + 1, end_column=report.columns)
        sheet.row_dimensions[below + 1].height = 15 * (len(report.notes) + 1) + 20
    sheet.freeze_panes = sheet.cell(row=top + depth, column=1)
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    out = BytesIO()
    book.save(out)
    return out.getvalue()

"""Several report tables as one file: a PDF whose pages are each table's own PDF in turn, or a workbook
with each table's own sheet. Each table is rendered by forms/report_pdf.py / forms/report_xlsx.py, so a
table looks the same alone or in a book."""

from __future__ import annotations

from copy import copy
from io import BytesIO

import pypdfium2 as pdfium
from openpyxl import Workbook, load_workbook

from clinic.reports.table import ReportTable
from forms.report_pdf import render_pdf
from forms.report_xlsx import render_xlsx

FORMATS = ("pdf", "xlsx")


def render_pdf_book(tables: list[ReportTable]) -> bytes:
    if len(tables) == 1:
        return render_pdf(tables[0])
    book = pdfium.PdfDocument.new()
    parts = []
    try:
        for table in tables:
            part = pdfium.PdfDocument(render_pdf(table))
            parts.append(part)
            book.import_pages(part)
        out = BytesIO()
        book.save(out)
        return out.getvalue()
    finally:
        for part in parts:
            part.close()
        book.close()


def _sheet_title(wanted: str, taken: set[str]) -> str:
    title, n = (wanted or "报表")[:31], 2
    while title in taken:
        suffix = f"({n})"
        title, n = f"{(wanted or '报表')[:31 - len(suffix)]}{suffix}", n + 1
    taken.add(title)
    return title


def render_xlsx_book(tables: list[ReportTable]) -> bytes:
    if len(tables) == 1:
        return render_xlsx(tables[0])
    book = Workbook()
    book.remove(book.active)
    taken: set[str] = set()
    for table in tables:
        source = load_workbook(BytesIO(render_xlsx(table))).active
        sheet = book.create_sheet(_sheet_title(source.title, taken))
        for row in source.iter_rows():
            for cell in row:
                target = sheet.cell(row=cell.row, column=cell.column, value=cell.value)
                if cell.has_style:
                    target.font, target.border, target.fill = copy(cell.font), copy(cell.border), copy(cell.fill)
                    target.number_format, target.alignment = cell.number_format, copy(cell.alignment)
        for merged in source.merged_cells.ranges:
            sheet.merge_cells(str(merged))
        for key, dim in source.column_dimensions.items():
            sheet.column_dimensions[key].width = dim.width
        for key, dim in source.row_dimensions.items():
            if dim.height is not None:
                sheet.row_dimensions[key].height = dim.height
        sheet.freeze_panes = source.freeze_panes
        sheet.page_setup.orientation = source.page_setup.orientation
        sheet.page_setup.paperSize = source.page_setup.paperSize
        sheet.page_setup.fitToWidth = source.page_setup.fitToWidth
        sheet.sheet_properties.pageSetUpPr.fitToPage = source.sheet_properties.pageSetUpPr.fitToPage
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def render_book(tables: list[ReportTable], fmt: str) -> bytes:
    if fmt not in FORMATS:
        raise ValueError(f"输出格式无效：{fmt!r}（可选：pdf / xlsx）")
    if not tables:
        raise ValueError("没有可输出的报表")
    return render_pdf_book(tables) if fmt == "pdf" else render_xlsx_book(tables)

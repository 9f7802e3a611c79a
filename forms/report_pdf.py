"""Any clinic.reports ReportTable as a PDF like the paper forms (seeds/000 附件4–7, seeds/002–003 调度表,
seeds/004 附件2): landscape A4 (the tables are wide), the form label and title, the period and unit
line, a ruled table with the multi-level header merged as on paper (repeated on every page) and
grouped body cells merged, the signature line (填报单位/填报人/审核人/填报日期), then the notes.
Text is drawn in the bundled CJK font (forms.fonts), embedded as a subset; that face has no Latin
letters or digits, so those runs are set in the bundled symbol face. The page preamble names the CJK
face too, so no unembedded standard font is referenced.
"""

from __future__ import annotations

from decimal import Decimal
from io import BytesIO
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from clinic.reports.table import COUNT, MONEY, PERCENT, SCORE, TEXT, ReportTable, Value
from forms.fonts import CJK, font_runs, register_fonts, text_width

PAGE = landscape(A4)
MARGIN = 12 * mm
WIDTH = PAGE[0] - 2 * MARGIN
PAD = 3                                   # points of cell padding on each side
SIZES = (9, 8.5, 8, 7.5, 7)               # body font sizes tried until the table fits the page width
TEXT_WRAP_CHARS = 14                      # a text column wider than this many characters wraps
HEADER_BG = colors.Color(0.90, 0.90, 0.90)
TOTAL_BG = colors.Color(0.95, 0.95, 0.95)


def cell_text(value: Value, fmt: str) -> str:
    """How a cell prints: money and scores with two decimals, rates as percentages, counts as integers."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if fmt == PERCENT:
        return f"{Decimal(value) * 100:.2f}%"
    if fmt in (MONEY, SCORE):
        return f"{Decimal(value):.2f}"
    return str(value)


def markup(text: str) -> str:
    """Paragraph markup with the runs the CJK face lacks (digits, Latin) in the symbol face."""
    return "".join(escape(part) if font == CJK else f"<font name='{font}'>{escape(part)}</font>"
                   for font, part in font_runs(text))


def draw_text(canvas, x: float, y: float, text: str, size: float, right: bool = False) -> None:
    if right:
        x -= text_width(text, size)
    for font, part in font_runs(text):
        canvas.setFont(font, size)
        canvas.drawString(x, y, part)
        x += pdfmetrics.stringWidth(part, font, size)


def _style(font: str, size: float, align: int = TA_LEFT, leading: float | None = None) -> ParagraphStyle:
    return ParagraphStyle(f"s{size}{align}", fontName=font, fontSize=size, leading=leading or size * 1.25,
                          alignment=align, wordWrap="CJK")


def _leaf_headers(report: ReportTable) -> list[str]:
    """The lowest one-column header text over each column (what sets its minimum width)."""
    leaves = [""] * report.columns
    for cell in sorted(report.placed_header(), key=lambda p: p.row):
        if cell.colspan == 1:
            leaves[cell.col] = cell.text
    return leaves


def _widths(report: ReportTable, size: float, header_lines: int) -> tuple[list[float], list[float]]:
    """Each column's width at this size (long text capped, to wrap), and the width it would like."""
    leaves = _leaf_headers(report)
    widths, wants = [], []
    for c, fmt in enumerate(report.formats):
        body = max((text_width(cell_text(row.cells[c], fmt), size) for row in report.rows), default=0)
        head = text_width(leaves[c], size) / header_lines
        least = max(head, 2 * size) + 2 * PAD + 1
        wants.append(max(body + 2 * PAD + 1, least))
        widths.append(max(min(body, TEXT_WRAP_CHARS * size) + 2 * PAD + 1, least) if fmt == TEXT else wants[-1])
    return widths, wants


def _fit(report: ReportTable) -> tuple[float, list[float]]:
    """The largest font size at which the table fits the page width. Spare width goes first to the
    wrapped text columns (fewer lines), then evenly."""
    for size in SIZES:
        for lines in (3, 4):
            widths, wants = _widths(report, size, lines)
            if sum(widths) <= WIDTH:
                spare = WIDTH - sum(widths)
                short = [max(want - width, 0) for width, want in zip(widths, wants, strict=True)]
                give = min(spare, sum(short))
                widths = [w + (give * s / sum(short) if give else 0) for w, s in zip(widths, short, strict=True)]
                return size, [w + (spare - give) / len(widths) for w in widths]
    # Still too wide at the smallest size: narrow the wrapping text columns, keep the numbers whole.
    size = SIZES[-1]
    widths, _ = _widths(report, size, 4)
    text_cols = [c for c, fmt in enumerate(report.formats) if fmt == TEXT]
    excess = sum(widths) - WIDTH
    text_total = sum(widths[c] for c in text_cols) or 1
    return size, [w - excess * w / text_total if c in text_cols else w for c, w in enumerate(widths)]


def _table(report: ReportTable, font: str) -> Table:
    size, widths = _fit(report)
    head_style = _style(font, size, TA_CENTER)
    align = {TEXT: TA_LEFT, COUNT: TA_RIGHT, MONEY: TA_RIGHT, PERCENT: TA_RIGHT, SCORE: TA_RIGHT}
    styles = {fmt: _style(font, size, a) for fmt, a in align.items()}
    short = _style(font, size, TA_CENTER)

    depth = len(report.header)
    grid: list[list[object]] = [["" for _ in range(report.columns)] for _ in range(depth)]
    # FONTNAME: empty cells (under a span) are drawn as strings too; never in an unembedded Helvetica.
    commands = [("FONTNAME", (0, 0), (-1, -1), font),
                ("GRID", (0, 0), (-1, -1), 0.5, colors.black), ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("BACKGROUND", (0, 0), (-1, depth - 1), HEADER_BG),
                ("LEFTPADDING", (0, 0), (-1, -1), PAD), ("RIGHTPADDING", (0, 0), (-1, -1), PAD),
                ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2)]
    for cell in report.placed_header():
        grid[cell.row][cell.col] = Paragraph(markup(cell.text), head_style)
        if cell.colspan > 1 or cell.rowspan > 1:
            commands.append(("SPAN", (cell.col, cell.row),
                             (cell.col + cell.colspan - 1, cell.row + cell.rowspan - 1)))
    for merge in report.merges:
        commands.append(("SPAN", (merge.col, depth + merge.row), (merge.col, depth + merge.row + merge.rowspan - 1)))
    covered = {(merge.row + dr, merge.col) for merge in report.merges for dr in range(1, merge.rowspan)}
    for r, row in enumerate(report.rows, start=depth):
        line: list[object] = []
        for c, (value, fmt) in enumerate(zip(row.cells, report.formats, strict=True)):
            if (r - depth, c) in covered:
                line.append("")
                continue
            text = cell_text(value, fmt)
            # Short labels (序号, 不适用, 待录入) sit centred, as a hand-filled form would have them.
            style = short if isinstance(value, str) and len(text) <= 4 or (fmt == TEXT and isinstance(value, int)) \
                else styles[fmt]
            line.append(Paragraph(markup(text), style))
        grid.append(line)
        if row.total:
            commands.append(("BACKGROUND", (0, r), (-1, r), TOTAL_BG))
    table = Table(grid, colWidths=widths, repeatRows=depth)
    table.setStyle(TableStyle(commands))
    return table


def _line(cells: list[Paragraph], widths: list[float]) -> Table:
    table = Table([cells], colWidths=widths)
    table.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), CJK),
                               ("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                               ("VALIGN", (0, 0), (-1, -1), "BOTTOM")]))
    return table


def render_pdf(report: ReportTable) -> bytes:
    font, _ = register_fonts()
    out = BytesIO()
    doc = SimpleDocTemplate(out, pagesize=PAGE, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN,
                            bottomMargin=MARGIN + 4 * mm, title=report.title, author=report.unit or "liangbing",
                            subject=report.period, creator="liangbing", lang="zh-CN", initialFontName=CJK,
                            invariant=1, pageCompression=1)
    normal = _style(font, 10)
    story: list = []
    if report.form_label:
        story.append(Paragraph(markup(report.form_label), _style(font, 11)))
    story += [Paragraph(markup(report.title), _style(font, 15, TA_CENTER, 20)), Spacer(1, 3 * mm)]
    period = markup(f"统计月份：{report.period}")
    if report.demo:
        period += "　　<font color='#c00000'>【演示数据，非真实报表】</font>"
    story += [_line([Paragraph(period, normal), Paragraph(markup(report.measure), _style(font, 10, TA_RIGHT))],
                    [WIDTH * 0.7, WIDTH * 0.3]), Spacer(1, 1.5 * mm), _table(report, font), Spacer(1, 3 * mm)]
    story.append(_line([Paragraph(markup(text), normal) for text in report.footer], _footer_widths(report.footer)))
    if report.notes:
        small = _style(font, 8)
        story.append(Spacer(1, 2.5 * mm))
        story.append(Paragraph("说明：", small))
        story += [Paragraph(markup(f"{n}. {note}"), small) for n, note in enumerate(report.notes, start=1)]

    def page_number(canvas, document) -> None:
        canvas.saveState()
        draw_text(canvas, PAGE[0] - MARGIN, MARGIN, f"第 {document.page} 页", 8, right=True)
        if report.demo:
            draw_text(canvas, MARGIN, MARGIN, "演示数据", 8)
        canvas.restoreState()

    doc.build(story, onFirstPage=page_number, onLaterPages=page_number)
    return out.getvalue()


def _footer_widths(footer: tuple[str, ...]) -> list[float]:
    """The first item (填报单位 and its name) gets the room it needs up to 40 %; the others share the rest,
    leaving space after each label for a handwritten name."""
    first = min(max(text_width(footer[0], 10) + 12 * mm, WIDTH * 0.25), WIDTH * 0.4) if footer else 0
    rest = (WIDTH - first) / max(len(footer) - 1, 1)
    return [first, *[rest] * (len(footer) - 1)]

"""A clinic.reports ReportTable shown in a QTableWidget the way it prints: the multi-level header as merged
cells, numbers right-aligned in the print format, total rows shaded."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QStyle, QTableWidget, QTableWidgetItem

from clinic.reports import ReportTable
from clinic.reports.table import NOT_ENTERED, TEXT
from forms.report_pdf import cell_text

HEADER_BG = QColor("#e6e6e6")
TOTAL_BG = QColor("#f2f2f2")
MISSING_FG = QColor("#b00020")         # 待录入: a figure the user still has to give


class ReportGrid(QTableWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("reportTable")
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ContiguousSelection)
        self.horizontalHeader().hide()
        self.verticalHeader().hide()
        self.setWordWrap(True)
        self.report: ReportTable | None = None

    def show_report(self, report: ReportTable) -> None:
        self.clearSpans()
        self.clear()
        self.report = report
        depth = len(report.header)
        self.setColumnCount(report.columns)
        self.setRowCount(depth + len(report.rows))
        bold = QFont(self.font())
        bold.setBold(True)
        for cell in report.placed_header():
            item = QTableWidgetItem(cell.text)
            item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
            item.setBackground(QBrush(HEADER_BG))
            item.setFont(bold)
            self.setItem(cell.row, cell.col, item)
            if cell.rowspan > 1 or cell.colspan > 1:
                self.setSpan(cell.row, cell.col, cell.rowspan, cell.colspan)
        for r, row in enumerate(report.rows, start=depth):
            for c, (value, fmt) in enumerate(zip(row.cells, report.formats, strict=True)):
                item = QTableWidgetItem(cell_text(value, fmt))
                numeric = fmt != TEXT and not isinstance(value, str)
                item.setTextAlignment((Qt.AlignmentFlag.AlignRight if numeric else Qt.AlignmentFlag.AlignLeft)
                                      | Qt.AlignmentFlag.AlignVCenter)
                if row.total:
                    item.setBackground(QBrush(TOTAL_BG))
                    item.setFont(bold)
                if len(item.text()) > 12:
                    item.setToolTip(item.text())
                if value == NOT_ENTERED:
                    item.setForeground(QBrush(MISSING_FG))
                self.setItem(r, c, item)
        for merge in report.merges:           # e.g. the KPI table's shared 序号 / 一级指标 cells
            self.setSpan(depth + merge.row, merge.col, merge.rowspan, 1)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.fit_columns()

    def fit_columns(self) -> None:
        """Columns as wide as their body text (headers wrap), long text capped, then the spare width of
        the view shared out so the table fills it as the paper form fills its page."""
        report = self.report
        if report is None:
            return
        depth = len(report.header)
        metrics = self.fontMetrics()
        widths = []
        lines = 3 if report.columns > 10 else 2          # how many lines a leaf header may wrap to
        for c, fmt in enumerate(report.formats):
            texts = [self.item(r, c).text() for r in range(depth, self.rowCount()) if self.item(r, c)]
            widest = max((metrics.horizontalAdvance(t) for t in texts), default=0) + 16
            leaf = [p.text for p in report.placed_header() if p.col == c and p.colspan == 1]
            head = metrics.horizontalAdvance(leaf[-1]) // lines + 16 if leaf else 0
            widths.append(min(max(widest, head, 48), 260 if fmt == TEXT else 400))
        # Leave room for a vertical scroll bar that may appear once rows are laid out.
        bar = 0 if self.verticalScrollBar().isVisible() else self.style().pixelMetric(
            QStyle.PixelMetric.PM_ScrollBarExtent)
        spare = self.viewport().width() - bar - sum(widths) - 2
        if spare > 0:
            widths = [w + spare // len(widths) for w in widths]
        else:                                   # too wide: long text columns give way and wrap
            floor = 72                          # about five characters a line
            wide = [c for c, fmt in enumerate(report.formats) if fmt == TEXT and widths[c] > floor]
            room = sum(widths[c] - floor for c in wide)
            cut = min(-spare, room)
            for c in wide:
                widths[c] -= -(-cut * (widths[c] - floor) // room) if room else 0
        for c, w in enumerate(widths):
            self.setColumnWidth(c, w)
        self.resizeRowsToContents()

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self.fit_columns()

    def cell(self, row: int, col: int) -> str:
        """The text shown in a body cell (row 0 = the first row under the header)."""
        assert self.report is not None
        item = self.item(len(self.report.header) + row, col)
        return item.text() if item else ""

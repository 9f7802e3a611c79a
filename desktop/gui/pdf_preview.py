"""Preview a PDF in the app and print it to the system printer.

QtPdf is not in the PySide6 wheels, so pages are rasterised with pypdfium2 (PDFium): on screen at the
zoom's resolution, for printing at the printer's resolution (capped, see PRINT_DPI_CAP). Every page of
one PDF goes to the printer in ONE job, so 附件3's two copies (医疗机构留存 + 患者留存) come out together.

PDFium is not thread-safe, and rendering must not block the GUI: every PDFium call runs on one worker
thread of its own (`_pdf_runner`), and pages come back by signal.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pypdfium2 as pdfium
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QGuiApplication, QImage, QKeySequence, QPageLayout, QPainter, QPixmap, QShortcut
from PySide6.QtPrintSupport import QPrintDialog, QPrinter, QPrinterInfo
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from desktop.gui.style import css_class, show_error
from desktop.gui.tasks import TaskRunner

SCREEN_DPI = 96
ZOOMS = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0)
# A4 at 600 dpi is ~35 MB a page even in greyscale; form text is crisp at 300, and old clinic PCs
# have little memory. The printer driver scales the image to its own resolution.
PRINT_DPI_CAP = 300

_pdf_lock = threading.Lock()          # PDFium must never run on two threads at once
_runner: TaskRunner | None = None
_default_printer: str | None = None   # the printer chosen in 设置 (None: the system default)


def _pdf_runner() -> TaskRunner:
    global _runner
    if _runner is None:
        _runner = TaskRunner()
    return _runner


def set_default_printer(name: str | None) -> None:
    """The printer the print dialog starts on (the settings page calls this when it loads or saves)."""
    global _default_printer
    _default_printer = name or None


def default_printer() -> str | None:
    return _default_printer


def pdf_bytes(pdf: bytes | str | Path) -> bytes:
    return bytes(pdf) if isinstance(pdf, bytes | bytearray) else Path(pdf).read_bytes()


def page_count(pdf: bytes) -> int:
    with _pdf_lock:
        document = pdfium.PdfDocument(pdf)
        try:
            return len(document)
        finally:
            document.close()


def _image(page: pdfium.PdfPage, dpi: float, grayscale: bool = False) -> QImage:
    bitmap = page.render(scale=dpi / 72, rev_byteorder=True, prefer_bgrx=True, grayscale=grayscale,
                         fill_color=(255, 255, 255, 255), may_draw_forms=False)
    try:
        fmt = QImage.Format.Format_Grayscale8 if bitmap.n_channels == 1 else (
            QImage.Format.Format_RGBX8888 if bitmap.n_channels == 4 else QImage.Format.Format_RGB888)
        # .copy(): the QImage must own its pixels once the PDFium bitmap is freed
        return QImage(bytes(bitmap.buffer), bitmap.width, bitmap.height, bitmap.stride, fmt).copy()
    finally:
        bitmap.close()


def render_pages(pdf: bytes, dpi: float = SCREEN_DPI, fit_width: int | None = None) -> tuple[list[QImage], float]:
    """Every page as an image (call from a worker thread), and the dpi used: `dpi`, or with
    `fit_width` pixels the dpi at which the widest page just fits (never above `dpi`)."""
    with _pdf_lock:
        document = pdfium.PdfDocument(pdf)
        try:
            pages = [document[index] for index in range(len(document))]
            if fit_width and pages:
                widest = max(page.get_size()[0] for page in pages)
                dpi = min(dpi, fit_width / widest * 72)
            images = [_image(page, dpi) for page in pages]
            for page in pages:
                page.close()
            return images, dpi
        finally:
            document.close()


def print_to(printer: QPrinter, pdf: bytes, progress=None) -> int:
    """Print every page of `pdf` on `printer` in one job; returns the number of pages printed.

    Safe on a worker thread (QPainter on a QPrinter is). Each page is drawn on the whole sheet
    (full-page mode: the PDF carries its own margins), orientation following the page's shape."""
    dpi = min(printer.resolution(), PRINT_DPI_CAP)
    printer.setFullPage(True)
    painter = QPainter()
    with _pdf_lock:
        document = pdfium.PdfDocument(pdf)
        try:
            total = len(document)
            first, last = printer.fromPage(), printer.toPage()      # 0, 0: every page (1-based otherwise)
            chosen = range(first - 1, min(last, total)) if first > 0 else range(total)
            count = len(chosen)
            for done, index in enumerate(chosen):
                page = document[index]
                width, height = page.get_size()
                orientation = (QPageLayout.Orientation.Landscape if width > height
                               else QPageLayout.Orientation.Portrait)
                if done == 0:
                    printer.setPageOrientation(orientation)
                    if not painter.begin(printer):
                        raise OSError("无法开始打印：打印机不可用或输出文件无法写入")
                else:
                    printer.setPageOrientation(orientation)     # applies to the page newPage starts
                    printer.newPage()
                image = _image(page, dpi)
                page.close()
                # The sheet as the page layout now says (the viewport keeps the first page's shape).
                sheet = printer.pageLayout().fullRectPixels(printer.resolution())
                painter.setViewport(sheet)
                painter.setWindow(sheet)
                target = QRectF(sheet)
                scale = min(target.width() / image.width(), target.height() / image.height())
                w, h = image.width() * scale, image.height() * scale
                painter.drawImage(QRectF(target.x() + (target.width() - w) / 2, target.y(), w, h), image)
                if progress is not None:
                    progress(done + 1, count)
        finally:
            document.close()
            if painter.isActive():
                painter.end()
    return count


def _make_printer() -> QPrinter:
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    name = _default_printer
    if name and name in QPrinterInfo.availablePrinterNames():
        printer.setPrinterName(name)
    return printer


def print_pdf(parent: QWidget | None, pdf: bytes | str | Path, title: str = "打印") -> bool:
    """Ask for the printer (QPrintDialog), then print every page in one job in the background.
    Returns False if the user cancelled."""
    data = pdf_bytes(pdf)
    printer = _make_printer()
    printer.setDocName(title)
    dialog = QPrintDialog(printer, parent)
    dialog.setWindowTitle(title)
    dialog.setMinMax(1, 999)              # counting pages here would wait on PDFium: print_to clamps
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return False
    start_print(parent, printer, data)
    return True


def start_print(parent: QWidget | None, printer: QPrinter, data: bytes, on_done=None) -> None:
    def failed(exc: Exception) -> None:
        if isinstance(exc, OSError | ValueError):
            QMessageBox.warning(parent, "打印失败", str(exc))
        else:
            show_error(parent, exc, "打印失败")

    def done(pages: int) -> None:
        if on_done is not None:
            on_done(pages)

    _pdf_runner().run(lambda: print_to(printer, data), done, failed)


class PdfPreviewDialog(QDialog):
    """Pages one below another in a scroll area; zoom (Ctrl+= / Ctrl+-), 打印 (Ctrl+P), 另存为 (Ctrl+S)."""

    pages_shown = Signal(int)
    printed = Signal(int)

    def __init__(self, pdf: bytes | str | Path, title: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.pdf = pdf_bytes(pdf)
        self.title = title
        self.images: list[QImage] = []
        self.zoom: float | None = None          # None: fit the page width to the window
        self.shown_zoom = 1.0
        self.setWindowTitle(f"打印预览 — {title}")
        room = QGuiApplication.primaryScreen().availableGeometry()
        self.resize(min(1180, room.width() - 40), min(720, room.height() - 40))   # 1366×768 with a taskbar
        self.status = css_class(QLabel("正在生成预览…"), "hint")
        self.print_button = css_class(QPushButton("打印 (Ctrl+P)"), "primary")
        self.print_button.setShortcut(QKeySequence.StandardKey.Print)
        self.print_button.clicked.connect(self.print_)
        self.save_button = QPushButton("另存为 PDF (Ctrl+S)")
        self.save_button.setShortcut(QKeySequence.StandardKey.Save)
        self.save_button.clicked.connect(self.save_as)
        self.zoom_out = QPushButton("缩小 −")
        self.zoom_in = QPushButton("放大 +")
        self.zoom_label = QLabel("适合宽度")
        self.zoom_out.clicked.connect(lambda: self.step_zoom(-1))
        self.zoom_in.clicked.connect(lambda: self.step_zoom(1))
        QShortcut(QKeySequence.StandardKey.ZoomIn, self, lambda: self.step_zoom(1))
        QShortcut(QKeySequence.StandardKey.ZoomOut, self, lambda: self.step_zoom(-1))
        close = QPushButton("关闭 (Esc)")
        close.clicked.connect(self.reject)
        bar = QHBoxLayout()
        for widget in (self.print_button, self.save_button, self.zoom_out, self.zoom_label, self.zoom_in):
            bar.addWidget(widget)
        bar.addWidget(self.status, 1)
        bar.addWidget(close)
        self.pages = QWidget()
        self.pages.setObjectName("pdfPages")
        self.pages.setStyleSheet("QWidget#pdfPages { background: #808080; }")
        self.page_layout = QVBoxLayout(self.pages)
        self.page_layout.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.page_layout.setSpacing(12)
        self.scroll = QScrollArea()
        self.scroll.setWidget(self.pages)
        self.scroll.setWidgetResizable(True)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.scroll, 1)
        self.page_labels: list[QLabel] = []
        self._render()

    def _render(self) -> None:
        self.print_button.setEnabled(False)
        ratio = self.devicePixelRatioF()
        data = self.pdf
        if self.zoom is None:
            fit = int((max(self.width(), 600) - 60) * ratio)
            job = lambda: render_pages(data, SCREEN_DPI * ratio, fit)      # noqa: E731
        else:
            job = lambda: render_pages(data, SCREEN_DPI * self.zoom * ratio)  # noqa: E731
        _pdf_runner().run(job, self._show, self._failed)

    def _failed(self, exc: Exception) -> None:
        self.status.setText(f"无法显示此 PDF：{exc}")
        self.status.setProperty("class", "error")

    def _show(self, answer: tuple[list[QImage], float]) -> None:
        images, dpi = answer
        self.images = images
        self.shown_zoom = dpi / (SCREEN_DPI * self.devicePixelRatioF())
        self.zoom_label.setText(f"{self.shown_zoom:.0%}")
        for label in self.page_labels:
            label.deleteLater()
        self.page_labels = []
        ratio = self.devicePixelRatioF()
        for image in images:
            pixmap = QPixmap.fromImage(image)
            pixmap.setDevicePixelRatio(ratio)
            label = QLabel()
            label.setPixmap(pixmap)
            label.setFrameShape(QLabel.Shape.Box)
            self.page_layout.addWidget(label, 0, Qt.AlignmentFlag.AlignHCenter)
            self.page_labels.append(label)
        self.status.setText(f"共 {len(images)} 页")
        self.print_button.setEnabled(bool(images))
        self.pages_shown.emit(len(images))

    def step_zoom(self, step: int) -> None:
        current = self.zoom if self.zoom is not None else self.shown_zoom
        bigger = [z for z in ZOOMS if z > current + 0.01]
        smaller = [z for z in ZOOMS if z < current - 0.01]
        new = (bigger[0] if bigger else None) if step > 0 else (smaller[-1] if smaller else None)
        if new is not None:
            self.zoom = new
            self._render()

    def print_(self) -> None:
        printer = _make_printer()
        printer.setDocName(self.title)
        dialog = QPrintDialog(printer, self)
        dialog.setWindowTitle(f"打印 — {self.title}")
        dialog.setMinMax(1, max(1, len(self.images)))
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.print_on(printer)

    def print_on(self, printer: QPrinter) -> None:
        """Send all pages to `printer` as one job (the print button, and tests with a PDF printer)."""
        self.status.setText("正在打印…")
        self.print_button.setEnabled(False)

        def done(pages: int) -> None:
            self.status.setText(f"已发送到打印机：{pages} 页")
            self.print_button.setEnabled(True)
            self.printed.emit(pages)

        start_print(self, printer, self.pdf, done)

    def save_as(self) -> None:
        name = "".join(ch for ch in self.title if ch not in '\\/:*?"<>|') or "文档"
        path, _ = QFileDialog.getSaveFileName(self, "另存为 PDF", str(Path.home() / f"{name}.pdf"), "PDF 文件 (*.pdf)")
        if path:
            self.save_to(Path(path))

    def save_to(self, path: Path) -> None:
        if path.suffix.lower() != ".pdf":
            path = path.with_suffix(".pdf")
        data = self.pdf

        def write() -> Path:
            temp = path.with_name(path.name + ".part")
            temp.write_bytes(data)          # written whole, then renamed: never a half-written PDF
            temp.replace(path)
            return path

        def failed(exc: Exception) -> None:
            QMessageBox.warning(self, "无法保存", f"无法保存到 {path}：{getattr(exc, 'strerror', None) or exc}")

        _pdf_runner().run(write, lambda p: self.status.setText(f"已保存：{p}"), failed)

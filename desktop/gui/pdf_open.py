"""Render a form in the background, then show it in the print preview (desktop.gui.pdf_preview), from
where it prints as one job — 附件3's two copies included; and sizing a dialog to the screen it is on."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget

from desktop.gui.context import AppContext
from desktop.gui.style import show_error


def open_pdf(ctx: AppContext, parent: QWidget, render: Callable[[], bytes], title: str,
             on_shown: Callable[[QWidget], None] | None = None) -> None:
    """`render` runs in the task runner (it reads the database); the preview opens when it is done."""
    def show(pdf: bytes) -> None:
        from desktop.gui.pdf_preview import PdfPreviewDialog

        dialog = PdfPreviewDialog(pdf, title, parent)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        if on_shown is not None:
            on_shown(dialog)

    ctx.runner.run(render, show, lambda exc: show_error(parent, exc, "无法生成打印文件"), read_only=True)


def fit_to_screen(dialog: QWidget, width: int, height: int) -> None:
    """The size a dialog wants, but never larger than the main window it opens over (or, alone, the
    screen less a taskbar): 1366×768 PCs."""
    parent = dialog.parentWidget()
    room = parent.window().size() if parent is not None else QGuiApplication.primaryScreen().availableSize()
    dialog.resize(min(width, room.width() - 40), min(height, room.height() - 60))

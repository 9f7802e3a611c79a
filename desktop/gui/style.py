"""Fonts, the stylesheet and the one way errors are shown.

The bundled CJK font is registered with Qt so the UI renders on a PC with no Chinese fonts.
"""

from __future__ import annotations

from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from clinic.resources import resources_dir

STYLESHEET = """
QWidget { font-size: 10.5pt; }
QListWidget#nav { background: #1f4e79; color: white; border: none; font-size: 12pt; }
QListWidget#nav::item { padding: 10px 14px; }
QListWidget#nav::item:selected { background: #2e75b6; }
QLabel.title { font-size: 14pt; font-weight: bold; }
QLabel.hint { color: #555; }
QLabel.error { color: #b00020; }
QLabel.ok { color: #2e7d32; }
QLabel#demoBanner { background: #fff3cd; color: #7a5a00; padding: 4px; font-weight: bold; }
QLabel.demo { background: #fff3cd; color: #7a5a00; padding: 1px 8px; font-weight: bold; border: 1px solid #e0b040; }
QPushButton.primary { background: #2e75b6; color: white; padding: 6px 16px; border-radius: 3px; }
QPushButton.primary:disabled { background: #9bb7d4; }
"""


def install_fonts(app: QApplication) -> str:
    """Register the bundled fonts and make the CJK one the application font; returns its family."""
    family = ""
    for name in ("DroidSansFallbackFull.ttf", "DejaVuSans.ttf"):
        font_id = QFontDatabase.addApplicationFont(str(resources_dir() / "fonts" / name))
        families = QFontDatabase.applicationFontFamilies(font_id) if font_id >= 0 else []
        if name.startswith("Droid") and families:
            family = families[0]
    if family:
        font = QFont(family, 10)
        font.setStyleStrategy(QFont.StyleStrategy.PreferAntialias)
        app.setFont(font)
    app.setStyleSheet(STYLESHEET)
    return family


def show_error(parent: QWidget | None, exc: BaseException, title: str = "无法完成") -> None:
    """Domain errors carry a Chinese message the user can act on; anything else is a bug."""
    if isinstance(exc, ValueError | PermissionError | LookupError):
        QMessageBox.warning(parent, title, str(exc))
    else:
        QMessageBox.critical(parent, "程序错误",
                             f"发生意外错误，已记录的数据未受影响。\n\n{type(exc).__name__}: {exc}")


def css_class(widget: QWidget, name: str) -> QWidget:
    widget.setProperty("class", name)
    return widget


def restyle(widget: QWidget) -> None:
    """Re-apply the stylesheet after a widget's `class` property changed (error ↔ ok)."""
    widget.style().unpolish(widget)
    widget.style().polish(widget)

"""首页: today's work, each row one double-click (or Enter) from the patient."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.gui import ops_home
from desktop.gui.context import AppContext
from desktop.gui.style import css_class

SHOWN_PER_LIST = 200          # the rest are a search away; a list of thousands helps nobody


class HomePage(QWidget):
    open_patient = Signal(str)
    loaded = Signal()

    def __init__(self, ctx: AppContext, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        self.title = css_class(QLabel("今日工作"), "title")
        self.status = css_class(QLabel("正在加载今日工作…"), "hint")
        self.status.setObjectName("homeStatus")
        self.refresh_button = QPushButton("刷新 (F5)")
        self.refresh_button.setShortcut("F5")
        self.refresh_button.clicked.connect(self.refresh)
        self.grid = QGridLayout()
        self.boxes: dict[str, QListWidget] = {}
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.status)
        layout.addLayout(self.grid, 1)
        layout.addWidget(self.refresh_button, 0, Qt.AlignmentFlag.AlignRight)

    def refresh(self) -> None:
        self.status.setText("正在加载今日工作…")
        today = self.ctx.today()
        self.ctx.runner.run(lambda: ops_home.home_data(self.ctx.db, today), self.show_data, read_only=True)

    def _box(self, index: int, title: str) -> QListWidget:
        if title not in self.boxes:
            group = QGroupBox(title)
            inner = QVBoxLayout(group)
            widget = QListWidget()
            widget.itemActivated.connect(lambda item: self.open_patient.emit(item.data(Qt.ItemDataRole.UserRole)))
            inner.addWidget(widget)
            self.grid.addWidget(group, index // 2, index % 2)
            self.boxes[title] = widget
        return self.boxes[title]

    def show_data(self, data: ops_home.HomeData) -> None:
        for index, (title, rows) in enumerate(data.lists.items()):
            widget = self._box(index, title)
            widget.parentWidget().setTitle(f"{title}（{len(rows)}）")
            widget.clear()
            for patient_id, name, detail in rows[:SHOWN_PER_LIST]:
                item = QListWidgetItem(f"{name}　{detail}")
                item.setData(Qt.ItemDataRole.UserRole, patient_id)
                item.setToolTip(detail)
                widget.addItem(item)
        day = self.ctx.today()
        self.status.setText(f"{day:%Y年%m月%d日}　待上传结算 {data.unsent_settlements} 笔　"
                            f"（双击或回车打开患者）")
        self.loaded.emit()

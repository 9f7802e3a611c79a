"""首页: today's work, each row one click (or Enter) from the patient; the sync state (last success,
records waiting to upload, online or offline) with a button for a pass now; the last good backup."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.gui import ops_home
from desktop.gui.context import AppContext
from desktop.gui.ops_sync import SyncState
from desktop.gui.style import css_class, restyle

SHOWN_PER_LIST = 200          # the rest are a search away; a list of thousands helps nobody


class HomePage(QWidget):
    open_patient = Signal(str)
    sync_requested = Signal()
    loaded = Signal()

    def __init__(self, ctx: AppContext, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        self.title = css_class(QLabel("今日工作"), "title")
        self.status = css_class(QLabel("正在加载今日工作…"), "hint")
        self.status.setObjectName("homeStatus")
        self.sync_text = QLabel("同步状态读取中…")
        self.sync_text.setObjectName("homeSync")
        self.sync_text.setWordWrap(True)
        self.sync_button = QPushButton("立即同步")
        self.sync_button.setObjectName("syncNow")
        self.sync_button.clicked.connect(self.sync_requested.emit)
        self.backup_text = QLabel("")
        self.backup_text.setObjectName("homeBackup")
        self.backup_text.setWordWrap(True)
        self.refresh_button = QPushButton("刷新 (F5)")
        self.refresh_button.setShortcut("F5")
        self.refresh_button.clicked.connect(self.refresh)
        self.grid = QGridLayout()
        self.grid.setSpacing(8)
        self.boxes: dict[str, QListWidget] = {}
        self._loading = self._again = False
        top = QHBoxLayout()
        top.addWidget(self.title)
        top.addWidget(self.status, 1)
        top.addWidget(self.refresh_button)
        facts = QGroupBox("同步与备份")
        inner = QVBoxLayout(facts)
        inner.addWidget(self.sync_text)
        inner.addWidget(self.sync_button, 0, Qt.AlignmentFlag.AlignLeft)
        inner.addWidget(self.backup_text)
        inner.addStretch(1)
        self.grid.addWidget(facts, 2, 1)
        for row in range(3):
            self.grid.setRowStretch(row, 1)
        for column in range(2):
            self.grid.setColumnStretch(column, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(self.grid, 1)
        if ctx.is_demo:
            banner = QLabel("演示数据库：患者与记录均为虚构，仅供练习和演示，不能用于正式业务")
            banner.setObjectName("demoBanner")
            layout.insertWidget(0, banner)

    def refresh(self) -> None:
        """Today's lists; at most one load at a time (they take seconds in a big clinic), and a refresh
        asked for meanwhile runs once when it is done."""
        if self._loading:
            self._again = True
            return
        self._loading, self._again = True, False
        self.status.setText("正在加载今日工作…")
        today = self.ctx.today()
        self.ctx.runner.run(lambda: ops_home.home_data(self.ctx.db, today), self.show_data, self._failed,
                            read_only=True)

    def _finished(self) -> None:
        self._loading = False
        if self._again:
            self.refresh()

    def _failed(self, exc: Exception) -> None:
        self.status.setText(f"今日工作无法加载：{exc}")
        self.loaded.emit()
        self._finished()

    def _box(self, index: int, title: str) -> QListWidget:
        if title not in self.boxes:
            group = QGroupBox(title)
            inner = QVBoxLayout(group)
            inner.setContentsMargins(6, 4, 6, 6)
            widget = QListWidget()
            widget.setObjectName(f"homeList{index}")
            widget.setWordWrap(True)             # a long reason wraps onto a second line, never clipped
            widget.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            widget.itemActivated.connect(self._open)
            widget.itemClicked.connect(self._open)
            inner.addWidget(widget)
            self.grid.addWidget(group, index // 2, index % 2)
            self.boxes[title] = widget
        return self.boxes[title]

    def _open(self, item: QListWidgetItem) -> None:
        patient_id = item.data(Qt.ItemDataRole.UserRole)
        if patient_id:
            self.open_patient.emit(patient_id)

    def show_data(self, data: ops_home.HomeData) -> None:
        for index, (title, rows) in enumerate(data.lists.items()):
            widget = self._box(index, title)
            widget.parentWidget().setTitle(f"{title}（{len(rows)}）")
            widget.clear()
            for patient_id, name, detail in rows[:SHOWN_PER_LIST]:
                item = QListWidgetItem(f"{name}　{detail}")
                item.setData(Qt.ItemDataRole.UserRole, patient_id)
                item.setToolTip(f"{name}　{detail}")
                widget.addItem(item)
            if not rows:
                empty = QListWidgetItem("（无）")
                empty.setFlags(Qt.ItemFlag.NoItemFlags)
                widget.addItem(empty)
        day = self.ctx.today()
        self.status.setText(f"{day:%Y年%m月%d日}　待上传结算 {data.unsent_settlements} 笔　（单击或回车打开患者）")
        self.show_backup(data.backup)
        self.loaded.emit()
        self._finished()

    def show_backup(self, backup: ops_home.BackupState) -> None:
        self.backup_text.setText(backup.text)
        self.backup_text.setProperty("class", "error" if backup.warning else "hint")
        restyle(self.backup_text)

    def backup_failed(self, exc: Exception) -> None:
        self.backup_text.setText(f"今日自动备份失败：{exc}。请在“设置—备份”中立即备份")
        self.backup_text.setProperty("class", "error")
        restyle(self.backup_text)

    def show_sync_state(self, state: SyncState) -> None:
        self.sync_text.setText(state.summary + ("" if state.enrolled else "（在“设置”中填写服务器地址和接入码）"))
        self.sync_text.setToolTip(state.last_error or "")
        self.sync_text.setProperty("class", "error" if state.online is False or state.problems else "")
        restyle(self.sync_text)
        self.sync_button.setEnabled(state.enrolled)

"""备份 (administrators): the last good backup, backing up now, the backup folder and a second one
(a USB stick), and the list of backups kept (14 daily + 12 monthly, clinic/backup.py)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.gui import ops_backup
from desktop.gui.context import AppContext
from desktop.gui.settings_sections import message_label, say
from desktop.gui.style import css_class
from desktop.gui.tables import read_only_table


class BackupSection(QWidget):
    loaded = Signal()
    backed_up = Signal(str)
    restored = Signal(list)             # the report lines; the main window may refresh every page

    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self.state: ops_backup.BackupState | None = None
        self.status = QLabel("正在读取备份…")
        self.status.setObjectName("backupStatus")
        self.backup_button = css_class(QPushButton("立即备份"), "primary")
        self.backup_button.setObjectName("backupNow")
        self.backup_button.clicked.connect(self.backup_now)
        self.folder, self.second = QLineEdit(), QLineEdit()
        self.folder.setObjectName("backupFolder")
        self.second.setObjectName("secondFolder")
        self.folder.setPlaceholderText("默认：数据库所在文件夹下的 backups")
        self.second.setPlaceholderText("可选：U盘或移动硬盘上的文件夹，如 E:\\两病备份")
        browse1, browse2 = QPushButton("选择…"), QPushButton("选择…")
        browse1.clicked.connect(lambda: self._browse(self.folder))
        browse2.clicked.connect(lambda: self._browse(self.second))
        self.save_button = QPushButton("保存备份位置")
        self.save_button.clicked.connect(self.save_folders)
        editable = ctx.can("settings.edit")
        for widget in (self.folder, self.second, browse1, browse2, self.save_button):
            widget.setEnabled(editable)
        self.table = read_only_table(["备份时间", "类型", "大小", "文件"], "backupTable", stretch_last=True)
        self.restore_button = QPushButton("从所选备份恢复…")
        self.restore_button.setObjectName("restoreSelected")
        self.restore_other = QPushButton("从其他备份文件恢复…")
        self.restore_button.clicked.connect(self.restore_selected)
        self.restore_other.clicked.connect(self.choose_restore_file)
        for widget in (self.restore_button, self.restore_other):
            widget.setEnabled(editable)
        self.message = message_label("backupMessage")
        top = QHBoxLayout()
        top.addWidget(self.status, 1)
        top.addWidget(self.backup_button)
        form = QFormLayout()
        for label, edit, browse in (("备份文件夹", self.folder, browse1), ("第二备份位置", self.second, browse2)):
            row = QHBoxLayout()
            row.addWidget(edit, 1)
            row.addWidget(browse)
            form.addRow(label, row)
        form.addRow(self.save_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.message)
        layout.addLayout(form)
        layout.addWidget(css_class(QLabel("每天第一次启动和退出时自动备份，保留最近 14 天每天一份、"
                                          "最近 12 个月每月一份；每份备份写完后都做完整性检查。"), "hint"))
        layout.addWidget(self.table, 1)
        restore = QHBoxLayout()
        restore.addWidget(css_class(QLabel("恢复前，当前数据库会先另存一份；备份之后已上传到乡镇的记录会按乡镇确认的版本重新写入。"),
                                    "hint"), 1)
        restore.addWidget(self.restore_button)
        restore.addWidget(self.restore_other)
        layout.addLayout(restore)

    def refresh(self) -> None:
        self.ctx.runner.run(lambda: ops_backup.state(self.ctx.db), self._show,
                            lambda exc: say(self.message, str(exc)), read_only=True)

    def _show(self, state: ops_backup.BackupState) -> None:
        self.state = state
        say(self.status, state.message, "error" if state.stale else "ok")
        self.folder.setText(state.folder_setting)
        self.folder.setPlaceholderText(f"默认：{state.folder}")
        self.second.setText(state.second)
        if state.second_missing:
            say(self.message, f"第二备份位置 {state.second} 当前不可用（U盘未插入？）")
        self.table.setRowCount(len(state.backups))
        for r, row in enumerate(state.backups):
            for c, text in enumerate((row.label, row.kind, f"{row.size_kb} KB", row.path)):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.loaded.emit()

    def _browse(self, edit: QLineEdit) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "选择文件夹", edit.text())
        if chosen:
            edit.setText(chosen)

    def backup_now(self) -> None:
        self.backup_button.setEnabled(False)
        say(self.message, "正在备份并校验…", "hint")
        self.ctx.runner.run(lambda: ops_backup.backup_now(self.ctx.db), self._done, self._failed)

    def _done(self, text: str) -> None:
        self.backup_button.setEnabled(True)
        say(self.message, text, "error" if "不可用" in text or "失败" in text else "ok")
        self.backed_up.emit(text)
        self.refresh()

    def _failed(self, exc: Exception) -> None:
        self.backup_button.setEnabled(True)
        say(self.message, f"备份失败：{exc}")

    def _folders_saved(self, state: ops_backup.BackupState) -> None:
        self._show(state)
        if state.second_missing:
            say(self.message, f"备份位置已保存；第二备份位置 {state.second} 当前不可用（U盘未插入？），"
                              "插入后再备份即可")
        else:
            say(self.message, "备份位置已保存", "ok")

    def save_folders(self) -> None:
        folder, second, user = self.folder.text(), self.second.text(), self.ctx.user
        self.ctx.runner.run(
            lambda: ops_backup.save_folders(self.ctx.db, user, folder, second),
            self._folders_saved,
            lambda exc: say(self.message, str(exc)))

    # ------------------------------------------------------------ restore

    def restore_selected(self) -> None:
        r = self.table.currentRow()
        if self.state is None or not 0 <= r < len(self.state.backups):
            say(self.message, "请先在列表中选择一个备份")
            return
        self.ask_restore(Path(self.state.backups[r].path))

    def choose_restore_file(self) -> None:
        start = self.state.second or self.state.folder if self.state else ""
        path, _ = QFileDialog.getOpenFileName(self, "选择备份文件", start, "数据库备份 (*.db);;所有文件 (*)")
        if path:
            self.ask_restore(Path(path))

    def ask_restore(self, backup_file: Path) -> None:
        say(self.message, "正在比对备份与当前数据库…", "hint")
        self.ctx.runner.run(lambda: ops_backup.restore_plan(self.ctx.db, backup_file),
                            lambda lines: self._confirm_restore(backup_file, lines),
                            lambda exc: say(self.message, str(exc)), read_only=True)

    def _confirm_restore(self, backup_file: Path, lines: list[str]) -> None:
        say(self.message, "", "hint")
        text = (f"从备份 {backup_file.name} 恢复数据库？\n\n" + "\n".join(f"・{line}" for line in lines)
                + "\n\n当前数据库会先另存（不会删除）。恢复期间请勿操作。")
        buttons = QMessageBox.StandardButton
        answer = QMessageBox.question(self, "恢复备份", text, buttons.Yes | buttons.No, buttons.No)
        if answer != buttons.Yes:
            return
        user = self.ctx.user
        self.restore_button.setEnabled(False)
        say(self.message, "正在恢复…", "hint")
        self.ctx.runner.run(lambda: ops_backup.restore(self.ctx.db, user, backup_file), self._restored,
                            self._restore_failed)

    def _restored(self, lines: list[str]) -> None:
        self.restore_button.setEnabled(True)
        say(self.message, "；".join(lines), "ok")
        self.restored.emit(lines)
        self.refresh()

    def _restore_failed(self, exc: Exception) -> None:
        self.restore_button.setEnabled(True)
        say(self.message, f"恢复失败：{exc}")

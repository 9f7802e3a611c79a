"""Sections of the 设置 page that connect this PC: the township server (enrolment with the one-time
code, as `liangbing enrol`) and the printer forms and reports go to."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtPrintSupport import QPrinterInfo
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.gui import ops_settings, pdf_preview
from desktop.gui.context import AppContext
from desktop.gui.settings_sections import message_label, say
from desktop.gui.style import css_class


class ServerSection(QGroupBox):
    enrolled = Signal(str)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__("乡镇服务器", parent)
        self.ctx = ctx
        self.state = QLabel("正在读取同步状态…")
        self.state.setObjectName("serverState")
        self.state.setTextFormat(Qt.TextFormat.RichText)
        self.url, self.code, self.device = QLineEdit(), QLineEdit(), QLineEdit()
        self.url.setObjectName("serverUrl")
        self.code.setObjectName("enrolCode")
        self.url.setPlaceholderText("如 http://192.168.1.10:8000（乡镇卫生院提供）")
        self.code.setPlaceholderText("乡镇卫生院提供的一次性接入码")
        self.device.setPlaceholderText("可不填，如：诊室电脑")
        self.enrol_button = QPushButton("接入服务器")
        self.enrol_button.clicked.connect(self.enrol)
        self.message = message_label("serverMessage")
        editable = ctx.can("settings.edit")
        for widget in (self.url, self.code, self.device, self.enrol_button):
            widget.setEnabled(editable)
        form = QFormLayout(self)
        form.addRow(self.state)
        form.addRow("服务器地址", self.url)
        form.addRow("接入码", self.code)
        form.addRow("本机名称", self.device)
        form.addRow(self.enrol_button)
        form.addRow(self.message)

    def refresh(self) -> None:
        self.ctx.runner.run(lambda: ops_settings.server_state(self.ctx.db), self._show,
                            lambda exc: say(self.message, str(exc)), read_only=True)

    def _show(self, state: ops_settings.ServerState) -> None:
        if state.enrolled:
            text = (f"已接入：{state.server_url}<br>上次同步成功：{state.last_success or '尚未同步'}　"
                    f"待上传 {state.pending} 条")
            if state.last_error:
                text += f"<br><span style='color:#b00020'>上次出错：{state.last_error}</span>"
            self.enrol_button.setText("重新接入")
        else:
            text = f"本机尚未接入乡镇服务器（记录保存在本机，待上传 {state.pending} 条）。"
        if state.is_demo:
            text += "<br>这是演示数据库，不能接入乡镇服务器。"
            self.enrol_button.setEnabled(False)
        self.state.setText(text)
        if state.server_url and not self.url.text():
            self.url.setText(state.server_url)

    def enrol(self) -> None:
        url, code, device, user = self.url.text(), self.code.text(), self.device.text(), self.ctx.user
        say(self.message, "正在连接服务器…", "hint")
        self.enrol_button.setEnabled(False)
        self.ctx.runner.run(lambda: ops_settings.enrol_device(self.ctx.db, user, url, code, device),
                            self._enrolled, self._failed)

    def _enrolled(self, name: str) -> None:
        self.code.clear()
        self.enrol_button.setEnabled(True)
        say(self.message, f"已接入乡镇服务器（服务器登记的机构：{name}）。记录将在后台上传。", "ok")
        self.enrolled.emit(name)
        self.refresh()

    def _failed(self, exc: Exception) -> None:
        self.enrol_button.setEnabled(self.ctx.can("settings.edit"))
        say(self.message, f"接入失败：{exc}")


class PrinterSection(QGroupBox):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__("打印机", parent)
        self.ctx = ctx
        self.printer = QComboBox()
        self.printer.setObjectName("printer")
        self.save_button = QPushButton("保存")
        self.save_button.clicked.connect(self.save)
        self.message = message_label("printerMessage")
        row = QHBoxLayout()
        row.addWidget(QLabel("打印表单和报表时默认使用"))
        row.addWidget(self.printer, 1)
        row.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(css_class(QLabel("附件3 一次打印两联（医疗机构留存、患者留存），请使用 A4 纸。"), "hint"))
        layout.addWidget(self.message)

    def refresh(self) -> None:
        def load():
            # Asking the print system may reach network printers: never on the GUI thread.
            return QPrinterInfo.availablePrinterNames(), ops_settings.printer_name(self.ctx.db)
        self.ctx.runner.run(load, self._show, lambda exc: say(self.message, str(exc)), read_only=True)

    def _show(self, answer) -> None:
        names, chosen = answer
        self.printer.clear()
        self.printer.addItem("系统默认打印机", "")
        for name in names:
            self.printer.addItem(name, name)
        if chosen and self.printer.findData(chosen) < 0:
            self.printer.addItem(f"{chosen}（当前未连接）", chosen)
        self.printer.setCurrentIndex(max(0, self.printer.findData(chosen)))
        pdf_preview.set_default_printer(chosen or None)

    def save(self) -> None:
        name, user = self.printer.currentData() or "", self.ctx.user
        self.ctx.runner.run(lambda: ops_settings.save_printer(self.ctx.db, user, name), self._saved,
                            lambda exc: say(self.message, str(exc)))

    def _saved(self, name: str) -> None:
        pdf_preview.set_default_printer(name or None)
        say(self.message, f"已保存：{name or '系统默认打印机'}", "ok")

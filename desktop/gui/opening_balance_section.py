"""期初余额 in 设置 (administrators): import each patient's fund use and deductible so far this year from
the previous system (XLSX or CSV: 身份证号, 病种, 年度, 统筹基金已支付, 起付线已付), in the background,
then show the report — how many rows were added or changed and each refused row with its reason."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

from clinic.opening_balances import OpeningReport
from desktop.gui import ops_ledger
from desktop.gui.context import AppContext
from desktop.gui.settings_sections import message_label, say
from desktop.gui.style import css_class

HELP = ("本机构在年度中途开始使用本系统时，请从原系统导出每位患者本年已由统筹基金支付的金额和已付起付线，"
        "导入后年度限额从第一笔结算起就按已使用的额度计算。文件为 Excel（.xlsx）或 CSV，列：身份证号、病种"
        "（高血压 / 糖尿病）、年度、统筹基金已支付、起付线已付。只能导入今年或上一年度；同一患者同一年度同一病种"
        "再次导入会更新原有数字（审计日志记录修改前后的值）。")


class OpeningBalanceSection(QWidget):
    imported = Signal(object)           # OpeningReport
    failed = Signal(str)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self.import_button = css_class(QPushButton("选择文件并导入…"), "primary")
        self.import_button.setObjectName("importOpeningBalances")
        self.import_button.setEnabled(ctx.can("opening_balance.import"))
        self.import_button.clicked.connect(self.choose_file)
        self.message = message_label("openingMessage")
        self.report = QPlainTextEdit()
        self.report.setObjectName("openingReport")
        self.report.setReadOnly(True)
        self.report.setPlaceholderText("导入结果将显示在这里")
        intro = css_class(QLabel(HELP), "hint")
        intro.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(self.import_button)
        top.addWidget(self.message, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(top)
        layout.addWidget(self.report, 1)

    def refresh(self) -> None:
        """Nothing to read until a file is chosen."""

    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "选择期初余额文件", "", "Excel 或 CSV (*.xlsx *.xlsm *.csv)")
        if path:
            self.import_file(path)

    def import_file(self, path: str) -> None:
        user, today = self.ctx.user, self.ctx.today()
        self.import_button.setEnabled(False)
        say(self.message, "正在导入…", "hint")
        self.ctx.runner.run(lambda: ops_ledger.import_opening(self.ctx.db, user, path, today), self._done,
                            self._failed)

    def _done(self, report: OpeningReport) -> None:
        self.import_button.setEnabled(True)
        self.report.setPlainText(report.summary())
        if report.refused:
            say(self.message, f"已导入 {report.imported} 条，{report.refused} 条有错误未导入（见下方原因）")
        else:
            say(self.message, f"已全部导入（{report.imported} 条）", "ok")
        self.imported.emit(report)

    def _failed(self, exc: Exception) -> None:
        self.import_button.setEnabled(True)
        text = f"未导入任何数据：{exc}"
        say(self.message, text)
        self.report.setPlainText(text)
        self.failed.emit(text)

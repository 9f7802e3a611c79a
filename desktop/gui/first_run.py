"""First run on a new database: the clinic profile, its policy region and the first administrator."""

from __future__ import annotations

from datetime import date

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
)

from clinic.policy import all_policies
from clinic.vocab import INSTITUTION_LEVELS
from desktop.gui import ops_session
from desktop.gui.context import AppContext
from desktop.gui.style import css_class


class FirstRunDialog(QDialog):
    def __init__(self, ctx: AppContext, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        self.setWindowTitle("首次使用：设置本机构")
        self.code, self.name, self.township = QLineEdit(), QLineEdit(), QLineEdit()
        self.code.setPlaceholderText("医保定点机构编码，如 H42070400101")
        self.level = QComboBox()
        for code, label in INSTITUTION_LEVELS.items():
            self.level.addItem(label, code)
        self.region = QComboBox()
        today = date.today()
        for policy in all_policies():
            if policy.effective_from <= today:
                missing = len(policy.missing_settings())
                note = f"（需本地设置 {missing} 项）" if missing else ""
                self.region.addItem(f"{policy.name}{note}", policy.region)
        self.admin, self.admin_name = QLineEdit("admin"), QLineEdit("管理员")
        self.secret, self.secret2 = QLineEdit(), QLineEdit()
        for box in (self.secret, self.secret2):
            box.setEchoMode(QLineEdit.EchoMode.Password)
        form = QFormLayout()
        for label, widget in (("机构编码", self.code), ("机构名称", self.name), ("机构级别", self.level),
                              ("医保政策地区", self.region), ("所属乡镇卫生院", self.township),
                              ("管理员用户名", self.admin), ("管理员姓名", self.admin_name),
                              ("管理员密码", self.secret), ("再次输入密码", self.secret2)):
            form.addRow(label, widget)
        self.message = css_class(QLabel(""), "error")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(buttons)

    def save(self) -> None:
        if self.secret.text() != self.secret2.text():
            self.message.setText("两次输入的密码不一致")
            return
        values = dict(code=self.code.text().strip(), name=self.name.text().strip(),
                      level=self.level.currentData(), region=self.region.currentData(),
                      township=self.township.text().strip(), admin_username=self.admin.text().strip(),
                      admin_name=self.admin_name.text().strip(), admin_secret=self.secret.text())
        if not values["code"] or not values["name"]:
            self.message.setText("请填写机构编码和机构名称")
            return
        self.message.setText("正在保存…")
        self.ctx.runner.run(lambda: ops_session.first_run(self.ctx.db, **values), lambda _: self._done(values),
                            lambda exc: self.message.setText(str(exc)))

    def _done(self, values: dict) -> None:
        self.ctx.clinic_name = values["name"]
        self.accept()

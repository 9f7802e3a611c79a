"""First run on a new database: the clinic profile, its policy region and the first administrator."""

from __future__ import annotations

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
        self.setMinimumWidth(560)
        self.code, self.name, self.township = QLineEdit(), QLineEdit(), QLineEdit()
        self.code.setPlaceholderText("医保定点机构编码，如 H42070400101")
        self.level = QComboBox()
        for code, label in INSTITUTION_LEVELS.items():
            self.level.addItem(label, code)
        self.region = QComboBox()
        self.region.addItem("（请选择本统筹区的医保政策）", None)
        today = ctx.today()
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
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("保存并登录")
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("退出")
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        intro = QLabel("这是一个新的数据库。请填写本机构信息，选择本统筹区的医保政策，并设置第一个管理员账号；"
                       "常用“两病”药品的样例目录会一并载入（价格为样例价，请在“药品库存”中导入省平台目录）。")
        intro.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
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
        if values["region"] is None:
            self.message.setText("请选择本统筹区的医保政策")
            self.region.setFocus()
            return
        self.message.setText("正在保存…")
        self.ctx.runner.run(lambda: ops_session.first_run(self.ctx.db, **values), lambda _: self._done(values),
                            lambda exc: self.message.setText(str(exc)))

    def _done(self, values: dict) -> None:
        self.ctx.clinic_name = values["name"]
        self.accept()

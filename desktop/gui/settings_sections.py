"""Sections of the 设置 page: the clinic profile and the policy's local settings (missing ones
highlighted). Each loads and saves through the task runner and says what went wrong beside its own
fields (the helpers `message_label` / `say` are shared by the other sections)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from clinic.vocab import INSTITUTION_LEVELS
from desktop.gui import ops_settings
from desktop.gui.context import AppContext
from desktop.gui.style import css_class

MISSING_BG, REJECTED_BG, LOCAL_BG = QColor("#fde2e2"), QColor("#f8b4b4"), QColor("#e8f5e9")
GIVEN_FG = QColor("#666666")
SOURCE_WORDS = {"missing": "须填写", "local": "本地设置", "document": "文件规定"}


def value_format(key: str) -> str:
    """How a local setting is written (clinic/policy/loader.py parse_setting checks it)."""
    head = key.split(".")[0]
    if head == "ratios":
        return "0–1 的小数，如 0.60 表示 60%"
    if head == "caps" or key == "deductible":
        return "金额（元），如 2000"
    if head == "contribution":
        return "0 或负数，如 -0.05 表示减 5 个百分点"
    if key == "secondary_factor":
        return "0–1，如 0.5 表示按一半比例"
    if key == "prescription.refill_window_days":
        return "天数，如 15"
    if key == "prescription.max_period":
        return "如 12w（周）、3m（月）、90d（天）"
    if key == "payment_standard":
        return "中选价 / 中选价否则平台价 / 平台价 / 无"
    return ""


def message_label(name: str) -> QLabel:
    label = css_class(QLabel(""), "error")
    label.setObjectName(name)
    label.setWordWrap(True)
    return label


def say(label: QLabel, text: str, kind: str = "error") -> None:
    label.setText(text)
    label.setProperty("class", kind)
    label.style().polish(label)


class ProfileSection(QGroupBox):
    saved = Signal(object)              # ops_settings.Profile

    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__("本机构", parent)
        self.ctx = ctx
        self.code = QLabel("")
        self.name, self.township_code, self.township_name = QLineEdit(), QLineEdit(), QLineEdit()
        self.name.setObjectName("clinicName")
        self.level, self.region = QComboBox(), QComboBox()
        self.region.setObjectName("policyRegion")
        for code, label in INSTITUTION_LEVELS.items():
            self.level.addItem(label, code)
        self.save_button = QPushButton("保存机构信息")
        self.save_button.clicked.connect(self.save)
        self.message = message_label("profileMessage")
        form = QFormLayout(self)
        for label, widget in (("机构编码", self.code), ("机构名称", self.name), ("机构级别", self.level),
                              ("医保政策地区", self.region), ("乡镇卫生院编码", self.township_code),
                              ("乡镇卫生院名称", self.township_name)):
            form.addRow(label, widget)
        form.addRow(self.save_button)
        form.addRow(self.message)
        editable = ctx.can("settings.edit")
        for widget in (self.name, self.level, self.region, self.township_code, self.township_name, self.save_button):
            widget.setEnabled(editable)
        self.code.setToolTip("机构编码写在本机构的每条记录上，不能修改")

    def refresh(self) -> None:
        today = self.ctx.today()
        self.ctx.runner.run(lambda: (ops_settings.load_profile(self.ctx.db), ops_settings.regions(today)),
                            self._show, lambda exc: say(self.message, str(exc)), read_only=True)

    def _show(self, answer) -> None:
        profile, regions = answer
        self.region.clear()
        for region, name, missing in regions:
            self.region.addItem(name, region)
            if missing:
                self.region.setItemData(self.region.count() - 1, f"该政策有 {missing} 项数值须本地设置",
                                        Qt.ItemDataRole.ToolTipRole)
        self.code.setText(profile.code)
        self.name.setText(profile.name)
        self.level.setCurrentIndex(self.level.findData(profile.level))
        self.region.setCurrentIndex(self.region.findData(profile.region))
        self.township_code.setText(profile.township_code)
        self.township_name.setText(profile.township_name)

    def save(self) -> None:
        values = dict(name=self.name.text(), level=self.level.currentData(), region=self.region.currentData(),
                      township_code=self.township_code.text(), township_name=self.township_name.text())
        user, today = self.ctx.user, self.ctx.today()
        say(self.message, "正在保存…", "hint")
        self.ctx.runner.run(lambda: ops_settings.save_profile(self.ctx.db, user, today, **values), self._saved,
                            lambda exc: say(self.message, str(exc)))

    def _saved(self, profile) -> None:
        self.ctx.clinic_name = profile.name
        say(self.message, "机构信息已保存", "ok")
        self.saved.emit(profile)


class PolicySection(QGroupBox):
    loaded = Signal(object)             # ops_settings.PolicyView

    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__("医保政策与本地设置", parent)
        self.ctx = ctx
        self.view: ops_settings.PolicyView | None = None
        self.info = QLabel("正在加载…")
        self.info.setWordWrap(True)
        self.missing = message_label("policyMissing")
        self.table = QTableWidget(0, 4)
        self.table.setObjectName("policySettings")
        self.table.setHorizontalHeaderLabels(["项目", "数值", "来源", "填写格式"])
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for c in (2, 3):
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        self.table.setColumnWidth(1, 110)
        self.save_button = css_class(QPushButton("保存本地设置"), "primary")
        self.save_button.setObjectName("savePolicy")
        self.save_button.clicked.connect(self.save)
        self.save_button.setEnabled(ctx.can("settings.edit"))
        self.message = message_label("policyMessage")
        self.backdate = QSpinBox()
        self.backdate.setObjectName("backdateDays")
        self.backdate.setRange(0, 90)
        self.backdate.setSuffix(" 天")
        self.backdate.setToolTip("停电或纸质记录补录配药时，最多可以补录几天以前的配药（0 = 只能登记当天）")
        self.backdate_button = QPushButton("保存补录期限")
        self.backdate_button.setObjectName("saveBackdate")
        self.backdate_button.clicked.connect(self.save_backdate)
        for widget in (self.backdate, self.backdate_button):
            widget.setEnabled(ctx.can("settings.edit"))
        layout = QVBoxLayout(self)
        layout.addWidget(self.info)
        layout.addWidget(self.missing)
        layout.addWidget(self.table, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(QLabel("配药补录期限"))
        bottom.addWidget(self.backdate)
        bottom.addWidget(self.backdate_button)
        bottom.addWidget(self.message, 1)
        bottom.addWidget(self.save_button)
        layout.addLayout(bottom)

    def refresh(self) -> None:
        today = self.ctx.today()
        self.ctx.runner.run(lambda: ops_settings.policy_view(self.ctx.db, today), self._show,
                            lambda exc: say(self.message, str(exc)), read_only=True)

    def _show(self, view: ops_settings.PolicyView) -> None:
        self.view = view
        notes = "".join(f"<br>・{note}" for note in view.notes)
        self.info.setText(f"<b>{view.name}</b>（{view.city}，{view.effective_from} 起施行，依据 seeds/{view.seed}）"
                          f"<br>待遇资格：{view.entitlement}{notes}")
        if view.missing:
            say(self.missing, f"还有 {len(view.missing)} 项本地设置未填写（红色行）：政策文件未规定这些数值，"
                              "填写前结算会被拒绝。请按本地医保部门的正式文件填写。")
        else:
            say(self.missing, "本地设置已齐全，可以结算。", "ok")
        editable = self.ctx.can("settings.edit")
        self.backdate.setValue(view.backdate_days)
        self.table.setColumnHidden(3, not any(row.editable for row in view.rows))
        self.table.setRowCount(len(view.rows))
        for r, row in enumerate(view.rows):
            cells = [QTableWidgetItem(row.label), QTableWidgetItem(row.value),
                     QTableWidgetItem(SOURCE_WORDS[row.source]),
                     QTableWidgetItem(value_format(row.key) if row.editable else "")]
            cells[0].setToolTip(f"设置键：{row.key}（命令行 liangbing policy set 使用）")
            for c, item in enumerate(cells):
                flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                if c == 1 and row.editable and editable:
                    flags |= Qt.ItemFlag.ItemIsEditable
                    item.setToolTip("双击或按 F2 填写")
                item.setFlags(flags)
                if row.source == "missing":
                    item.setBackground(QBrush(MISSING_BG))
                elif row.source == "local":
                    item.setBackground(QBrush(LOCAL_BG))
                else:
                    item.setForeground(QBrush(GIVEN_FG))
                self.table.setItem(r, c, item)
        self.loaded.emit(view)

    def row_of(self, key: str) -> int:
        assert self.view is not None
        return [row.key for row in self.view.rows].index(key)

    def set_value(self, key: str, value: str) -> None:
        self.table.item(self.row_of(key), 1).setText(value)

    def changed_values(self) -> dict[str, str]:
        assert self.view is not None
        return {row.key: self.table.item(r, 1).text() for r, row in enumerate(self.view.rows)
                if row.editable and self.table.item(r, 1).text().strip() != row.value}

    def save(self) -> None:
        if self.view is None:
            return
        values, user, today = self.changed_values(), self.ctx.user, self.ctx.today()
        if not values:
            say(self.message, "没有修改", "hint")
            return
        say(self.message, "正在保存…", "hint")
        self.ctx.runner.run(lambda: ops_settings.save_policy_settings(self.ctx.db, user, today, values),
                            self._saved, self._rejected)

    def _saved(self, view) -> None:
        self._show(view)
        say(self.message, "本地设置已保存", "ok")

    def save_backdate(self) -> None:
        days, user, today = self.backdate.value(), self.ctx.user, self.ctx.today()
        self.ctx.runner.run(lambda: ops_settings.save_backdate_days(self.ctx.db, user, today, days),
                            lambda view: (self._show(view), say(self.message, f"补录期限已设为 {days} 天", "ok")),
                            self._rejected)

    def _rejected(self, exc: Exception) -> None:
        say(self.message, str(exc))
        key = getattr(exc, "key", None)
        if key is not None and self.view is not None:
            r = self.row_of(key)
            for c in range(self.table.columnCount()):
                self.table.item(r, c).setBackground(QBrush(REJECTED_BG))
            self.table.setCurrentCell(r, 1)
            self.table.scrollToItem(self.table.item(r, 1))

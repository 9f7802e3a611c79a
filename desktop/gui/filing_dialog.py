"""认定备案 / 变更备案 with the fields of 附件2 (seeds/000_12abe66d303e04d1.txt: 申报病种, 专家意见 —
病史及诊断 and 治疗方案, each signed and dated). Saved as a draft, or saved and submitted for the 医保
经办 review in one step. The rules (one live filing per disease, one primary disease, what a change
must say) are clinic/filings.py's; its Chinese reason is shown beside the field it concerns."""

from __future__ import annotations

from PySide6.QtCore import QDate, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from clinic.vocab import CHANGE_REASONS, DISEASES, TIERS
from desktop.gui import ops_filings
from desktop.gui.context import AppContext
from desktop.gui.ops_filings import FilingRow
from desktop.gui.style import css_class

LIVE = ("draft", "submitted", "approved")
ICD_HINTS = {"hypertension": "如 I10（原发性高血压）", "diabetes": "如 E11.9（2型糖尿病）"}


class FilingDialog(QDialog):
    """mode: "initial" (认定备案), "change" (变更备案 of `base`, an approved filing) or "edit" (a draft)."""

    saved = Signal(object)          # FilingRow

    def __init__(self, ctx: AppContext, patient_id: str, history: list[FilingRow], *, mode: str = "initial",
                 base: FilingRow | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        if mode != "initial" and base is None:
            raise ValueError("变更备案和修改草稿需要原备案")
        self.ctx, self.patient_id, self.history, self.mode, self.base = ctx, patient_id, history, mode, base
        title = {"initial": "认定备案", "change": "变更备案", "edit": "修改备案草稿"}[mode]
        self.setWindowTitle(f"{title}（附件2 审定表）")
        self.setMinimumWidth(620)
        self.reason = QComboBox()
        self.reason.setObjectName("changeReason")
        self.reason.addItem("（请选择变更原因）", None)       # no default: 痊愈 ends the entitlement
        for code, label in CHANGE_REASONS.items():
            self.reason.addItem(label, code)
        self.disease = QComboBox()
        self.disease.setObjectName("disease")
        for code, label in DISEASES.items():
            self.disease.addItem(label, code)
        self.tier = QComboBox()
        self.tier.setObjectName("tier")
        for code, label in TIERS.items():
            self.tier.addItem(label, code)
        self.primary = QCheckBox("主要病种（同时患两病的，另一病种按次要病种，支付比例减半）")
        self.primary.setObjectName("primary")
        self.icd10 = QLineEdit()
        self.icd10.setObjectName("icd10")
        self.history_text = QPlainTextEdit()
        self.history_text.setObjectName("historyDiagnosis")
        self.history_text.setTabChangesFocus(True)
        self.history_text.setPlaceholderText("病史、症状、检查结果和诊断，如：高血压病史5年，多次测量 160/95 mmHg …")
        self.history_signer = QLineEdit(ctx.user.display_name if ctx.user else "")
        self.history_signer.setObjectName("historySigner")
        self.plan_text = QPlainTextEdit()
        self.plan_text.setObjectName("treatmentPlan")
        self.plan_text.setTabChangesFocus(True)
        self.plan_text.setPlaceholderText("药品、用法用量，如：苯磺酸氨氯地平片 5mg 每日1次")
        self.plan_signer = QLineEdit(ctx.user.display_name if ctx.user else "")
        self.plan_signer.setObjectName("planSigner")
        for box in (self.history_text, self.plan_text):
            box.setFixedHeight(84)
        self.filed_on = QDateEdit(QDate(ctx.today()))
        self.filed_on.setObjectName("filedOn")
        self.filed_on.setCalendarPopup(True)
        self.filed_on.setDisplayFormat("yyyy-MM-dd")
        self.message = css_class(QLabel(""), "error")
        self.message.setObjectName("message")
        self.message.setWordWrap(True)

        form = QFormLayout()
        self.form = form
        if mode == "change":
            form.addRow("变更原因 *", self.reason)
        form.addRow("申报病种 *", self.disease)
        form.addRow("病种分级 *", self.tier)
        form.addRow("", self.primary)
        form.addRow("ICD-10（医保版）", self.icd10)
        form.addRow("病史及诊断 *", self.history_text)
        form.addRow("签字（专家）*", self.history_signer)
        form.addRow("治疗方案 *", self.plan_text)
        form.addRow("签字（专家）*", self.plan_signer)
        form.addRow("备案日期", self.filed_on)
        self.buttons = QDialogButtonBox()
        self.submit_button = self.buttons.addButton("保存并提交审核", QDialogButtonBox.ButtonRole.AcceptRole)
        self.submit_button.setObjectName("saveSubmit")
        self.draft_button = self.buttons.addButton("保存草稿", QDialogButtonBox.ButtonRole.ActionRole)
        self.draft_button.setObjectName("saveDraft")
        cancel = self.buttons.addButton("取消", QDialogButtonBox.ButtonRole.RejectRole)
        for button in (self.submit_button, self.draft_button, cancel):
            button.setAutoDefault(False)
        self.submit_button.setDefault(True)
        self.submit_button.clicked.connect(lambda: self.save(submit=True))
        self.draft_button.clicked.connect(lambda: self.save(submit=False))
        cancel.clicked.connect(self.reject)
        layout = QVBoxLayout(self)
        hint = css_class(QLabel("带 * 的必须填写；签字人是出具专家意见的医生。提交后由医保经办机构审核，"
                                "审核结果通过同步回到本机。"), "hint")
        hint.setWordWrap(True)
        layout.addWidget(hint)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self._fill()
        self.disease.currentIndexChanged.connect(self._disease_changed)
        self.reason.currentIndexChanged.connect(self._reason_changed)
        self._disease_changed()
        self._reason_changed()

    # -- defaults ----------------------------------------------------------------------------------

    def _live(self, disease: str | None = None) -> list[FilingRow]:
        return [f for f in self.history if f.state in LIVE and f.change_reason != "cured"
                and (disease is None or f.disease == disease)]

    def _fill(self) -> None:
        base = self.base
        if base is None:                         # a new 认定: the disease not yet filed, primary if none is
            filed = {f.disease for f in self._live()}
            disease = next((d for d in DISEASES if d not in filed), "hypertension")
            self._select(self.disease, disease)
            self.primary.setChecked(not any(f.is_primary for f in self._live() if f.disease != disease))
            return
        self._select(self.disease, base.disease)
        self._select(self.tier, base.tier)
        self.primary.setChecked(base.is_primary)
        self.icd10.setText(base.icd10)
        self.history_text.setPlainText(base.history_diagnosis)
        self.plan_text.setPlainText(base.treatment_plan)
        if base.history_signer:
            self.history_signer.setText(base.history_signer)
        if base.plan_signer:
            self.plan_signer.setText(base.plan_signer)
        if self.mode == "edit":
            self.filed_on.setDate(QDate(base.filed_on))
            self.disease.setEnabled(False)       # a draft keeps its disease; file the other one anew
        else:
            self.disease.setEnabled(False)

    @staticmethod
    def _select(combo: QComboBox, code: str) -> None:
        combo.setCurrentIndex(max(0, combo.findData(code)))

    def _disease_changed(self) -> None:
        self.icd10.setPlaceholderText(ICD_HINTS.get(self.disease.currentData(), ""))

    def _reason_changed(self) -> None:
        if self.mode != "change":
            return
        base = self.base
        new_disease = self.reason.currentData() == "new_disease"
        other = next(d for d in DISEASES if d != base.disease)
        self._select(self.disease, other if new_disease else base.disease)
        if new_disease:                          # the new disease's own history and plan, secondary by default
            self._select(self.tier, "ordinary")
            self.primary.setChecked(False)
            self.icd10.clear()
            self.history_text.clear()
            self.plan_text.clear()
        else:
            self._select(self.tier, base.tier)
            self.primary.setChecked(base.is_primary)
            self.icd10.setText(base.icd10)
            self.history_text.setPlainText(base.history_diagnosis)
            self.plan_text.setPlainText(base.treatment_plan)

    # -- saving ------------------------------------------------------------------------------------

    def values(self) -> dict:
        return dict(disease=self.disease.currentData(), tier=self.tier.currentData(), primary=self.primary.isChecked(),
                    icd10=self.icd10.text().strip(), history_diagnosis=self.history_text.toPlainText().strip(),
                    treatment_plan=self.plan_text.toPlainText().strip(),
                    history_signer=self.history_signer.text().strip(), plan_signer=self.plan_signer.text().strip(),
                    filed_on=self.filed_on.date().toPython())

    def _change_fields(self, v: dict) -> dict:
        """Only what differs from the filing being changed: unchanged text keeps its signature."""
        base = self.base
        fields = dict(reason=self.reason.currentData(), filed_on=v["filed_on"])
        if fields["reason"] == "new_disease":
            fields.update(disease=v["disease"], tier=v["tier"], primary=v["primary"], icd10=v["icd10"],
                          history_diagnosis=v["history_diagnosis"], treatment_plan=v["treatment_plan"],
                          history_signer=v["history_signer"], plan_signer=v["plan_signer"])
            return fields
        if v["tier"] != base.tier:
            fields["tier"] = v["tier"]
        if v["primary"] != base.is_primary:
            fields["primary"] = v["primary"]
        if v["icd10"] != base.icd10:
            fields["icd10"] = v["icd10"]
        if v["history_diagnosis"] != base.history_diagnosis or v["history_signer"] != base.history_signer:
            fields.update(history_diagnosis=v["history_diagnosis"], history_signer=v["history_signer"])
        if v["treatment_plan"] != base.treatment_plan or v["plan_signer"] != base.plan_signer:
            fields.update(treatment_plan=v["treatment_plan"], plan_signer=v["plan_signer"])
        return fields

    def save(self, *, submit: bool) -> None:
        v = self.values()
        if self.mode == "change" and self.reason.currentData() is None:
            self._show_error("请选择变更原因（痊愈、病情进展、新病种或用药改变）")
            return
        if not v["history_diagnosis"]:
            self._show_error("病史及诊断不能为空（附件2 专家意见）")
            return
        db, user = self.ctx.db, self.ctx.user
        if self.mode == "initial":
            def work():
                return ops_filings.create_initial(db, user, self.patient_id, submit=submit, **v)
        elif self.mode == "change":
            fields, previous = self._change_fields(v), self.base.id

            def work():
                return ops_filings.create_change(db, user, previous, submit=submit, **fields)
        else:
            v.pop("disease")
            filing_id = self.base.id

            def work():
                return ops_filings.update_draft(db, user, filing_id, submit=submit, **v)
        self.message.setProperty("class", "hint")
        self.message.setText("正在保存…")
        self.buttons.setEnabled(False)
        self.ctx.runner.run(work, self._saved, self._failed)

    def _saved(self, row: FilingRow) -> None:
        self.saved.emit(row)
        self.accept()

    def _failed(self, exc: Exception) -> None:
        self.buttons.setEnabled(True)
        self._show_error(str(exc))

    def _show_error(self, text: str) -> None:
        """The reason in words, and the cursor in the field it names."""
        self.message.setProperty("class", "error")
        self.message.style().unpolish(self.message)
        self.message.style().polish(self.message)
        self.message.setText(text)
        for words, widget in (("病史及诊断签字", self.history_signer), ("治疗方案签字", self.plan_signer),
                              ("病史及诊断", self.history_text), ("治疗方案", self.plan_text),
                              ("主要病种", self.primary), ("日期", self.filed_on), ("分级", self.tier),
                              ("变更原因", self.reason), ("病种", self.disease)):
            if words in text and widget.isEnabled():
                widget.setFocus()
                break


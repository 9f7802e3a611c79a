"""开具 / 续开 慢性病用药连续处方 (附件3): pick drugs (policy's priorities first, with stock), set dose,
frequency and days (the quantity follows), and see at once what the policy allows — the longest
prescription, the 两病 scope, the refill window with the first day the drug may be dispensed — in
words. Saving goes through clinic.prescriptions in the task runner; a refusal stays in the dialog."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSplitter,
    QVBoxLayout,
)

from desktop.gui import ops_prescribe
from desktop.gui.context import AppContext
from desktop.gui.drug_picker import DrugPicker
from desktop.gui.pdf_open import fit_to_screen
from desktop.gui.rx_lines import RxLinesEditor
from desktop.gui.style import css_class, restyle

CHECK_DELAY_MS = 150          # lets a burst of spin-box clicks settle into one check
DEFAULT_DAYS = 28             # the form's starting value only; the policy's limit is checked live


class PrescribeDialog(QDialog):
    saved = Signal(str)            # the new prescription's id
    ready = Signal()               # set-up loaded (patient, entitlement, the policy's limits)
    checked = Signal()             # the verdicts of the current lines are shown

    def __init__(self, ctx: AppContext, patient_id: str, parent=None, *, renew_id: str | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self.patient_id = patient_id
        self.renew_id = renew_id
        self.info: ops_prescribe.PrescribeSetup | None = None
        self._generation = 0
        self._checked_generation = -1
        self.setWindowTitle("续方" if renew_id else "开具慢性病用药连续处方")
        self.header = QLabel("正在加载…")
        self.header.setObjectName("rxHeader")
        self.header.setWordWrap(True)
        self.limits = css_class(QLabel(""), "hint")
        self.limits.setObjectName("rxLimits")
        self.limits.setWordWrap(True)
        self.blocker = css_class(QLabel(""), "error")
        self.blocker.setObjectName("rxBlocker")
        self.blocker.setWordWrap(True)
        self.blocker.hide()
        self.picker = DrugPicker(ctx)
        self.lines = RxLinesEditor()
        self.diagnosis = QLineEdit()
        self.diagnosis.setObjectName("diagnosis")
        self.diagnosis.setPlaceholderText("临床诊断，如 原发性高血压")
        self.external = QCheckBox("外配处方（患者到定点零售药店配药）")
        self.message = css_class(QLabel(""), "error")
        self.message.setObjectName("message")
        self.message.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.setText("保存处方 (Ctrl+S)")
        self.save_button.setObjectName("saveRx")
        self.save_button.setEnabled(False)
        self.save_button.setDefault(True)              # Enter saves once the lines are checked
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("取消 (Esc)")
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        QShortcut(QKeySequence("Ctrl+S"), self, activated=self.save)
        QShortcut(QKeySequence("Ctrl+F"), self, activated=self.picker.search.setFocus)
        self.picker.chosen.connect(self.add_drug)
        self.lines.edited.connect(self._lines_edited)
        self.diagnosis.textChanged.connect(lambda _: self._update_save())
        self.timer = QTimer(self, singleShot=True, interval=CHECK_DELAY_MS)
        self.timer.timeout.connect(self.check_now)
        self._layout()
        self.ctx.runner.run(lambda: ops_prescribe.setup(ctx.db, patient_id, ctx.today(), renew_id), self._set_up,
                            self._load_failed, read_only=True)

    def _layout(self) -> None:
        left = QGroupBox("选择药品 (Ctrl+F)")
        QVBoxLayout(left).addWidget(self.picker)
        right = QGroupBox("处方药品（每次用量 × 频次 × 天数 = 总量）")
        QVBoxLayout(right).addWidget(self.lines)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(0, 5)
        split.setStretchFactor(1, 7)
        split.setChildrenCollapsible(False)
        bottom = QHBoxLayout()
        bottom.addWidget(QLabel("临床诊断 *"))
        bottom.addWidget(self.diagnosis, 1)
        bottom.addWidget(self.external)
        layout = QVBoxLayout(self)
        layout.addWidget(self.header)
        layout.addWidget(self.limits)
        layout.addWidget(self.blocker)
        layout.addWidget(split, 1)
        layout.addLayout(bottom)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        fit_to_screen(self, 1240, 660)

    # ---------------------------------------------------------------- loading

    def _load_failed(self, exc: Exception) -> None:
        self.header.setText("无法开具处方")
        self._block([str(exc)])
        self.ready.emit()

    def _block(self, problems) -> None:
        self.blocker.setText("\n".join(problems))
        self.blocker.setVisible(bool(problems))

    def _set_up(self, info: ops_prescribe.PrescribeSetup) -> None:
        self.info = info
        entitled = info.entitled_words or "无"
        self.header.setText(html.escape(f"{info.patient_name}　享受“两病”待遇：{entitled}　　政策：{info.policy_name}")
                            .replace(info.patient_name, f"<b>{html.escape(info.patient_name)}</b>", 1)
                            + (f"<br>{html.escape(info.renew_label)}" if info.renew_label else ""))
        limits = []
        if info.longest_days:
            limits.append(f"处方最长 {info.period_words}（自今天起最多 {info.longest_days} 天）")
        if info.refill_window_days is not None:
            limits.append(f"上次所配药量剩余不超过 {info.refill_window_days} 天方可续配")
        limits.append("只能开具患者已备案病种的降压、降糖药")
        self.limits.setText("；".join(limits) + "。" + "".join(f"\n{w}" for w in info.warnings))
        self._block(info.problems)
        self.picker.set_priority_words(info.priority_words, info.has_priority)
        self.picker.set_entitled(info.entitled)
        self.diagnosis.setText(info.diagnosis)
        for line in info.lines:
            self.lines.add(line.drug, line.dose, line.frequency, line.days)
        if info.lines:
            self.check_now()                # the renewed lines are judged at once, not after a pause
        self.picker.load()
        self.picker.search.setFocus()
        self._update_save()
        self.ready.emit()

    # ---------------------------------------------------------------- lines and live checks

    def add_drug(self, drug: ops_prescribe.DrugOption) -> None:
        days = self.lines.days_of_first() or DEFAULT_DAYS
        if self.info and self.info.longest_days:
            days = min(days, self.info.longest_days)
        self.lines.add(drug, days=days)

    def _lines_edited(self) -> None:
        self._generation += 1
        self._update_save()
        self.timer.start()

    def check_now(self) -> None:
        self.timer.stop()
        lines = self.lines.lines()
        if not lines:
            self._checked_generation = self._generation
            self.checked.emit()
            return
        generation, today = self._generation, self.ctx.today()
        self.ctx.runner.run(lambda: (generation, ops_prescribe.check_lines(self.ctx.db, self.patient_id, lines, today)),
                            self._verdicts, self._check_failed, read_only=True)

    def _verdicts(self, answer) -> None:
        generation, verdicts = answer
        if generation != self._generation:
            return                      # the lines changed meanwhile; a newer check is coming
        self._checked_generation = generation
        self.lines.show_verdicts(verdicts)
        self._update_save()
        self.checked.emit()

    def _check_failed(self, exc: Exception) -> None:
        self.message.setText(f"无法核对处方：{exc}")

    def checked_up_to_date(self) -> bool:
        """The verdicts shown are for the lines as they are now."""
        return self._checked_generation == self._generation

    def _update_save(self) -> None:
        ready = (self.info is not None and not self.info.problems and bool(self.lines.drugs)
                 and self.checked_up_to_date() and not self.lines.has_problems()
                 and bool(self.diagnosis.text().strip()))
        self.save_button.setEnabled(ready)
        if self.info is not None and self.lines.drugs and not self.diagnosis.text().strip():
            self.message.setText("请填写临床诊断")
        elif self.message.text() == "请填写临床诊断":
            self.message.setText("")

    # ---------------------------------------------------------------- saving

    def save(self) -> None:
        if not self.save_button.isEnabled():
            return
        self.save_button.setEnabled(False)
        self.message.setProperty("class", "hint")
        restyle(self.message)
        self.message.setText("正在保存…")
        user, today, lines = self.ctx.user, self.ctx.today(), self.lines.lines()
        diagnosis, external, renew_id = self.diagnosis.text(), self.external.isChecked(), self.renew_id
        self.ctx.runner.run(lambda: ops_prescribe.save(self.ctx.db, user, self.patient_id, today, diagnosis=diagnosis,
                                                       lines=lines, external=external, renew_id=renew_id),
                            self._saved, self._save_failed)

    def _saved(self, prescription_id: str) -> None:
        self.saved.emit(prescription_id)
        self.accept()

    def _save_failed(self, exc: Exception) -> None:
        self.message.setProperty("class", "error")
        restyle(self.message)
        self.message.setText(str(exc) if isinstance(exc, ValueError | PermissionError) else
                             f"保存失败（处方未保存）：{type(exc).__name__}: {exc}")
        self._update_save()


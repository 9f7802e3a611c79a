"""Dispensing and settlement operations for the GUI (no Qt): what the dialog shows before the doctor
confirms, the confirmation itself, and printing the receipt.

The preview runs the very domain call the confirmation runs (clinic.dispensing.dispense_and_settle,
which settles with clinic.settlement) inside a transaction that is rolled back, so every refusal and
every figure the doctor sees is the one the confirmation will store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import select

from clinic.db.engine import Database
from clinic.db.models import Dispense, Drug, Patient, Prescription, Settlement
from clinic.dispensing import check_refill, dispense_and_settle, dispensed_under
from clinic.filings import entitlements
from clinic.permissions import require
from clinic.policy import PolicyError
from clinic.prescriptions import active_prescriptions, daily_dose
from clinic.profile import local_institution, policy_in_force
from clinic.settlement.service import year_to_date
from clinic.stock import StockShortage, on_hand_by_drug
from clinic.vocab import CONTRIBUTIONS, DISEASES, INSTITUTION_LEVELS, INSURANCES, TIERS
from desktop.gui.context import UserInfo

# The domain refuses with these; anything else is a bug and is shown as one.
REFUSALS = (ValueError,)          # DispenseError, StockError, PolicyError, ProfileError are ValueErrors


@dataclass(frozen=True)
class RxChoice:
    id: str
    label: str                     # 2026-03-02 开具 · 有效期至 2026-05-24 · 2种药
    covers_days: int               # days the rest of the prescription covers (the shortest line)
    is_new: bool                   # nothing dispensed under it yet: 附件3 is still to be printed


@dataclass(frozen=True)
class DispenseSetup:
    patient_name: str
    insurance_words: str           # 城乡居民 / 城镇职工（按80%标准缴费）
    institution_words: str         # 一级及以下
    is_pharmacy: bool              # a pharmacy needs the prescribing institution's level
    entitled_words: str
    prescriptions: tuple[RxChoice, ...]
    problem: str = ""              # why nothing can be dispensed


@dataclass(frozen=True)
class PreviewLine:
    name: str
    spec: str
    usage: str
    quantity: Decimal
    unit: str
    left: Decimal                  # still to dispense under the prescription before this purchase
    on_hand: Decimal
    unit_price: Decimal
    payment_standard: Decimal | None
    total: Decimal
    policy_range: Decimal
    over_standard: Decimal


@dataclass(frozen=True)
class DiseaseSplit:
    label: str                     # 高血压（普通·主要）
    ratio: Decimal
    policy_range: Decimal
    deductible: Decimal
    fund_pay: Decimal
    over_cap: Decimal
    used_before: Decimal           # fund paid for this disease this year before this purchase
    cap: Decimal
    cap_remaining: Decimal         # after this purchase


@dataclass(frozen=True)
class Preview:
    refusal: str = ""              # the domain's reason, in Chinese; empty when it can be settled
    shortage: bool = False         # a stock shortage: a stated reason lets the doctor go on
    first_allowed_on: date | None = None       # an early refill: the first day it is allowed
    lines: tuple[PreviewLine, ...] = ()
    diseases: tuple[DiseaseSplit, ...] = ()
    amounts: dict[str, Decimal] = field(default_factory=dict)   # forms.receipt.TOTALS keys

    @property
    def ok(self) -> bool:
        return not self.refusal


@dataclass(frozen=True)
class Done:
    settlement_id: str
    receipt_no: str
    total: Decimal
    fund_pay: Decimal
    self_pay: Decimal
    prescription_id: str
    first_under_prescription: bool     # print 附件3 now


def _covers(session, rx: Prescription) -> int:
    days = []
    for line in rx.lines:
        per_day = daily_dose(line.dose, line.frequency)
        left = line.quantity - dispensed_under(session, line)
        days.append(int(left / per_day) if per_day > 0 else 0)
    return max(min(days, default=0), 0)


def setup(db: Database, patient_id: str, today: date) -> DispenseSetup:
    with db.session() as s:
        patient = s.get(Patient, patient_id)
        insurance = INSURANCES.get(patient.insurance, patient.insurance)
        if patient.insurance == "employee" and patient.contribution and patient.contribution != "100":
            insurance += f"（{CONTRIBUTIONS[patient.contribution]}）"
        institution = local_institution(s)
        try:
            filings = entitlements(s, patient, policy_in_force(s, today), today)
        except PolicyError as exc:
            return DispenseSetup(patient.name, insurance, INSTITUTION_LEVELS[institution.level],
                                 institution.level == "pharmacy", "", (), str(exc))
        entitled = "、".join(f"{DISEASES[f.disease]}（{TIERS[f.tier]}·{'主要' if f.primary else '次要'}）"
                             for f in filings) or "无（没有已通过的“两病”备案）"
        choices = []
        for rx in active_prescriptions(s, patient_id, today):
            dispensed = s.scalar(select(Dispense.id).where(Dispense.prescription_id == rx.id).limit(1))
            choices.append(RxChoice(rx.id, f"{rx.prescribed_on} 开具 · 有效期至 {rx.valid_until} · "
                                           f"{len(rx.lines)}种药 · {rx.diagnosis}", _covers(s, rx), dispensed is None))
        problem = "" if choices else (f"患者今天（{today}）没有有效的连续处方，请先在“处方”中开具或续方")
        return DispenseSetup(patient.name, insurance, INSTITUTION_LEVELS[institution.level],
                             institution.level == "pharmacy", entitled, tuple(choices), problem)


def _first_allowed(session, rx: Prescription, on: date) -> date | None:
    """When a refill is early, the day every line of it becomes allowed (the latest line decides)."""
    try:
        window = policy_in_force(session, on).refill_window_days
    except PolicyError:
        return None
    dates = []
    for line in rx.lines:
        check = check_refill(session, rx.patient_id, session.get(Drug, line.drug_code), on, window)
        if not check.allowed:
            dates.append(check.first_allowed_on)
    return max(dates, default=None)


def _preview_of(session, rx: Prescription, settlement: Settlement, before: dict, used: dict) -> Preview:
    dispense = session.get(Dispense, settlement.dispense_id)
    units = {line.drug_code: session.get(Drug, line.drug_code).unit for line in dispense.lines}
    usage = {line.drug_code: line.usage for line in rx.lines}
    lines = tuple(PreviewLine(
        line.drug_name, line.spec, usage[line.drug_code], line.quantity, units[line.drug_code],
        before[line.drug_code][0], before[line.drug_code][1], line.unit_price, line.payment_standard,
        line.line_total, line.policy_range, line.over_standard) for line in dispense.lines)
    diseases = tuple(DiseaseSplit(
        f"{DISEASES[d.disease]}（{TIERS[d.tier]}·{'主要' if d.is_primary else '次要'}）", d.ratio, d.policy_range,
        d.deductible, d.fund_pay, d.over_cap, used.get(d.disease, Decimal("0.00")), d.cap, d.cap_remaining)
        for d in settlement.diseases)
    amounts = {key: getattr(settlement, key) for key in (
        "total", "policy_range", "over_standard", "out_of_scope", "deductible", "fund_pay", "self_pay",
        "major_illness_eligible", "over_cap")}
    return Preview(lines=lines, diseases=diseases, amounts=amounts)


def _state_before(session, rx: Prescription, on: date) -> dict[str, tuple[Decimal, Decimal]]:
    stock = on_hand_by_drug(session, [line.drug_code for line in rx.lines], on)
    return {line.drug_code: (line.quantity - dispensed_under(session, line), stock[line.drug_code])
            for line in rx.lines}


def _run(session, user: UserInfo, rx: Prescription, days: int, on: date, today: date, override_reason: str | None,
         prescriber_level: str | None) -> Settlement:
    settlement = dispense_and_settle(session, policy_in_force(session, on), rx, on, days=days,
                                     dispenser_name=user.display_name, override_reason=override_reason or None,
                                     prescriber_level=prescriber_level, today=today)
    session.flush()
    return settlement


def preview(db: Database, user: UserInfo, prescription_id: str, days: int, today: date, *,
            override_reason: str = "", prescriber_level: str | None = None, on: date | None = None) -> Preview:
    """Dispense and settle in a transaction that is rolled back: the figures and refusals of the real
    thing, with nothing stored. `on` is the purchase's day when it is a 补录 (default: today)."""
    on = on or today
    with db.sessions() as s:
        s.info.update(user=user.username, institution_code=db.institution_code)
        try:
            rx = s.get(Prescription, prescription_id)
            before = _state_before(s, rx, on)
            used = year_to_date(s, rx.patient_id, on).fund_paid
            try:
                settlement = _run(s, user, rx, days, on, today, override_reason, prescriber_level)
            except StockShortage as exc:
                return Preview(refusal=str(exc), shortage=True)
            except REFUSALS as exc:
                s.rollback()
                return Preview(refusal=str(exc), first_allowed_on=_first_allowed(s, rx, on))
            return _preview_of(s, rx, settlement, before, used)
        finally:
            s.rollback()


def confirm(db: Database, user: UserInfo, prescription_id: str, days: int, today: date, *,
            override_reason: str = "", prescriber_level: str | None = None, on: date | None = None) -> Done:
    """Dispense, take the stock and store the settlement (queued for upload) in one transaction."""
    require(user.role, "dispense")
    with db.session(user.username) as s:
        rx = s.get(Prescription, prescription_id)
        first = s.scalar(select(Dispense.id).where(Dispense.prescription_id == rx.id).limit(1)) is None
        settlement = _run(s, user, rx, days, on or today, today, override_reason, prescriber_level)
        return Done(settlement.id, settlement.receipt_no, settlement.total, settlement.fund_pay, settlement.self_pay,
                    rx.id, first)


def receipt_pdf(db: Database, settlement_id: str) -> bytes:
    """结算单 (or 退费单 for a refund)."""
    from forms.receipt import receipt_data, render_receipt

    with db.session() as s:
        return render_receipt(receipt_data(s, s.get(Settlement, settlement_id)))


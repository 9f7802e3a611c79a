"""配药 and 结算 of a continuous prescription, with the checks the policies demand.

- Refill window (鄂州方案 附件3 注意2): a refill only when the previous supply has at most N days
  left, N from the policy; an early refill is 重复配药 and is refused with the first allowed date.
  Supplies count by medicine (generic name + strength + form, clinic/medicine.py), not by 医保 code,
  here and at other clinics.
- Back-dating (补录, e.g. paper records typed in after a power cut): a purchase may be dated at most
  `ledger.backdate_days` days before the working day (a clinic setting, BACKDATE_DEFAULT_DAYS until an
  administrator changes it; no policy document gives a figure), never after it. Whatever its date, it
  settles against its year's whole ledger (clinic/ledger.py), so it can never pay past a cap.
- Over-quantity (超量配药, seeds/003 national plan (十一)): no more than the prescription still covers.
- Out of scope (超范围用药): the patient must be entitled to the disease on the day of dispensing.
Stock is taken first-expiring first; dispensing beyond stock needs a recorded override reason.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import Float, Integer, String, and_, case, cast, func, literal_column, select, type_coerce
from sqlalchemy.orm import Session

from clinic import catalogue, ledger, medicine, stock
from clinic.db.models import (
    Dispense,
    DispenseLine,
    Drug,
    ExternalDispense,
    Patient,
    Prescription,
    PrescriptionLine,
    Setting,
    Settlement,
)
from clinic.filings import entitlements
from clinic.policy import Policy
from clinic.prescriptions import daily_dose, quantity_for
from clinic.profile import local_institution, local_settings
from clinic.settlement import Item, Purchase, settle
from clinic.settlement.service import record_settlement, refund, refunded_dispense_ids
from clinic.vocab import DISEASES


class DispenseError(ValueError):
    pass


@dataclass(frozen=True)
class RefillCheck:
    allowed: bool
    days_left: int
    first_allowed_on: date | None
    reason: str = ""


def _supply_lines(session: Session, patient_id: str, drug_codes: set[str] | None = None):
    refunded = refunded_dispense_ids(session, patient_id)
    query = (select(Dispense.id, Dispense.dispensed_on, DispenseLine.drug_code, DispenseLine.quantity,
                    DispenseLine.daily_dose)
             .join(DispenseLine, DispenseLine.dispense_id == Dispense.id)
             .where(Dispense.patient_id == patient_id, Dispense.deleted_at.is_(None))
             .order_by(Dispense.dispensed_on, Dispense.created_at))
    if drug_codes is not None:
        query = query.where(DispenseLine.drug_code.in_(sorted(drug_codes)))
    return [row for row in session.execute(query) if row.id not in refunded]


def runs_out_on(dispenses: list[tuple[date, Decimal, Decimal]]) -> date | None:
    """First day without the drug, from (date, quantity, daily dose) in date order. An early refill
    adds its days to what is left, so supplies stack."""
    run_out = None
    for on, quantity, per_day in dispenses:
        days = math.floor(quantity / per_day) if per_day > 0 else 0
        start = max(on, run_out) if run_out else on
        run_out = start + timedelta(days=days)
    return run_out


def _external_supplies(session: Session, patient_id: str, drug: Drug,
                       codes: set[str]) -> list[tuple[date, Decimal, Decimal]]:
    """Supplies of the same medicine other clinics handed out, as the township last reported them
    (pulled by sync). Another clinic's code this catalogue does not know counts when it is the code."""
    rows = session.scalars(select(ExternalDispense).where(ExternalDispense.patient_id == patient_id)).all()
    known = medicine.keys_by_code(session, {r.drug_code for r in rows})
    key = medicine.key_of(drug)
    return [(r.dispensed_on, r.quantity, r.daily_dose) for r in rows
            if r.drug_code in codes or known.get(r.drug_code) == key]


def check_refill(session: Session, patient_id: str, drug: Drug, on: date, window_days: int) -> RefillCheck:
    """The refill window counts every supply of the same medicine the patient holds, under any code,
    here and at other clinics."""
    codes = medicine.same_medicine_codes(session, drug)
    rows = [(r.dispensed_on, r.quantity, r.daily_dose) for r in _supply_lines(session, patient_id, codes)]
    run_out = runs_out_on(sorted(rows + _external_supplies(session, patient_id, drug, codes), key=lambda r: r[0]))
    if run_out is None or run_out <= on:
        return RefillCheck(True, 0, None)
    days_left = (run_out - on).days
    first = run_out - timedelta(days=window_days)
    if days_left <= window_days:
        return RefillCheck(True, days_left, first)
    return RefillCheck(False, days_left, first, (
        f"重复配药：{drug.generic_name} 上次所配药量还可用 {days_left} 天，须剩余不超过 {window_days} 天"
        f"方可续配，最早 {first} 可配"))


def dispensed_under(session: Session, line: PrescriptionLine) -> Decimal:
    refunded = refunded_dispense_ids(session, session.get(Prescription, line.prescription_id).patient_id)
    rows = session.execute(
        select(Dispense.id, DispenseLine.quantity).join(DispenseLine, DispenseLine.dispense_id == Dispense.id)
        .where(Dispense.prescription_id == line.prescription_id, DispenseLine.drug_code == line.drug_code))
    return sum((q for dispense_id, q in rows if dispense_id not in refunded), Decimal(0))


BACKDATE_SETTING = "ledger.backdate_days"
BACKDATE_DEFAULT_DAYS = 7      # a product default (a week of power cuts), not a policy figure
BACKDATE_MAX_DAYS = 90


def backdate_days(session: Session) -> int:
    row = session.get(Setting, BACKDATE_SETTING)
    try:
        return int(row.value) if row is not None else BACKDATE_DEFAULT_DAYS
    except ValueError:
        return BACKDATE_DEFAULT_DAYS


def set_backdate_days(session: Session, value: object) -> None:
    """An administrator sets how many days back a purchase may be entered (0 = today only)."""
    try:
        days = int(str(value).strip())
    except ValueError:
        raise DispenseError(f"补录期限应为天数（整数）：{value!r}") from None
    if not 0 <= days <= BACKDATE_MAX_DAYS:
        raise DispenseError(f"补录期限应在 0 到 {BACKDATE_MAX_DAYS} 天之间：{days}")
    row = session.get(Setting, BACKDATE_SETTING)
    if row is None:
        session.add(Setting(key=BACKDATE_SETTING, value=str(days)))
    else:
        row.value = str(days)


def check_purchase_date(session: Session, on: date, today: date) -> None:
    if on > today:
        raise DispenseError(f"配药日期 {on} 晚于今天 {today}，不能预先登记配药")
    limit = backdate_days(session)
    if (today - on).days > limit:
        earliest = today - timedelta(days=limit)
        raise DispenseError(f"配药日期 {on} 早于补录期限：本机构只允许补录 {limit} 天以内（{earliest} 及以后）的配药；"
                            f"更早的请联系乡镇卫生院医保经办处理")


def dispense_and_settle(session: Session, policy: Policy, prescription: Prescription, on: date, *,
                        days: int, dispenser_name: str, override_reason: str | None = None,
                        prescriber_level: str | None = None, today: date | None = None):
    """Dispense every line of the prescription for `days` days and settle the purchase.

    `today` is the working day: given, a purchase dated `on` before it is a 补录 and must lie within
    the clinic's back-dating limit. Returns the stored Settlement. Raises DispenseError (or
    stock.StockShortage) with the reason; the caller's transaction then rolls back, so nothing is
    half-written.
    """
    if today is not None:
        check_purchase_date(session, on, today)
    patient = session.get(Patient, prescription.patient_id)
    if prescription.state != "active":
        raise DispenseError("处方已停用，请重新开具")
    if not prescription.prescribed_on <= on <= prescription.valid_until:
        raise DispenseError(f"处方有效期为 {prescription.prescribed_on} 至 {prescription.valid_until}，"
                            f"{on} 不在有效期内，请续方")
    if days < 1:
        raise DispenseError("配药天数必须大于0")
    filings = entitlements(session, patient, policy, on)
    entitled = {f.disease for f in filings}
    institution = local_institution(session)
    dispense = Dispense(patient_id=patient.id, prescription_id=prescription.id, dispensed_on=on,
                        dispenser_name=dispenser_name, override_reason=override_reason or None)
    items = []
    for line in prescription.lines:
        drug = session.get(Drug, line.drug_code)
        if line.disease not in entitled:
            raise DispenseError(f"超范围用药：患者 {on} 未享受{DISEASES[line.disease]}“两病”待遇，"
                                f"不能按“两病”配 {drug.generic_name}")
        refill = check_refill(session, patient.id, drug, on, policy.refill_window_days)
        if not refill.allowed:
            raise DispenseError(refill.reason)
        quantity = quantity_for(line.dose, line.frequency, days)
        left = line.quantity - dispensed_under(session, line)
        if quantity > left:
            raise DispenseError(f"超量配药：{drug.generic_name} 本处方剩余可配 {left.normalize():f}{drug.unit}，"
                                f"本次 {days} 天需 {quantity.normalize():f}{drug.unit}")
        standard = catalogue.payment_standard(drug, policy)
        items.append(Item(drug.code, drug.generic_name, line.disease, quantity, drug.retail_price, standard))
        dispense.lines.append(DispenseLine(
            position=line.position, drug_code=drug.code, drug_name=drug.generic_name, spec=drug.spec,
            disease=line.disease, quantity=quantity, daily_dose=daily_dose(line.dose, line.frequency),
            unit_price=drug.retail_price, payment_standard=standard, in_scope=True,
            line_total=Decimal(0), policy_range=Decimal(0), over_standard=Decimal(0)))
    session.add(dispense)
    session.flush()
    for line in dispense.lines:
        stock.take_for_dispense(session, line.drug_code, line.quantity, on, dispense.id, override_reason)
    ytd = ledger.year_to_date(session, patient.id, on.year)
    purchase = Purchase(
        date=on, insurance=patient.insurance, contribution=patient.contribution, filings=filings,
        institution_level=institution.level, prescriber_level=prescriber_level, items=tuple(items),
        ytd_fund_paid=ytd.fund_paid, ytd_deductible_paid=ytd.deductible_paid)
    result = settle(policy, purchase)
    for line, computed in zip(dispense.lines, result.lines, strict=True):
        line.line_total, line.policy_range, line.over_standard = (
            computed.total, computed.policy_range, computed.over_standard)
    return record_settlement(session, dispense, purchase, result, institution.code, dispenser_name,
                             policy_settings=settings_snapshot(session, policy))


def settings_snapshot(session: Session, policy: Policy) -> str:
    """The administrator's local settings of the policy's region, as canonical JSON on the settlement,
    so the township re-adjudicates with the figures this clinic settled with."""
    return json.dumps(local_settings(session, policy.region), ensure_ascii=False, sort_keys=True,
                      separators=(",", ":"))


@dataclass(frozen=True)
class RunningOut:
    patient_id: str
    drug_code: str
    runs_out_on: date
    days_left: int


def running_out(session: Session, on: date, within_days: int, lapsed_days: int = 30) -> list[RunningOut]:
    """The morning list: patients whose supply runs out within `within_days` (or ran out in the last
    `lapsed_days` without a refill), soonest first; on one day, the patient and drug dispensed first.

    Grouped in SQL (one row per patient and drug comes back): the stacked run-out day of `runs_out_on`
    is, in closed form, max over dispenses k of (day_k + the days supplied by k and every later one).
    For the clinic's own SQLite file: julianday and rowid are SQLite's.
    """
    refunded = select(Settlement.dispense_id).where(Settlement.reverses_id.is_not(None),
                                                    Settlement.dispense_id.is_not(None))
    # The order rows were read in before (date, time recorded, then as stored), as one sortable text,
    # so the pair that appeared first can be found with MIN(): the list's order on one run-out day.
    appeared = type_coerce(Dispense.dispensed_on, String).concat(
        func.coalesce(type_coerce(Dispense.created_at, String), "")).concat(
        cast(literal_column("1000000000000000000 + dispense.rowid * 4294967296 + dispense_line.rowid"), String))
    lines = (
        select(Dispense.patient_id, DispenseLine.drug_code, appeared.label("appeared"),
               (cast(func.julianday(Dispense.dispensed_on), Integer) + func.sum(_supply_days(session)).over(
                   partition_by=(Dispense.patient_id, DispenseLine.drug_code),
                   order_by=Dispense.dispensed_on.desc())).label("ends"))
        .join(DispenseLine, DispenseLine.dispense_id == Dispense.id)
        .where(Dispense.dispensed_on >= on - timedelta(days=400), Dispense.dispensed_on <= on,
               Dispense.deleted_at.is_(None), Dispense.id.not_in(refunded))).subquery()
    today = on.toordinal() + _JULIAN_ORDINAL
    ends = func.max(lines.c.ends)
    pairs = (select(lines.c.patient_id, lines.c.drug_code, ends)
             .group_by(lines.c.patient_id, lines.c.drug_code)
             .having(ends.between(today - lapsed_days, today + within_days))
             .order_by(ends, func.min(lines.c.appeared)))
    found = []
    for patient_id, drug_code, end_day in session.execute(pairs):
        end = date.fromordinal(end_day - _JULIAN_ORDINAL)
        found.append(RunningOut(patient_id, drug_code, end, (end - on).days))
    return found


# julianday('0001-01-01') is 1721425.5: the whole Julian day number of a date is its ordinal + 1721424.
_JULIAN_ORDINAL = 1721424


def _supply_days(session: Session):
    """The whole days a dispense line supplies, as an SQL expression that gives exactly what
    `runs_out_on` computes with Decimal. SQLite divides in floating point, which is right for the
    usual doses but not for all (4 weekly tablets at 1/7 a day: 27.99… days in Decimal, 28 in floating
    point), so each distinct (quantity, daily dose) stored is checked here, and those SQLite would get
    wrong are listed with their exact days."""
    quantity, per_day = type_coerce(DispenseLine.quantity, String), type_coerce(DispenseLine.daily_dose, String)
    approximate = case((cast(per_day, Float) > 0, cast(cast(quantity, Float) / cast(per_day, Float), Integer)),
                       else_=0)
    exceptions = []
    for q, d, sqlite_days in session.execute(select(quantity, per_day, approximate).distinct()):
        exact = math.floor(Decimal(q) / Decimal(d)) if Decimal(d) > 0 else 0
        if sqlite_days != exact:
            exceptions.append((and_(quantity == q, per_day == d), exact))
    return case(*exceptions, else_=approximate) if exceptions else approximate


def refund_purchase(session: Session, settlement: Settlement, on: date, reason: str,
                    operator_name: str) -> Settlement:
    """退费: a reversing settlement, and the drugs go back to the lots they came from."""
    reversal = refund(session, settlement, on, reason, operator_name)
    stock.return_to_stock(session, settlement.dispense_id, on, reason)
    return reversal

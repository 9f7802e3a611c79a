"""A township-like report database, built once per test session from real parts:

- clinic A (300 demo patients, 12 months to 2026-03-15) and clinic B (80, another village) built by
  clinic/demo, merged into one file the way the township server holds the union of clinics' rows;
- in the report month (2026-02), written through the domain functions: purchases settled at a 二级
  and a 三级 hospital and a 定点零售药店 with prices above the payment standard and a drug outside
  the 两病 scope; refunds (same month, and of a January purchase); claims refused by the reviewer
  (one of them also refunded); change filings (普通→重症, 痊愈, one dated after the month); a
  soft-deleted patient.
Then the file loses its "local clinic" mark, as on the server.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select, update

from clinic.db.engine import open_database
from clinic.db.models import Dispense, DispenseLine, Filing, Institution, Patient, Settlement
from clinic.demo import build_demo
from clinic.dispensing import refund_purchase
from clinic.entitlements import entitlements
from clinic.filings import approve, new_change_filing, submit
from clinic.profile import policy_in_force
from clinic.settlement import Item, Purchase, settle
from clinic.settlement.service import record_settlement, year_to_date

TODAY = date(2026, 3, 15)
MONTH = date(2026, 2, 1)
CLINIC_A, CLINIC_B = "H42070400101", "H42070400202"
HOSPITAL_2, HOSPITAL_3, PHARMACY = "H42070000201", "H42070000301", "P42070400001"
OTHERS = {HOSPITAL_2: ("华容区人民医院", "2"), HOSPITAL_3: ("鄂州市中心医院", "3"),
          PHARMACY: ("临江大药房", "pharmacy")}
DRUGS = {"hypertension": ("XC08CAS00101", "苯磺酸氨氯地平片"), "diabetes": ("XA10BAS00101", "盐酸二甲双胍片")}
ANTIBIOTIC = ("XJ01CAS00101", "阿莫西林胶囊")
# Tables holding one clinic's records (merged from B); catalogue, users and settings stay A's.
CLINIC_TABLES = ("institution", "patient", "filing", "prescription", "prescription_line", "dispense",
                 "dispense_line", "settlement", "settlement_disease", "follow_up", "stock_lot", "stock_movement")


@dataclass
class ReportDb:
    path: Path
    refunded_same_month: list[str]       # settlement ids refunded within 2026-02
    refunded_from_january: str
    rejected: list[str]
    outside_sales: list[str]             # settlements at the hospitals and the pharmacy


def build_report_db(root: Path) -> ReportDb:
    path = root / "township.db"
    _demo(path, CLINIC_A, 300, 42)
    _demo(root / "b.db", CLINIC_B, 80, 7)
    _merge(path, root / "b.db")
    db = open_database(path, create=False)
    db.load_local_institution()
    try:
        facts = _month_events(db)
        with db.session("test") as s:
            s.execute(update(Institution).values(is_local=False))
    finally:
        db.close()
    return ReportDb(path, *facts)


def _demo(path: Path, code: str, patients: int, seed: int) -> None:
    db = open_database(path)
    try:
        build_demo(db, patients=patients, clinic_code=code, today=TODAY, seed=seed)
    finally:
        db.close()


def _merge(target: Path, source: Path) -> None:
    conn = sqlite3.connect(target)
    try:
        conn.execute("ATTACH DATABASE ? AS other", (str(source),))
        with conn:
            for table in CLINIC_TABLES:
                conn.execute(f"INSERT INTO main.{table} SELECT * FROM other.{table}")
            conn.execute("UPDATE institution SET name = '鄂州市华容区临江乡燕矶村卫生室', is_local = 0 WHERE code = ?",
                         (CLINIC_B,))
        conn.execute("DETACH DATABASE other")
    finally:
        conn.close()


def _month_events(db) -> tuple:
    with db.session("test") as s:
        for code, (name, level) in OTHERS.items():
            s.add(Institution(code=code, name=name, level=level, region="ezhou", is_local=False))
        feb = list(s.scalars(select(Settlement).where(
            Settlement.institution_code == CLINIC_A, Settlement.reverses_id.is_(None),
            Settlement.settled_on >= date(2026, 2, 1), Settlement.settled_on <= date(2026, 2, 20))
            .order_by(Settlement.receipt_no)))
        january = s.scalars(select(Settlement).where(
            Settlement.institution_code == CLINIC_A, Settlement.settled_on == date(2026, 1, 20))
            .order_by(Settlement.receipt_no)).first() or s.scalars(select(Settlement).where(
                Settlement.institution_code == CLINIC_A, Settlement.settled_on >= date(2026, 1, 10),
                Settlement.settled_on <= date(2026, 1, 31)).order_by(Settlement.receipt_no)).first()
        same_month = feb[:3]
        for original in same_month:
            refund_purchase(s, original, original.settled_on, "患者退药", "李秀英")
        refund_purchase(s, january, date(2026, 2, 10), "患者退药", "李秀英")
        rejected = feb[3:5]
        for claim in rejected:
            claim.state, claim.review_note = "rejected", "超量配药，拒付"
        refund_purchase(s, rejected[0], date(2026, 2, 25), "拒付后退费", "李秀英")
        outside = _outside_sales(s)
        _filing_changes(s)
        # A patient removed from the register is in no head count.
        victim = s.scalars(select(Patient).join(Filing, Filing.patient_id == Patient.id).where(
            Patient.institution_code == CLINIC_B, Filing.state == "approved").order_by(Patient.id)).first()
        victim.deleted_at = datetime(2026, 1, 5)
        return ([c.id for c in same_month], january.id, [c.id for c in rejected], outside)


def _outside_sales(s) -> list[str]:
    """Purchases at other institutions by A's patients: each insurance type, each level, a price above
    the payment standard, and an antibiotic outside the 两病 scope."""
    policy = policy_in_force(s, MONTH)
    chosen: dict[str, list[Patient]] = {}
    for patient in s.scalars(select(Patient).where(Patient.institution_code == CLINIC_A).order_by(Patient.id)):
        if entitlements(s, patient, policy, date(2026, 2, 12)) and len(chosen.get(patient.insurance, [])) < 4:
            chosen.setdefault(patient.insurance, []).append(patient)
    made = []
    levels = [(HOSPITAL_2, "2", None), (HOSPITAL_3, "3", None), (PHARMACY, "pharmacy", "2"), (HOSPITAL_2, "2", None)]
    for patients in chosen.values():
        for n, (patient, (code, level, prescriber)) in enumerate(zip(patients, levels, strict=False)):
            on = date(2026, 2, 12 + n)
            filings = entitlements(s, patient, policy, on)
            # A hospital's price above the payment standard (over-standard part self-paid).
            items = [Item(*DRUGS[f.disease], f.disease, Decimal(30), Decimal("1.37"), Decimal("1.10"))
                     for f in filings]
            items.append(Item(*ANTIBIOTIC, filings[0].disease, Decimal(12), Decimal("0.30"), in_scope=False))
            ytd = year_to_date(s, patient.id, on)
            purchase = Purchase(on, patient.insurance, patient.contribution, filings, level, prescriber,
                                tuple(items), ytd_fund_paid=ytd.fund_paid, ytd_deductible_paid=ytd.deductible_paid)
            result = settle(policy, purchase)
            dispense = Dispense(patient_id=patient.id, dispensed_on=on, dispenser_name="药师", institution_code=code)
            for pos, (item, line) in enumerate(zip(items, result.lines, strict=True), start=1):
                dispense.lines.append(DispenseLine(
                    position=pos, drug_code=item.code, drug_name=item.name, spec="片", disease=item.disease,
                    quantity=item.quantity, daily_dose=Decimal(1), unit_price=item.unit_price,
                    payment_standard=item.payment_standard, in_scope=item.in_scope, line_total=line.total,
                    policy_range=line.policy_range, over_standard=line.over_standard))
            s.add(dispense)
            s.flush()
            settlement = record_settlement(s, dispense, purchase, result, code, "收费员")
            settlement.institution_code = code
            s.flush()
            made.append(settlement.id)
    return made


def _filing_changes(s) -> None:
    approved = list(s.scalars(select(Filing).where(
        Filing.state == "approved", Filing.tier == "ordinary", Filing.institution_code == CLINIC_A,
        Filing.disease == "hypertension",
        Filing.filed_on < date(2026, 1, 1)).order_by(Filing.id)))
    worse, cured, later = approved[0], approved[1], approved[2]
    for previous, reason, on, tier in ((worse, "progression", date(2026, 2, 5), "severe"),
                                       (cured, "cured", date(2026, 2, 10), None),
                                       (later, "progression", date(2026, 3, 5), "severe")):
        change = new_change_filing(s, previous, reason=reason, filed_on=on, tier=tier)
        submit(s, change, datetime.combine(on, datetime.min.time()))
        approve(s, change, datetime.combine(on, datetime.min.time()))

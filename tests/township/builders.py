"""Village clinics with a realistic month of work, for township tests: real clinic SQLite files whose
records go to the township server through the real sync (tests/sync/helpers.py starts the server).

Dates are fixed in the past: February and March of YEAR; every filing that counts for the 濉溪 pilot
was approved the year before (试点人群不含当年新增)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from clinic import stock
from clinic.db.models import Drug, Filing, Patient, Settlement
from clinic.dispensing import dispense_and_settle, refund_purchase
from clinic.health import record_follow_up
from clinic.idcard import check_digit
from clinic.prescriptions import LineInput, create_prescription
from clinic.profile import policy_in_force
from tests.clinic_fixtures import AML, MET

YEAR = 2025
FEB, MAR = date(YEAR, 2, 1), date(YEAR, 3, 1)
GLM = "XA10BBG001"          # a third 两病 drug, stocked by some villages only


def id_number(n: int) -> str:
    first17 = f"42070419550101{n:03d}"
    return first17 + check_digit(first17)


def add_third_drug(s) -> None:
    s.add(Drug(code=GLM, generic_name="格列美脲片", spec="2mg", form="片剂", unit="片", package="30片/盒",
               drug_class="antidiabetic", category="乙", essential=True, retail_price=Decimal("0.60")))
    s.flush()


@dataclass
class Village:
    db: object
    code: str
    patients: dict[str, str] = field(default_factory=dict)      # label → patient id


def person(s, label: str, n: int, *, insurance: str = "resident", filings=(("hypertension", "ordinary"),),
           filed_on: date = date(YEAR - 1, 11, 1), signed: bool = False, managed: tuple[str, ...] = ()) -> Patient:
    p = Patient(name=label, sex="男", birth_date=date(1955, 1, 1), id_number=id_number(n), insurance=insurance,
                contribution="100" if insurance != "resident" else None, phone="13900000000",
                family_doctor_signed=signed, managed_hypertension="hypertension" in managed,
                managed_diabetes="diabetes" in managed)
    s.add(p)
    s.flush()
    for i, (disease, tier) in enumerate(filings):
        s.add(Filing(patient_id=p.id, kind="initial", disease=disease, tier=tier, is_primary=i == 0,
                     history_diagnosis="病史", treatment_plan="方案", state="approved", filed_on=filed_on,
                     reviewed_at=datetime.combine(filed_on, datetime.min.time())))
    s.flush()
    return p


def sell(db, patient_id: str, drugs: list[str], on: date, days: int = 28):
    with db.session("doctor") as s:
        patient = s.get(Patient, patient_id)
        policy = policy_in_force(s, on)
        entitled = {"diabetes" if d in (MET, GLM) else "hypertension" for d in drugs}
        rx = create_prescription(s, patient, policy, entitled=entitled, prescriber_name="王医生", prescribed_on=on,
                                 diagnosis="两病", lines=[LineInput(d, Decimal(1), "qd", days) for d in drugs])
        s.flush()
        settlement = dispense_and_settle(s, policy, rx, on, days=days, dispenser_name="李药师")
        s.flush()
        return settlement.id


def visit(db, patient_id: str, on: date, *, sbp=None, dbp=None, glucose=None) -> None:
    with db.session("doctor") as s:
        record_follow_up(s, s.get(Patient, patient_id), visit_on=on, doctor_name="王医生", sbp=sbp, dbp=dbp,
                         fasting_glucose=glucose)


def populate(village: Village, base: int) -> Village:
    """Eight kinds of patient at one village (ID numbers base+1 … base+8). For the 濉溪 pilot of YEAR
    (城乡居民, a case on 31 Dec of the year before, a 两病 purchase in the year): signed_htn and both
    (签约), cured_in_march (未签约); new_in_march is 当年新增 and its purchase was refunded."""
    db, ids = village.db, village.patients
    with db.session("doctor") as s:
        ids["signed_htn"] = person(s, "签约高血压", base + 1, signed=True).id
        ids["both"] = person(s, "两病患者", base + 2, filings=(("hypertension", "ordinary"), ("diabetes", "ordinary")),
                             signed=True).id
        ids["employee_severe"] = person(s, "职工重症", base + 3, insurance="employee",
                                        filings=(("diabetes", "severe"),)).id
        ids["supplementary"] = person(s, "职工补充", base + 4, insurance="employee_supplementary").id
        ids["managed_only"] = person(s, "规范管理", base + 5, filings=(), managed=("hypertension",)).id
        ids["unmarked"] = person(s, "疑似未标识", base + 6, filings=()).id
        ids["new_in_march"] = person(s, "三月新备案", base + 7, filed_on=date(YEAR, 3, 5)).id
        cured = person(s, "三月痊愈", base + 8, filed_on=date(YEAR - 1, 6, 1))
        ids["cured_in_march"] = cured.id
        first = s.query(Filing).filter_by(patient_id=cured.id).one()
        first.state = "superseded"
        s.add(Filing(patient_id=cured.id, kind="change", change_reason="cured", disease="hypertension",
                     tier="ordinary", is_primary=True, history_diagnosis="血压恢复正常", treatment_plan="停药观察",
                     state="approved", filed_on=date(YEAR, 3, 10), supersedes_id=first.id,
                     reviewed_at=datetime(YEAR, 3, 12)))
    sell(db, ids["signed_htn"], [AML], date(YEAR, 2, 3))
    sell(db, ids["signed_htn"], [AML], date(YEAR, 3, 2))
    sell(db, ids["both"], [AML, MET], date(YEAR, 2, 10), days=60)
    sell(db, ids["employee_severe"], [MET], date(YEAR, 3, 8))
    sell(db, ids["supplementary"], [AML], date(YEAR, 3, 9))
    refunded = sell(db, ids["new_in_march"], [AML], date(YEAR, 3, 6))
    sell(db, ids["cured_in_march"], [AML], date(YEAR, 2, 20))
    with db.session("pharmacist") as s:
        refund_purchase(s, s.get(Settlement, refunded), date(YEAR, 3, 7), "患者退药", "李药师")
    visit(db, ids["signed_htn"], date(YEAR, 3, 2), sbp=132, dbp=84)
    visit(db, ids["managed_only"], date(YEAR, 3, 3), sbp=150, dbp=95)
    visit(db, ids["unmarked"], date(YEAR, 3, 15), sbp=165, dbp=100)
    visit(db, ids["both"], date(YEAR, 2, 10), sbp=128, dbp=80, glucose="6.1")
    return village


EXP1, EXP2 = "XC09TEST0001", "XC09TEST0002"
CROSS = 900          # the ID number of the person registered in two villages


def expensive_drugs(db) -> None:
    with db.session("pharmacist") as s:
        for code in (EXP1, EXP2):
            s.add(Drug(code=code, generic_name=f"测试降压药{code[-1]}", spec="10mg", form="片剂", unit="片",
                       drug_class="antihypertensive", category="乙", retail_price=Decimal("10.00")))
        s.flush()
        for code in (EXP1, EXP2):
            stock.receive(s, code, "T1", date(YEAR + 2, 1, 1), Decimal(1000), date(YEAR, 1, 6))


def cross_village(home: Village, other: Village) -> None:
    """One person (签约 at home) buying in both villages: 540.00 from the fund at home, then 480.00 at
    the other village (城乡居民 普通 cap 1000: 20.00 over, flagged there), and amlodipine at the other
    village three days after 28 days' supply at home (25 days left > the 15-day window: 重复配药)."""
    for village, signed in ((home, True), (other, False)):
        expensive_drugs(village.db)
        with village.db.session("doctor") as s:
            village.patients["cross"] = person(s, "跨村患者", CROSS, signed=signed).id
    sell(home.db, home.patients["cross"], [EXP1], date(YEAR, 2, 5), days=90)
    sell(other.db, other.patients["cross"], [EXP2], date(YEAR, 2, 6), days=80)
    sell(home.db, home.patients["cross"], [AML], date(YEAR, 3, 2))
    sell(other.db, other.patients["cross"], [AML], date(YEAR, 3, 5))


def stock_third_drug(db, quantity: int, *, dispense_to: str | None = None) -> None:
    with db.session("pharmacist") as s:
        add_third_drug(s)
        stock.receive(s, GLM, "G1", date(YEAR + 2, 1, 1), Decimal(quantity), date(YEAR, 1, 6))
    if dispense_to is not None:
        sell(db, dispense_to, [GLM], date(YEAR, 3, 25), days=quantity)

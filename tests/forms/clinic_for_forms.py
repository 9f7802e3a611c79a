"""A fixed village clinic for the printed-form tests, built through the same calls the app makes
(register, 认定备案 → submit → approve, prescribe, dispense and settle, refund), with fixed names and
dates so the forms print the same every run (the visual references depend on it)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from clinic import stock
from clinic.catalogue import load_starter_catalogue
from clinic.db.engine import Database, open_database
from clinic.db.models import Drug, ExternalFundUse, Filing, Patient, Prescription, Settlement
from clinic.dispensing import dispense_and_settle, refund_purchase
from clinic.filings import approve, entitlements, new_initial_filing, submit
from clinic.idcard import make_id_number
from clinic.patients import find_by_id_number, register_patient
from clinic.prescriptions import LineInput, create_prescription
from clinic.profile import create_local_institution, policy_in_force, set_policy_setting

CLINIC_CODE = "H42070400101"
CLINIC_NAME = "鄂州市华容区临江乡临江村卫生室"
DOCTOR, PHARMACIST = "王建华", "李秀英"
FILED_ON = date(2026, 1, 12)
APPROVED_AT = datetime(2026, 1, 20, 9, 30)
RX_ON = date(2026, 3, 2)
REFUND_ON = date(2026, 3, 3)
AML, NIF, MET = "XC08CAS00101", "XC08CAS00201", "XA10BAS00101"

HISTORY = {"hypertension": "高血压病史8年，多次测量血压升高，最高170/100mmHg，规律服用降压药",
           "diabetes": "2型糖尿病病史5年，空腹血糖7.8mmol/L，糖化血红蛋白7.2%"}
PLANS = {"hypertension": "低盐饮食，苯磺酸氨氯地平片5mg每日1次，每日监测血压",
         "diabetes": "控制饮食，适量运动，盐酸二甲双胍片0.5g每日2次，每月监测血糖"}
OPINION = "经审核，符合“两病”门诊用药保障认定条件，同意备案。"
REFUND_REASON = "患者误购，原包装退回"

# The longest values the registration form accepts (clinic/patients.py: 姓名 20 characters) or that
# real rural addresses reach, to show they stay inside their cells.
LONG_NAME = "阿卜杜热合曼·买买提艾力·阿不都热西提"
LONG_ADDRESS = "湖北省鄂州市华容区临江乡燕矶村第十二村民小组东头老供销社后面第三排左手边第二户（靠近村卫生室）"
LONG_INSURED_PLACE = "鄂州市华容区城乡居民基本医疗保险参保地（临江乡）"
LONG_CATEGORY = "城乡居民（低保对象·脱贫人口）"
LONG_DIAGNOSIS = "原发性高血压（3级，很高危）；2型糖尿病伴周围神经病变；高脂血症；慢性肾脏病3期"


def as_stored(text: str) -> str:
    """A value as registration stores it: NFKC turns full-width brackets half-width (clinic/patients.py)."""
    return unicodedata.normalize("NFKC", text)


@dataclass(frozen=True)
class FormsClinic:
    path: Path
    regular: str          # ID numbers: both diseases filed, a prescription, a purchase and its refund
    long_text: str        # long name, address, diagnosis; a 30-line prescription
    over_cap: str         # an employee whose purchase runs past the annual cap (大病保险 amounts)
    unfiled: str          # registered, nothing filed
    filed_only: str       # filed, never prescribed or settled
    receipt_no: str       # the regular patient's purchase
    refund_no: str        # its refund
    over_cap_receipt_no: str


def _register(s, name: str, birth: date, seq: int, **fields) -> Patient:
    patient, _ = register_patient(s, name=name, id_number=make_id_number("420704", birth, seq), **fields)
    return patient


def _file(s, patient: Patient, diseases: tuple[str, ...], *, approved: bool = True) -> None:
    for i, disease in enumerate(diseases):
        filing = new_initial_filing(
            s, patient, disease=disease, tier="ordinary", primary=i == 0,
            icd10={"hypertension": "I10.x00", "diabetes": "E11.900"}[disease], history_diagnosis=HISTORY[disease],
            treatment_plan=PLANS[disease], history_signer=DOCTOR, plan_signer=DOCTOR, filed_on=FILED_ON)
        submit(s, filing, datetime.combine(FILED_ON, datetime.min.time()))
        if approved:
            approve(s, filing, APPROVED_AT, OPINION)


def _prescribe(s, patient: Patient, lines: list[LineInput], diagnosis: str):
    policy = policy_in_force(s, RX_ON)
    entitled = {e.disease for e in entitlements(s, patient, policy, RX_ON)}
    return create_prescription(s, patient, policy, entitled=entitled, prescriber_name=DOCTOR, prescribed_on=RX_ON,
                               diagnosis=diagnosis, lines=lines)


def build_forms_clinic(path: Path) -> FormsClinic:
    db: Database = open_database(path)
    with db.session("admin") as s:
        create_local_institution(s, CLINIC_CODE, CLINIC_NAME, "1", "ezhou", "H420704001", "华容区临江乡卫生院")
        set_policy_setting(s, "ezhou", "payment_standard", "vbp_price")   # the document names no 支付标准
    db.load_local_institution()
    with db.session("doctor") as s:
        load_starter_catalogue(s)
        for drug in s.scalars(select(Drug).where(Drug.drug_class != "other")):
            stock.receive(s, drug.code, f"L{drug.code[-5:]}", date(2027, 12, 31), Decimal(5000), date(2026, 1, 5),
                          cost_price=Decimal("0.01"), supplier="鄂州市医药公司")

        regular = _register(s, "张秀兰", date(1958, 4, 12), 24, phone="13871234567",
                            address="鄂州市华容区临江乡燕矶村3组12号", insured_place="鄂州市华容区",
                            category="普通居民", outpatient_no="MZ202600123")
        _file(s, regular, ("hypertension", "diabetes"))
        rx = _prescribe(s, regular, [LineInput(AML, Decimal(1), "qd", 84), LineInput(MET, Decimal(1), "bid", 84)],
                        "原发性高血压、2型糖尿病")

        long_text = _register(s, LONG_NAME, date(1949, 12, 27), 25, phone="0711-3456789", address=LONG_ADDRESS,
                              insured_place=LONG_INSURED_PLACE, category=LONG_CATEGORY,
                              outpatient_no="MZ2026000456-临江村卫生室-慢病门诊")
        _file(s, long_text, ("hypertension", "diabetes"))
        codes = [d.code for d in s.scalars(select(Drug).where(Drug.drug_class != "other").order_by(Drug.code))]
        _prescribe(s, long_text, [LineInput(code, Decimal(1), "qd", 84) for code in codes[:30]], LONG_DIAGNOSIS)

        over_cap = _register(s, "李建国", date(1962, 8, 3), 31, phone="13907111234",
                             address="鄂州市华容区临江乡长港村5组8号", insured_place="鄂州市华容区",
                             insurance="employee", contribution="80", category="在职职工", outpatient_no="MZ202600789")
        _file(s, over_cap, ("hypertension",))
        s.add(ExternalFundUse(patient_id=over_cap.id, year=RX_ON.year, disease="hypertension",
                              fund_paid=Decimal("1999.00"), deductible_paid=Decimal("0.00"),
                              pulled_at=datetime(2026, 3, 1, 8, 0)))
        over_rx = _prescribe(s, over_cap, [LineInput(NIF, Decimal(1), "bid", 84)], "原发性高血压")

        unfiled = _register(s, "赵德福", date(1955, 6, 30), 13, address="鄂州市华容区临江乡蒲团村1组2号")
        filed_only = _register(s, "钱桂英", date(1960, 2, 14), 42, address="鄂州市华容区临江乡蒲团村4组9号")
        _file(s, filed_only, ("diabetes",), approved=False)
        ids = (regular.id_number, long_text.id_number, over_cap.id_number, unfiled.id_number, filed_only.id_number)

    with db.session("pharmacist") as s:
        policy = policy_in_force(s, RX_ON)
        sold = dispense_and_settle(s, policy, rx, RX_ON, days=28, dispenser_name=PHARMACIST)
        over = dispense_and_settle(s, policy, over_rx, RX_ON, days=28, dispenser_name=PHARMACIST)
        s.flush()
        receipt_no, over_no = sold.receipt_no, over.receipt_no
    with db.session("pharmacist") as s:
        original = s.scalar(select(Settlement).where(Settlement.receipt_no == receipt_no))
        refund_no = refund_purchase(s, original, REFUND_ON, REFUND_REASON, PHARMACIST).receipt_no
    db.close()
    return FormsClinic(path, *ids, receipt_no=receipt_no, refund_no=refund_no, over_cap_receipt_no=over_no)


def latest(session, model, id_number: str):
    """The patient's newest record of `model`, chosen as `liangbing print` chooses it."""
    from desktop.commands.print_cmd import FORMS

    patient = find_by_id_number(session, id_number)
    form = {Filing: "filing", Prescription: "prescription", Settlement: "receipt"}[model]
    return session.scalars(select(model).where(model.patient_id == patient.id).order_by(*FORMS[form][1])).first()

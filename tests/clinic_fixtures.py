"""Builders for tests that need a working clinic: drugs, an entitled patient, stock."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from clinic.db.models import Drug, Filing, Patient

AML, MET, AMX = "XC08CAA001", "XA10BAA001", "XJ01CAA001"


def add_drugs(s) -> None:
    s.add_all([
        Drug(code=AML, generic_name="苯磺酸氨氯地平片", spec="5mg", form="片剂", unit="片", package="28片/盒",
             drug_class="antihypertensive", category="甲", essential=True, consistency=True, vbp=False,
             retail_price=Decimal("0.50")),
        Drug(code=MET, generic_name="盐酸二甲双胍片", spec="0.5g", form="片剂", unit="片", package="48片/盒",
             drug_class="antidiabetic", category="甲", essential=True, consistency=True, vbp=True,
             vbp_price=Decimal("0.15"), retail_price=Decimal("0.20")),
        Drug(code=AMX, generic_name="阿莫西林胶囊", spec="0.25g", form="胶囊剂", unit="粒",
             drug_class="other", category="甲", retail_price=Decimal("0.30")),
    ])


def add_patient(s, *, diseases=("hypertension",), insurance="resident", filed_on=date(2025, 12, 1),
                id_number="420704196001010011", name="张三") -> Patient:
    patient = Patient(name=name, sex="男", birth_date=date(1960, 1, 1), id_number=id_number,
                      insurance=insurance, phone="13800000001")
    s.add(patient)
    s.flush()
    for i, disease in enumerate(diseases):
        s.add(Filing(patient_id=patient.id, kind="initial", disease=disease, tier="ordinary", is_primary=i == 0,
                     history_diagnosis="病史", treatment_plan="方案", state="approved", filed_on=filed_on))
    return patient

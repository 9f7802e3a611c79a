"""A clinic to buy through: drugs at round prices, one entitled patient, plenty of stock, and purchases
made with the product's own prescribing, dispensing and refund code (tests of clinic/ledger.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from clinic import stock
from clinic.db.engine import Database, open_database
from clinic.db.models import Drug, Filing, Patient, Settlement
from clinic.dispensing import dispense_and_settle, refund_purchase
from clinic.filings import entitlements
from clinic.prescriptions import LineInput, create_prescription
from clinic.profile import create_local_institution, policy_in_force, set_policy_setting

# Three antihypertensives and one antidiabetic at 10.00 a tablet, none 集采: the policy range is the price.
TEN = {"T1": ("厄贝沙坦片", "150mg"), "T2": ("缬沙坦胶囊", "80mg"), "T3": ("替米沙坦片", "40mg"),
       "D1": ("格列美脲片", "2mg")}
LVLIANG_SETTINGS = {"ratios.resident.1": "0.60", "ratios.resident.2": "0.50", "ratios.resident.3": "0.40",
                    "caps.resident.ordinary": "1000", "caps.resident.severe": "2000", "secondary_factor": "0.5",
                    "prescription.refill_window_days": "15", "payment_standard": "vbp_price"}
REGIONS = {"ezhou": ("H42070400101", {"payment_standard": "vbp_price"}),
           "lvliang": ("J14110200101", LVLIANG_SETTINGS)}


@dataclass
class Shop:
    db: Database
    patient_id: str

    def buy(self, on: date, code: str, quantity: int, *, today: date | None = None, days: int = 1) -> Settlement:
        """One purchase: a prescription of `quantity` tablets taken over `days` days (one day unless
        said: a supply that never blocks the next purchase), dispensed and settled."""
        with self.db.session("doctor") as s:
            patient = s.get(Patient, self.patient_id)
            policy = policy_in_force(s, on)
            entitled = {f.disease for f in entitlements(s, patient, policy, on)}
            rx = create_prescription(s, patient, policy, entitled=entitled, prescriber_name="王医生", prescribed_on=on,
                                     diagnosis="原发性高血压",
                                     lines=[LineInput(code, Decimal(quantity) / days, "qd", days)])
            s.flush()
            return dispense_and_settle(s, policy, rx, on, days=days, dispenser_name="李药师", today=today)

    def refund(self, settlement: Settlement, on: date) -> Settlement:
        with self.db.session("pharmacist") as s:
            return refund_purchase(s, s.get(Settlement, settlement.id), on, "患者退药", "李药师")


def make_shop(path: Path, region: str = "ezhou", *, insurance: str = "resident",
              diseases: tuple[str, ...] = ("hypertension",), filed_on: date = date(2025, 1, 1),
              id_number: str = "420704196001010016", settings: dict[str, str] | None = None,
              code: str | None = None) -> Shop:
    default_code, defaults = REGIONS[region]
    code = code or default_code
    db = open_database(path)
    with db.session("admin") as s:
        create_local_institution(s, code, "某村卫生室", "1", region, code[:-2], "某乡镇卫生院")
        for key, value in {**defaults, **(settings or {})}.items():
            set_policy_setting(s, region, key, value)
    db.load_local_institution()
    with db.session("doctor") as s:
        for drug_code, (name, spec) in TEN.items():
            s.add(Drug(code=drug_code, generic_name=name, spec=spec, form="片剂", unit="片", package="28片/盒",
                       drug_class="antidiabetic" if drug_code.startswith("D") else "antihypertensive",
                       category="甲", retail_price=Decimal("10.00")))
            s.flush()
            stock.receive(s, drug_code, f"L-{drug_code}", date(2030, 12, 31), Decimal(100000), date(2024, 1, 1))
        patient = Patient(name="张三", sex="男", birth_date=date(1960, 1, 1), id_number=id_number,
                          insurance=insurance, phone="13800000001")
        s.add(patient)
        s.flush()
        for i, disease in enumerate(diseases):
            s.add(Filing(patient_id=patient.id, kind="initial", disease=disease, tier="ordinary", is_primary=i == 0,
                         history_diagnosis="病史", treatment_plan="方案", state="approved", filed_on=filed_on))
    return Shop(db, patient.id)

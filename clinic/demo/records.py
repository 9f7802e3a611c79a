"""One demo patient's year: filings, prescriptions every 12 weeks, a 28-day refill each month inside
the refill window, settlements with year-to-date caps, quarterly follow-ups; then the stock lots and
movements that cover all the dispensing."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from clinic.db.models import (
    Dispense,
    DispenseLine,
    Drug,
    Filing,
    FollowUp,
    Prescription,
    PrescriptionLine,
    Settlement,
    SettlementDisease,
    StockLot,
    StockMovement,
)
from clinic.policy import Policy
from clinic.prescriptions import daily_dose, quantity_for, usage_text
from clinic.settlement import Filing as FilingIn
from clinic.settlement import Item, Purchase, settle
from clinic.settlement.service import AMOUNTS, DISEASE_AMOUNTS
from clinic.vocab import CLASS_DISEASE

ICD = {"hypertension": ("I10.x00", "原发性高血压"), "diabetes": ("E11.900", "2型糖尿病")}
PLANS = {"hypertension": "低盐饮食，规律服用降压药，每日监测血压",
         "diabetes": "控制饮食，规律运动，按时服用降糖药，监测血糖"}
DOSES = [(Decimal(1), "qd"), (Decimal(1), "qd"), (Decimal(1), "bid"), (Decimal("0.5"), "qd")]
RX_DAYS, REFILL_DAYS = 84, 28


# The local settings the demo administrator chose, as dispensing records them on each settlement.
SETTINGS_USED = '{"payment_standard":"vbp_price"}'


def seeded_uuid(rng: random.Random) -> str:
    """A version-4 UUID drawn from the demo's seeded generator: reproducible, and 4× faster."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


@dataclass
class PatientPlan:
    rng: random.Random
    patient_id: str = ""
    managed: set[str] = field(default_factory=set)
    rows: dict[type, list[dict]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.patient_id = seeded_uuid(self.rng)

    def add(self, model: type, row: dict) -> dict:
        row.setdefault("id", seeded_uuid(self.rng))
        self.rows.setdefault(model, []).append(row)
        return row


def plan_patient(rng: random.Random, patient: dict, drugs: list[Drug], standards: dict, policy: Policy,
                 today: date) -> PatientPlan:
    plan = PatientPlan(rng)
    roll = rng.random()
    diseases = (["hypertension"] if roll < 0.6 else ["diabetes"] if roll < 0.8
                else ["hypertension", "diabetes"] if roll < 0.95 else [])
    plan.managed = set(diseases)
    start = today - timedelta(days=365)
    entitled = _filings(rng, plan, diseases, start, today)
    if entitled:
        _dispensing(rng, plan, patient, entitled, drugs, standards, policy, start, today)
    _follow_ups(rng, plan, diseases, start, today)
    return plan


def _filings(rng, plan, diseases, start, today) -> list[FilingIn]:
    entitled = []
    # The first approved disease is the primary one (seeds/000 二(一)4(4)).
    for disease in diseases:
        tier = "severe" if rng.random() < 0.1 else "ordinary"
        code, name = ICD[disease]
        measured = "血压" if disease == "hypertension" else "血糖"
        fate = rng.random()
        state = "approved" if fate < 0.93 else "submitted" if fate < 0.98 else "rejected"
        filed = start - timedelta(days=rng.randrange(10, 200)) if state == "approved" else \
            today - timedelta(days=rng.randrange(1, 20))
        plan.add(Filing, {
            "patient_id": plan.patient_id, "kind": "initial", "disease": disease, "tier": tier,
            "is_primary": state == "approved" and not entitled, "icd10": code, "filed_on": filed, "state": state,
            "history_diagnosis": f"{name}病史{rng.randrange(1, 15)}年，多次测量{measured}升高",
            "history_signer": "王建华", "history_signed_on": filed, "treatment_plan": PLANS[disease],
            "plan_signer": "王建华", "plan_signed_on": filed, "version": 1,
            "reject_reason": "病史资料不全，请补充近三个月检查结果" if state == "rejected" else None,
        })
        if state == "approved":
            entitled.append(FilingIn(disease, tier, not entitled))
    return entitled


def _dispensing(rng, plan, patient, filings, drugs, standards, policy, start, today) -> None:
    chosen = []
    for f in filings:
        pool = [d for d in drugs if CLASS_DISEASE.get(d.drug_class) == f.disease and d.unit != "支"]
        chosen += [(f.disease, d, *rng.choice(DOSES)) for d in rng.sample(pool, rng.choice((1, 1, 2)))]
    ytd: dict[int, dict[str, Decimal]] = {}
    rx_on = run_out = start + timedelta(days=rng.randrange(0, 20))
    lapse = today - timedelta(days=rng.randrange(40, 200)) if rng.random() < 0.08 else today
    while rx_on <= lapse:
        rx = plan.add(Prescription, {
            "patient_id": plan.patient_id, "prescriber_name": "王建华", "prescribed_on": rx_on,
            "valid_until": rx_on + timedelta(days=RX_DAYS - 1), "diagnosis": "、".join(
                ICD[f.disease][1] for f in filings), "department": "全科", "external": False, "state": "active"})
        for pos, (disease, drug, dose, freq) in enumerate(chosen, start=1):
            plan.add(PrescriptionLine, {
                "prescription_id": rx["id"], "position": pos, "drug_code": drug.code, "drug_name": drug.generic_name,
                "spec": drug.spec, "disease": disease, "dose": dose, "frequency": freq, "days": RX_DAYS,
                "quantity": quantity_for(dose, freq, RX_DAYS), "usage": usage_text(drug, dose, freq)})
        on = rx_on
        for _ in range(RX_DAYS // REFILL_DAYS):
            if on > lapse:
                break
            _one_purchase(rng, plan, patient, filings, chosen, standards, policy, rx["id"], on, ytd)
            # Supplies stack (an early refill adds to what is left), so patients come back a few days
            # either side of the day they actually run out, never earlier than the refill window.
            run_out = max(on, run_out) + timedelta(days=REFILL_DAYS)
            on = run_out + timedelta(days=rng.randrange(-3, 4))
        rx_on = on


def _one_purchase(rng, plan, patient, filings, chosen, standards, policy, rx_id, on, ytd) -> None:
    dispense = plan.add(Dispense, {"patient_id": plan.patient_id, "prescription_id": rx_id, "dispensed_on": on,
                                   "dispenser_name": "李秀英"})
    items = []
    for disease, drug, dose, freq in chosen:
        items.append(Item(drug.code, drug.generic_name, disease, quantity_for(dose, freq, REFILL_DAYS),
                          drug.retail_price, standards[drug.code]))
    year = ytd.setdefault(on.year, {})
    purchase = Purchase(on, patient["insurance"], patient["contribution"], tuple(filings), "1", None,
                        tuple(items), ytd_fund_paid=dict(year))
    result = settle(policy, purchase)
    for pos, ((disease, drug, dose, freq), item, line) in enumerate(zip(chosen, items, result.lines,
                                                                          strict=True), start=1):
        plan.add(DispenseLine, {
            "dispense_id": dispense["id"], "position": pos, "drug_code": drug.code, "drug_name": drug.generic_name,
            "spec": drug.spec, "disease": disease, "quantity": item.quantity, "daily_dose": daily_dose(dose, freq),
            "unit_price": item.unit_price, "payment_standard": item.payment_standard, "in_scope": True,
            "line_total": line.total, "policy_range": line.policy_range, "over_standard": line.over_standard})
    settlement = plan.add(Settlement, {
        "patient_id": plan.patient_id, "dispense_id": dispense["id"], "settled_on": on,
        "accounting_year": on.year, "policy_settings": SETTINGS_USED, "receipt_no": "", "policy_id": policy.id,
        "insurance": patient["insurance"], "contribution": patient["contribution"], "institution_level": "1",
        "state": "accepted", "operator_name": "李秀英", **{k: getattr(result, k) for k in AMOUNTS}})
    for pos, d in enumerate(result.by_disease, start=1):
        year[d.disease] = year.get(d.disease, Decimal(0)) + d.fund_pay
        plan.add(SettlementDisease, {
            "settlement_id": settlement["id"], "position": pos, "disease": d.disease, "tier": d.tier,
            "is_primary": d.primary, "ratio": d.ratio, "cap": d.cap, "cap_remaining": d.cap_remaining,
            **{k: getattr(d, k) for k in DISEASE_AMOUNTS}})


def _follow_ups(rng, plan, diseases, start, today) -> None:
    # Unfiled patients with abnormal readings feed the "suspected, not filed" list.
    checks = diseases or (["hypertension"] if rng.random() < 0.3 else [])
    visit = start + timedelta(days=rng.randrange(0, 60))
    while visit <= today - timedelta(days=rng.randrange(0, 30)):
        bp = "hypertension" in checks
        glucose = "diabetes" in checks
        plan.add(FollowUp, {
            "patient_id": plan.patient_id, "visit_on": visit, "doctor_name": "王建华",
            "sbp": int(rng.gauss(142 if diseases else 150, 14)) if bp else None,
            "dbp": int(rng.gauss(86, 9)) if bp else None,
            "fasting_glucose": Decimal(f"{max(rng.gauss(7.4, 1.6), 4.0):.1f}") if glucose else None,
            "adherence": rng.choice(["regular", "regular", "regular", "intermittent"]),
            "next_visit_on": visit + timedelta(days=90)})
        visit += timedelta(days=90 + rng.randrange(-7, 15))


def stock_rows(rng: random.Random, tables: dict, drugs: list[Drug], today: date) -> dict[type, list[dict]]:
    """Quarterly deliveries sized to what was dispensed (plus a margin), and the dispense movements,
    each taken from the lot of its quarter."""
    dispensed_on = {row["id"]: row["dispensed_on"] for row in tables.get(Dispense, [])}
    start = today - timedelta(days=380)
    by_lot: dict[tuple[str, int], list[dict]] = {}
    for line in tables.get(DispenseLine, []):
        quarter = (dispensed_on[line["dispense_id"]] - start).days // 91
        by_lot.setdefault((line["drug_code"], quarter), []).append(line)
    lots, movements = [], []
    for drug in drugs:
        for quarter in range(5):
            lines = by_lot.get((drug.code, quarter), [])
            used = sum((line["quantity"] for line in lines), Decimal(0))
            received_on = start + timedelta(days=91 * quarter)
            if received_on > today:
                continue
            received = (used * Decimal("1.1")).to_integral_value() + rng.randrange(20, 200)
            lot_no = f"{received_on:%y%m}{rng.randrange(100, 999)}"
            lot = {"id": seeded_uuid(rng), "drug_code": drug.code, "lot_no": lot_no,
                   "expiry": received_on + timedelta(days=730), "on_hand": received - used, "cost_price":
                   (drug.retail_price * Decimal("0.85")).quantize(Decimal("0.01")), "supplier": "鄂州市医药公司",
                   "received_on": received_on}
            lots.append(lot)
            movements.append({"lot_id": lot["id"], "drug_code": drug.code, "kind": "purchase",
                              "quantity": received, "moved_on": received_on})
            movements += [{"lot_id": lot["id"], "drug_code": drug.code, "kind": "dispense",
                           "quantity": -line["quantity"], "moved_on": dispensed_on[line["dispense_id"]],
                           "dispense_id": line["dispense_id"]} for line in lines]
    return {StockLot: lots, StockMovement: movements}

"""One clinic's patients and their year, with the distributions the benchmarks need (issue 8):

- ages: 两病 patients in a village are mostly 55–80 (normal around 65, sd 11, kept within 35–95);
- diseases: of the patients with a filing, 58 % hypertension only, 18 % diabetes only, about 20 % both;
  4 % have no filing (screened, some with abnormal readings: the "suspected, not filed" list);
- insurance: 城乡居民 80 %, 城镇职工 15 % (contribution 100/80/60/单建统筹), 职工补充 5 %;
- refills every 4–12 weeks: each patient takes home 28, 42, 56 or 84 days of drugs and comes back up
  to a week before (inside the refill window) or a few days after running out; prescriptions cover
  two or three supplies (at most 24 weeks, seeds/000); 8 % stop coming during the year;
- prices: the drug catalogue's retail prices and the policy's payment standards, settled by the real
  engine (clinic/settlement) with each patient's year-to-date tracked, so caps bite where they would;
- a few refunds (0.5 %, netted in reports) and claims the 医保 reviewer refused (0.3 %).

Rows are plain dicts per table, as clinic/demo makes them, for bulk INSERT or COPY.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

from clinic.db.models import (
    Dispense,
    DispenseLine,
    Filing,
    FollowUp,
    Prescription,
    PrescriptionLine,
    Settlement,
    SettlementDisease,
)
from clinic.demo.people import fictional_patient
from clinic.demo.records import ICD, PLANS, PatientPlan
from clinic.prescriptions import daily_dose, quantity_for, usage_text
from clinic.settlement import Filing as FilingIn
from clinic.settlement import Item, Purchase, settle
from clinic.settlement.service import AMOUNTS, DISEASE_AMOUNTS
from clinic.vocab import CLASS_DISEASE

REGION = "420704"                                         # 鄂州市华容区, the demo clinic's area
SUPPLY_DAYS = ((28, 0.40), (42, 0.15), (56, 0.20), (84, 0.25))   # days per visit: 4, 6, 8, 12 weeks
RX_SUPPLIES = {28: 3, 42: 2, 56: 2, 84: 2}                 # supplies per prescription: 84–168 days
DOSES = [(Decimal(1), "qd"), (Decimal(1), "qd"), (Decimal(1), "bid"), (Decimal("0.5"), "qd")]


# The local settings the demo administrator chose, as dispensing records them on each settlement.
SETTINGS_USED = '{"payment_standard":"vbp_price"}'


def bench_patient(rng: random.Random, n: int, today: date) -> dict:
    age = min(95, max(35, round(rng.gauss(65, 11))))
    birth = date(today.year - age, 1, 1) + timedelta(days=rng.randrange(365))
    return fictional_patient(rng, n, today, birth=birth, signed_share=0.7)


class Clinic:
    """What every patient of one clinic shares: its code and level, the policy, the drugs it stocks."""

    def __init__(self, code: str, level: str, policy, drugs: list, standards: dict, today: date):
        self.code, self.level, self.policy, self.today = code, level, policy, today
        self.pools = {disease: [d for d in drugs if CLASS_DISEASE.get(d.drug_class) == disease and d.unit != "支"]
                      for disease in ("hypertension", "diabetes")}
        self.standards = standards
        self.receipts: dict[date, int] = {}

    def receipt_no(self, on: date, prefix: str = "") -> str:
        self.receipts[on] = self.receipts.get(on, 0) + 1
        return f"{prefix}{self.code}-{on:%Y%m%d}-{self.receipts[on]:04d}"


def plan_year(rng: random.Random, clinic: Clinic, patient: dict) -> PatientPlan:
    """One patient's filings, prescriptions, purchases with settlements, and follow-ups."""
    plan = PatientPlan(rng)
    roll = rng.random()
    diseases = ([] if roll < 0.04 else ["hypertension", "diabetes"] if roll < 0.24
                else ["diabetes"] if roll < 0.42 else ["hypertension"])
    plan.managed = set(diseases)
    start = clinic.today - timedelta(days=365)
    if rng.random() < 0.12:                                # newly filed during the year
        start = clinic.today - timedelta(days=rng.randrange(30, 330))
    entitled = _filings(rng, plan, diseases, start, clinic.today)
    if entitled:
        _purchases(rng, clinic, plan, patient, entitled, start)
    _follow_ups(rng, plan, diseases, clinic.today - timedelta(days=365), clinic.today)
    return plan


def _filings(rng, plan, diseases, start, today) -> list[FilingIn]:
    entitled = []
    for disease in diseases:                               # the first approved disease is primary (seeds/000)
        code, name = ICD[disease]
        fate = rng.random()
        state = "approved" if fate < 0.93 else "submitted" if fate < 0.98 else "rejected"
        filed = start - timedelta(days=rng.randrange(7, 400)) if state == "approved" else \
            today - timedelta(days=rng.randrange(1, 20))
        tier = "severe" if rng.random() < (0.10 if disease == "hypertension" else 0.12) else "ordinary"
        plan.add(Filing, {
            "patient_id": plan.patient_id, "kind": "initial", "disease": disease, "tier": tier,
            "is_primary": state == "approved" and not entitled, "icd10": code, "filed_on": filed, "state": state,
            "history_diagnosis": f"{name}病史{rng.randrange(1, 20)}年", "history_signer": "王建华",
            "history_signed_on": filed, "treatment_plan": PLANS[disease], "plan_signer": "王建华",
            "plan_signed_on": filed, "version": 1,
            "reject_reason": "病史资料不全，请补充近三个月检查结果" if state == "rejected" else None})
        if state == "approved":
            entitled.append(FilingIn(disease, tier, not entitled))
    return entitled


def _purchases(rng, clinic: Clinic, plan: PatientPlan, patient: dict, filings: list[FilingIn], start: date) -> None:
    chosen = []
    for f in filings:
        pool = clinic.pools[f.disease]
        chosen += [(f.disease, d, *rng.choice(DOSES)) for d in rng.sample(pool, rng.choice((1, 1, 2)))]
    supply = rng.choices([d for d, _ in SUPPLY_DAYS], [w for _, w in SUPPLY_DAYS])[0]
    rx_days = supply * RX_SUPPLIES[supply]
    ytd: dict[int, dict[str, Decimal]] = {}
    on = run_out = start + timedelta(days=rng.randrange(0, 30))
    stop = clinic.today - timedelta(days=rng.randrange(40, 250)) if rng.random() < 0.08 else clinic.today
    while on <= stop:
        rx = plan.add(Prescription, {
            "patient_id": plan.patient_id, "prescriber_name": "王建华", "prescribed_on": on,
            "valid_until": on + timedelta(days=rx_days - 1), "department": "全科", "external": False,
            "diagnosis": "、".join(ICD[f.disease][1] for f in filings), "state": "active"})
        for pos, (disease, drug, dose, freq) in enumerate(chosen, start=1):
            plan.add(PrescriptionLine, {
                "prescription_id": rx["id"], "position": pos, "drug_code": drug.code, "drug_name": drug.generic_name,
                "spec": drug.spec, "disease": disease, "dose": dose, "frequency": freq, "days": rx_days,
                "quantity": quantity_for(dose, freq, rx_days), "usage": usage_text(drug, dose, freq)})
        for _ in range(RX_SUPPLIES[supply]):
            if on > stop or on > rx["valid_until"]:
                break
            _purchase(rng, clinic, plan, patient, filings, chosen, rx["id"], on, supply, ytd)
            run_out = max(on, run_out) + timedelta(days=supply)    # an early refill adds to what is left
            on = max(on + timedelta(days=1), run_out + timedelta(days=rng.randrange(-7, 6)))


def _purchase(rng, clinic: Clinic, plan, patient, filings, chosen, rx_id, on, days, ytd) -> None:
    dispense = plan.add(Dispense, {"patient_id": plan.patient_id, "prescription_id": rx_id, "dispensed_on": on,
                                   "dispenser_name": "李秀英"})
    items = [Item(drug.code, drug.generic_name, disease, quantity_for(dose, freq, days), drug.retail_price,
                  clinic.standards[drug.code]) for disease, drug, dose, freq in chosen]
    year = ytd.setdefault(on.year, {})
    pharmacy = clinic.level == "pharmacy"
    purchase = Purchase(on, patient["insurance"], patient["contribution"], tuple(filings), clinic.level,
                        "1" if pharmacy else None, tuple(items), ytd_fund_paid=dict(year))
    result = settle(clinic.policy, purchase)
    for pos, ((disease, drug, dose, freq), item, line) in enumerate(zip(chosen, items, result.lines, strict=True), 1):
        plan.add(DispenseLine, {
            "dispense_id": dispense["id"], "position": pos, "drug_code": drug.code, "drug_name": drug.generic_name,
            "spec": drug.spec, "disease": disease, "quantity": item.quantity, "daily_dose": daily_dose(dose, freq),
            "unit_price": item.unit_price, "payment_standard": item.payment_standard, "in_scope": True,
            "line_total": line.total, "policy_range": line.policy_range, "over_standard": line.over_standard})
    recent = (clinic.today - on).days < 5
    fate = rng.random()
    state = "uploaded" if recent else "rejected" if fate < 0.003 else "accepted"
    settlement = plan.add(Settlement, {
        "patient_id": plan.patient_id, "dispense_id": dispense["id"], "settled_on": on,
        "accounting_year": on.year, "policy_settings": SETTINGS_USED, "receipt_no": clinic.receipt_no(on),
        "policy_id": clinic.policy.id,
        "insurance": patient["insurance"],
        "contribution": patient["contribution"], "institution_level": clinic.level,
        "prescriber_level": "1" if pharmacy else None, "state": state, "operator_name": "李秀英",
        "review_note": "超量配药，拒付" if state == "rejected" else None,
        **{k: getattr(result, k) for k in AMOUNTS}})
    diseases = [{"settlement_id": settlement["id"], "position": pos, "disease": d.disease, "tier": d.tier,
                 "is_primary": d.primary, "ratio": d.ratio, "cap": d.cap, "cap_remaining": d.cap_remaining,
                 **{k: getattr(d, k) for k in DISEASE_AMOUNTS}} for pos, d in enumerate(result.by_disease, 1)]
    for row in diseases:
        plan.add(SettlementDisease, row)
        year[row["disease"]] = year.get(row["disease"], Decimal(0)) + row["fund_pay"]
    if not recent and state != "rejected" and 0.003 <= fate < 0.008:
        _refund(rng, clinic, plan, settlement, diseases, year)


def _refund(rng, clinic: Clinic, plan, original: dict, diseases: list[dict], year: dict) -> None:
    """退费 a few days later: a reversing settlement with the amounts negated (clinic/settlement/service.py)."""
    on = original["settled_on"] + timedelta(days=rng.randrange(0, 4))
    copied = {k: v for k, v in original.items() if k != "id"}
    reversal = plan.add(Settlement, {
        **copied, "settled_on": on, "receipt_no": clinic.receipt_no(on, "TF"),
        "reverses_id": original["id"], "refund_reason": "患者退药", "state": "accepted",
        **{k: -original[k] for k in AMOUNTS}})
    for row in diseases:
        plan.add(SettlementDisease, {
            **{k: v for k, v in row.items() if k != "id"}, "settlement_id": reversal["id"],
            "cap_remaining": row["cap_remaining"] + row["fund_pay"],
            **{k: -row[k] for k in DISEASE_AMOUNTS}})
        year[row["disease"]] -= row["fund_pay"]


def _follow_ups(rng, plan, diseases, start, today) -> None:
    checks = diseases or (["hypertension"] if rng.random() < 0.4 else ["diabetes"])
    visit = start + timedelta(days=rng.randrange(0, 60))
    while visit <= today - timedelta(days=rng.randrange(0, 30)):
        bp, glucose = "hypertension" in checks, "diabetes" in checks
        plan.add(FollowUp, {
            "patient_id": plan.patient_id, "visit_on": visit, "doctor_name": "王建华",
            "sbp": int(rng.gauss(140 if diseases else 146, 14)) if bp else None,
            "dbp": int(rng.gauss(85, 9)) if bp else None,
            "fasting_glucose": Decimal(f"{max(rng.gauss(7.2, 1.5), 4.0):.1f}") if glucose else None,
            "adherence": rng.choice(["regular", "regular", "regular", "intermittent"]),
            "next_visit_on": visit + timedelta(days=90)})
        visit += timedelta(days=90 + rng.randrange(-7, 15))

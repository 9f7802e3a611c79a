"""The morning lists (clinic/worklist.py and the health / dispensing / entitlement queries behind them)
give exactly what a straightforward per-record computation gives, on a 300-patient demo clinic with the
awkward cases added: refunds, soft-deleted patients / visits / dispenses / filings, cured filings,
managed-only patients, a visit without a next date, readings right at the thresholds, a weekly dose
whose supply is not a whole number of days, a zero daily dose, dispenses after the day asked about.

The reference below reads whole records and loops over them in Python, the way the lists were first
written; the lists themselves use grouped SQL. Equal rows in the same order, text included.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from clinic.db.engine import open_database
from clinic.db.models import Dispense, DispenseLine, Drug, Filing, FollowUp, Patient, Settlement
from clinic.demo import build_demo
from clinic.dispensing import refund_purchase, running_out
from clinic.entitlements import entitlements
from clinic.health import (
    FOLLOW_UP_INTERVAL_DAYS,
    bp_abnormal,
    glucose_abnormal,
    overdue_follow_ups,
    suspected_unfiled,
)
from clinic.policy import resolve_policy
from clinic.profile import policy_in_force
from clinic.vocab import CLASS_DISEASE, DISEASES
from clinic.worklist import morning_lists

TODAY = date(2026, 3, 16)
DAYS = [TODAY, TODAY - timedelta(days=45)]


# -- the reference: whole records, Python loops -----------------------------------------------------

def ref_running_out(s, on: date, within_days: int, lapsed_days: int = 30) -> list[tuple]:
    refunded = {x.dispense_id for x in s.scalars(select(Settlement)) if x.reverses_id is not None}
    dispenses = sorted((d for d in s.scalars(select(Dispense)) if d.deleted_at is None and d.id not in refunded
                        and on - timedelta(days=400) <= d.dispensed_on <= on),
                       key=lambda d: (d.dispensed_on, d.created_at))
    supplies: dict[tuple[str, str], date] = {}
    for d in dispenses:
        for line in sorted(d.lines, key=lambda x: x.position):
            days = math.floor(line.quantity / line.daily_dose) if line.daily_dose > 0 else 0
            key = (d.patient_id, line.drug_code)
            start = max(d.dispensed_on, supplies[key]) if key in supplies else d.dispensed_on
            supplies[key] = start + timedelta(days=days)
    found = [(p, g, end, (end - on).days) for (p, g), end in supplies.items()
             if on - timedelta(days=lapsed_days) <= end <= on + timedelta(days=within_days)]
    return sorted(found, key=lambda r: r[2])


def ref_overdue(s, on: date) -> list[tuple]:
    patients = {p.id: p for p in s.scalars(select(Patient)) if p.deleted_at is None}
    since: dict[str, date] = {}
    for f in s.scalars(select(Filing)):
        if (f.deleted_at is None and f.state == "approved" and f.filed_on <= on and f.change_reason != "cured"
                and f.patient_id in patients):
            since[f.patient_id] = min(f.filed_on, since.get(f.patient_id, f.filed_on))
    for p in patients.values():
        if (p.managed_hypertension or p.managed_diabetes) and p.id not in since:
            since[p.id] = min(p.created_at.date(), on)
    latest: dict[str, FollowUp] = {}
    for v in sorted(s.scalars(select(FollowUp)), key=lambda v: (v.visit_on, v.created_at)):
        if v.deleted_at is None and v.visit_on <= on:
            latest[v.patient_id] = v
    rows = []
    for pid, start in since.items():
        v = latest.get(pid)
        if v is None:
            rows.append((patients[pid], start, (on - start).days, f"从未随访（{start} 起纳入管理）"))
            continue
        due = v.next_visit_on or v.visit_on + timedelta(days=FOLLOW_UP_INTERVAL_DAYS)
        if due < on:
            rows.append((patients[pid], due, (on - due).days,
                         f"应于 {due} 随访，已逾期 {(on - due).days} 天（上次随访 {v.visit_on}）"))
    rows.sort(key=lambda r: (r[1], r[0].name, r[0].id))
    return [(p.id, due, days, reason) for p, due, days, reason in rows]


@dataclass
class Evidence:
    dispenses: set
    abnormal: list
    last_seen_on: date


def ref_suspected(s, policy, on: date, since_days: int = 365) -> list[tuple]:
    start = on - timedelta(days=since_days)
    evidence: dict[tuple[str, str], Evidence] = {}

    def note(pid, disease, seen):
        item = evidence.setdefault((pid, disease), Evidence(set(), [], seen))
        item.last_seen_on = max(item.last_seen_on, seen)
        return item

    classes = {d.code: d.drug_class for d in s.scalars(select(Drug))}
    for d in s.scalars(select(Dispense)):
        if d.deleted_at is None and start <= d.dispensed_on <= on:
            for line in d.lines:
                if classes[line.drug_code] in CLASS_DISEASE:
                    note(d.patient_id, CLASS_DISEASE[classes[line.drug_code]], d.dispensed_on).dispenses.add(d.id)
    for v in sorted(s.scalars(select(FollowUp)), key=lambda v: (v.visit_on, v.created_at)):
        if v.deleted_at is None and start <= v.visit_on <= on:
            if bp_abnormal(v.sbp, v.dbp):
                note(v.patient_id, "hypertension", v.visit_on).abnormal.append(v)
            if glucose_abnormal(v.fasting_glucose):
                note(v.patient_id, "diabetes", v.visit_on).abnormal.append(v)
    ranked = []
    for (pid, disease), item in evidence.items():
        patient = s.get(Patient, pid)
        if patient.deleted_at is not None or disease in {e.disease for e in entitlements(s, patient, policy, on)}:
            continue
        parts = []
        if item.dispenses:
            parts.append(f"配{'降压药' if disease == 'hypertension' else '降糖药'} {len(item.dispenses)} 次")
        if item.abnormal:
            last = item.abnormal[-1]
            reading = (f"{last.sbp}/{last.dbp} mmHg" if disease == "hypertension"
                       else f"空腹血糖 {last.fasting_glucose} mmol/L")
            parts.append(f"{'血压' if disease == 'hypertension' else '血糖'}异常 {len(item.abnormal)} 次"
                         f"（最近 {last.visit_on} {reading}）")
        reason = f"{'；'.join(parts)}，尚未享受{DISEASES[disease]}待遇"
        open_filings = sorted((f for f in s.scalars(select(Filing).where(Filing.patient_id == pid))
                               if f.disease == disease and f.deleted_at is None
                               and f.state in ("draft", "submitted", "rejected")),
                              key=lambda f: (f.filed_on, f.created_at))
        state = open_filings[-1].state if open_filings else None
        kinds = bool(item.dispenses) + bool(item.abnormal)
        ranked.append(((-kinds, -item.last_seen_on.toordinal(), patient.name, disease, pid),
                       (pid, disease, reason, item.last_seen_on, state)))
    return [row for _, row in sorted(ranked, key=lambda pair: pair[0])]


# -- the clinic -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    db = open_database(tmp_path_factory.mktemp("worklist") / "clinic.db")
    build_demo(db, patients=300, today=TODAY)
    with db.session("test") as s:
        _awkward_cases(s)
    yield db
    db.close()


def _awkward_cases(s) -> None:
    patients = list(s.scalars(select(Patient).order_by(Patient.id_number)))
    gone = datetime(2026, 3, 1)
    # Refunds of recent purchases: the refunded supply no longer counts (it still is evidence of 两病 drugs).
    recent = s.scalars(select(Settlement).where(Settlement.settled_on >= TODAY - timedelta(days=40),
                                                Settlement.reverses_id.is_(None))
                       .order_by(Settlement.receipt_no).limit(6)).all()
    for settlement in recent:
        refund_purchase(s, settlement, TODAY - timedelta(days=1), "患者退药", "测试")
    for patient in patients[:3]:
        patient.deleted_at = gone
    for visit in s.scalars(select(FollowUp).order_by(FollowUp.id).limit(25)):
        visit.deleted_at = gone
    for record in s.scalars(select(Dispense).where(Dispense.dispensed_on >= TODAY - timedelta(days=60))
                            .order_by(Dispense.id).limit(15)):
        record.deleted_at = gone
    approved = s.scalars(select(Filing).where(Filing.state == "approved").order_by(Filing.id)).all()
    for filing in approved[:6]:
        filing.change_reason = "cured"
    for filing in approved[6:9]:
        filing.deleted_at = gone
    for patient in patients[100:106]:              # never visited (their visits deleted)
        for visit in s.scalars(select(FollowUp).where(FollowUp.patient_id == patient.id)):
            visit.deleted_at = gone
        patient.managed_hypertension = True
    for patient in patients[3:40:3]:
        patient.managed_hypertension = True
    for patient in patients[40:60:4]:
        patient.managed_diabetes = True
    latest = s.scalars(select(FollowUp).where(FollowUp.deleted_at.is_(None))
                       .order_by(FollowUp.visit_on.desc(), FollowUp.id).limit(8)).all()
    for visit in latest[:4]:
        visit.next_visit_on = None
    # Readings at and near the guideline thresholds, exactly as typed.
    subjects = patients[60:72]
    readings = [dict(sbp=140, dbp=80), dict(sbp=139, dbp=89), dict(sbp=120, dbp=90),
                dict(fasting_glucose=Decimal("7.0")), dict(fasting_glucose=Decimal("6.99999999999999999999")),
                dict(fasting_glucose=Decimal("7.00000000000000000001")), dict(hba1c=Decimal("9.1")),
                dict(sbp=150, dbp=95, fasting_glucose=Decimal("8.3"))]
    for n, (patient, reading) in enumerate(zip(subjects, readings, strict=False)):
        for i, days_ago in enumerate((200, 100, 100)):   # two visits on one day: the later-recorded is the latest
            visit_on = TODAY - timedelta(days=days_ago + n)
            s.add(FollowUp(patient_id=patient.id, visit_on=visit_on, doctor_name="王医生",
                           next_visit_on=visit_on + timedelta(days=60 + 30 * i),
                           created_at=datetime(2026, 3, 10, 8, n, i), **reading))
    # Supplies that are not whole days: a weekly tablet (4 tablets / (1/7 a day) is 27.99… days in
    # Decimal arithmetic, 28 in floating point), and a line with no daily dose.
    lines = s.scalars(select(DispenseLine).join(Dispense).where(
        Dispense.dispensed_on >= TODAY - timedelta(days=30), Dispense.deleted_at.is_(None))
        .order_by(DispenseLine.id).limit(6)).all()
    for line in lines[:4]:
        line.quantity, line.daily_dose = Decimal(4), Decimal(1) / Decimal(7)
    for line in lines[4:]:
        line.daily_dose = Decimal(0)
    # Dispensed after the day the lists are asked for.
    future = s.scalars(select(Dispense).where(Dispense.deleted_at.is_(None)).order_by(Dispense.id).limit(3)).all()
    for record in future:
        record.dispensed_on = TODAY + timedelta(days=3)


# -- the comparisons ---------------------------------------------------------------------------------

@pytest.mark.parametrize("on", DAYS)
def test_running_out_matches_the_reference(clinic, on):
    with clinic.session() as s:
        for within in (0, 7, 15):
            got = [(r.patient_id, r.drug_code, r.runs_out_on, r.days_left) for r in running_out(s, on, within)]
            assert got == ref_running_out(s, on, within), within
        assert len(ref_running_out(s, on, 15)) > 20           # the comparison is not of empty lists


@pytest.mark.parametrize("on", DAYS)
def test_overdue_follow_ups_match_the_reference(clinic, on):
    with clinic.session() as s:
        got = [(r.patient.id, r.due_on, r.days_overdue, r.reason) for r in overdue_follow_ups(s, on)]
        expected = ref_overdue(s, on)
    assert got == expected
    assert len(expected) > 10 and any("从未随访" in row[3] for row in expected)


@pytest.mark.parametrize("on", DAYS)
@pytest.mark.parametrize("region", ["ezhou", "yunnan"])
def test_suspected_unfiled_matches_the_reference(clinic, on, region):
    policy = resolve_policy(region, on)
    with clinic.session() as s:
        got = [(r.patient.id, r.disease, r.reason, r.last_seen_on, r.filing_state)
               for r in suspected_unfiled(s, policy, on)]
        expected = ref_suspected(s, policy, on)
        assert got == expected
        assert [(r.patient.id, r.disease) for r in suspected_unfiled(s, policy, on, since_days=60)] == \
            [(row[0], row[1]) for row in ref_suspected(s, policy, on, since_days=60)]
    assert len(expected) > 5
    assert {row[1] for row in expected} == {"hypertension", "diabetes"}


def test_morning_lists_are_the_reference_lists(clinic):
    with clinic.session() as s:
        lists = morning_lists(s, TODAY)
        policy = policy_in_force(s, TODAY)
        names = dict(s.execute(select(Drug.code, Drug.generic_name)).all())
        supply: dict[str, list] = {}
        for pid, code, end, left in ref_running_out(s, TODAY, policy.refill_window_days):
            supply.setdefault(pid, []).append((code, end, left))
        expected_supply = []
        for pid, items in supply.items():
            _, end, left = items[0]
            drugs = "、".join(names[c] for c, e, _ in items if e == end)
            when = f"还剩 {left} 天" if left > 0 else f"已断药 {-left} 天"
            expected_supply.append((pid, f"{drugs} {when}（{end} 用完）"))
        assert lists["将断药（可续配）"] == expected_supply
        assert lists["随访逾期"] == [(pid, f"应于 {due} 随访，已逾期 {days} 天")
                                   for pid, due, days, _ in ref_overdue(s, TODAY)]
        assert lists["疑似未备案"] == [(pid, f"{DISEASES[d]}：{reason}")
                                     for pid, d, reason, _, _ in ref_suspected(s, policy, TODAY)]
    assert list(lists) == ["将断药（可续配）", "随访逾期", "疑似未备案", "备案待审核", "结算待上传"]
    assert all(lists[title] for title in ("将断药（可续配）", "随访逾期", "疑似未备案"))

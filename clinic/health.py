"""Health management of 两病 patients (national plan 三(六) 医防融合, 云南 seeds/003 (八) and (十一)):
follow-up visits, blood-pressure and glucose control (濉溪 seeds/004 附件2 血压/血糖管理达标率), and the
doctor's morning lists of patients to follow up or to file.

The seeds name the national primary-care guidelines (seeds/000 item 6: 国家基层高血压、糖尿病防治管理
指南) but not their figures, so the thresholds below are taken from those guidelines.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from sqlalchemy import Float, Row, String, case, cast, distinct, func, or_, select, type_coerce
from sqlalchemy.orm import Session

from clinic.db.models import Dispense, DispenseLine, Drug, Filing, FollowUp, Patient
from clinic.entitlements import entitlements_of_many
from clinic.policy import Policy
from clinic.vocab import CLASS_DISEASE, DISEASES

# 国家基本公共卫生服务规范（第三版）: 高血压、2型糖尿病患者每年至少4次面对面随访, i.e. quarterly.
FOLLOW_UP_INTERVAL_DAYS = 90

# 国家基层高血压防治管理指南（2020版）: 血压控制目标 < 140/90 mmHg.
SBP_CONTROLLED_BELOW = 140
DBP_CONTROLLED_BELOW = 90
# 国家基层糖尿病防治管理指南（2022）: 空腹血糖 < 7.0 mmol/L, 糖化血红蛋白 < 7.0 %.
GLUCOSE_CONTROLLED_BELOW = Decimal("7.0")
HBA1C_CONTROLLED_BELOW = Decimal("7.0")

# Plausibility ranges: a reading outside them is a typing slip, not a patient.
SBP_RANGE, DBP_RANGE = (60, 300), (30, 200)
GLUCOSE_RANGE = (Decimal("1.0"), Decimal("40.0"))   # mmol/L
HBA1C_RANGE = (Decimal("3"), Decimal("20"))         # %

# 服药依从性 as on the national follow-up form.
ADHERENCE = {"regular": "规律", "intermittent": "间断", "none": "不服药"}
CONTROLLED, UNCONTROLLED, UNKNOWN = "controlled", "uncontrolled", "unknown"


class HealthError(ValueError):
    """A follow-up record cannot be saved; the message says why, in Chinese."""


def bp_abnormal(sbp: int | None, dbp: int | None) -> bool:
    return (sbp is not None and sbp >= SBP_CONTROLLED_BELOW) or (dbp is not None and dbp >= DBP_CONTROLLED_BELOW)


def _bp_abnormal_sql():
    """`bp_abnormal` as an SQL condition on follow_up (a missing reading is not abnormal)."""
    return or_(FollowUp.sbp >= SBP_CONTROLLED_BELOW, FollowUp.dbp >= DBP_CONTROLLED_BELOW)


def _loose_glucose():
    """Every visit `glucose_abnormal` could flag, and a few more: SQLite reads the stored text as a float."""
    return cast(type_coerce(FollowUp.fasting_glucose, String), Float) >= float(GLUCOSE_CONTROLLED_BELOW) - 0.5


def glucose_abnormal(fasting_glucose: Decimal | None) -> bool:
    return fasting_glucose is not None and fasting_glucose >= GLUCOSE_CONTROLLED_BELOW


def _int(value: object, what: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise HealthError(f"{what}不是有效数字：{value!r}")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise HealthError(f"{what}不是有效数字：{value!r}") from None
    if not number.is_finite() or number != number.to_integral_value():
        raise HealthError(f"{what}应为整数（mmHg）：{value!r}")
    return int(number)


def _decimal(value: object, what: str, bounds: tuple[Decimal, Decimal], unit: str) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise HealthError(f"{what}不是有效数字：{value!r}") from None
    if isinstance(value, bool) or not number.is_finite() or not bounds[0] <= number <= bounds[1]:
        raise HealthError(f"{what} {value} {unit} 不合理（应在 {bounds[0]}–{bounds[1]} {unit} 之间），请核对")
    return number


def record_follow_up(session: Session, patient: Patient, *, visit_on: date, doctor_name: str,
                     sbp: int | None = None, dbp: int | None = None, fasting_glucose: object = None,
                     hba1c: object = None, adherence: str | None = None, next_visit_on: date | None = None,
                     notes: str | None = None, interval_days: int = FOLLOW_UP_INTERVAL_DAYS) -> FollowUp:
    """A 随访 with its readings checked for plausibility; the next visit defaults to one quarter later."""
    if not (doctor_name or "").strip():
        raise HealthError("随访医生不能为空")
    sbp, dbp = _int(sbp, "收缩压"), _int(dbp, "舒张压")
    if (sbp is None) != (dbp is None):
        raise HealthError("血压须同时填写收缩压和舒张压")
    if sbp is not None and dbp is not None:
        if not SBP_RANGE[0] <= sbp <= SBP_RANGE[1]:
            raise HealthError(f"收缩压 {sbp} mmHg 不合理（应在 {SBP_RANGE[0]}–{SBP_RANGE[1]} 之间），请核对")
        if not DBP_RANGE[0] <= dbp <= DBP_RANGE[1]:
            raise HealthError(f"舒张压 {dbp} mmHg 不合理（应在 {DBP_RANGE[0]}–{DBP_RANGE[1]} 之间），请核对")
        if sbp <= dbp:
            raise HealthError(f"收缩压（{sbp}）应高于舒张压（{dbp}），是否填反了？")
    glucose = _decimal(fasting_glucose, "空腹血糖", GLUCOSE_RANGE, "mmol/L")
    a1c = _decimal(hba1c, "糖化血红蛋白", HBA1C_RANGE, "%")
    if adherence is not None and adherence not in ADHERENCE:
        raise HealthError(f"服药依从性无效：{adherence!r}（可选：{' / '.join(ADHERENCE.values())}）")
    if next_visit_on is None:
        next_visit_on = visit_on + timedelta(days=interval_days)
    if next_visit_on <= visit_on:
        raise HealthError(f"下次随访日期（{next_visit_on}）应晚于本次随访日期（{visit_on}）")
    visit = FollowUp(patient_id=patient.id, visit_on=visit_on, sbp=sbp, dbp=dbp, fasting_glucose=glucose,
                     hba1c=a1c, adherence=adherence, next_visit_on=next_visit_on,
                     doctor_name=doctor_name.strip(), notes=(notes or "").strip() or None)
    session.add(visit)
    session.flush()
    return visit


@dataclass(frozen=True)
class ControlStatus:
    bp: str                        # controlled | uncontrolled | unknown
    glucose: str                   # controlled | uncontrolled | unknown
    last_visit_on: date | None


def _follow_ups(session: Session, patient_ids: list[str] | None = None, since: date | None = None,
                until: date | None = None) -> list[FollowUp]:
    query = select(FollowUp).where(FollowUp.deleted_at.is_(None))
    if patient_ids is not None:
        query = query.where(FollowUp.patient_id.in_(patient_ids))
    if since is not None:
        query = query.where(FollowUp.visit_on >= since)
    if until is not None:
        query = query.where(FollowUp.visit_on <= until)
    return list(session.scalars(query.order_by(FollowUp.visit_on, FollowUp.created_at)))


def control_status(session: Session, patient: Patient) -> ControlStatus:
    """Each measure from the latest visit that recorded it (a glucose-only visit does not make the
    blood pressure unknown). Glucose uses fasting glucose, or HbA1c when no glucose was taken."""
    visits = _follow_ups(session, [patient.id])
    bp = [v for v in visits if v.sbp is not None and v.dbp is not None]
    sugar = [v for v in visits if v.fasting_glucose is not None or v.hba1c is not None]
    bp_status = UNKNOWN
    if bp:
        last = bp[-1]
        bp_status = CONTROLLED if last.sbp < SBP_CONTROLLED_BELOW and last.dbp < DBP_CONTROLLED_BELOW \
            else UNCONTROLLED
    glucose_status = UNKNOWN
    if sugar:
        last = sugar[-1]
        ok = (last.fasting_glucose < GLUCOSE_CONTROLLED_BELOW if last.fasting_glucose is not None
              else last.hba1c < HBA1C_CONTROLLED_BELOW)
        glucose_status = CONTROLLED if ok else UNCONTROLLED
    return ControlStatus(bp=bp_status, glucose=glucose_status, last_visit_on=visits[-1].visit_on if visits else None)


@dataclass(frozen=True)
class OverdueFollowUp:
    patient: Patient
    due_on: date              # the next visit asked for, or when management began for a never-visited one
    days_overdue: int
    reason: str


def overdue_follow_ups(session: Session, on: date) -> list[OverdueFollowUp]:
    """Patients under management (an approved filing not cured, or a 规范化管理 flag) whose next visit is
    before `on`, or who were never visited; longest waiting first (then by name).

    Grouped in SQL: when management began and the latest visit come back one row per patient, and only
    the patients on the list are loaded."""
    living = select(Patient.id).where(Patient.deleted_at.is_(None))
    since = dict(session.execute(
        select(Filing.patient_id, func.min(Filing.filed_on))
        .where(Filing.deleted_at.is_(None), Filing.state == "approved", Filing.filed_on <= on,
               or_(Filing.change_reason.is_(None), Filing.change_reason != "cured"),
               Filing.patient_id.in_(living))
        .group_by(Filing.patient_id)).all())
    for patient_id, created_at in session.execute(
            select(Patient.id, Patient.created_at).where(
                Patient.deleted_at.is_(None), or_(Patient.managed_hypertension, Patient.managed_diabetes))):
        if patient_id not in since:
            since[patient_id] = min(created_at.date(), on) if created_at else on
    ranked = (select(FollowUp.patient_id, FollowUp.visit_on, FollowUp.next_visit_on,
                     func.row_number().over(partition_by=FollowUp.patient_id,
                                            order_by=(FollowUp.visit_on.desc(), FollowUp.created_at.desc()))
                     .label("n"))
              .where(FollowUp.deleted_at.is_(None), FollowUp.visit_on <= on).subquery())
    latest = {row.patient_id: row for row in session.execute(
        select(ranked.c.patient_id, ranked.c.visit_on, ranked.c.next_visit_on).where(ranked.c.n == 1))}
    due: dict[str, tuple[date, str]] = {}
    for patient_id, start in since.items():
        visit = latest.get(patient_id)
        if visit is None:
            due[patient_id] = (start, f"从未随访（{start} 起纳入管理）")
            continue
        next_on = visit.next_visit_on or visit.visit_on + timedelta(days=FOLLOW_UP_INTERVAL_DAYS)
        if next_on < on:
            due[patient_id] = (next_on, f"应于 {next_on} 随访，已逾期 {(on - next_on).days} 天"
                                        f"（上次随访 {visit.visit_on}）")
    patients = _patients_by_id(session, list(due))
    rows = [OverdueFollowUp(patients[pid], day, (on - day).days, reason) for pid, (day, reason) in due.items()]
    return sorted(rows, key=lambda r: (r.due_on, r.patient.name, r.patient.id))


def _patients_by_id(session: Session, ids: list[str]) -> dict[str, Patient]:
    found: dict[str, Patient] = {}
    for start in range(0, len(ids), 500):
        found.update((p.id, p) for p in session.scalars(select(Patient).where(Patient.id.in_(ids[start:start + 500]))))
    return found


@dataclass(frozen=True)
class SuspectedUnfiled:
    patient: Patient
    disease: str              # hypertension | diabetes
    reason: str
    last_seen_on: date        # the latest dispensing or abnormal reading
    filing_state: str | None  # state of an open or rejected filing for the disease, if any


@dataclass
class _Evidence:
    dispenses: int               # distinct dispenses of the disease's drugs
    abnormal: int                # abnormal readings
    last_seen_on: date
    last_abnormal: Row | None = None      # the latest abnormal visit: patient_id, visit_on, sbp, dbp, glucose


def suspected_unfiled(session: Session, policy: Policy, on: date, since_days: int = 365) -> list[SuspectedUnfiled]:
    """云南 seeds/003 (八): patients who received 两病 drugs or had abnormal blood pressure / glucose in
    the last `since_days`, without an entitlement for that disease; strongest and latest evidence first.

    The evidence is counted in SQL, one row per patient and disease; whole records are read only for
    the patients on the list."""
    start = on - timedelta(days=since_days)
    evidence: dict[tuple[str, str], _Evidence] = {}
    disease = case(*((Drug.drug_class == cls, name) for cls, name in CLASS_DISEASE.items()))
    for patient_id, name, count, last_on in session.execute(
            select(Dispense.patient_id, disease, func.count(distinct(Dispense.id)), func.max(Dispense.dispensed_on))
            .join(DispenseLine, DispenseLine.dispense_id == Dispense.id)
            .join(Drug, Drug.code == DispenseLine.drug_code)
            .where(Dispense.deleted_at.is_(None), Drug.drug_class.in_(list(CLASS_DISEASE)),
                   Dispense.dispensed_on >= start, Dispense.dispensed_on <= on)
            .group_by(Dispense.patient_id, disease)):
        evidence[(patient_id, name)] = _Evidence(count, 0, last_on)
    for patient_id, name, count, last_on in _abnormal_readings(session, start, on):
        item = evidence.setdefault((patient_id, name), _Evidence(0, 0, last_on))
        item.abnormal, item.last_seen_on = count, max(item.last_seen_on, last_on)

    people = _living_people(session, list({patient_id for patient_id, _ in evidence}))
    entitled_by_patient = entitlements_of_many(session, list(people.values()), policy, on)
    suspects = [(patient_id, name) for patient_id, name in evidence if patient_id in people
                and name not in {e.disease for e in entitled_by_patient[patient_id]}]
    ids = list({patient_id for patient_id, _ in suspects})
    patients = _patients_by_id(session, ids)
    open_states = _open_filing_states(session, ids)
    for key, visit in _latest_abnormal(session, ids, start, on).items():
        if key in evidence:
            evidence[key].last_abnormal = visit
    ranked = []
    for patient_id, name in suspects:
        item, patient = evidence[(patient_id, name)], patients[patient_id]
        row = SuspectedUnfiled(patient, name, _reason(name, item), item.last_seen_on,
                               open_states.get((patient_id, name)))
        kinds = bool(item.dispenses) + bool(item.abnormal)     # drugs and abnormal readings both: surest
        ranked.append(((-kinds, -item.last_seen_on.toordinal(), patient.name, name, patient_id), row))
    return [row for _, row in sorted(ranked, key=lambda pair: pair[0])]


def _abnormal_readings(session: Session, start: date, until: date):
    """(patient, disease, abnormal readings, the latest one's day) between `start` and `until`: blood
    pressure counted in SQL, glucose narrowed in SQL (the text is compared as a float there, so loosely)
    and decided by `glucose_abnormal`."""
    # A year of visits is most of them: reading the table straight through is 4× faster than going
    # through the visit_on index, and wrapping the column in coalesce() keeps the planner off it.
    visit_on = func.coalesce(FollowUp.visit_on, FollowUp.visit_on)
    seen = (FollowUp.deleted_at.is_(None), visit_on >= start, visit_on <= until)
    for patient_id, count, last_on in session.execute(
            select(FollowUp.patient_id, func.count(), func.max(FollowUp.visit_on))
            .where(*seen, _bp_abnormal_sql()).group_by(FollowUp.patient_id)):
        yield patient_id, "hypertension", count, last_on
    glucose: dict[str, list] = {}
    for patient_id, visit_on, value in session.execute(
            select(FollowUp.patient_id, FollowUp.visit_on, FollowUp.fasting_glucose).where(*seen, _loose_glucose())):
        if glucose_abnormal(value):
            item = glucose.setdefault(patient_id, [0, visit_on])
            item[0], item[1] = item[0] + 1, max(item[1], visit_on)
    for patient_id, (count, last_on) in glucose.items():
        yield patient_id, "diabetes", count, last_on


def _latest_abnormal(session: Session, ids: list[str], start: date, until: date) -> dict[tuple[str, str], Row]:
    """The latest abnormal visit per (patient, disease), for the reason shown."""
    found: dict[tuple[str, str], Row] = {}
    for chunk in range(0, len(ids), 500):
        for visit in session.execute(
                select(FollowUp.patient_id, FollowUp.visit_on, FollowUp.sbp, FollowUp.dbp, FollowUp.fasting_glucose)
                .where(FollowUp.patient_id.in_(ids[chunk:chunk + 500]), FollowUp.deleted_at.is_(None),
                       FollowUp.visit_on >= start, FollowUp.visit_on <= until,
                       or_(_bp_abnormal_sql(), _loose_glucose()))
                .order_by(FollowUp.visit_on, FollowUp.created_at)):
            if bp_abnormal(visit.sbp, visit.dbp):
                found[(visit.patient_id, "hypertension")] = visit
            if glucose_abnormal(visit.fasting_glucose):
                found[(visit.patient_id, "diabetes")] = visit
    return found


def _reason(disease: str, item: _Evidence) -> str:
    parts = []
    if item.dispenses:
        drug_word = "降压药" if disease == "hypertension" else "降糖药"
        parts.append(f"配{drug_word} {item.dispenses} 次")
    if item.abnormal:
        last = item.last_abnormal
        reading = (f"{last.sbp}/{last.dbp} mmHg" if disease == "hypertension"
                   else f"空腹血糖 {last.fasting_glucose} mmol/L")
        word = "血压" if disease == "hypertension" else "血糖"
        parts.append(f"{word}异常 {item.abnormal} 次（最近 {last.visit_on} {reading}）")
    return f"{'；'.join(parts)}，尚未享受{DISEASES[disease]}待遇"


def _living_people(session: Session, ids: list[str]) -> dict[str, Row]:
    """Id, name and management flags of the living patients among `ids` (what entitlements need)."""
    query = select(Patient.id, Patient.name, Patient.managed_hypertension, Patient.managed_diabetes).where(
        Patient.deleted_at.is_(None))
    if len(ids) > 2000:         # most of the clinic: one pass beats lists of ids to match
        wanted = set(ids)
        return {row.id: row for row in session.execute(query) if row.id in wanted}
    found = {}
    for start in range(0, len(ids), 500):
        found.update((row.id, row) for row in session.execute(query.where(Patient.id.in_(ids[start:start + 500]))))
    return found


def _open_filing_states(session: Session, ids: list[str]) -> dict[tuple[str, str], str]:
    """The latest draft / submitted / rejected filing state per (patient, disease)."""
    states: dict[tuple[str, str], str] = {}
    for start in range(0, len(ids), 500):
        for patient_id, disease, state in session.execute(
                select(Filing.patient_id, Filing.disease, Filing.state).where(
                    Filing.patient_id.in_(ids[start:start + 500]), Filing.deleted_at.is_(None),
                    Filing.state.in_(("draft", "submitted", "rejected"))).order_by(Filing.filed_on, Filing.created_at)):
            states[(patient_id, disease)] = state
    return states

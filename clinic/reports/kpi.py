"""The 濉溪 KPI table (seeds/004 附件2 门诊特殊疾病定额支付考核细则), scored by its own formulas with the
parameters of the assessment file (clinic/reports/assessment.py); the score share (得分/总分) is the
考核实际得分比 that drives the 结余分配 of 附件1 三.

Measured from this system's records, for the twelve months ending at the report month's end (the
December report is the calendar year the scheme settles on, 附件1 二(三) 年终决算; other months give a
running view):
- 两病人员: distinct patients with a 两病 case at month end (clinic/reports/cases.py: approved filing
  in force, or 规范化管理 without one), of the file's insurance (城乡居民); with exclude_new_cases,
  leaving out cases that began within the twelve months (二(二) 不包括当年新增“两病”人员).
- 两病人员签约占比 = those with 家庭医生签约 (Patient.family_doctor_signed, a current flag) / 两病人员.
- 规范管理率 = cases of the disease with at least `min_follow_ups` follow-ups recording the disease's
  measure (血压 for 高血压; 空腹血糖 or HbA1c for 糖尿病) in the twelve months / cases of the disease.
- 血压 / 血糖管理达标率 = cases whose latest reading in the twelve months is controlled (clinic/health.py
  thresholds: < 140/90 mmHg; 空腹血糖 < 7.0 mmol/L, or HbA1c < 7.0 % when no glucose was taken) / cases
  of the disease; a case without a reading is not 达标, as the public-health 控制率 counts it.
- 两病人员就诊率 = 两病人员 with a 两病 settlement in the twelve months not refunded or refused / 两病人员.
Everything else is an input (`inputs`, by indicator key: a rate for a rated indicator, a number of
cases for a deduction); a measured indicator may be given too (its source is another system: the
input then replaces the measurement, and says so). Missing inputs show 待录入 and are never guessed.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from clinic.db.models import FollowUp, Settlement
from clinic.health import (
    DBP_CONTROLLED_BELOW,
    GLUCOSE_CONTROLLED_BELOW,
    HBA1C_CONTROLLED_BELOW,
    SBP_CONTROLLED_BELOW,
    bp_abnormal,
)
from clinic.reports.assessment import PARAMETERS, Assessment, Indicator, load_assessment, parameters_in_force
from clinic.reports.cases import Case, cases_on
from clinic.reports.claims import counted
from clinic.reports.inputs import count_input, rate_input
from clinic.reports.scope import Scope, as_month, as_scope, is_demo, month_end, month_label, reporting_unit
from clinic.reports.table import (
    COUNT,
    NOT_ENTERED,
    PERCENT,
    SCORE,
    TEXT,
    BodyMerge,
    HeaderCell,
    ReportTable,
    Row,
)
from clinic.vocab import INSURANCES


@dataclass(frozen=True)
class Scored:
    indicator: Indicator
    rate: Decimal | None        # the measured or entered rate (rated indicators)
    cases: int | None           # the entered number of cases (deductions)
    score: Decimal | None       # None: an input is missing
    basis: str                  # how the figure was arrived at, printed in 计算依据


@dataclass(frozen=True)
class KpiResult:
    assessment: Assessment
    start: date
    end: date
    scored: tuple[Scored, ...]
    parameters: dict[str, int]

    @property
    def earned(self) -> Decimal:
        """The sum of the scores computed so far."""
        return sum((s.score for s in self.scored if s.score is not None), Decimal("0.00"))

    @property
    def missing(self) -> list[Scored]:
        return [s for s in self.scored if s.score is None]

    @property
    def share(self) -> Decimal | None:
        """考核实际得分比 (得分 / 总分), once every indicator is scored."""
        return None if self.missing else self.earned / self.assessment.total_weight


def assessment_start(end: date) -> date:
    """The first day of the twelve months ending at `end` (a month end): Jan 1 for a December report."""
    return date(end.year, 1, 1) if end.month == 12 else date(end.year - 1, end.month + 1, 1)


def assess(session: Session, month: date | str, scope: Scope | Sequence[str] | None = None, *,
           inputs: Mapping[str, object] | None = None, assessment: Assessment | None = None) -> KpiResult:
    assessment = assessment or load_assessment()
    scope = as_scope(scope)
    raw = dict(inputs or {})
    overrides = {name: raw.pop(name) for name in list(raw) if name in PARAMETERS}
    known = {ind.key for ind in assessment.indicators}
    unknown = [key for key in raw if key not in known]
    if unknown:
        raise ValueError(f"未知的录入项：{', '.join(unknown)}（可选：{' / '.join([*known, *PARAMETERS])}）")
    parameters = parameters_in_force(session, assessment, overrides)
    end = month_end(as_month(month))
    start = assessment_start(end)
    measured = measure(session, start, end, scope, assessment, parameters["min_follow_ups"])
    scored = tuple(_score(ind, raw.get(ind.key), measured.get(ind.measure)) for ind in assessment.indicators)
    return KpiResult(assessment, start, end, scored, parameters)


def _score(ind: Indicator, given: object, measured: tuple[int, int, str, str] | None) -> Scored:
    if ind.counts_cases:
        if given is None:
            return Scored(ind, None, None, None, f"本系统无此数据，请录入{ind.cases_word}")
        cases = count_input(given, ind.cases_word)
        return Scored(ind, None, cases, ind.score(cases), f"{ind.cases_word} {cases}（录入）")
    if given is not None:
        rate = rate_input(given, ind.second)
        basis = "录入" + ("（替代本系统测算）" if measured else "")
    elif measured is None:
        return Scored(ind, None, None, None, "本系统无此数据，请录入")
    else:
        numerator, denominator, top, bottom = measured
        basis = f"{top} {numerator} / {bottom} {denominator}"
        if not denominator:
            return Scored(ind, None, None, None, basis + "，无考核对象，请录入")
        rate = Decimal(numerator) / Decimal(denominator)
    if ind.below_band(rate):
        basis += f"；低于考核标准下限{ind.lower:.0%}，按“得分=达标率×分值”计"
    return Scored(ind, rate, None, ind.score(rate), basis)


def measure(session: Session, start: date, end: date, scope: Scope, assessment: Assessment,
            min_follow_ups: int) -> dict[str, tuple[int, int, str, str]]:
    """measure name → (numerator, denominator, their names) for what this system can measure."""
    cases = [c for c in cases_on(session, end, scope, assessment.insurance)
             if not (assessment.exclude_new_cases and c.since >= start)]
    people = {c.patient_id: c for c in cases}
    by_disease: dict[str, list[Case]] = defaultdict(list)
    for one in cases:
        by_disease[one.disease].append(one)
    bp_visits, sugar_visits, bp_ok, sugar_ok = _follow_up_facts(session, start, end, scope, set(people))
    seen = _patients_with_settlements(session, start, end, scope) & set(people)
    htn, dm = by_disease["hypertension"], by_disease["diabetes"]
    return {
        "signing": (sum(c.signed for c in people.values()), len(people), "签约", "两病人员"),
        "htn_managed": (sum(bp_visits[c.patient_id] >= min_follow_ups for c in htn), len(htn), "规范管理", "高血压"),
        "htn_controlled": (sum(c.patient_id in bp_ok for c in htn), len(htn), "血压达标", "高血压"),
        "dm_managed": (sum(sugar_visits[c.patient_id] >= min_follow_ups for c in dm), len(dm), "规范管理", "糖尿病"),
        "dm_controlled": (sum(c.patient_id in sugar_ok for c in dm), len(dm), "血糖达标", "糖尿病"),
        "visits": (len(seen), len(people), "就诊", "两病人员"),
    }


def _follow_up_facts(session: Session, start: date, end: date, scope: Scope, wanted: set[str]):
    """Per patient: visits recording blood pressure / glucose, and whether the latest of each was controlled."""
    bp_visits: Counter = Counter()
    sugar_visits: Counter = Counter()
    last_bp: dict[str, bool] = {}
    last_sugar: dict[str, bool] = {}
    query = scope.restrict(
        select(FollowUp.patient_id, FollowUp.sbp, FollowUp.dbp, FollowUp.fasting_glucose, FollowUp.hba1c)
        .where(FollowUp.deleted_at.is_(None), FollowUp.visit_on >= start, FollowUp.visit_on <= end)
        .order_by(FollowUp.visit_on, FollowUp.created_at), FollowUp.institution_code)
    for pid, sbp, dbp, glucose, a1c in session.execute(query):
        if pid not in wanted:
            continue
        if sbp is not None and dbp is not None:
            bp_visits[pid] += 1
            last_bp[pid] = not bp_abnormal(sbp, dbp)
        if glucose is not None or a1c is not None:
            sugar_visits[pid] += 1
            last_sugar[pid] = (glucose < GLUCOSE_CONTROLLED_BELOW if glucose is not None
                               else a1c < HBA1C_CONTROLLED_BELOW)
    return (bp_visits, sugar_visits, {p for p, ok in last_bp.items() if ok}, {p for p, ok in last_sugar.items() if ok})


def _patients_with_settlements(session: Session, start: date, end: date, scope: Scope) -> set[str]:
    """Patients whose settlements in the period outnumber their refunds (拒付 left out, as in claims)."""
    net = func.sum(case((Settlement.reverses_id.is_(None), 1), else_=-1))
    query = (select(Settlement.patient_id).where(*counted(start, end, scope, None))
             .group_by(Settlement.patient_id).having(net > 0))
    return set(session.scalars(query))


def kpi_table(session: Session, month: date | str, scope: Scope | Sequence[str] | None = None, *,
              inputs: Mapping[str, object] | None = None, assessment: Assessment | None = None,
              prepared_on: date | None = None) -> ReportTable:
    scope = as_scope(scope)
    result = assess(session, month, scope, inputs=inputs, assessment=assessment)
    rows, groups = [], []
    for n, s in enumerate(result.scored):
        ind = s.indicator
        rate = NOT_ENTERED if s.rate is None and not ind.counts_cases else s.rate
        cases = NOT_ENTERED if s.cases is None and ind.counts_cases else s.cases
        rows.append(Row((ind.no, ind.first, ind.second, ind.standard, int(ind.weight), ind.source, rate, cases,
                         s.basis, NOT_ENTERED if s.score is None else s.score), key=(ind.key,)))
        if groups and result.scored[groups[-1][0]].indicator.no == ind.no:
            groups[-1][1] += 1
        else:
            groups.append([n, 1])
    # Indicators of one group share 序号 and 一级指标 cells, as on the paper table.
    merges = tuple(BodyMerge(first, col, span) for first, span in groups if span > 1 for col in (0, 1))
    total = result.assessment.total_weight
    rows.append(Row(("", "合计", "", "", int(total), "", None, None, "",
                     result.earned if not result.missing else NOT_ENTERED), total=True, key=("total",)))

    assessment = result.assessment
    covered = f"{INSURANCES[assessment.insurance]}参保人员" if assessment.insurance else "各险种参保人员"
    new = "，不含考核期内新增" if assessment.exclude_new_cases else ""
    notes = [
        f"考核期：{result.start:%Y-%m-%d}至{result.end:%Y-%m-%d}；对象：月末“两病”人员（{covered}，备案在有效期内"
        f"或已纳入规范化管理{new}）。",
        f"规范管理：考核期内记录该病种指标的随访不少于{result.parameters['min_follow_ups']}次（考核参数，管理员可修改）。",
        f"达标：考核期内最近一次随访血压<{SBP_CONTROLLED_BELOW}/{DBP_CONTROLLED_BELOW} mmHg；"
        f"空腹血糖<{GLUCOSE_CONTROLLED_BELOW} mmol/L（无血糖时糖化血红蛋白<{HBA1C_CONTROLLED_BELOW}%）；"
        "无测量记录者计为未达标。",
        "就诊率：考核期内有“两病”结算（未退费、未拒付）的人数 / “两病”人员人数。",
        "“超过”上限得满分；区间内及以下按“得分=达标率×分值”；扣分项最低0分。",
    ]
    if result.missing:
        notes.append(f"有 {len(result.missing)} 项待录入；已计算项合计 {result.earned} 分（满分 {total}）。")
    else:
        notes.append(f"考核实际得分比 {result.share:.2%}（用于结余分配）。")
    return ReportTable(
        title=assessment.name,
        header=[[HeaderCell(text) for text in ("序号", "一级指标", "二级指标", "考核标准", "分值", "数据来源",
                                                "实测率", "扣分例数", "计算依据", "得分")]],
        formats=(TEXT, TEXT, TEXT, TEXT, COUNT, TEXT, PERCENT, COUNT, TEXT, SCORE), rows=rows,
        period=month_label(result.end), unit=reporting_unit(session, scope), notes=notes, form_label="附件2",
        prepared_on=prepared_on or date.today(), demo=is_demo(session), measure="单位：分",
        merges=merges)

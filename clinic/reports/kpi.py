"""The 濉溪 KPI table (seeds/004 附件2 门诊特殊疾病定额支付考核细则), scored by its own formulas
(clinic/reports/scoring.py); the score share (得分/总分) drives the 结余分配 of 附件1 三.

Measured from this system's records, for the twelve months ending at the report month's end (the
December report is the calendar year the scheme settles on; other months give a running view):
- 两病人员: distinct patients with a 两病 case at month end (clinic/reports/cases.py: approved filing
  in force, or 规范化管理 without one). 城乡居民 only by default: the scheme is 城乡居民医保.
- 两病人员签约占比 = those with 家庭医生签约 (Patient.family_doctor_signed, a current flag) / 两病人员.
- 规范管理率 = cases of the disease with at least MIN_FOLLOW_UPS follow-ups recording the disease's
  measure (血压 for 高血压; 空腹血糖 or HbA1c for 糖尿病) in the twelve months / cases of the disease.
  An assumption: the document does not define 规范管理; 国家基本公共卫生服务规范 asks for at least four
  face-to-face follow-ups a year (clinic/health.py FOLLOW_UP_INTERVAL_DAYS = one quarter).
- 血压 / 血糖管理达标率 = cases whose latest reading in the twelve months is controlled (clinic/health.py
  thresholds: < 140/90 mmHg; 空腹血糖 < 7.0 mmol/L, or HbA1c < 7.0 % when no glucose was taken) / cases
  of the disease; a case without a reading is not 达标, as the public-health 控制率 counts it.
- 两病人员就诊率 = 两病人员 with a 两病 dispense in the twelve months that was not refunded / 两病人员.
Not in this system, so inputs (`manual`, keys in MANUAL_RATES / MANUAL_COUNTS), shown 待录入 when missing
and never guessed: 慢性病人员签约占比, 签约包完成率, 服务包项目完成率 (rates), and the deduction counts for
用药保障 (合理投诉), 规范诊疗 (不合格病历/处方), 规范转诊, 规范报销.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from clinic.db.models import Dispense, FollowUp, Settlement
from clinic.health import (
    DBP_CONTROLLED_BELOW,
    GLUCOSE_CONTROLLED_BELOW,
    HBA1C_CONTROLLED_BELOW,
    SBP_CONTROLLED_BELOW,
    bp_abnormal,
)
from clinic.reports.cases import Case, cases_on
from clinic.reports.scope import is_demo, month_end, month_label, report_policy, reporting_unit, restrict
from clinic.reports.scoring import banded_score, deduction_score, visit_rate_score
from clinic.reports.table import COUNT, NOT_ENTERED, PERCENT, SCORE, TEXT, HeaderCell, Report, Row
from clinic.vocab import INSURANCES, check

MIN_FOLLOW_UPS = 4          # 规范管理: ≥ 4 follow-ups in the year (国家基本公共卫生服务规范, quarterly)
MANUAL_RATES = {"chronic_signing": "慢性病人员签约占比", "package_completion": "签约包完成率",
                "service_item_completion": "服务包项目完成率"}
MANUAL_COUNTS = {"complaints": "合理投诉例数", "bad_records": "不合格病历、处方例数",
                 "bad_referrals": "不按规定转诊例数", "bad_claims": "不按规定报销例数"}
P = Decimal


def _band(lower: str, upper: str) -> Callable[[Decimal, Decimal], Decimal]:
    return lambda rate, weight: banded_score(rate, weight, P(lower), P(upper))


@dataclass(frozen=True)
class Indicator:
    key: str
    no: str
    first: str
    second: str
    standard: str
    weight: Decimal
    source: str
    score: Callable


SIGN = "80-95%；得分=达标率×分值，超过95%得满分"
INDICATORS = (
    Indicator("signing", "1", "签约率", "两病人员签约占比", SIGN, P(5), "签约信息系统", _band("0.80", "0.95")),
    Indicator("chronic_signing", "", "签约率", "慢性病人员签约占比", SIGN, P(5), "签约信息系统",
              _band("0.80", "0.95")),
    Indicator("package_completion", "2", "签约服务数量和质量", "签约包完成率",
              "90-95%；得分=达标率×分值，超过95%得满分", P(5), "签约信息系统", _band("0.90", "0.95")),
    Indicator("service_item_completion", "", "签约服务数量和质量", "服务包项目完成率",
              "95%-100%；得分=达标率×分值", P(5), "签约信息系统", _band("0.95", "1")),
    Indicator("htn_managed", "3", "高血压", "规范管理率", "60-70%；得分=达标率×分值，超过70%得满分", P(2),
              "公共卫生信息系统", _band("0.60", "0.70")),
    Indicator("htn_controlled", "", "高血压", "血压管理达标率", "0-60%；得分=达标率×分值，超过60%得满分", P(3),
              "公共卫生信息系统", _band("0", "0.60")),
    Indicator("dm_managed", "4", "糖尿病", "规范管理率", "60-70%，得分=达标率×分值，超过70%得满分", P(2),
              "公共卫生信息系统", _band("0.60", "0.70")),
    Indicator("dm_controlled", "", "糖尿病", "血糖管理达标率", "0-60%，得分=达标率×分值，超过60%得满分", P(3),
              "公共卫生信息系统", _band("0", "0.60")),
    Indicator("complaints", "5", "用药保障", "县、镇、村慢性病用药保障到位",
              "严格执行慢性病用药目录，保障慢性病用药。出现1例合理投诉扣0.5分。", P(5), "投诉和检查记录",
              deduction_score),
    Indicator("bad_records", "6", "规范诊疗", "规范诊疗率",
              "严格执行诊疗规范，慢性病病历、处方不合格1例扣0.5分。", P(5), "检查记录", deduction_score),
    Indicator("bad_referrals", "7", "规范转诊", "规范转诊率", "不按规定转诊每例扣0.5分。", P(5), "转诊记录",
              deduction_score),
    Indicator("bad_claims", "8", "规范报销", "规范报销率", "不按规定报销每例扣0.5分。", P(5), "检查记录",
              deduction_score),
    Indicator("visits", "9", "门诊就诊率", "两病人员就诊率", "门诊就诊率（“两病”人员实际门诊人数/“两病”人员人数）"
              "达到70%得满分，低于70%得分：实际门诊就诊率/70%×分值", P(10), "—", visit_rate_score),
)


def check_manual(manual: Mapping[str, object]) -> dict[str, Decimal | int]:
    """Validate the caller's manual inputs: rates as fractions 0–1, counts as whole numbers ≥ 0."""
    clean: dict[str, Decimal | int] = {}
    for key, value in manual.items():
        if key in MANUAL_RATES:
            rate = Decimal(str(value))
            if not Decimal(0) <= rate <= Decimal(1):
                raise ValueError(f"{MANUAL_RATES[key]}应在 0 到 1 之间（如 0.92 表示 92%）：{value}")
            clean[key] = rate
        elif key in MANUAL_COUNTS:
            if isinstance(value, bool) or int(value) != Decimal(str(value)) or int(value) < 0:
                raise ValueError(f"{MANUAL_COUNTS[key]}应为不小于 0 的整数：{value}")
            clean[key] = int(value)
        else:
            known = " / ".join([*MANUAL_RATES, *MANUAL_COUNTS])
            raise ValueError(f"未知的录入项：{key}（可选：{known}）")
    return clean


def kpi_report(session: Session, month: date, institutions: Sequence[str] | None = None, *,
               manual: Mapping[str, object] | None = None, insurance: str | None = "resident",
               prepared_on: date | None = None) -> Report:
    if insurance is not None:
        check(INSURANCES, insurance, "险种")
    given = check_manual(manual or {})
    end = month_end(month)
    start = assessment_start(end)
    policy = report_policy(session, end, institutions)
    measured = measure(session, start, end, institutions, insurance)

    rows, earned, missing = [], Decimal(0), 0
    for ind in INDICATORS:
        rate = count = None
        if ind.key in MANUAL_COUNTS:
            count = given.get(ind.key)
            word = MANUAL_COUNTS[ind.key]
            basis = f"{word}（录入）" if count is not None else f"本系统无此数据，请录入{word}"
            score = None if count is None else ind.score(count, ind.weight)
        elif ind.key in MANUAL_RATES:
            rate = given.get(ind.key)
            basis = "录入" if rate is not None else "本系统无此数据，请录入"
            score = None if rate is None else ind.score(rate, ind.weight)
        else:
            numerator, denominator, words = measured[ind.key]
            rate = Decimal(numerator) / Decimal(denominator) if denominator else None
            basis = f"{words[0]} {numerator} / {words[1]} {denominator}"
            score = None if rate is None else ind.score(rate, ind.weight)
            if rate is None:
                basis += "，无考核对象"
        if score is None:
            missing += 1
        else:
            earned += score
        shown_rate = NOT_ENTERED if rate is None and ind.key in MANUAL_RATES else rate
        shown_count = NOT_ENTERED if count is None and ind.key in MANUAL_COUNTS else count
        # The first-level name is printed once per group, as on the paper table.
        first = ind.first if ind.no else ""
        rows.append(Row((ind.no, first, ind.second, ind.standard, int(ind.weight), ind.source, shown_rate,
                         shown_count, basis, NOT_ENTERED if score is None else score), key=(ind.key,)))
    total_weight = sum((ind.weight for ind in INDICATORS), Decimal(0))
    rows.append(Row(("", "合计", "", "", int(total_weight), "", None, None, "", earned if not missing else NOT_ENTERED),
                    total=True, key=("total",)))

    scope = f"{INSURANCES[insurance]}参保人员" if insurance else "各险种参保人员"
    notes = [
        f"考核期：{start:%Y-%m-%d}至{end:%Y-%m-%d}；对象：月末“两病”人员（{scope}，备案在有效期内或已纳入规范化管理）。",
        f"规范管理：考核期内记录该病种指标的随访不少于{MIN_FOLLOW_UPS}次"
        "（本系统假设，依国家基本公共卫生服务规范每年至少4次面对面随访）。",
        f"达标：考核期内最近一次随访血压<{SBP_CONTROLLED_BELOW}/{DBP_CONTROLLED_BELOW} mmHg；"
        f"空腹血糖<{GLUCOSE_CONTROLLED_BELOW} mmol/L（无血糖时糖化血红蛋白<{HBA1C_CONTROLLED_BELOW}%）；"
        "无测量记录者计为未达标。",
        "就诊率：考核期内有“两病”配药结算（未退费）的人数 / “两病”人员人数。",
        "低于考核标准区间下限的得0分（文件未规定，本系统假设）；“超过”上限得满分；扣分项最低0分。",
    ]
    if missing:
        notes.append(f"有 {missing} 项待录入；已计算项合计 {earned} 分（满分 {total_weight}）。")
    else:
        notes.append(f"得分比 {earned / total_weight:.2%}（用于结余分配：考核实际得分比）。")
    return Report(
        title=f"{policy.city}门诊特殊疾病定额支付考核表（“两病”）",
        header=[[HeaderCell(text) for text in ("序号", "一级指标", "二级指标", "考核标准", "分值", "数据来源",
                                                "实测率", "扣分例数", "计算依据", "得分")]],
        formats=(TEXT, TEXT, TEXT, TEXT, COUNT, TEXT, PERCENT, COUNT, TEXT, SCORE), rows=rows,
        period=month_label(month), unit=reporting_unit(session, institutions), notes=notes,
        prepared_on=prepared_on or date.today(), demo=is_demo(session), measure="单位：分")


def assessment_start(end: date) -> date:
    """The first day of the twelve months ending at `end` (a month end): Jan 1 for a December report."""
    return date(end.year, 1, 1) if end.month == 12 else date(end.year - 1, end.month + 1, 1)


def measure(session: Session, start: date, end: date, institutions: Sequence[str] | None,
            insurance: str | None) -> dict[str, tuple[int, int, tuple[str, str]]]:
    """indicator key → (numerator, denominator, their names) for what this system can measure."""
    cases = cases_on(session, end, institutions, insurance)
    people = {c.patient_id: c for c in cases}
    signed = sum(c.signed for c in people.values())
    by_disease: dict[str, list[Case]] = {"hypertension": [], "diabetes": []}
    for case in cases:
        by_disease[case.disease].append(case)
    bp_visits, sugar_visits, bp_ok, sugar_ok = _follow_up_facts(session, start, end, institutions, set(people))
    seen = _patients_with_dispense(session, start, end, institutions) & set(people)
    htn, dm = by_disease["hypertension"], by_disease["diabetes"]
    return {
        "signing": (signed, len(people), ("签约", "两病人员")),
        "htn_managed": (sum(bp_visits[c.patient_id] >= MIN_FOLLOW_UPS for c in htn), len(htn), ("规范管理", "高血压")),
        "htn_controlled": (sum(c.patient_id in bp_ok for c in htn), len(htn), ("血压达标", "高血压")),
        "dm_managed": (sum(sugar_visits[c.patient_id] >= MIN_FOLLOW_UPS for c in dm), len(dm), ("规范管理", "糖尿病")),
        "dm_controlled": (sum(c.patient_id in sugar_ok for c in dm), len(dm), ("血糖达标", "糖尿病")),
        "visits": (len(seen), len(people), ("就诊", "两病人员")),
    }


def _follow_up_facts(session: Session, start: date, end: date, institutions, wanted: set[str]):
    """Per patient: visits recording blood pressure / glucose, and whether the latest of each was controlled."""
    bp_visits: Counter = Counter()
    sugar_visits: Counter = Counter()
    last_bp: dict[str, bool] = {}
    last_sugar: dict[str, bool] = {}
    query = restrict(select(FollowUp.patient_id, FollowUp.sbp, FollowUp.dbp, FollowUp.fasting_glucose, FollowUp.hba1c)
                     .where(FollowUp.deleted_at.is_(None), FollowUp.visit_on >= start, FollowUp.visit_on <= end)
                     .order_by(FollowUp.visit_on, FollowUp.created_at), FollowUp.institution_code, institutions)
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


def _patients_with_dispense(session: Session, start: date, end: date, institutions) -> set[str]:
    refunded = select(Settlement.dispense_id).where(Settlement.reverses_id.is_not(None))
    query = restrict(select(Dispense.patient_id).where(
        Dispense.deleted_at.is_(None), Dispense.dispensed_on >= start, Dispense.dispensed_on <= end,
        Dispense.id.not_in(refunded)).distinct(), Dispense.institution_code, institutions)
    return set(session.scalars(query))

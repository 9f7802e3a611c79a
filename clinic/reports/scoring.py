"""The scoring formulas of the 濉溪 KPI table (seeds/004 附件2 濉溪县门诊特殊疾病定额支付考核细则); their
parameters (bands, 分值, per-case deductions, the 70 % target) are in the assessment policy file
(resources/policies/assessment/, clinic/reports/assessment.py), not here.

Rates are Decimal fractions (0.90 for 90 %); scores are Decimal, rounded half-up to 0.01 point.
"""

from __future__ import annotations

from decimal import Decimal

from clinic.money import cents

ZERO_SCORE = Decimal("0.00")


def banded_score(rate: Decimal, weight: Decimal, upper: Decimal, full_above: bool) -> Decimal:
    """"80-95%；得分=达标率×分值，超过95%得满分" (签约率; likewise 90-95 % 签约包完成率, 60-70 %
    规范管理率, 0-60 % 血压/血糖管理达标率) and "95%-100%；得分=达标率×分值" (服务包项目完成率, no
    "超过" clause).

    - above `upper` ("超过", strictly) with a full-marks clause: 分值;
    - otherwise: 达标率 × 分值, the measured rate times the weight, as written — so exactly 95 % gives
      0.95 × 分值. The band's lower bound is the range the document expects; it gives no other rule
      below it, so none is added here (the report says when a rate is below its band).
    """
    if full_above and rate > upper:
        return cents(weight)
    return cents(rate * weight)


def deduction_score(cases: int, weight: Decimal, per_case: Decimal) -> Decimal:
    """"出现1例合理投诉扣0.5分" (用药保障), "慢性病病历、处方不合格1例扣0.5分" (规范诊疗), "不按规定转诊
    每例扣0.5分" (规范转诊), "不按规定报销每例扣0.5分" (规范报销): 分值 − per_case × cases, never below 0
    (an indicator's 分值 is all it can lose; it cannot take points from the others)."""
    if cases < 0:
        raise ValueError("扣分例数不能为负数")
    return max(ZERO_SCORE, cents(weight - per_case * cases))


def target_score(rate: Decimal, weight: Decimal, target: Decimal) -> Decimal:
    """"门诊就诊率（“两病”人员实际门诊人数/“两病”人员人数）达到70%得满分，低于70%得分：实际门诊就诊率
    /70%×分值" (两病人员就诊率)."""
    if rate >= target:
        return cents(weight)
    return cents(rate / target * weight)

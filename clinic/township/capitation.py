"""濉溪 按人头包干 and 结余留用 (seeds/004 三(一), 附件1 二–四) as arithmetic on plain numbers.

- 门诊结算总额 (附件1 二(一)1): 两病 signed heads × 签约定额 (340 = 门诊 240 + 家庭医生签约 100) + unsigned
  heads × 门诊定额 (240), likewise 常见慢性病 (1000 = 900 + 100; 900). Heads are 实际门诊就诊人数.
- 住院结算总额 (二(一)2): 核定住院人数 × 7500.
- 门诊年度结余 (二(三)1) = 门诊结算总额 − 试点人群门诊实际基金支出 − 签约基金支付费用 − 违规扣款;
  住院年度结余 (二(三)2) = 住院结算总额 − 住院实际基金支出 − 违规扣款; 年度结余总额 = their sum.
- 结余分配 (三): when the total is above 0, each level's 所得 = 考核实际得分比 × its share (村 30 %, 镇 50 %,
  县 20 %) × 人均结余额 (total ÷ the area's pilot heads) × its pilot heads; 扣减部分 (the share not
  earned) returns to the 医共体包干基金. At or below 0 (四), the 医共体包干基金 bears the overspend and
  nothing is split.
Every rate comes from clinic/township/rules.py (the policy file); amounts are rounded half-up to the
cent only where they are stated, the per-head surplus is kept exact in between.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from clinic.money import ZERO, cents
from clinic.township.rules import CapitationRules, HeadRates

LEVELS = {"village": "村卫生室", "township": "镇卫生院", "county": "县级牵头医院"}


def group_budget(rates: HeadRates, signed: int, unsigned: int) -> Decimal:
    """One group's 门诊结算总额: signed × 签约定额 + unsigned × 未签约定额."""
    if signed < 0 or unsigned < 0:
        raise ValueError("人数不能为负数")
    return cents(signed * rates.signed + unsigned * rates.unsigned)


def outpatient_budget(rules: CapitationRules, signed: int, unsigned: int, chronic_signed: int,
                      chronic_unsigned: int) -> Decimal:
    return group_budget(rules.two_diseases, signed, unsigned) + group_budget(rules.chronic, chronic_signed,
                                                                             chronic_unsigned)


def inpatient_budget(rules: CapitationRules, heads: int) -> Decimal:
    if heads < 0:
        raise ValueError("核定住院人数不能为负数")
    return cents(heads * rules.inpatient_per_head)


@dataclass(frozen=True)
class Surplus:
    outpatient_budget: Decimal
    outpatient_spend: Decimal          # 试点人群门诊实际基金支出 (两病 in this system + the rest, entered)
    signing_fund_paid: Decimal
    outpatient_penalties: Decimal
    inpatient_budget: Decimal
    inpatient_spend: Decimal
    inpatient_penalties: Decimal

    @property
    def outpatient(self) -> Decimal:
        return self.outpatient_budget - self.outpatient_spend - self.signing_fund_paid - self.outpatient_penalties

    @property
    def inpatient(self) -> Decimal:
        return self.inpatient_budget - self.inpatient_spend - self.inpatient_penalties

    @property
    def total(self) -> Decimal:
        return self.outpatient + self.inpatient


@dataclass(frozen=True)
class Claimant:
    """One unit sharing the surplus: a village, a township or the county hospital."""

    level: str                 # village | township | county
    unit: str                  # code or name
    name: str
    heads: int                 # its pilot heads (本村 / 本镇 / 辖区试点人群数)
    score_ratio: Decimal       # 考核实际得分比, 0–1


@dataclass(frozen=True)
class Allocation:
    claimant: Claimant
    share: Decimal             # the level's share of the surplus (0.30 / 0.50 / 0.20)
    entitled: Decimal          # share × 人均结余额 × heads: what a full score would earn
    earned: Decimal            # × 考核实际得分比: 考核后所得资金
    returned: Decimal          # entitled − earned: 扣减部分回归医共体包干基金


def level_share(rules: CapitationRules, level: str) -> Decimal:
    return {"village": rules.village_share, "township": rules.township_share, "county": rules.county_share}[level]


def per_head_surplus(total: Decimal, area_heads: int) -> Decimal:
    """人均结余额 = 年度结余总额 ÷ 辖区试点人群数, kept exact (rounded only when printed)."""
    if area_heads <= 0:
        raise ValueError("辖区试点人群数为 0，无法计算人均结余额")
    return total / Decimal(area_heads)


def split_surplus(rules: CapitationRules, total: Decimal, area_heads: int,
                  claimants: list[Claimant]) -> list[Allocation]:
    """附件1 三: every claimant's 考核后所得资金. Nothing is split when the total is not above 0 (四)."""
    if total <= 0:
        return []
    each = per_head_surplus(total, area_heads)
    found = []
    for c in claimants:
        if not Decimal(0) <= c.score_ratio <= Decimal(1):
            raise ValueError(f"{c.name} 考核得分比应在 0 到 1 之间：{c.score_ratio}")
        share = level_share(rules, c.level)
        entitled = cents(share * each * c.heads)
        earned = cents(c.score_ratio * share * each * c.heads)
        found.append(Allocation(c, share, entitled, earned, entitled - earned))
    return found


def returned_to_fund(total: Decimal, allocations: list[Allocation]) -> Decimal:
    """What stays in the 医共体包干基金: the whole surplus less everything paid out."""
    return total - sum((a.earned for a in allocations), ZERO) if total > 0 else ZERO

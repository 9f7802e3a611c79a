"""Settle one 两病 purchase under a policy: a pure function, shared by the command line, the GUI and
the township server.

Order (DESIGN.md, from seeds/000_12abe66d303e04d1.txt 二(一)4–5):
  1. each line: total = round(qty × price); policy range uses min(price, payment standard);
     lines outside the 两病 scope, or for a disease the patient has no filing for, are out of scope;
  2. per disease, primary first: the deductible, then round(base × ratio), then the annual cap;
  3. self pay = total − fund pay; the policy-range part left to the patient (deductible, the ratio
     share and the part above the cap) is eligible for 大病保险 (二(一)5).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from clinic.money import ZERO, cents
from clinic.policy.model import Policy, PolicyError


@dataclass(frozen=True)
class Filing:
    disease: str          # hypertension | diabetes
    tier: str             # ordinary | severe
    primary: bool


@dataclass(frozen=True)
class Item:
    code: str
    name: str
    disease: str
    quantity: Decimal
    unit_price: Decimal
    payment_standard: Decimal | None = None
    in_scope: bool = True


@dataclass(frozen=True)
class Purchase:
    date: date
    insurance: str                    # resident | employee | employee_supplementary
    contribution: str | None          # 100 | 80 | 60 | standalone (employees only)
    filings: tuple[Filing, ...]
    institution_level: str            # 1 | 2 | 3 | pharmacy
    prescriber_level: str | None      # 1 | 2 | 3 (pharmacies only)
    items: tuple[Item, ...]
    ytd_fund_paid: dict[str, Decimal] = field(default_factory=dict)
    ytd_deductible_paid: Decimal = ZERO


@dataclass(frozen=True)
class LineResult:
    total: Decimal
    policy_range: Decimal
    over_standard: Decimal
    out_of_scope: bool


@dataclass(frozen=True)
class DiseaseResult:
    disease: str
    tier: str
    primary: bool
    policy_range: Decimal
    deductible: Decimal
    ratio: Decimal
    fund_pay: Decimal
    over_cap: Decimal
    cap: Decimal
    cap_remaining: Decimal


@dataclass(frozen=True)
class Result:
    policy_id: str
    lines: tuple[LineResult, ...]
    by_disease: tuple[DiseaseResult, ...]
    total: Decimal
    out_of_scope: Decimal
    over_standard: Decimal
    policy_range: Decimal
    deductible: Decimal
    fund_pay: Decimal
    over_cap: Decimal
    self_pay: Decimal
    major_illness_eligible: Decimal   # 大病保险: policy-range cost the fund did not pay


# Sources under which every drug has a standard (the platform price), so a line without one is refused.
STANDARD_FOR_EVERY_DRUG = ("vbp_price_else_platform_price", "platform_price")


def ratio_for(policy: Policy, purchase: Purchase, filing: Filing) -> Decimal:
    """The payment ratio for one disease of this purchase (seeds/000 二(一)4(1)–(5))."""
    level = purchase.institution_level
    if level == "pharmacy":
        # 二(一)4(5): a pharmacy pays at the level of the institution whose prescription it fills.
        if purchase.prescriber_level is None:
            raise PolicyError("定点零售药店结算须提供外配处方开具机构的级别（prescriber_level）")
        level = purchase.prescriber_level
    ratio = policy.ratio(purchase.insurance, level)
    if purchase.insurance == "employee":
        # 二(一)4(2): 80 % / 60 % contribution standards lose 5 / 10 points; 单建统筹 as 60 %.
        ratio += policy.contribution_adjustment(purchase.contribution or "100")
    if not filing.primary:
        # 二(一)4(4): the secondary disease gets 50 % of its normal ratio.
        ratio *= policy.secondary_factor
    # A policy's floor (云医保〔2021〕45号 (三) 不低于50%) holds for the ratio actually paid.
    return policy.paid_ratio(max(ratio, ZERO))


def settle(policy: Policy, purchase: Purchase) -> Result:
    if not policy.covers(purchase.insurance):
        raise PolicyError(f"政策“{policy.name}”不适用于该险种：{purchase.insurance}")
    filed = {f.disease: f for f in purchase.filings}
    lines, base_by_disease = [], {d: ZERO for d in filed}
    for item in purchase.items:
        total = cents(item.quantity * item.unit_price)
        if not item.in_scope or item.disease not in filed:
            lines.append(LineResult(total, ZERO, ZERO, True))
            continue
        if item.payment_standard is None and policy.settings.get("payment_standard") in STANDARD_FOR_EVERY_DRUG:
            raise PolicyError(f"{item.name or item.code} 缺少医保支付标准（{policy.name}规定每种“两病”药品都有"
                              f"支付标准），不能按医保结算；请导入省平台挂网药品目录后再结算")
        price = item.unit_price
        if item.payment_standard is not None:
            price = min(price, item.payment_standard)
        in_range = cents(item.quantity * price)
        lines.append(LineResult(total, in_range, total - in_range, False))
        base_by_disease[item.disease] += in_range

    deductible_left = max(policy.deductible - purchase.ytd_deductible_paid, ZERO)
    results = []
    for filing in sorted(purchase.filings, key=lambda f: not f.primary):
        policy_range = base_by_disease[filing.disease]
        deductible = min(policy_range, deductible_left)
        deductible_left -= deductible
        base = policy_range - deductible
        ratio = ratio_for(policy, purchase, filing) if policy_range else ZERO
        cap = policy.cap(purchase.insurance, filing.tier)
        cap_left = max(cap - purchase.ytd_fund_paid.get(filing.disease, ZERO), ZERO)
        uncapped = cents(base * ratio)
        fund = min(uncapped, cap_left)
        over_cap = cents(base - fund / ratio) if fund < uncapped else ZERO
        results.append(DiseaseResult(
            disease=filing.disease, tier=filing.tier, primary=filing.primary, policy_range=policy_range,
            deductible=deductible, ratio=ratio, fund_pay=fund, over_cap=over_cap, cap=cap,
            cap_remaining=cap_left - fund,
        ))

    total = sum((line.total for line in lines), ZERO)
    fund_pay = sum((r.fund_pay for r in results), ZERO)
    policy_range = sum((r.policy_range for r in results), ZERO)
    return Result(
        policy_id=policy.id, lines=tuple(lines), by_disease=tuple(results), total=total,
        out_of_scope=sum((line.total for line in lines if line.out_of_scope), ZERO),
        over_standard=sum((line.over_standard for line in lines), ZERO),
        policy_range=policy_range, deductible=sum((r.deductible for r in results), ZERO),
        fund_pay=fund_pay, over_cap=sum((r.over_cap for r in results), ZERO),
        self_pay=total - fund_pay, major_illness_eligible=policy_range - fund_pay,
    )

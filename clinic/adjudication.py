"""Re-adjudication (复核): settle a stored purchase again with the same engine, from the reviewer's own
view of the facts, and say where the clinic's figures differ. The township runs it on every settlement
it receives (sync/server/adjudicate.py); it never trusts a clinic's arithmetic.

What is recomputed, and from what:
- the lines: quantity × the clinic's selling price (the clinic's own price list), the payment standard
  from the reviewer's catalogue under the policy's `payment_standard` source;
- who is entitled to which 病种 on the day, from the reviewer's filings (clinic/filings.py);
- the ratio from the policy in force on the day, the institution's level as the reviewer registered it,
  and the administrator's local settings the clinic settled with (`Settlement.policy_settings`) — only
  for figures the document leaves to a local setting: a figure the document gives always wins;
- the year-to-date from the reviewer's ledger (clinic/ledger.py rules: the purchase's accounting year).

Findings are of two kinds. Impossible under any ledger → the record is refused: more fund than policy
range × ratio, amounts that do not follow from the lines, a second live settlement of one dispense, a
refund that does not mirror what it reverses. Depending on what the clinic could not know (another
clinic's use, a cap reached elsewhere) → accepted and flagged with both sets of figures.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from clinic import catalogue, ledger
from clinic.db.models import DispenseLine, Drug, Institution, Patient, Settlement, SettlementDisease
from clinic.filings import entitlements
from clinic.ledger import YearToDate
from clinic.money import ZERO, cents, fmt
from clinic.policy import Policy, PolicyError, resolve_policy
from clinic.policy.model import REQUIRED
from clinic.settlement.engine import Item, Purchase, Result, settle
from clinic.settlement.service import AMOUNTS
from clinic.vocab import DISEASES


class Refuse(Exception):
    """The settlement is impossible as sent; the message says why, with the reviewer's figures."""


@dataclass(frozen=True)
class Finding:
    kind: str                      # over_cap | differs | cannot_check
    detail: str
    disease: str | None = None
    amount: Decimal | None = None  # the fund paid beyond what the reviewer's ledger allows


def policy_for(region: str, on: date, snapshot: str | None) -> Policy:
    """The policy in force on `on` for the region, with the clinic's local settings for the figures the
    document leaves open (REQUIRED); the document's own figures are never overridden."""
    document = resolve_policy(region, on)
    try:
        local = json.loads(snapshot) if snapshot else {}
    except ValueError:
        local = {}
    if not isinstance(local, dict):
        local = {}
    open_keys = {key for key, value in document.settings.items() if value == REQUIRED}
    return resolve_policy(region, on, local={region: {k: v for k, v in local.items() if k in open_keys}})


def recompute(session: Session, settlement: dict, lines: list[dict], policy: Policy, level: str,
              ytd: YearToDate) -> Result:
    """Settle again what `settlement` (column values) and its dispense `lines` describe."""
    patient = session.get(Patient, settlement["patient_id"])
    on = settlement["settled_on"]
    filings = entitlements(session, patient, policy, on)
    items = []
    for line in sorted(lines, key=lambda line: line["position"]):
        drug = session.get(Drug, line["drug_code"])
        standard = catalogue.payment_standard(drug, policy) if drug is not None else line["payment_standard"]
        items.append(Item(line["drug_code"], line["drug_name"], line["disease"], line["quantity"],
                          line["unit_price"], standard, line.get("in_scope", True)))
    purchase = Purchase(date=on, insurance=patient.insurance, contribution=patient.contribution,
                        filings=filings, institution_level=level, prescriber_level=settlement.get("prescriber_level"),
                        items=tuple(items), ytd_fund_paid=ytd.fund_paid, ytd_deductible_paid=ytd.deductible_paid)
    return settle(policy, purchase)


def compare(settlement: dict, diseases: list[dict], ours: Result) -> list[Finding]:
    """Refuse what no ledger could produce; flag the rest of the differences."""
    receipt = settlement["receipt_no"]
    if settlement["total"] != ours.total:
        raise Refuse(f"结算单 {receipt} 总额 {fmt(settlement['total'])} 元与配药明细（数量×单价）之和 "
                     f"{fmt(ours.total)} 元不符")
    theirs = {d["disease"]: d for d in diseases}
    mine = {r.disease: r for r in ours.by_disease}
    for disease, d in theirs.items():
        r = mine.get(disease)
        most = cents(r.policy_range * r.ratio) if r is not None else ZERO
        if d["fund_pay"] > most:
            raise Refuse(f"结算单 {receipt} {DISEASES.get(disease, disease)}统筹支付 {fmt(d['fund_pay'])} 元，"
                         f"超过政策范围内费用×报销比例（服务器复核最多 {fmt(most)} 元）")
    findings = []
    for disease, d in theirs.items():
        r = mine[disease]
        if d["fund_pay"] > r.fund_pay and r.cap_remaining == ZERO:
            findings.append(Finding(
                "over_cap", f"服务器复核：{DISEASES.get(disease, disease)}统筹支付应为 {fmt(r.fund_pay)} 元"
                f"（村卫生室 {fmt(d['fund_pay'])} 元）：按乡镇汇总的本年各机构使用，年度限额 {fmt(r.cap)} 元已用完",
                disease, d["fund_pay"] - r.fund_pay))
    if not findings:
        differing = [name for name in AMOUNTS if settlement[name] != getattr(ours, name)]
        if differing:
            pairs = "；".join(f"{_LABELS.get(n, n)} 服务器 {fmt(getattr(ours, n))} 元，村卫生室 {fmt(settlement[n])} 元"
                             for n in differing)
            gap = settlement["fund_pay"] - ours.fund_pay
            findings.append(Finding("differs", f"服务器复核结果与村卫生室不同：{pairs}", None,
                                    gap if gap > 0 else None))
    return findings


_LABELS = {"total": "总额", "out_of_scope": "非两病范围", "over_standard": "超支付标准", "policy_range": "政策范围内",
           "deductible": "起付线", "fund_pay": "统筹支付", "over_cap": "超限额", "self_pay": "个人自付",
           "major_illness_eligible": "可转大病保险"}


def check_refund(settlement: dict, diseases: list[dict], original: dict, original_diseases: list[dict]) -> None:
    """A refund must reverse its original exactly: the same dispense, the same accounting year, every
    amount negated, per disease too."""
    receipt = settlement["receipt_no"]
    if settlement["dispense_id"] != original["dispense_id"]:
        raise Refuse(f"退费单 {receipt} 与原结算单 {original['receipt_no']} 不是同一次配药")
    if settlement["accounting_year"] != original["accounting_year"]:
        raise Refuse(f"退费单 {receipt} 的结算年度 {settlement['accounting_year']} 应与原结算单的 "
                     f"{original['accounting_year']} 年度相同")
    wrong = [name for name in AMOUNTS if settlement[name] != -original[name]]
    per_disease = {d["disease"]: d["fund_pay"] for d in diseases}
    if wrong or per_disease != {d["disease"]: -d["fund_pay"] for d in original_diseases}:
        raise Refuse(f"退费单 {receipt} 的金额不是原结算单 {original['receipt_no']} 的全额冲销"
                     f"（{', '.join(_LABELS.get(n, n) for n in wrong) or '各病种统筹支付'}不符）")


def cannot_check(exc: PolicyError) -> Finding:
    return Finding("cannot_check", f"服务器无法复核：{exc}")


def recheck_stored(session: Session, settlement_id: str, policy: Policy) -> tuple[dict, list[dict], Result]:
    """Settle a stored settlement of this file again against the ledger as it stood when it was made
    (the entries of its accounting year recorded before it): the clinic-side twin of the township's
    check, for tests and audits. Returns (its columns, its disease rows, the recomputed result)."""
    conn = session.connection()
    row = dict(conn.execute(select(Settlement.__table__).where(Settlement.id == settlement_id)).one()._mapping)
    diseases = [dict(d._mapping) for d in conn.execute(
        select(SettlementDisease.__table__).where(SettlementDisease.settlement_id == settlement_id))]
    lines = [dict(r._mapping) for r in conn.execute(
        select(DispenseLine.__table__).where(DispenseLine.dispense_id == row["dispense_id"]))]
    before = ledger.totals([e for e in ledger.entries(session, row["patient_id"], row["accounting_year"])
                            if e.receipt_no not in _made_since(session, row)])
    level = session.get(Institution, row["institution_code"]).level
    return row, diseases, recompute(session, row, lines, policy, level, before)


def _made_since(session: Session, row: dict) -> set[str]:
    return set(session.scalars(select(Settlement.receipt_no).where(
        Settlement.patient_id == row["patient_id"], Settlement.accounting_year == row["accounting_year"],
        Settlement.created_at >= row["created_at"])))

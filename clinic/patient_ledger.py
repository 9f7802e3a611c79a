"""One patient's 本年度医保额度 as `liangbing ledger`, the patient page and the township lookup show it:
the figures come from clinic/ledger.py `year_ledger` (never recomputed here); this module only picks
the policy and tiers for the year and turns the result into plain values for JSON and tables.

The tiers (and so the caps) are the patient's entitlements on the last day of the year, or today if
that is earlier: a patient moved to 重症 in June has the 重症 cap for the year, as the settlement
engine applies it from then on."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from clinic.db.models import Patient
from clinic.filings import entitlements
from clinic.ledger import SOURCES, Entry, YearLedger, year_ledger
from clinic.money import ZERO, fmt
from clinic.policy.model import PolicyError
from clinic.profile import policy_in_force
from clinic.vocab import DISEASES, TIERS

FIRST_YEAR = 2000


def check_year(year: int, today: date) -> int:
    if not FIRST_YEAR <= year <= today.year + 1:
        raise ValueError(f"年度无效：{year}（应在 {FIRST_YEAR} 至 {today.year + 1} 之间）")
    return year


def ledger_day(year: int, today: date) -> date:
    """The day whose policy and entitlements decide the year's caps."""
    return min(date(year, 12, 31), today)


def patient_year_ledger(session: Session, patient: Patient, year: int, today: date) -> YearLedger:
    on = ledger_day(year, today)
    try:
        policy = policy_in_force(session, on)
    except PolicyError:
        policy = None             # shown as 未设置: no policy covers the day (caps unknown, entries still listed)
    tiers = {e.disease: e.tier for e in entitlements(session, patient, policy, on)} if policy is not None else {}
    return year_ledger(session, patient.id, year, policy, patient.insurance, tiers)


def _money(value: Decimal | None) -> str | None:
    return None if value is None else fmt(value)


def deductible_left(ledger: YearLedger) -> Decimal | None:
    return None if ledger.deductible is None else max(ledger.deductible - ledger.deductible_paid, ZERO)


def entry_values(entry: Entry) -> dict:
    return {"date": entry.on.isoformat() if entry.on else None, "receipt_no": entry.receipt_no,
            "disease": entry.disease, "disease_name": DISEASES.get(entry.disease, entry.disease),
            "fund": fmt(entry.fund), "deductible": fmt(entry.deductible), "accounting_year": entry.accounting_year,
            "reverses": entry.reverses, "source": entry.source, "source_name": SOURCES.get(entry.source, entry.source),
            "note": entry.note}


def ledger_values(ledger: YearLedger) -> dict:
    """The ledger as JSON values: money as strings with two decimals, None for a cap not filled in."""
    return {
        "year": ledger.year,
        "deductible": _money(ledger.deductible),
        "deductible_paid": fmt(ledger.deductible_paid),
        "deductible_remaining": _money(deductible_left(ledger)),
        "diseases": [{"disease": d.disease, "disease_name": DISEASES.get(d.disease, d.disease), "tier": d.tier,
                      "tier_name": TIERS.get(d.tier, d.tier), "cap": _money(d.cap), "fund_paid": fmt(d.fund_paid),
                      "remaining": _money(d.remaining)} for d in ledger.diseases],
        "entries": [entry_values(e) for e in ledger.entries],
    }


def shown(value: str | None) -> str:
    return "未设置" if value is None else value


def summary_lines(values: dict) -> list[str]:
    """The figures in words, for the command line and the patient page."""
    lines = [f"起付线：本年 {shown(values['deductible'])} 元，已付 {values['deductible_paid']} 元，"
             f"剩余 {shown(values['deductible_remaining'])} 元"]
    for d in values["diseases"]:
        lines.append(f"{d['disease_name']}（{d['tier_name']}）：年度限额 {shown(d['cap'])} 元，"
                     f"统筹已支付 {d['fund_paid']} 元，剩余 {shown(d['remaining'])} 元")
    if not values["diseases"]:
        lines.append("本年度没有认定的病种，也没有统筹支付")
    return lines


ENTRY_HEADERS = ("日期", "结算单号", "病种", "统筹支付", "起付线", "所属年度", "冲销单号", "来源")


def entry_cells(e: dict) -> tuple[str, ...]:
    return (e["date"] or "—", e["receipt_no"] or "—", e["disease_name"], e["fund"], e["deductible"],
            str(e["accounting_year"]), e["reverses"] or "", e["source_name"])

"""Opening balances (期初余额): a clinic that starts using the product in the middle of a year enters each
patient's fund use and deductible so far that year from its previous system, so that caps hold from
the first purchase (clinic/ledger.py counts them as entries of the year).

The file (XLSX or CSV, as the catalogue import reads it) has the columns 身份证号, 病种, 年度,
统筹基金已支付, 起付线已付. Each row is checked on its own and refused with its row number, column and
a Chinese reason; the good rows are written in the caller's transaction. A file that cannot be read as
a whole (wrong type, damaged, required columns missing) raises OpeningBalanceError and writes nothing.

Decisions where the documents are silent:
- Years: this year or the previous one. An opening balance only matters while purchases of that year
  can still be settled or refunded; an earlier or a future year is a typing error.
- The fund amount may not exceed the year's 年度最高支付限额 of the patient's tier (鄂州方案 二(一)4): the
  previous system cannot have paid more, so a larger figure is a mistake and the row is refused. Where
  the cap is a setting not yet filled in, the row is imported with a warning.
- The deductible is one amount a year across both diseases (吕梁方案 二(一)1 起付标准 per year): the
  patient's rows of a year together may not exceed it.
- One live row per patient, year and disease: importing again changes that row (the audit trail keeps
  old → new), so a corrected file can be imported as often as needed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from clinic.catalogue import CatalogueError, RowError, _norm_header, _read_table
from clinic.db.models import OpeningBalance, Patient
from clinic.filings import entitlements
from clinic.idcard import IdNumberError, parse_id_number
from clinic.money import ZERO, to_decimal
from clinic.patients import find_by_id_number
from clinic.permissions import require
from clinic.policy.model import MissingSetting, PolicyError
from clinic.profile import policy_in_force
from clinic.vocab import DISEASES, INSURANCES, TIERS

ALIASES: dict[str, tuple[str, ...]] = {
    "id_number": ("id_number", "身份证号", "身份证号码", "公民身份号码", "身份证", "证件号码"),
    "disease": ("disease", "病种", "病种名称", "疾病", "慢病病种"),
    "year": ("year", "年度", "年份", "结算年度", "所属年度"),
    "fund_paid": ("fund_paid", "统筹基金已支付", "统筹基金已付", "统筹已支付", "统筹已付", "统筹基金支付",
                  "基金已支付", "统筹支付"),
    "deductible_paid": ("deductible_paid", "起付线已付", "起付线已支付", "起付标准已付", "已付起付线", "起付线"),
}
LABELS = {name: aliases[1] for name, aliases in ALIASES.items()}
REQUIRED = tuple(ALIASES)
DISEASE_WORDS = {**{code: code for code in DISEASES}, **{word: code for code, word in DISEASES.items()}}


class OpeningBalanceError(ValueError):
    """The file as a whole cannot be imported; nothing was written."""


@dataclass
class OpeningReport:
    source: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: int = 0
    errors: list[RowError] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)

    @property
    def imported(self) -> int:
        return self.added + self.updated + self.unchanged

    def summary(self) -> str:
        lines = [f"期初余额导入：{self.source}",
                 f"新增 {self.added} 条，更新 {self.updated} 条，未变 {self.unchanged} 条，"
                 f"拒绝 {self.refused} 条（有错误，未导入）"]
        for title, items in (("错误", self.errors), ("提示", self.warnings)):
            if items:
                lines.append(f"{title}：")
                lines += [f"  第 {e.row} 行【{e.column}】{e.message}" for e in items]
        return "\n".join(lines)


@dataclass
class _Row:
    number: int
    patient: Patient
    year: int
    disease: str
    fund: Decimal
    deductible: Decimal


def _columns(row: list[str]) -> dict[str, int]:
    lookup = {alias.lower(): name for name, aliases in ALIASES.items() for alias in aliases}
    found: dict[str, int] = {}
    for index, header in enumerate(row):
        name = lookup.get(_norm_header(header))
        if name and name not in found:
            found[name] = index
    return found


def _records(path: Path) -> tuple[list[tuple[int, dict[str, str]]], dict[str, str]]:
    try:
        table = _read_table(path)
    except CatalogueError as exc:
        raise OpeningBalanceError(str(exc)) from None
    found = [i for i, row in enumerate(table[:10]) if all(name in _columns(row) for name in REQUIRED)]
    if not found:
        got = _columns(table[0]) if table else {}
        missing = "、".join(LABELS[name] for name in REQUIRED if name not in got)
        raise OpeningBalanceError(f"{path.name} 缺少必需的列：{missing}")
    header_at = found[0]
    columns = _columns(table[header_at])
    headers = {name: table[header_at][i] for name, i in columns.items()}
    records = [(number, {name: row[i] if i < len(row) else "" for name, i in columns.items()})
               for number, row in enumerate(table[header_at + 1:], start=header_at + 2) if any(row)]
    return records, headers


def _amount(text: str) -> Decimal:
    text = text.replace(",", "").replace("¥", "").replace("元", "").strip()
    value = to_decimal(text, "金额", places=2)
    if value < 0:
        raise ValueError("金额不能为负数")
    return value.quantize(Decimal("0.01"))


def _parse(session: Session, number: int, raw: dict[str, str], headers: dict[str, str], today: date,
           errors: list[RowError]) -> _Row | None:
    bad = []

    def fail(name: str, message: str) -> None:
        bad.append(name)
        errors.append(RowError(number, headers.get(name) or LABELS[name], message))

    patient = None
    try:
        info = parse_id_number(raw["id_number"], today=today)
    except IdNumberError as exc:
        fail("id_number", str(exc))
    else:
        patient = find_by_id_number(session, info.number)
        if patient is None:
            fail("id_number", f"本机构没有身份证号为 {info.number} 的患者，请先登记患者")
    disease = DISEASE_WORDS.get(raw["disease"].strip().lower())
    if disease is None:
        fail("disease", f"病种应为“高血压”或“糖尿病”，而不是“{raw['disease']}”" if raw["disease"] else "不能为空")
    year = None
    text = raw["year"].strip().removesuffix("年").removesuffix(".0")
    if not text.isdigit() or len(text) != 4:
        fail("year", f"年度应为四位数字，如 {today.year}，而不是“{raw['year']}”" if raw["year"] else "不能为空")
    elif not today.year - 1 <= int(text) <= today.year:
        fail("year", f"只能导入 {today.year - 1} 或 {today.year} 年度的期初余额，而不是 {text} 年度")
    else:
        year = int(text)
    amounts = {}
    for name in ("fund_paid", "deductible_paid"):
        if not raw[name].strip():
            fail(name, "不能为空（没有发生请填 0）")
            continue
        try:
            amounts[name] = _amount(raw[name])
        except ValueError as exc:
            fail(name, str(exc))
    if bad:
        return None
    return _Row(number, patient, year, disease, amounts["fund_paid"], amounts["deductible_paid"])


def _check_figures(session: Session, rows: list[_Row], headers: dict[str, str], today: date,
                   errors: list[RowError], warnings: list[RowError]) -> list[_Row]:
    """The cap per disease and the deductible per year, under the clinic's policy for that year."""
    good: list[_Row] = []
    by_year: dict[tuple[str, int], list[_Row]] = defaultdict(list)
    deductibles: dict[tuple[str, int], Decimal | None] = {}
    for row in rows:
        on = min(date(row.year, 12, 31), today)
        try:
            policy = policy_in_force(session, on)
        except PolicyError as exc:
            errors.append(RowError(row.number, headers["year"], f"{row.year} 年度没有适用的政策：{exc}"))
            continue
        tiers = {e.disease: e.tier for e in entitlements(session, row.patient, policy, on)}
        tier = tiers.get(row.disease, "ordinary")
        if row.disease not in tiers:
            warnings.append(RowError(row.number, headers["disease"], f"患者 {row.patient.name} 在 {on} "
                                     f"未认定{DISEASES[row.disease]}，按普通病种限额核对"))
        try:
            cap = policy.cap(row.patient.insurance, tier)
        except (MissingSetting, PolicyError):
            warnings.append(RowError(row.number, headers["fund_paid"],
                                     f"政策未设置{INSURANCES.get(row.patient.insurance, row.patient.insurance)}"
                                     f"{TIERS[tier]}年度限额，未核对是否超限"))
        else:
            if row.fund > cap:
                errors.append(RowError(
                    row.number, headers["fund_paid"],
                    f"统筹基金已支付 {row.fund} 元超过 {row.year} 年度{DISEASES[row.disease]}"
                    f"{TIERS[tier]}限额 {cap} 元（{INSURANCES.get(row.patient.insurance, '')}），请核对"))
                continue
        if (row.patient.id, row.year) not in deductibles:
            try:
                deductibles[(row.patient.id, row.year)] = policy.deductible
            except (MissingSetting, PolicyError):
                deductibles[(row.patient.id, row.year)] = None
        by_year[(row.patient.id, row.year)].append(row)
        good.append(row)
    refused: set[int] = set()
    for (patient_id, year), group in by_year.items():
        deductible = deductibles[(patient_id, year)]
        if deductible is None:
            continue
        in_file = {r.disease for r in group}
        kept = sum((o.deductible_paid for o in session.scalars(select(OpeningBalance).where(
            OpeningBalance.patient_id == patient_id, OpeningBalance.year == year,
            OpeningBalance.deleted_at.is_(None))) if o.disease not in in_file), ZERO)
        total = kept + sum((r.deductible for r in group), ZERO)
        if total > deductible:
            for r in group:
                refused.add(r.number)
                errors.append(RowError(r.number, headers["deductible_paid"],
                                       f"起付线已付合计 {total} 元超过 {year} 年度起付标准 {deductible} 元"
                                       f"（起付线每年一次，两个病种合计），请核对"))
    return [r for r in good if r.number not in refused]


def import_opening_balances(session: Session, path: str | Path, *, user: str, role: str,
                            today: date | None = None) -> OpeningReport:
    """Import into the caller's transaction (administrators only); refused rows are in the report."""
    require(role, "opening_balance.import")
    today = today or date.today()
    path = Path(path)
    records, headers = _records(path)
    headers = {name: headers.get(name) or LABELS[name] for name in ALIASES}
    report = OpeningReport(source=path.name)
    parsed = [row for number, raw in records
              if (row := _parse(session, number, raw, headers, today, report.errors)) is not None]
    # The same patient, year and disease twice: which figure is right cannot be known.
    rows_of: dict[tuple, list[int]] = defaultdict(list)
    for row in parsed:
        rows_of[(row.patient.id, row.year, row.disease)].append(row.number)
    unique = []
    for row in parsed:
        others = [str(n) for n in rows_of[(row.patient.id, row.year, row.disease)] if n != row.number]
        if others:
            report.errors.append(RowError(row.number, headers["disease"],
                                          f"同一患者同一年度的{DISEASES[row.disease]}在文件中重复（另见第 "
                                          f"{'、'.join(others)} 行）"))
        else:
            unique.append(row)
    for row in _check_figures(session, unique, headers, today, report.errors, report.warnings):
        _write(session, row, path.name, user, report)
    report.refused = len(records) - report.imported
    report.errors.sort(key=lambda e: e.row)
    report.warnings.sort(key=lambda e: e.row)
    return report


def _write(session: Session, row: _Row, source: str, user: str, report: OpeningReport) -> None:
    current = session.scalar(select(OpeningBalance).where(
        OpeningBalance.patient_id == row.patient.id, OpeningBalance.year == row.year,
        OpeningBalance.disease == row.disease, OpeningBalance.deleted_at.is_(None)))
    if current is None:
        session.add(OpeningBalance(patient_id=row.patient.id, year=row.year, disease=row.disease,
                                   fund_paid=row.fund, deductible_paid=row.deductible, source=source[:200],
                                   entered_by=user[:40]))
        report.added += 1
        return
    if (current.fund_paid, current.deductible_paid) == (row.fund, row.deductible):
        report.unchanged += 1
        return
    current.fund_paid, current.deductible_paid = row.fund, row.deductible
    current.source, current.entered_by = source[:200], user[:40]
    report.updated += 1

"""Township rules as data: resources/policies/township/<id>.toml, one file per document and date.

Two kinds of rule live there, each quoted from its seed with the section in a comment:
- a capitation programme (濉溪 seeds/004): per-head budgets, the inpatient per-head budget and the
  surplus shares village : town : county (`CapitationRules`);
- a stocking rule for the villages of a 统筹区 (鄂州 seeds/000 二(四)12: 备药率 ≥ 70 % of the upper-level
  institution's list) (`StockingRule`).
Files are validated on load; a malformed or inconsistent file is refused with the reason.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from clinic.resources import resources_dir

ONE = Decimal(1)


class RulesError(ValueError):
    """A township rules file is malformed, or no file applies."""


def rules_dir() -> Path:
    return resources_dir() / "policies" / "township"


@dataclass(frozen=True)
class HeadRates:
    """元/人/年 for one group of the pilot population (三(一)一是)."""

    signed: Decimal                  # 签约人头基金定额
    signed_outpatient: Decimal       # 其中门诊
    signed_family_doctor: Decimal    # 其中家庭医生签约
    unsigned: Decimal                # 没有签约的人头基金定额


@dataclass(frozen=True)
class CapitationRules:
    id: str
    name: str
    county: str
    effective_from: date
    source: str
    insurance: str
    two_diseases: HeadRates
    chronic: HeadRates
    inpatient_per_head: Decimal      # 常见慢性病住院人头基金定额
    village_share: Decimal           # 附件1 三(三)
    township_share: Decimal          # 附件1 三(二)
    county_share: Decimal            # 附件1 三(一)


@dataclass(frozen=True)
class StockingRule:
    id: str
    name: str
    region: str
    effective_from: date
    source: str
    min_ratio: Decimal               # 备药率下限


def _decimal(table: dict, key: str, where: str) -> Decimal:
    raw = table.get(key)
    if raw is None:
        raise RulesError(f"{where} 缺少 {key}")
    if isinstance(raw, float | bool):
        raise RulesError(f"{where}.{key} 请写成字符串形式的十进制数，如 \"0.30\"")
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise RulesError(f"{where}.{key} 不是有效数字：{raw!r}") from None
    if not value.is_finite() or value < 0:
        raise RulesError(f"{where}.{key} 应为不小于 0 的数：{raw!r}")
    return value


def _rates(data: dict, key: str) -> HeadRates:
    table = data.get("capitation", {}).get(key)
    if not isinstance(table, dict):
        raise RulesError(f"缺少 [capitation.{key}]")
    where = f"capitation.{key}"
    rates = HeadRates(*(_decimal(table, name, where) for name in
                        ("signed", "signed_outpatient", "signed_family_doctor", "unsigned")))
    if rates.signed != rates.signed_outpatient + rates.signed_family_doctor:
        raise RulesError(f"{where}: 签约定额 {rates.signed} ≠ 门诊 {rates.signed_outpatient} + 签约 "
                         f"{rates.signed_family_doctor}")
    return rates


def _head(data: dict, path: Path) -> dict:
    for key in ("id", "name", "effective_from", "source"):
        if key not in data:
            raise RulesError(f"{path.name}: 缺少字段 {key}")
    if not isinstance(data["effective_from"], date):
        raise RulesError(f"{path.name}: effective_from 应为日期，如 2021-01-01")
    return data


def _read(path: Path) -> dict:
    try:
        return _head(tomllib.loads(path.read_text(encoding="utf-8")), path)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RulesError(f"无法读取规则文件 {path.name}：{exc}") from None


def parse_capitation(data: dict, path: Path) -> CapitationRules:
    try:
        surplus = data.get("surplus")
        if not isinstance(surplus, dict):
            raise RulesError("缺少 [surplus]")
        shares = [_decimal(surplus, key, "surplus") for key in ("village", "township", "county")]
        if sum(shares) != ONE:
            raise RulesError(f"surplus 村、镇、县份额之和应为 1：{' + '.join(map(str, shares))}")
        inpatient = data.get("capitation", {}).get("inpatient", {})
        return CapitationRules(
            id=str(data["id"]), name=str(data["name"]), county=str(data.get("county", "")),
            effective_from=data["effective_from"], source=str(data["source"]),
            insurance=str(data.get("insurance", "resident")), two_diseases=_rates(data, "two_diseases"),
            chronic=_rates(data, "chronic"),
            inpatient_per_head=_decimal(inpatient, "chronic_per_head", "capitation.inpatient"),
            village_share=shares[0], township_share=shares[1], county_share=shares[2])
    except RulesError as exc:
        raise RulesError(f"{path.name}: {exc}") from None


def parse_stocking(data: dict, path: Path) -> StockingRule:
    if "region" not in data:
        raise RulesError(f"{path.name}: 缺少字段 region")
    ratio = _decimal(data.get("stocking", {}), "min_ratio", f"{path.name}: stocking")
    if ratio > ONE:
        raise RulesError(f"{path.name}: stocking.min_ratio 应在 0 到 1 之间：{ratio}")
    return StockingRule(id=str(data["id"]), name=str(data["name"]), region=str(data["region"]),
                        effective_from=data["effective_from"], source=str(data["source"]), min_ratio=ratio)


def _files(directory: Path | None) -> list[tuple[Path, dict]]:
    return [(path, _read(path)) for path in sorted((directory or rules_dir()).glob("*.toml"))]


def capitation_programmes(directory: Path | None = None) -> list[CapitationRules]:
    return sorted((parse_capitation(data, path) for path, data in _files(directory) if "capitation" in data),
                  key=lambda r: (r.id, r.effective_from))


def stocking_rules(directory: Path | None = None) -> list[StockingRule]:
    return sorted((parse_stocking(data, path) for path, data in _files(directory) if "stocking" in data),
                  key=lambda r: (r.region, r.effective_from))


def capitation_programme(ref: str | None, on: date, directory: Path | None = None) -> CapitationRules:
    """A programme by id or file path; with no `ref`, the only programme in force on `on` (named on
    every report it produces), or an error listing the choices."""
    if ref and (ref.endswith(".toml") or "/" in ref):
        path = Path(ref)
        if not path.is_file():
            raise RulesError(f"找不到规则文件：{ref}")
        return parse_capitation(_read(path), path)
    programmes = [p for p in capitation_programmes(directory) if p.effective_from <= on]
    if ref:
        found = [p for p in programmes if p.id == ref]
        if not found:
            known = ", ".join(p.id for p in capitation_programmes(directory)) or "无"
            raise RulesError(f"未知或 {on} 尚未生效的包干方案：{ref}（可用：{known}）")
        return found[-1]
    if len(programmes) != 1:
        known = ", ".join(p.id for p in programmes) or "无"
        raise RulesError(f"请指定按人头包干方案（{on} 已生效的：{known}）")
    return programmes[0]


def stocking_rule(region: str, on: date, directory: Path | None = None) -> StockingRule | None:
    """The 统筹区's stocking rule in force on `on`, or None when its documents set none."""
    found = [r for r in stocking_rules(directory) if r.region == region and r.effective_from <= on]
    return found[-1] if found else None

"""Assessment tables as data: resources/policies/assessment/<id>.toml, one file per table and version
(today the 濉溪 KPI table, seeds/004 附件2). A file lists the indicators in the paper's order, each with
its 分值, 考核标准 text and scoring rule parameters (clinic/reports/scoring.py), and which ones this
system measures; the rest are inputs. `parameters` are figures the document leaves to the
administrator; Setting rows `assessment.<id>.<name>` override them.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from clinic.db.models import Setting
from clinic.policy.loader import policies_dir
from clinic.reports.scoring import banded_score, deduction_score, target_score
from clinic.vocab import INSURANCES

RULES = ("banded", "deduction", "target")
MEASURES = ("signing", "htn_managed", "htn_controlled", "dm_managed", "dm_controlled", "visits")
PARAMETERS = {"min_follow_ups": "规范管理所需年随访次数"}


class AssessmentError(ValueError):
    pass


@dataclass(frozen=True)
class Indicator:
    key: str
    no: str
    first: str                  # 一级指标
    second: str                 # 二级指标
    standard: str               # 考核标准, as printed
    weight: Decimal             # 分值
    source: str                 # 数据来源
    rule: str
    lower: Decimal | None = None
    upper: Decimal | None = None
    full_above: bool = False
    per_case: Decimal | None = None
    target: Decimal | None = None
    measure: str | None = None
    cases_word: str = ""

    @property
    def counts_cases(self) -> bool:
        return self.rule == "deduction"

    def score(self, value: Decimal | int) -> Decimal:
        """The indicator's score from its rate (banded, target) or its number of cases (deduction)."""
        if self.rule == "banded":
            return banded_score(Decimal(value), self.weight, self.upper, self.full_above)
        if self.rule == "target":
            return target_score(Decimal(value), self.weight, self.target)
        return deduction_score(int(value), self.weight, self.per_case)

    def below_band(self, rate: Decimal) -> bool:
        return self.rule == "banded" and self.lower is not None and rate < self.lower


@dataclass(frozen=True)
class Assessment:
    id: str
    name: str
    county: str
    effective_from: date
    source: str
    insurance: str | None
    exclude_new_cases: bool
    parameters: dict[str, int]
    indicators: tuple[Indicator, ...]

    @property
    def total_weight(self) -> Decimal:
        return sum((ind.weight for ind in self.indicators), Decimal(0))

    def indicator(self, key: str) -> Indicator:
        for ind in self.indicators:
            if ind.key == key:
                return ind
        raise KeyError(key)


def assessment_dir() -> Path:
    return policies_dir() / "assessment"


def _decimal(raw: object, what: str) -> Decimal:
    if isinstance(raw, float | bool):
        raise AssessmentError(f"{what} 请写成字符串形式的十进制数，如 \"0.80\"")
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise AssessmentError(f"{what} 不是有效数字：{raw!r}") from None
    if not value.is_finite() or value < 0:
        raise AssessmentError(f"{what} 应为不小于 0 的数：{raw!r}")
    return value


def _parameter(name: str, raw: object) -> int:
    if name not in PARAMETERS:
        raise AssessmentError(f"未知的考核参数：{name}（可选：{' / '.join(PARAMETERS)}）")
    text = str(raw).strip()
    if isinstance(raw, bool | float) or not text.isdigit() or int(text) < 1:
        raise AssessmentError(f"{PARAMETERS[name]}（{name}）应为正整数：{raw!r}")
    return int(text)


def _indicator(data: dict, n: int) -> Indicator:
    where = f"第 {n} 项指标"
    for field in ("key", "no", "first", "second", "standard", "weight", "source", "rule"):
        if field not in data:
            raise AssessmentError(f"{where}缺少 {field}")
    rule = data["rule"]
    if rule not in RULES:
        raise AssessmentError(f"{where} rule 无效：{rule!r}（可选：{' / '.join(RULES)}）")
    measure = data.get("measure")
    if measure is not None and (measure not in MEASURES or rule == "deduction"):
        raise AssessmentError(f"{where} measure 无效：{measure!r}")
    need = {"banded": ("lower", "upper", "full_above"), "deduction": ("per_case", "cases_word"),
            "target": ("target",)}[rule]
    missing = [field for field in need if field not in data]
    if missing:
        raise AssessmentError(f"{where}（{rule}）缺少 {', '.join(missing)}")
    numbers = {field: _decimal(data[field], f"{where} {field}") for field in ("lower", "upper", "per_case", "target")
               if field in data}
    for field in ("lower", "upper", "target"):
        if field in numbers and numbers[field] > 1:
            raise AssessmentError(f"{where} {field} 应在 0 到 1 之间：{data[field]}")
    return Indicator(key=str(data["key"]), no=str(data["no"]), first=str(data["first"]), second=str(data["second"]),
                     standard=str(data["standard"]), weight=_decimal(data["weight"], f"{where} weight"),
                     source=str(data["source"]), rule=rule, full_above=bool(data.get("full_above", False)),
                     measure=measure, cases_word=str(data.get("cases_word", "")), **numbers)


def load_assessment(path: Path | str | None = None) -> Assessment:
    """An assessment file by path or id; without one, the single table shipped."""
    directory = assessment_dir()
    if path is None:
        shipped = sorted(directory.glob("*.toml"))
        if len(shipped) != 1:
            raise AssessmentError(f"请指定考核表（{directory} 中有 {len(shipped)} 个）")
        path = shipped[0]
    elif not str(path).endswith(".toml"):
        path = directory / f"{path}.toml"
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError:
        raise AssessmentError(f"找不到考核表文件：{path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise AssessmentError(f"考核表 {Path(path).name} 格式错误：{exc}") from None
    for field in ("id", "name", "county", "effective_from", "source", "indicators"):
        if field not in data:
            raise AssessmentError(f"考核表 {Path(path).name} 缺少字段 {field}")
    insurance = data.get("insurance")
    if insurance is not None and insurance not in INSURANCES:
        raise AssessmentError(f"考核表 insurance 无效：{insurance!r}")
    indicators = tuple(_indicator(item, n) for n, item in enumerate(data["indicators"], start=1))
    keys = [ind.key for ind in indicators]
    if len(keys) != len(set(keys)):
        raise AssessmentError(f"考核表 {Path(path).name} 指标编号重复")
    parameters = {name: _parameter(name, raw) for name, raw in data.get("parameters", {}).items()}
    return Assessment(id=str(data["id"]), name=str(data["name"]), county=str(data["county"]),
                      effective_from=data["effective_from"], source=str(data["source"]), insurance=insurance,
                      exclude_new_cases=bool(data.get("exclude_new_cases", False)), parameters=parameters,
                      indicators=indicators)


def parameters_in_force(session: Session, assessment: Assessment, overrides: dict[str, object] | None = None
                        ) -> dict[str, int]:
    """The file's parameters, then the administrator's Setting rows, then this run's overrides."""
    found = dict(assessment.parameters)
    prefix = f"assessment.{assessment.id}."
    for row in session.scalars(select(Setting).where(Setting.key.startswith(prefix))):
        found[row.key[len(prefix):]] = _parameter(row.key[len(prefix):], row.value)
    for name, raw in (overrides or {}).items():
        found[name] = _parameter(name, raw)
    missing = [name for name in PARAMETERS if name not in found]
    if missing:
        raise AssessmentError(f"考核参数未设置：{', '.join(PARAMETERS[m] for m in missing)}")
    return found


def set_assessment_parameter(session: Session, assessment: Assessment, name: str, value: str) -> None:
    """An administrator changes a parameter the document leaves open (validated first)."""
    _parameter(name, value)
    key = f"assessment.{assessment.id}.{name}"
    row = session.get(Setting, key)
    if row is None:
        session.add(Setting(key=key, value=str(value)))
    else:
        row.value = str(value)

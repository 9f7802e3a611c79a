"""Load and validate policy files from resources/policies/, and pick the one in force on a date."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from clinic.policy.model import (
    ENTITLEMENT_RULES,
    PAYMENT_STANDARD_SOURCES,
    PAYMENT_STANDARD_WORDS,
    REQUIRED,
    Policy,
    PolicyError,
    period_end,
    setting_label,
)
from clinic.resources import resources_dir
from clinic.vocab import CONTRIBUTIONS, INSURANCES, LEVELS, TIERS, check

DRUG_PRIORITIES = ("class_a", "essential", "consistency", "vbp")
# Files written before the payment standard became a setting: "given" said nothing about its source.
LEGACY_PAYMENT_STANDARD = {"given": REQUIRED, "vbp_price_else_platform_price": "vbp_price_else_platform_price"}


def policies_dir() -> Path:
    return resources_dir() / "policies"


def expected_keys(insurances: tuple[str, ...]) -> list[str]:
    keys = ["deductible", "secondary_factor", "prescription.max_period", "prescription.refill_window_days",
            "payment_standard"]
    for ins in insurances:
        keys += [f"caps.{ins}.{tier}" for tier in TIERS]
        keys += [f"ratios.{ins}.{level}" for level in LEVELS]
    if "employee" in insurances:
        keys += [f"contribution.{c}" for c in CONTRIBUTIONS]
    return keys


def _flatten(table: Mapping[str, object], prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in table.items():
        full = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{full}."))
        else:
            flat[full] = value
    return flat


def parse_setting(key: str, raw: object, min_ratio: Decimal | None) -> object:
    """Validate one setting value (from a file or an administrator) and return its typed form."""
    if raw == REQUIRED:
        return REQUIRED
    label = f"{setting_label(key)}（{key}）"
    if key == "payment_standard":
        raw = PAYMENT_STANDARD_WORDS.get(str(raw).strip(), str(raw).strip())
        if raw not in PAYMENT_STANDARD_SOURCES:
            choices = "；".join(f"{k}：{v}" for k, v in PAYMENT_STANDARD_SOURCES.items())
            raise PolicyError(f"{label} 无效：{raw!r}（可选 {choices}）")
        return raw
    if key == "prescription.max_period":
        if not isinstance(raw, str):
            raise PolicyError(f"{label} 应写成如 \"24w\"、\"3m\" 的字符串")
        period_end(date(2000, 1, 31), raw)
        return raw
    if key == "prescription.refill_window_days":
        try:
            days = int(str(raw))
        except ValueError:
            raise PolicyError(f"{label} 应为天数（整数）：{raw!r}") from None
        if not 0 <= days <= 366:
            raise PolicyError(f"{label} 超出范围：{days}")
        return days
    if isinstance(raw, float) or isinstance(raw, bool):
        raise PolicyError(f"{label} 请写成字符串形式的十进制数，如 \"0.60\"")
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        raise PolicyError(f"{label} 不是有效数字：{raw!r}") from None
    if not value.is_finite():
        raise PolicyError(f"{label} 不是有效数字：{raw!r}")
    if key.startswith("ratios."):
        if not Decimal(0) <= value <= Decimal(1):
            raise PolicyError(f"{label} 应在 0 到 1 之间（如 0.60 表示 60%）：{value}")
        if min_ratio is not None and value < min_ratio:
            raise PolicyError(f"{label} 不得低于政策规定的 {min_ratio:.0%}：{value}")
    elif key.startswith("contribution."):
        if not Decimal(-1) <= value <= Decimal(0):
            raise PolicyError(f"{label} 应为 0 或负数（如 -0.05 表示减少5个百分点）：{value}")
    elif key == "secondary_factor":
        if not Decimal(0) <= value <= Decimal(1):
            raise PolicyError(f"{label} 应在 0 到 1 之间：{value}")
    elif value < 0:
        raise PolicyError(f"{label} 不能为负数：{value}")
    return value


# Parsed files keyed by (path, mtime, size): settling reads every policy on each purchase, and
# re-parsing them cost ~20 ms; a file an administrator replaces is read again.
_PARSED: dict[tuple[str, int, int], dict] = {}


def _read_toml(path: Path) -> dict:
    try:
        stat = path.stat()
        key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
        if key not in _PARSED:
            _PARSED[key] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"无法读取政策文件 {path}：{exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"政策文件 {path.name} 格式错误：{exc}") from None
    return _PARSED[key]


def load_policy(path: Path, local_settings: Mapping[str, object] | None = None) -> Policy:
    """Read one policy file; `local_settings` (key → value) fill in or override its settings."""
    path = Path(path)
    data = _read_toml(path)
    try:
        return _build(data, path, local_settings or {})
    except PolicyError as exc:
        raise PolicyError(f"政策文件 {path.name}：{exc}") from None


def load_policy_text(text: str, path: Path, local_settings: Mapping[str, object] | None = None) -> Policy:
    """The same from a policy file's text (a version the township published through sync); `path`
    names where it came from."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"政策文件 {Path(path).name} 格式错误：{exc}") from None
    try:
        return _build(data, Path(path), local_settings or {})
    except PolicyError as exc:
        raise PolicyError(f"政策文件 {Path(path).name}：{exc}") from None


def _build(data: dict, path: Path, local: Mapping[str, object]) -> Policy:
    for key in ("id", "region", "name", "city", "effective_from", "source", "insurances", "entitlement"):
        if key not in data:
            raise PolicyError(f"缺少字段 {key}")
    if not isinstance(data["effective_from"], date):
        raise PolicyError("effective_from 应为日期，如 2022-10-01")
    insurances = tuple(data["insurances"])
    for ins in insurances:
        check(INSURANCES, ins, "insurances")
    if data["entitlement"] not in ENTITLEMENT_RULES:
        raise PolicyError(f"entitlement 无效：{data['entitlement']!r}")
    priority = tuple(data.get("drug_priority", ()))
    for item in priority:
        if item not in DRUG_PRIORITIES:
            raise PolicyError(f"drug_priority 含未知项：{item!r}")
    min_ratio = Decimal(data["min_ratio"]) if "min_ratio" in data else None

    raw = _flatten(data.get("settings", {}))
    if "payment_standard" not in raw and "payment_standard_rule" in data:
        rule = data["payment_standard_rule"]
        if rule not in LEGACY_PAYMENT_STANDARD:
            raise PolicyError(f"payment_standard_rule 无效：{rule!r}")
        raw["payment_standard"] = LEGACY_PAYMENT_STANDARD[rule]
    expected = expected_keys(insurances)
    missing = [key for key in expected if key not in raw]
    if missing:
        raise PolicyError(f"缺少设置项（未规定的数值请写 \"required\"）：{', '.join(missing)}")
    unknown = [key for key in raw if key not in expected]
    if unknown:
        raise PolicyError(f"未知设置项：{', '.join(unknown)}")
    settings = {key: parse_setting(key, raw[key], min_ratio) for key in expected}
    for key, value in local.items():
        if key not in settings:
            raise PolicyError(f"本地设置 {key} 不属于该政策")
        settings[key] = parse_setting(key, value, min_ratio)
    return Policy(
        id=str(data["id"]), region=str(data["region"]), name=str(data["name"]), city=str(data["city"]),
        effective_from=data["effective_from"], source=str(data["source"]), insurances=insurances,
        entitlement=data["entitlement"], drug_priority=priority, min_ratio=min_ratio,
        notes=tuple(data.get("notes", ())), settings=settings, path=str(path),
    )


def all_policies(
    directory: Path | None = None, local: Mapping[str, Mapping[str, object]] | None = None
) -> list[Policy]:
    """Every policy file in the directory, sorted by region then date. `local` maps region → settings."""
    local = local or {}
    found = []
    for path in sorted((directory or policies_dir()).glob("*.toml")):
        region = _read_toml(path).get("region", "")
        found.append(load_policy(path, local.get(region)))
    ids = [p.id for p in found]
    if len(ids) != len(set(ids)):
        raise PolicyError(f"政策编号重复：{ids}")
    return sorted(found, key=lambda p: (p.region, p.effective_from))


def resolve_policy(
    ref: str, on: date, local: Mapping[str, Mapping[str, object]] | None = None,
    directory: Path | None = None,
) -> Policy:
    """A policy by file path, by exact id, or by region (the version in force on `on`)."""
    if ref.endswith(".toml") or "/" in ref or "\\" in ref:
        path = Path(ref)
        if not path.is_file():
            raise PolicyError(f"找不到政策文件：{ref}")
        region = _read_toml(path).get("region", "")
        return load_policy(path, (local or {}).get(region))
    policies = all_policies(directory, local)
    for policy in policies:
        if policy.id == ref:
            return policy
    versions = [p for p in policies if p.region == ref]
    if not versions:
        known = ", ".join(sorted({p.region for p in policies} | {p.id for p in policies}))
        raise PolicyError(f"未知政策：{ref}（可用：{known}）")
    in_force = [p for p in versions if p.effective_from <= on]
    if not in_force:
        raise PolicyError(f"{on} 时“{versions[0].name}”尚未生效（最早 {versions[0].effective_from}）")
    return in_force[-1]

"""A local medical-insurance policy (one 统筹区, one effective date), loaded from a TOML file.

Figures a document gives are in the file with a comment citing the seed; figures it does not give are
written "required" and must be filled in by an administrator as a local setting. Asking for a missing
figure raises MissingSetting, so settlement refuses to run and says which setting is missing.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from clinic.vocab import CONTRIBUTIONS, DISEASES, INSURANCES, LEVELS, TIERS

REQUIRED = "required"
ENTITLEMENT_RULES = {
    "approved_filing": "经认定备案审核通过后享受待遇",
    "approved_filing_or_managed": "备案通过，或已纳入基层规范化管理（无需另行备案）",
}
_PERIOD = re.compile(r"^(\d+)([dwm])$")
# Where a policy takes the price the fund pays up to (医保支付标准) from; `payment_standard` setting.
PAYMENT_STANDARD_SOURCES = {
    "vbp_price": "集中带量采购中选药品以中选价为支付标准，其他药品按实际价格",
    "vbp_price_else_platform_price": "中选药品以中选价、其他药品以省药品集中采购平台实际采购价为支付标准",
    "platform_price": "以省药品集中采购平台实际采购价为支付标准",
    "none": "不设支付标准，按实际价格结算",
}
# What an administrator may type instead of the code (设置 screen, `liangbing policy set`).
PAYMENT_STANDARD_WORDS = {"中选价": "vbp_price", "中选价否则平台价": "vbp_price_else_platform_price",
                          "平台价": "platform_price", "平台采购价": "platform_price", "无": "none", "不设": "none"}


class PolicyError(ValueError):
    """A policy file (or a local setting) is malformed."""


class MissingSetting(PolicyError):
    """A figure the policy document does not give and no administrator has filled in yet."""

    def __init__(self, policy: Policy, key: str):
        self.key = key
        super().__init__(
            f"政策“{policy.name}”缺少本地设置：{setting_label(key)}（{key}），"
            f"文件未规定该数值，请管理员在设置中填写后再结算"
        )


def setting_label(key: str) -> str:
    """Chinese description of a setting key, for messages and the settings screen."""
    parts = key.split(".")
    head = parts[0]
    if head == "caps" and len(parts) == 3:
        return f"{INSURANCES.get(parts[1], parts[1])}{TIERS.get(parts[2], parts[2])}“两病”年度最高支付限额（元）"
    if head == "ratios" and len(parts) == 3:
        return f"{INSURANCES.get(parts[1], parts[1])}{LEVELS.get(parts[2], parts[2])}医疗机构报销比例"
    if head == "contribution" and len(parts) == 2:
        return f"城镇职工{CONTRIBUTIONS.get(parts[1], parts[1])}的报销比例调整"
    return {
        "deductible": "年度起付标准（元）",
        "secondary_factor": "次要病种报销比例系数",
        "prescription.max_period": "长处方最长用药周期",
        "prescription.refill_window_days": "续配窗口（上次剩余用药量不超过的天数）",
        "payment_standard": "医保支付标准的来源",
    }.get(key, key)


def period_end(start: date, period: str) -> date:
    """Last day covered by a period such as "24w", "12w", "90d" or "3m" starting on `start`."""
    match = _PERIOD.match(period)
    if not match:
        raise PolicyError(f"用药周期格式无效：{period!r}（应为如 24w、90d、3m）")
    n, unit = int(match.group(1)), match.group(2)
    if unit == "d":
        return start + timedelta(days=n - 1)
    if unit == "w":
        return start + timedelta(weeks=n, days=-1)
    month_index = start.month - 1 + n
    year, month = start.year + month_index // 12, month_index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return date(year, month, day) - timedelta(days=1)


def period_days(start: date, period: str) -> int:
    return (period_end(start, period) - start).days + 1


@dataclass(frozen=True)
class Policy:
    id: str
    region: str
    name: str
    city: str
    effective_from: date
    source: str
    insurances: tuple[str, ...]
    entitlement: str
    drug_priority: tuple[str, ...]
    min_ratio: Decimal | None           # a floor on the ratio actually paid (云医保〔2021〕45号 (三))
    notes: tuple[str, ...]
    # key → Decimal/str/int value, or REQUIRED; local settings already applied.
    settings: dict[str, object] = field(repr=False)
    path: str = ""

    def get(self, key: str) -> object:
        if key not in self.settings:
            raise PolicyError(f"政策“{self.name}”没有设置项 {key}")
        value = self.settings[key]
        if value == REQUIRED:
            raise MissingSetting(self, key)
        return value

    def decimal(self, key: str) -> Decimal:
        value = self.get(key)
        assert isinstance(value, Decimal)
        return value

    def missing_settings(self) -> list[str]:
        return [key for key, value in self.settings.items() if value == REQUIRED]

    def covers(self, insurance: str) -> bool:
        return insurance in self.insurances

    # Named accessors, so callers read like the policy documents.
    def cap(self, insurance: str, tier: str) -> Decimal:
        return self.decimal(f"caps.{insurance}.{tier}")

    def ratio(self, insurance: str, level: str) -> Decimal:
        return self.decimal(f"ratios.{insurance}.{level}")

    def contribution_adjustment(self, contribution: str) -> Decimal:
        return self.decimal(f"contribution.{contribution}")

    @property
    def deductible(self) -> Decimal:
        return self.decimal("deductible")

    @property
    def secondary_factor(self) -> Decimal:
        return self.decimal("secondary_factor")

    @property
    def max_period(self) -> str:
        return str(self.get("prescription.max_period"))

    @property
    def payment_standard_source(self) -> str:
        return str(self.get("payment_standard"))

    def paid_ratio(self, ratio: Decimal) -> Decimal:
        """The ratio a disease is actually paid at: never below the policy's floor, whatever the
        secondary-disease factor or contribution adjustment made of it (云医保〔2021〕45号 (三))."""
        if self.min_ratio is not None and ratio < self.min_ratio:
            return self.min_ratio
        return ratio

    @property
    def refill_window_days(self) -> int:
        return int(self.get("prescription.refill_window_days"))  # type: ignore[arg-type]

    def entitles_managed_patients(self) -> bool:
        return self.entitlement == "approved_filing_or_managed"


KNOWN_DISEASES = tuple(DISEASES)

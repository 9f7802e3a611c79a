"""Figures a report needs that this system does not hold (参保人数 of the area, the 濉溪 KPI's
complaint counts, …): the caller gives them, they are checked here, and a report shows a missing one
as 待录入 — never a guess."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation


def count_input(value: object, label: str) -> int:
    """A whole number ≥ 0 (given as int or text)."""
    text = str(value).strip()
    if isinstance(value, bool) or isinstance(value, float) or not text.isdigit():
        raise ValueError(f"{label}应为不小于 0 的整数：{value!r}")
    return int(text)


def rate_input(value: object, label: str) -> Decimal:
    """A rate as a fraction 0–1 ("0.92"), or a percentage ("92%")."""
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError(f"{label}请写成“0.92”或“92%”：{value!r}")
    text = str(value).strip()
    try:
        rate = Decimal(text[:-1]) / 100 if text.endswith("%") else Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{label}不是有效的比率：{value!r}（如 0.92 或 92%）") from None
    if not rate.is_finite() or not Decimal(0) <= rate <= Decimal(1):
        raise ValueError(f"{label}应在 0 到 1 之间（如 0.92 或 92%）：{value!r}")
    return rate


def unknown_keys(given: Mapping[str, object], known: Mapping[str, str], what: str) -> None:
    extra = [key for key in given if key not in known]
    if extra:
        raise ValueError(f"未知的{what}：{', '.join(extra)}（可选：{' / '.join(known)}）")

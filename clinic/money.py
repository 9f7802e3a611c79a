"""Money is Decimal yuan, rounded half-up to the cent (DESIGN.md: never float)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def cents(value: Decimal) -> Decimal:
    """Round to the cent, half up (0.005 → 0.01)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def to_decimal(value: object, what: str) -> Decimal:
    """Parse a money or quantity value given as a string or int; floats are refused (they lose cents)."""
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError(f"{what} 必须写成字符串形式的十进制数（如 \"0.50\"），不能是浮点数")
    try:
        result = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValueError(f"{what} 不是有效的数字：{value!r}") from None
    if not result.is_finite():
        raise ValueError(f"{what} 不是有效的数字：{value!r}")
    return result


def fmt(value: Decimal) -> str:
    """Two-decimal string for JSON and printing."""
    return f"{cents(value):.2f}"

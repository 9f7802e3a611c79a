"""Money is Decimal yuan, rounded half-up to the cent (DESIGN.md: never float)."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")

# Whatever a person or another program types: plain decimal notation only. Exponents ("1e400") and
# NaN/Infinity are refused rather than parsed, so no later quantize can fail with a bare
# decimal.InvalidOperation, and no 26-digit quantity reaches the arithmetic or a 64-bit column.
MAX_INTEGER_DIGITS = 8              # below 100,000,000: no purchase, stock or payment of a clinic comes near
MONEY_PLACES, QUANTITY_PLACES, PRICE_PLACES = 2, 4, 6
MAX_TEXT = 40                        # characters: a longer "number" is not one a person typed
_PLAIN = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)")
_EXPONENT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)[eE][+-]?[0-9]{1,4}")
_NON_FINITE = re.compile(r"[+-]?(nan|snan|inf|infinity)", re.IGNORECASE)


def cents(value: Decimal) -> Decimal:
    """Round to the cent, half up (0.005 → 0.01)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "…"


def to_decimal(value: object, what: str, *, places: int | None = None,
               max_integer_digits: int = MAX_INTEGER_DIGITS, exponent: bool = False) -> Decimal:
    """Parse a money or quantity value given as a string or int; ValueError with a one-line Chinese
    reason for floats (they lose cents), non-finite values, exponent notation (unless `exponent`:
    data from another program, where "1E+1" is how Decimal writes 10), more than `max_integer_digits`
    digits before the point, or (when `places` is given) more decimals than that once trailing zeros
    are dropped ("28.000" is 28)."""
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"{what} 不是有限的数：{_shown(value)}")
        raise ValueError(f"{what} 必须写成字符串形式的十进制数（如 \"0.50\"），不能是浮点数")
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise ValueError(f"{what} 不是有效的数字：{_shown(value)}")
    if isinstance(value, Decimal):       # from code, not typed: its str() may be "1E+5"
        if not value.is_finite():
            raise ValueError(f"{what} 不是有限的数：{_shown(value)}")
        value = format(value, "f")
    text = str(value).strip()
    if _NON_FINITE.fullmatch(text):
        raise ValueError(f"{what} 不是有限的数：{_shown(value)}")
    if not (_PLAIN.fullmatch(text) or exponent and _EXPONENT.fullmatch(text)):
        raise ValueError(f"{what} 不是有效的数字：{_shown(value)}"
                         f"（请写成普通十进制数，如 \"28\" 或 \"0.50\"，不用科学计数法）")
    if len(text) > MAX_TEXT:
        raise ValueError(f"{what} 位数过多（整数部分最多 {max_integer_digits} 位）：{_shown(value)}")
    result = Decimal(text)
    if result and result.adjusted() >= max_integer_digits:
        raise ValueError(f"{what} 超出合理范围（整数部分最多 {max_integer_digits} 位）：{_shown(value)}")
    if places is not None and _decimals(result) > places:
        raise ValueError(f"{what} 最多 {places} 位小数：{_shown(value)}")
    return result


def _decimals(value: Decimal) -> int:
    """Digits after the point that are not trailing zeros."""
    _, digits, exp = value.as_tuple()
    trailing = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    return max(0, -(exp + trailing))


def fmt(value: Decimal) -> str:
    """Two-decimal string for JSON and printing."""
    return f"{cents(value):.2f}"

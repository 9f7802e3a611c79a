"""Chinese resident ID numbers (居民身份证号码, GB 11643-1999): validation, birth date, sex, check digit.

Every kind of error gets its own Chinese message, because the doctor typing the number needs to know
which part to re-read from the card, not merely that it is "invalid".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

# ISO 7064 MOD 11-2: weight of position i (0-based, left to right) is 2^(17-i) mod 11.
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"       # indexed by (weighted sum mod 11)

# GB/T 2260 province-level codes; 71 台湾, 81 香港, 82 澳门 (residence permits use them too).
PROVINCES = frozenset([11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46,
                       50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82])
EARLIEST_BIRTH = date(1900, 1, 1)


class IdNumberError(ValueError):
    """The text is not a valid ID number; the message says which part is wrong."""


@dataclass(frozen=True)
class IdInfo:
    number: str            # normalised: 18 characters, upper-case X
    birth_date: date
    sex: str               # 男 | 女
    region_code: str       # first 6 digits (address code at issue)


def check_digit(first17: str) -> str:
    """The 18th character for 17 digits."""
    if not re.fullmatch(r"[0-9]{17}", first17):
        raise ValueError("计算校验码需要17位数字")
    return CHECK_CHARS[sum(int(c) * w for c, w in zip(first17, WEIGHTS, strict=True)) % 11]


def normalise(text: str) -> str:
    """Full-width digits and Ｘ (typed with a Chinese IME in full-width mode) become ASCII; x becomes X."""
    return unicodedata.normalize("NFKC", text or "").strip().upper()


def parse_id_number(text: str, *, today: date | None = None) -> IdInfo:
    today = today or date.today()
    number = normalise(text)
    if not number:
        raise IdNumberError("身份证号不能为空")
    if len(number) != 18:
        hint = "（15位旧号码请换用18位新号码）" if len(number) == 15 else ""
        raise IdNumberError(f"身份证号应为18位，当前为{len(number)}位{hint}")
    if not re.fullmatch(r"[0-9]{17}", number[:17]):
        raise IdNumberError("身份证号前17位只能是数字")
    if not re.fullmatch(r"[0-9X]", number[17]):
        raise IdNumberError(f"身份证号第18位只能是数字或 X，录入为 {number[17]}")
    if int(number[:2]) not in PROVINCES:
        raise IdNumberError(f"身份证号前两位 {number[:2]} 不是有效的省份代码")
    birth_text = number[6:14]
    try:
        birth = date(int(birth_text[:4]), int(birth_text[4:6]), int(birth_text[6:]))
    except ValueError:
        raise IdNumberError(f"身份证号中的出生日期 {birth_text} 不存在") from None
    if birth > today:
        raise IdNumberError("身份证号中的出生日期晚于今天")
    if birth < EARLIEST_BIRTH:
        raise IdNumberError(f"身份证号中的出生日期 {birth_text} 早于1900年")
    # Checked last: a typo in the date is reported as a date error, which is easier to act on.
    expected = check_digit(number[:17])
    if number[17] != expected:
        raise IdNumberError(f"身份证号第18位（校验码）应为 {expected}，录入为 {number[17]}，请核对")
    return IdInfo(number=number, birth_date=birth, sex=sex_of(number), region_code=number[:6])


def sex_of(number: str) -> str:
    """GB 11643: the 17th digit (sequence code) is odd for men, even for women."""
    return "男" if int(number[16]) % 2 else "女"


def age_on(birth_date: date, on_date: date) -> int:
    """Full years on a day; someone born 29 February comes of age on 1 March in common years."""
    if on_date < birth_date:
        raise ValueError(f"日期 {on_date} 早于出生日期 {birth_date}")
    had_birthday = (on_date.month, on_date.day) >= (birth_date.month, birth_date.day)
    return on_date.year - birth_date.year - (0 if had_birthday else 1)


def make_id_number(region6: str, birth: date, seq3: int) -> str:
    """A well-formed number with the right check digit (for fictional demo and test patients)."""
    if not re.fullmatch(r"[0-9]{6}", region6):
        raise ValueError(f"地区代码应为6位数字：{region6!r}")
    if not 0 <= seq3 <= 999:
        raise ValueError(f"顺序码应在 0–999 之间：{seq3}")
    first17 = f"{region6}{birth:%Y%m%d}{seq3:03d}"
    return first17 + check_digit(first17)

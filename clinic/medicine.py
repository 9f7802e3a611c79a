"""Which catalogue entries are the same medicine (同一药品): generic name + strength + dosage form.

One medicine is sold under several 医保 codes (manufacturers, package sizes), so 重复配药 (国家“两病”
方案 (十一) 严禁重复配药; 鄂州方案 附件3 注意2 refill window) is judged by medicine, never by code:
30 days of 苯磺酸氨氯地平片 5mg under one code still cover a refill asked for under another.
Strengths are compared in one unit (0.5g = 500mg), and full-width characters and spaces are folded.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import Session

from clinic.db.models import Drug

_STRENGTH = re.compile(r"^(\d+(?:\.\d+)?)(mg|g|μg|ug|mcg)(?![a-z])")
_TO_MG = {"mg": Decimal(1), "g": Decimal(1000), "μg": Decimal("0.001"), "ug": Decimal("0.001"),
          "mcg": Decimal("0.001")}


def _fold(text: str | None) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or "")).lower()


def strength(spec: str | None) -> str:
    """The strength part of a 规格, in mg where it is a mass ("0.5g" → "500mg", "5mg×28片" → "5mg");
    other specifications ("3ml:300单位") are compared as written, folded."""
    folded = _fold(spec).replace("µ", "μ")
    match = _STRENGTH.match(folded)
    if not match:
        return folded
    try:
        mg = Decimal(match.group(1)) * _TO_MG[match.group(2)]
    except InvalidOperation:
        return folded
    return f"{mg.normalize():f}mg"


def medicine_key(generic_name: str | None, spec: str | None, form: str | None) -> str:
    return "|".join((_fold(generic_name), strength(spec), _fold(form)))


def key_of(drug: Drug) -> str:
    return medicine_key(drug.generic_name, drug.spec, drug.form)


def same_medicine_codes(session: Session, drug: Drug) -> set[str]:
    """Every catalogue code that is the same medicine as `drug` (itself included)."""
    key = key_of(drug)
    # Names may be stored with other spacing: LIKE with a wildcard between the characters finds those
    # candidates in SQL (a few rows), and the keys decide.
    pattern = "%".join(ch for ch in _fold(drug.generic_name) if ch not in "%_\\")
    candidates = session.execute(select(Drug.code, Drug.generic_name, Drug.spec, Drug.form).where(
        (Drug.generic_name == drug.generic_name) | Drug.generic_name.ilike(pattern))).all()
    return {drug.code} | {c.code for c in candidates if medicine_key(c.generic_name, c.spec, c.form) == key}


def keys_by_code(session: Session, codes: set[str]) -> dict[str, str]:
    """The medicine key of each code this catalogue knows."""
    codes_list, found = list(codes), {}
    for start in range(0, len(codes_list), 500):
        for row in session.execute(select(Drug.code, Drug.generic_name, Drug.spec, Drug.form)
                                   .where(Drug.code.in_(codes_list[start:start + 500]))):
            found[row.code] = medicine_key(row.generic_name, row.spec, row.form)
    return found

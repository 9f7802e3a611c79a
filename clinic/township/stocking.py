"""Each village's stock of 两病 drugs, from the stock lots and movements it sent.

- On hand: unexpired lots plus any unsettled dispensing beyond stock (negative), as clinic/stock.py
  counts it for the clinic itself.
- Low stock: a 两病 drug the village has stocked that is out (on hand ≤ 0), or whose stock lasts fewer
  days than the administrator's 库存预警天数 at its average use over the last USE_DAYS days. No
  document gives that number of days, so until it is set only drugs that are out are shown.
- 备药率 (鄂州 seeds/000 二(四)12: 一级及以下基层医疗机构慢性病常用药备药率应达到上级医疗机构的70%以上):
  of the 两病 drug varieties (通用名) the township's upper-level institution has in stock, the share
  the village has in stock too, against the minimum in the 统筹区's township rules file. A township
  whose upper-level institution is not set gets no rate, and says so.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from clinic.db.models import Dispense, DispenseLine, Drug, StockLot, StockMovement
from clinic.township.area import Village
from clinic.township.rules import stocking_rule
from clinic.vocab import CLASS_DISEASE

USE_DAYS = 90           # the window the average daily use is taken over
ZERO = Decimal(0)


@dataclass(frozen=True)
class StockLevel:
    institution_code: str
    drug_code: str
    name: str                  # 通用名 规格
    on_hand: Decimal
    daily_use: Decimal         # average over the last USE_DAYS days
    days_left: Decimal | None  # None when nothing was used


def stock_levels(session: Session, on: date, codes: list[str]) -> list[StockLevel]:
    """Every 两病 drug each of these institutions has ever had a lot of."""
    two_disease = select(Drug.code).where(Drug.drug_class.in_(list(CLASS_DISEASE)))
    held: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    for code, drug, expiry, qty in session.execute(
            select(StockLot.institution_code, StockLot.drug_code, StockLot.expiry, StockLot.on_hand)
            .where(StockLot.deleted_at.is_(None), StockLot.institution_code.in_(codes),
                   StockLot.drug_code.in_(two_disease))):
        held[(code, drug)] += qty if expiry >= on else ZERO
    # Quantities are stored as exact decimal text, so they are added here, not by SQL SUM.
    for code, drug, qty in session.execute(
            select(StockMovement.institution_code, StockMovement.drug_code, StockMovement.quantity)
            .where(StockMovement.lot_id.is_(None), StockMovement.deleted_at.is_(None),
                   StockMovement.institution_code.in_(codes), StockMovement.drug_code.in_(two_disease))):
        if (code, drug) in held:
            held[(code, drug)] += qty
    used: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    for code, drug, qty in session.execute(
            select(Dispense.institution_code, DispenseLine.drug_code, DispenseLine.quantity)
            .join(Dispense, Dispense.id == DispenseLine.dispense_id)
            .where(Dispense.deleted_at.is_(None), Dispense.institution_code.in_(codes),
                   Dispense.dispensed_on > on - timedelta(days=USE_DAYS), Dispense.dispensed_on <= on)):
        if (code, drug) in held:
            used[(code, drug)] += qty
    names = {code: f"{name} {spec}" for code, name, spec in session.execute(
        select(Drug.code, Drug.generic_name, Drug.spec).where(Drug.code.in_({d for _, d in held})))}
    levels = []
    for (code, drug), qty in sorted(held.items()):
        daily = used[(code, drug)] / USE_DAYS
        days = (qty / daily).quantize(Decimal("0.1"), ROUND_HALF_UP) if daily > 0 else None
        levels.append(StockLevel(code, drug, names.get(drug, drug), qty, daily, days))
    return levels


def low_stock(levels: list[StockLevel], low_days: int | None) -> list[StockLevel]:
    def low(level: StockLevel) -> bool:
        if level.on_hand <= 0:
            return True
        return low_days is not None and level.days_left is not None and level.days_left < low_days
    return [level for level in levels if low(level)]


@dataclass(frozen=True)
class StockingRate:
    village: Village
    reference_code: str | None       # the upper-level institution compared with
    reference: tuple[str, ...]       # its in-stock 两病 varieties (通用名)
    missing: tuple[str, ...]         # of those, the ones the village lacks
    ratio: Decimal | None            # None when it cannot be computed (see note)
    minimum: Decimal | None          # from the 统筹区's rules file; None when its documents set none
    note: str

    @property
    def below(self) -> bool:
        return self.ratio is not None and self.minimum is not None and self.ratio < self.minimum


def _in_stock_varieties(session: Session, on: date, codes: list[str]) -> dict[str, set[str]]:
    names = dict(session.execute(select(Drug.code, Drug.generic_name)).all())
    found: dict[str, set[str]] = defaultdict(set)
    for level in stock_levels(session, on, codes):
        if level.on_hand > 0:
            found[level.institution_code].add(names.get(level.drug_code, level.drug_code))
    return found


def stocking_rates(session: Session, on: date, villages: list[Village], upper: dict[str, str]) -> list[StockingRate]:
    """备药率 of each village against its township's upper-level institution (`upper`: township → code)."""
    references = sorted(set(upper.values()))
    stocked = _in_stock_varieties(session, on, [v.code for v in villages] + references)
    rates = []
    for v in villages:
        rule = stocking_rule(v.region, on)
        minimum = rule.min_ratio if rule else None
        ref_code = upper.get(v.township)
        if ref_code is None:
            rates.append(StockingRate(v, None, (), (), None, minimum, "未设置本乡镇的上级医疗机构"))
            continue
        if ref_code == v.code:
            continue                      # the upper-level institution itself
        reference = tuple(sorted(stocked.get(ref_code, ())))
        if not reference:
            rates.append(StockingRate(v, ref_code, (), (), None, minimum, "上级医疗机构没有在库的“两病”药品记录"))
            continue
        missing = tuple(name for name in reference if name not in stocked.get(v.code, ()))
        ratio = Decimal(len(reference) - len(missing)) / Decimal(len(reference))
        note = "" if rule else "本统筹区政策未规定备药率标准"
        rates.append(StockingRate(v, ref_code, reference, missing, ratio, minimum, note))
    return rates

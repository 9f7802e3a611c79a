"""What the 药品库存 (进销存) page runs in the worker: the catalogue with stock on hand and warnings,
a drug's lots and movements, and the stock operations of clinic/stock.py and clinic/catalogue.py.
Plain data out, so no ORM object reaches the GUI thread. No Qt here.

The two warning thresholds (low stock, near expiry) are the clinic's own choice, not policy figures:
Setting rows an administrator or pharmacist changes on the page, with the product defaults below.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy import or_, select

from clinic.catalogue import ImportReport, import_catalogue
from clinic.db.engine import Database
from clinic.db.models import Drug, Setting, StockLot, StockMovement
from clinic.money import to_decimal
from clinic.permissions import require
from clinic.stock import KINDS, StockError, count_correction, on_hand_by_drug, receive, record_loss
from clinic.vocab import DRUG_CLASSES
from desktop.gui.context import UserInfo

LOW_KEY, EXPIRY_KEY = "stock.low_minimum", "stock.expiry_warning_days"
DEFAULT_LOW = Decimal(30)          # units (片/粒/支): about a month for one patient on one tablet a day
DEFAULT_EXPIRY_DAYS = 90           # clinic.stock.near_expiry's default: a quarter to use or return a lot


@dataclass(frozen=True)
class Thresholds:
    low_minimum: Decimal
    expiry_days: int


@dataclass(frozen=True)
class DrugRow:
    code: str
    name: str
    spec: str
    unit: str
    drug_class: str             # in Chinese
    category: str
    retail_price: Decimal
    sample_price: bool
    on_hand: Decimal
    lots: int
    first_expiry: date | None   # earliest expiry among lots with stock
    stocked: bool               # the clinic has received it at least once
    low: bool
    near_expiry: bool
    expired_stock: bool         # a lot with stock is past its expiry

    @property
    def warning(self) -> str:
        words = []
        if self.expired_stock:
            words.append("有过期批号")
        elif self.near_expiry:
            words.append("近效期")
        if self.low:
            words.append("库存不足" if self.on_hand > 0 else "无库存")
        return "、".join(words)


@dataclass(frozen=True)
class LotRow:
    id: str
    lot_no: str
    expiry: date
    on_hand: Decimal
    cost_price: Decimal | None
    supplier: str
    received_on: date
    expired: bool
    near_expiry: bool


@dataclass(frozen=True)
class MovementRow:
    moved_on: date
    kind: str                   # in Chinese
    lot_no: str
    quantity: Decimal
    reason: str


def thresholds(db: Database) -> Thresholds:
    with db.session() as s:
        return _thresholds(s)


def _thresholds(s) -> Thresholds:
    values = dict(s.execute(select(Setting.key, Setting.value).where(Setting.key.in_((LOW_KEY, EXPIRY_KEY)))).all())
    return Thresholds(Decimal(values.get(LOW_KEY, DEFAULT_LOW)), int(values.get(EXPIRY_KEY, DEFAULT_EXPIRY_DAYS)))


def save_thresholds(db: Database, user: UserInfo, low_minimum: object, expiry_days: object) -> Thresholds:
    require(user.role, "stock.edit")
    low = to_decimal(low_minimum, "库存下限")
    if low < 0:
        raise StockError("库存下限不能为负数")
    try:
        days = int(str(expiry_days))
    except ValueError:
        raise StockError(f"近效期提醒天数应为整数：{expiry_days}") from None
    if not 0 <= days <= 730:
        raise StockError(f"近效期提醒天数应在 0 到 730 之间：{days}")
    with db.session(user.username) as s:
        for key, value in ((LOW_KEY, str(low)), (EXPIRY_KEY, str(days))):
            row = s.get(Setting, key)
            if row is None:
                s.add(Setting(key=key, value=value))
            else:
                row.value = value
        return _thresholds(s)


def catalogue(db: Database, today: date, text: str = "", only_stocked: bool = False,
              only_warnings: bool = False) -> tuple[list[DrugRow], Thresholds]:
    """Active drugs, filtered by name / pinyin initials / code, with their stock and warnings;
    warned drugs first, then by pinyin."""
    with db.session() as s:
        limits = _thresholds(s)
        stmt = select(Drug).where(Drug.active)
        text = text.strip()
        if text:
            stmt = stmt.where(or_(Drug.generic_name.contains(text, autoescape=True),
                                  Drug.pinyin_initials.contains(text.lower(), autoescape=True),
                                  Drug.code.startswith(text.upper(), autoescape=True)))
        drugs = s.scalars(stmt).all()
        codes = [d.code for d in drugs]
        levels = on_hand_by_drug(s, codes)
        lots: dict[str, list[StockLot]] = {}
        for lot in s.scalars(select(StockLot).where(StockLot.drug_code.in_(codes), StockLot.deleted_at.is_(None))):
            lots.setdefault(lot.drug_code, []).append(lot)
        soon = date.fromordinal(today.toordinal() + limits.expiry_days)
        rows = []
        for d in drugs:
            held = [lot for lot in lots.get(d.code, []) if lot.on_hand > 0]
            first = min((lot.expiry for lot in held), default=None)
            stocked = d.code in lots
            row = DrugRow(d.code, d.generic_name, d.spec, d.unit, DRUG_CLASSES.get(d.drug_class, d.drug_class),
                          d.category or "", d.retail_price, d.sample_price, levels[d.code], len(held), first,
                          stocked, stocked and levels[d.code] < limits.low_minimum,
                          first is not None and first <= soon, first is not None and first < today)
            if only_stocked and not stocked or only_warnings and not row.warning:
                continue
            rows.append(row)
        pinyin = {d.code: d.pinyin_initials for d in drugs}
        rows.sort(key=lambda r: (not r.warning, not r.stocked, pinyin[r.code], r.name, r.code))
        return rows, limits


def lots_of(db: Database, drug_code: str, today: date) -> tuple[list[LotRow], list[MovementRow]]:
    """A drug's lots (with stock first, by expiry) and its latest movements."""
    with db.session() as s:
        limits = _thresholds(s)
        soon = date.fromordinal(today.toordinal() + limits.expiry_days)
        lots = s.scalars(select(StockLot).where(StockLot.drug_code == drug_code, StockLot.deleted_at.is_(None))).all()
        lot_rows = sorted((LotRow(lot.id, lot.lot_no, lot.expiry, lot.on_hand, lot.cost_price, lot.supplier or "",
                                  lot.received_on, lot.expiry < today, lot.expiry <= soon) for lot in lots),
                          key=lambda r: (r.on_hand <= 0, r.expiry, r.lot_no))
        numbers = {lot.id: lot.lot_no for lot in lots}
        moves = s.scalars(select(StockMovement).where(StockMovement.drug_code == drug_code)
                          .order_by(StockMovement.moved_on.desc(), StockMovement.created_at.desc()).limit(200)).all()
        move_rows = [MovementRow(m.moved_on, KINDS.get(m.kind, m.kind), numbers.get(m.lot_id, "（超库存）"),
                                 m.quantity, m.reason or "") for m in moves]
        return lot_rows, move_rows


def drug_names(db: Database) -> list[tuple[str, str]]:
    """(code, "通用名 规格 单位") of every active drug, for the receive dialog's picker."""
    with db.session() as s:
        rows = s.execute(select(Drug.code, Drug.generic_name, Drug.spec, Drug.unit).where(Drug.active)
                         .order_by(Drug.pinyin_initials, Drug.generic_name)).all()
    return [(code, f"{name} {spec}（{unit}）") for code, name, spec, unit in rows]


def receive_stock(db: Database, user: UserInfo, drug_code: str, lot_no: str, expiry: date, quantity: object,
                  on: date, cost_price: object = None, supplier: str | None = None) -> Decimal:
    """入库; returns the drug's on-hand afterwards."""
    require(user.role, "stock.edit")
    cost = None
    if cost_price not in (None, ""):
        try:
            cost = to_decimal(cost_price, "进价")
        except ValueError as exc:
            raise StockError(str(exc)) from None
    with db.session(user.username) as s:
        receive(s, drug_code, lot_no, expiry, quantity, on, cost, (supplier or "").strip() or None)
        return on_hand_by_drug(s, [drug_code])[drug_code]


def correct_count(db: Database, user: UserInfo, lot_id: str, counted: object, on: date, reason: str) -> Decimal:
    """盘点: the lot now holds `counted`; returns the change booked."""
    require(user.role, "stock.edit")
    with db.session(user.username) as s:
        return count_correction(s, lot_id, counted, on, reason).quantity


def report_loss(db: Database, user: UserInfo, lot_id: str, quantity: object, on: date, reason: str) -> Decimal:
    require(user.role, "stock.edit")
    with db.session(user.username) as s:
        return record_loss(s, lot_id, quantity, on, reason).quantity


def import_drug_list(db: Database, user: UserInfo, path: Path) -> ImportReport:
    """Import the provincial list; valid rows are written in one transaction, bad rows listed."""
    require(user.role, "stock.edit")
    with db.session(user.username) as s:
        return import_catalogue(s, path)

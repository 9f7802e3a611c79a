"""Stock (进销存) by lot and expiry. Every change is a new StockMovement (the ledger is append-only);
StockLot.on_hand is kept equal to the sum of its lot's movements.

Dispensing beyond stock with a stated reason records the shortfall as a movement without a lot, so the
drug's on-hand goes visibly negative. The next receipt of that drug settles the shortfall against the
new lot (the drugs handed out were evidently on the shelf but not yet booked in).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from clinic.db.models import Drug, StockLot, StockMovement
from clinic.money import to_decimal

KINDS = {"purchase": "入库", "dispense": "配药出库", "return": "退药入库", "loss": "报损",
         "count": "盘点调整", "settle": "冲抵超库存配药"}
ZERO = Decimal(0)


class StockError(ValueError):
    """A stock operation that cannot be done; the message says why in Chinese."""


class StockShortage(StockError):
    def __init__(self, drug: Drug, needed: Decimal, available: Decimal):
        self.needed, self.available = needed, available
        super().__init__(f"{drug.generic_name}（{drug.spec}）库存不足：需要 {needed}{drug.unit}，"
                         f"可用 {available}{drug.unit}（已过期批号不计）。如确需配药，请填写超库存配药原因")


def _quantity(value: object, what: str, *, allow_zero: bool = False) -> Decimal:
    try:
        result = to_decimal(value, what)
    except ValueError as exc:
        raise StockError(str(exc)) from None
    if result < 0 or (result == 0 and not allow_zero):
        raise StockError(f"{what}必须{'不小于' if allow_zero else '大于'} 0：{result}")
    return result


def _reason(reason: str | None, what: str) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise StockError(f"{what}必须填写原因")
    return reason.strip()


def _drug(session: Session, code: str) -> Drug:
    drug = session.get(Drug, code)
    if drug is None:
        raise StockError(f"药品目录中没有编码为 {code} 的药品")
    return drug


def _lot(session: Session, lot_id: str) -> StockLot:
    lot = session.get(StockLot, lot_id)
    if lot is None or lot.deleted_at is not None:
        raise StockError(f"找不到库存批次 {lot_id}")
    return lot


def _move(session: Session, lot: StockLot | None, drug_code: str, kind: str, quantity: Decimal, on: date,
          reason: str | None = None, dispense_id: str | None = None) -> StockMovement:
    if lot is not None:
        lot.on_hand = lot.on_hand + quantity
    movement = StockMovement(lot_id=lot.id if lot else None, drug_code=drug_code, kind=kind, quantity=quantity,
                             moved_on=on, reason=reason, dispense_id=dispense_id)
    session.add(movement)
    session.flush()     # later queries in the same operation must see this movement
    return movement


def _lots(session: Session, drug_code: str) -> list[StockLot]:
    return list(session.scalars(select(StockLot).where(StockLot.drug_code == drug_code,
                                                       StockLot.deleted_at.is_(None))))


def _outstanding_shortfalls(session: Session, drug_code: str) -> dict[str | None, Decimal]:
    """Dispense id → quantity handed out beyond stock and not yet settled against a lot (oldest first)."""
    rows = session.scalars(select(StockMovement).where(StockMovement.drug_code == drug_code,
                                                       StockMovement.lot_id.is_(None))
                           .order_by(StockMovement.moved_on, StockMovement.created_at)).all()
    owed: dict[str | None, Decimal] = {}
    for row in rows:
        owed[row.dispense_id] = owed.get(row.dispense_id, ZERO) - row.quantity
    return {key: value for key, value in owed.items() if value > 0}


def receive(session: Session, drug_code: str, lot_no: str, expiry: date, quantity: object, on: date,
            cost_price: Decimal | None = None, supplier: str | None = None) -> StockLot:
    """Book a purchase in; a second delivery of the same lot adds to it."""
    drug = _drug(session, drug_code)
    quantity = _quantity(quantity, "入库数量")
    lot_no = (lot_no or "").strip()
    if not lot_no:
        raise StockError("入库必须填写批号")
    if expiry < on:
        raise StockError(f"批号 {lot_no} 已于 {expiry} 过期，不能入库")
    if cost_price is not None:
        cost_price = _quantity(cost_price, "进价", allow_zero=True)
    lot = session.scalar(select(StockLot).where(StockLot.drug_code == drug_code, StockLot.lot_no == lot_no,
                                                StockLot.deleted_at.is_(None)))
    if lot is None:
        lot = StockLot(drug_code=drug_code, lot_no=lot_no, expiry=expiry, on_hand=ZERO, cost_price=cost_price,
                       supplier=supplier, received_on=on)
        session.add(lot)
        session.flush()
    elif lot.expiry != expiry:
        raise StockError(f"{drug.generic_name} 批号 {lot_no} 已登记有效期 {lot.expiry}，与本次 {expiry} 不一致")
    _move(session, lot, drug_code, "purchase", quantity, on, f"供货单位：{supplier}" if supplier else None)
    for dispense_id, owed in _outstanding_shortfalls(session, drug_code).items():
        settle = min(owed, lot.on_hand)
        if settle <= 0:
            break
        reason = KINDS["settle"]
        _move(session, None, drug_code, "settle", settle, on, reason, dispense_id)
        _move(session, lot, drug_code, "settle", -settle, on, reason, dispense_id)
    return lot


def available_lots(session: Session, drug_code: str, on: date) -> list[StockLot]:
    """Lots that can be dispensed on `on`, first-expiring first."""
    lots = [lot for lot in _lots(session, drug_code) if lot.on_hand > 0 and lot.expiry >= on]
    return sorted(lots, key=lambda lot: (lot.expiry, lot.received_on, lot.lot_no))


def take_for_dispense(session: Session, drug_code: str, quantity: object, on: date, dispense_id: str,
                      override_reason: str | None = None) -> list[StockMovement]:
    """Take stock for one dispense line, first-expiring lot first; expired lots are never used."""
    drug = _drug(session, drug_code)
    needed = _quantity(quantity, "配药数量")
    lots = available_lots(session, drug_code, on)
    available = sum((lot.on_hand for lot in lots), ZERO)
    override = override_reason.strip() if isinstance(override_reason, str) else ""
    if available < needed and not override:
        raise StockShortage(drug, needed, available)
    movements, remaining = [], needed
    for lot in lots:
        take = min(lot.on_hand, remaining)
        movements.append(_move(session, lot, drug_code, "dispense", -take, on, None, dispense_id))
        remaining -= take
        if remaining == 0:
            break
    if remaining > 0:
        # The reason as the pharmacist gave it; the shortfall is the movement's quantity.
        movements.append(_move(session, None, drug_code, "dispense", -remaining, on, override, dispense_id))
    return movements


def return_to_stock(session: Session, dispense_id: str, on: date, reason: str) -> list[StockMovement]:
    """Refund: put back, lot by lot, what a dispense still has out (so a second call finds nothing)."""
    reason = _reason(reason, "退药")
    rows = session.scalars(select(StockMovement).where(StockMovement.dispense_id == dispense_id)
                           .order_by(StockMovement.created_at)).all()
    out: dict[tuple[str | None, str], Decimal] = defaultdict(lambda: ZERO)
    for row in rows:
        out[(row.lot_id, row.drug_code)] += row.quantity
    if not any(net < 0 for net in out.values()):
        raise StockError("该配药记录没有可退回的库存（未出库或已退回）")
    return [_move(session, _lot(session, lot_id) if lot_id else None, drug_code, "return", -net, on, reason,
                  dispense_id)
            for (lot_id, drug_code), net in out.items() if net < 0]


def record_loss(session: Session, lot_id: str, quantity: object, on: date, reason: str) -> StockMovement:
    """报损 (broken, expired, spoiled)."""
    lot = _lot(session, lot_id)
    quantity = _quantity(quantity, "报损数量")
    reason = _reason(reason, "报损")
    if quantity > lot.on_hand:
        raise StockError(f"批号 {lot.lot_no} 只有 {lot.on_hand}，不能报损 {quantity}")
    return _move(session, lot, lot.drug_code, "loss", -quantity, on, reason)


def count_correction(session: Session, lot_id: str, counted: object, on: date, reason: str) -> StockMovement:
    """盘点: the movement is counted − on hand; recorded even when zero, as the record of the count."""
    lot = _lot(session, lot_id)
    counted = _quantity(counted, "盘点数量", allow_zero=True)
    reason = _reason(reason, "盘点调整")
    return _move(session, lot, lot.drug_code, "count", counted - lot.on_hand, on, reason)


def on_hand_by_drug(session: Session, drug_codes: Iterable[str], on: date | None = None) -> dict[str, Decimal]:
    """Drug code → on hand: its lots plus any unsettled shortfall (negative). With `on`, expired lots
    are left out (what can actually be dispensed that day)."""
    codes = list(drug_codes)
    result = dict.fromkeys(codes, ZERO)
    for lot in session.scalars(select(StockLot).where(StockLot.drug_code.in_(codes),
                                                      StockLot.deleted_at.is_(None))):
        if on is None or lot.expiry >= on:
            result[lot.drug_code] += lot.on_hand
    for move in session.scalars(select(StockMovement).where(StockMovement.drug_code.in_(codes),
                                                            StockMovement.lot_id.is_(None))):
        result[move.drug_code] += move.quantity
    return result


def on_hand(session: Session, drug_code: str) -> Decimal:
    return on_hand_by_drug(session, [drug_code])[drug_code]


def low_stock(session: Session, minimum: object) -> list[tuple[Drug, Decimal]]:
    """Drugs the clinic stocks (it has received them at least once) whose on-hand is below `minimum`."""
    minimum = _quantity(minimum, "库存下限", allow_zero=True)
    codes = set(session.scalars(select(StockLot.drug_code).where(StockLot.deleted_at.is_(None))))
    levels = on_hand_by_drug(session, codes)
    drugs = {d.code: d for d in session.scalars(select(Drug).where(Drug.code.in_(codes), Drug.active))}
    low = [(drugs[code], qty) for code, qty in levels.items() if code in drugs and qty < minimum]
    return sorted(low, key=lambda item: (item[1], item[0].pinyin_initials, item[0].code))


def near_expiry(session: Session, on: date, within_days: int = 90) -> list[StockLot]:
    """Lots with stock that expire within `within_days` of `on`, including lots already expired."""
    limit = on + timedelta(days=within_days)
    lots = session.scalars(select(StockLot).where(StockLot.expiry <= limit, StockLot.deleted_at.is_(None))
                           .order_by(StockLot.expiry, StockLot.lot_no)).all()
    return [lot for lot in lots if lot.on_hand > 0]

"""Drug catalogue, stock (进销存), dispensing (配药) and settlement (结算)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clinic.db.models.base import Base, Synced
from clinic.db.models.people import PatientRef
from clinic.db.types import DecimalText, Money, new_uuid


class Drug(Base):
    """One catalogue entry; prices are per smallest unit (片/粒/支)."""

    __tablename__ = "drug"
    code: Mapped[str] = mapped_column(String(40), primary_key=True)   # 医保药品编码
    generic_name: Mapped[str] = mapped_column(String(100), index=True)
    spec: Mapped[str] = mapped_column(String(60))                  # 规格
    form: Mapped[str] = mapped_column(String(30))                  # 剂型
    unit: Mapped[str] = mapped_column(String(10))                  # 最小单位
    package: Mapped[str | None] = mapped_column(String(40))        # 包装
    manufacturer: Mapped[str | None] = mapped_column(String(100))
    drug_class: Mapped[str] = mapped_column(String(20))            # antihypertensive | antidiabetic | other
    category: Mapped[str | None] = mapped_column(String(2))        # 甲 | 乙
    essential: Mapped[bool] = mapped_column(Boolean, default=False)      # 国家基本药物
    consistency: Mapped[bool] = mapped_column(Boolean, default=False)    # 通过一致性评价
    vbp: Mapped[bool] = mapped_column(Boolean, default=False)            # 集采中选
    # Unit prices keep every digit the price list gives (集采 prices such as 0.0658 元/片): the cent
    # rounding happens on line totals, never on unit prices.
    vbp_price: Mapped[Decimal | None] = mapped_column(DecimalText)   # 中选价 = payment standard
    platform_price: Mapped[Decimal | None] = mapped_column(DecimalText)  # 省平台实际采购价
    retail_price: Mapped[Decimal] = mapped_column(DecimalText)       # the clinic's selling price per unit
    sample_price: Mapped[bool] = mapped_column(Boolean, default=False)   # price is a sample, not real
    pinyin_initials: Mapped[str] = mapped_column(String(60), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class StockLot(Synced, Base):
    __tablename__ = "stock_lot"
    drug_code: Mapped[str] = mapped_column(ForeignKey("drug.code"), index=True)
    lot_no: Mapped[str] = mapped_column(String(40))
    expiry: Mapped[date] = mapped_column(Date)
    on_hand: Mapped[Decimal] = mapped_column(DecimalText)
    cost_price: Mapped[Decimal | None] = mapped_column(DecimalText)
    supplier: Mapped[str | None] = mapped_column(String(100))
    received_on: Mapped[date] = mapped_column(Date)


class StockMovement(Synced, Base):
    """Append-only ledger: purchase, dispense, return, loss, count (correction). Quantity is signed."""

    __tablename__ = "stock_movement"
    lot_id: Mapped[str | None] = mapped_column(ForeignKey("stock_lot.id"), index=True)
    drug_code: Mapped[str] = mapped_column(ForeignKey("drug.code"), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    quantity: Mapped[Decimal] = mapped_column(DecimalText)
    moved_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(Text)
    dispense_id: Mapped[str | None] = mapped_column(ForeignKey("dispense.id"))


class Dispense(PatientRef, Synced, Base):
    """One purchase (配药): append-only; a refund is a new settlement that reverses the old one."""

    __tablename__ = "dispense"
    prescription_id: Mapped[str | None] = mapped_column(ForeignKey("prescription.id"), index=True)
    dispensed_on: Mapped[date] = mapped_column(Date, index=True)
    dispenser_name: Mapped[str] = mapped_column(String(40))
    override_reason: Mapped[str | None] = mapped_column(Text)     # dispensing beyond stock
    lines: Mapped[list[DispenseLine]] = relationship(
        back_populates="dispense", cascade="all, delete-orphan", order_by="DispenseLine.position")

    # The morning lists read a date range of dispenses from this index alone (migration 0005).
    __table_args__ = (Index("ix_dispense_day_patient", "dispensed_on", "patient_id", "deleted_at", "id",
                            "created_at"),)


class DispenseLine(Base):
    __tablename__ = "dispense_line"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    dispense_id: Mapped[str] = mapped_column(ForeignKey("dispense.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    drug_code: Mapped[str] = mapped_column(ForeignKey("drug.code"), index=True)
    drug_name: Mapped[str] = mapped_column(String(100))
    spec: Mapped[str] = mapped_column(String(60))
    disease: Mapped[str] = mapped_column(String(20))
    quantity: Mapped[Decimal] = mapped_column(DecimalText)
    daily_dose: Mapped[Decimal] = mapped_column(DecimalText)     # units a day, to know when supply runs out
    unit_price: Mapped[Decimal] = mapped_column(DecimalText)
    payment_standard: Mapped[Decimal | None] = mapped_column(DecimalText)
    in_scope: Mapped[bool] = mapped_column(Boolean, default=True)
    line_total: Mapped[Decimal] = mapped_column(Money)
    policy_range: Mapped[Decimal] = mapped_column(Money)
    over_standard: Mapped[Decimal] = mapped_column(Money)
    dispense: Mapped[Dispense] = relationship(back_populates="lines")

    # What each line supplies, read from this index alone by the morning lists (migration 0005).
    __table_args__ = (Index("ix_dispense_line_supply", "dispense_id", "drug_code", "quantity", "daily_dose"),)


class Settlement(PatientRef, Synced, Base):
    """结算: one per purchase; amounts as the engine computed them. A refund has negative amounts
    and `reverses_id` pointing at the settlement it cancels."""

    __tablename__ = "settlement"
    dispense_id: Mapped[str] = mapped_column(ForeignKey("dispense.id"), index=True)
    settled_on: Mapped[date] = mapped_column(Date, index=True)
    # The calendar year whose caps and deductible this entry counts against (clinic/ledger.py): the
    # purchase's year; a refund keeps the year of the purchase it reverses.
    accounting_year: Mapped[int] = mapped_column(Integer)
    receipt_no: Mapped[str] = mapped_column(String(40), unique=True)
    policy_id: Mapped[str] = mapped_column(String(60))
    insurance: Mapped[str] = mapped_column(String(30))
    contribution: Mapped[str | None] = mapped_column(String(12))
    institution_level: Mapped[str] = mapped_column(String(10))
    prescriber_level: Mapped[str | None] = mapped_column(String(10))
    total: Mapped[Decimal] = mapped_column(Money)
    out_of_scope: Mapped[Decimal] = mapped_column(Money)
    over_standard: Mapped[Decimal] = mapped_column(Money)
    policy_range: Mapped[Decimal] = mapped_column(Money)
    deductible: Mapped[Decimal] = mapped_column(Money)
    fund_pay: Mapped[Decimal] = mapped_column(Money)
    over_cap: Mapped[Decimal] = mapped_column(Money)
    self_pay: Mapped[Decimal] = mapped_column(Money)
    major_illness_eligible: Mapped[Decimal] = mapped_column(Money)
    state: Mapped[str] = mapped_column(String(16), default="settled_offline")
    reverses_id: Mapped[str | None] = mapped_column(ForeignKey("settlement.id"), unique=True)
    refund_reason: Mapped[str | None] = mapped_column(Text)
    review_note: Mapped[str | None] = mapped_column(Text)          # 医保经办's note when adjusted / rejected
    operator_name: Mapped[str] = mapped_column(String(40))
    # The administrator's local policy settings the clinic settled with (canonical JSON), so the
    # township re-adjudicates with the same figures and never with a built-in default.
    policy_settings: Mapped[str | None] = mapped_column(Text)
    diseases: Mapped[list[SettlementDisease]] = relationship(
        back_populates="settlement", cascade="all, delete-orphan", order_by="SettlementDisease.position")

    # 结算待上传 on the home screen and the unsent count: settlements by state (migration 0005).
    __table_args__ = (Index("ix_settlement_state", "state", "settled_on"),
                      Index("ix_settlement_patient_year", "patient_id", "accounting_year"))


class SettlementDisease(Base):
    __tablename__ = "settlement_disease"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    settlement_id: Mapped[str] = mapped_column(ForeignKey("settlement.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    disease: Mapped[str] = mapped_column(String(20))
    tier: Mapped[str] = mapped_column(String(10))
    is_primary: Mapped[bool] = mapped_column(Boolean)
    policy_range: Mapped[Decimal] = mapped_column(Money)
    deductible: Mapped[Decimal] = mapped_column(Money)
    ratio: Mapped[Decimal] = mapped_column(DecimalText)
    fund_pay: Mapped[Decimal] = mapped_column(Money)
    over_cap: Mapped[Decimal] = mapped_column(Money)
    cap: Mapped[Decimal] = mapped_column(Money)
    cap_remaining: Mapped[Decimal] = mapped_column(Money)
    settlement: Mapped[Settlement] = relationship(back_populates="diseases")


class OpeningBalance(PatientRef, Synced, Base):
    """期初余额: a patient's fund use and deductible in a year before this clinic started using the
    product, as its previous system reports them (imported by an administrator, clinic/opening_balances.py).
    One live row per patient, year and disease; a re-import changes it (audited)."""

    __tablename__ = "opening_balance"
    year: Mapped[int] = mapped_column(Integer)
    disease: Mapped[str] = mapped_column(String(20))
    fund_paid: Mapped[Decimal] = mapped_column(Money)
    deductible_paid: Mapped[Decimal] = mapped_column(Money)
    source: Mapped[str] = mapped_column(String(200))           # the file it came from
    entered_by: Mapped[str] = mapped_column(String(40))

    __table_args__ = (Index("ix_opening_balance_patient_year", "patient_id", "year", "disease"),)


class ReceiptCounter(Base):
    """The last receipt number handed out per day and prefix, advanced inside the settling transaction
    (clinic/settlement/service.py), so two writers on one file never issue the same number."""

    __tablename__ = "receipt_counter"
    stem: Mapped[str] = mapped_column(String(40), primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class AuditEvent(Base):
    """Who did what to which record, when, and which fields changed (old → new)."""

    __tablename__ = "audit_event"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    user_name: Mapped[str] = mapped_column(String(40))
    institution_code: Mapped[str | None] = mapped_column(String(32))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(40), index=True)
    action: Mapped[str] = mapped_column(String(12))               # insert | update | delete
    changes: Mapped[str] = mapped_column(Text, default="{}")      # JSON {field: [old, new]}
    # The tamper-evident chain (clinic/db/audit.py): place in the institution's chain, previous hash, own hash.
    seq: Mapped[int | None] = mapped_column(Integer)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))
    __table_args__ = (Index("ix_audit_event_chain", "institution_code", "id"),)

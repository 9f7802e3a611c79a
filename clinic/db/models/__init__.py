"""All tables of the shared clinic/township schema."""

from clinic.db.models.base import Base, Synced
from clinic.db.models.clinical import Filing, Prescription, PrescriptionLine
from clinic.db.models.exchange import ExternalDispense, ExternalFundUse, OutboxEntry, PolicyDocument
from clinic.db.models.health import FollowUp, Setting
from clinic.db.models.people import Institution, Patient, User
from clinic.db.models.pharmacy import (
    AuditEvent,
    Dispense,
    DispenseLine,
    Drug,
    OpeningBalance,
    ReceiptCounter,
    Settlement,
    SettlementDisease,
    StockLot,
    StockMovement,
)
from clinic.db.models.security import LoginGuard
from clinic.db.models.township import (
    ClaimFlag,
    ServerAccount,
    SyncBatch,
    SyncDevice,
    SyncFeed,
    SyncReceipt,
    SyncRecordHead,
    SyncRejection,
)

__all__ = ["AuditEvent", "Base", "ClaimFlag", "Dispense", "DispenseLine", "Drug", "ExternalDispense",
           "ExternalFundUse", "Filing", "FollowUp", "Institution", "OpeningBalance", "OutboxEntry", "Patient",
           "ReceiptCounter", "PolicyDocument",
           "Prescription", "PrescriptionLine", "ServerAccount", "Setting", "Settlement", "SettlementDisease",
           "StockLot", "StockMovement", "SyncBatch", "SyncDevice", "SyncFeed", "SyncReceipt", "SyncRecordHead",
           "SyncRejection", "Synced", "User", "LoginGuard"]

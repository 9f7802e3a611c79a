"""All tables of the shared clinic/township schema."""

from clinic.db.models.base import Base, Synced
from clinic.db.models.clinical import Filing, Prescription, PrescriptionLine
from clinic.db.models.health import FollowUp, Setting
from clinic.db.models.people import Institution, Patient, User
from clinic.db.models.pharmacy import (
    AuditEvent,
    Dispense,
    DispenseLine,
    Drug,
    Settlement,
    SettlementDisease,
    StockLot,
    StockMovement,
)

__all__ = ["AuditEvent", "Base", "Dispense", "DispenseLine", "Drug", "Filing", "FollowUp", "Institution",
           "Patient", "Prescription", "PrescriptionLine", "Setting", "Settlement", "SettlementDisease",
           "StockLot", "StockMovement", "Synced", "User"]

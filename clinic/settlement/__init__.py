"""Settlement: the pure calculation (engine.py), the JSON contract (contract.py) and the stored
settlements with refunds (service.py)."""

from clinic.settlement.engine import DiseaseResult, Filing, Item, Purchase, Result, settle

__all__ = ["DiseaseResult", "Filing", "Item", "Purchase", "Result", "settle"]

"""Small builders for settlement tests, so each test states only what its rule is about."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from clinic.policy import resolve_policy
from clinic.settlement import Filing, Item, Purchase

EZHOU = resolve_policy("ezhou", date(2026, 3, 15))


def item(qty="28", price="0.50", disease="hypertension", standard=None, in_scope=True) -> Item:
    return Item("X0001", "药品", disease, Decimal(qty), Decimal(price),
                None if standard is None else Decimal(standard), in_scope)


def purchase(*items: Item, insurance="resident", contribution=None, filings=None, level="1",
             prescriber=None, ytd=None, deductible_paid="0") -> Purchase:
    return Purchase(
        date=date(2026, 3, 15), insurance=insurance, contribution=contribution,
        filings=tuple(filings or (Filing("hypertension", "ordinary", True),)),
        institution_level=level, prescriber_level=prescriber, items=items or (item(),),
        ytd_fund_paid={k: Decimal(v) for k, v in (ytd or {}).items()},
        ytd_deductible_paid=Decimal(deductible_paid),
    )

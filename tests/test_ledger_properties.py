"""Stateful property tests of the fund ledger (hypothesis RuleBasedStateMachine): random sequences of
purchases, refunds, back-dated entries, year changes, other clinics' use arriving by pull, opening
balances and a secondary disease, through the product's own dispensing and refund code on a real SQLite
file, against a small model written here from the documents' rules (鄂州方案 二(一)3–4: caps per 病种
and year, 一级 60 %, 次要病种 50 %; 吕梁方案 二(一)1: 起付标准 30 元/年). The model never calls the
ledger or the engine.

Speed: one database per test function; each example gets a fresh patient, so examples are independent
without running the migrations again. Other clinics' use is written into external_fund_use as sync's
pull leaves it (sync/pull_apply.py has its own tests)."""

from __future__ import annotations

import itertools
import os
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from clinic import ledger, stock
from clinic.adjudication import compare, recheck_stored
from clinic.db.models import ExternalFundUse, Filing, OpeningBalance, Patient, Settlement
from clinic.idcard import check_digit
from clinic.profile import policy_in_force
from tests.ledger_helpers import Shop, make_shop

D, ZERO = Decimal, Decimal("0.00")
CAP = D("1000")                                       # 城乡居民 普通, both 病种 (吕梁: the administrator's figure)
RATIO = {"hypertension": D("0.60"), "diabetes": D("0.30")}   # primary 60 %; secondary 50 % of it
DRUGS = {"T1": "hypertension", "T2": "hypertension", "D1": "diabetes"}
EXAMPLES = int(os.environ.get("LEDGER_EXAMPLES", "500"))   # per policy: 1,000 sequences in all


def cents(value: Decimal) -> Decimal:
    return value.quantize(D("0.01"), rounding=ROUND_HALF_UP)


class Ledger(RuleBasedStateMachine):
    """Overridden per policy below: `shop` (the database) and `deductible` (the year's 起付标准)."""

    shop: Shop
    deductible: Decimal
    numbers = itertools.count(1)

    @initialize()
    def new_patient(self):
        first17 = f"4207041960{next(self.numbers):07d}"
        with self.shop.db.session("doctor") as s:
            patient = Patient(name="测试", sex="男", birth_date=date(1960, 1, 1),
                              id_number=first17 + check_digit(first17), insurance="resident")
            s.add(patient)
            s.flush()
            for disease, primary in (("hypertension", True), ("diabetes", False)):
                s.add(Filing(patient_id=patient.id, kind="initial", disease=disease, tier="ordinary",
                             is_primary=primary, history_diagnosis="病史", treatment_plan="方案", state="approved",
                             filed_on=date(2025, 1, 1)))
        self.patient = Shop(self.shop.db, patient.id)
        self.today = date(2026, 3, 1)
        self.entries: list[tuple[int, str, Decimal, Decimal]] = []      # (year, disease, fund, deductible)
        self.purchases: list[tuple[Settlement, int, str, Decimal, Decimal]] = []   # live ones
        self.outside: dict[tuple[int, str], tuple[Decimal, Decimal]] = {}  # other clinics + opening balances

    # ------------------------------------------------------------------ the model

    def used(self, year: int, disease: str) -> Decimal:
        here = sum((fund for y, d, fund, _ in self.entries if (y, d) == (year, disease)), ZERO)
        return here + sum((fund for (y, d), (fund, _) in self.outside.items() if (y, d) == (year, disease)), ZERO)

    def deductible_used(self, year: int) -> Decimal:
        here = sum((taken for y, _, _, taken in self.entries if y == year), ZERO)
        return here + sum((taken for (y, _), (_, taken) in self.outside.items() if y == year), ZERO)

    def expected(self, on: date, disease: str, total: Decimal) -> tuple[Decimal, Decimal]:
        taken = min(total, max(self.deductible - self.deductible_used(on.year), ZERO))
        fund = min(cents((total - taken) * RATIO[disease]), max(CAP - self.used(on.year, disease), ZERO))
        return fund, taken

    # ------------------------------------------------------------------ what happens at the counter

    def _buy(self, on: date, code: str, quantity: int) -> None:
        disease, total = DRUGS[code], D(quantity) * D("10.00")
        fund, taken = self.expected(on, disease, total)
        made = self.patient.buy(on, code, quantity, today=self.today)
        assert (made.total, made.fund_pay, made.deductible) == (total, fund, taken)
        assert made.fund_pay + made.self_pay == made.total
        with self.shop.db.session() as s:           # the township's re-check, clinic-side, agrees
            row, diseases, ours = recheck_stored(s, made.id, policy_in_force(s, on))
            assert compare(row, diseases, ours) == []
        self.entries.append((on.year, disease, fund, taken))
        self.purchases.append((made, on.year, disease, fund, taken))

    @rule(code=st.sampled_from(sorted(DRUGS)), quantity=st.integers(1, 200))
    def buy(self, code, quantity):
        self._buy(self.today, code, quantity)

    @rule(code=st.sampled_from(sorted(DRUGS)), quantity=st.integers(1, 200), back=st.integers(1, 7))
    def buy_back_dated(self, code, quantity, back):
        """A paper record typed in after a power cut, within the 7-day 补录 limit."""
        self._buy(self.today - timedelta(days=back), code, quantity)

    @precondition(lambda self: self.purchases)
    @rule(data=st.data())
    def refund(self, data):
        made, year, disease, fund, taken = self.purchases.pop(data.draw(st.integers(0, len(self.purchases) - 1)))
        before = (self.used(year, disease), self.deductible_used(year))
        reversal = self.patient.refund(made, max(self.today, made.settled_on))
        assert reversal.accounting_year == year and reversal.fund_pay == -fund
        self.entries.append((year, disease, -fund, -taken))
        assert (self.used(year, disease), self.deductible_used(year)) == (before[0] - fund, before[1] - taken)

    @rule(days=st.integers(1, 40))
    def next_days(self, days):
        self.today += timedelta(days=days)

    @rule()
    def next_year(self):
        self.today = date(self.today.year + 1, 1, 3)

    @rule(disease=st.sampled_from(["hypertension", "diabetes"]), fund=st.integers(0, 1200),
          taken=st.integers(0, 30), last_year=st.booleans())
    def other_clinics_use_arrives(self, disease, fund, taken, last_year):
        """The township's usage item for this person: another clinic's totals for a year, replacing
        the last report (as sync's pull applies it)."""
        year = self.today.year - (1 if last_year else 0)
        with self.shop.db.session("sync") as s:
            s.merge(ExternalFundUse(patient_id=self.patient.patient_id, year=year, disease=disease,
                                    fund_paid=D(fund), deductible_paid=D(taken)))
        opening = self._opening(year, disease)
        self.outside[(year, disease)] = (D(fund) + opening[0], D(taken) + opening[1])

    @rule(disease=st.sampled_from(["hypertension", "diabetes"]), fund=st.integers(0, 900), taken=st.integers(0, 30))
    def opening_balance(self, disease, fund, taken):
        """期初余额 from the previous system for this year (one live row per year and 病种)."""
        year = self.today.year
        other = self._external(year, disease)
        with self.shop.db.session("admin") as s:
            row = s.query(OpeningBalance).filter_by(patient_id=self.patient.patient_id, year=year,
                                                    disease=disease).one_or_none()
            if row is None:
                s.add(OpeningBalance(patient_id=self.patient.patient_id, year=year, disease=disease,
                                     fund_paid=D(fund), deductible_paid=D(taken), source="原系统.xlsx",
                                     entered_by="admin"))
            else:
                row.fund_paid, row.deductible_paid = D(fund), D(taken)
        self.outside[(year, disease)] = (D(fund) + other[0], D(taken) + other[1])

    def _opening(self, year, disease):
        with self.shop.db.session() as s:
            row = s.query(OpeningBalance).filter_by(patient_id=self.patient.patient_id, year=year,
                                                    disease=disease).one_or_none()
            return (row.fund_paid, row.deductible_paid) if row else (ZERO, ZERO)

    def _external(self, year, disease):
        with self.shop.db.session() as s:
            row = s.get(ExternalFundUse, (self.patient.patient_id, year, disease))
            return (row.fund_paid, row.deductible_paid) if row else (ZERO, ZERO)

    # ------------------------------------------------------------------ what must always hold

    @invariant()
    def ledger_equals_the_model(self):
        years = {y for y, _, _, _ in self.entries} | {y for y, _ in self.outside} | {self.today.year}
        with self.shop.db.session() as s:
            for year in years:
                ytd = ledger.year_to_date(s, self.patient.patient_id, year)
                for disease in ("hypertension", "diabetes"):
                    assert ytd.fund_paid.get(disease, ZERO) == self.used(year, disease)
                assert ytd.deductible_paid == self.deductible_used(year)

    @invariant()
    def the_fund_here_never_passes_a_cap_or_the_deductible(self):
        for year in {y for y, _, _, _ in self.entries}:
            for disease in ("hypertension", "diabetes"):
                # (other clinics may have paid past it themselves: each purchase here took only what
                # was left, which the buy rules check against the model)
                assert sum((f for y, d, f, _ in self.entries if (y, d) == (year, disease)), ZERO) <= CAP
            assert sum((t for y, _, _, t in self.entries if y == year), ZERO) <= self.deductible


def _machine(tmp_path, region: str, deductible: str):
    shop = make_shop(tmp_path / f"{region}.db", region, diseases=())
    with shop.db.session("admin") as s:                # enough for every example's purchases
        for code in DRUGS:
            stock.receive(s, code, f"BIG-{code}", date(2035, 12, 31), D(10_000_000), date(2024, 1, 1))
    return type(f"Ledger_{region}", (Ledger,), {"shop": shop, "deductible": D(deductible)})


RUN = settings(max_examples=EXAMPLES, stateful_step_count=12, deadline=None, derandomize=True, database=None,
               suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize(("region", "deductible"), [("ezhou", "0"), ("lvliang", "30")])
def test_the_ledger_holds_under_random_sequences(tmp_path, region, deductible):
    machine = _machine(tmp_path, region, deductible)
    try:
        run_state_machine_as_test(machine, settings=RUN)
    finally:
        machine.shop.db.close()

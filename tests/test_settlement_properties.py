"""Property tests (hypothesis) on settlement: the invariants any correct settlement keeps."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from clinic.settlement import Filing, Item, settle
from tests.settle_helpers import EZHOU, purchase

money = st.decimals(min_value=0, max_value=500, places=2)
qty = st.integers(min_value=1, max_value=400).map(Decimal)
items = st.lists(
    st.builds(Item, st.just("X"), st.just("药"), st.sampled_from(["hypertension", "diabetes"]), qty, money,
              st.one_of(st.none(), money), st.booleans()),
    min_size=1, max_size=6,
)
filings = st.sampled_from([
    (Filing("hypertension", "ordinary", True),),
    (Filing("diabetes", "severe", True),),
    (Filing("hypertension", "severe", True), Filing("diabetes", "ordinary", False)),
    (Filing("diabetes", "ordinary", True), Filing("hypertension", "ordinary", False)),
])
insurance = st.sampled_from([("resident", None), ("employee", "100"), ("employee", "80"),
                             ("employee", "standalone"), ("employee_supplementary", None)])
levels = st.sampled_from([("1", None), ("2", None), ("3", None), ("pharmacy", "2")])
used = st.decimals(min_value=0, max_value=3500, places=2)


@settings(max_examples=300, deadline=None)
@given(items, filings, insurance, levels, used, used)
def test_settlement_invariants(lines, fs, ins, lvl, used_h, used_d):
    p = purchase(*lines, insurance=ins[0], contribution=ins[1], filings=fs, level=lvl[0],
                 prescriber=lvl[1], ytd={"hypertension": used_h, "diabetes": used_d})
    r = settle(EZHOU, p)
    # fund + self = total, to the cent
    assert r.fund_pay + r.self_pay == r.total
    for amount in (r.total, r.fund_pay, r.self_pay, r.policy_range, r.over_cap, r.out_of_scope,
                   r.over_standard, r.major_illness_eligible):
        assert amount >= 0
        assert amount == amount.quantize(Decimal("0.01"))
    for d in r.by_disease:
        already = p.ytd_fund_paid[d.disease]
        # the fund never pays more than the cap left, nor more than policy range × ratio
        assert d.fund_pay <= max(d.cap - already, Decimal(0))
        assert d.fund_pay <= (d.policy_range * d.ratio).quantize(Decimal("0.01"), "ROUND_HALF_UP")
        assert d.cap_remaining >= 0
    assert r.total == r.out_of_scope + r.over_standard + r.policy_range
    # settling the same purchase twice gives the same result
    assert settle(EZHOU, p) == r

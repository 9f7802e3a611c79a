"""`liangbing settle` refuses numbers it cannot settle and purchases missing a required key, each with
one Chinese line on stderr and a non-zero exit (issue 12 item 10), through the real command line."""

from __future__ import annotations

import json

import pytest

from tests.test_cli_settle import EXAMPLE, run_cli


def _purchase(**changes) -> dict:
    purchase = json.loads(json.dumps(EXAMPLE))
    for key, value in changes.items():
        purchase[key] = value
    return purchase


def _item(**fields) -> dict:
    return _purchase(items=[{**EXAMPLE["items"][0], **fields}])


def _refused(stdin: str, *words: str) -> str:
    out = run_cli("settle", "--policy", "ezhou", stdin=stdin)
    assert out.returncode != 0
    assert out.stdout == ""
    assert "Traceback" not in out.stderr and "InvalidOperation" not in out.stderr
    [line] = out.stderr.strip().splitlines()
    for word in words:
        assert word in line
    return line


def _settles(purchase: dict) -> dict:
    out = run_cli("settle", "--policy", "ezhou", stdin=json.dumps(purchase))
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.parametrize("stdin", [
    json.dumps(_item(quantity="1e400")),                 # was: [<class 'decimal.InvalidOperation'>]
    json.dumps(_item(quantity="NaN")),
    json.dumps(_item(quantity="Infinity")),
    json.dumps(_item(quantity="-inf")),
    json.dumps(_item(quantity="x")).replace('"x"', "1e400"),     # a JSON number: Python reads inf
    json.dumps(_item(quantity="x")).replace('"x"', "NaN"),       # Python's json accepts the bare token
])
def test_settle_refuses_non_finite_quantity(stdin):
    line = _refused(stdin, "items[0].quantity")
    assert "有限" in line or "科学计数法" in line


def test_settle_refuses_more_than_eight_integer_digits():
    _refused(json.dumps(_item(quantity="12345678901234567890123456")), "items[0].quantity", "8 位")   # 26 digits
    _refused(json.dumps(_item(unit_price="123456789.00")), "items[0].unit_price", "8 位")
    ytd = {"hypertension": {"fund_paid": "100000000.00"}, "deductible_paid": "0.00"}
    _refused(json.dumps(_purchase(year_to_date=ytd)), "year_to_date.hypertension.fund_paid", "8 位")
    assert _settles(_item(quantity="99999999"))["total"] == "49999999.50"          # 8 digits is fine


def test_settle_refuses_more_decimals_than_the_kind_of_number_has():
    _refused(json.dumps(_item(quantity="28.00001")), "items[0].quantity", "4 位小数")
    _refused(json.dumps(_item(unit_price="0.5000001")), "items[0].unit_price", "6 位小数")
    ytd = {"hypertension": {"fund_paid": "10.001"}, "deductible_paid": "0.00"}
    _refused(json.dumps(_purchase(year_to_date=ytd)), "fund_paid", "2 位小数")
    assert _settles(_item(quantity="28.0000", unit_price="0.500000"))["total"] == "14.00"   # zeros are not decimals


def test_settle_refuses_exponent_notation():
    _refused(json.dumps(_item(unit_price="5e-1")), "items[0].unit_price", "科学计数法")


@pytest.mark.parametrize("key", ["filings", "items", "date", "patient", "institution_level"])
def test_settle_requires_filings_key(key):
    """A missing `filings` used to settle everything as out of scope; every required key is named."""
    purchase = _purchase()
    del purchase[key]
    _refused(json.dumps(purchase), f"缺少必填项 {key}")


def test_settle_accepts_empty_filings_list():
    result = _settles(_purchase(filings=[]))
    assert (result["total"], result["fund_pay"], result["self_pay"]) == ("14.00", "0.00", "14.00")

"""`liangbing settle` keeps the DESIGN.md contract: JSON in, JSON out, one-line reasons on bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

EXAMPLE = {
    "date": "2026-03-15",
    "patient": {"insurance": "resident"},
    "filings": [{"disease": "hypertension", "tier": "ordinary", "primary": True}],
    "institution_level": "1",
    "year_to_date": {"hypertension": {"fund_paid": "0.00"}, "deductible_paid": "0.00"},
    "items": [{"code": "XC08CAA001A001010100001", "name": "苯磺酸氨氯地平片", "disease": "hypertension",
               "in_scope": True, "quantity": "28", "unit_price": "0.50"}],
}


def run_cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "desktop.cli", *args], input=stdin, capture_output=True,
                          text=True, encoding="utf-8", timeout=60)


def test_settle_reproduces_the_worked_example():
    out = run_cli("settle", "--policy", "ezhou", stdin=json.dumps(EXAMPLE))
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert (result["total"], result["fund_pay"], result["self_pay"]) == ("14.00", "8.40", "5.60")
    assert result["by_disease"]["hypertension"]["cap_remaining"] == "991.60"


def test_settle_worked_example_at_the_cap():
    purchase = json.loads(json.dumps(EXAMPLE))
    purchase["year_to_date"]["hypertension"]["fund_paid"] = "998.00"
    result = json.loads(run_cli("settle", "--policy", "ezhou", stdin=json.dumps(purchase)).stdout)
    assert (result["fund_pay"], result["over_cap"], result["self_pay"]) == ("2.00", "10.67", "12.00")


def test_settle_accepts_a_policy_file_path():
    from clinic.policy.loader import policies_dir
    out = run_cli("settle", "--policy", str(policies_dir() / "ezhou-2022-10-01.toml"),
                  stdin=json.dumps(EXAMPLE))
    assert json.loads(out.stdout)["fund_pay"] == "8.40"


def _with(**changes):
    purchase = json.loads(json.dumps(EXAMPLE))
    for path, value in changes.items():
        target = purchase
        keys = path.split("__")
        for key in keys[:-1]:
            target = target[int(key)] if key.isdigit() else target[key]
        target[keys[-1]] = value
    return json.dumps(purchase)


@pytest.mark.parametrize(("stdin", "reason"), [
    (_with(items__0__quantity="-28"), "quantity"),
    (_with(patient__insurance="commercial"), "patient.insurance"),
    (_with(institution_level="pharmacy"), "prescriber_level"),
    (_with(filings=[{"disease": "hypertension", "tier": "ordinary", "primary": True},
                    {"disease": "diabetes", "tier": "ordinary", "primary": True}]), "主要病种"),
    ('{"date": "2026-03-15", "items": [', "JSON"),
    (_with(items__0__unit_price=0.5), "浮点数"),
    (_with(date="2026-02-30"), "date"),
])
def test_settle_refuses_bad_input_with_one_line_reason(stdin, reason):
    out = run_cli("settle", "--policy", "ezhou", stdin=stdin)
    assert out.returncode != 0
    assert out.stdout == ""
    assert len(out.stderr.strip().splitlines()) == 1
    assert reason in out.stderr
    assert "Traceback" not in out.stderr


def test_settle_names_the_missing_local_setting():
    out = run_cli("settle", "--policy", "lvliang", stdin=json.dumps(EXAMPLE))
    assert out.returncode != 0 and "ratios.resident.1" in out.stderr


def test_settle_with_local_settings_given_on_the_command_line():
    out = run_cli("settle", "--policy", "lvliang", "--setting", "ratios.resident.1=0.6",
                  "--setting", "caps.resident.ordinary=800", "--setting", "secondary_factor=0.5",
                  stdin=json.dumps(EXAMPLE))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["deductible"] == "14.00"          # all 14.00 goes to the 30 元 deductible


def test_policy_list_and_show():
    listing = run_cli("policy", "list")
    assert listing.returncode == 0 and "ezhou-2022-10-01" in listing.stdout
    shown = run_cli("policy", "show", "lvliang")
    assert "须本地设置" in shown.stdout and "30" in shown.stdout

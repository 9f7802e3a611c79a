"""`liangbing demo`, `stats`, `today`, `policy set`: a realistic clinic whose records obey the rules."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from clinic.db.engine import open_database
from clinic.db.models import Dispense, DispenseLine, Settlement, SettlementDisease
from clinic.demo import build_demo
from clinic.dispensing import runs_out_on
from clinic.idcard import parse_id_number
from clinic.users import authenticate

TODAY = date(2026, 11, 23)


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "desktop.cli", *args], capture_output=True, text=True,
                          encoding="utf-8", timeout=300)


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    out = cli("demo", "--db", str(path), "--patients", "120", "--today", TODAY.isoformat())
    assert out.returncode == 0, out.stderr
    return path


def test_demo_has_every_kind_of_record(demo_db):
    counts = json.loads(cli("stats", "--db", str(demo_db), "--json").stdout)
    assert counts["patient"] == 120 and counts["user_account"] == 3
    for table in ("filing", "prescription", "dispense", "settlement", "follow_up", "stock_lot", "drug"):
        assert counts[table] > 0, table


def test_demo_staff_log_in_with_the_passwords_in_the_readme(demo_db):
    db = open_database(demo_db)
    with db.session() as s:
        assert authenticate(s, "doctor", "demo1234").role == "doctor"
        assert authenticate(s, "admin", "admin1234").role == "admin"
    db.close()


def test_demo_dispensing_obeys_the_refill_window_and_the_caps(demo_db):
    db = open_database(demo_db)
    with db.session() as s:
        rows = s.execute(select(Dispense.patient_id, Dispense.dispensed_on, DispenseLine.drug_code,
                                DispenseLine.quantity, DispenseLine.daily_dose)
                         .join(DispenseLine).order_by(Dispense.dispensed_on)).all()
        history = defaultdict(list)
        for r in rows:
            earlier = history[(r.patient_id, r.drug_code)]
            run_out = runs_out_on(earlier)
            if run_out is not None:
                assert (run_out - r.dispensed_on).days <= 15      # seeds/000 附件3: ≤ 15 days left
            earlier.append((r.dispensed_on, r.quantity, r.daily_dose))
        paid = defaultdict(Decimal)
        for patient, year, disease, fund, cap in s.execute(
                select(Settlement.patient_id, Settlement.settled_on, SettlementDisease.disease,
                       SettlementDisease.fund_pay, SettlementDisease.cap).join(SettlementDisease)):
            paid[(patient, year.year, disease)] += fund
            assert paid[(patient, year.year, disease)] <= cap
        ids = [p for (p,) in s.execute(select(Dispense.patient_id).distinct())]
    assert ids
    db.close()


def test_demo_id_numbers_have_valid_check_digits(tmp_path):
    db = open_database(tmp_path / "d.db")
    build_demo(db, patients=50, today=TODAY)
    from clinic.db.models import Patient
    with db.session() as s:
        for patient in s.scalars(select(Patient)):
            info = parse_id_number(patient.id_number)
            assert (info.sex, info.birth_date) == (patient.sex, patient.birth_date)
    db.close()


def test_demo_refuses_a_database_that_already_has_patients(demo_db):
    out = cli("demo", "--db", str(demo_db), "--patients", "5")
    assert out.returncode != 0 and "已有" in out.stderr


def test_today_lists_the_mornings_work(demo_db):
    out = cli("today", "--db", str(demo_db), "--date", TODAY.isoformat())
    assert out.returncode == 0, out.stderr
    for title in ("将断药", "随访逾期", "疑似未备案", "备案待审核", "结算待上传"):
        assert title in out.stdout


def test_commands_on_a_missing_database_fail_with_one_line(tmp_path):
    out = cli("stats", "--db", str(tmp_path / "nope.db"))
    assert out.returncode != 0 and "找不到数据库" in out.stderr and "Traceback" not in out.stderr


def test_policy_set_fills_a_required_local_setting(tmp_path):
    path = tmp_path / "c.db"
    db = open_database(path)
    with db.session() as s:
        from clinic.profile import create_local_institution, policy_in_force
        create_local_institution(s, "H14110000001", "吕梁某村卫生室", "1", "lvliang")
    db.close()
    bad = cli("policy", "set", "--db", str(path), "ratios.resident.1", "1.5")
    assert bad.returncode != 0 and "0 到 1" in bad.stderr
    ok = cli("policy", "set", "--db", str(path), "ratios.resident.1", "0.55")
    assert ok.returncode == 0, ok.stderr
    db = open_database(path)
    with db.session() as s:
        policy = policy_in_force(s, TODAY)
        assert policy.ratio("resident", "1") == Decimal("0.55")
        assert "ratios.resident.1" not in policy.missing_settings()
    db.close()


def test_settlements_are_numbered_per_clinic_and_day(demo_db):
    db = open_database(demo_db)
    with db.session() as s:
        numbers = s.scalars(select(Settlement.receipt_no).where(
            Settlement.settled_on == TODAY - timedelta(days=1))).all()
    db.close()
    assert all(n.startswith("H42070400101-") for n in numbers)

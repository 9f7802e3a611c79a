"""`liangbing ledger` and `liangbing opening-balance import` through the real entry point (issue 12 items
2 and 8), on a clinic file with purchases, a refund across the year end and an opening balance made by
the product's own code."""

from __future__ import annotations

import json
from datetime import date

import pytest

from clinic.users import create_user
from tests.ledger_helpers import make_shop
from tests.ops.helpers import cli

ID = "420704196001010016"
ADMIN = {"LIANGBING_PASSWORD": "admin1234"}
HEADER = "身份证号,病种,年度,统筹基金已支付,起付线已付\n"


@pytest.fixture
def shop(tmp_path):
    shop = make_shop(tmp_path / "c.db", id_number=ID)
    with shop.db.session("setup") as s:
        create_user(s, "admin", "管理员", "admin", "admin1234")
        create_user(s, "doctor", "王医生", "doctor", "doctor123")
    return shop


def opening_file(tmp_path, *rows: str):
    path = tmp_path / "opening.csv"
    path.write_text(HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")
    return str(path)


def test_cli_opening_balance_import_exits_0_2_or_1(shop, tmp_path):
    db = str(shop.db.path)
    good = cli("opening-balance", "import", "--db", db, "--file", opening_file(tmp_path, f"{ID},高血压,2026,200,0"),
               "--user", "admin", "--today", "2026-01-20", env=ADMIN)
    assert good.returncode == 0, good.stderr
    assert "新增 1 条" in good.stdout and "拒绝 0 条" in good.stdout
    some = cli("opening-balance", "import", "--db", db, "--file",
               opening_file(tmp_path, f"{ID},高血压,2026,250,0", f"{ID},肺结核,2026,1,0"),
               "--user", "admin", "--today", "2026-01-20", env=ADMIN)
    assert some.returncode == 2
    assert "更新 1 条" in some.stdout and "第 3 行【病种】病种应为“高血压”或“糖尿病”，而不是“肺结核”" in some.stdout
    for args, env, reason in (
            (("--file", str(tmp_path / "missing.xlsx"), "--user", "admin"), ADMIN, "无法读取文件 missing.xlsx"),
            (("--file", opening_file(tmp_path, f"{ID},高血压,2026,1,0"), "--user", "doctor"),
             {"LIANGBING_PASSWORD": "doctor123"}, "无权导入期初余额"),
            (("--file", opening_file(tmp_path, f"{ID},高血压,2026,1,0"), "--user", "admin"),
             {"LIANGBING_PASSWORD": "wrong-pass"}, "密码错误")):
        out = cli("opening-balance", "import", "--db", db, *args, env=env)
        assert out.returncode == 1 and reason in out.stderr, out.stderr
        assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr


def ledger_fixture(shop, tmp_path):
    december = shop.buy(date(2025, 12, 1), "T1", 100)           # 1,000.00: fund 600.00 (60 %)
    shop.refund(december, date(2026, 1, 5))                      # credits 2025, the purchase's year
    out = cli("opening-balance", "import", "--db", str(shop.db.path), "--file",
              opening_file(tmp_path, f"{ID},高血压,2026,200.00,0"), "--user", "admin", "--today", "2026-01-08",
              env=ADMIN)
    assert out.returncode == 0, out.stdout
    january = shop.buy(date(2026, 1, 10), "T1", 50)               # 500.00: fund 300.00
    return december, january


def test_cli_ledger_json_gives_cap_paid_remaining_and_every_entry(shop, tmp_path):
    december, january = ledger_fixture(shop, tmp_path)
    out = cli("ledger", "--db", str(shop.db.path), "--patient", ID, "--year", "2026", "--json",
              "--today", "2026-01-20")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["patient"]["id_number"] == ID and result["year"] == 2026
    (line,) = result["diseases"]
    # 鄂州方案 二(一)4(1): 城乡居民 普通 1000 元 a year; 200.00 before the product + 300.00 here.
    assert (line["disease"], line["tier"], line["cap"], line["fund_paid"], line["remaining"]) == (
        "hypertension", "ordinary", "1000.00", "500.00", "500.00")
    assert (result["deductible"], result["deductible_paid"], result["deductible_remaining"]) == ("0.00", "0.00",
                                                                                                  "0.00")
    assert [(e["date"], e["receipt_no"], e["fund"], e["accounting_year"], e["reverses"], e["source_name"])
            for e in result["entries"]] == [
        ("2026-01-10", january.receipt_no, "300.00", 2026, None, "本机构"),
        (None, None, "200.00", 2026, None, "期初余额")]
    last = json.loads(cli("ledger", "--db", str(shop.db.path), "--patient", ID, "--year", "2025", "--json",
                          "--today", "2026-01-20").stdout)
    assert [(e["date"], e["fund"], e["accounting_year"], e["reverses"]) for e in last["entries"]] == [
        ("2025-12-01", "600.00", 2025, None), ("2026-01-05", "-600.00", 2025, december.receipt_no)]
    assert last["diseases"][0]["fund_paid"] == "0.00" and last["diseases"][0]["remaining"] == "1000.00"


def test_cli_ledger_text_defaults_to_the_current_year(shop, tmp_path):
    _, january = ledger_fixture(shop, tmp_path)
    out = cli("ledger", "--db", str(shop.db.path), "--patient", ID.lower(), "--today", "2026-01-20")
    assert out.returncode == 0, out.stderr
    assert "2026 年度医保额度" in out.stdout
    assert "高血压（普通）：年度限额 1000.00 元，统筹已支付 500.00 元，剩余 500.00 元" in out.stdout
    assert f"2026-01-10\t{january.receipt_no}\t高血压\t300.00\t0.00\t2026\t\t本机构" in out.stdout
    assert "—\t—\t高血压\t200.00\t0.00\t2026\t\t期初余额" in out.stdout


def test_cli_ledger_unknown_patient_or_bad_year_is_one_chinese_line(shop):
    for args, reason in ((("--patient", "110101199003070011"), "本机构没有身份证号为 110101199003070011 的患者"),
                         (("--patient", ID, "--year", "1850"), "年度无效：1850")):
        out = cli("ledger", "--db", str(shop.db.path), *args)
        assert out.returncode == 1 and reason in out.stderr, out.stderr
        assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr

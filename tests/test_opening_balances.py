"""Opening balances imported from the previous system (clinic/opening_balances.py, issue 12 item 2): row
by row with reasons, re-import changes rather than duplicates, administrators only, and caps hold from
the first purchase — on real SQLite files, purchases through the product's own dispensing code."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy import select

from clinic import ledger
from clinic.db.models import AuditEvent, OpeningBalance, Patient
from clinic.opening_balances import OpeningBalanceError, import_opening_balances
from clinic.permissions import PermissionDenied
from tests.ledger_helpers import make_shop

D = Decimal
ID = "420704196001010016"          # a valid number (make_shop's default is not)
TODAY = date(2026, 3, 1)
HEADER = ["身份证号", "病种", "年度", "统筹基金已支付", "起付线已付"]


def write_csv(path, rows, header=HEADER):
    path.write_text("\n".join(",".join(map(str, r)) for r in [header, *rows]) + "\n", encoding="utf-8")
    return path


def write_xlsx(path, rows, header=HEADER):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["某某系统导出 期初余额"])           # a title row above the header, as exports have
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def import_file(shop, path, role="admin", today=TODAY):
    with shop.db.session("admin") as s:
        return import_opening_balances(s, path, user="admin", role=role, today=today)


def balances(shop):
    with shop.db.session() as s:
        return sorted((o.year, o.disease, o.fund_paid, o.deductible_paid)
                      for o in s.scalars(select(OpeningBalance).where(OpeningBalance.deleted_at.is_(None))))


def test_opening_balance_good_rows_are_imported_from_csv_and_xlsx(tmp_path):
    shop = make_shop(tmp_path / "c.db", diseases=("hypertension", "diabetes"), id_number=ID)
    report = import_file(shop, write_csv(tmp_path / "o.csv", [[ID, "高血压", 2026, "300.50", "0"],
                                                              [ID, "diabetes", "2026年", "120", "0.00"]]))
    assert (report.added, report.refused, report.errors) == (2, 0, [])
    assert balances(shop) == [(2026, "diabetes", D("120.00"), D("0.00")),
                              (2026, "hypertension", D("300.50"), D("0.00"))]
    # The usual header variants, in a workbook with a title row; numbers as Excel stores them.
    other = make_shop(tmp_path / "d.db", id_number=ID)
    variants = ["身份证号码", "病种名称", "年份", "统筹已支付（元）", "起付标准已付"]
    report = import_file(other, write_xlsx(tmp_path / "o.xlsx", [[ID, "高血压", 2025, 88.8, 0]], header=variants))
    assert (report.added, report.errors) == (1, [])
    assert balances(other) == [(2025, "hypertension", D("88.80"), D("0.00"))]


def test_opening_balance_refused_rows_name_row_column_and_reason(tmp_path):
    shop = make_shop(tmp_path / "c.db", id_number=ID)
    rows = [
        [ID, "高血压", 2026, "100", "0"],                     # row 2: good
        ["420704196001010011", "高血压", 2026, "1", "0"],     # 3: check digit
        ["110101199003070011", "高血压", 2026, "1", "0"],     # 4: valid number, no such patient here
        [ID, "肺结核", 2026, "1", "0"],                        # 5: disease
        [ID, "糖尿病", 2027, "1", "0"],                        # 6: future year
        [ID, "糖尿病", 2024, "1", "0"],                        # 7: too far back
        [ID, "糖尿病", 2025, "-5", "0"],                       # 8: negative
        [ID, "糖尿病", 2025, "1.005", "0"],                    # 9: below the cent
        [ID, "糖尿病", 2025, "123456789", "0"],                # 10: more than 8 integer digits
        [ID, "高血压", 2025, "1000.01", "0"],                  # 11: above the 城乡居民 普通 cap of 1000
        [ID, "糖尿病", 2025, "", "0"],                         # 12: empty amount
    ]
    report = import_file(shop, write_csv(tmp_path / "o.csv", rows))
    assert (report.added, report.refused) == (1, 10)
    by_row = {e.row: (e.column, e.message) for e in report.errors}
    assert by_row[3][0] == "身份证号" and "校验码" in by_row[3][1]
    assert "本机构没有身份证号为 110101199003070011 的患者" in by_row[4][1]
    assert by_row[5] == ("病种", "病种应为“高血压”或“糖尿病”，而不是“肺结核”")
    assert by_row[6][0] == "年度" and "只能导入 2025 或 2026 年度" in by_row[6][1]
    assert "2024 年度" in by_row[7][1]
    assert by_row[8] == ("统筹基金已支付", "金额不能为负数")
    assert "最多 2 位小数" in by_row[9][1]
    assert "整数部分最多 8 位" in by_row[10][1]
    assert by_row[11][0] == "统筹基金已支付" and "超过 2025 年度高血压普通限额 1000 元" in by_row[11][1]
    assert "不能为空" in by_row[12][1]
    assert "第 3 行【身份证号】" in report.summary()
    assert balances(shop) == [(2026, "hypertension", D("100.00"), D("0.00"))]


def test_opening_balance_same_row_twice_in_a_file_is_refused_both_times(tmp_path):
    shop = make_shop(tmp_path / "c.db", id_number=ID)
    report = import_file(shop, write_csv(tmp_path / "o.csv", [[ID, "高血压", 2026, "100", "0"],
                                                              [ID, "hypertension", 2026, "200", "0"]]))
    assert report.refused == 2 and {e.row for e in report.errors} == {2, 3}
    assert "另见第 3 行" in report.errors[0].message
    assert balances(shop) == []


def test_opening_balance_deductible_counts_once_a_year_across_diseases(tmp_path):
    # 吕梁方案 二(一)1: 起付标准 30 元/年 — both diseases together.
    shop = make_shop(tmp_path / "c.db", "lvliang", diseases=("hypertension", "diabetes"), id_number=ID)
    report = import_file(shop, write_csv(tmp_path / "o.csv", [[ID, "高血压", 2026, "50", "20"],
                                                              [ID, "糖尿病", 2026, "50", "20"]]))
    assert report.refused == 2
    assert "起付线已付合计 40.00 元超过 2026 年度起付标准 30 元" in report.errors[0].message
    assert import_file(shop, write_csv(tmp_path / "p.csv", [[ID, "高血压", 2026, "50", "30"]])).added == 1


def test_opening_balance_reimport_changes_the_row_and_is_audited(tmp_path):
    shop = make_shop(tmp_path / "c.db", id_number=ID)
    import_file(shop, write_csv(tmp_path / "o.csv", [[ID, "高血压", 2026, "300", "0"]]))
    again = import_file(shop, write_csv(tmp_path / "o.csv", [[ID, "高血压", 2026, "300.00", "0"]]))
    assert (again.added, again.updated, again.unchanged) == (0, 0, 1)
    fixed = import_file(shop, write_csv(tmp_path / "fixed.csv", [[ID, "高血压", 2026, "450", "0"]]))
    assert (fixed.added, fixed.updated) == (0, 1)
    assert balances(shop) == [(2026, "hypertension", D("450.00"), D("0.00"))]      # one row, not two
    with shop.db.session() as s:
        (row,) = s.scalars(select(OpeningBalance)).all()
        assert row.source == "fixed.csv"
        updates = s.scalars(select(AuditEvent).where(AuditEvent.entity == "opening_balance",
                                                     AuditEvent.action == "update")).all()
    assert len(updates) == 1 and json.loads(updates[0].changes)["fund_paid"] == ["300.00", "450.00"]


def test_opening_balance_import_is_refused_for_non_administrators(tmp_path):
    shop = make_shop(tmp_path / "c.db", id_number=ID)
    path = write_csv(tmp_path / "o.csv", [[ID, "高血压", 2026, "300", "0"]])
    for role in ("doctor", "pharmacist"):
        with pytest.raises(PermissionDenied, match="无权导入期初余额"):
            import_file(shop, path, role=role)
    assert balances(shop) == []


def test_opening_balance_unreadable_file_writes_nothing(tmp_path):
    shop = make_shop(tmp_path / "c.db", id_number=ID)
    (tmp_path / "bad.xlsx").write_bytes(b"not a workbook")
    with pytest.raises(OpeningBalanceError, match="无法读取文件 bad.xlsx"):
        import_file(shop, tmp_path / "bad.xlsx")
    with pytest.raises(OpeningBalanceError, match="缺少必需的列：统筹基金已支付"):
        import_file(shop, write_csv(tmp_path / "o.csv", [[ID, "高血压", 2026, "0"]],
                                    header=["身份证号", "病种", "年度", "起付线已付"]))
    with pytest.raises(OpeningBalanceError, match="不支持的文件类型"):
        import_file(shop, write_csv(tmp_path / "o.pdf", [[ID, "高血压", 2026, "1", "0"]]))
    assert balances(shop) == []


def test_caps_hold_from_the_first_purchase_after_an_opening_balance(tmp_path):
    # 鄂州方案 二(一)4(1): 城乡居民 普通 年度最高支付限额 1000 元; 900.00 already paid by the previous system.
    shop = make_shop(tmp_path / "c.db", id_number=ID)
    report = import_file(shop, write_csv(tmp_path / "o.csv", [[ID, "高血压", 2026, "900.00", "0"]]))
    assert report.added == 1
    first = shop.buy(date(2026, 3, 2), "T1", 168, today=date(2026, 3, 2))
    assert (first.total, first.fund_pay) == (D("1680.00"), D("100.00"))
    with shop.db.session() as s:
        assert ledger.year_to_date(s, shop.patient_id, 2026).fund_paid["hypertension"] == D("1000.00")
        assert s.scalar(select(Patient.id_number)) == ID

"""Township reports from records that three villages synced through the real HTTP sync: every figure
of 附件4–7 and the 调度表 equals the sum of the villages' own reports (each computed on the village's
own SQLite file by the same code), each village's KPI is the one it computes itself, and the command
line writes the same reports as PDF and Excel."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from io import BytesIO

import pytest
from openpyxl import load_workbook

from clinic.reports.dispatch import dispatch_table
from clinic.reports.kpi import assess
from clinic.reports.monthly import monthly_table
from clinic.reports.table import NOT_APPLICABLE, ReportTable
from clinic.reports.units import units_table
from clinic.township.tables import Request, build_tables
from clinic.vocab import INSURANCES
from sync.server.cli import main as server_cli
from tests.sync.helpers import ROOT
from tests.township.builders import FEB, MAR, YEAR

NUMBER = (int, Decimal)


def figures(table: ReportTable) -> dict[tuple, object]:
    """(row key, column) → every number in the table body."""
    return {(row.key, c): value for row in table.rows for c, value in enumerate(row.cells)
            if isinstance(value, NUMBER) and not isinstance(value, bool)}


def summed(tables: list[ReportTable]) -> dict[tuple, object]:
    total: dict[tuple, object] = {}
    for table in tables:
        for key, value in figures(table).items():
            total[key] = total.get(key, 0) + value
    return total


@pytest.mark.parametrize("month", [FEB, MAR])
@pytest.mark.parametrize("insurance", list(INSURANCES))
def test_monthly_reports_4_to_6_of_the_township_are_the_sum_of_each_villages_own(township, month, insurance):
    with township.server.db.session() as s:
        [server] = build_tables(s, Request("monthly", month, insurance=insurance))
    own = []
    for village in township.villages:
        with village.db.session() as s:
            own.append(monthly_table(s, month, insurance))
    assert figures(server) == summed(own)
    assert any(value for value in figures(server).values())           # not a sum of zeros
    assert server.unit == "临江乡"                                      # 填报单位: the township collects
    assert server.form_label == {"resident": "附件4", "employee": "附件5", "employee_supplementary": "附件6"}[insurance]


def test_without_an_insurance_the_monthly_report_is_all_three_forms(township):
    with township.server.db.session() as s:
        tables = build_tables(s, Request("monthly", MAR))
    assert [t.form_label for t in tables] == ["附件4", "附件5", "附件6"]


def test_units_report_has_one_row_per_village_each_equal_to_its_own_and_a_total(township):
    with township.server.db.session() as s:
        [server] = build_tables(s, Request("units", MAR))
    for village in township.villages:
        with village.db.session() as s:
            [own] = [row for row in units_table(s, MAR).rows if row.key == (village.code,)]
        assert server.row(village.code).cells[2:] == own.cells[2:]
    assert [row.cells[1] for row in server.rows] == ["东港村卫生室", "西湾村卫生室", "南岭村卫生室", "合计"]
    body = [row.cells[2:] for row in server.rows[:-1]]
    assert server.row("total").cells[2:] == tuple(sum(column) for column in zip(*body, strict=True))


@pytest.mark.parametrize("variant", ["national", "shanxi"])
def test_dispatch_table_of_the_township_is_the_sum_of_the_villages(township, variant):
    with township.server.db.session() as s:
        [server] = build_tables(s, Request("dispatch", MAR, variant=variant))
    own = []
    for village in township.villages:
        with village.db.session() as s:
            own.append(dispatch_table(s, MAR, variant=variant))
    assert figures(server) == summed(own)
    assert NOT_APPLICABLE in server.rows[0].cells                       # never an invented 0


def test_each_villages_kpi_on_the_server_is_the_one_it_computes_itself(township):
    year_end = date(YEAR, 12, 1)
    for village in township.villages:
        with township.server.db.session() as s:
            there = assess(s, year_end, [village.code])
        with village.db.session() as s:
            here = assess(s, year_end)
        assert [(x.indicator.key, x.rate, x.score) for x in there.scored] == [
            (x.indicator.key, x.rate, x.score) for x in here.scored]
        assert there.earned > 0


def test_the_exchange_lists_of_march_name_who_came_who_left_and_who_is_unmarked(township):
    with township.server.db.session() as s:
        added, removed, unmarked = build_tables(s, Request("exchange", MAR))
    names = {code: name for code, name in (("H42070400101", "东港村卫生室"), ("H42070400202", "西湾村卫生室"),
                                           ("H42070400303", "南岭村卫生室"))}
    people = [(row.cells[1], row.cells[2], row.cells[7]) for row in added.rows]
    for name in names.values():     # filed on 5 March; under management since the visit of 3 March
        assert (name, "三月新备案", "高血压") in people and (name, "规范管理", "高血压") in people
    assert len(added.rows) == 6
    assert {(row.cells[2], row.cells[9], row.cells[10]) for row in removed.rows} == {
        ("三月痊愈", f"{YEAR}-03-10", "痊愈（变更备案审核通过）")}
    assert len(removed.rows) == 3
    assert sorted((row.cells[1], row.cells[2]) for row in unmarked.rows) == sorted(
        (name, "疑似未标识") for name in names.values())
    assert all(len(row.cells[4]) == 18 for row in unmarked.rows)           # full ID numbers for the offices


def test_command_line_writes_each_report_as_pdf_and_excel(township, tmp_path, capsys):
    url = township.db_url
    assert server_cli(["report", "monthly", "--db", url, "--month", f"{YEAR}-03", "--insurance", "resident",
                       "-o", str(tmp_path / "m.pdf")]) == 0
    text = subprocess.run(["pdftotext", "-layout", str(tmp_path / "m.pdf"), "-"], capture_output=True,
                          text=True, check=True).stdout
    with township.server.db.session() as s:
        [table] = build_tables(s, Request("monthly", MAR, insurance="resident"))
    total = table.value(("ordinary", "total"), "合计", "报销额")
    assert "附件4" in text and "普通高血压" in text and f"{total:.2f}" in text and "临江乡" in text
    month = f"{YEAR}-03"
    assert server_cli(["report", "exchange", "--db", url, "--month", month, "-o", str(tmp_path / "x.xlsx")]) == 0
    book = load_workbook(BytesIO((tmp_path / "x.xlsx").read_bytes()))
    assert book.sheetnames == ["新增人员", "减少人员", "疑似未标识"]
    assert any(cell.value == "疑似未标识" for row in book["疑似未标识"].iter_rows() for cell in row)
    assert server_cli(["report", "units", "--db", url, "--month", month, "-o", str(tmp_path / "u.xlsx")]) == 0
    sheet = load_workbook(tmp_path / "u.xlsx").active
    assert "鄂州市参保人员“两病”情况统计表" in [cell.value for row in sheet.iter_rows(max_row=3) for cell in row]


@pytest.mark.parametrize(("args", "reason"), [
    (["--month", "2025-13"], "月份格式无效"),
    (["--month", "2025-03", "--township", "无此乡"], "没有乡镇“无此乡”"),
    (["--month", "2025-03", "--institution", "H000"], "没有机构编码 H000"),
    (["--month", "2025-03", "-o", "out.txt"], ".pdf 或 .xlsx"),
])
def test_command_line_refuses_bad_input_with_one_line_and_writes_nothing(township, tmp_path, capsys, args, reason):
    argv = ["report", "units", "--db", township.db_url, *args]
    if "-o" not in args:
        argv += ["-o", str(tmp_path / "out.pdf")]
    assert server_cli(argv) == 1
    err = capsys.readouterr().err
    assert reason in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "out.pdf").exists()


def test_report_on_a_missing_database_file_is_refused_without_creating_it(tmp_path, capsys):
    missing = tmp_path / "none.db"
    out = str(tmp_path / "u.pdf")
    assert server_cli(["report", "units", "--db", str(missing), "--month", "2025-03", "-o", out]) == 1
    assert "找不到服务器数据库" in capsys.readouterr().err and not missing.exists()


def test_the_installed_command_runs_as_a_program(township, tmp_path):
    out = tmp_path / "d.pdf"
    done = subprocess.run([sys.executable, "-m", "sync.server.cli", "report", "dispatch", "--db", township.db_url,
                           "--month", f"{YEAR}-03", "--variant", "shanxi", "-o", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes().startswith(b"%PDF")


def test_a_registration_deleted_this_month_is_on_the_removed_list(township):
    """Runs last in this module: it deletes a patient (the village syncs, so its own reports and the
    township's still agree)."""
    from clinic.db.models import Patient
    from clinic.patients import soft_delete_patient
    from sync.client import sync_once

    south = township.villages[2]
    with south.db.session("admin") as s:
        soft_delete_patient(s, s.get(Patient, south.patients["supplementary"]), "重复登记")
    assert sync_once(south.db).all_acknowledged
    deleted_on = datetime.now(UTC).date()           # deleted_at is the clinic's UTC time
    this_month = deleted_on.replace(day=1)
    with township.server.db.session() as s:
        _, removed, _ = build_tables(s, Request("exchange", this_month))
    assert [(row.cells[1], row.cells[2], row.cells[6], row.cells[10]) for row in removed.rows] == [
        ("南岭村卫生室", "职工补充", "城镇职工补充", "村卫生室已删除该登记")]
    assert removed.rows[0].cells[9] == deleted_on.isoformat()

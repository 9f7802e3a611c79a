"""`liangbing report monthly|units|dispatch|kpi`: the format follows the output's extension; bad input
ends with one Chinese line on stderr, a non-zero exit and no traceback, and writes nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook

from desktop.cli import main
from tests.reports.builders import CLINIC_A


def run(capsys, *args) -> tuple[int, str, str]:
    code = main(["report", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_monthly_report_as_pdf_and_xlsx(report_db, tmp_path, capsys):
    pdf, xlsx = tmp_path / "m.pdf", tmp_path / "m.xlsx"
    code, out, _ = run(capsys, "monthly", "--db", report_db.path, "--month", "2026-02", "--insurance",
                       "employee_supplementary", "-o", pdf)
    assert code == 0 and "附件6" in out and "演示数据" in out
    assert pdf.read_bytes().startswith(b"%PDF")
    code, _, _ = run(capsys, "monthly", "--db", report_db.path, "--month", "2026-02", "--insurance", "resident",
                     "--input", "ordinary.hypertension=1200", "--institution", CLINIC_A, "-o", xlsx)
    sheet = load_workbook(xlsx).active
    assert code == 0 and sheet["A1"].value == "附件4"
    assert [sheet.cell(r, 2).value for r in range(6, 12)][0] == 1200


@pytest.mark.parametrize("args", [("units",), ("dispatch",), ("dispatch", "--variant", "shanxi"),
                                  ("dispatch", "--insurance", "all"), ("kpi", "--input", "complaints=1")])
def test_other_reports(report_db, tmp_path, capsys, args):
    out = tmp_path / "r.pdf"
    code, printed, err = run(capsys, *args, "--db", report_db.path, "--month", "2026-02", "-o", out)
    assert (code, err) == (0, "") and out.stat().st_size > 1000 and "已生成" in printed


@pytest.mark.parametrize(("args", "reason"), [
    (("monthly", "--month", "2026-13", "--insurance", "resident"), "月份格式无效"),
    (("monthly", "--month", "2026/02", "--insurance", "resident"), "月份格式无效"),
    (("monthly", "--month", "2026-02", "--insurance", "farmers"), "险种 无效"),
    (("monthly", "--month", "2026-02"), "须指定 --insurance"),
    (("monthly", "--month", "2026-02", "--insurance", "resident", "--input", "ordinary.hypertension=-1"),
     "不小于 0 的整数"),
    (("units", "--month", "2026-02", "--input", "x=1"), "没有录入项"),
    (("dispatch", "--month", "2026-02", "--variant", "hubei"), "调度表样式无效"),
    (("kpi", "--month", "2026-02", "--input", "complaints"), "KEY=VALUE"),
    (("weekly", "--month", "2026-02"), "报表类型无效"),
])
def test_bad_arguments_give_one_chinese_line_and_no_file(report_db, tmp_path, capsys, args, reason):
    out = tmp_path / "r.pdf"
    code, printed, err = run(capsys, *args, "--db", report_db.path, "-o", out)
    assert code == 1 and printed == ""
    assert err.count("\n") == 1 and reason in err and "Traceback" not in err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_bad_extension_and_missing_database(report_db, tmp_path, capsys):
    code, _, err = run(capsys, "units", "--db", report_db.path, "--month", "2026-02", "-o", tmp_path / "r.docx")
    assert code == 1 and "扩展名应为 .pdf 或 .xlsx" in err and err.count("\n") == 1
    code, _, err = run(capsys, "units", "--db", tmp_path / "none.db", "--month", "2026-02", "-o", tmp_path / "r.pdf")
    assert code == 1 and "找不到数据库文件" in err and not (tmp_path / "none.db").exists()


def test_a_failed_run_leaves_an_earlier_report_untouched(report_db, tmp_path, capsys):
    out = tmp_path / "r.pdf"
    out.write_bytes(b"earlier report")
    code, _, _ = run(capsys, "units", "--db", report_db.path, "--month", "2026-00", "-o", out)
    assert code == 1 and out.read_bytes() == b"earlier report"


def test_the_installed_command(report_db, tmp_path):
    liangbing = Path(sys.executable).with_name("liangbing")
    done = subprocess.run([str(liangbing), "report", "kpi", "--db", str(report_db.path), "--month", "2026-2",
                           "-o", str(tmp_path / "k.xlsx")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and (tmp_path / "k.xlsx").exists(), done.stderr
    done = subprocess.run([str(liangbing), "report", "monthly", "--db", str(report_db.path), "--month", "2026-02",
                           "--insurance", "nobody", "-o", str(tmp_path / "m.pdf")], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1 and done.stderr.startswith("liangbing: 险种 无效") and done.stderr.count("\n") == 1

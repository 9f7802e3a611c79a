"""`liangbing print filing|prescription|receipt --db PATH --patient ID_NUMBER -o OUT.pdf` as a clinic types
it: the patient's latest record, `--receipt NO` for a given one, one Chinese line and a non-zero exit
when there is nothing to print."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from desktop.cli import main
from tests.forms.pdf_tools import fonts, page_texts, squash

ROOT = Path(__file__).resolve().parents[2]


def _print(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["print", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(("form", "pages", "expected"), [
    ("filing", 1, "鄂州市参保人员“两病”门诊用药保障审定表"),
    ("prescription", 2, "慢性病用药连续（外配）处方"),
    ("receipt", 1, "“两病”门诊用药退费单"),              # the latest purchase was refunded the next day
])
def test_print_writes_the_patient_latest_form(capsys, tmp_path, forms_clinic, form, pages, expected):
    out = tmp_path / f"{form}.pdf"
    code, stdout, err = _print(capsys, form, "--db", str(forms_clinic.path), "--patient", forms_clinic.regular,
                               "-o", str(out))
    assert code == 0 and err == "" and str(out) in stdout
    pdf = out.read_bytes()
    texts = page_texts(pdf)
    assert len(texts) == pages and all(expected in squash(text) for text in texts)
    assert all(f.embedded for f in fonts(pdf))
    assert not list(tmp_path.glob(".*.tmp"))                        # written beside, then renamed over


def test_print_receipt_by_number_prints_that_receipt(capsys, tmp_path, forms_clinic):
    out = tmp_path / "receipt.pdf"
    code, _, err = _print(capsys, "receipt", "--db", str(forms_clinic.path), "--receipt", forms_clinic.receipt_no,
                          "-o", str(out))
    assert code == 0, err
    flat = squash(page_texts(out.read_bytes())[0])
    assert "“两病”门诊用药结算单" in flat and f"结算单号{forms_clinic.receipt_no}" in flat


@pytest.mark.parametrize(("args", "reason"), [
    (("filing", "--patient", "420704199901010000"), "找不到身份证号为 420704199901010000 的患者"),
    (("filing", "--patient", "unfiled"), "患者 赵德福 没有“两病”备案记录，无法打印附件2 审定表"),
    (("prescription", "--patient", "filed_only"), "患者 钱桂英 没有慢性病连续处方，无法打印附件3 连续处方"),
    (("receipt", "--patient", "filed_only"), "患者 钱桂英 没有结算记录，无法打印结算单"),
    (("receipt", "--receipt", "H42070400101-20990101-0001"), "找不到单号为 H42070400101-20990101-0001 的结算单"),
    (("receipt", "--patient", "unfiled", "--receipt", "refund_no"), "不是身份证号"),
    (("filing",), "请用 --patient 指定患者身份证号"),
])
def test_nothing_to_print_is_one_chinese_line_and_a_non_zero_exit(capsys, tmp_path, forms_clinic, args, reason):
    args = [getattr(forms_clinic, a, a) for a in args]              # fixture names → the fixed clinic's values
    out = tmp_path / "out.pdf"
    out.write_bytes(b"an earlier print")
    code, stdout, err = _print(capsys, *args, "--db", str(forms_clinic.path), "-o", str(out))
    assert code != 0 and stdout == ""
    assert err.count("\n") == 1 and reason in err, err
    assert out.read_bytes() == b"an earlier print"                  # nothing already saved is touched


def test_the_installed_command_fails_cleanly_without_a_traceback(tmp_path, forms_clinic):
    missing = tmp_path / "no-such-folder" / "out.pdf"
    done = subprocess.run([sys.executable, "-m", "desktop.cli", "print", "filing", "--db", str(forms_clinic.path),
                           "--patient", forms_clinic.regular, "-o", str(missing)], cwd=ROOT, capture_output=True,
                          text=True, encoding="utf-8", timeout=120)
    assert done.returncode == 1
    assert done.stderr == f"liangbing: 无法写入 {missing}：文件夹不存在\n"
    assert "Traceback" not in done.stderr and not missing.parent.exists()

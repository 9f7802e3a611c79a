"""Printed forms: the 附件3 continuous prescription (both copies, one PDF) after warm-up, timed against a
bare two-page reportlab document in the same embedded CJK font, made in the same process.

Run: .venv/bin/python bench/bench_forms.py [--scale small|full]

Rows: the 附件3 PDF from plain data; the same read from a demo clinic database first (what `liangbing
print prescription` and the GUI do); a 30-line 附件3 (six sheets); 附件2. The issue's target is the
first two under 100 ms on the bench machine; the ratio is what compares across machines (an old
village PC is slower at both). No assertions: the numbers are for a human to read.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
from datetime import date
from pathlib import Path

from sqlalchemy import select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.timing import result_row as _row  # noqa: E402
from bench.timing import timings as _timings  # noqa: E402
from clinic.db.engine import open_database  # noqa: E402
from clinic.db.models import Filing, Prescription  # noqa: E402
from clinic.demo import build_demo  # noqa: E402
from forms.filing_form import filing_form_data, render_filing_form  # noqa: E402
from forms.layout import new_canvas  # noqa: E402
from forms.prescription_form import PrescriptionFormData, RxLine, prescription_form_data, render_prescription  # noqa: E402,E501

REPEATS = {"small": 15, "full": 100}
WARM_UP = 3


def timings(make, repeats: int) -> list[float]:
    return _timings(make, repeats, WARM_UP)
TARGET_SECONDS = 0.100


def typical_prescription(lines: int = 3) -> PrescriptionFormData:
    drugs = [("苯磺酸氨氯地平片", "5mg", "84片", "口服 每日1次 每次1片（84天）"),
             ("盐酸二甲双胍片", "0.5g", "168片", "口服 每日2次 每次1片（84天）"),
             ("缬沙坦胶囊", "80mg", "84粒", "口服 每日1次 每次1粒（84天）")]
    return PrescriptionFormData(
        institution="鄂州市华容区临江乡临江村卫生室", name="张秀兰", sex="女", age=67, category="普通居民",
        outpatient_no="MZ202600123", department="全科", address="鄂州市华容区临江乡燕矶村3组12号",
        phone="13871234567", diagnosis="原发性高血压、2型糖尿病", prescribed_on=date(2026, 3, 2),
        valid_until=date(2026, 5, 24), prescriber="王建华",
        lines=tuple(RxLine(*drugs[i % len(drugs)]) for i in range(lines)), refill_window_days=15)


def bare_two_pages() -> bytes:
    """The floor: two A4 pages with a title and a dozen lines in the same embedded CJK face."""
    buffer = io.BytesIO()
    canvas = new_canvas(buffer, "baseline")
    for copy in ("医疗机构留存", "患者留存"):
        canvas.setFont("DroidSansFallback", 16)
        canvas.drawString(60, 780, "鄂州市华容区临江乡临江村卫生室慢性病用药连续（外配）处方")
        canvas.setFont("DroidSansFallback", 11)
        canvas.drawString(480, 810, copy)
        for i in range(12):
            canvas.drawString(60, 740 - 20 * i, "姓名 张秀兰 性别 女 年龄 67 苯磺酸氨氯地平片 5mg 84片 口服 每日1次")
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def run(scale: str = "full") -> list[dict]:
    """Rows of seconds: name, scale, median, min, max, baseline_median, ratio (median / baseline)."""
    if scale not in REPEATS:
        raise ValueError(f"scale must be one of {', '.join(REPEATS)}")
    repeats = REPEATS[scale]
    baseline = timings(bare_two_pages, repeats)
    rows = [_row("附件3 处方 PDF, 2 copies (render)", scale, timings(lambda: render_prescription(
        typical_prescription()), repeats), baseline)]
    with tempfile.TemporaryDirectory() as tmp:
        db = open_database(Path(tmp) / "demo.db")
        build_demo(db, patients=30, today=date(2026, 3, 15))
        with db.sessions() as s:
            rx = s.scalars(select(Prescription).order_by(Prescription.prescribed_on.desc())).first()
            filing = s.scalars(select(Filing).order_by(Filing.filed_on.desc())).first()

            def from_database() -> bytes:
                s.expire_all()                          # read the rows again, as a fresh print would
                return render_prescription(prescription_form_data(s, s.get(Prescription, rx.id)))

            rows.append(_row("附件3 处方 PDF, 2 copies (db read + render)", scale, timings(from_database, repeats),
                             baseline))
            rows.append(_row("附件2 审定表 PDF (db read + render)", scale, timings(
                lambda: render_filing_form(filing_form_data(s, s.get(Filing, filing.id))), repeats), baseline))
        db.close()
    rows.append(_row("附件3 处方 PDF, 30 lines = 6 pages (render)", scale, timings(lambda: render_prescription(
        typical_prescription(30)), max(5, repeats // 4)), baseline))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=tuple(REPEATS), default="full")
    args = parser.parse_args()
    rows = run(args.scale)
    print(f"baseline (bare two-page PDF, same font): median {rows[0]['baseline_median'] * 1000:.1f} ms")
    for row in rows:
        print(f"  {row['name']:<44} median {row['median'] * 1000:6.1f} ms  min {row['min'] * 1000:6.1f}  "
              f"max {row['max'] * 1000:6.1f}  ratio {row['ratio']:5.1f}×")
    worst = max(rows[0]["median"], rows[1]["median"])
    verdict = "within" if worst < TARGET_SECONDS else "OVER"
    print(f"附件3 target < {TARGET_SECONDS * 1000:.0f} ms after warm-up: {verdict} ({worst * 1000:.1f} ms)")


if __name__ == "__main__":
    main()

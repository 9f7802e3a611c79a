"""`python -m bench` at its tiny smoke scale, so the benchmark runner and every measurement it gathers
cannot rot; and the generated data keep the shape the benchmarks rely on. No timing is asserted: the
figures of a smoke run mean nothing (benchmarks are read by a human from `python -m bench`)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections import defaultdict
from datetime import date
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
KEYS = {"name", "scale", "median", "min", "max", "baseline_median", "ratio"}


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    work = tmp_path_factory.mktemp("bench")
    done = subprocess.run([sys.executable, "-m", "bench", "--scale", "tiny", "--data", str(work / "data"),
                           "--out", str(work / "results.json")], cwd=ROOT, capture_output=True, text=True,
                          timeout=900)
    return work, done


def test_runner_measures_every_item_of_the_issue_and_writes_results(smoke):
    work, done = smoke
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    result = json.loads((work / "results.json").read_text(encoding="utf-8"))
    rows = result["results"]
    assert {row["measurement"] for row in rows} == {"gui", "search", "settle", "worklist", "forms", "sync", "reports",
                                                    "township"}
    assert {row["item"] for row in rows} == {1, 2, 3, 4, 5, 6, 7}
    for row in rows:
        assert KEYS <= row.keys() and not row.get("error"), row
        assert row["min"] <= row["median"] <= row["max"], row
        assert row["baseline_median"] > 0 and row["ratio"] == pytest.approx(row["median"] / row["baseline_median"])
    memory = [row for row in rows if row.get("unit") == "MB"]
    assert memory and all(50 < row["median"] < 4000 for row in memory)     # megabytes, not kilobytes or bytes
    search = [row for row in rows if row["measurement"] == "search"]
    assert {"pinyin initials", "name", "ID tail"} <= {row["name"].split(": ")[-1] for row in search}
    assert all(row["p95"] >= row["median"] for row in search)
    assert "baseline median" in done.stdout and "ratio" in done.stdout


def test_markdown_table_has_a_line_per_result(smoke):
    work, _ = smoke
    done = subprocess.run([sys.executable, "-m", "bench", "--markdown", "--out", str(work / "results.json")],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    rows = json.loads((work / "results.json").read_text(encoding="utf-8"))["results"]
    table = [line for line in done.stdout.splitlines() if line.startswith("| ") and "measurement" not in line]
    assert done.returncode == 0 and len(table) == len(rows)


def test_unknown_measurement_is_one_line_and_nonzero():
    done = subprocess.run([sys.executable, "-m", "bench", "--only", "gui,nonsense"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "nonsense" in done.stderr and "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_generated_clinic_has_the_distributions_the_benchmarks_claim(smoke):
    work, _ = smoke
    conn = sqlite3.connect(work / "data" / "clinic-100.db")
    diseases = defaultdict(set)
    for patient_id, disease in conn.execute("SELECT patient_id, disease FROM filing"):
        diseases[patient_id].add(disease)
    both = sum(len(d) == 2 for d in diseases.values()) / len(diseases)
    assert 0.10 <= both <= 0.35                                  # about 20 % have both diseases
    insurances = dict(conn.execute("SELECT insurance, count(*) FROM patient GROUP BY 1"))
    assert set(insurances) == {"resident", "employee", "employee_supplementary"}
    assert insurances["resident"] > insurances["employee"] > insurances["employee_supplementary"]
    # Every purchase is settled once; a refund reverses it with every amount negated.
    assert conn.execute("SELECT count(*) FROM dispense d WHERE (SELECT count(*) FROM settlement s WHERE "
                        "s.dispense_id = d.id AND s.reverses_id IS NULL) <> 1").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM settlement r JOIN settlement o ON o.id = r.reverses_id WHERE "
                        "r.total <> -o.total OR r.fund_pay <> -o.fund_pay").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM settlement WHERE self_pay <> total - fund_pay").fetchone()[0] == 0
    # Refills every 4–12 weeks: up to a week early (inside the refill window; the days left stack onto the
    # next supply, so the gap after an early visit is that much longer) and up to 5 days late.
    gaps, last = [], {}
    for patient_id, on in conn.execute("SELECT patient_id, dispensed_on FROM dispense ORDER BY patient_id, "
                                       "dispensed_on"):
        on = date.fromisoformat(on)
        if patient_id in last:
            gaps.append((on - last[patient_id]).days)
        last[patient_id] = on
    assert gaps and all(28 - 7 <= gap <= 84 + 7 + 5 for gap in gaps)
    assert min(gaps) < 35 and max(gaps) > 70                     # both ends of the range occur
    conn.close()

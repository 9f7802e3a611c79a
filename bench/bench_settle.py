"""Settling one purchase on a generated clinic of 10,000 patients (500 at small scale), as the 配药结算
dialog's confirmation does it (desktop/gui/ops_dispense.confirm: the policy in force, entitlement,
refill-window and over-quantity checks, stock taken first-expiring first, year-to-date, the settlement
engine, the receipt number, the outbox row, one committed transaction with SQLite's synchronous=FULL),
each round a different patient whose supply is running out; and the dialog's preview (the same,
rolled back). Baseline: the pure calculation (clinic.settlement.settle) of the same purchases.
The target is < 20 ms for the confirmation.

Run: .venv/bin/python -m bench.bench_settle [--scale small|full]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):                    # run as a script: python bench/bench_settle.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select  # noqa: E402

from bench.generate import CLINIC_PATIENTS, TODAY, Datasets, datasets  # noqa: E402
from bench.timing import result_row, timings  # noqa: E402
from clinic.db.engine import copy_database, open_database  # noqa: E402
from clinic.db.models import Dispense, Patient, Prescription, Settlement  # noqa: E402
from clinic.dispensing import running_out
from clinic.filings import entitlements  # noqa: E402
from clinic.profile import policy_in_force  # noqa: E402
from clinic.settlement import Item, Purchase, settle  # noqa: E402
from desktop.gui.context import UserInfo  # noqa: E402
from desktop.gui.ops_dispense import confirm, preview  # noqa: E402

ROUNDS = {"tiny": 2, "small": 15, "full": 40}
WARM_UP = {"tiny": 0, "small": 2, "full": 2}      # first rounds, not timed: statement and page caches
TARGET_SECONDS = 0.020
PHARMACIST = UserInfo("pharmacist", "李秀英", "pharmacist")
DAYS = 28


def candidates(db) -> list[str]:
    """Active prescriptions on the bench day of patients whose supply runs out inside the refill window
    (the home screen's 将断药 list), soonest first."""
    with db.session() as s:
        window = policy_in_force(s, TODAY).refill_window_days
        due = list(dict.fromkeys(r.patient_id for r in running_out(s, TODAY, window)))
        rows = dict(s.execute(select(Prescription.patient_id, Prescription.id).where(
            Prescription.state == "active", Prescription.prescribed_on <= TODAY, Prescription.valid_until >= TODAY,
            Prescription.deleted_at.is_(None)).order_by(Prescription.prescribed_on)).all())
    return [rows[patient_id] for patient_id in due if patient_id in rows]


def purchase_of(db, settlement_id: str) -> tuple:
    """The stored purchase again as the engine's input, for the pure-calculation baseline."""
    with db.session() as s:
        settlement = s.get(Settlement, settlement_id)
        dispense = s.get(Dispense, settlement.dispense_id)
        patient = s.get(Patient, settlement.patient_id)
        policy = policy_in_force(s, TODAY)
        filings = tuple(entitlements(s, patient, policy, TODAY))
        items = tuple(Item(line.drug_code, line.drug_name, line.disease, line.quantity, line.unit_price,
                           line.payment_standard) for line in dispense.lines)
        ytd = {d.disease: d.cap - d.cap_remaining - d.fund_pay for d in settlement.diseases}
        return policy, Purchase(TODAY, settlement.insurance, settlement.contribution, filings,
                                settlement.institution_level, settlement.prescriber_level, items, ytd_fund_paid=ytd)


def run(scale: str = "full", data: Datasets | None = None) -> list[dict]:
    if scale not in CLINIC_PATIENTS:
        raise ValueError(f"scale must be one of {', '.join(CLINIC_PATIENTS)}")
    rounds, warm = ROUNDS[scale], WARM_UP[scale]
    with datasets(data) as data, tempfile.TemporaryDirectory(prefix="bench-settle-") as tmp:
        path = Path(tmp) / "clinic.db"
        copy_database(data.clinic(CLINIC_PATIENTS[scale]), path)      # the cached file stays as generated
        db = open_database(path)
        try:
            db.load_local_institution()
            previews, confirms, stored, refused = [], [], [], 0
            for rx_id in candidates(db):
                if len(confirms) >= rounds + warm:
                    break
                started = time.perf_counter()
                shown = preview(db, PHARMACIST, rx_id, DAYS, TODAY)
                elapsed = time.perf_counter() - started
                if shown.refusal:
                    refused += 1                         # not due yet, or the prescription is used up
                    continue
                previews.append(elapsed)
                started = time.perf_counter()
                done = confirm(db, PHARMACIST, rx_id, DAYS, TODAY)
                confirms.append(time.perf_counter() - started)
                stored.append(done.settlement_id)
            if len(confirms) < rounds + warm:
                raise RuntimeError(f"only {len(confirms)} patients were due for a refill on {TODAY}")
            purchases = [purchase_of(db, settlement_id) for settlement_id in stored]
        finally:
            db.close()
    baseline = timings(lambda: [settle(policy, purchase) for policy, purchase in purchases], 20, warm_up=3)
    baseline = [t / len(purchases) for t in baseline]
    confirms, previews = confirms[warm:], previews[warm:]
    return [result_row(f"settle one purchase: confirm, db reads + writes + commit ({CLINIC_PATIENTS[scale]:,} "
                       "patients)", scale, confirms, baseline, target="< 20 ms",
                       met=statistics.median(confirms) < TARGET_SECONDS, refused=refused),
            result_row("settle one purchase: dialog preview (same work, rolled back)", scale, previews, baseline)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=tuple(CLINIC_PATIENTS), default="full")
    parser.add_argument("--data", type=Path, default=None, help="folder of generated databases to reuse")
    args = parser.parse_args()
    rows = run(args.scale, Datasets(args.data) if args.data else None)
    print(f"pure calculation (clinic.settlement.settle): median {rows[0]['baseline_median'] * 1e6:.0f} µs")
    for row in rows:
        print(f"  {row['name']:<70} median {row['median'] * 1000:6.1f} ms  min {row['min'] * 1000:6.1f}  "
              f"max {row['max'] * 1000:6.1f}  ratio {row['ratio']:7.0f}×")


if __name__ == "__main__":
    main()

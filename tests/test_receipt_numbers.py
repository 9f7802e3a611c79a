"""Receipt numbers are unique under two writers on one clinic file and never reused after a crash
(clinic/settlement/service.py next_receipt_no): two real processes settle on one SQLite file at once."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

from sqlalchemy import select

from clinic.db.engine import open_database
from clinic.db.models import ReceiptCounter, Settlement
from tests.ledger_helpers import make_shop

WRITER = textwrap.dedent("""
    import sys
    from datetime import date
    from pathlib import Path
    sys.path.insert(0, {root!r})
    from clinic.db.engine import open_database
    from tests.ledger_helpers import Shop
    db = open_database(Path({path!r}))
    shop = Shop(db, {patient!r})
    print("ready", flush=True)
    sys.stdin.readline()                     # both start together
    sold = [shop.buy(date(2026, 3, 2), ("T1", "T2", "T3")[i % 3], 1) for i in range({count})]
    for settlement in sold:                  # refunds read nothing else before they number the receipt
        shop.refund(settlement, date(2026, 3, 2))
    db.close()
""")


def test_two_writers_on_one_file_never_issue_the_same_receipt_number(tmp_path):
    shop = make_shop(tmp_path / "c.db")
    root = str(Path(__file__).resolve().parent.parent)
    script = WRITER.format(root=root, path=str(shop.db.path), patient=shop.patient_id, count=10)
    procs = [subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for proc in procs:
        assert proc.stdout.readline().strip() == "ready"
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    with shop.db.session() as s:
        numbers = s.scalars(select(Settlement.receipt_no)).all()
    assert len(numbers) == 40 and len(set(numbers)) == 40
    assert sorted(numbers) == sorted([f"H42070400101-20260302-{n:04d}" for n in range(1, 21)]
                                     + [f"TFH42070400101-20260302-{n:04d}" for n in range(1, 21)])


def test_a_receipt_number_is_not_reused_after_a_crash_or_a_restore(tmp_path):
    shop = make_shop(tmp_path / "c.db")
    first = shop.buy(date(2026, 3, 2), "T1", 1)
    # A transaction that died before its commit (power cut) hands out nothing: the next number follows
    # the last committed one.
    try:
        with shop.db.session("doctor") as s:
            from clinic.settlement.service import next_receipt_no
            assert next_receipt_no(s, "H42070400101", date(2026, 3, 2)) == "H42070400101-20260302-0002"
            raise RuntimeError("power cut")
    except RuntimeError:
        pass
    second = shop.buy(date(2026, 3, 2), "T2", 1)
    assert (first.receipt_no, second.receipt_no) == ("H42070400101-20260302-0001", "H42070400101-20260302-0002")
    # The counter is behind the receipts on file (a backup restored, receipts pulled back): never reused.
    with shop.db.session() as s:
        s.get(ReceiptCounter, "H42070400101-20260302-").last = 0
    assert shop.buy(date(2026, 3, 2), "T1", 1).receipt_no == "H42070400101-20260302-0003"
    db = open_database(shop.db.path)
    db.close()

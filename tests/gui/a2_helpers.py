"""Helpers for helper A2's GUI tests (prescribe, dispense and settle, refunds): a real clinic database
with drugs in stock and an entitled patient, a logged-in doctor, and waiting for the task runner."""

from __future__ import annotations

import subprocess
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from clinic import stock
from clinic.db.engine import open_database
from clinic.db.models import Drug
from clinic.profile import create_local_institution, set_policy_setting
from desktop.gui.context import AppContext, UserInfo
from desktop.gui.tasks import TaskRunner
from tests.clinic_fixtures import AML, AMX, MET, add_drugs, add_patient

TODAY = date(2026, 3, 2)
DOCTOR = UserInfo("doctor", "王医生", "doctor")
NIF = "XC08CAA002"          # a second antihypertensive: 硝苯地平缓释片, 乙类, no stock

__all__ = ["AML", "AMX", "DOCTOR", "MET", "NIF", "TODAY", "finish_background_work", "make_clinic", "make_ctx",
           "pdf_text", "wait_idle"]
_contexts: list[AppContext] = []


def make_clinic(path: Path, region: str = "ezhou", diseases=("hypertension",), settings: dict | None = None,
                level: str = "1"):
    """A village clinic (一级, or `level`) under `region`'s policy, the test drugs with pinyin initials, 1000 of
    amlodipine and metformin in stock, and 张三 filed for `diseases`. Returns (db, patient id)."""
    db = open_database(path)
    with db.session("admin") as s:
        create_local_institution(s, "H42070400101", "临江乡卫生室", level, region, "H420704001", "临江乡卫生院")
    db.load_local_institution()
    with db.session("admin") as s:
        # The administrator's 支付标准 choice where the document names none (鄂州, 吕梁, 达州).
        chosen = {"payment_standard": "vbp_price"} if region != "yunnan" else {}
        for key, value in {**chosen, **(settings or {})}.items():
            set_policy_setting(s, region, key, value)
        add_drugs(s)
        s.add(Drug(code=NIF, generic_name="硝苯地平缓释片", spec="20mg", form="片剂", unit="片", package="30片/盒",
                   drug_class="antihypertensive", category="乙", retail_price=Decimal("0.80")))
        s.flush()
        from clinic.catalogue import pinyin_initials
        for drug in s.query(Drug):
            drug.pinyin_initials = pinyin_initials(drug.generic_name)
        patient = add_patient(s, diseases=diseases)
        stock.receive(s, AML, "L1", date(2027, 12, 31), Decimal(1000), date(2026, 1, 5))
        stock.receive(s, MET, "M1", date(2027, 12, 31), Decimal(1000), date(2026, 1, 5))
    return db, patient.id


def make_ctx(db, user: UserInfo = DOCTOR, today: date = TODAY) -> AppContext:
    ctx = AppContext(db=db, runner=TaskRunner(), user=user, clinic_name="临江乡卫生室", today=lambda: today)
    _contexts.append(ctx)
    return ctx


@pytest.fixture(autouse=True)
def finish_background_work(qtbot):
    """After each test (passed or not), let every task finish and deliver its result before the widgets
    and runners are torn down: a worker must never signal into a deleted object."""
    yield
    for ctx in _contexts:
        ctx.runner.wait()
    qtbot.wait(50)
    _contexts.clear()


def wait_idle(qtbot, ctx: AppContext, timeout: int = 20000) -> None:
    """Until every background task has finished and its result has reached the widgets (a callback may
    start the next task, so wait twice over a short pause)."""
    for _ in range(2):
        qtbot.waitUntil(lambda: not ctx.runner.busy, timeout=timeout)
        qtbot.wait(30)


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "out.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True,
                          text=True).stdout

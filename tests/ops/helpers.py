"""Shared builders for the operations tests: patients, the command line, damaged files."""

from __future__ import annotations

import contextlib
import io
import os
import sqlite3
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

from clinic.db.engine import Database
from clinic.idcard import make_id_number
from clinic.patients import register_patient

ROOT = Path(__file__).resolve().parents[2]


def id_number(i: int) -> str:
    """A distinct, valid ID number for each i (birth dates from 1950, three-digit sequence)."""
    return make_id_number("420704", date(1950, 1, 1) + timedelta(days=i // 1000), i % 1000)


def patient_name(i: int) -> str:
    return "病人" + "".join("零一二三四五六七八九"[int(d)] for d in str(i))


def add_patients(db: Database, n: int, start: int = 0, user: str = "doctor") -> list[str]:
    """n patients registered through the domain function, in one unit of work; returns their ids."""
    ids = []
    with db.session(user) as s:
        for i in range(start, start + n):
            patient, _ = register_patient(s, name=patient_name(i), id_number=id_number(i), phone="13800000001")
            ids.append(patient.id)
    return ids


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`liangbing ARGS` through its real entry point (desktop.cli.main), in this process: the same
    parsing, error handling and output as the installed command, without a new interpreter each time."""
    from desktop.cli import main

    out, err = io.StringIO(), io.StringIO()
    saved = {key: os.environ.get(key) for key in env or {}}
    os.environ.update(env or {})
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exc:           # argparse: usage errors and --version
                code = exc.code if isinstance(exc.code, int) else 1
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return subprocess.CompletedProcess(["liangbing", *args], code, out.getvalue(), err.getvalue())


def cli_process(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`liangbing ARGS` in a process of its own (when the test is about the process itself)."""
    return subprocess.run([sys.executable, "-m", "desktop.cli", *args], capture_output=True, text=True,
                          encoding="utf-8", timeout=300, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


def count_rows(path: Path, table: str) -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        conn.close()


def corrupt(path: Path) -> None:
    """Garble pages in the middle of a closed database file, as a bad sector or a half-written page
    would, leaving its header intact so SQLite still opens it."""
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big") or 65536
    pages = len(data) // page
    assert pages >= 4, "the file is too small to damage in the middle"
    for n in range(pages // 3, 2 * pages // 3 + 1):
        start = n * page
        data[start:start + page] = bytes((i * 37 + n) % 251 for i in range(page))
    path.write_bytes(bytes(data))

"""The commands of issue 5 end to end, as a township and a clinic would type them: `liangbing-server
add-clinic | serve | stats`, `liangbing enrol | sync | stats`, with exit codes that say what happened."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid

import pytest

from clinic.db.engine import open_database
from tests.sync.helpers import IN_CI, NO_PG, PG_URL, ROOT, add_patients, make_clinic, server_process

CODE = "H42070400101"


ENTRY = {"liangbing": "desktop.cli", "liangbing-server": "sync.server.cli"}


def run(program: str, *args: str) -> subprocess.CompletedProcess:
    """The console script, run as its module so the test does not depend on the venv's bin folder."""
    return subprocess.run([sys.executable, "-m", ENTRY[program], *args], cwd=ROOT, capture_output=True,
                          text=True, encoding="utf-8", timeout=120)


def test_a_township_enrols_a_clinic_which_syncs_from_the_command_line(tmp_path):
    township, clinic_path = tmp_path / "township.db", tmp_path / "clinic.db"
    added = run("liangbing-server", "add-clinic", "--db", str(township), "--code", CODE, "--name", "临江村卫生室",
                "--level", "1", "--township", "临江乡")
    assert added.returncode == 0, added.stderr
    code = re.search(r"[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}", added.stdout).group(0)
    clinic = make_clinic(clinic_path, CODE)
    add_patients(clinic, 3)
    clinic.close()
    before = json.loads(run("liangbing", "stats", "--db", str(clinic_path), "--json").stdout)
    assert before["sync_pending"] == before["patient"] + before["filing"] + 4     # and 2 lots, 2 movements

    server, url = server_process(str(township))
    try:
        enrolled = run("liangbing", "enrol", "--db", str(clinic_path), "--server", url, "--code", code)
        assert enrolled.returncode == 0 and "临江村卫生室" in enrolled.stdout, enrolled.stderr
        synced = run("liangbing", "sync", "--db", str(clinic_path), "--json")
        assert synced.returncode == 0, synced.stderr
        assert json.loads(synced.stdout)["accepted"] == before["sync_pending"]
        counts = json.loads(run("liangbing-server", "stats", "--db", str(township), "--json").stdout)
        assert counts[CODE]["patient"] == 3 and counts[CODE]["filing"] == 3
        assert json.loads(run("liangbing", "stats", "--db", str(clinic_path), "--json").stdout)["sync_pending"] == 0
    finally:
        server.terminate()
        server.wait(timeout=30)
    db = open_database(clinic_path)
    add_patients(db, 1, start=50)
    db.close()
    offline = run("liangbing", "sync", "--db", str(clinic_path))
    assert offline.returncode == 3 and "无法连接乡镇服务器" in offline.stderr and "Traceback" not in offline.stderr


def test_a_wrong_enrolment_code_fails_with_one_line(tmp_path):
    township = tmp_path / "township.db"
    run("liangbing-server", "add-clinic", "--db", str(township), "--code", CODE, "--name", "临江村卫生室",
        "--level", "1", "--township", "临江乡")
    make_clinic(tmp_path / "clinic.db", CODE).close()
    server, url = server_process(str(township))
    try:
        wrong = run("liangbing", "enrol", "--db", str(tmp_path / "clinic.db"), "--server", url,
                    "--code", "AAAA-BBBB-CCCC")
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert wrong.returncode == 1 and "接入码无效" in wrong.stderr and len(wrong.stderr.strip().splitlines()) == 1


def test_a_postgresql_database_not_made_for_utf8_is_refused_with_one_line():
    if not PG_URL:
        (pytest.fail if IN_CI else pytest.skip)(NO_PG)
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"lb_ascii_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:         # what `createdb` makes in a bare container's "C" locale
        conn.execute(text(f"CREATE DATABASE \"{name}\" ENCODING 'SQL_ASCII' TEMPLATE template0 "
                          f"LC_COLLATE 'C' LC_CTYPE 'C'"))
    try:
        url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
        refused = run("liangbing-server", "stats", "--db", url)
        assert refused.returncode == 1 and "Traceback" not in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1 and "须为 UTF8" in refused.stderr
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

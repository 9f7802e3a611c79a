"""Benchmark data: a clinic file (500 or 10,000 patients), a township server database (30 clinics, SQLite)
and a county one (200 clinics × 12 months ≈ 1 million settlements, PostgreSQL), with the distributions
of bench/population.py, settled by the real engine and written with the real schema (clinic/db/models).

    python -m bench.generate clinic --patients 10000 --db clinic.db
    python -m bench.generate township --clinics 30 --patients 300 --db township.db
    python -m bench.generate county --pg-url postgresql+psycopg://liangbing:liangbing@127.0.0.1/liangbing_bench_county

A clinic file is marked as demo data (it is fictional), so `liangbing gui --demo-login` opens it.
Each database records what built it (setting `bench.dataset`); `Datasets` reuses one that matches.
A PostgreSQL database is dropped and made again only if its name starts with `liangbing_bench`.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from bench.population import Clinic, bench_patient, plan_year
from bench.rows import complete, copy_rows, insert_rows
from clinic.catalogue import load_starter_catalogue, payment_standard
from clinic.db.engine import open_database
from clinic.db.models import Drug, Institution, Patient, Setting
from clinic.db.types import utcnow
from clinic.demo.build import DEMO_USERS
from clinic.demo.records import stock_rows
from clinic.patients import pinyin_keys
from clinic.policy import resolve_policy
from clinic.profile import create_local_institution, set_policy_setting
from clinic.users import create_user
from sync.server.storage import open_server_database

TODAY = date(2026, 3, 15)          # the reports benchmark's day: its month (2026-02) has a full year behind it
VERSION = 1                        # bump when the generated data changes, so cached databases are rebuilt
CLINIC_CODE = "H42070400101"
TOWNSHIPS = ["临江乡", "蒲团乡", "庙岭镇", "段店镇", "葛店镇", "华容镇", "燕矶镇", "杨叶镇", "泽林镇", "长港镇",
             "沼山镇", "涂家垴镇"]
Log = Callable[[str], None]
# Sizes per benchmark scale: a clinic's patients; a township's clinics × mean patients; the county's.
# "tiny" only keeps the runner from rotting (tests/test_bench_smoke.py); its figures mean nothing.
CLINIC_PATIENTS = {"tiny": 100, "small": 500, "full": 10_000}
TOWNSHIP = {"tiny": (3, 15), "small": (30, 20), "full": (30, 300)}
COUNTY = {"tiny": (5, 10), "small": (200, 10), "full": (200, 690)}


def signature(kind: str, **params) -> str:
    return f"v{VERSION} {kind} " + " ".join(f"{k}={v}" for k, v in sorted(params.items()))


def clinic_tables(rng: random.Random, clinic: Clinic, drugs: list[Drug], patients: int, *,
                  stock: bool = True) -> dict[type, list[dict]]:
    tables: dict[type, list[dict]] = {Patient: []}
    used: set[str] = set()
    for n in range(1, patients + 1):
        row = bench_patient(rng, n, clinic.today)
        while row["id_number"] in used:               # one living patient per ID number in a clinic
            row = bench_patient(rng, n, clinic.today)
        used.add(row["id_number"])
        row["pinyin_full"], row["pinyin_initials"] = pinyin_keys(row["name"])
        plan = plan_year(rng, clinic, row)
        row.update(id=plan.patient_id, managed_hypertension="hypertension" in plan.managed,
                   managed_diabetes="diabetes" in plan.managed)
        tables[Patient].append(row)
        for model, rows in plan.rows.items():
            tables.setdefault(model, []).extend(rows)
    if stock:
        for model, rows in stock_rows(rng, tables, drugs, clinic.today).items():
            tables.setdefault(model, []).extend(rows)
    complete(tables, clinic.code, utcnow())
    return tables


# The clinics' administrators chose 集采中选价 as the 支付标准 (鄂州's document names none).
EZHOU_LOCAL = {"ezhou": {"payment_standard": "vbp_price"}}


def _catalogue(session, today: date):
    policy = resolve_policy("ezhou", today, local=EZHOU_LOCAL)
    drugs = [d for d in session.scalars(select(Drug).where(Drug.active)) if d.drug_class != "other"]
    return policy, drugs, {d.code: payment_standard(d, policy) for d in drugs}


def build_clinic(path: Path, patients: int, *, today: date = TODAY, seed: int = 8) -> dict[str, int]:
    """One village clinic's file, as the clinic itself holds it (staff, catalogue, stock, a year of work)."""
    db = open_database(path)
    try:
        with db.session("bench") as s:
            create_local_institution(s, CLINIC_CODE, "鄂州市华容区临江乡临江村卫生室", "1", "ezhou",
                                     CLINIC_CODE[:-2], "华容区临江乡卫生院")
            set_policy_setting(s, "ezhou", "payment_standard", "vbp_price")   # the document names no 支付标准
        db.load_local_institution()
        with db.session("bench") as s:
            for username, name, role, secret in DEMO_USERS:
                create_user(s, username, name, role, secret, insurance_doctor_code=f"D{CLINIC_CODE}{username[:2]}")
            load_starter_catalogue(s)
            s.add(Setting(key="demo", value="1"))      # fictional data: said so on every screen and printout
            policy, drugs, standards = _catalogue(s, today)
        tables = clinic_tables(random.Random(seed), Clinic(CLINIC_CODE, "1", policy, drugs, standards, today),
                               drugs, patients)
        with db.session("bench") as s:
            counts = insert_rows(s.connection(), tables)
            s.add(Setting(key="bench.dataset", value=signature("clinic", patients=patients, today=today, seed=seed)))
        with db.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
        return counts
    finally:
        db.close()


def institutions(clinics: int, *, county: bool) -> list[dict]:
    """Village clinics (一级) grouped in townships; a county also has its hospitals and pharmacies."""
    rows = []
    for i in range(clinics):
        township = TOWNSHIPS[i // 17 % len(TOWNSHIPS)] if county else TOWNSHIPS[0]
        level, kind = "1", f"{i % 17 + 1}村卫生室" if county else f"{i + 1}村卫生室"
        if county and i % 40 == 39:
            level, kind = ("2" if i % 80 == 39 else "3"), "人民医院"
        elif county and i % 20 == 9:
            level, kind = "pharmacy", "大药房"
        township_code = f"H420704{TOWNSHIPS.index(township):03d}"
        rows.append({"code": f"{township_code}{i:03d}", "name": f"鄂州市华容区{township}{kind}", "level": level,
                     "region": "ezhou", "township_code": township_code, "township_name": f"华容区{township}卫生院",
                     "is_local": False})
    return rows


def build_server(target: str | Path, clinics: int, mean_patients: int, *, county: bool = False,
                 today: date = TODAY, seed: int = 30, log: Log = print) -> dict[str, int]:
    """A township (or county) server database: the union of its clinics' records, as sync leaves it."""
    db = open_server_database(target)
    counts: dict[str, int] = {}
    rng = random.Random(seed)
    try:
        with db.session("bench", write=True) as s:
            load_starter_catalogue(s)
            s.execute(Institution.__table__.insert(), institutions(clinics, county=county))
            policy, drugs, standards = _catalogue(s, today)
        started = time.perf_counter()
        for n, inst in enumerate(institutions(clinics, county=county), start=1):
            patients = max(20, round(rng.gauss(mean_patients, mean_patients * 0.3)))   # villages differ
            clinic = Clinic(inst["code"], inst["level"], policy, drugs, standards, today)
            tables = clinic_tables(rng, clinic, drugs, patients, stock=not county)
            with db.session("bench", write=True) as s:
                write = insert_rows if db.is_sqlite else copy_rows
                for table, count in write(s.connection(), tables).items():
                    counts[table] = counts.get(table, 0) + count
            if n % 10 == 0 or n == clinics:
                log(f"  {n}/{clinics} clinics, {counts.get('settlement', 0):,} settlements, "
                    f"{time.perf_counter() - started:.0f} s")
        with db.session("bench", write=True) as s:
            s.add(Setting(key="bench.dataset", value=signature(
                "county" if county else "township", clinics=clinics, patients=mean_patients, today=today, seed=seed)))
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
        return counts
    finally:
        db.close()


def recorded_signature(url: str) -> str | None:
    """What built this database, or None when it is missing, empty or not finished."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT value FROM setting WHERE key = 'bench.dataset'")).scalar()
    except Exception:                                   # no database, or no schema yet
        return None
    finally:
        engine.dispose()


def fresh_postgres(url: str) -> None:
    """Drop and create the benchmark's own PostgreSQL database (UTF-8, C collation, as .ci/postgres.sh)."""
    parsed = make_url(url)
    name = parsed.database or ""
    if not name.startswith("liangbing_bench"):
        raise ValueError(f"benchmark databases are named liangbing_bench…; refusing to recreate {name!r}")
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.exec_driver_sql(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0 "
                                 "LC_COLLATE 'C' LC_CTYPE 'C'")
    finally:
        admin.dispose()


class Datasets:
    """Generated databases under one folder, built once and reused while their signature matches."""

    def __init__(self, root: Path, *, today: date = TODAY, log: Log = print):
        self.root, self.today, self.log = Path(root), today, log
        self.root.mkdir(parents=True, exist_ok=True)
        ignore = self.root / ".gitignore"
        if not ignore.exists():
            ignore.write_text("*\n")

    def clinic(self, patients: int) -> Path:
        path = self.root / f"clinic-{patients}.db"
        wanted = signature("clinic", patients=patients, today=self.today, seed=8)
        self._sqlite(path, wanted, f"clinic, {patients:,} patients",
                     lambda p: build_clinic(p, patients, today=self.today))
        return path

    def township(self, clinics: int, patients: int) -> Path:
        path = self.root / f"township-{clinics}x{patients}.db"
        wanted = signature("township", clinics=clinics, patients=patients, today=self.today, seed=30)
        self._sqlite(path, wanted, f"township, {clinics} clinics × ~{patients} patients",
                     lambda p: build_server(p, clinics, patients, today=self.today, log=self.log))
        return path

    def county(self, url: str, clinics: int, patients: int) -> str:
        wanted = signature("county", clinics=clinics, patients=patients, today=self.today, seed=30)
        if recorded_signature(url) != wanted:
            self.log(f"generating county, {clinics} clinics × ~{patients} patients into PostgreSQL …")
            started = time.perf_counter()
            fresh_postgres(url)
            counts = build_server(url, clinics, patients, county=True, today=self.today, log=self.log)
            self.log(f"  done in {time.perf_counter() - started:.0f} s: {_summary(counts)}")
        return url

    def _sqlite(self, path: Path, wanted: str, what: str, build: Callable[[Path], dict]) -> None:
        if path.exists() and recorded_signature(f"sqlite:///{path}") == wanted:
            return
        self.log(f"generating {what} …")
        started = time.perf_counter()
        partial = path.with_name(path.name + ".partial")
        for stale in (path, partial):
            for suffix in ("", "-wal", "-shm"):
                Path(f"{stale}{suffix}").unlink(missing_ok=True)
        counts = build(partial)
        checkpoint = sqlite3.connect(partial)          # fold the write-ahead log into the file before renaming it
        checkpoint.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        checkpoint.close()
        partial.rename(path)                         # only a finished database gets the name that is reused
        self.log(f"  done in {time.perf_counter() - started:.0f} s: {_summary(counts)}")


@contextmanager
def datasets(data: Datasets | None, log: Log = print) -> Iterator[Datasets]:
    """The caller's datasets, or throw-away ones in a temporary folder."""
    if data is not None:
        yield data
        return
    with tempfile.TemporaryDirectory(prefix="bench-data-") as tmp:
        yield Datasets(Path(tmp), log=log)


def _summary(counts: dict[str, int]) -> str:
    return ", ".join(f"{counts[t]:,} {t}" for t in ("patient", "prescription", "settlement") if t in counts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="kind", required=True)
    one = sub.add_parser("clinic", help="one clinic's SQLite file")
    one.add_argument("--patients", type=int, default=10_000)
    one.add_argument("--db", type=Path, required=True)
    many = sub.add_parser("township", help="a township server database (SQLite path or URL)")
    many.add_argument("--clinics", type=int, default=30)
    many.add_argument("--patients", type=int, default=300, help="mean patients per clinic")
    many.add_argument("--db", required=True)
    county = sub.add_parser("county", help="a county server database in PostgreSQL (recreated)")
    county.add_argument("--clinics", type=int, default=200)
    county.add_argument("--patients", type=int, default=690, help="mean patients per clinic")
    county.add_argument("--pg-url", required=True)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        if args.kind == "clinic":
            if args.db.exists():
                raise ValueError(f"{args.db} already exists; give a new file")
            counts = build_clinic(args.db, args.patients)
        elif args.kind == "township":
            counts = build_server(args.db, args.clinics, args.patients)
        else:
            fresh_postgres(args.pg_url)
            counts = build_server(args.pg_url, args.clinics, args.patients, county=True)
    except Exception as exc:                       # one line, never a traceback
        print(f"bench.generate: {exc}".splitlines()[0], file=sys.stderr)
        return 1
    print(f"done in {time.perf_counter() - started:.0f} s: {_summary(counts)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

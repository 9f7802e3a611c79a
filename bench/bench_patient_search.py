"""Patient search on 10,000 patients, timed against a trivial query on the same database.

Run: .venv/bin/python bench/bench_patient_search.py [patients] [searches]

The result is a ratio, not milliseconds, so it can be compared across machines: a village PC is slow
at both. No assertions; the number is for a human to read.
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import insert, text

from clinic.db.engine import open_database
from clinic.db.models import Patient
from clinic.idcard import make_id_number
from clinic.patients import pinyin_keys, search_patients
from clinic.profile import create_local_institution

SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏"
                "吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱"
                "严覃武戴莫孔向汤单解区仇朴查乐翟") + ["欧阳", "司马", "诸葛", "上官"]
GIVEN = list("建国华明秀英兰芳桂珍玉梅凤云霞春花德福贵文军志强伟平红丽敏静立新永海林生荣庆金银翠莲菊香娥"
             "义忠良喜光辉成祥富有山水松柏雄信藩缙家宝")
REGIONS = ["420704", "420703", "420702", "421122", "420111"]


def fictional_rows(rng: random.Random, count: int) -> list[dict]:
    rows, numbers, phones = [], set(), set()
    while len(rows) < count:
        birth = date(1935, 1, 1) + timedelta(days=rng.randrange(0, 365 * 55))
        number = make_id_number(rng.choice(REGIONS), birth, rng.randrange(1000))
        phone = f"1{rng.choice('35789')}{rng.randrange(10**8, 10**9)}"
        if number in numbers or phone in phones:
            continue
        numbers.add(number)
        phones.add(phone)
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
        full, initials = pinyin_keys(name)
        rows.append({
            "institution_code": "H1", "name": name, "sex": "男" if int(number[16]) % 2 else "女",
            "birth_date": birth, "id_number": number, "phone": phone, "insurance": "resident",
            "outpatient_no": f"MZ2025{len(rows) + 1:05d}", "pinyin_full": full, "pinyin_initials": initials,
            "address": f"鄂州市华容区临江乡{rng.randrange(1, 12)}组"})
    return rows


def queries(rng: random.Random, rows: list[dict], count: int) -> list[tuple[str, str]]:
    """(kind, query) pairs drawn from the data, the way a doctor types: names, pinyin, numbers."""
    makers = {
        "exact name": lambda r: r["name"],
        "name prefix": lambda r: r["name"][:2],
        "name substring": lambda r: r["name"][-1],
        "initials": lambda r: r["pinyin_initials"].split()[0][:rng.choice((2, 3))],
        "full pinyin prefix": lambda r: r["pinyin_full"].split()[0][:rng.randrange(4, 9)],
        "id tail": lambda r: r["id_number"][-rng.choice((4, 6)):],
        "phone": lambda r: r["phone"][-rng.choice((4, 8, 11)):],
        "outpatient no": lambda r: r["outpatient_no"],
    }
    kinds = list(makers)
    return [(kind, makers[kind](rng.choice(rows))) for kind in (kinds[i % len(kinds)] for i in range(count))]


def mean_seconds(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.fmean(times)


def main(patients: int = 10_000, searches: int = 200) -> None:
    rng = random.Random(20250101)
    with tempfile.TemporaryDirectory() as tmp:
        db = open_database(Path(tmp) / "bench.db")
        with db.session("bench") as s:
            create_local_institution(s, "H1", "测试卫生室", "1", "ezhou")
        db.load_local_institution()
        rows = fictional_rows(rng, patients)
        start = time.perf_counter()
        with db.session("bench") as s:
            s.execute(insert(Patient), rows)
        print(f"inserted {patients} patients in {time.perf_counter() - start:.1f} s")
        with db.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")

        plan = queries(rng, rows, searches)
        with db.session("bench") as s:
            for _, q in plan[:20]:                           # warm the page cache and statement cache
                search_patients(s, q)
            baseline = mean_seconds(lambda: s.execute(text("SELECT count(*) FROM patient")).scalar(), searches)
            by_kind: dict[str, list[float]] = {}
            found = 0
            for kind, q in plan:
                begin = time.perf_counter()
                found += bool(search_patients(s, q))
                by_kind.setdefault(kind, []).append(time.perf_counter() - begin)
        db.close()

    every = [t for times in by_kind.values() for t in times]
    mean = statistics.fmean(every)
    for kind, times in by_kind.items():
        print(f"  {kind:<20} mean {statistics.fmean(times) * 1000:6.2f} ms   max {max(times) * 1000:6.2f} ms")
    print(f"{found}/{len(plan)} searches found someone; baseline (SELECT count(*)) {baseline * 1000:.3f} ms")
    print(f"search/baseline ratio: {mean / baseline:.1f} (mean search {mean * 1000:.1f} ms)")


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:3]))

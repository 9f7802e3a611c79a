"""Fictional patients: names, valid-check-digit ID numbers, phones, addresses, insurance."""

from __future__ import annotations

import random
from datetime import date, timedelta

from clinic.idcard import make_id_number

# Common surnames, with the polyphonic ones (单 曾 解 区 仇) a search must read as surnames.
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏"
                "吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱"
                "严覃武戴莫孔向汤单解区仇")
GIVEN = list("建国华明秀英兰芳桂珍玉梅凤云霞春花德福贵文军志强伟平红丽敏静立新永海林生荣庆金银翠莲菊香娥"
             "义忠良喜光辉成祥富有山水松柏")
VILLAGES = ["临江村", "燕矶村", "蒲团村", "段店村", "葛店村", "华容村", "庙岭村", "长港村"]
REGION = "420704"          # 鄂州市华容区 (GB/T 2260), matching the demo clinic
CATEGORIES = ["普通居民", "退休人员", "在职职工", "低保对象", "特困人员", "脱贫人口"]


def fictional_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))


def fictional_patient(rng: random.Random, n: int, today: date, birth: date | None = None,
                      signed_share: float = 0.75) -> dict:
    """`birth` and `signed_share` let the benchmark generator draw its own age distribution."""
    if birth is None:
        birth = date(1940, 1, 1) + timedelta(days=rng.randrange(0, 365 * 46))
    seq = rng.randrange(0, 1000)
    id_number = make_id_number(REGION, birth, seq)
    roll = rng.random()
    insurance, contribution = "resident", None
    if roll > 0.95:
        insurance = "employee_supplementary"
    elif roll > 0.80:
        insurance, contribution = "employee", rng.choice(["100", "100", "100", "80", "60", "standalone"])
    category = rng.choice(CATEGORIES[:1] * 6 + CATEGORIES[1:]) if insurance == "resident" else \
        rng.choice(CATEGORIES[1:3])
    return {
        "name": fictional_name(rng), "sex": "男" if int(id_number[16]) % 2 else "女", "birth_date": birth,
        "id_number": id_number, "phone": f"1{rng.choice('35789')}{rng.randrange(10**8, 10**9)}",
        "address": f"鄂州市华容区临江乡{rng.choice(VILLAGES)}{rng.randrange(1, 12)}组{rng.randrange(1, 60)}号",
        "insured_place": "鄂州市华容区", "insurance": insurance, "contribution": contribution,
        "category": category, "outpatient_no": f"MZ{today.year}{n:05d}",
        "family_doctor_signed": rng.random() < signed_share,
    }

"""Patients (参保人员): registration, correction, soft delete, and the search box of every screen.

Search keys are stored on the row (pinyin_full, pinyin_initials), each a space-separated list of
readings with the surname read as a surname first (单 shan before dan), so a doctor typing `sxx` or
`shanx` finds 单雄信, and one typing the everyday reading still does.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from clinic.db.models import Patient
from clinic.db.types import utcnow
from clinic.idcard import IdInfo, IdNumberError, age_on, normalise, parse_id_number
from clinic.vocab import CONTRIBUTIONS, INSURANCES

# Compound surnames, as syllables (some have their own reading: 万俟 moqi, 尉迟 yuchi, 长孙 zhangsun).
# 单于 is left out: today 单 + a given name starting with 于 is far likelier than the ancient surname.
COMPOUND_SURNAMES = {
    name: tuple(reading.split()) for name, reading in (
        ("欧阳", "ou yang"), ("司马", "si ma"), ("诸葛", "zhu ge"), ("上官", "shang guan"), ("令狐", "ling hu"),
        ("尉迟", "yu chi"), ("东方", "dong fang"), ("皇甫", "huang fu"), ("慕容", "mu rong"), ("夏侯", "xia hou"),
        ("司徒", "si tu"), ("长孙", "zhang sun"), ("宇文", "yu wen"), ("万俟", "mo qi"), ("公孙", "gong sun"),
        ("澹台", "tan tai"), ("轩辕", "xuan yuan"), ("端木", "duan mu"), ("南宫", "nan gong"),
        ("呼延", "hu yan"))}
# How characters with several readings are read as surnames. Where pypinyin's everyday reading differs
# (单 dan), the keys hold both, this one first.
SURNAME_READINGS = {
    "单": "shan", "曾": "zeng", "解": "xie", "区": "ou", "仇": "qiu", "朴": "piao", "查": "zha", "乐": "yue",
    "盖": "ge", "缪": "miao", "翟": "zhai", "秘": "bi", "任": "ren", "覃": "qin", "种": "chong", "员": "yun",
    "朝": "chao", "召": "shao", "隗": "wei", "冼": "xian", "车": "che", "折": "she", "燕": "yan", "纪": "ji",
    "繁": "po", "尉": "wei", "薄": "bo", "卜": "bu", "句": "gou", "阚": "kan", "过": "guo", "宿": "su",
    "沈": "shen", "柏": "bai", "重": "chong", "曲": "qu", "黑": "he", "能": "nai", "佴": "nai", "谌": "chen",
    "莘": "shen", "厍": "she", "祭": "zhai", "藏": "zang", "那": "na", "牟": "mou", "粘": "nian", "褚": "chu",
}
NAME_MAX = 20
HAN = r"\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
NAME_RE = re.compile(rf"[{HAN}]+(·[{HAN}]+)*")
DOTS = str.maketrans({c: "·" for c in "•・‧∙●⋅．"})
MOBILE_RE = re.compile(r"1[0-9]{10}")
LANDLINE_RE = re.compile(r"0[0-9]{2,3}-[0-9]{7,8}")
TEXT_LIMITS = {"address": ("住址", 200), "insured_place": ("参保地", 60), "category": ("人员类别", 30),
               "outpatient_no": ("门诊号", 30)}
BOOL_FIELDS = ("family_doctor_signed", "managed_hypertension", "managed_diabetes")
EDITABLE = {"name", "id_number", "phone", "insurance", "contribution", *TEXT_LIMITS, *BOOL_FIELDS}


class PatientError(ValueError):
    """A patient record cannot be saved; the message says what to correct."""


def split_surname(name: str) -> tuple[str, str]:
    # A two-character name is surname + given name even if it spells a compound surname (欧阳 = 欧 阳).
    if len(name) >= 3 and name[:2] in COMPOUND_SURNAMES:
        return name[:2], name[2:]
    return name[:1], name[1:]


def _syllables(text: str) -> list[str]:
    # pypinyin passes non-Han runs (the · of minority names) through unchanged; they are not searchable.
    # Style.NORMAL writes ü as v (lv 吕), as pinyin input methods do.
    # Imported here: pypinyin's phrase dictionary costs ~0.4 s at start-up, and only a new name needs it.
    from pypinyin import Style, lazy_pinyin

    return [s for s in (p.lower() for p in lazy_pinyin(text, style=Style.NORMAL)) if s.isascii() and s.isalpha()]


def pinyin_keys(name: str) -> tuple[str, str]:
    """(full, initials): space-separated alternative readings, the surname reading first."""
    surname, given = split_surname(name)
    given_syllables = _syllables(given)
    readings = []
    special = COMPOUND_SURNAMES.get(surname) or SURNAME_READINGS.get(surname)
    if special:
        readings.append([special] if isinstance(special, str) else list(special))
    readings.append(_syllables(surname))       # the everyday reading, for a doctor who types that
    full, initials = [], []
    for syllables in readings:
        syllables = syllables + given_syllables
        f, i = "".join(syllables), "".join(s[0] for s in syllables)
        # The column holds 200 characters: a long name keeps at least its first (surname) reading.
        if f and f not in full and len(" ".join([*full, f])) <= 200:
            full.append(f)
        if i and i not in initials:
            initials.append(i)
    return " ".join(full), " ".join(initials)


# -- validation ---------------------------------------------------------------------------------------

def _clean_name(name: object) -> str:
    text = unicodedata.normalize("NFKC", str(name or "")).translate(DOTS)
    text = re.sub(r"\s+", "", text)
    if not text:
        raise PatientError("姓名不能为空")
    if len(text) > NAME_MAX:
        raise PatientError(f"姓名最多{NAME_MAX}个字，当前为{len(text)}个字")
    if not NAME_RE.fullmatch(text):
        raise PatientError("姓名只能包含汉字和间隔号“·”（如 阿不都·热合曼）")
    return text


def _clean_phone(phone: object) -> str | None:
    text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(phone or "")))
    text = text.replace("—", "-").replace("－", "-")
    if not text:
        return None
    if MOBILE_RE.fullmatch(text) or LANDLINE_RE.fullmatch(text):
        return text
    raise PatientError(f"联系电话 {text} 无效：应为1开头的11位手机号，或带区号的固定电话（如 0711-1234567）")


def _clean_text(field: str, value: object) -> str | None:
    label, limit = TEXT_LIMITS[field]
    text = unicodedata.normalize("NFKC", str(value or "")).strip()
    if field == "outpatient_no":
        text = text.upper()         # search compares upper case, so store it that way
    if len(text) > limit:
        raise PatientError(f"{label}最多{limit}个字，当前为{len(text)}个字")
    return text or None


def _parse_id(text: object) -> IdInfo:
    try:
        return parse_id_number(str(text or ""))
    except IdNumberError as exc:
        raise PatientError(str(exc)) from exc


def _insurance(insurance: object, contribution: object) -> tuple[str, str | None]:
    if insurance not in INSURANCES:
        raise PatientError(f"参保类型无效：{insurance!r}（可选：{' / '.join(INSURANCES)}）")
    if insurance == "employee":
        contribution = "100" if contribution in (None, "") else contribution
        if contribution not in CONTRIBUTIONS:
            raise PatientError(f"缴费档次无效：{contribution!r}（可选：{' / '.join(CONTRIBUTIONS)}）")
        return insurance, contribution
    if contribution not in (None, ""):
        raise PatientError(f"缴费档次只适用于{INSURANCES['employee']}参保人员")
    return insurance, None


# -- records ------------------------------------------------------------------------------------------

def find_by_id_number(session: Session, text: str) -> Patient | None:
    """The living patient with this number; no validation, so imported irregular numbers are findable."""
    number = normalise(text)
    if not number:
        return None
    return session.scalar(select(Patient).where(Patient.id_number == number, Patient.deleted_at.is_(None)))


def register_patient(session: Session, *, name: str, id_number: str, phone: str | None = None,
                     address: str | None = None, insured_place: str | None = None, insurance: str = "resident",
                     contribution: str | None = None, category: str | None = None,
                     outpatient_no: str | None = None, family_doctor_signed: bool = False,
                     managed_hypertension: bool = False, managed_diabetes: bool = False) -> tuple[Patient, bool]:
    """(patient, created). A number already registered returns that patient unchanged: the registration
    form doubles as the look-up, and the card's holder is the one already on file."""
    info = _parse_id(id_number)
    existing = find_by_id_number(session, info.number)
    if existing is not None:
        return existing, False
    clean_name = _clean_name(name)
    insurance, contribution = _insurance(insurance, contribution)
    full, initials = pinyin_keys(clean_name)
    patient = Patient(
        name=clean_name, sex=info.sex, birth_date=info.birth_date, id_number=info.number,
        phone=_clean_phone(phone), address=_clean_text("address", address),
        insured_place=_clean_text("insured_place", insured_place), insurance=insurance,
        contribution=contribution, category=_clean_text("category", category),
        outpatient_no=_clean_text("outpatient_no", outpatient_no), family_doctor_signed=bool(family_doctor_signed),
        managed_hypertension=bool(managed_hypertension), managed_diabetes=bool(managed_diabetes),
        pinyin_full=full, pinyin_initials=initials)
    session.add(patient)
    session.flush()
    return patient, True


def update_patient(session: Session, patient: Patient, **fields) -> Patient:
    """Correct a record; every given field is validated as at registration."""
    unknown = set(fields) - EDITABLE
    if unknown:
        raise PatientError(f"不能修改的字段：{', '.join(sorted(unknown))}")
    if patient.deleted_at is not None:
        raise PatientError(f"患者 {patient.name} 已删除，不能修改")
    changes: dict[str, object] = {}
    if "name" in fields:
        changes["name"] = _clean_name(fields["name"])
        changes["pinyin_full"], changes["pinyin_initials"] = pinyin_keys(changes["name"])
    if "id_number" in fields:
        info = _parse_id(fields["id_number"])
        other = find_by_id_number(session, info.number)
        if other is not None and other.id != patient.id:
            raise PatientError(f"身份证号 {info.number} 已登记为患者 {other.name}")
        changes.update(id_number=info.number, sex=info.sex, birth_date=info.birth_date)
    if "phone" in fields:
        changes["phone"] = _clean_phone(fields["phone"])
    if "insurance" in fields or "contribution" in fields:
        insurance = fields.get("insurance", patient.insurance)
        # Switching insurance without naming a contribution: keep the old one only where it still applies.
        contribution = fields["contribution"] if "contribution" in fields else (
            patient.contribution if insurance == "employee" else None)
        changes["insurance"], changes["contribution"] = _insurance(insurance, contribution)
    for field in TEXT_LIMITS:
        if field in fields:
            changes[field] = _clean_text(field, fields[field])
    for field in BOOL_FIELDS:
        if field in fields:
            changes[field] = bool(fields[field])
    for key, value in changes.items():
        setattr(patient, key, value)
    session.flush()
    return patient


def soft_delete_patient(session: Session, patient: Patient, reason: str) -> None:
    """Hide a patient (duplicate, registered in error). The row stays for its prescriptions and settlements;
    the reason is added to the delete audit event, the one place the schema has for it."""
    reason = (reason or "").strip()
    if not reason:
        raise PatientError("删除患者须填写原因")
    if patient.deleted_at is not None:
        return
    patient.deleted_at = utcnow()
    # The reason rides on the delete event itself (the audit log is append-only, clinic/db/audit.py).
    session.info.setdefault("audit_notes", {})[("patient", patient.id)] = {"reason": [None, reason]}
    session.flush()


# -- search -------------------------------------------------------------------------------------------

def search_patients(session: Session, query: str, limit: int = 20) -> list[Patient]:
    """Living patients matching a name, pinyin, ID-number tail, phone or 门诊号, best first.

    Filtering and ranking both run in SQL: the rank is a CASE applied before LIMIT, so the bound never
    drops a better match and Python never loads more than `limit` rows. The WHERE clause is kept to the
    fewest, cheapest tests (a full scan of 10,000 rows costs about 1 ms per LIKE); the CASE, with its
    finer conditions, is evaluated only for the rows that pass.
    """
    q = re.sub(r"\s+", "", unicodedata.normalize("NFKC", query or "")).translate(DOTS)
    if not q or limit <= 0:
        return []
    filters, tiers, worst = _plan(q)
    if not filters:
        return []
    # CASE takes the first true WHEN, so the conditions go in rank order.
    rank = case(*sorted(tiers, key=lambda tier: tier[1]), else_=worst)
    stmt = (select(Patient).where(Patient.deleted_at.is_(None), or_(*filters))
            .order_by(rank, Patient.name, Patient.id).limit(limit))
    return list(session.scalars(stmt))


def _plan(q: str) -> tuple[list, list[tuple], int]:
    """(filters, (condition, rank) tiers, rank of a row no tier names) for a normalised query."""
    if re.search(f"[{HAN}]", q):
        return ([Patient.name.contains(q, autoescape=True)],
                [(Patient.name == q, 0), (Patient.name.startswith(q, autoescape=True), 1)], 10)
    if re.fullmatch(r"[A-Za-z]+", q):
        low, ini, full = q.lower(), Patient.pinyin_initials, Patient.pinyin_full
        # Keys are "first second": a match at the start is the surname reading, after a space another.
        # The plain contains() goes first so most rows are rejected before building the padded string.
        filters = [and_(col.contains(low), (" " + col).contains(" " + low)) for col in (ini, full)]
        tiers = [(or_(ini == low, ini.startswith(low + " ")), 2), ((" " + ini + " ").contains(f" {low} "), 3),
                 (ini.startswith(low), 4), ((" " + ini).contains(" " + low), 5), (full.startswith(low), 6)]
        return filters, tiers, 7
    if not re.search(r"[0-9]", q):
        return [], [], 0
    upper = q.upper()
    # 门诊号: exact, or prefix as a range so the index on outpatient_no can serve it.
    tiers = [(Patient.outpatient_no == upper, 8), (Patient.outpatient_no.between(upper, upper + "\uffff"), 9)]
    if len(q) >= 4 and re.fullmatch(r"[0-9]*[0-9X]", upper):
        tiers += [(Patient.id_number == upper, 8), (Patient.id_number.endswith(upper, autoescape=True), 9)]
    filters = [cond for cond, _ in tiers]
    digits = q.replace("-", "")
    if len(digits) >= 4 and digits.isdigit():
        # Landlines are stored as 0711-1234567; compare without the dash so 07111234567 finds them too.
        bare = func.replace(Patient.phone, "-", "")
        filters += [Patient.phone.contains(digits), and_(Patient.phone.startswith("0"), bare.contains(digits))]
        tiers.append((bare == digits, 8))
    return filters, tiers, 9


def age(patient: Patient, on: date | None = None) -> int:
    return age_on(patient.birth_date, on or date.today())

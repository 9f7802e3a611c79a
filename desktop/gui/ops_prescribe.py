"""Prescription operations for the GUI (no Qt): the drug picker, the live checks of a draft, saving,
stopping and printing 附件3. Each opens its own unit of work and returns plain data.

The rules themselves live in the domain: the scope and period limits in clinic/prescriptions.py
(check_line, seeds/000 二(一)5), the refill window in clinic/dispensing.py (check_refill, seeds/000
附件3 注意2), the drug order in clinic/catalogue.py (choice_list, the policy's "四个优先").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import func, not_, or_, select

from clinic.catalogue import PRIORITY_LABELS, choice_list
from clinic.db.engine import Database
from clinic.db.models import Dispense, Drug, Patient, Prescription, User
from clinic.dispensing import check_refill
from clinic.filings import entitlements
from clinic.permissions import require
from clinic.policy import PolicyError, period_days
from clinic.prescriptions import (
    LineInput,
    PrescriptionError,
    check_line,
    create_prescription,
    stop_prescription,
)
from clinic.profile import policy_in_force
from clinic.stock import on_hand_by_drug
from clinic.vocab import CLASS_DISEASE, DISEASES, TIERS
from desktop.gui.context import UserInfo

PERIOD_UNITS = {"d": "天", "w": "周", "m": "个月"}


@dataclass(frozen=True)
class PrescriptionRow:
    id: str
    prescribed_on: date
    valid_until: date
    state: str                   # 有效 / 已过期 / 已停用（原因）
    active: bool                 # can be dispensed today
    diagnosis: str
    prescriber: str
    lines: tuple[str, ...]       # 苯磺酸氨氯地平片 5mg　口服 每日1次 每次1片　84天 共84片
    dispenses: int               # purchases made under it (refunded ones included)


@dataclass(frozen=True)
class DrugOption:
    code: str
    name: str
    spec: str
    form: str
    unit: str
    package: str
    manufacturer: str
    disease: str | None          # None: not a 两病 drug (超范围用药)
    price: Decimal
    on_hand: Decimal
    priorities: tuple[str, ...]  # the policy's priorities this drug meets, in the policy's order


@dataclass(frozen=True)
class LineDraft:
    drug: DrugOption
    dose: Decimal
    frequency: str
    days: int


@dataclass(frozen=True)
class LineVerdict:
    problems: tuple[str, ...]    # the domain refuses the prescription while any line has one
    warnings: tuple[str, ...]    # worth knowing (e.g. the refill window), not a refusal
    first_allowed_on: date | None = None


@dataclass(frozen=True)
class PrescribeSetup:
    patient_name: str
    entitled: tuple[str, ...]            # diseases the patient is entitled to today
    entitled_words: str                  # 高血压（普通·主要）、糖尿病（普通·次要）
    policy_name: str
    priority_words: str                  # the policy's "四个优先", or why there is no order
    has_priority: bool
    longest_days: int | None             # the policy's longest prescription, counted from today
    period_words: str
    refill_window_days: int | None
    problems: tuple[str, ...]            # nothing can be prescribed until these are solved
    warnings: tuple[str, ...]
    diagnosis: str                       # proposed 临床诊断
    lines: tuple[LineDraft, ...]         # prefilled when renewing
    renew_label: str = ""


def period_words(period: str) -> str:
    """"24w" → "24周"."""
    return f"{period[:-1]}{PERIOD_UNITS.get(period[-1], period[-1])}"


def _option(drug: Drug, on_hand: Decimal, priorities: tuple[str, ...] = ()) -> DrugOption:
    return DrugOption(drug.code, drug.generic_name, drug.spec, drug.form, drug.unit, drug.package or "",
                      drug.manufacturer or "", CLASS_DISEASE.get(drug.drug_class), drug.retail_price, on_hand,
                      priorities)


def search_drugs(db: Database, text: str, today: date, limit: int = 50,
                 entitled: set[str] | None = None) -> list[DrugOption]:
    """两病 drugs in the policy's order of priority (with stock on hand) — those for the diseases the
    patient is `entitled` to first, keeping that order; when searching, drugs outside the 两病 scope
    that match are listed last, so the doctor learns why they cannot be chosen."""
    with db.session() as s:
        policy = policy_in_force(s, today)
        options = [_option(c.drug, c.on_hand, tuple(c.priorities))
                   for c in choice_list(s, policy, query=text, limit=limit, on=today)]
        if entitled is not None:
            options.sort(key=lambda o: o.disease not in entitled)      # stable: the policy's order stays
        text = text.strip()
        if text and len(options) < limit:
            others = s.scalars(select(Drug).where(
                Drug.active, not_(Drug.drug_class.in_(list(CLASS_DISEASE))),
                or_(Drug.generic_name.contains(text, autoescape=True),
                    Drug.pinyin_initials.contains(text.lower(), autoescape=True),
                    Drug.code.startswith(text.upper(), autoescape=True)))
                .order_by(Drug.pinyin_initials, Drug.code).limit(limit - len(options))).all()
            stock = on_hand_by_drug(s, [d.code for d in others], today)
            options += [_option(d, stock[d.code]) for d in others]
        return options


def _entitled_words(filings) -> str:
    return "、".join(f"{DISEASES[f.disease]}（{TIERS[f.tier]}·{'主要' if f.primary else '次要'}）" for f in filings)


def setup(db: Database, patient_id: str, today: date, renew_id: str | None = None) -> PrescribeSetup:
    """What the dialog shows before the first line: entitlement, the policy's limits, a proposed
    diagnosis, and (when renewing) the previous prescription's lines."""
    with db.session() as s:
        patient = s.get(Patient, patient_id)
        policy = policy_in_force(s, today)
        filings = entitlements(s, patient, policy, today)
        problems, warnings = [], []
        if not filings:
            problems.append("患者今天没有已通过的“两病”认定备案，不能开具“两病”连续处方（请先办理认定备案）")
        longest, words = None, ""
        try:
            words = period_words(policy.max_period)
            longest = period_days(today, policy.max_period)
        except PolicyError as exc:
            problems.append(str(exc))
        window = None
        try:
            window = policy.refill_window_days
        except PolicyError as exc:
            warnings.append(f"无法核对续配时间：{exc}")
        labels = [PRIORITY_LABELS[p] for p in policy.drug_priority]
        priority = ("药品按本地政策的优先顺序排列：" + " → ".join(labels) + "，然后有库存的在前") if labels else \
            "本地政策未规定用药优先顺序，药品按有无库存和拼音排列"
        previous = s.scalars(select(Prescription).where(Prescription.patient_id == patient_id,
                                                        Prescription.deleted_at.is_(None))
                             .order_by(Prescription.prescribed_on.desc(), Prescription.created_at.desc())).first()
        renew = s.get(Prescription, renew_id) if renew_id else None
        source = renew or previous
        diagnosis = source.diagnosis if source else "、".join(DISEASES[f.disease] for f in filings)
        lines: tuple[LineDraft, ...] = ()
        label = ""
        if renew is not None:
            drugs = {x.drug_code: s.get(Drug, x.drug_code) for x in renew.lines}
            stock = on_hand_by_drug(s, list(drugs), today)
            lines = tuple(LineDraft(_option(drugs[x.drug_code], stock[x.drug_code]), x.dose, x.frequency, x.days)
                          for x in renew.lines)
            label = f"续方：原处方 {renew.prescribed_on}（有效期至 {renew.valid_until}），保存后原处方停用"
        return PrescribeSetup(
            patient_name=patient.name, entitled=tuple(f.disease for f in filings),
            entitled_words=_entitled_words(filings), policy_name=policy.name, priority_words=priority,
            has_priority=bool(labels), longest_days=longest, period_words=words, refill_window_days=window,
            problems=tuple(problems), warnings=tuple(warnings), diagnosis=diagnosis, lines=lines, renew_label=label)


def _refill_words(drug: Drug, check, window: int) -> str:
    return (f"{drug.generic_name} 上次所配药量还可用 {check.days_left} 天，须剩余不超过 {window} 天方可配药："
            f"最早 {check.first_allowed_on:%Y年%m月%d日} 可配（处方可以开具，配药须到该日）")


def check_lines(db: Database, patient_id: str, lines: list[LineDraft], today: date) -> list[LineVerdict]:
    """Each draft line as the domain will judge it when saving (and dispensing) today."""
    with db.session() as s:
        patient = s.get(Patient, patient_id)
        policy = policy_in_force(s, today)
        entitled = {f.disease for f in entitlements(s, patient, policy, today)}
        seen: set[str] = set()
        stock = on_hand_by_drug(s, [line.drug.code for line in lines], today)
        verdicts = []
        for line in lines:
            problems, warnings, first = [], [], None
            if line.drug.code in seen:
                problems.append("同一药品在处方中重复出现，请合并为一行")
            seen.add(line.drug.code)
            try:
                drug, _ = check_line(s, policy, LineInput(line.drug.code, line.dose, line.frequency, line.days),
                                     entitled, today)
            except (PrescriptionError, PolicyError) as exc:
                problems.append(str(exc))
                verdicts.append(LineVerdict(tuple(problems), ()))
                continue
            try:
                window = policy.refill_window_days
            except PolicyError:
                window = None            # reported once, by setup()
            if window is not None:
                refill = check_refill(s, patient_id, drug, today, window)
                if not refill.allowed:
                    warnings.append(_refill_words(drug, refill, window))
                    first = refill.first_allowed_on
                elif refill.days_left:
                    warnings.append(f"{drug.generic_name} 上次所配药量还可用 {refill.days_left} 天，已在续配时间内")
            if stock.get(drug.code, Decimal(0)) <= 0:
                warnings.append(f"本机构暂无 {drug.generic_name} 库存：须先入库才能在本机构配药（或开外配处方）")
            verdicts.append(LineVerdict(tuple(problems), tuple(warnings), first))
        return verdicts


def _prescriber_id(session, user: UserInfo) -> str | None:
    return session.scalar(select(User.id).where(User.username == user.username))


def save(db: Database, user: UserInfo, patient_id: str, today: date, *, diagnosis: str,
         lines: list[LineDraft], external: bool = False, renew_id: str | None = None) -> str:
    """Create the prescription (and stop the one it renews) in one transaction; returns its id."""
    require(user.role, "prescription.edit")
    with db.session(user.username) as s:
        patient = s.get(Patient, patient_id)
        policy = policy_in_force(s, today)
        entitled = {f.disease for f in entitlements(s, patient, policy, today)}
        renews = s.get(Prescription, renew_id) if renew_id else None
        rx = create_prescription(
            s, patient, policy, entitled=entitled, prescriber_name=user.display_name, prescribed_on=today,
            diagnosis=diagnosis, lines=[LineInput(x.drug.code, x.dose, x.frequency, x.days) for x in lines],
            prescriber_id=_prescriber_id(s, user), external=external, renews=renews)
        if renews is not None and renews.state == "active":
            stop_prescription(renews, "续方")
        s.flush()
        return rx.id


def stop(db: Database, user: UserInfo, prescription_id: str, reason: str) -> None:
    require(user.role, "prescription.edit")
    with db.session(user.username) as s:
        stop_prescription(s.get(Prescription, prescription_id), reason)


def prescription_pdf(db: Database, prescription_id: str) -> bytes:
    """附件3, both copies (clinic's and patient's) in one PDF, so they print as one job."""
    from forms.prescription_form import prescription_form_data, render_prescription

    with db.session() as s:
        return render_prescription(prescription_form_data(s, s.get(Prescription, prescription_id)))


def prescription_rows(db: Database, patient_id: str, today: date) -> list[PrescriptionRow]:
    """The patient's prescriptions, newest first."""
    with db.session() as s:
        found = s.scalars(select(Prescription).where(Prescription.patient_id == patient_id,
                                                     Prescription.deleted_at.is_(None))
                          .order_by(Prescription.prescribed_on.desc(), Prescription.created_at.desc())).all()
        counts = dict(s.execute(select(Dispense.prescription_id, func.count()).where(
            Dispense.prescription_id.in_([rx.id for rx in found]), Dispense.deleted_at.is_(None))
            .group_by(Dispense.prescription_id)).all())
        units = dict(s.execute(select(Drug.code, Drug.unit)).all())
        rows = []
        for rx in found:
            if rx.state == "stopped":
                state, active = f"已停用（{rx.stop_reason}）", False
            elif rx.valid_until < today:
                state, active = "已过期", False
            else:
                state, active = "有效", rx.prescribed_on <= today
            lines = tuple(f"{x.drug_name} {x.spec}　{x.usage}　{x.days}天 共{x.quantity.normalize():f}"
                          f"{units.get(x.drug_code, '')}" for x in rx.lines)
            rows.append(PrescriptionRow(rx.id, rx.prescribed_on, rx.valid_until, state, active, rx.diagnosis,
                                        rx.prescriber_name, lines, counts.get(rx.id, 0)))
        return rows


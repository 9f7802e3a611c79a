"""What the printed forms read from a clinic database besides the record itself: the issuing
institution, the policy in force on the record's date, and whether the file holds demo data.

Kept apart so each form's renderer takes plain data and never touches the database.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from clinic.db.models import Drug, Institution, Setting
from clinic.policy import Policy, PolicyError
from clinic.policy.model import MissingSetting, setting_label
from clinic.profile import local_institution, policy_in_force


class FormError(ValueError):
    """A form cannot be printed as the document requires; the message says why, in Chinese."""


# Printed in the bottom margin of every form made from a demo database (clinic/demo/build.py).
DEMO_NOTE = "演示数据 · 虚构人员，非正式单据"


def is_demo(session: Session) -> bool:
    row = session.get(Setting, "demo")
    return row is not None and row.value == "1"


def institution_for(session: Session, institution_code: str | None) -> Institution:
    """The institution that made the record (a township database holds many), else this clinic."""
    found = session.get(Institution, institution_code) if institution_code else None
    return found or local_institution(session)


def policy_on(session: Session, day: date) -> Policy:
    """The policy in force on the record's date; a record older than every shipped version is printed
    under the earliest one in force today (the form's wording, not a settlement, depends on it)."""
    try:
        return policy_in_force(session, day)
    except PolicyError:
        return policy_in_force(session, date.today())


def refill_window_days(policy: Policy) -> int:
    """附件3 注意2's figure (seeds/000 附件3: 15 days in Ezhou). A region whose document gives none
    prints nothing until an administrator sets it: a blank or guessed figure on a signed form would
    be a rule the clinic never agreed to."""
    try:
        return policy.refill_window_days
    except MissingSetting as exc:
        raise FormError(f"政策“{policy.name}”缺少本地设置：{setting_label(exc.key)}（{exc.key}），"
                        "附件3 注意2 须写明该天数，请管理员填写后再打印") from None


def quantity_text(session: Session, drug_code: str, quantity: Decimal) -> str:
    """84 → "84片": the catalogue's dispensing unit after the number."""
    drug = session.get(Drug, drug_code)
    unit = drug.unit if drug is not None else ""
    return f"{quantity.normalize():f}{unit}"


def mask_id_number(number: str) -> str:
    """4207**********0011: the first and last four characters, as receipts handed out show them."""
    if len(number) <= 8:
        return number
    return number[:4] + "*" * (len(number) - 8) + number[-4:]

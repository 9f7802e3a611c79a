"""What every report needs besides its figures: the month, which clinics, the policy (for the city in
the title and the date the policy took effect), the 填报单位 name, and whether the data is a demo.

Reports run unchanged on a clinic's file and on the township server's database, which holds many
clinics' rows told apart by `institution_code`. `institutions=None` means every clinic in the file;
a list restricts every count and sum to those clinics.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from clinic.db.models import Institution, PolicyDocument, Setting
from clinic.policy import Policy, PolicyError, all_policies, resolve_policy
from clinic.profile import policy_in_force

_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")


def parse_month(text: str) -> date:
    """"2026-10" → date(2026, 10, 1); a one-line Chinese error otherwise."""
    match = _MONTH.match((text or "").strip())
    if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1900:
        raise ValueError(f"月份格式无效：{text!r}（应为 YYYY-MM，如 2026-10）")
    return date(int(match.group(1)), int(match.group(2)), 1)


def month_start(month: date) -> date:
    return month.replace(day=1)


def month_end(month: date) -> date:
    first_of_next = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first_of_next - timedelta(days=1)


def month_label(month: date) -> str:
    return f"{month.year}年{month.month}月"


def restrict(query, column, institutions: Sequence[str] | None):
    """Add the per-clinic filter; an empty list matches nothing (not everything)."""
    return query if institutions is None else query.where(column.in_(list(institutions)))


def _regions(session: Session, institutions: Sequence[str] | None) -> set[str]:
    query = select(Institution.region).where(Institution.level != "pharmacy")
    if institutions is not None:
        query = query.where(Institution.code.in_(list(institutions)))
    return set(session.scalars(query))


def report_policy(session: Session, on: date, institutions: Sequence[str] | None = None) -> Policy:
    """The policy in force on `on`: the clinic's own (with published versions) on a clinic file; on the
    township server, the one region the reported institutions belong to."""
    local = session.scalar(select(Institution).where(Institution.is_local))
    if local is not None and (institutions is None or local.code in institutions):
        return policy_in_force(session, on)
    regions = _regions(session, institutions)
    if len(regions) != 1:
        raise PolicyError("所选机构属于多个统筹区，请按统筹区分别统计" if regions
                          else "找不到所选机构的统筹区信息（机构表中没有这些机构）")
    return resolve_policy(regions.pop(), on)


def policy_landed_on(session: Session, policy: Policy) -> date:
    """政策落地之日 (调度表 注1): the first version of the region's policy, shipped or published."""
    shipped = [p.effective_from for p in all_policies() if p.region == policy.region]
    published = list(session.scalars(select(PolicyDocument.effective_from)
                                      .where(PolicyDocument.region == policy.region)))
    return min([policy.effective_from, *shipped, *published])


def reporting_unit(session: Session, institutions: Sequence[str] | None = None) -> str:
    """填报单位: the one clinic reported on; for several, the township that collects them (seeds/000
    四(四): 村卫生室数据由乡镇卫生院汇总统计上报)."""
    if institutions is not None and len(institutions) == 1:
        return session.scalar(select(Institution.name).where(Institution.code == institutions[0])) \
            or institutions[0]
    local = session.scalar(select(Institution).where(Institution.is_local))
    if local is not None and institutions is None:
        return local.name
    query = restrict(select(Institution.township_name).where(Institution.township_name.is_not(None)),
                     Institution.code, institutions)
    townships = set(session.scalars(query))
    return townships.pop() if len(townships) == 1 else ""


def institution_names(session: Session) -> dict[str, str]:
    return dict(session.execute(select(Institution.code, Institution.name)).all())


def is_demo(session: Session) -> bool:
    return session.get(Setting, "demo") is not None

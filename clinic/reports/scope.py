"""What every report needs besides its figures: the month, which clinics (the Scope), the region (for
the city in the title and the date its policy took effect), the 填报单位 name, and whether the data
is a demo.

Reports run unchanged on a clinic's file and on the township server's database, which holds many
clinics' rows told apart by `institution_code` (DESIGN.md "Architecture"). `Scope.everything()` means
every clinic in the file; `Scope.of(codes)` restricts every count and sum to those clinics.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from clinic.db.models import Institution, PolicyDocument, Setting
from clinic.policy import Policy, PolicyError, all_policies
from clinic.policy.loader import policies_dir

_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")


@dataclass(frozen=True)
class Scope:
    """The clinics a report covers: `institutions` None = all in the database, else those codes."""
    institutions: tuple[str, ...] | None = None

    @classmethod
    def everything(cls) -> Scope:
        return cls(None)

    @classmethod
    def of(cls, codes: Iterable[str]) -> Scope:
        if isinstance(codes, str):
            codes = [codes]
        clean = sorted({str(code).strip() for code in codes})
        if not clean or "" in clean:
            raise ValueError("统计范围的机构编码不能为空")
        return cls(tuple(clean))

    def restrict(self, query, column):
        return query if self.institutions is None else query.where(column.in_(self.institutions))


def as_scope(scope: Scope | Sequence[str] | None) -> Scope:
    """A Scope from what callers pass: a Scope, a list of institution codes, or None (everything)."""
    if scope is None:
        return Scope.everything()
    if isinstance(scope, Scope):
        return scope
    return Scope.of(scope)


def parse_month(text: str) -> date:
    """"2026-10" → date(2026, 10, 1); a one-line Chinese error otherwise."""
    match = _MONTH.match((text or "").strip())
    if not match or not 1 <= int(match.group(2)) <= 12 or not 1900 <= int(match.group(1)) <= 2999:
        raise ValueError(f"月份格式无效：{text!r}（应为 YYYY-MM，如 2026-10）")
    return date(int(match.group(1)), int(match.group(2)), 1)


def as_month(month: date | str) -> date:
    return parse_month(month) if isinstance(month, str) else month.replace(day=1)


def month_start(month: date) -> date:
    return month.replace(day=1)


def month_end(month: date) -> date:
    first_of_next = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first_of_next - timedelta(days=1)


def month_label(month: date) -> str:
    return f"{month.year}年{month.month}月"


@dataclass(frozen=True)
class Region:
    """The 统筹区 a report covers: its policy region id, the city for the title, and 政策落地之日 (调度表
    注1), the effective date of the region's first policy version, shipped or published through sync."""
    id: str
    city: str
    landed_on: date


@cache
def _shipped(stamp: tuple) -> dict[str, list[Policy]]:
    found: dict[str, list[Policy]] = {}
    for policy in all_policies():
        found.setdefault(policy.region, []).append(policy)
    return found


def _shipped_policies() -> dict[str, list[Policy]]:
    """The shipped policy files by region, parsed once per process (again only if a file changes)."""
    files = sorted(policies_dir().glob("*.toml"))
    return _shipped(tuple((f.name, f.stat().st_mtime_ns) for f in files))


def report_region(session: Session, on: date, scope: Scope) -> Region:
    """On a clinic file, the clinic's region; on the township server, the one region the reported
    institutions belong to (reports are made per 统筹区)."""
    local = session.scalar(select(Institution).where(Institution.is_local))
    if local is not None and (scope.institutions is None or local.code in scope.institutions):
        region = local.region
    else:
        regions = set(session.scalars(scope.restrict(select(Institution.region), Institution.code)))
        if len(regions) != 1:
            raise PolicyError("所选机构属于多个统筹区，请按统筹区分别统计" if regions
                              else "找不到所选机构的统筹区信息（机构表中没有这些机构）")
        region = regions.pop()
    published = session.execute(select(PolicyDocument.effective_from, PolicyDocument.text)
                                .where(PolicyDocument.region == region)
                                .order_by(PolicyDocument.effective_from)).all()
    versions = _shipped_policies().get(region, [])
    if not versions and not published:
        raise PolicyError(f"找不到统筹区 {region} 的政策文件")
    landed = min([p.effective_from for p in versions] + [d for d, _ in published])
    if versions:
        in_force = [p for p in versions if p.effective_from <= on] or versions
        city = in_force[-1].city
    else:
        city = str(tomllib.loads(published[-1].text).get("city", ""))
    return Region(region, city, landed)


def reporting_unit(session: Session, scope: Scope) -> str:
    """填报单位: the one clinic reported on; for several, the township that collects them (seeds/000
    四(四): 村卫生室数据由乡镇卫生院汇总统计上报)."""
    codes = scope.institutions
    if codes is not None and len(codes) == 1:
        return session.scalar(select(Institution.name).where(Institution.code == codes[0])) or codes[0]
    local = session.scalar(select(Institution).where(Institution.is_local))
    if local is not None and codes is None:
        return local.name
    query = scope.restrict(select(Institution.township_name).where(Institution.township_name.is_not(None)),
                           Institution.code)
    townships = set(session.scalars(query))
    return townships.pop() if len(townships) == 1 else ""


def institution_names(session: Session) -> dict[str, str]:
    return dict(session.execute(select(Institution.code, Institution.name)).all())


def is_demo(session: Session) -> bool:
    return session.get(Setting, "demo") is not None

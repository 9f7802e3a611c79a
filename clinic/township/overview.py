"""What the township dashboard shows about each village and what needs attention (issue 6 item 1).

Per village: last sync, patients under management (两病 cases today, clinic/reports/cases.py), filings
waiting for the 医保 reviewer, records the server refused and filings the reviewer rejected. Alerts:
- 跨机构超限额 and 重复配药: the open cross-clinic flags the server raised on receipt (sync/server/
  crossclinic.py, seeds/000 二(一)3 and seeds/003 national plan (十一));
- 疑似未备案: the clinic's own rule (clinic/health.py, 云南 (八)) on the records the village sent;
- 低库存 and 备药率 (clinic/township/stocking.py).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clinic.db.models import ClaimFlag, Filing, Patient, SyncDevice, SyncRejection
from clinic.health import SuspectedUnfiled, suspected_unfiled
from clinic.money import ZERO
from clinic.policy import PolicyError, resolve_policy
from clinic.reports.cases import cases_on
from clinic.reports.scope import Scope
from clinic.township.area import Village, villages
from clinic.township.inputs import low_stock_days, upper_institutions
from clinic.township.stocking import StockingRate, StockLevel, low_stock, stock_levels, stocking_rates


@dataclass
class VillageStatus:
    village: Village
    last_push: datetime | None = None
    last_pull: datetime | None = None
    reported_pending: int | None = None     # the clinic's own outbox count at its last sync
    refused_records: int = 0                # records the server refused (SyncRejection)
    managed: int = 0                        # patients with a 两病 case today
    pending_filings: int = 0
    rejected_filings: int = 0
    over_cap: int = 0
    over_cap_amount: Decimal = ZERO
    duplicates: int = 0
    readjudicated: int = 0                  # settlements whose re-adjudication differs or could not be done
    suspected: int = 0
    low_stock: int = 0
    stocking: StockingRate | None = None


@dataclass(frozen=True)
class Flag:
    flag: ClaimFlag
    patient_name: str


@dataclass
class Dashboard:
    today: date
    villages: list[VillageStatus]
    flags: list[Flag] = field(default_factory=list)
    suspected: list[SuspectedUnfiled] = field(default_factory=list)
    low_stock: list[StockLevel] = field(default_factory=list)
    low_stock_days: int | None = None
    policy_problems: list[str] = field(default_factory=list)

    def status(self, code: str) -> VillageStatus:
        return next(s for s in self.villages if s.village.code == code)


def _per_institution(session: Session, query) -> dict[str, int]:
    return {code: n for code, n in session.execute(query)}


def build_dashboard(session: Session, today: date, township: str | None = None) -> Dashboard:
    chosen = villages(session, township)
    codes = [v.code for v in chosen]
    board = Dashboard(today, [VillageStatus(v) for v in chosen])
    if not codes:
        return board
    by_code = {s.village.code: s for s in board.villages}
    scope = Scope.of(codes)

    for code, push, pull in session.execute(
            select(SyncDevice.institution_code, func.max(SyncDevice.last_push_at), func.max(SyncDevice.last_pull_at))
            .where(SyncDevice.institution_code.in_(codes)).group_by(SyncDevice.institution_code)):
        by_code[code].last_push, by_code[code].last_pull = push, pull
    for code, pending in session.execute(
            select(SyncDevice.institution_code, SyncDevice.reported_pending)
            .where(SyncDevice.institution_code.in_(codes), SyncDevice.revoked_at.is_(None),
                   SyncDevice.reported_pending.is_not(None)).order_by(SyncDevice.last_push_at)):
        by_code[code].reported_pending = pending       # the latest device's report wins
    refused = _per_institution(session, select(SyncRejection.institution_code, func.count())
                               .where(SyncRejection.institution_code.in_(codes))
                               .group_by(SyncRejection.institution_code))
    filings = session.execute(select(Filing.institution_code, Filing.state, func.count())
                              .where(Filing.institution_code.in_(codes), Filing.deleted_at.is_(None),
                                     Filing.state.in_(("submitted", "rejected")))
                              .group_by(Filing.institution_code, Filing.state)).all()
    managed = Counter(code for code, _ in {(c.institution_code, c.patient_id) for c in cases_on(session, today, scope)})
    for s in board.villages:
        code = s.village.code
        s.refused_records, s.managed = refused.get(code, 0), managed[code]
    for code, state, n in filings:
        if state == "submitted":
            by_code[code].pending_filings = n
        else:
            by_code[code].rejected_filings = n

    for flag, name in session.execute(select(ClaimFlag, Patient.name).join(Patient, Patient.id == ClaimFlag.patient_id)
                                      .where(ClaimFlag.resolved_at.is_(None), ClaimFlag.institution_code.in_(codes))
                                      .order_by(ClaimFlag.created_at)):
        board.flags.append(Flag(flag, name))
        status = by_code[flag.institution_code]
        if flag.kind == "over_cap":
            status.over_cap += 1
            status.over_cap_amount += flag.amount or ZERO
        elif flag.kind == "duplicate_dispense":
            status.duplicates += 1
        else:
            status.readjudicated += 1

    by_region: dict[str, list[Village]] = defaultdict(list)
    for v in chosen:
        by_region[v.region].append(v)
    for region, members in sorted(by_region.items()):
        try:
            policy = resolve_policy(region, today)
        except PolicyError as exc:
            board.policy_problems.append(f"{region}：{exc}")
            continue
        wanted = {v.code for v in members}
        for item in suspected_unfiled(session, policy, today):
            if item.patient.institution_code in wanted:
                board.suspected.append(item)
                by_code[item.patient.institution_code].suspected += 1

    board.low_stock_days = low_stock_days(session)
    board.low_stock = low_stock(stock_levels(session, today, codes), board.low_stock_days)
    for level in board.low_stock:
        by_code[level.institution_code].low_stock += 1
    for rate in stocking_rates(session, today, chosen, upper_institutions(session)):
        by_code[rate.village.code].stocking = rate
    return board

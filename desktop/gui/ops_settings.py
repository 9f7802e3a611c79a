"""What the 设置 page runs in the worker: the clinic profile, the policy in force with the local
settings its document leaves open, the township server and enrolment, and the printer. No Qt here.

A policy figure the document does not give is written "required" in its file; only those are the
clinic's to fill in (clinic/profile.py set_policy_setting validates each). Figures the document gives
are shown with their source and cannot be changed here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from clinic.db.engine import Database
from clinic.db.models import PolicyDocument, Setting
from clinic.dispensing import backdate_days, set_backdate_days
from clinic.permissions import require
from clinic.policy import Policy, all_policies, resolve_policy
from clinic.policy.loader import load_policy, load_policy_text
from clinic.policy.model import ENTITLEMENT_RULES, REQUIRED, setting_label
from clinic.profile import ProfileError, local_institution, local_settings, policy_in_force, set_policy_setting
from clinic.vocab import INSTITUTION_LEVELS, check
from desktop.gui.context import UserInfo

PRINTER_KEY = "printer.name"


@dataclass(frozen=True)
class Profile:
    code: str
    name: str
    level: str
    region: str
    township_code: str
    township_name: str


@dataclass(frozen=True)
class SettingRow:
    key: str
    label: str
    value: str               # as stored / written in the file; "" when missing
    source: str              # document | local | missing
    editable: bool           # the document leaves it to the clinic


@dataclass(frozen=True)
class PolicyView:
    id: str
    name: str
    city: str
    effective_from: date
    seed: str
    entitlement: str
    notes: tuple[str, ...]
    rows: list[SettingRow]
    backdate_days: int = 7               # how far back a purchase may be entered (补录), a clinic setting

    @property
    def missing(self) -> list[SettingRow]:
        return [row for row in self.rows if row.source == "missing"]


class SettingRejected(ValueError):
    """One local setting was refused; `key` names the row to highlight."""

    def __init__(self, key: str, message: str):
        self.key = key
        super().__init__(message)


# ---------------------------------------------------------------- clinic profile

def _profile(inst) -> Profile:
    return Profile(inst.code, inst.name, inst.level, inst.region, inst.township_code or "", inst.township_name or "")


def load_profile(db: Database) -> Profile:
    with db.session() as s:
        return _profile(local_institution(s))


def regions(today: date) -> list[tuple[str, str, int]]:
    """(region, policy name, settings still to fill in) of each region with a policy in force today."""
    found: dict[str, Policy] = {}
    for policy in all_policies():
        if policy.effective_from <= today:
            found[policy.region] = policy          # sorted by date: the last one is in force
    return [(region, p.name, len(p.missing_settings())) for region, p in sorted(found.items())]


def save_profile(db: Database, user: UserInfo, today: date, *, name: str, level: str, region: str,
                 township_code: str, township_name: str) -> Profile:
    """The code stays: every record this clinic wrote carries it. A new region must have a policy."""
    require(user.role, "settings.edit")
    name = name.strip()
    if not name:
        raise ProfileError("机构名称不能为空")
    check(INSTITUTION_LEVELS, level, "机构级别")
    resolve_policy(region, today)                   # refuses a region without a policy in force
    with db.session(user.username) as s:
        inst = local_institution(s)
        inst.name, inst.level, inst.region = name, level, region
        inst.township_code = township_code.strip() or None
        inst.township_name = township_name.strip() or None
        s.flush()
        return _profile(inst)


# ---------------------------------------------------------------- policy and its local settings

def _bare(session, policy: Policy) -> Policy:
    """The same policy version without this clinic's local settings (what its document says)."""
    path = Path(policy.path)
    if path.is_file():
        return load_policy(path)
    doc = session.get(PolicyDocument, policy.id)
    return load_policy_text(doc.text, Path(f"{doc.id}.toml"))


def _view(session, today: date) -> PolicyView:
    policy = policy_in_force(session, today)
    document = _bare(session, policy)
    local = local_settings(session, policy.region)
    rows = []
    for key, given in document.settings.items():
        if given == REQUIRED:
            value = local.get(key, "")
            rows.append(SettingRow(key, setting_label(key), value, "local" if value else "missing", True))
        else:
            rows.append(SettingRow(key, setting_label(key), str(given), "document", False))
    rows.sort(key=lambda r: (r.source == "document", r.source != "missing"))     # what needs doing first
    return PolicyView(policy.id, policy.name, policy.city, policy.effective_from, policy.source,
                      ENTITLEMENT_RULES.get(policy.entitlement, policy.entitlement), policy.notes, rows,
                      backdate_days(session))


def save_backdate_days(db: Database, user: UserInfo, today: date, days: int) -> PolicyView:
    """The administrator sets how many days back a purchase may be entered (clinic/dispensing.py)."""
    require(user.role, "settings.edit")
    with db.session(user.username) as s:
        set_backdate_days(s, days)
        s.flush()
        return _view(s, today)


def policy_view(db: Database, today: date) -> PolicyView:
    with db.session() as s:
        return _view(s, today)


def save_policy_settings(db: Database, user: UserInfo, today: date, values: dict[str, str]) -> PolicyView:
    """Fill in local settings, all or none: the first value refused names its row."""
    require(user.role, "settings.edit")
    with db.session(user.username) as s:
        view = _view(s, today)
        editable = {row.key for row in view.rows if row.editable}
        region = local_institution(s).region
        for key, value in values.items():
            value = value.strip()
            if key not in editable:
                raise SettingRejected(key, f"{setting_label(key)}由政策文件规定，不能在本地修改")
            if not value:
                raise SettingRejected(key, f"请填写{setting_label(key)}")
            try:
                set_policy_setting(s, region, key, value)
            except ValueError as exc:
                raise SettingRejected(key, str(exc)) from None
        s.flush()
        return _view(s, today)


# ---------------------------------------------------------------- server, printer

@dataclass(frozen=True)
class ServerState:
    enrolled: bool
    server_url: str
    last_success: str            # local time, "" when never
    pending: int
    last_error: str
    is_demo: bool


def _local_time(moment: datetime | None) -> str:
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def server_state(db: Database) -> ServerState:
    from sync.client import sync_status

    status = sync_status(db)
    with db.session() as s:
        demo = s.get(Setting, "demo") is not None
    return ServerState(status.enrolled, status.server_url or "", _local_time(status.last_success_at), status.pending,
                       status.last_error or "", demo)


def enrol_device(db: Database, user: UserInfo, server_url: str, code: str, device_name: str) -> str:
    """`liangbing enrol`: the township's one-time code for this PC's token; returns the clinic's name
    as the server knows it."""
    from sync.client import enrol

    require(user.role, "settings.edit")
    server_url, code = server_url.strip(), code.strip()
    if not server_url.startswith(("http://", "https://")):
        raise ValueError("服务器地址应以 http:// 或 https:// 开头，如 http://192.168.1.10:8000")
    if not code:
        raise ValueError("请填写乡镇卫生院提供的一次性接入码")
    return enrol(db, server_url, code, device_name=device_name.strip() or None)


def printer_name(db: Database) -> str:
    with db.session() as s:
        row = s.get(Setting, PRINTER_KEY)
        return row.value if row else ""


def save_printer(db: Database, user: UserInfo, name: str) -> str:
    """This PC's printer ("" = the system default). Any user may choose it: it changes no record."""
    with db.session(user.username) as s:
        row = s.get(Setting, PRINTER_KEY)
        if not name:
            if row is not None:
                s.delete(row)
        elif row is None:
            s.add(Setting(key=PRINTER_KEY, value=name))
        else:
            row.value = name
    return name

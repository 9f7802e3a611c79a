"""This clinic: its institution row and the policy in force with the administrator's local settings.

Local policy figures are Setting rows keyed `policy.<region>.<setting key>`, e.g.
`policy.lvliang.ratios.resident.1` = `0.60`.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from clinic.db.models import Institution, PolicyDocument, Setting
from clinic.policy import Policy, PolicyError, resolve_policy
from clinic.policy.loader import load_policy_text, parse_setting, policies_dir
from clinic.vocab import INSTITUTION_LEVELS, check


class ProfileError(ValueError):
    pass


def local_institution(session: Session) -> Institution:
    inst = session.scalar(select(Institution).where(Institution.is_local))
    if inst is None:
        raise ProfileError("尚未设置本机构信息（机构编码、名称、级别、政策地区）")
    return inst


def create_local_institution(session: Session, code: str, name: str, level: str, region: str,
                             township_code: str | None = None, township_name: str | None = None) -> Institution:
    check(INSTITUTION_LEVELS, level, "机构级别")
    if not code.strip() or not name.strip():
        raise ProfileError("机构编码和名称不能为空")
    if session.scalar(select(Institution).where(Institution.is_local)) is not None:
        raise ProfileError("本机构信息已存在")
    resolve_policy(region, date.today())            # the region must have a policy file
    inst = Institution(code=code.strip(), name=name.strip(), level=level, region=region,
                       township_code=township_code, township_name=township_name, is_local=True)
    session.add(inst)
    session.info["institution_code"] = inst.code
    return inst


def local_settings(session: Session, region: str) -> dict[str, str]:
    prefix = f"policy.{region}."
    rows = session.scalars(select(Setting).where(Setting.key.startswith(prefix))).all()
    return {row.key[len(prefix):]: row.value for row in rows}


def set_policy_setting(session: Session, region: str, key: str, value: str) -> None:
    """An administrator fills in a figure the policy document does not give; validated first."""
    policy = resolve_policy(region, date.today())
    if key not in policy.settings:
        raise ProfileError(f"政策“{policy.name}”没有设置项 {key}")
    parsed = parse_setting(key, value, policy.min_ratio)
    if key == "payment_standard":
        value = str(parsed)              # 中选价 … stored as its code
    row = session.get(Setting, f"policy.{region}.{key}")
    if row is None:
        session.add(Setting(key=f"policy.{region}.{key}", value=value))
    else:
        row.value = value


def policy_in_force(session: Session, on: date) -> Policy:
    """The region's version in force on `on`: the shipped files, and the versions the township
    published through sync (a published version replaces a shipped one with the same id)."""
    region = local_institution(session).region
    local = local_settings(session, region)
    published = [load_policy_text(doc.text, Path(f"{doc.id}.toml"), local) for doc in session.scalars(
        select(PolicyDocument).where(PolicyDocument.region == region, PolicyDocument.effective_from <= on))]
    try:
        shipped = resolve_policy(region, on, local={region: local}, directory=policies_dir())
    except PolicyError:
        if not published:
            raise
        shipped = None
    if shipped is not None and shipped.id not in {p.id for p in published}:
        published.append(shipped)
    return max(published, key=lambda p: p.effective_from)

"""两病 filings (seeds/000 items 9–11, 附件2): 认定/变更备案, the reviewer's decision, one primary disease,
and the entitlements settlement uses (seeds/003 (七) for 规范化管理 patients)."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest
from sqlalchemy import select

from clinic.db.models import AuditEvent, Filing, Patient
from clinic.filings import (
    FilingError,
    approve,
    current_filings,
    entitlements,
    filing_history,
    new_change_filing,
    new_initial_filing,
    reject,
    reopen,
    submit,
    update_filing,
)
from clinic.policy import resolve_policy
from clinic.settlement.engine import Filing as Entitlement

EZHOU = resolve_policy("ezhou", date(2026, 1, 1))
YUNNAN = resolve_policy("yunnan", date(2026, 1, 1))
AT = datetime(2026, 1, 10, 9, 30)


def add_patient(session, id_number="110101196001010016", **kw):
    fields = dict(name="张三", sex="男", birth_date=date(1960, 1, 1), id_number=id_number, insurance="resident")
    fields.update(kw)
    patient = Patient(**fields)
    session.add(patient)
    session.flush()
    return patient


def draft(session, patient, disease="hypertension", **kw):
    fields = dict(disease=disease, tier="ordinary", primary=True, icd10="I10.x00",
                  history_diagnosis="高血压病史5年，血压最高170/100mmHg", treatment_plan="氨氯地平 5mg qd",
                  history_signer="王医生", plan_signer="王医生", filed_on=date(2026, 1, 5))
    if disease == "diabetes":
        fields.update(icd10="E11.900", history_diagnosis="2型糖尿病3年", treatment_plan="二甲双胍 0.5g bid")
    fields.update(kw)
    return new_initial_filing(session, patient, **fields)


def approved(session, filing, at=AT, **kw):
    submit(session, filing, at)
    return approve(session, filing, at, **kw)


def test_initial_filing_is_a_draft_and_entitles_only_once_approved(db):
    with db.session() as s:
        patient = add_patient(s)
        filing = draft(s, patient)
        assert (filing.kind, filing.state, filing.version) == ("initial", "draft", 1)
        assert filing.history_signed_on == date(2026, 1, 5)
        assert entitlements(s, patient, EZHOU, date(2026, 2, 1)) == ()
        submit(s, filing, AT)
        assert entitlements(s, patient, EZHOU, date(2026, 2, 1)) == ()
        approve(s, filing, AT, "同意认定")
        assert (filing.state, filing.hospital_opinion, filing.reviewed_at) == ("approved", "同意认定", AT)
        assert entitlements(s, patient, EZHOU, date(2026, 2, 1)) == (Entitlement("hypertension", "ordinary", True),)
        # entitled from the day of filing, not before
        assert entitlements(s, patient, EZHOU, date(2026, 1, 4)) == ()


def test_second_filing_for_the_same_disease_needs_a_change_filing(db):
    with db.session() as s:
        patient = add_patient(s)
        first = draft(s, patient)
        with pytest.raises(FilingError, match="变更备案"):
            draft(s, patient, primary=False)
        approved(s, first)
        with pytest.raises(FilingError, match="已有已通过的备案"):
            draft(s, patient, primary=False)


@pytest.mark.parametrize("field, value, message", [
    ("disease", "asthma", "申报病种无效"),
    ("tier", "mild", "病种分级无效"),
    ("history_diagnosis", "  ", "病史及诊断不能为空"),
])
def test_unknown_disease_or_tier_and_empty_history_are_refused(db, field, value, message):
    with db.session() as s:
        patient = add_patient(s)
        with pytest.raises(FilingError, match=message):
            draft(s, patient, **{field: value})


def test_submission_needs_the_form_complete_and_signed(db):
    with db.session() as s:
        patient = add_patient(s)
        filing = draft(s, patient, plan_signer=None, treatment_plan="")
        with pytest.raises(FilingError, match="治疗方案、治疗方案签字"):
            submit(s, filing, AT)
        update_filing(s, filing, treatment_plan="氨氯地平 5mg qd", plan_signer="王医生")
        assert filing.plan_signed_on == date(2026, 1, 5)      # signed on the filing day unless told
        assert submit(s, filing, AT).state == "submitted"


def test_rejected_filing_keeps_the_reviewers_reason(db):
    with db.session() as s:
        patient = add_patient(s)
        filing = draft(s, patient)
        submit(s, filing, AT)
        with pytest.raises(FilingError, match="驳回原因"):
            reject(s, filing, AT, " ")
        reject(s, filing, AT, "缺少二级医院诊断证明")
    with db.session() as s:
        filing = s.get(Filing, filing.id)
        assert (filing.state, filing.reject_reason) == ("rejected", "缺少二级医院诊断证明")
        with pytest.raises(FilingError, match="草稿"):
            update_filing(s, filing, history_diagnosis="补充诊断证明")
        reopen(s, filing)
        update_filing(s, filing, history_diagnosis="高血压病史5年，附二级医院诊断证明")
        approved(s, filing)
        assert filing.state == "approved" and filing.reject_reason == "缺少二级医院诊断证明"


def test_only_draft_to_submitted_to_reviewed(db):
    with db.session() as s:
        patient = add_patient(s)
        filing = draft(s, patient)
        with pytest.raises(FilingError, match="已提交"):
            approve(s, filing, AT)
        with pytest.raises(FilingError, match="已提交"):
            reject(s, filing, AT, "不符合")
        with pytest.raises(FilingError, match="被驳回"):
            reopen(s, filing)
        approved(s, filing)
        with pytest.raises(FilingError, match="草稿"):
            submit(s, filing, AT)


def test_change_filing_supersedes_the_earlier_and_keeps_history(db):
    with db.session() as s:
        patient = add_patient(s)
        first = approved(s, draft(s, patient))
        with pytest.raises(FilingError, match="须写明变化"):
            new_change_filing(s, first, reason="progression", filed_on=date(2026, 3, 1))
        change = new_change_filing(s, first, reason="progression", tier="severe", filed_on=date(2026, 3, 1))
        # fields not given are copied, with the signatures that vouch for them
        assert (change.kind, change.supersedes_id, change.icd10, change.treatment_plan, change.plan_signer) == (
            "change", first.id, "I10.x00", "氨氯地平 5mg qd", "王医生")
        assert first.state == "approved"          # still in force while the change is reviewed
        with pytest.raises(FilingError, match="办理中的变更备案"):
            new_change_filing(s, first, reason="medication", treatment_plan="缬沙坦", filed_on=date(2026, 3, 1))
        approved(s, change, datetime(2026, 3, 5))
        assert first.state == "superseded"
        assert [f.id for f in filing_history(s, patient)] == [first.id, change.id]
        assert [f.id for f in current_filings(s, patient)] == [change.id]
        assert entitlements(s, patient, EZHOU, date(2026, 3, 2)) == (Entitlement("hypertension", "severe", True),)
        # a back-dated (offline) settlement sees the filing in force on its day
        assert entitlements(s, patient, EZHOU, date(2026, 2, 1)) == (Entitlement("hypertension", "ordinary", True),)


def test_only_an_approved_filing_can_be_changed(db):
    with db.session() as s:
        patient = add_patient(s)
        filing = draft(s, patient)
        with pytest.raises(FilingError, match="审核通过"):
            new_change_filing(s, filing, reason="progression", tier="severe", filed_on=date(2026, 3, 1))


def test_medication_change_needs_a_new_treatment_plan(db):
    with db.session() as s:
        first = approved(s, draft(s, add_patient(s)))
        with pytest.raises(FilingError, match="新的治疗方案"):
            new_change_filing(s, first, reason="medication", filed_on=date(2026, 3, 1))
        change = new_change_filing(s, first, reason="medication", treatment_plan="缬沙坦 80mg qd",
                                   plan_signer="李医生", filed_on=date(2026, 3, 1))
        assert (change.plan_signer, change.plan_signed_on, change.tier) == ("李医生", date(2026, 3, 1), "ordinary")


def test_approved_cure_ends_entitlement_and_a_relapse_needs_a_new_filing(db):
    with db.session() as s:
        patient = add_patient(s)
        first = approved(s, draft(s, patient))
        cured = approved(s, new_change_filing(s, first, reason="cured", filed_on=date(2026, 4, 1)))
        assert entitlements(s, patient, EZHOU, date(2026, 4, 2)) == ()
        assert entitlements(s, patient, EZHOU, date(2026, 3, 31)) != ()
        with pytest.raises(FilingError, match="重新办理认定备案"):
            new_change_filing(s, cured, reason="progression", tier="severe", filed_on=date(2026, 5, 1))
        relapse = approved(s, draft(s, patient, filed_on=date(2026, 6, 1)))
        assert relapse.supersedes_id == cured.id and cured.state == "superseded"
        assert entitlements(s, patient, EZHOU, date(2026, 6, 1)) == (Entitlement("hypertension", "ordinary", True),)


def test_new_disease_change_adds_the_other_disease_and_keeps_the_first(db):
    with db.session() as s:
        patient = add_patient(s)
        first = approved(s, draft(s, patient))
        with pytest.raises(FilingError, match="病史及诊断"):
            new_change_filing(s, first, reason="new_disease", filed_on=date(2026, 3, 1))
        added = new_change_filing(s, first, reason="new_disease", history_diagnosis="2型糖尿病，空腹血糖8.1",
                                  icd10="E11.900", treatment_plan="二甲双胍 0.5g bid", history_signer="王医生",
                                  plan_signer="王医生", filed_on=date(2026, 3, 1))
        assert (added.disease, added.tier, added.is_primary, added.supersedes_id) == (
            "diabetes", "ordinary", False, first.id)
        approved(s, added)
        assert first.state == "approved"
        assert entitlements(s, patient, EZHOU, date(2026, 3, 2)) == (
            Entitlement("hypertension", "ordinary", True), Entitlement("diabetes", "ordinary", False))


def test_only_one_primary_disease(db):
    with db.session("reviewer") as s:
        patient = add_patient(s)
        hypertension = approved(s, draft(s, patient))
        with pytest.raises(FilingError, match="主要病种已是高血压"):
            draft(s, patient, "diabetes", primary=True)
        diabetes = draft(s, patient, "diabetes", primary=False)
        submit(s, diabetes, AT)
        approve(s, diabetes, AT, make_primary=True)       # the patient chose diabetes as primary
        assert (diabetes.is_primary, hypertension.is_primary) == (True, False)
        assert hypertension.version == 4         # created, submitted, approved, made secondary
        assert entitlements(s, patient, EZHOU, date(2026, 2, 1)) == (
            Entitlement("hypertension", "ordinary", False), Entitlement("diabetes", "ordinary", True))
    with db.session() as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.entity_id == hypertension.id,
                                                    AuditEvent.action == "update")).all()
        assert any(json.loads(e.changes).get("is_primary") == [True, False] for e in events)


def test_approval_rechecks_that_only_one_disease_is_primary(db):
    with db.session() as s:
        patient = add_patient(s)
        diabetes = approved(s, draft(s, patient, "diabetes", primary=True))
        hypertension = draft(s, patient, primary=False)
        hypertension.is_primary = True          # e.g. a record edited elsewhere and synced in
        submit(s, hypertension, AT)
        with pytest.raises(FilingError, match="主要病种已是糖尿病"):
            approve(s, hypertension, AT)
        assert hypertension.state == "submitted" and diabetes.is_primary


def test_a_single_entitled_disease_is_primary(db):
    with db.session() as s:
        patient = add_patient(s)
        approved(s, draft(s, patient, "diabetes", primary=False))
        assert entitlements(s, patient, EZHOU, date(2026, 2, 1)) == (Entitlement("diabetes", "ordinary", True),)


def test_managed_patients_are_entitled_without_filing_where_policy_says_so(db):
    with db.session() as s:
        patient = add_patient(s, managed_hypertension=True, managed_diabetes=True)
        assert entitlements(s, patient, EZHOU, date(2026, 2, 1)) == ()
        assert entitlements(s, patient, YUNNAN, date(2026, 2, 1)) == (
            Entitlement("hypertension", "ordinary", True), Entitlement("diabetes", "ordinary", False))


def test_a_filed_primary_disease_wins_over_a_managed_only_one(db):
    with db.session() as s:
        patient = add_patient(s, managed_hypertension=True)
        approved(s, draft(s, patient, "diabetes", tier="severe", primary=True))
        assert entitlements(s, patient, YUNNAN, date(2026, 2, 1)) == (
            Entitlement("hypertension", "ordinary", False), Entitlement("diabetes", "severe", True))


def test_a_reviewed_cure_overrides_the_management_flag(db):
    with db.session() as s:
        patient = add_patient(s, managed_hypertension=True)
        first = approved(s, draft(s, patient))
        approved(s, new_change_filing(s, first, reason="cured", filed_on=date(2026, 4, 1)))
        assert entitlements(s, patient, YUNNAN, date(2026, 4, 2)) == ()


def test_every_edit_bumps_the_version(db):
    with db.session() as s:
        patient = add_patient(s)
        filing = draft(s, patient)
        versions = [filing.version]
        update_filing(s, filing, icd10="I10.x00")           # no change: no bump
        versions.append(filing.version)
        update_filing(s, filing, tier="severe")
        versions.append(filing.version)
        submit(s, filing, AT)
        versions.append(filing.version)
        reject(s, filing, AT, "重症须附评审结论")
        versions.append(filing.version)
        reopen(s, filing)
        versions.append(filing.version)
        assert versions == [1, 1, 2, 3, 4, 5]

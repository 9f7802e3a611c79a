"""Patients: registration rules, one living record per ID number, pinyin keys with surname readings, search."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import select

from clinic.db.models import AuditEvent, Patient
from clinic.idcard import make_id_number
from clinic.patients import (
    PatientError,
    find_by_id_number,
    pinyin_keys,
    register_patient,
    search_patients,
    soft_delete_patient,
    update_patient,
)


def id_for(seq: int, birth: date = date(1960, 5, 1)) -> str:
    return make_id_number("420704", birth, seq)


def register(s, name: str, seq: int, **kw) -> Patient:
    patient, created = register_patient(s, name=name, id_number=id_for(seq), **kw)
    assert created
    return patient


def names(patients) -> list[str]:
    return [p.name for p in patients]


# -- pinyin keys ----------------------------------------------------------------------------------------

def test_pinyin_keys_are_full_spelling_and_initials():
    assert pinyin_keys("张三") == ("zhangsan", "zs")


@pytest.mark.parametrize("name, surname_full, everyday_full, initials", [
    ("单雄信", "shanxiongxin", "danxiongxin", "sxx"), ("曾国藩", "zengguofan", "cengguofan", "zgf"),
    ("解缙", "xiejin", "jiejin", "xj"), ("区家明", "oujiaming", "qujiaming", "ojm"),
    ("朴正", "piaozheng", "puzheng", "pz"), ("翟明", "zhaiming", "diming", "zm"),
    ("覃华", "qinhua", "tanhua", "qh"), ("繁明", "poming", "fanming", "pm")])
def test_polyphonic_surname_is_read_as_a_surname_first_with_the_everyday_reading_kept(
        name, surname_full, everyday_full, initials):
    full, inits = pinyin_keys(name)
    assert full.split() == [surname_full, everyday_full]
    assert inits.split()[0] == initials


@pytest.mark.parametrize("name, full", [("长孙无忌", "zhangsunwuji"), ("万俟卨", "moqixie"), ("尉迟恭", "yuchigong"),
                                        ("欧阳修", "ouyangxiu"), ("诸葛亮", "zhugeliang")])
def test_compound_surnames_are_read_as_surnames(name, full):
    assert pinyin_keys(name)[0].split()[0] == full


def test_minority_name_separator_is_left_out_of_the_keys():
    assert pinyin_keys("阿不都·热合曼") == ("abudoureheman", "abdrhm")


# -- registration ---------------------------------------------------------------------------------------

def test_registration_derives_sex_birth_date_and_pinyin_from_the_card(db):
    number = make_id_number("420704", date(1956, 11, 3), 24)       # 17th digit 4: female
    with db.session("doctor") as s:
        patient, created = register_patient(s, name="曾秀英", id_number=number.lower(), phone="13812345678")
    assert created
    assert (patient.sex, patient.birth_date, patient.id_number) == ("女", date(1956, 11, 3), number)
    assert patient.pinyin_full.split()[0] == "zengxiuying" and patient.pinyin_initials.startswith("zxy")
    assert patient.institution_code == "H42070400101"


def test_registering_the_same_id_number_twice_finds_the_first_patient_unchanged(db):
    with db.session() as s:
        first = register(s, "张三", 1, phone="13800000001")
    with db.session() as s:
        again, created = register_patient(s, name="张叁", id_number=id_for(1), phone="13900000009")
        assert not created and again.id == first.id
        assert (again.name, again.phone) == ("张三", "13800000001")
        assert len(s.scalars(select(Patient)).all()) == 1


def test_a_soft_deleted_patient_does_not_block_registering_the_number_again(db):
    with db.session() as s:
        old = register(s, "张三", 1)
        soft_delete_patient(s, old, "重复建档")
    with db.session() as s:
        new, created = register_patient(s, name="张三", id_number=id_for(1))
    assert created and new.id != old.id


def test_registration_with_an_invalid_id_number_raises_patient_error_with_the_id_message(db):
    with db.session() as s, pytest.raises(PatientError, match="身份证号应为18位，当前为17位"):
        register_patient(s, name="张三", id_number=id_for(1)[:17])


@pytest.mark.parametrize("name, message", [
    ("", "姓名不能为空"), ("张3", "只能包含汉字"), ("Zhang San", "只能包含汉字"), ("·张三", "只能包含汉字"),
    ("王" * 21, "最多20个字，当前为21个字")])
def test_name_must_be_1_to_20_chinese_characters(db, name, message):
    with db.session() as s, pytest.raises(PatientError, match=message):
        register_patient(s, name=name, id_number=id_for(1))


def test_minority_name_with_a_middle_dot_is_accepted_and_dot_variants_are_unified(db):
    with db.session() as s:
        patient = register(s, "阿不都・热合曼", 1)
    assert patient.name == "阿不都·热合曼"


@pytest.mark.parametrize("phone, stored", [("13812345678", "13812345678"), ("138 1234 5678", "13812345678"),
                                           ("0711-1234567", "0711-1234567"), ("010-12345678", "010-12345678")])
def test_phone_may_be_a_mobile_or_a_landline_with_area_code(db, phone, stored):
    with db.session() as s:
        assert register(s, "李四", 2, phone=phone).phone == stored


@pytest.mark.parametrize("phone", ["1381234567", "23812345678", "1234567", "0711-12345", "电话"])
def test_malformed_phone_is_refused_with_the_accepted_forms(db, phone):
    with db.session() as s, pytest.raises(PatientError, match="11位手机号.*0711-1234567"):
        register_patient(s, name="李四", id_number=id_for(2), phone=phone)


def test_employee_contribution_defaults_to_100_and_is_checked(db):
    with db.session() as s:
        assert register(s, "王五", 3, insurance="employee").contribution == "100"
        assert register(s, "王六", 4, insurance="employee", contribution="80").contribution == "80"
        with pytest.raises(PatientError, match="缴费档次无效"):
            register_patient(s, name="王七", id_number=id_for(5), insurance="employee", contribution="90")


def test_contribution_is_refused_for_residents_and_unknown_insurance_is_refused(db):
    with db.session() as s:
        with pytest.raises(PatientError, match="缴费档次只适用于城镇职工"):
            register_patient(s, name="王五", id_number=id_for(3), contribution="80")
        with pytest.raises(PatientError, match="参保类型无效"):
            register_patient(s, name="王五", id_number=id_for(3), insurance="commercial")


def test_find_by_id_number_accepts_lowercase_x_and_ignores_deleted_patients(db):
    number = "11010519491231002X"          # the example in GB 11643-1999
    with db.session() as s:
        patient, _ = register_patient(s, name="赵六", id_number=number.lower())
        assert patient.id_number == number
        assert find_by_id_number(s, number.lower()).id == patient.id
        soft_delete_patient(s, patient, "登记错误")
        assert find_by_id_number(s, number) is None


# -- update and delete ------------------------------------------------------------------------------------

def test_renaming_a_patient_refreshes_the_pinyin_keys(db):
    with db.session() as s:
        patient = register(s, "张三", 1)
    with db.session() as s:
        patient = s.get(Patient, patient.id)
        update_patient(s, patient, name="单雄信", phone="0711-7654321")
    with db.session() as s:
        assert names(search_patients(s, "sxx")) == ["单雄信"]
        assert search_patients(s, "zs") == []
        assert s.get(Patient, patient.id).phone == "0711-7654321"


def test_correcting_the_id_number_re_derives_sex_and_birth_date(db):
    with db.session() as s:
        patient = register(s, "张三", 1)
        update_patient(s, patient, id_number=make_id_number("420704", date(1948, 2, 2), 22))
        assert (patient.sex, patient.birth_date) == ("女", date(1948, 2, 2))


def test_an_update_is_validated_like_a_registration(db):
    with db.session() as s:
        patient = register(s, "张三", 1)
        other = register(s, "李四", 2)
        with pytest.raises(PatientError, match="已登记为患者 张三"):
            update_patient(s, other, id_number=id_for(1))
        with pytest.raises(PatientError, match="11位手机号"):
            update_patient(s, patient, phone="12")
        with pytest.raises(PatientError, match="不能修改的字段：sex"):
            update_patient(s, patient, sex="女")


def test_switching_insurance_adjusts_the_contribution(db):
    with db.session() as s:
        patient = register(s, "张三", 1, insurance="employee", contribution="60")
        update_patient(s, patient, insurance="resident")
        assert (patient.insurance, patient.contribution) == ("resident", None)
        update_patient(s, patient, insurance="employee")
        assert patient.contribution == "100"
        update_patient(s, patient, contribution="standalone")
        assert patient.contribution == "standalone"


def test_soft_delete_needs_a_reason_and_records_it_in_the_audit_event(db):
    with db.session("doctor") as s:
        patient = register(s, "张三", 1)
        with pytest.raises(PatientError, match="须填写原因"):
            soft_delete_patient(s, patient, "  ")
        soft_delete_patient(s, patient, "重复建档")
        with pytest.raises(PatientError, match="已删除"):
            update_patient(s, patient, phone="13800000000")
    with db.session() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.entity_id == patient.id,
                                                   AuditEvent.action == "delete")).one()
        assert json.loads(event.changes)["reason"] == [None, "重复建档"]
        assert s.get(Patient, patient.id).deleted_at is not None


# -- search -------------------------------------------------------------------------------------------------

@pytest.fixture
def clinic_patients(db):
    with db.session() as s:
        for seq, (name, kw) in enumerate([
                ("张三", dict(phone="13800001234", outpatient_no="mz2024001")), ("张三丰", {}), ("张珊", {}),
                ("赵思", {}), ("老张三", {}), ("单雄信", {}), ("曾国藩", {}), ("解缙", {}), ("邓小信", {}),
                ("朱志明", dict(phone="0711-3335678")), ("张山", {})], start=1):
            register(s, name, seq, **kw)
    return db


def test_search_ranks_exact_name_before_prefix_before_substring(clinic_patients):
    with clinic_patients.session() as s:
        assert names(search_patients(s, "张三")) == ["张三", "张三丰", "老张三"]


def test_search_by_initials_ranks_exact_initials_before_longer_ones(clinic_patients):
    with clinic_patients.session() as s:
        assert names(search_patients(s, "zs")) == ["张三", "张山", "张珊", "赵思", "张三丰"]
        assert names(search_patients(s, "zsf")) == ["张三丰"]


def test_search_by_full_pinyin_prefix(clinic_patients):
    with clinic_patients.session() as s:
        assert names(search_patients(s, "zhangs")) == ["张三", "张三丰", "张山", "张珊"]
        assert names(search_patients(s, "Zhang San")) == ["张三", "张三丰"]


def test_polyphonic_surnames_are_found_by_surname_initials_and_full_pinyin(clinic_patients):
    with clinic_patients.session() as s:
        assert names(search_patients(s, "sxx")) == ["单雄信"]
        assert names(search_patients(s, "shanx")) == ["单雄信"]
        assert names(search_patients(s, "zgf")) == ["曾国藩"]
        assert names(search_patients(s, "zengguo")) == ["曾国藩"]
        assert names(search_patients(s, "xj")) == ["解缙"]
        assert names(search_patients(s, "xiejin")) == ["解缙"]


def test_the_everyday_reading_still_finds_the_patient_but_ranks_below_a_true_match(clinic_patients):
    with clinic_patients.session() as s:
        # 单 read as dan matches 单雄信 only through the second reading; 邓小信 is dxx by its first.
        assert names(search_patients(s, "dxx")) == ["邓小信", "单雄信"]
        assert names(search_patients(s, "cengguofan")) == ["曾国藩"]


def test_search_by_id_number_tail(clinic_patients):
    with clinic_patients.session() as s:
        tail = id_for(10)[-6:]
        assert names(search_patients(s, tail)) == ["朱志明"]
        assert names(search_patients(s, id_for(10))) == ["朱志明"]
        assert search_patients(s, id_for(10)[-3:]) == []          # fewer than 4 characters: too vague


def test_search_by_phone_digits_and_landline_without_dash(clinic_patients):
    with clinic_patients.session() as s:
        assert names(search_patients(s, "1234")) == ["张三"]
        assert names(search_patients(s, "13800001234")) == ["张三"]
        assert names(search_patients(s, "07113335678")) == ["朱志明"]
        assert names(search_patients(s, "3335")) == ["朱志明"]


def test_search_by_outpatient_number_exact_or_prefix_in_any_case(clinic_patients):
    with clinic_patients.session() as s:
        assert names(search_patients(s, "MZ2024001")) == ["张三"]
        assert names(search_patients(s, "mz2024")) == ["张三"]


def test_soft_deleted_patients_are_not_found(clinic_patients):
    with clinic_patients.session() as s:
        zhang = search_patients(s, "张三")[0]
        soft_delete_patient(s, zhang, "重复建档")
    with clinic_patients.session() as s:
        assert names(search_patients(s, "张三")) == ["张三丰", "老张三"]
        assert search_patients(s, "1234") == []


def test_search_respects_the_limit_and_ignores_empty_queries(clinic_patients):
    with clinic_patients.session() as s:
        assert len(search_patients(s, "z", limit=2)) == 2
        assert search_patients(s, "  ") == []


def test_like_wildcards_in_the_query_are_literal(clinic_patients):
    with clinic_patients.session() as s:
        assert search_patients(s, "张%") == []
        assert search_patients(s, "张_") == []

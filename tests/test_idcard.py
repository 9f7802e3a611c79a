"""Resident ID numbers: each kind of error has its own message; birth date, sex and age come from the number."""

from __future__ import annotations

from datetime import date

import pytest

from clinic.idcard import IdInfo, IdNumberError, age_on, check_digit, make_id_number, parse_id_number

# The example number printed in GB 11643-1999 itself.
STANDARD_EXAMPLE = "11010519491231002X"


def with_wrong_check_digit(number: str) -> tuple[str, str]:
    expected = number[17]
    wrong = "5" if expected != "5" else "6"
    return number[:17] + wrong, expected


def test_the_standard_example_number_is_valid():
    info = parse_id_number(STANDARD_EXAMPLE)
    assert info == IdInfo(number=STANDARD_EXAMPLE, birth_date=date(1949, 12, 31), sex="女", region_code="110105")


def test_a_made_number_parses_back_to_its_parts():
    number = make_id_number("420704", date(1958, 3, 7), 123)
    assert number[:17] == "42070419580307123" and number[17] == check_digit(number[:17])
    info = parse_id_number(number)
    assert (info.birth_date, info.sex, info.region_code) == (date(1958, 3, 7), "男", "420704")


def test_lowercase_x_and_full_width_digits_and_spaces_are_normalised():
    assert parse_id_number(" 11010519491231002x ").number == STANDARD_EXAMPLE
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in "11010519491231002X")
    assert parse_id_number(full_width).number == STANDARD_EXAMPLE


@pytest.mark.parametrize("seq, sex", [(1, "男"), (3, "男"), (19, "男"), (2, "女"), (0, "女"), (998, "女")])
def test_sex_comes_from_the_17th_digit_odd_for_men_even_for_women(seq, sex):
    assert parse_id_number(make_id_number("420704", date(1970, 1, 1), seq)).sex == sex


def test_id_number_of_wrong_length_says_how_many_characters_were_typed():
    with pytest.raises(IdNumberError, match="^身份证号应为18位，当前为17位$"):
        parse_id_number(STANDARD_EXAMPLE[:17])
    with pytest.raises(IdNumberError, match="当前为19位"):
        parse_id_number(STANDARD_EXAMPLE + "1")


def test_old_15_digit_number_is_refused_with_a_hint_to_use_the_new_one():
    with pytest.raises(IdNumberError, match="当前为15位.*15位旧号码"):
        parse_id_number("110105491231002")


def test_empty_id_number_says_it_is_empty():
    with pytest.raises(IdNumberError, match="不能为空"):
        parse_id_number("  ")


def test_id_number_with_letters_in_the_first_17_says_they_must_be_digits():
    with pytest.raises(IdNumberError, match="^身份证号前17位只能是数字$"):
        parse_id_number("1101051949123100XX")


def test_id_number_whose_last_character_is_not_a_digit_or_x_says_so():
    with pytest.raises(IdNumberError, match="第18位只能是数字或 X，录入为 Y"):
        parse_id_number("11010519491231002Y")


def test_id_number_with_wrong_check_digit_says_which_digit_is_expected():
    number = make_id_number("420704", date(1960, 5, 1), 31)
    wrong, expected = with_wrong_check_digit(number)
    with pytest.raises(IdNumberError) as err:
        parse_id_number(wrong)
    assert str(err.value) == f"身份证号第18位（校验码）应为 {expected}，录入为 {wrong[17]}，请核对"


def test_check_digit_x_is_reported_as_x():
    with pytest.raises(IdNumberError, match="应为 X，录入为 5"):
        parse_id_number(STANDARD_EXAMPLE[:17] + "5")


def test_id_number_with_an_impossible_birth_date_names_the_date():
    first17 = "42070419600231001"          # 31 February
    with pytest.raises(IdNumberError, match="^身份证号中的出生日期 19600231 不存在$"):
        parse_id_number(first17 + "0")
    with pytest.raises(IdNumberError, match="19591301 不存在"):
        parse_id_number("42070419591301001" + "0")


def test_29_february_is_a_birth_date_only_in_leap_years():
    assert parse_id_number(make_id_number("420704", date(1960, 2, 29), 11)).birth_date == date(1960, 2, 29)
    with pytest.raises(IdNumberError, match="19610229 不存在"):
        parse_id_number("42070419610229011" + "0")


def test_id_number_born_after_today_is_refused():
    number = make_id_number("420704", date(2030, 1, 1), 11)
    with pytest.raises(IdNumberError, match="^身份证号中的出生日期晚于今天$"):
        parse_id_number(number, today=date(2029, 12, 31))
    assert parse_id_number(number, today=date(2030, 1, 1)).birth_date == date(2030, 1, 1)


def test_id_number_born_before_1900_is_refused():
    with pytest.raises(IdNumberError, match="18991231 早于1900年"):
        parse_id_number(make_id_number("420704", date(1899, 12, 31), 11))


@pytest.mark.parametrize("province", ["99", "00", "10", "16", "30", "66", "72", "83", "91"])
def test_id_number_with_an_unknown_province_code_names_the_code(province):
    number = make_id_number(province + "0101", date(1960, 1, 1), 11)
    with pytest.raises(IdNumberError, match=f"^身份证号前两位 {province} 不是有效的省份代码$"):
        parse_id_number(number)


@pytest.mark.parametrize("province", ["11", "42", "65", "71", "81", "82"])
def test_province_codes_of_the_mainland_taiwan_hong_kong_and_macao_are_accepted(province):
    assert parse_id_number(make_id_number(province + "0101", date(1960, 1, 1), 11)).region_code[:2] == province


def test_id_number_errors_are_value_errors():
    assert issubclass(IdNumberError, ValueError)


@pytest.mark.parametrize("on, years", [
    (date(2020, 3, 6), 61), (date(2020, 3, 7), 62), (date(2021, 3, 6), 62), (date(1958, 3, 7), 0)])
def test_age_is_counted_in_full_years_up_to_the_birthday(on, years):
    assert age_on(date(1958, 3, 7), on) == years


def test_someone_born_on_29_february_turns_a_year_older_on_1_march_in_common_years():
    assert age_on(date(1960, 2, 29), date(2021, 2, 28)) == 60
    assert age_on(date(1960, 2, 29), date(2021, 3, 1)) == 61
    assert age_on(date(1960, 2, 29), date(2024, 2, 29)) == 64


def test_age_before_birth_is_an_error():
    with pytest.raises(ValueError):
        age_on(date(2000, 1, 2), date(2000, 1, 1))


def test_make_id_number_refuses_malformed_parts():
    with pytest.raises(ValueError):
        make_id_number("42070", date(1960, 1, 1), 1)
    with pytest.raises(ValueError):
        make_id_number("420704", date(1960, 1, 1), 1000)

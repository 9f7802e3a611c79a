"""Policies as data: every shipped file loads; missing figures are required local settings."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from clinic.policy import MissingSetting, PolicyError, all_policies, period_end, resolve_policy
from clinic.settlement import settle
from tests.settle_helpers import item, purchase


def test_every_shipped_policy_loads_and_cites_its_seed():
    policies = {p.region: p for p in all_policies()}
    assert set(policies) == {"ezhou", "lvliang", "yunnan", "dazhou"}
    for policy in policies.values():
        assert policy.source.endswith(".txt")
    assert policies["ezhou"].missing_settings() == ["payment_standard"]   # the document names no 支付标准


def test_lvliang_deductible_is_30_yuan_a_year_and_12_week_prescriptions():
    # seeds/002 二(一)1 起付标准由60元/年降低为30元/年; 二(二)1 4-12周长期处方
    lvliang = resolve_policy("lvliang", date(2026, 1, 1))
    assert lvliang.deductible == Decimal("30")
    assert lvliang.max_period == "12w"


def test_lvliang_refuses_to_settle_until_the_ratio_is_set():
    lvliang = resolve_policy("lvliang", date(2026, 1, 1))
    with pytest.raises(MissingSetting) as err:
        settle(lvliang, purchase())
    assert "ratios.resident.1" in str(err.value) and "本地设置" in str(err.value)


def test_lvliang_deductible_is_taken_before_the_ratio_primary_disease_first():
    local = {"lvliang": {"ratios.resident.1": "0.60", "caps.resident.ordinary": "800",
                         "secondary_factor": "0.5"}}
    lvliang = resolve_policy("lvliang", date(2026, 3, 15), local=local)
    result = settle(lvliang, purchase(item("100", "0.50")))          # 50.00 in range
    assert result.deductible == Decimal("30")
    assert result.fund_pay == Decimal("12.00")                       # (50 − 30) × 0.60
    again = settle(lvliang, purchase(item("100", "0.50"), deductible_paid="20"))
    assert again.deductible == Decimal("10") and again.fund_pay == Decimal("24.00")


def test_yunnan_ratio_setting_below_50_percent_is_refused():
    # seeds/003 (三) 支付比例都不低于50%
    with pytest.raises(PolicyError, match="50%"):
        resolve_policy("yunnan", date(2026, 1, 1), local={"yunnan": {"ratios.resident.1": "0.45"}})


def test_yunnan_includes_managed_patients_without_a_filing():
    # seeds/003 (七) 规范化管理的“两病”患者 不再要求另行备案
    assert resolve_policy("yunnan", date(2026, 1, 1)).entitles_managed_patients()
    assert not resolve_policy("ezhou", date(2026, 1, 1)).entitles_managed_patients()


def test_dazhou_orders_drugs_by_the_four_priorities_and_allows_three_months():
    # seeds/001 二(三) 四个优先; 三个月长处方
    dazhou = resolve_policy("dazhou", date(2026, 1, 1))
    assert dazhou.drug_priority == ("class_a", "essential", "consistency", "vbp")
    assert period_end(date(2026, 1, 31), dazhou.max_period) == date(2026, 4, 29)


def test_ezhou_prescription_at_most_24_weeks():
    # seeds/000 二(一)5 处方量最长不超过24周
    assert period_end(date(2026, 1, 1), "24w") == date(2026, 6, 17)


def test_a_purchase_settles_under_the_policy_in_force_on_its_date(tmp_path):
    source = resolve_policy("ezhou", date(2026, 1, 1)).path
    text = open(source, encoding="utf-8").read()
    newer = text.replace('id = "ezhou-2022-10-01"', 'id = "ezhou-2026-07-01"').replace(
        "effective_from = 2022-10-01", "effective_from = 2026-07-01").replace('1 = "0.60"', '1 = "0.65"')
    (tmp_path / "a.toml").write_text(text, encoding="utf-8")
    (tmp_path / "b.toml").write_text(newer, encoding="utf-8")
    assert resolve_policy("ezhou", date(2026, 6, 30), directory=tmp_path).ratio("resident", "1") == \
        Decimal("0.60")
    assert resolve_policy("ezhou", date(2026, 7, 1), directory=tmp_path).ratio("resident", "1") == \
        Decimal("0.65")
    with pytest.raises(PolicyError, match="尚未生效"):
        resolve_policy("ezhou", date(2022, 9, 30), directory=tmp_path)


@pytest.mark.parametrize(("change", "message"), [
    ('1 = "0.60"', "1 = \"1.60\""),
    ('ordinary = "1000"', 'ordinary = "-5"'),
    ('refill_window_days = 15', 'refill_window_days = "x"'),
    ('max_period = "24w"', 'max_period = "24 weeks"'),
    ('deductible = "0"', 'deductible = 0.5'),
])
def test_malformed_policy_file_is_refused_with_a_clear_error(tmp_path, change, message):
    text = open(resolve_policy("ezhou", date(2026, 1, 1)).path, encoding="utf-8").read()
    assert change in text
    (tmp_path / "bad.toml").write_text(text.replace(change, message, 1), encoding="utf-8")
    with pytest.raises(PolicyError, match="bad.toml"):
        all_policies(tmp_path)


def test_a_replaced_policy_file_is_read_again(tmp_path):
    # Parsed files are cached for speed; an administrator's new version must still take effect.
    import os

    from clinic.policy import load_policy
    from clinic.policy.loader import policies_dir

    path = tmp_path / "ezhou.toml"
    text = (policies_dir() / "ezhou-2022-10-01.toml").read_text(encoding="utf-8")
    path.write_text(text, encoding="utf-8")
    first = load_policy(path)
    path.write_text(text.replace(f'name = "{first.name}"', 'name = "鄂州新版"', 1), encoding="utf-8")
    os.utime(path, ns=(1, 1))
    assert load_policy(path).name == "鄂州新版"

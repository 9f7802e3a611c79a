"""The 濉溪 year-end account (seeds/004 附件1 二–三, 附件2) of the three synced villages, reproduced from
a worked example derived by hand from the document and the records in tests/township/builders.py.

Year 2025, December report (年终决算: the KPI's assessment year is the calendar year).

1. Heads — 试点人群: 城乡居民 with a 两病 case on 31 Dec 2024 (不含当年新增), counted where last served:
   each village: 签约高血压 and 两病患者 (签约), 三月痊愈 (未签约; cured in March, still pilot). 三月新备案 is
   new this year; 规范管理 and the employees are not pilot / not 城乡居民. 跨村患者 (签约 at 东港) last
   bought at 西湾 (5 March) → counted at 西湾.
      东港 签约 2 未签约 1 · 西湾 签约 3 未签约 1 · 南岭 签约 2 未签约 1 → 两病 7 / 3
   两病门诊结算总额 = 7×340 + 3×240 = 2380 + 720 = 3100.00
   常见慢性病 (entered): 东港 1/1, 西湾 0/2, 南岭 1/0 → 2×1000 + 3×900 = 4700.00; 门诊结算总额 7800.00
   试点人数: 东港 2+1+1+1 = 5, 西湾 3+1+0+2 = 6, 南岭 2+1+1+0 = 4 → 15
2. 两病门诊基金支出 of pilot persons (城乡居民, 60 % at a village, refund netted):
   per village 签约高血压 2 × 8.40 + 两病患者 (18.00 + 2.70) + 三月痊愈 8.40 = 45.90 → × 3 = 137.70;
   西湾's 两病患者 also bought 格列美脲 28 × 0.60 = 16.80 at 30 % (糖尿病 is secondary: 60 % × 50 %) = 5.04;
   跨村患者 540.00 + 8.40 (东港) + 480.00 + 8.40 (西湾) = 1036.80 → 137.70 + 5.04 + 1036.80 = 1179.54
3. Entered for 临江乡: 其他门诊基金支出 1994.96, 签约基金支付费用 900.00, 门诊违规扣款 50.00, 核定住院人数 1,
   住院实际基金支出 5000.00, 住院违规扣款 0, 县级牵头医院得分比 0.95.
   门诊年度结余 = 7800 − (1179.54 + 1994.96) − 900 − 50 = 3675.50; 住院 = 1×7500 − 5000 − 0 = 2500.00
   年度结余总额 = 6175.50; 人均结余额 = 6175.50 ÷ 15 = 411.70
4. KPI (附件2 formulas; measured from the records for 2025, the rest entered):
   东港: 两病人员 3 (签约高血压, 两病患者, 跨村患者), all 签约 → 100 % > 95 % → 5.00; 高血压 3: 规范管理 0/3
     → 0.00; 血压达标 2/3 (跨村患者 no reading) = 66.7 % > 60 % → 3.00; 糖尿病 1: 规范管理 0 → 0.00,
     血糖达标 1/1 → 3.00; 就诊 3/3 ≥ 70 % → 10.00 — measured 21.00.
     entered: 慢性病签约 96 % → 5.00; 签约包 96 % → 5.00; 服务包项目 100 % → 5.00; 投诉 2 → 5 − 1 = 4.00;
     病历处方 0 → 5.00; 转诊 0 → 5.00; 报销 2 → 4.00 — 33.00.  Total 54.00 / 60 = 0.90
   西湾: 跨村患者 not 签约 there: 签约 2/3 = 66.7 % (below the 80 % band) → 0.6667 × 5 = 3.33; 血压 2/3 → 3.00;
     血糖 1/1 → 3.00; 就诊 3/3 → 10.00; 规范管理 0, 0 — measured 19.33.
     entered: 85 % → 4.25; 90 % → 4.50; 95 % → 4.75; 投诉 1 → 4.50; 病历 1 → 4.50; 转诊 0 → 5.00;
     报销 0 → 5.00 — 32.50.  Total 51.83 / 60
   南岭: 两病人员 2, 签约 2/2 → 5.00; 血压 2/2 → 3.00; 血糖 1/1 → 3.00; 就诊 → 10.00 — measured 21.00.
     entered: 80 % → 4.00; 90 % → 4.50; 95 % → 4.75; 投诉 0 → 5.00; 病历 3 → 3.50; 转诊 1 → 4.50;
     报销 0 → 5.00 — 31.25.  Total 52.25 / 60
   临江乡 (all registrations): 两病人员 8, 签约 7/8 = 87.5 % → 4.375 → 4.38; 血压 6/8 = 75 % → 3.00;
     血糖 3/3 → 3.00; 就诊 8/8 → 10.00 — measured 20.38.  entered: 90 % → 4.50; 95 % → 4.75;
     100 % → 5.00; 投诉 3 → 3.50; 病历 2 → 4.00; 转诊 1 → 4.50; 报销 1 → 4.50 — 30.75.  Total 51.13 / 60
5. 结余分配 (所得 = 得分比 × 份额 × 411.70 × 人数; the share not earned returns to the fund):
   东港  0.30×411.70×5 = 617.55; × 0.90 = 555.795 → 555.80; returned 61.75
   西湾  0.30×411.70×6 = 741.06; × 51.83/60 = 51.83 × 12.351 = 640.152… → 640.15; returned 100.91
   南岭  0.30×411.70×4 = 494.04; × 52.25/60 = 52.25 × 8.234 = 430.2265 → 430.23; returned 63.81
   临江乡卫生院 0.50×411.70×15 = 3087.75; × 51.13/60 = 51.13 × 51.4625 = 2631.2776… → 2631.28; returned 456.47
   县级牵头医院 0.20×411.70×15 = 1235.10; × 0.95 = 1173.345 → 1173.35; returned 61.75
   paid out 5430.81; kept in the 医共体包干基金 6175.50 − 5430.81 = 744.69
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from clinic.reports.table import NOT_ENTERED
from clinic.township.tables import Request, build_tables
from sync.server.cli import main as server_cli
from tests.township.builders import YEAR

D = Decimal
DEC = date(YEAR, 12, 1)
EAST, WEST, SOUTH = "H42070400101", "H42070400202", "H42070400303"
ENTERED = {
    EAST: ["chronic_signed=1", "chronic_unsigned=1", "chronic_signing=0.96", "package_completion=96%",
           "service_item_completion=1", "complaints=2", "bad_records=0", "bad_referrals=0", "bad_claims=2"],
    WEST: ["chronic_signed=0", "chronic_unsigned=2", "chronic_signing=0.85", "package_completion=0.90",
           "service_item_completion=0.95", "complaints=1", "bad_records=1", "bad_referrals=0", "bad_claims=0"],
    SOUTH: ["chronic_signed=1", "chronic_unsigned=0", "chronic_signing=0.80", "package_completion=0.90",
            "service_item_completion=0.95", "complaints=0", "bad_records=3", "bad_referrals=1", "bad_claims=0"],
    "镇:临江乡": ["outpatient_other_spend=1994.96", "signing_fund_paid=900.00", "outpatient_penalties=50",
               "inpatient_heads=1", "inpatient_spend=5000", "inpatient_penalties=0", "county_score=0.95",
               "chronic_signing=0.90", "package_completion=0.95", "service_item_completion=1.00", "complaints=3",
               "bad_records=2", "bad_referrals=1", "bad_claims=1"],
}


def enter(township, unit: str, values: list[str]) -> None:
    assert server_cli(["township-input", "--db", township.db_url, "--year", str(YEAR), "--unit", unit,
                       *values]) == 0


def account(township):
    with township.server.db.session() as s:
        return build_tables(s, Request("capitation", DEC))


def test_before_the_township_enters_its_figures_nothing_is_guessed(township):
    surplus, split = account(township)
    assert surplus.value(("两病门诊结算总额",), "金额（元）") == D("3100.00")
    assert surplus.value(("“两病”门诊基金支出（本系统）",), "金额（元）") == D("1179.54")
    for label in ("年度结余总额", "人均结余额", "常见慢性病门诊结算总额"):
        assert surplus.value((label,), "金额（元）") == NOT_ENTERED
    assert split.value(("total",), "考核后所得") == NOT_ENTERED
    assert split.value(("镇:临江乡",), "考核实际得分比") == NOT_ENTERED          # its KPI inputs are missing
    assert split.value(("county",), "考核实际得分比") == NOT_ENTERED


def test_worked_example_year_end_surplus_and_split_by_kpi_score(township):
    for unit, values in ENTERED.items():
        enter(township, unit, values)
    surplus, split = account(township)
    money = {row.cells[1]: row.cells[3] for row in surplus.rows}
    heads = {row.cells[1]: row.cells[2] for row in surplus.rows}
    assert (heads["两病签约人员门诊实际就诊人数"], heads["两病未签约人员门诊实际就诊人数"]) == (7, 3)
    assert heads["辖区试点人群数"] == 15
    assert (money["两病门诊结算总额"], money["常见慢性病门诊结算总额"], money["门诊年度结算总额"]) == (
        D("3100.00"), D("4700.00"), D("7800.00"))
    assert (money["“两病”门诊基金支出（本系统）"], money["门诊年度结余资金"], money["住院年度结余资金"]) == (
        D("1179.54"), D("3675.50"), D("2500.00"))
    assert (money["年度结余总额"], money["人均结余额"]) == (D("6175.50"), D("411.70"))

    rows = {row.cells[2]: row.cells for row in split.rows}
    score, entitled, earned, returned = (split.column(name) for name in (
        "考核实际得分比", "应分结余（满分）", "考核后所得", "扣减回归包干基金"))
    expected = {  # unit: (heads, score share, entitled, earned, returned)
        "东港村卫生室": (5, D("54.00") / 60, D("617.55"), D("555.80"), D("61.75")),
        "西湾村卫生室": (6, D("51.83") / 60, D("741.06"), D("640.15"), D("100.91")),
        "南岭村卫生室": (4, D("52.25") / 60, D("494.04"), D("430.23"), D("63.81")),
        "临江乡卫生院": (15, D("51.13") / 60, D("3087.75"), D("2631.28"), D("456.47")),
        "县级牵头医院": (15, D("0.95"), D("1235.10"), D("1173.35"), D("61.75")),
    }
    for name, (n, share, full, got, back) in expected.items():
        cells = rows[name]
        assert (cells[split.column("试点人数")], cells[score], cells[entitled], cells[earned], cells[returned]) == (
            n, share, full, got, back), name
    total = split.row("total").cells
    assert (total[earned], total[returned]) == (D("5430.81"), D("744.69"))


def test_entered_figures_are_checked_before_anything_is_stored(township, capsys):
    assert server_cli(["township-input", "--db", township.db_url, "--year", str(YEAR), "--unit", EAST,
                       "chronic_signed=2", "complaints=-1"]) == 1
    assert "不小于 0 的整数" in capsys.readouterr().err
    assert server_cli(["township-input", "--db", township.db_url, "--year", str(YEAR), "--unit", "H999",
                       "chronic_signed=2"]) == 1
    assert "没有机构编码 H999" in capsys.readouterr().err
    from clinic.township.inputs import inputs_for
    with township.server.db.session() as s:
        assert inputs_for(s, YEAR, EAST).get("chronic_signed") in (None, 1)      # unchanged by the refused call

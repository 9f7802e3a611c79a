"""Drug catalogue: the sample starter list, provincial list import (CSV in UTF-8/GBK, XLSX) with a
row-by-row report, payment standards by policy rule, and the choice list ordered by drug priorities."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy import select

from clinic.catalogue import (
    CatalogueError,
    PaymentStandardUnknown,
    choice_list,
    import_catalogue,
    load_starter_catalogue,
    payment_standard,
    pinyin_initials,
)
from clinic.db.models import Drug
from clinic.policy import MissingSetting, resolve_policy
from clinic.stock import receive

HEADER = ("医保药品编码,通用名,规格,剂型,最小单位,包装,生产企业,类别,甲乙类,基药,一致性评价,集采中选,"
          "中选价,挂网价,零售价")
GOOD_ROWS = [
    "XC08CAT001,苯磺酸氨氯地平片,5mg,片剂,片,28片/盒,某药业,降压,甲,是,是,是,0.06,0.06,0.06",
    "XA10BAT001,盐酸二甲双胍片,0.5g,片剂,片,48片/盒,某药业,降糖,甲,是,是,是,0.03,,",
]
BAD_ROWS = [
    "XC09CAT001,缬沙坦胶囊,80mg,胶囊剂,粒,28粒/盒,某药业,降脂,甲,是,是,否,,0.30,0.30",     # unknown class
    "XC09CAT002,,80mg,胶囊剂,粒,28粒/盒,某药业,降压,乙,是,是,否,,0.30,-0.30",            # no name, negative
    "XC09CAT003,厄贝沙坦片,150mg,片剂,片,28片/盒,某药业,降压,乙,否,是,是,,0.10,0.10",    # vbp without 中选价
]


def drug(code, name="某药片", *, cls="antihypertensive", category="乙", essential=False, consistency=False,
         vbp=False, vbp_price=None, platform_price=None, retail_price="1.00"):
    return Drug(code=code, generic_name=name, spec="10mg", form="片剂", unit="片", drug_class=cls,
                category=category, essential=essential, consistency=consistency, vbp=vbp,
                vbp_price=None if vbp_price is None else Decimal(vbp_price),
                platform_price=None if platform_price is None else Decimal(platform_price),
                retail_price=Decimal(retail_price), pinyin_initials=pinyin_initials(name))


def write_csv(path, lines, encoding="utf-8"):
    path.write_bytes("\n".join(lines).encode(encoding))
    return path


def test_starter_list_loads_and_is_marked_sample(db):
    with db.session("pharmacist") as s:
        count = load_starter_catalogue(s)
    with db.session() as s:
        drugs = s.scalars(select(Drug)).all()
        amlodipine = s.get(Drug, "XC08CAS00101")
    assert count == len(drugs) >= 30
    assert all(d.sample_price and d.active for d in drugs)
    assert {d.drug_class for d in drugs} == {"antihypertensive", "antidiabetic", "other"}
    assert amlodipine.generic_name == "苯磺酸氨氯地平片" and amlodipine.vbp_price == Decimal("0.06")
    assert amlodipine.pinyin_initials == "bhsaldpp"
    insulin = [d for d in drugs if "胰岛素" in d.generic_name]
    assert insulin and all(d.unit == "支" for d in insulin)


def test_starter_list_never_overwrites_a_real_imported_price(db, tmp_path):
    row = "XC08CAS00101,苯磺酸氨氯地平片,5mg,片剂,片,28片/盒,某药业,降压,甲,是,是,是,0.05,0.05,0.05"
    with db.session("pharmacist") as s:
        import_catalogue(s, write_csv(tmp_path / "real.csv", [HEADER, row]))
        load_starter_catalogue(s)
    with db.session() as s:
        real = s.get(Drug, "XC08CAS00101")
        assert (real.vbp_price, real.sample_price) == (Decimal("0.05"), False)
        assert s.get(Drug, "XA10BAS00101").sample_price


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_csv_import_with_chinese_headers_reports_row_by_row(db, tmp_path, encoding):
    path = write_csv(tmp_path / "list.csv", [HEADER, *GOOD_ROWS, *BAD_ROWS], encoding)
    with db.session("pharmacist") as s:
        report = import_catalogue(s, path)
    assert (report.added, report.updated, report.skipped) == (2, 0, 3)
    assert report.errors == [
        (4, "类别", "未知类别“降脂”（应为 降压 / 降糖 / 其他）"),
        (5, "通用名", "不能为空"),
        (5, "零售价", "金额不能为负数"),
        (6, "中选价", "集采中选药品必须填写中选价"),
    ]
    text = report.summary()
    assert "新增 2 条" in text and "跳过 3 条" in text and "第 5 行【零售价】金额不能为负数" in text
    with db.session() as s:
        metformin = s.get(Drug, "XA10BAT001")
        assert s.get(Drug, "XC09CAT001") is None
    assert metformin.drug_class == "antidiabetic" and not metformin.sample_price
    assert metformin.retail_price == Decimal("0.03")      # blank 零售价: sold at the 中选价 (零差率)
    assert metformin.pinyin_initials == "ysejsgp"


def test_xlsx_import_numbers_rows_as_the_sheet_does(db, tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["某省两病用药目录（2026）"])                 # a title row above the header
    sheet.append(["药品编码", "药品名称", "规格", "剂型", "单位", "厂家", "药品分类", "甲乙类",
                  "国家基本药物", "一致性评价", "集采中选", "中选价", "平台采购价", "零售价（元）"])
    sheet.append(["XA10BBT001", "格列美脲片", "2mg", "片剂", "片", "某药业", "降糖", "乙", "是", "是", "是",
                  0.12, 0.12, 0.12])
    sheet.append(["XA10BBT002", "格列齐特缓释片", "30mg", "缓释片", "片", "某药业", "降糖", "乙", "是", "否", "可能",
                  None, 0.2, 0.2])
    sheet.append([None] * 5)                                 # blank rows are ignored
    sheet.append(["XA10BFT001", "阿卡波糖片", "50mg", "片剂", "片", "某药业", "降糖", "甲", "是", "是", "是",
                  0.1834, 0.1834, "abc"])
    book.save(tmp_path / "list.xlsx")
    with db.session("pharmacist") as s:
        report = import_catalogue(s, tmp_path / "list.xlsx")
    assert (report.added, report.skipped) == (1, 2)
    assert report.errors == [(4, "集采中选", "应填“是”或“否”，而不是“可能”"),
                             (6, "零售价（元）", "不是有效的金额：“abc”")]
    with db.session() as s:
        assert s.get(Drug, "XA10BBT001").platform_price == Decimal("0.12")


def test_unit_prices_keep_every_digit_the_price_list_gives(db, tmp_path):
    # 集采 unit prices often have four decimals; rounding them first would change every line total.
    row = "XA10BFT001,阿卡波糖片,50mg,片剂,片,30片/盒,某药业,降糖,甲,是,是,是,0.1834,0.1834,0.1834"
    with db.session("pharmacist") as s:
        report = import_catalogue(s, write_csv(tmp_path / "list.csv", [HEADER, row]))
    assert report.added == 1 and report.errors == [] and report.warnings == []
    with db.session() as s:
        drug = s.get(Drug, "XA10BFT001")
        assert (drug.vbp_price, drug.retail_price) == (Decimal("0.1834"), Decimal("0.1834"))


def test_duplicate_codes_in_one_file_are_all_skipped(db, tmp_path):
    lines = [HEADER, GOOD_ROWS[0], GOOD_ROWS[1], GOOD_ROWS[0].replace("0.06", "0.07")]
    with db.session("pharmacist") as s:
        report = import_catalogue(s, write_csv(tmp_path / "list.csv", lines))
    assert (report.added, report.skipped) == (1, 2)
    assert [(e.row, e.column) for e in report.errors] == [(2, "医保药品编码"), (4, "医保药品编码")]
    assert "另见第 4 行" in report.errors[0].message


def test_reimport_counts_updates_and_unchanged_rows(db, tmp_path):
    with db.session("pharmacist") as s:
        import_catalogue(s, write_csv(tmp_path / "a.csv", [HEADER, *GOOD_ROWS]))
    changed = [HEADER, GOOD_ROWS[0].replace("0.06,0.06,0.06", "0.05,0.05,0.05"), GOOD_ROWS[1]]
    with db.session("pharmacist") as s:
        report = import_catalogue(s, write_csv(tmp_path / "b.csv", changed))
    assert (report.added, report.updated, report.unchanged) == (0, 1, 1)
    with db.session() as s:
        assert s.get(Drug, "XC08CAT001").retail_price == Decimal("0.05")


def test_an_import_runs_in_the_callers_transaction(db, tmp_path):
    with pytest.raises(RuntimeError), db.session("pharmacist") as s:
        import_catalogue(s, write_csv(tmp_path / "a.csv", [HEADER, *GOOD_ROWS]))
        raise RuntimeError("cancelled")
    with db.session() as s:
        assert s.scalars(select(Drug)).all() == []


def test_a_file_without_the_required_columns_is_refused(db, tmp_path):
    with pytest.raises(CatalogueError, match="缺少必需的列：.*剂型"), db.session() as s:
        import_catalogue(s, write_csv(tmp_path / "a.csv", ["药品编码,通用名,规格", "X1,某药,1mg"]))
    with pytest.raises(CatalogueError, match="不支持的文件类型"), db.session() as s:
        import_catalogue(s, write_csv(tmp_path / "a.pdf", [HEADER]))


def test_four_priorities_class_a_then_essential_then_consistency_then_vbp(db):
    """达州 二(三) “四个优先”: a drug meeting an earlier priority ranks first, whatever the later ones."""
    policy = resolve_policy("dazhou", date(2026, 1, 1))
    with db.session("pharmacist") as s:
        s.add_all([
            drug("V", "戊药片", category="乙", vbp=True, vbp_price="0.10"),
            drug("C", "丙药片", category="乙", consistency=True, vbp=True, vbp_price="0.10"),
            drug("E", "乙药片", category="乙", essential=True),
            drug("A", "甲药片", category="甲"),
            drug("N", "无药片", category=None),
            drug("AS", "甲药片", category="甲"),              # same flags as A, but in stock
            drug("AE", "甲药片", category="甲", essential=True),
        ])
        s.flush()
        receive(s, "AS", "L1", date(2027, 1, 1), Decimal(10), date(2026, 1, 1))
    with db.session() as s:
        choices = choice_list(s, policy)
    assert [c.drug.code for c in choices] == ["AE", "AS", "A", "E", "C", "V", "N"]
    assert choices[0].priorities == ["甲类", "基药"]
    assert choices[1].on_hand == Decimal(10) and choices[4].priorities == ["一致性评价", "集采"]


def test_choice_list_filters_by_disease_and_query_and_leaves_out_other_drugs(db):
    policy = resolve_policy("ezhou", date(2026, 1, 1))
    with db.session("pharmacist") as s:
        load_starter_catalogue(s)
        s.get(Drug, "XC09AAS00201").active = False          # 卡托普利片 no longer stocked here
    with db.session() as s:
        everything = choice_list(s, policy, limit=1000)
        diabetes = choice_list(s, policy, disease="diabetes", limit=1000)
        by_initials = choice_list(s, policy, query="EJSG")
        by_name = choice_list(s, policy, query="沙坦")
        first_three = choice_list(s, policy, limit=3)
    assert all(c.drug.drug_class != "other" for c in everything)
    assert "XC09AAS00201" not in {c.drug.code for c in everything}
    assert diabetes and all(c.drug.drug_class == "antidiabetic" for c in diabetes)
    assert {c.drug.generic_name for c in by_initials} == {"盐酸二甲双胍片", "盐酸二甲双胍缓释片"}
    assert len(by_name) == 5 and all(c.priorities == [] for c in by_name)   # 鄂州 sets no priorities
    assert len(first_three) == 3


def test_payment_standard_under_yunnan_is_vbp_price_else_platform_price():
    # 云医保〔2021〕45号 (四): 中选药品以中选价格、其它药品以省平台实际采购价格作为医保支付标准
    policy = resolve_policy("yunnan", date(2026, 1, 1))
    assert payment_standard(drug("V", vbp=True, vbp_price="0.10", platform_price="0.30"), policy) == Decimal("0.10")
    assert payment_standard(drug("P", platform_price="0.30"), policy) == Decimal("0.30")


def test_payment_standard_unknown_under_yunnan_is_refused_naming_the_drug_and_the_list():
    policy = resolve_policy("yunnan", date(2026, 1, 1))
    refused = r"某药片（X）.*省药品集中采购平台实际采购价.*导入省平台挂网药品目录"
    with pytest.raises(PaymentStandardUnknown, match=refused):
        payment_standard(drug("X"), policy)
    with pytest.raises(PaymentStandardUnknown, match="中选价"):
        payment_standard(drug("V", vbp=True, platform_price="0.30"), policy)


def test_payment_standard_source_is_a_required_setting_where_the_document_names_none():
    # 鄂州、达州、吕梁 documents name no 医保支付标准: an administrator chooses its source
    for region in ("ezhou", "dazhou", "lvliang"):
        policy = resolve_policy(region, date(2026, 1, 1))
        assert "payment_standard" in policy.missing_settings()
        with pytest.raises(MissingSetting, match="医保支付标准的来源"):
            payment_standard(drug("V", vbp=True, vbp_price="0.10"), policy)


def test_payment_standard_follows_the_chosen_source():
    def under(source):
        return resolve_policy("ezhou", date(2026, 1, 1), local={"ezhou": {"payment_standard": source}})
    vbp, other = drug("V", vbp=True, vbp_price="0.10", platform_price="0.30"), drug("P", platform_price="0.25")
    assert payment_standard(vbp, under("vbp_price")) == Decimal("0.10")
    assert payment_standard(other, under("vbp_price")) is None
    assert payment_standard(other, under("platform_price")) == Decimal("0.25")
    assert payment_standard(vbp, under("platform_price")) == Decimal("0.30")
    assert payment_standard(vbp, under("none")) is None

"""Drug catalogue (药品目录): the shipped sample list, import of the provincial list from CSV or XLSX with
a row-by-row report, payment standards, and the doctor's choice list ordered by the policy's priorities."""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from clinic.db.models import Drug
from clinic.policy.model import Policy, PolicyError
from clinic.resources import resources_dir
from clinic.stock import on_hand_by_drug
from clinic.vocab import CLASS_DISEASE, DISEASES, DRUG_CLASSES, check

# Column aliases, normalised (see _norm_header): English field names and the Chinese headers of
# provincial lists and Excel exports.
ALIASES: dict[str, tuple[str, ...]] = {
    "code": ("code", "医保药品编码", "药品编码", "医保编码", "国家医保药品编码"),
    "generic_name": ("generic_name", "通用名", "药品通用名", "通用名称", "药品名称"),
    "spec": ("spec", "规格"),
    "form": ("form", "剂型"),
    "unit": ("unit", "最小单位", "单位", "最小包装单位"),
    "package": ("package", "包装", "包装规格"),
    "manufacturer": ("manufacturer", "生产企业", "厂家", "生产厂家"),
    "drug_class": ("drug_class", "类别", "药品分类", "两病类别"),
    "category": ("category", "甲乙类", "医保类别"),
    "essential": ("essential", "国家基本药物", "基药", "基本药物"),
    "consistency": ("consistency", "一致性评价", "通过一致性评价"),
    "vbp": ("vbp", "集采中选", "集采", "是否集采中选"),
    "vbp_price": ("vbp_price", "中选价", "中选价格"),
    "platform_price": ("platform_price", "挂网价", "平台采购价", "省平台采购价"),
    "retail_price": ("retail_price", "零售价", "销售价"),
}
LABELS = {name: aliases[1] for name, aliases in ALIASES.items()}   # the Chinese name, for messages
REQUIRED = ("code", "generic_name", "spec", "form", "unit", "drug_class")
PRICES = ("vbp_price", "platform_price", "retail_price")
FLAGS = ("essential", "consistency", "vbp")
CLASS_WORDS = {"降压": "antihypertensive", "降压药": "antihypertensive", "高血压": "antihypertensive",
               "降糖": "antidiabetic", "降糖药": "antidiabetic", "糖尿病": "antidiabetic",
               "其他": "other", "其它": "other", **{code: code for code in DRUG_CLASSES}}
CATEGORY_WORDS = {"甲": "甲", "甲类": "甲", "a": "甲", "乙": "乙", "乙类": "乙", "b": "乙"}
YES, NO = {"是", "y", "yes", "true", "1", "√"}, {"否", "n", "no", "false", "0", "×", ""}
PRIORITY_LABELS = {"class_a": "甲类", "essential": "基药", "consistency": "一致性评价", "vbp": "集采"}
STARTER = "catalogue/starter_drugs.csv"


class CatalogueError(ValueError):
    """The file as a whole cannot be imported (unreadable, wrong type, required columns missing)."""


class RowError(NamedTuple):
    row: int          # as the spreadsheet numbers it: the header is row 1 (or wherever it was found)
    column: str
    message: str


@dataclass
class ImportReport:
    source: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    errors: list[RowError] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)   # imported, but something was adjusted

    def summary(self) -> str:
        lines = [f"药品目录导入：{self.source}",
                 f"新增 {self.added} 条，更新 {self.updated} 条，未变 {self.unchanged} 条，"
                 f"跳过 {self.skipped} 条（有错误，未导入）"]
        for title, items in (("错误", self.errors), ("提示", self.warnings)):
            if items:
                lines.append(f"{title}：")
                lines += [f"  第 {e.row} 行【{e.column}】{e.message}" for e in items]
        return "\n".join(lines)


@dataclass(frozen=True)
class DrugChoice:
    drug: Drug
    on_hand: Decimal
    priorities: list[str]      # the policy's priorities this drug meets, in Chinese, in the policy's order


def pinyin_initials(name: str) -> str:
    # Imported here: pypinyin's phrase dictionary costs ~0.4 s and ~65 MB, and only a new drug name needs it.
    from pypinyin import Style, lazy_pinyin

    letters = "".join(lazy_pinyin(name, style=Style.FIRST_LETTER)).lower()
    return "".join(ch for ch in letters if ch.isascii() and ch.isalnum())[:60]


# ---------------------------------------------------------------- reading files

def _norm_header(text: object) -> str:
    # "零售价（元）", " *通用名 " and "Retail_Price" all name a column without their decorations.
    text = re.sub(r"[（(].*?[)）]", "", str(text or ""))
    return re.sub(r"[\s*＊:：]", "", text).lower()


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):   # openpyxl gives numbers as floats; repr is the shortest exact text
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value).strip()


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")      # GBK superset: what Chinese Excel saves "CSV" as
    except UnicodeDecodeError:
        raise CatalogueError("文件编码无法识别（应为 UTF-8 或 GBK）") from None


def _read_table(path: Path) -> list[list[str]]:
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".txt"):
            return [[_cell(v) for v in row] for row in csv.reader(io.StringIO(_decode(path.read_bytes())))]
        if suffix in (".xlsx", ".xlsm"):
            import openpyxl
            book = openpyxl.load_workbook(path, read_only=True, data_only=True)
            try:
                return [[_cell(v) for v in row] for row in book.worksheets[0].iter_rows(values_only=True)]
            finally:
                book.close()
    except OSError as exc:
        raise CatalogueError(f"无法读取文件 {path.name}：{exc.strerror or exc}") from None
    except CatalogueError:
        raise
    except Exception as exc:  # a damaged workbook raises many kinds of errors; the user needs one message
        raise CatalogueError(f"无法读取文件 {path.name}：{exc}") from None
    raise CatalogueError(f"不支持的文件类型：{path.name}（请使用 .csv 或 .xlsx）")


def _columns(row: list[str]) -> dict[str, int]:
    lookup = {alias.lower(): name for name, aliases in ALIASES.items() for alias in aliases}
    found: dict[str, int] = {}
    for index, header in enumerate(row):
        name = lookup.get(_norm_header(header))
        if name and name not in found:
            found[name] = index
    return found


def _records(path: Path) -> tuple[list[tuple[int, dict[str, str]]], dict[str, str]]:
    """(row number, {field: text}) for each non-blank data row, and each field's header as written."""
    table = _read_table(path)
    # Exports often put a title row above the header; look for it among the first rows.
    found = [i for i, row in enumerate(table[:10]) if all(name in _columns(row) for name in REQUIRED)]
    if not found:
        got = _columns(table[0]) if table else {}
        missing = "、".join(LABELS[name] for name in REQUIRED if name not in got)
        raise CatalogueError(f"{path.name} 缺少必需的列：{missing}")
    header_at = found[0]
    columns = _columns(table[header_at])
    headers = {name: table[header_at][i] for name, i in columns.items()}
    records = []
    for number, row in enumerate(table[header_at + 1:], start=header_at + 2):
        if any(row):
            records.append((number, {name: row[i] if i < len(row) else "" for name, i in columns.items()}))
    return records, headers


# ---------------------------------------------------------------- validating rows

def _parse(number: int, raw: dict[str, str], headers: dict[str, str], report: ImportReport) -> dict | None:
    errors: list[RowError] = []
    warnings: list[RowError] = []
    bad: set[str] = set()

    def fail(name: str, message: str) -> None:
        bad.add(name)
        errors.append(RowError(number, headers.get(name) or LABELS[name], message))

    values: dict[str, object] = {}
    for name in REQUIRED:
        if not raw.get(name):
            fail(name, "不能为空")
    values.update({name: raw.get(name, "") for name in ("code", "generic_name", "spec", "form", "unit")})
    values["package"] = raw.get("package") or None
    values["manufacturer"] = raw.get("manufacturer") or None
    if raw.get("drug_class"):
        values["drug_class"] = CLASS_WORDS.get(raw["drug_class"].lower())
        if values["drug_class"] is None:
            fail("drug_class", f"未知类别“{raw['drug_class']}”（应为 降压 / 降糖 / 其他）")
    text = raw.get("category", "")
    values["category"] = CATEGORY_WORDS.get(text.lower()) if text else None
    if text and values["category"] is None:
        fail("category", f"甲乙类应为“甲”或“乙”，而不是“{text}”")
    for name in FLAGS:
        text = raw.get(name, "").lower()
        if text not in YES | NO:
            fail(name, f"应填“是”或“否”，而不是“{raw[name]}”")
        values[name] = text in YES
    for name in PRICES:
        text = raw.get(name, "").replace("¥", "").replace("元", "").strip()
        values[name] = None
        if not text:
            continue
        try:
            price = Decimal(text)
            if not price.is_finite():
                raise InvalidOperation
        except InvalidOperation:
            fail(name, f"不是有效的金额：“{raw[name]}”")
            continue
        if price < 0:
            fail(name, "金额不能为负数")
            continue
        if price.as_tuple().exponent < -6:
            fail(name, f"单价最多保留6位小数：“{raw[name]}”")
            continue
        # Unit prices keep all their digits; only line totals are rounded to the fen.
        values[name] = price
    if values["vbp"] and values["vbp_price"] is None and "vbp_price" not in bad:
        fail("vbp_price", "集采中选药品必须填写中选价")
    if values["retail_price"] is None and "retail_price" not in bad:
        # 基层药品零差率: without a retail price the clinic sells at its purchase price.
        values["retail_price"] = values["vbp_price"] if values["vbp"] else values["platform_price"]
        if values["retail_price"] is None:
            fail("retail_price", "零售价为空，且没有中选价或挂网价可代替")
    report.errors.extend(errors)
    if errors:
        return None
    report.warnings.extend(warnings)
    return values


def _upsert(session: Session, values: dict, sample: bool, report: ImportReport | None) -> bool:
    """Write one drug; True if it was added or changed. Real imported prices are never replaced by samples."""
    drug = session.get(Drug, values["code"])
    if drug is None:
        session.add(Drug(**values, sample_price=sample, active=True,
                         pinyin_initials=pinyin_initials(values["generic_name"])))
        if report is not None:
            report.added += 1
        return True
    if sample and not drug.sample_price:
        return False
    values = {**values, "sample_price": sample, "pinyin_initials": pinyin_initials(values["generic_name"])}
    changed = {k: v for k, v in values.items() if getattr(drug, k) != v}
    for key, value in changed.items():
        setattr(drug, key, value)
    if report is not None:
        if changed:
            report.updated += 1
        else:
            report.unchanged += 1
    return bool(changed)


def import_catalogue(session: Session, path: str | Path) -> ImportReport:
    """Import a provincial list into the caller's transaction: valid rows are written (as real prices),
    invalid rows are skipped and listed in the report. Rows sharing a code are all skipped: which one
    is right cannot be known."""
    path = Path(path)
    records, headers = _records(path)
    report = ImportReport(source=path.name)
    rows_of: dict[str, list[int]] = defaultdict(list)
    for number, raw in records:
        rows_of[raw["code"]].append(number)
    for number, raw in records:
        values = _parse(number, raw, headers, report)
        others = [str(n) for n in rows_of[raw["code"]] if n != number] if raw["code"] else []
        if others:
            report.errors.append(RowError(number, headers["code"],
                                          f"编码 {raw['code']} 在文件中重复（另见第 {'、'.join(others)} 行）"))
            values = None
        if values is None:
            report.skipped += 1
        else:
            _upsert(session, values, sample=False, report=report)
    report.errors.sort(key=lambda e: e.row)
    return report


def load_starter_catalogue(session: Session) -> int:
    """Add the shipped sample list (sample_price=True); returns how many drugs were added or refreshed."""
    path = resources_dir() / STARTER
    records, headers = _records(path)
    report = ImportReport(source=path.name)
    rows = [_parse(number, raw, headers, report) for number, raw in records]
    if report.errors:
        raise CatalogueError(f"内置样例目录有误：\n{report.summary()}")
    return sum(_upsert(session, values, sample=True, report=None) for values in rows if values)


# ---------------------------------------------------------------- using the catalogue

class PaymentStandardUnknown(PolicyError):
    """The policy pays up to a standard price this drug does not have in the catalogue yet."""


def payment_standard(drug: Drug, policy: Policy) -> Decimal | None:
    """The price per unit the fund pays up to, by the policy's `payment_standard` source; None where
    the policy pays on the actual price. A standard the policy needs but the catalogue lacks is
    refused, naming the drug and the list to import, rather than paid on the retail price."""
    source = policy.payment_standard_source           # MissingSetting until an administrator chooses
    if source == "none":
        return None
    if drug.vbp and source != "platform_price":
        if drug.vbp_price is None:
            raise PaymentStandardUnknown(
                f"{drug.generic_name}（{drug.code}）是集采中选药品，但药品目录中没有中选价，无法按医保结算；"
                f"请导入含中选价的药品目录（设置 → 药品目录导入）后再结算")
        return drug.vbp_price
    if source == "vbp_price":
        return None
    if drug.platform_price is None:
        raise PaymentStandardUnknown(
            f"{drug.generic_name}（{drug.code}）没有省药品集中采购平台实际采购价（医保支付标准），"
            f"无法按医保结算；请导入省平台挂网药品目录（含平台采购价）后再结算")
    return drug.platform_price


def _meets(drug: Drug, priority: str) -> bool:
    if priority == "class_a":
        return drug.category == "甲"
    return bool(getattr(drug, priority))


def choice_list(session: Session, policy: Policy, *, disease: str | None = None, query: str | None = None,
                limit: int = 50, on: date | None = None) -> list[DrugChoice]:
    """Active 两病 drugs for the doctor: the policy's priorities first (lexicographic, in the policy's
    order), then drugs in stock, then by pinyin. With `on`, expired lots do not count as stock."""
    classes = list(CLASS_DISEASE)
    if disease is not None:
        check(DISEASES, disease, "病种")
        classes = [c for c, d in CLASS_DISEASE.items() if d == disease]
    stmt = select(Drug).where(Drug.active, Drug.drug_class.in_(classes))
    query = (query or "").strip()
    if query:
        stmt = stmt.where(or_(Drug.generic_name.contains(query, autoescape=True),
                              Drug.pinyin_initials.contains(query.lower(), autoescape=True),
                              Drug.code.startswith(query.upper(), autoescape=True)))
    drugs = session.scalars(stmt).all()
    stock = on_hand_by_drug(session, [d.code for d in drugs], on)
    choices = [DrugChoice(d, stock.get(d.code, Decimal(0)),
                          [PRIORITY_LABELS[p] for p in policy.drug_priority if _meets(d, p)]) for d in drugs]
    choices.sort(key=lambda c: (tuple(not _meets(c.drug, p) for p in policy.drug_priority), c.on_hand <= 0,
                                c.drug.pinyin_initials, c.drug.generic_name, c.drug.spec, c.drug.code))
    return choices[:limit]

"""The one shape every report takes, so one PDF renderer and one XLSX exporter serve them all.

A ReportTable is a title, a header of one or more rows with merged cells (as on the paper forms, HTML
table semantics: a cell spanning rows occupies the positions below it), one display format per
column, body rows (total rows flagged), body cells merged down a column (the KPI table's grouped
indicators), the period and 填报单位, the signature line under the table, and notes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

Value = str | int | Decimal | None

# Column formats: how a number is shown (text cells are allowed in any column, e.g. 待录入 / 不适用).
TEXT, COUNT, MONEY, PERCENT, SCORE = "text", "count", "money", "percent", "score"
FORMATS = (TEXT, COUNT, MONEY, PERCENT, SCORE)

NOT_ENTERED = "待录入"        # an input this system cannot know (e.g. 参保人数 of the area) not yet given
NOT_APPLICABLE = "不适用"     # a figure this system does not record (never shown as an invented 0)


@dataclass(frozen=True)
class HeaderCell:
    text: str
    colspan: int = 1
    rowspan: int = 1


@dataclass(frozen=True)
class PlacedHeader:
    text: str
    row: int
    col: int
    rowspan: int
    colspan: int


@dataclass(frozen=True)
class Row:
    cells: tuple[Value, ...]
    total: bool = False
    key: tuple[str, ...] = ()     # a stable name for the row (for callers and tests), never printed


@dataclass(frozen=True)
class BodyMerge:
    """Body cells of one column merged from `row` down `rowspan` rows (row = index into rows)."""
    row: int
    col: int
    rowspan: int


def date_words(day: date | None) -> str:
    return f"{day.year}年{day.month}月{day.day}日" if day else ""


def signature_line(unit: str, prepared_on: date | None) -> tuple[str, ...]:
    """The line under 附件4–7: 填报单位 / 填报人 / 审核人 / 填报日期 (seeds/000)."""
    return (f"填报单位：{unit}", "填报人：", "审核人：", f"填报日期：{date_words(prepared_on)}")


@dataclass
class ReportTable:
    title: str
    header: list[list[HeaderCell]]
    formats: tuple[str, ...]
    rows: list[Row]
    period: str                          # e.g. "2026年10月"
    unit: str                            # 填报单位
    notes: list[str] = field(default_factory=list)
    form_label: str = ""                 # e.g. "附件4": the paper form this follows
    prepared_on: date | None = None      # 填报日期
    demo: bool = False                   # the database is demo data: say so on every page
    measure: str = "单位：人、元"
    footer: tuple[str, ...] = ()         # the signature line; signature_line(unit, prepared_on) by default
    merges: tuple[BodyMerge, ...] = ()

    def __post_init__(self) -> None:
        width = len(self.formats)
        for fmt in self.formats:
            if fmt not in FORMATS:
                raise ValueError(f"unknown column format {fmt!r}")
        for row in self.rows:
            if len(row.cells) != width:
                raise ValueError(f"row {row.key or row.cells[:1]} has {len(row.cells)} cells, expected {width}")
        placed = self.placed_header()
        covered = sum(p.colspan * p.rowspan for p in placed)
        if covered != width * len(self.header) or any(p.col + p.colspan > width for p in placed):
            raise ValueError("header cells do not cover the table exactly")
        for merge in self.merges:
            if not (0 <= merge.col < width and merge.rowspan >= 1 and 0 <= merge.row
                    and merge.row + merge.rowspan <= len(self.rows)):
                raise ValueError(f"body merge {merge} is outside the table")
        if not self.footer:
            self.footer = signature_line(self.unit, self.prepared_on)

    @property
    def columns(self) -> int:
        return len(self.formats)

    @property
    def totals(self) -> list[Row]:
        return [row for row in self.rows if row.total]

    def row(self, *key: str) -> Row:
        for row in self.rows:
            if row.key == key:
                return row
        raise KeyError(key)

    def placed_header(self) -> list[PlacedHeader]:
        """Header cells with their grid position, skipping positions taken by a cell spanning from above."""
        taken: set[tuple[int, int]] = set()
        placed = []
        for r, cells in enumerate(self.header):
            c = 0
            for cell in cells:
                while (r, c) in taken:
                    c += 1
                placed.append(PlacedHeader(cell.text, r, c, cell.rowspan, cell.colspan))
                taken.update((r + dr, c + dc) for dr in range(cell.rowspan) for dc in range(cell.colspan))
                c += cell.colspan
        return placed

    def column_paths(self) -> list[tuple[str, ...]]:
        """Each column's header texts from top to bottom, e.g. ("一级及以下医疗机构", "医疗费")."""
        paths: list[list[str]] = [[] for _ in range(self.columns)]
        for cell in sorted(self.placed_header(), key=lambda p: p.row):
            for c in range(cell.col, cell.col + cell.colspan):
                paths[c].append(cell.text)
        return [tuple(p) for p in paths]

    def column(self, *path: str) -> int:
        """Index of the column whose header path ends with `path`."""
        found = [i for i, p in enumerate(self.column_paths()) if p[-len(path):] == path]
        if len(found) != 1:
            raise KeyError(path)
        return found[0]

    def value(self, key: tuple[str, ...], *path: str) -> Value:
        return self.row(*key).cells[self.column(*path)]

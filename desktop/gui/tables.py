"""The read-only list tables every page shows: rows selected whole, no editing, columns sized to
their contents with one or more columns taking the spare width."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget

Select = QAbstractItemView.SelectionMode


def read_only_table(columns: list[str], name: str, *, stretch: Iterable[int] = (), stretch_last: bool = False,
                    selection: Select = Select.SingleSelection, cls: type[QTableWidget] = QTableWidget
                    ) -> QTableWidget:
    table = cls(0, len(columns))
    table.setObjectName(name)
    table.setHorizontalHeaderLabels(columns)
    table.verticalHeader().hide()
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(selection)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setStretchLastSection(stretch_last)
    for column in stretch:
        header.setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch)
    return table

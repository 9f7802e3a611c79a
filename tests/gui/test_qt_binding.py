"""The Qt binding itself must be sound: PySide6 6.12.0 dropped a reference to None on every call of a
method returning void (setText, setItem, setRowCount …), so a busy clinic session died after a few
thousand updates with "deallocating None". pyproject excludes that release; this test catches any
other release with the same fault before a doctor does."""

import sys

from PySide6.QtWidgets import QLabel, QTableWidget


def test_void_qt_calls_keep_none_alive(qtbot):
    label, table = QLabel(), QTableWidget(0, 1)
    qtbot.addWidget(label)
    qtbot.addWidget(table)
    before = sys.getrefcount(None)
    for i in range(2000):
        label.setText(str(i))
        table.setRowCount(i % 7)
    assert sys.getrefcount(None) - before > -100

"""The GUI baseline: a bare PySide6 window showing a clinic's patients (10,000 rows) in a table, read
with the sqlite3 module, shown at 1366×768 and saved as a PNG, then the process exits. What any Qt
program must do to show that much; `liangbing gui` is timed against it.

Run: python bench/bare_table.py CLINIC.db OUT.png
"""

import os
import sqlite3
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QAbstractTableModel, Qt  # noqa: E402
from PySide6.QtWidgets import QApplication, QMainWindow, QTableView  # noqa: E402

COLUMNS = ["姓名", "性别", "出生日期", "身份证号", "电话", "门诊号", "险种"]


class Patients(QAbstractTableModel):
    """The rows as read; Qt asks only for the cells it paints."""

    def __init__(self, rows: list[tuple]):
        super().__init__()
        self.rows = rows

    def rowCount(self, parent=None) -> int:  # noqa: N802
        return len(self.rows)

    def columnCount(self, parent=None) -> int:  # noqa: N802
        return len(COLUMNS)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole:
            value = self.rows[index.row()][index.column()]
            return "" if value is None else str(value)
        return None

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None


def main(db: str, out: str) -> int:
    app = QApplication(sys.argv[:1])
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = conn.execute("SELECT name, sex, birth_date, id_number, phone, outpatient_no, insurance FROM patient "
                        "WHERE deleted_at IS NULL ORDER BY name").fetchall()
    conn.close()
    model = Patients(rows)
    table = QTableView()
    table.setModel(model)
    window = QMainWindow()
    window.setWindowTitle(f"{len(rows)} 名患者")
    window.setCentralWidget(table)
    window.resize(1366, 768)
    window.show()
    app.processEvents()
    if not window.grab().save(out):
        print(f"cannot save {out}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))

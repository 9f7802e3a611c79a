"""The follow-up chart: blood pressure (收缩压, 舒张压, mmHg, left axis) and glucose (空腹血糖, mmol/L, right
axis) over time, with the control targets of clinic/health.py drawn as dashed lines."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from PySide6.QtCharts import QChart, QChartView, QDateTimeAxis, QLineSeries, QValueAxis
from PySide6.QtCore import QDateTime, QMargins, Qt
from PySide6.QtGui import QColor, QPainter, QPen

from clinic.health import DBP_CONTROLLED_BELOW, GLUCOSE_CONTROLLED_BELOW, SBP_CONTROLLED_BELOW
from desktop.gui.ops_followups import VisitRow

SBP_COLOUR, DBP_COLOUR, GLUCOSE_COLOUR = "#c62828", "#1565c0", "#2e7d32"


def _ms(day: date) -> float:
    return QDateTime(datetime.combine(day, time(12))).toMSecsSinceEpoch()


def _line(name: str, colour: str, *, dashed: bool = False, width: float = 2) -> QLineSeries:
    series = QLineSeries()
    series.setName(name)
    pen = QPen(QColor(colour))
    pen.setWidthF(width)
    if dashed:
        pen.setStyle(Qt.PenStyle.DashLine)
    series.setPen(pen)
    series.setPointsVisible(not dashed)
    return series


class FollowUpChart(QChartView):
    def __init__(self, parent=None):
        self.chart_ = QChart()
        super().__init__(self.chart_, parent)
        self.setObjectName("followUpChart")
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.chart_.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        self.chart_.setMargins(QMargins(4, 4, 4, 4))
        self.setMinimumHeight(220)
        self.points: dict[str, int] = {}           # series name → number of readings (tests read it)
        self.show_visits([])

    def show_visits(self, visits: list[VisitRow]) -> None:
        chart = self.chart_
        chart.removeAllSeries()
        for axis in chart.axes():
            chart.removeAxis(axis)
        chart.setTitle("血压、血糖变化" if visits else "尚无随访记录：新增随访后这里显示血压、血糖变化")
        days = [v.visit_on for v in visits] or [date.today()]
        start, end = min(days) - timedelta(days=7), max(days) + timedelta(days=7)
        sbp, dbp = _line("收缩压 mmHg", SBP_COLOUR), _line("舒张压 mmHg", DBP_COLOUR)
        glucose = _line("空腹血糖 mmol/L", GLUCOSE_COLOUR)
        for v in visits:
            if v.sbp is not None and v.dbp is not None:
                sbp.append(_ms(v.visit_on), v.sbp)
                dbp.append(_ms(v.visit_on), v.dbp)
            if v.fasting_glucose is not None:
                glucose.append(_ms(v.visit_on), float(v.fasting_glucose))
        targets = []
        for value, colour, name in ((SBP_CONTROLLED_BELOW, SBP_COLOUR, f"收缩压目标 <{SBP_CONTROLLED_BELOW}"),
                                    (DBP_CONTROLLED_BELOW, DBP_COLOUR, f"舒张压目标 <{DBP_CONTROLLED_BELOW}")):
            line = _line(name, colour, dashed=True, width=1)
            line.append(_ms(start), value)
            line.append(_ms(end), value)
            targets.append(line)
        glucose_target = _line(f"血糖目标 <{GLUCOSE_CONTROLLED_BELOW}", GLUCOSE_COLOUR, dashed=True, width=1)
        glucose_target.append(_ms(start), float(GLUCOSE_CONTROLLED_BELOW))
        glucose_target.append(_ms(end), float(GLUCOSE_CONTROLLED_BELOW))

        x = QDateTimeAxis()
        x.setFormat("yyyy-MM")
        x.setRange(QDateTime(datetime.combine(start, time())), QDateTime(datetime.combine(end, time())))
        x.setTickCount(min(8, max(2, len(visits) + 1)))
        left = QValueAxis()
        left.setTitleText("血压 mmHg")
        left.setRange(40, 220)
        left.setLabelFormat("%d")
        right = QValueAxis()
        right.setTitleText("血糖 mmol/L")
        right.setRange(0, 20)
        right.setLabelFormat("%.0f")
        chart.addAxis(x, Qt.AlignmentFlag.AlignBottom)
        chart.addAxis(left, Qt.AlignmentFlag.AlignLeft)
        chart.addAxis(right, Qt.AlignmentFlag.AlignRight)
        for series, y in ((sbp, left), (dbp, left), (targets[0], left), (targets[1], left), (glucose, right),
                          (glucose_target, right)):
            chart.addSeries(series)
            series.attachAxis(x)
            series.attachAxis(y)
        for target in (*targets, glucose_target):
            for marker in chart.legend().markers(target):
                marker.setVisible(False)                 # the dashed lines explain themselves; keep the legend short
        self.points = {"sbp": sbp.count(), "dbp": dbp.count(), "glucose": glucose.count()}

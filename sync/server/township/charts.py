"""The dashboard's small charts as geometry: one chart per village and measure, one bar per month
(clinic/township/trends.py gives the figures). templates/charts.html turns them into inline <svg>
elements — no script, no external file — and every bar carries its month and figure as a <title>
(the browser's tooltip) and data- attributes, so a reader can check a bar against the tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from clinic.money import cents
from clinic.reports.table import NOT_ENTERED
from clinic.township.trends import MonthFigures, Rate, Trends, VillageTrend

SLOT, BAR, PAD = 15, 11, 5             # px per month, bar width, left margin
TOP, PLOT = 18, 46                    # the label line above, then the bars' height
HEIGHT = TOP + PLOT + 16              # and the month numbers below
NAMES = {"managed": "在管患者", "blood_pressure": "血压控制率", "blood_sugar": "血糖控制率", "fund": "基金支付 / 预算"}


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    height: float
    css: str
    month: str                        # YYYY-MM
    value: str                        # the figure, as data-value
    title: str


@dataclass(frozen=True)
class Tick:                           # the budget of a month, a short line across its slot
    x1: float
    x2: float
    y: float
    title: str


@dataclass
class Chart:
    measure: str
    village: str                      # the village's code
    width: int
    label: str                        # the latest month's figure, printed above the bars
    label_css: str = "latest"
    bars: list[Bar] = field(default_factory=list)
    ticks: list[Tick] = field(default_factory=list)
    months: list[tuple[float, str]] = field(default_factory=list)     # x, month number
    years: list[float] = field(default_factory=list)                  # x of a line before each January
    missing: str = ""                 # printed after the label in the warning colour (待录入)

    @property
    def height(self) -> int:
        return HEIGHT

    @property
    def name(self) -> str:
        return NAMES[self.measure]

    @property
    def bar_width(self) -> int:
        return BAR

    @property
    def baseline(self) -> int:
        return TOP + PLOT


def _month(m: MonthFigures) -> str:
    return f"{m.month.year}年{m.month.month}月"


def _y(value: Decimal | float, top: Decimal | float) -> tuple[float, float]:
    """A bar's top and height for `value` on a scale of 0…`top`."""
    height = round(float(value) / float(top) * PLOT, 1) if top else 0.0
    return TOP + PLOT - height, height


def _frame(measure: str, trend: VillageTrend, width: int, label: str, label_css: str = "latest") -> Chart:
    chart = Chart(measure, trend.village.code, width, label, label_css)
    chart.months = [(PAD + i * SLOT + BAR / 2, str(m.month.month)) for i, m in enumerate(trend.months)]
    chart.years = [PAD + i * SLOT - (SLOT - BAR) / 2 for i, m in enumerate(trend.months) if i and m.month.month == 1]
    return chart


def managed_chart(trend: VillageTrend, top: int) -> Chart:
    chart = _frame("managed", trend, PAD + SLOT * len(trend.months), f"{trend.latest.managed} 人")
    for i, m in enumerate(trend.months):
        y, h = _y(m.managed, max(top, 1))
        chart.bars.append(Bar(PAD + i * SLOT, y, h, "bar", f"{m.month:%Y-%m}", str(m.managed),
                              f"{_month(m)}：在管患者 {m.managed} 人"))
    return chart


def _rate_text(rate: Rate) -> str:
    return "无病例" if rate.ratio is None else f"{rate.ratio:.0%}（{rate.controlled}/{rate.cases}）"


def rate_chart(trend: VillageTrend, measure: str) -> Chart:
    what = "血压" if measure == "blood_pressure" else "血糖"
    disease = "高血压" if measure == "blood_pressure" else "糖尿病"
    latest: Rate = getattr(trend.latest, measure)
    chart = _frame(measure, trend, PAD + SLOT * len(trend.months), _rate_text(latest))
    for i, m in enumerate(trend.months):
        rate: Rate = getattr(m, measure)
        if rate.ratio is None:
            chart.bars.append(Bar(PAD + i * SLOT, TOP + PLOT - 2, 2, "bar empty", f"{m.month:%Y-%m}", "",
                                  f"{_month(m)}：无{disease}病例"))
            continue
        y, h = _y(rate.ratio, 1)
        if h < 1.5:                    # 0 % is measured, unlike a month without cases: keep it visible
            y, h = TOP + PLOT - 1.5, 1.5
        chart.bars.append(Bar(PAD + i * SLOT, y, h, "bar", f"{m.month:%Y-%m}", f"{rate.ratio:.4f}",
                              f"{_month(m)}：{what}控制 {rate.controlled} / {disease} {rate.cases} 例"
                              f" = {rate.ratio:.0%}"))
    return chart


def _money(value: Decimal | None) -> str:
    return NOT_ENTERED if value is None else f"{cents(value)}"


def fund_chart(trend: VillageTrend) -> Chart:
    latest = trend.latest
    label = f"已付 {_money(latest.fund_paid)} · 预算 " + ("" if latest.budget is None else _money(latest.budget))
    chart = _frame("fund", trend, PAD + SLOT * len(trend.months) + 4, label)
    chart.missing = NOT_ENTERED if latest.budget is None else ""
    top = max([m.fund_paid or 0 for m in trend.months] + [m.budget or 0 for m in trend.months] + [1])
    for i, m in enumerate(trend.months):
        x = PAD + i * SLOT
        paid = m.fund_paid
        if paid is not None:
            y, h = _y(paid, top)
            over = m.budget is not None and paid > m.budget
            chart.bars.append(Bar(x, y, max(h, 0.5), "bar over" if over else "bar spent", f"{m.month:%Y-%m}",
                                  str(cents(paid)), f"{_month(m)}：本年累计基金支付 {cents(paid)} 元，"
                                                    f"预算 {_money(m.budget)}"))
        if m.budget is not None:
            y, _ = _y(m.budget, top)
            chart.ticks.append(Tick(x - 2, x + BAR + 2, y, f"{_month(m)}：预算 {cents(m.budget)} 元"))
    return chart


@dataclass
class VillageCharts:
    trend: VillageTrend
    charts: list[Chart]


def dashboard_charts(trends: Trends) -> list[VillageCharts]:
    """Per village: 在管患者 (one scale for every village, so heights compare), 血压 and 血糖 control
    (0–100 %), and fund paid against budget (each village on its own scale: budgets differ)."""
    top = max((m.managed for t in trends.villages for m in t.months), default=0)
    return [VillageCharts(t, [managed_chart(t, top), rate_chart(t, "blood_pressure"), rate_chart(t, "blood_sugar"),
                              fund_chart(t)])
            for t in trends.villages if t.months]

"""The township dashboard (issue 6 item 1, issue 13 item 7), server-rendered: per village over the last
twelve months, charts of patients under management, 血压/血糖 control and fund paid against budget
(clinic/township/trends.py computes them, templates/charts.html draws them as inline SVG, no script);
then every village's sync and workload, and the alerts that need someone to act
(clinic/township/overview.py)."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request

from clinic.health import DBP_CONTROLLED_BELOW, GLUCOSE_CONTROLLED_BELOW, SBP_CONTROLLED_BELOW
from clinic.township.area import townships
from clinic.township.overview import build_dashboard
from clinic.township.trends import village_trends
from clinic.vocab import DISEASES
from sync.server.backup import dashboard_status as backup_status
from sync.server.render import render
from sync.server.township.access import Denied, notice, staff
from sync.server.township.charts import dashboard_charts

router = APIRouter()
LIMITS = {"sbp": SBP_CONTROLLED_BELOW, "dbp": DBP_CONTROLLED_BELOW, "glucose": GLUCOSE_CONTROLLED_BELOW}


@router.get("/township/dashboard")
def dashboard(request: Request, t: str = "", d: str = "", msg: str = "", err: str = ""):
    try:
        user = staff(request)
    except Denied as denied:
        return denied.response
    try:
        on = date.fromisoformat(d) if d else date.today()
    except ValueError:
        return notice(request, "乡镇仪表盘", user=user, error=f"日期格式无效：{d}（应为 YYYY-MM-DD）", status=400)
    try:                             # a plain `def` route: FastAPI runs it in its thread pool
        with request.app.state.db.session("dashboard") as s:
            board, names = build_dashboard(s, on, t or None), townships(s)
            trends = village_trends(s, on, [status.village for status in board.villages])
            return render(request, "dashboard.html", user=user, message=msg, error=err, board=board, trends=trends,
                          rows=dashboard_charts(trends), limits=LIMITS,
                          towns=[(n, n) for n in names], chosen=t, diseases=DISEASES,
                          names={status.village.code: status.village.name for status in board.villages},
                          server_backup=backup_status(request.app.state))
    except ValueError as exc:
        return notice(request, "乡镇仪表盘", user=user, error=str(exc), status=404)

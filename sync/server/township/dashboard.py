"""The township dashboard (issue 6 item 1), server-rendered: every village's sync and workload, then
the alerts that need someone to act (clinic/township/overview.py computes them)."""

from __future__ import annotations

from datetime import date
from html import escape

from fastapi import APIRouter, Request

from clinic.township.area import townships
from clinic.township.overview import Dashboard, build_dashboard
from clinic.vocab import DISEASES
from sync.server.township.access import Denied, page, staff

router = APIRouter()


def _when(moment) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment else "<span class='warn'>从未同步</span>"


def _rate(status) -> str:
    rate = status.stocking
    if rate is None:
        return ""
    if rate.ratio is None:
        return escape(rate.note)
    shown = f"{rate.ratio:.0%}"
    if rate.minimum is None:
        return f"{shown}（{escape(rate.note)}）"
    return f"<span class='warn'>{shown}</span>" if rate.below else f"<span class='ok'>{shown}</span>"


def _villages(board: Dashboard) -> str:
    head = ("编码", "村卫生室", "乡镇", "最近上传", "待上传", "在管患者", "待审核备案", "被拒收记录", "被驳回备案",
            "超限额提示", "重复配药", "疑似未备案", "低库存药品", "备药率")
    rows = []
    for s in board.villages:
        v = s.village
        over = f"{s.over_cap}（{s.over_cap_amount} 元）" if s.over_cap else "0"
        cells = [escape(v.code), escape(v.name), escape(v.township), _when(s.last_push),
                 "" if s.reported_pending is None else str(s.reported_pending), str(s.managed), str(s.pending_filings),
                 str(s.refused_records), str(s.rejected_filings), over, str(s.duplicates), str(s.suspected),
                 str(s.low_stock), _rate(s)]
        rows.append(f"<tr id='v-{escape(v.code)}'>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return ("<table class='villages'><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>" + "".join(rows)
            + "</table>")


def _table(title: str, head: tuple[str, ...], rows: list[tuple], key: str) -> str:
    if not rows:
        return f"<h2 id='{key}'>{title}（0）</h2><p>无。</p>"
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return (f"<h2 id='{key}'>{title}（{len(rows)}）</h2><table class='{key}'><tr>"
            + "".join(f"<th>{h}</th>" for h in head) + f"</tr>{body}</table>")


def _alerts(board: Dashboard) -> str:
    names = {s.village.code: s.village.name for s in board.villages}
    over = [(escape(names[f.flag.institution_code]), escape(f.patient_name),
             DISEASES.get(f.flag.disease or "", ""), f"{f.flag.amount} 元", escape(f.flag.detail))
            for f in board.flags if f.flag.kind == "over_cap"]
    dup = [(escape(names[f.flag.institution_code]), escape(f.patient_name), escape(f.flag.detail))
           for f in board.flags if f.flag.kind == "duplicate_dispense"]
    suspected = [(escape(names[i.patient.institution_code]), escape(i.patient.name), DISEASES[i.disease],
                  escape(i.reason), str(i.last_seen_on)) for i in board.suspected]
    low = [(escape(names[lv.institution_code]), escape(lv.name), f"{lv.on_hand.normalize():f}",
            "<span class='warn'>已断货</span>" if lv.on_hand <= 0 else
            ("" if lv.days_left is None else f"{lv.days_left} 天")) for lv in board.low_stock]
    stocking = [(escape(s.village.name), f"{s.stocking.ratio:.0%}", f"{s.stocking.minimum:.0%}",
                 escape("、".join(s.stocking.missing)))
                for s in board.villages if s.stocking is not None and s.stocking.below]
    days = (f"库存预警天数：{board.low_stock_days} 天（按近 90 天日均用量）" if board.low_stock_days
            else "库存预警天数未设置（文件未规定，请在“录入与设置”中填写），目前只提示已断货的药品")
    parts = [
        _table("跨机构超年度限额", ("村卫生室", "患者", "病种", "超出金额", "说明"), over, "over-cap"),
        _table("重复配药", ("村卫生室", "患者", "说明"), dup, "duplicates"),
        _table("疑似未备案（近一年配“两病”药或血压血糖异常，尚未享受待遇）",
               ("村卫生室", "患者", "病种", "依据", "最近发现"), suspected, "suspected"),
        f"<p>{days}</p>" + _table("“两病”药品低库存", ("村卫生室", "药品", "在库数量", "可用天数"), low, "low-stock"),
        _table("备药率低于上级医疗机构的规定比例（鄂州方案 二(四)12）", ("村卫生室", "备药率", "规定", "缺少的品种"),
               stocking, "stocking"),
    ]
    if board.policy_problems:
        parts.append("<p class='err'>" + escape("；".join(board.policy_problems)) + "</p>")
    return "".join(parts)


@router.get("/township/dashboard")
def dashboard(request: Request, t: str = "", d: str = "", msg: str = "", err: str = ""):
    try:
        user = staff(request)
    except Denied as denied:
        return denied.response
    try:
        on = date.fromisoformat(d) if d else date.today()
    except ValueError:
        return page("乡镇仪表盘", "", user, error=f"日期格式无效：{d}（应为 YYYY-MM-DD）", status=400)

    def work():
        with request.app.state.db.session("dashboard") as s:
            return build_dashboard(s, on, t or None), townships(s)

    try:
        board, names = work()        # a plain `def` route: FastAPI runs it in its thread pool
    except ValueError as exc:
        return page("乡镇仪表盘", "", user, error=str(exc), status=404)
    choose = "".join(f"<option value='{escape(n)}'{' selected' if n == t else ''}>{escape(n)}</option>" for n in names)
    pick = (f"<form method='get'><label>乡镇 <select name='t'><option value=''>全部</option>{choose}</select></label> "
            f"<label>日期 <input name='d' type='date' value='{on}'></label> <button>查看</button></form>")
    totals = (f"<p>村卫生室 {len(board.villages)} 个；在管患者 {sum(s.managed for s in board.villages)} 人；"
              f"待审核备案 {sum(s.pending_filings for s in board.villages)} 份；"
              f"待处理跨机构提示 {len(board.flags)} 条。时间为服务器时间（UTC）。</p>")
    return page("乡镇仪表盘", pick + totals + _villages(board) + _alerts(board), user, msg, err)

"""Report downloads: township staff and reviewers pick a report on a page and get the PDF or Excel file;
a clinic's device fetches its own clinic's reports over the API with its token, and nothing else."""

from __future__ import annotations

from datetime import date
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from clinic.reports.scope import parse_month
from clinic.township.area import townships
from clinic.township.tables import KINDS, VARIANTS, build_tables
from clinic.township.tables import Request as ReportRequest
from clinic.vocab import INSURANCES
from forms.report_book import render_book
from sync.server import auth
from sync.server.render import render
from sync.server.township.access import Denied, bearer, notice, staff

router = APIRouter()
DEVICE_KINDS = ("monthly", "units", "dispatch", "kpi", "exchange")     # one clinic's own; not the area's account
MEDIA = {"pdf": "application/pdf", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def _file(session, req: ReportRequest, fmt: str) -> Response:
    data = render_book(build_tables(session, req), fmt)
    name = f"{req.kind}-{req.month:%Y-%m}.{fmt}"
    shown = f"{KINDS[req.kind]}-{req.month:%Y年%m月}.{fmt}"
    return Response(data, media_type=MEDIA[fmt], headers={
        "Content-Disposition": f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(shown)}"})


def _request(kind: str, month: str, insurance: str, variant: str, township: str | None,
             institution: str | None) -> ReportRequest:
    return ReportRequest(kind=kind, month=parse_month(month), township=township or None,
                         institution=institution or None, insurance=insurance or None, variant=variant or "national")


@router.get("/township/reports")
def report_form(request: Request, msg: str = "", err: str = ""):
    try:
        user = staff(request)
    except Denied as denied:
        return denied.response
    with request.app.state.db.session("reports") as s:
        names = townships(s)
    last = date.today().replace(day=1)
    last = (last.replace(year=last.year - 1, month=12) if last.month == 1 else last.replace(month=last.month - 1))
    return render(request, "reports.html", user=user, message=msg, error=err, kinds=KINDS.items(),
                  last_month=f"{last:%Y-%m}", insurances=INSURANCES.items(), variants=VARIANTS.items(),
                  towns=[(n, n) for n in names])


@router.get("/township/reports/file")
def report_file(request: Request, kind: str, month: str, format: str = "pdf", insurance: str = "",
                variant: str = "national", township: str = "", institution: str = ""):
    try:
        user = staff(request)
    except Denied as denied:
        return denied.response
    try:
        if format not in MEDIA:
            raise ValueError(f"格式无效：{format}（可选：pdf / xlsx）")
        req = _request(kind, month, insurance, variant, township, institution)
        with request.app.state.db.session("reports") as s:
            return _file(s, req, format)
    except ValueError as exc:       # bad month, unknown township, missing rules …: say which, keep the form
        return notice(request, "报表下载", user=user, error=str(exc), back_to="/township/reports", status=400)


@router.get("/api/v1/reports/{kind}")
def device_report(request: Request, kind: str, month: str, format: str = "pdf", insurance: str = "",
                  variant: str = "national", institution: str = "", township: str = ""):
    """A clinic's own reports, by device token: another clinic's code or a township is refused."""
    with request.app.state.db.session("reports") as s:
        device = auth.device_for_token(s, bearer(request))
        if device is None:
            return JSONResponse({"error": "本设备未接入乡镇服务器，或授权已被撤销"}, status_code=401)
        own = device.institution_code
        if township or (institution and institution != own):
            return JSONResponse({"error": f"本设备只能获取本机构（{own}）的报表"}, status_code=403)
        if kind not in DEVICE_KINDS:
            return JSONResponse({"error": f"报表种类无效：{kind}（可选：{' / '.join(DEVICE_KINDS)}）"}, status_code=400)
        try:
            if format not in MEDIA:
                raise ValueError(f"格式无效：{format}（可选：pdf / xlsx）")
            return _file(s, _request(kind, month, insurance, variant, None, own), format)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

"""患者医保额度查询 (issue 12 item 8): township staff and the 医保 reviewer look a person up by ID number
and see the year's caps, fund paid, remaining amount, deductible and every entry across all clinics
(sync/server/ledger_view.py). Only the searched number is shown, masked in the heading; nothing else
on the page carries an ID number."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request

from clinic.idcard import IdNumberError, normalise, parse_id_number
from clinic.patient_ledger import ENTRY_HEADERS, check_year, ledger_values
from clinic.sensitive import mask_id_numbers
from clinic.vocab import INSURANCES
from sync.server.ledger_view import person_ledger
from sync.server.render import render
from sync.server.township.access import Denied, notice, staff

router = APIRouter()
PATH = "/township/patients"
TITLE = "患者医保额度查询"


@router.get(PATH)
def patient_lookup(request: Request, id_number: str = "", year: str = ""):
    try:
        user = staff(request)
    except Denied as denied:
        return denied.response
    today = date.today()
    typed = normalise(id_number)[:40]
    page = {"user": user, "path": PATH, "typed": typed, "year": year[:4] if year else str(today.year)}
    if not typed:
        return render(request, "patient_ledger.html", found=None, **page)
    try:
        number = parse_id_number(typed, today=today).number
        chosen = check_year(int(year), today) if year else today.year
    except IdNumberError as exc:
        return notice(request, TITLE, user=user, error=f"身份证号有误：{exc}", back_to=PATH, status=400)
    except ValueError:
        return notice(request, TITLE, user=user, error=f"年度无效：{year[:20]}（应为四位数字，如 {today.year}）",
                      back_to=PATH, status=400)
    with request.app.state.db.session("patient-lookup") as s:
        found = person_ledger(s, number, chosen, today)
    if found is None:
        return render(request, "patient_ledger.html", found=None, status=404,
                      error=f"服务器上没有身份证号为 {mask_id_numbers(number)} 的患者（尚未有村卫生室同步该患者）",
                      **page)
    return render(request, "patient_ledger.html", found=found, values=ledger_values(found.ledger),
                  masked=mask_id_numbers(number),
                  headers=ENTRY_HEADERS, insurances=INSURANCES, **{**page, "year": str(chosen)})

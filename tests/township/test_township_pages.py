"""The township's pages on the real server (issue 6 items 1, 2 and 6): staff and reviewers sign in, see
each village's sync and workload and the alerts, download reports; a clinic's device token gets its
own clinic's reports over the API and nothing else."""

from __future__ import annotations

import re
import subprocess
from io import BytesIO

import requests
from openpyxl import load_workbook

from clinic.township.inputs import inputs_for, low_stock_days, upper_institutions
from sync.client import sync_once
from tests.sync.helpers import file_offline
from tests.township.builders import YEAR
from tests.township.conftest import REVIEWER, STAFF

DAY = f"{YEAR}-03-31"
EAST, WEST, SOUTH = "H42070400101", "H42070400202", "H42070400303"


def signed_in(township, who=STAFF) -> tuple[requests.Session, str]:
    web = requests.Session()
    page = web.post(f"{township.server.url}/login", data={"username": who[0], "password": who[1]}, timeout=10)
    assert page.status_code == 200 and "退出" in page.text
    return web, re.search(r"name='csrf' value='([^']+)'", page.text).group(1)


def rows_of(html: str, table: str) -> list[list[str]]:
    body = re.search(rf"<table class='{table}'>(.*?)</table>", html, re.S)
    if body is None:
        return []
    return [[re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<td>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body.group(1), re.S)[1:]]


def test_the_dashboard_shows_every_village_and_the_alerts_that_need_action(township):
    web, _ = signed_in(township)
    html = web.get(f"{township.server.url}/township/dashboard", params={"d": DAY}, timeout=30).text
    villages = {row[0]: row for row in rows_of(html, "villages")}
    assert set(villages) == {EAST, WEST, SOUTH}
    east, west = villages[EAST], villages[WEST]
    assert east[1] == "东港村卫生室" and east[2] == "临江乡" and re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d", east[3])
    # 在管患者 on 31 March: 签约高血压, 两病患者, 职工重症, 职工补充, 规范管理, 三月新备案 (+ 跨村患者 at 东港/西湾)
    assert (east[5], west[5], villages[SOUTH][5]) == ("7", "7", "6")
    # In settlement order: 东港 540.00, 西湾 480.00 (cap 1000: 20.00 over), then 8.40 at 东港 (2 March) and
    # 8.40 at 西湾 (5 March), each wholly over the cap.
    assert (west[9], east[9], west[10], east[10]) == ("2（28.40 元）", "1（8.40 元）", "1", "0")
    over = rows_of(html, "over-cap")
    assert sorted((r[0], r[1], r[3]) for r in over) == [
        ("东港村卫生室", "跨村患者", "8.40 元"), ("西湾村卫生室", "跨村患者", "20.00 元"),
        ("西湾村卫生室", "跨村患者", "8.40 元")]
    assert [(r[0], r[1]) for r in rows_of(html, "duplicates")] == [("西湾村卫生室", "跨村患者")]
    suspected = {(r[0], r[1]) for r in rows_of(html, "suspected")}
    assert {(name, "疑似未标识") for name in ("东港村卫生室", "西湾村卫生室", "南岭村卫生室")} <= suspected
    low = rows_of(html, "low-stock")
    assert [(r[0], r[1], r[2]) for r in low] == [("西湾村卫生室", "格列美脲片 2mg", "0")]


def test_stocking_rate_is_compared_with_the_upper_level_institution_and_the_70_percent_rule(township):
    web, csrf = signed_in(township)
    before = web.get(f"{township.server.url}/township/dashboard", params={"d": DAY}, timeout=30).text
    assert "未设置本乡镇的上级医疗机构" in before
    done = web.post(f"{township.server.url}/township/settings/upper",
                    data={"csrf": csrf, "township": "临江乡", "code": SOUTH}, timeout=10)
    assert "已设为 H42070400303" in done.text
    html = web.get(f"{township.server.url}/township/dashboard", params={"d": DAY}, timeout=30).text
    # 南岭 has 氨氯地平, 二甲双胍, 格列美脲 in stock: 东港 lacks 格列美脲, 西湾 sold it out → 2/3 < 70 %
    assert sorted((r[0], r[1], r[2], r[3]) for r in rows_of(html, "stocking")) == [
        ("东港村卫生室", "67%", "70%", "格列美脲片"), ("西湾村卫生室", "67%", "70%", "格列美脲片")]


def test_reports_download_from_the_page_as_pdf_and_excel(township):
    web, _ = signed_in(township)
    form = web.get(f"{township.server.url}/township/reports", timeout=10).text
    assert "value='capitation'" in form and "临江乡" in form
    pdf = web.get(f"{township.server.url}/township/reports/file", timeout=60,
                  params={"kind": "monthly", "month": f"{YEAR}-03", "insurance": "resident", "format": "pdf"})
    assert pdf.headers["content-type"] == "application/pdf" and "attachment" in pdf.headers["content-disposition"]
    text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf.content, capture_output=True, check=True).stdout
    assert "附件4".encode() in text and "临江乡".encode() in text
    book = web.get(f"{township.server.url}/township/reports/file", timeout=60,
                   params={"kind": "kpi", "month": f"{YEAR}-12", "format": "xlsx"})
    assert load_workbook(BytesIO(book.content)).sheetnames == ["附件2", "考核汇总"]
    bad = web.get(f"{township.server.url}/township/reports/file", params={"kind": "units", "month": "2025-3x"},
                  timeout=10)
    assert bad.status_code == 400 and "月份格式无效" in bad.text


def test_a_filing_submitted_by_a_village_is_approved_and_leaves_the_pending_count(township):
    south = township.villages[2]
    filing = file_offline(south.db, south.patients["unmarked"], on=__import__("datetime").date(YEAR + 1, 11, 2))
    assert sync_once(south.db).all_acknowledged
    staff, _ = signed_in(township)

    def pending() -> str:
        html = staff.get(f"{township.server.url}/township/dashboard", params={"d": DAY}, timeout=30).text
        return {row[0]: row for row in rows_of(html, "villages")}[SOUTH][6]

    assert pending() == "1"
    reviewer, csrf = signed_in(township, REVIEWER)
    answer = reviewer.post(f"{township.server.url}/review/filings/{filing}",
                           data={"action": "approve", "opinion": "同意", "csrf": csrf}, timeout=10)
    assert "已通过" in answer.text
    assert pending() == "0"
    assert sync_once(south.db).all_acknowledged


def test_pages_need_a_staff_or_reviewer_sign_in_and_a_device_token_is_not_one(township):
    url = township.server.url
    anonymous = requests.get(f"{url}/township/dashboard", allow_redirects=False, timeout=10)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    token = {"Authorization": f"Bearer {township.tokens[EAST]}"}
    for path in ("/township/dashboard", "/township/reports", "/township/settings",
                 f"/township/reports/file?kind=units&month={YEAR}-03"):
        refused = requests.get(url + path, headers=token, allow_redirects=False, timeout=10)
        assert refused.status_code == 403 and "西湾" not in refused.text and "设备令牌" in refused.text
    reviewer, _ = signed_in(township, REVIEWER)
    assert reviewer.get(f"{url}/township/dashboard", params={"d": DAY}, timeout=30).status_code == 200


def test_a_device_gets_its_own_clinics_reports_and_never_another_villages(township):
    url = township.server.url
    token = {"Authorization": f"Bearer {township.tokens[EAST]}"}
    own = requests.get(f"{url}/api/v1/reports/units", params={"month": f"{YEAR}-03", "format": "xlsx"},
                       headers=token, timeout=30)
    assert own.status_code == 200
    cells = [c.value for row in load_workbook(BytesIO(own.content)).active.iter_rows() for c in row]
    assert "东港村卫生室" in cells and "西湾村卫生室" not in cells and "南岭村卫生室" not in cells
    for params, status, reason in (
            ({"institution": WEST}, 403, "只能获取本机构"), ({"township": "临江乡"}, 403, "只能获取本机构"),
            ({"institution": EAST, "kind": "capitation"}, 400, "报表种类无效")):
        kind = params.pop("kind", "units")
        refused = requests.get(f"{url}/api/v1/reports/{kind}", params={"month": f"{YEAR}-03", **params},
                               headers=token, timeout=10)
        assert refused.status_code == status and reason in refused.json()["error"]
    assert requests.get(f"{url}/api/v1/reports/units", params={"month": f"{YEAR}-03"}, timeout=10).status_code == 401
    revoked = {"Authorization": "Bearer not-a-token"}
    assert requests.get(f"{url}/api/v1/reports/units", params={"month": f"{YEAR}-03"}, headers=revoked,
                        timeout=10).status_code == 401


def test_only_township_staff_change_settings_and_a_bad_value_changes_nothing(township):
    url = township.server.url
    reviewer, csrf = signed_in(township, REVIEWER)
    refused = reviewer.post(f"{url}/township/settings/low-stock", data={"csrf": csrf, "days": "30"}, timeout=10)
    assert refused.status_code == 403
    staff, csrf = signed_in(township)
    forged = staff.post(f"{url}/township/settings/low-stock", data={"csrf": "x", "days": "30"}, timeout=10)
    assert "页面已过期" in forged.text
    bad = staff.post(f"{url}/township/settings/inputs", timeout=10, data={
        "csrf": csrf, "year": str(YEAR + 1), "unit": SOUTH, "chronic_signed": "3", "complaints": "两例"})
    assert "应为不小于 0 的整数" in bad.text
    with township.server.db.session() as s:
        assert low_stock_days(s) is None and inputs_for(s, YEAR + 1, SOUTH) == {}
        assert "临江乡" not in upper_institutions(s) or upper_institutions(s)["临江乡"] == SOUTH
    saved = staff.post(f"{url}/township/settings/inputs", timeout=10, data={
        "csrf": csrf, "year": str(YEAR + 1), "unit": SOUTH, "chronic_signed": "3", "complaints": "2"})
    assert "已保存" in saved.text
    with township.server.db.session() as s:
        assert inputs_for(s, YEAR + 1, SOUTH) == {"chronic_signed": 3, "complaints": 2}


def test_insured_counts_entered_on_the_page_fill_the_monthly_report(township):
    from datetime import date

    from clinic.township.tables import Request, build_tables

    staff, csrf = signed_in(township)
    saved = staff.post(f"{township.server.url}/township/settings/insured", timeout=10, data={
        "csrf": csrf, "unit": "镇:临江乡", "month": f"{YEAR}-01", "insurance": "resident",
        "ordinary.hypertension": "1200", "ordinary.diabetes": "800", "severe.hypertension": "",
        "severe.diabetes": "40"})
    assert "参保人数已保存" in saved.text and "value='1200'" in saved.text
    with township.server.db.session() as s:
        [table] = build_tables(s, Request("monthly", date(YEAR, 1, 1), insurance="resident"))
    assert [row.cells[1] for row in table.rows] == [1200, 800, 2000, "待录入", 40, "待录入"]

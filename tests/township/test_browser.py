"""The township pages in a real headless browser (Debian's chromium driven by Selenium; .ci/run installs
both): township staff sign in, open the dashboard and download a report through the form; the 医保
reviewer approves a filing a village submitted."""

from __future__ import annotations

import shutil
import time
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from clinic.db.models import Filing
from sync.client import sync_once
from tests.sync.helpers import file_offline
from tests.township.builders import YEAR
from tests.township.conftest import REVIEWER, STAFF

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is a test dependency (pyproject [test])")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="Debian's chromium and chromium-driver are not "
                                                                  "installed (.ci/run installs them)")


@pytest.fixture
def browser(tmp_path):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"download.default_directory": str(tmp_path),
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)})
    driver.implicitly_wait(5)
    driver.downloads = tmp_path
    yield driver
    driver.quit()


def sign_in(driver, url: str, who: tuple[str, str]) -> None:
    driver.delete_all_cookies()
    driver.get(f"{url}/login")
    driver.find_element(By.NAME, "username").send_keys(who[0])
    driver.find_element(By.NAME, "password").send_keys(who[1])
    driver.find_element(By.CSS_SELECTOR, "form button").click()
    assert driver.find_element(By.XPATH, "//button[text()='退出']")


def downloaded(folder, suffix: str, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [p for p in folder.iterdir() if p.suffix == suffix]
        if done:
            return done[0]
        time.sleep(0.2)
    raise AssertionError(f"no {suffix} file was downloaded")


def test_staff_sign_in_see_the_dashboard_and_download_a_report(township, browser):
    url = township.server.url
    sign_in(browser, url, STAFF)
    browser.get(f"{url}/township/dashboard?d={YEAR}-03-31")
    names = [cell.text for cell in browser.find_elements(By.CSS_SELECTOR, "table.villages tr td:nth-child(2)")]
    assert names == ["东港村卫生室", "西湾村卫生室", "南岭村卫生室"]
    assert "跨村患者" in browser.find_element(By.CSS_SELECTOR, "table.over-cap").text

    browser.find_element(By.LINK_TEXT, "报表下载").click()
    Select(browser.find_element(By.NAME, "kind")).select_by_value("units")
    browser.execute_script("document.querySelector(\"input[name='month']\").value = arguments[0]", f"{YEAR}-03")
    Select(browser.find_element(By.NAME, "format")).select_by_value("xlsx")
    browser.find_element(By.XPATH, "//button[text()='下载']").click()
    book = load_workbook(downloaded(browser.downloads, ".xlsx"))
    cells = [c.value for row in book.active.iter_rows() for c in row]
    assert {"东港村卫生室", "西湾村卫生室", "南岭村卫生室", "合计"} <= set(cells)


def test_the_reviewer_approves_a_filing_a_village_submitted(township, browser):
    east = township.villages[0]
    filing_id = file_offline(east.db, east.patients["unmarked"], on=date(YEAR + 1, 11, 3))
    assert sync_once(east.db).all_acknowledged
    url = township.server.url
    sign_in(browser, url, REVIEWER)
    browser.get(f"{url}/review")
    form = browser.find_element(By.CSS_SELECTOR, f"form[action='/review/filings/{filing_id}']")
    form.find_element(By.NAME, "opinion").send_keys("符合认定标准")
    form.find_element(By.XPATH, ".//button[text()='通过']").click()
    assert "已通过" in browser.find_element(By.CLASS_NAME, "msg").text
    with township.server.db.session() as s:
        assert s.scalar(select(Filing.state).where(Filing.id == filing_id)) == "approved"
    assert sync_once(east.db).all_acknowledged
    with east.db.session() as s:
        assert s.get(Filing, filing_id).state == "approved"


EAST, WEST, SOUTH = "H42070400101", "H42070400202", "H42070400303"


def charts_of(driver, village: str) -> dict[str, object]:
    return {svg.get_attribute("data-chart"): svg for svg in driver.find_elements(
        By.CSS_SELECTOR, f"table.trends tr[data-village='{village}'] svg.chart")}


def label(svg) -> str:
    return svg.find_element(By.CSS_SELECTOR, "text.latest").text


def test_the_dashboard_charts_every_village_over_twelve_months(township, browser):
    """Figures derived by hand from tests/township/builders.py (as in test_capitation_year_end.py), on
    31 March YEAR:
    - 东港 在管患者 7: 签约高血压, 两病患者, 职工重症, 职工补充, 规范管理, 三月新备案, 跨村患者 (三月痊愈 is cured);
    - 东港 高血压 6 cases (all but 职工重症): latest 血压 132/84 and 128/80 controlled, 150/95 not, three
      without a reading → 2/6 = 33 %; 糖尿病 2 (两病患者 6.1 controlled, 职工重症 no reading) → 50 %;
      南岭 has no 跨村患者: 2/5 = 40 %;
    - fund paid this year by the pilot persons: 东港 2 × 8.40 + 18.00 + 2.70 + 8.40 + 540.00 + 8.40 = 594.30."""
    url = township.server.url
    sign_in(browser, url, STAFF)
    assert not browser.find_elements(By.TAG_NAME, "script")
    browser.get(f"{url}/township/dashboard?d={YEAR}-03-31")
    assert "LB CJK" in browser.execute_script("return getComputedStyle(document.body).fontFamily")  # pages.css
    rows = browser.find_elements(By.CSS_SELECTOR, "table.trends tr[data-village]")
    assert [r.get_attribute("data-village") for r in rows] == [EAST, WEST, SOUTH]
    months = [f"{YEAR - 1}-{m:02d}" for m in range(4, 13)] + [f"{YEAR}-{m:02d}" for m in range(1, 4)]
    for village in (EAST, WEST, SOUTH):
        charts = charts_of(browser, village)
        assert set(charts) == {"managed", "blood_pressure", "blood_sugar", "fund"}
        for svg in charts.values():
            assert [b.get_attribute("data-month") for b in svg.find_elements(By.CSS_SELECTOR, "rect")] == months
    east, south = charts_of(browser, EAST), charts_of(browser, SOUTH)
    assert label(east["managed"]) == "7 人"
    assert label(east["blood_pressure"]) == "33%（2/6）" and label(south["blood_pressure"]) == "40%（2/5）"
    assert label(east["blood_sugar"]) == "50%（1/2）"
    march = east["fund"].find_element(By.CSS_SELECTOR, f"rect[data-month='{YEAR}-03']")
    assert march.get_attribute("data-value") == "594.30"
    assert label(east["fund"]).startswith("已付 594.30 · 预算 ")

    # No 常见慢性病 heads entered for YEAR + 1: the budget is 待录入, not 0. Enter them for 东港 on the
    # settings page: with no 两病 visit yet that year the budget is 2 × 1000 + 1 × 900 = 2900.00.
    browser.get(f"{url}/township/dashboard?d={YEAR + 1}-02-28")
    assert label(charts_of(browser, EAST)["fund"]) == "已付 0.00 · 预算 待录入"
    browser.get(f"{url}/township/settings?year={YEAR + 1}&unit={EAST}")
    browser.find_element(By.NAME, "chronic_signed").send_keys("2")
    browser.find_element(By.NAME, "chronic_unsigned").send_keys("1")
    browser.find_element(By.CSS_SELECTOR, "form[action='/township/settings/inputs'] button").click()
    assert "已保存" in browser.find_element(By.CLASS_NAME, "msg").text
    browser.get(f"{url}/township/dashboard?d={YEAR + 1}-02-28")
    east, west = charts_of(browser, EAST), charts_of(browser, WEST)
    assert label(east["fund"]) == "已付 0.00 · 预算 2900.00"
    assert label(west["fund"]) == "已付 0.00 · 预算 待录入"
    ticks = [t.get_attribute("textContent") for t in east["fund"].find_elements(By.CSS_SELECTOR, "line.budget title")]
    assert f"{YEAR + 1}年1月：预算 2900.00 元" in ticks and f"{YEAR + 1}年2月：预算 2900.00 元" in ticks

"""Monthly reports for the township and the 医保 office: pure computation over the shared schema
(clinic/db/models), so the same code runs on a clinic's file and on the township server's database of
many clinics. No Qt, no HTTP; rendering is forms/report_pdf.py (`render_pdf(table) -> bytes`) and
forms/report_xlsx.py (`render_xlsx(table) -> bytes`), which take any ReportTable.

Public API (every function takes an open SQLAlchemy Session; `month` is a date in the month or
"YYYY-MM"; `scope` is a Scope, a list of institution codes, or None for every clinic in the database):

    monthly_table(session, month, insurance, scope=None, *, insured=None, prepared_on=None)
        附件4/5/6 (seeds/000) for insurance "resident" | "employee" | "employee_supplementary".
        `insured` gives 参保人数, which no clinic holds: {"ordinary.hypertension": 1200, …}
        (monthly.INSURED_KEYS); rows not given print 待录入.
    units_table(session, month, scope=None, *, prepared_on=None)
        附件7 (seeds/000): one row per 填报单位 (institution) in the scope, then 合计.
    dispatch_table(session, month, scope=None, *, variant="national" | "shanxi", insurance="resident",
                   prepared_on=None)
        The 调度表: national / 云南 (seeds/003) or Shanxi (seeds/002); insurance=None counts all types.
    kpi_table(session, month, scope=None, *, inputs=None, assessment=None, prepared_on=None)
        The 濉溪 KPI table (seeds/004 附件2) scored by the formulas in scoring.py with the parameters of
        resources/policies/assessment/*.toml. `inputs` by indicator key (assessment file): a rate
        ("0.92" or "92%") or a number of cases; also parameter overrides (assessment.PARAMETERS).
    assess(session, month, scope=None, *, inputs=None, assessment=None) -> KpiResult
        The KPI scores without the table: per-indicator Scored, `earned`, `share` (考核实际得分比).

    Scope.everything() / Scope.of(codes)     which clinics; parse_month("2026-10") → date(2026, 10, 1)

A ReportTable (table.py) holds the title, the merged multi-row header (HeaderCell), one format per
column (TEXT, COUNT, MONEY, PERCENT, SCORE), rows (Row: cells, total flag, a stable `key` such as
("ordinary", "hypertension")), body merges, period, 填报单位, signature line and notes;
`table.value(key, *header_path)` reads one figure. Money cells are Decimal to the cent; a figure the
system cannot know prints 待录入 (NOT_ENTERED) or 不适用 (NOT_APPLICABLE), never an invented 0.
Refunds net out in the month they happen; claims refused by the 医保 reviewer are left out
(claims.py). Invalid arguments raise ValueError with a one-line Chinese message.
"""

from clinic.reports.assessment import Assessment, AssessmentError, load_assessment, set_assessment_parameter
from clinic.reports.dispatch import VARIANTS, dispatch_table
from clinic.reports.kpi import KpiResult, Scored, assess, kpi_table
from clinic.reports.monthly import INSURED_KEYS, monthly_table
from clinic.reports.scope import Scope, parse_month
from clinic.reports.table import NOT_APPLICABLE, NOT_ENTERED, HeaderCell, ReportTable, Row
from clinic.reports.units import units_table

__all__ = ["INSURED_KEYS", "NOT_APPLICABLE", "NOT_ENTERED", "VARIANTS", "Assessment", "AssessmentError",
           "HeaderCell", "KpiResult", "ReportTable", "Row", "Scope", "Scored", "assess", "dispatch_table",
           "kpi_table", "load_assessment", "monthly_table", "parse_month", "set_assessment_parameter",
           "units_table"]

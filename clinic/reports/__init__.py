"""Monthly reports for the township and the 医保 office: pure computation over the shared schema, so the
same code runs on a clinic's file and on the township server's database of many clinics.

Every report is a `Report` (table.py) that forms/report_pdf.py and forms/report_xlsx.py render.
"""

from clinic.reports.dispatch import dispatch_report
from clinic.reports.kpi import kpi_report
from clinic.reports.monthly import monthly_report
from clinic.reports.scope import parse_month
from clinic.reports.table import HeaderCell, Report, Row
from clinic.reports.units import units_report

__all__ = ["HeaderCell", "Report", "Row", "dispatch_report", "kpi_report", "monthly_report", "parse_month",
           "units_report"]

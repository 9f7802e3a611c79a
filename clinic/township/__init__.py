"""The township's view of its villages (issue 6), computed without HTTP on the server's database of
every clinic's records: the dashboard (overview.py, stocking.py), the monthly exchange lists
(exchange.py), the 濉溪 capitation account (rules.py, pilot.py, capitation.py, year_end.py), the
figures staff enter (inputs.py), and every township report as report tables (tables.py)."""

#!/usr/bin/env bash
# Build the PyInstaller bundle from build.spec and run it the way a clinic would (issue 7): a missing
# data file, font, migration or hidden import fails here, not on a village PC. Prints the bundle size.
#   --version · settle (DESIGN.md's worked example) · demo · print (附件3, read back with poppler)
#   · backup · the GUI's home screen rendered offscreen
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
"$PY" -m pip install -q "pyinstaller>=6.3"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
"$PY" -m PyInstaller --noconfirm --log-level ERROR --distpath "$WORK/dist" --workpath "$WORK/build" build.spec
BUNDLE="$WORK/dist/liangbing"
CONSOLE="$BUNDLE/liangbing-console"
echo "PyInstaller bundle: $(du -sh "$BUNDLE" | cut -f1)" \
     "($(du -sb "$BUNDLE" | cut -f1) bytes, $(find "$BUNDLE" -type f | wc -l) files) in dist/liangbing/"

fail() { echo "bundle smoke test failed: $*" >&2; exit 1; }

"$CONSOLE" --version | grep -q "^liangbing $("$PY" -c 'import tomllib;print(tomllib.load(open("pyproject.toml","rb"))["project"]["version"])')$" \
  || fail "--version does not match pyproject.toml"
"$BUNDLE/liangbing" --version >/dev/null || fail "the windowed executable does not start"

# DESIGN.md's worked example: 28 tablets at 0.50, 城乡居民 高血压 普通, village clinic → 14.00 / 8.40 / 5.60
SETTLED="$(printf '%s' '{"date": "2026-03-15", "patient": {"insurance": "resident"},
  "filings": [{"disease": "hypertension", "tier": "ordinary", "primary": true}], "institution_level": "1",
  "year_to_date": {"hypertension": {"fund_paid": "0.00"}, "deductible_paid": "0.00"},
  "items": [{"code": "XC08CAA001", "name": "苯磺酸氨氯地平片", "disease": "hypertension", "quantity": "28",
             "unit_price": "0.50"}]}' | "$CONSOLE" settle --policy ezhou)"
python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert (r["total"], r["fund_pay"], r["self_pay"]) == ("14.00", "8.40", "5.60"), r' \
  "$SETTLED" || fail "settle gave a different result for the worked example"

DB="$WORK/demo.db"
"$CONSOLE" demo --db "$DB" --patients 20 --today 2026-11-23 >/dev/null
"$CONSOLE" stats --db "$DB" | head -n 1 | grep -q "演示数据库" || fail "stats does not mark the demo database"
PATIENT="$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(
  "SELECT p.id_number FROM patient p JOIN prescription r ON r.patient_id = p.id LIMIT 1").fetchone()[0])' "$DB")"
"$CONSOLE" print prescription --db "$DB" --patient "$PATIENT" -o "$WORK/rx.pdf" >/dev/null
pdftotext "$WORK/rx.pdf" - | grep -q "慢性病用药连续" || fail "the printed 附件3 lacks its title"
pdffonts "$WORK/rx.pdf" | awk 'NR > 2 && $(NF-4) != "yes" { bad = 1 } END { exit bad }' \
  || fail "a font in the printed 附件3 is not embedded"

"$CONSOLE" backup --db "$DB" | grep -q "完整性检查通过" || fail "backup"

QT_QPA_PLATFORM=offscreen "$CONSOLE" gui --db "$DB" --demo-login --today 2026-11-23 --screenshot "$WORK/home.png"
[ -s "$WORK/home.png" ] || fail "the GUI did not render its home screen"
echo "bundle smoke test passed: --version, settle, demo, stats, print, backup, gui"

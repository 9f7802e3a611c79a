"""GUI cold start and resident memory on a generated clinic of 10,000 patients (500 at small scale).

Cold start: `liangbing gui --db X --demo-login --view home --screenshot OUT.png` as a fresh process,
from launch to exit: it opens and checks the file, logs in the demo doctor, shows the home screen,
waits until every background task (the morning lists) has answered, saves the PNG and exits. The
baseline is bench/bare_table.py in a fresh process: a bare PySide6 window showing the clinic's patients
in a 10,000-row table, saved as a PNG the same way. Target: ≤ 1.5×. The two alternate, so a busy
moment on the machine hits both.

Memory: the child's peak resident set size (getrusage of that child, ru_maxrss) with the patients
view open (`--view patients`), against the bare table's. Target: < 300 MB.

Run: .venv/bin/python -m bench.bench_gui [--scale small|full]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):                    # run as a script: python bench/bench_gui.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.generate import CLINIC_PATIENTS, TODAY, Datasets, datasets  # noqa: E402
from bench.timing import result_row  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
REPEATS = {"tiny": 1, "small": 2, "full": 3}
TARGET_RATIO, TARGET_MB = 1.5, 300


def liangbing() -> list[str]:
    script = Path(sys.executable).with_name("liangbing")
    return [str(script)] if script.exists() else [sys.executable, "-m", "desktop.cli"]


# A small process starts the measured one and reports its wall time and peak RSS. Linux carries a
# process's peak RSS across exec, so a child forked straight from this (large) benchmark process would
# report at least this process's size; forked from a bare interpreter, the figure is the child's own.
LAUNCHER = """
import os, sys, time
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(os.waitstatus_to_exitcode(status), time.perf_counter() - started, usage.ru_maxrss)
"""


def launch(command: list[str], png: Path) -> tuple[float, float]:
    """Wall seconds from launch to exit, and the child's peak resident memory in MB."""
    png.unlink(missing_ok=True)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, "-S", "-c", LAUNCHER, *command], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    try:
        code, seconds, kilobytes = done.stdout.split()
    except ValueError:
        code, seconds, kilobytes = done.returncode, 0, 0
    if int(code) != 0 or not png.exists() or png.stat().st_size == 0:
        raise RuntimeError(f"{' '.join(command[:3])} … failed ({code}): {done.stderr.strip()[-300:]}")
    return float(seconds), int(kilobytes) / 1024            # Linux reports kilobytes


def run(scale: str = "full", data: Datasets | None = None) -> list[dict]:
    if scale not in CLINIC_PATIENTS:
        raise ValueError(f"scale must be one of {', '.join(CLINIC_PATIENTS)}")
    patients = CLINIC_PATIENTS[scale]
    with datasets(data) as data, tempfile.TemporaryDirectory(prefix="bench-gui-") as tmp:
        db, out = data.clinic(patients), Path(tmp)

        def gui(view: str) -> tuple[float, float]:
            png = out / f"{view}.png"
            return launch(liangbing() + ["gui", "--db", str(db), "--demo-login", "--view", view, "--today",
                                         TODAY.isoformat(), "--screenshot", str(png)], png)

        def bare() -> tuple[float, float]:
            return launch([sys.executable, str(ROOT / "bench" / "bare_table.py"), str(db), str(out / "bare.png")],
                          out / "bare.png")

        patients_view = []
        if scale != "tiny":
            bare()                                     # warm-up: the OS file cache, Python's bytecode cache
            patients_view.append(gui("patients"))      # also the GUI's warm-up
        homes, bares = [], []
        for _ in range(REPEATS[scale]):
            bares.append(bare())
            homes.append(gui("home"))
        patients_view.append(gui("patients"))
    home_seconds = [s for s, _ in homes]
    bare_mb = [mb for _, mb in bares]
    return [
        result_row(f"GUI cold start to home screen ({patients:,} patients) vs bare {patients:,}-row table", scale,
                   home_seconds, [s for s, _ in bares], target="≤ 1.5×",
                   met=_ratio(home_seconds, [s for s, _ in bares]) <= TARGET_RATIO),
        result_row(f"GUI resident memory, patients view ({patients:,} patients) vs bare table", scale,
                   [mb for _, mb in patients_view], bare_mb, unit="MB", target="< 300 MB", item=7,
                   met=max(mb for _, mb in patients_view) < TARGET_MB),
        result_row(f"GUI resident memory, home screen ({patients:,} patients) vs bare table", scale,
                   [mb for _, mb in homes], bare_mb, unit="MB", target="< 300 MB", item=7,
                   met=max(mb for _, mb in homes) < TARGET_MB),
    ]


def _ratio(values: list[float], baseline: list[float]) -> float:
    return statistics.median(values) / statistics.median(baseline)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=tuple(CLINIC_PATIENTS), default="full")
    parser.add_argument("--data", type=Path, default=None, help="folder of generated databases to reuse")
    args = parser.parse_args()
    for row in run(args.scale, Datasets(args.data) if args.data else None):
        unit = row["unit"]
        print(f"  {row['name']:<72} median {row['median']:7.1f} {unit}  baseline {row['baseline_median']:6.1f} "
              f"{unit}  ratio {row['ratio']:5.1f}×  ({row['target']}: {'met' if row['met'] else 'NOT met'})")


if __name__ == "__main__":
    main()

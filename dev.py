"""Two set-up commands for a fresh machine with only Python 3.11+ (see README).

    python3 dev.py run    # install into .venv, build a demo database, open the desktop app on it
    python3 dev.py test   # install into .venv with the test extra, run ruff and the whole test suite

Kept in the standard library on purpose: it runs before anything is installed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")
DEMO_DB = ROOT / "demo.db"


def sh(*args: str | Path) -> None:
    print("+", " ".join(str(a) for a in args), flush=True)
    subprocess.run([str(a) for a in args], check=True, cwd=ROOT)


def install(extra: str | None) -> None:
    if not PY.exists():
        venv.EnvBuilder(with_pip=True).create(VENV)
        sh(PY, "-m", "pip", "install", "-q", "--upgrade", "pip")
    target = f".[{extra}]" if extra else "."
    sh(PY, "-m", "pip", "install", "-q", "-e", target)


def run() -> None:
    install(None)
    if not DEMO_DB.exists():
        sh(BIN / "liangbing", "demo", "--db", DEMO_DB)
    sh(BIN / "liangbing", "gui", "--db", DEMO_DB)       # log in as a demo account (README, “Demo accounts”)


def test(pytest_args: list[str]) -> None:
    install("test")
    sh(PY, "-m", "ruff", "check", ".")
    sh(PY, "-m", "pytest", *pytest_args)


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in {"run", "test"}:
        sys.exit("usage: python3 dev.py run | test [pytest args]")
    try:
        run() if sys.argv[1] == "run" else test(sys.argv[2:])
    except subprocess.CalledProcessError as exc:
        sys.exit(exc.returncode)


if __name__ == "__main__":
    main()

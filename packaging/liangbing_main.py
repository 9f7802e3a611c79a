"""Entry point of the PyInstaller bundle (build.spec): `liangbing.exe` with no arguments opens the
desktop app; with arguments it is the `liangbing` command line (the console variant shows output)."""

import sys

from desktop.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["gui"]))

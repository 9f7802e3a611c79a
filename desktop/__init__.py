"""The user-facing layer: the `liangbing` command line (cli.py) and, later, the PySide6 GUI."""

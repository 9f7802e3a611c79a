"""The core never imports Qt or HTTP libraries; forms and sync never import the GUI (DESIGN.md)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {
    "clinic": ("PySide6", "PyQt5", "PyQt6", "requests", "httpx", "urllib3", "fastapi", "uvicorn", "desktop",
               "forms", "sync", "http", "urllib.request"),
    "forms": ("PySide6", "desktop", "sync", "requests"),
    "sync": ("PySide6", "desktop"),
}


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_layers_import_only_downwards():
    offences = []
    for package, forbidden in FORBIDDEN.items():
        for path in (ROOT / package).rglob("*.py"):
            for name in imported_modules(path):
                if any(name == bad or name.startswith(bad + ".") for bad in forbidden):
                    offences.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offences == []

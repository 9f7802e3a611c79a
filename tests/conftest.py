"""Shared fixtures: every test gets its own fresh SQLite file under tmp_path."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

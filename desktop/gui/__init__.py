"""The PySide6 GUI. Pages call operations (ops_*.py: plain functions over the clinic core that return
plain data) through the TaskRunner, so no database work ever runs on the GUI thread."""

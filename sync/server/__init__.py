"""The township server: receives clinics' records, reviews them, and sends results back (issue 5)."""

from sync.server.app import create_app

__all__ = ["create_app"]

"""The township's pages and report endpoints (issue 6): dashboard, report downloads, the figures and
settings staff enter, and a clinic's own reports by device token. Mounted by sync/server/app.py."""

from fastapi import APIRouter

from sync.server.township import dashboard, downloads, patients, settings

router = APIRouter()
for part in (dashboard, downloads, settings, patients):
    router.include_router(part.router)

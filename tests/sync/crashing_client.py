"""`sync_once` on a clinic file, made to die (os._exit) after the server answered and before the
clinic's own commit of that answer. Used by test_crash.py."""

from __future__ import annotations

import os
import sys

from clinic.db.engine import open_database
from sync import outbox_pump
from sync.client import sync_once


def die(*args, **kwargs):
    os._exit(17)


outbox_pump.apply_answer = die
sync_once(open_database(sys.argv[1]))

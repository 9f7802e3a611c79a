"""The township server, made to die (os._exit, like a power cut or kill -9) while it stores the Nth
record of a push: the batch's transaction has not committed. Used by test_crash.py."""

from __future__ import annotations

import argparse
import os

import uvicorn

from sync.server import receive
from sync.server.app import create_app

parser = argparse.ArgumentParser()
parser.add_argument("--db", required=True)
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--crash-after", type=int, required=True)
args = parser.parse_args()
stored = 0
original = receive.receive_record


def receive_then_die(s, record, batch):
    global stored
    result = original(s, record, batch)
    stored += 1
    if stored >= args.crash_after:
        s.flush()
        os._exit(17)
    return result


receive.receive_record = receive_then_die
uvicorn.run(create_app(args.db), host="127.0.0.1", port=args.port, log_level="warning")

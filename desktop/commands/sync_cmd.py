"""`liangbing enrol` and `liangbing sync`: connect this clinic to the township server, and run one pass.

`sync` exits 0 when everything is acknowledged, 2 when records are left (pending, rejected by the
server, or in conflict: listed on stderr) or a pulled item could not be applied (its stream waits:
listed on stderr, retried by every pass), 3 when the server cannot be reached or refused the pass,
4 when the device must enrol again.
"""

from __future__ import annotations

import json
import sys

from clinic.db.engine import open_database


def register(sub) -> None:
    enrol = sub.add_parser("enrol", help="接入乡镇服务器（一次性接入码）")
    enrol.add_argument("--db", required=True)
    enrol.add_argument("--server", required=True, help="乡镇服务器地址，如 http://192.168.1.10:8000")
    enrol.add_argument("--code", required=True, help="乡镇卫生院提供的一次性接入码")
    enrol.add_argument("--device-name", default=None)
    enrol.set_defaults(handler=run_enrol)

    sync = sub.add_parser("sync", help="与乡镇服务器同步一次（上传待传记录，接收审核结果等）")
    sync.add_argument("--db", required=True)
    sync.add_argument("--json", action="store_true", help="以 JSON 输出结果")
    sync.add_argument("--reconcile", action="store_true", help="先核对服务器是否缺少已确认的记录")
    sync.set_defaults(handler=run_sync)


def run_enrol(args) -> int:
    from sync.client import enrol

    db = open_database(args.db, create=False)
    try:
        name = enrol(db, args.server, args.code, device_name=args.device_name)
    finally:
        db.close()
    print(f"已接入乡镇服务器 {args.server}（{name}）。运行 liangbing sync --db {args.db} 上传记录")
    return 0


def run_sync(args) -> int:
    from sync.client import outbox_problems, reconcile, sync_once
    from sync.status import pull_problems
    from sync.transport import NeedsEnrolment, SyncError

    db = open_database(args.db, create=False)
    try:
        try:
            requeued = reconcile(db) if args.reconcile else 0
        except SyncError as exc:
            print(f"liangbing: 核对未完成：{exc}", file=sys.stderr)
            return 4 if isinstance(exc, NeedsEnrolment) else 3
        result = sync_once(db, force=True)          # a person asked for it now: no waiting out backoff
        problems = outbox_problems(db)
        stuck = pull_problems(db, limit=None)
    finally:
        db.close()
    code = 2 if result.exit_code == 0 and stuck else result.exit_code
    if args.json:
        print(json.dumps({**result.to_dict(), "exit_code": code, "requeued": requeued, "pull_rejections": [
            {"stream": p.stream, "kind": p.kind, "id": p.item_id, "reason": p.reason, "attempts": p.attempts}
            for p in stuck]}, ensure_ascii=False, indent=2))
    else:
        print(result.summary)
        if requeued:
            print(f"核对：服务器缺少 {requeued} 条已确认的记录，已重新上传")
    for problem in problems:
        word = "被拒收" if problem.status == "rejected" else "版本冲突"
        print(f"{word}：{problem.record_type} {problem.record_id}：{problem.reason}", file=sys.stderr)
    for problem in stuck:
        print(problem.line, file=sys.stderr)
    if result.error:
        print(f"liangbing: {result.error}", file=sys.stderr)
    return code

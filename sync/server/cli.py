"""`liangbing-server`: run the township server and manage what it knows.

    liangbing-server serve --db URL_OR_PATH [--host 127.0.0.1] [--port 8000]
                     [--certfile CERT.pem --keyfile KEY.pem] [--trust-proxy ADDRESS] [--https-only]
    liangbing-server add-clinic --db … --code CODE --name NAME --level 1|2|3|pharmacy --township NAME
    liangbing-server add-user --db … --username U --role reviewer|township [--name N]  (password on stdin)
    liangbing-server revoke --db … --code CODE
    liangbing-server publish-policy --db … --file POLICY.toml
    liangbing-server import-catalogue --db … --file LIST.csv|xlsx
    liangbing-server stats --db … [--json]
    liangbing-server backup|restore --db …  (sync/server/backup_cli.py; serve --backup-dir DIR)

Errors end with one line on stderr and a non-zero exit code, like `liangbing`. Serving over HTTPS
(a certificate, or a reverse proxy): docs/server-https.md.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path

from sqlalchemy import func, select

from clinic.db.models import Drug, PolicyDocument
from clinic.db.records import RECORD_TYPES
from sync.server import auth, backup_cli, report_cli
from sync.server.feed import append
from sync.server.storage import open_server_database


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="liangbing-server", description="两病 乡镇同步服务器")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="运行服务器")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--certfile", help="TLS 证书（PEM）：本服务器直接以 HTTPS 提供服务")
    serve.add_argument("--keyfile", help="证书的私钥（PEM），与 --certfile 一起使用")
    serve.add_argument("--trust-proxy", metavar="ADDRESS",
                       help="在反向代理之后：信任这些地址（逗号分隔）发来的 X-Forwarded-Proto/X-Forwarded-For")
    serve.add_argument("--https-only", action="store_true",
                       help="网页只接受 HTTPS，明文 HTTP 访问网页被拒绝（同步接口不受影响）")
    clinic = sub.add_parser("add-clinic", help="登记村卫生室并打印一次性接入码")
    clinic.add_argument("--code", required=True)
    clinic.add_argument("--name", required=True)
    clinic.add_argument("--level", required=True, choices=["1", "2", "3", "pharmacy"])
    clinic.add_argument("--township", required=True)
    clinic.add_argument("--region", default="ezhou", help="政策地区（决定续配窗口等），默认 ezhou")
    user = sub.add_parser("add-user", help="添加或重设网页账户（密码从标准输入读取）")
    user.add_argument("--username", required=True)
    user.add_argument("--role", required=True, choices=sorted(auth.ROLES))
    user.add_argument("--name", default="")
    revoke = sub.add_parser("revoke", help="撤销某机构所有设备的授权")
    revoke.add_argument("--code", required=True)
    policy = sub.add_parser("publish-policy", help="发布政策文件，村卫生室同步后生效")
    policy.add_argument("--file", required=True)
    catalogue = sub.add_parser("import-catalogue", help="导入药品目录，村卫生室同步后更新")
    catalogue.add_argument("--file", required=True)
    stats = sub.add_parser("stats", help="各机构各类记录数量")
    stats.add_argument("--json", action="store_true")
    report_cli.add_parsers(sub)         # report, township-input (issue 6)
    backup_cli.add_parsers(sub)         # backup, restore, serve --backup-dir (issue 13 item 6)
    for command in sub.choices.values():
        command.add_argument("--db", required=True, help="SQLite 文件路径或 PostgreSQL 地址")
    return parser


def record_counts(db) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    with db.session() as s:
        for name, rt in RECORD_TYPES.items():
            table = rt.table
            for code, n in s.execute(select(table.c.institution_code, func.count()).where(
                    table.c.deleted_at.is_(None)).group_by(table.c.institution_code)):
                counts.setdefault(code, {})[name] = n
    return counts


def _password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("密码：")
        if first != getpass.getpass("再输入一次："):
            raise ValueError("两次输入的密码不一致")
        return first
    return sys.stdin.readline().rstrip("\n")


def run(args) -> int:
    if getattr(args, "handler", None):
        return args.handler(args)
    if args.command == "serve":
        return serve(args)
    db = open_server_database(args.db)
    try:
        return _manage(db, args)
    finally:
        db.close()


def serve(args) -> int:
    import uvicorn

    from sync.server.app import ServerSettings, create_app

    tls = _tls_options(args)
    if args.https_only and not (tls or args.trust_proxy):
        raise ValueError("--https-only 需要 --certfile/--keyfile（本机提供 HTTPS）或 --trust-proxy"
                         "（由反向代理提供 HTTPS），否则网页永远无法访问")
    # The scheme and client address from X-Forwarded-* only when told which proxy to believe.
    proxy = {"proxy_headers": True, "forwarded_allow_ips": args.trust_proxy} if args.trust_proxy else {
        "proxy_headers": False}
    app = create_app(args.db, ServerSettings(https_only=args.https_only))
    with backup_cli.daily_backups(args, app):
        # A browser's idle keep-alive TLS connection would otherwise hold a stop (Ctrl-C) for half a minute.
        uvicorn.run(app, host=args.host, port=args.port, log_level="info", timeout_graceful_shutdown=5, **tls, **proxy)
    return 0


def _tls_options(args) -> dict:
    """uvicorn's ssl options, after checking the certificate and key load together (a clear message
    here rather than a traceback from the server thread)."""
    if not args.certfile and not args.keyfile:
        return {}
    if not (args.certfile and args.keyfile):
        raise ValueError("--certfile 和 --keyfile 须同时给出")
    import ssl

    for path in (args.certfile, args.keyfile):
        if not Path(path).is_file():
            raise ValueError(f"找不到文件 {path}")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(args.certfile, args.keyfile)
    except (ssl.SSLError, ValueError) as exc:
        raise ValueError(f"证书 {args.certfile} 和私钥 {args.keyfile} 无法使用（须为 PEM 格式且互相匹配）："
                         f"{exc}") from None
    return {"ssl_certfile": args.certfile, "ssl_keyfile": args.keyfile}


def _manage(db, args) -> int:
    if args.command == "add-clinic":
        with db.session("admin", write=True) as s:
            code = auth.add_clinic(s, args.code, args.name, args.level, args.township, args.region)
        print(f"已登记 {args.name}（{args.code}）。一次性接入码（7 天内有效）：\n{code}")
        print(f"在村卫生室电脑上运行：liangbing enrol --db 诊所数据库 --server http://本服务器:端口 --code {code}")
    elif args.command == "add-user":
        password = _password()
        with db.session("admin", write=True) as s:
            auth.add_account(s, args.username, args.name, args.role, password)
        print(f"账户 {args.username}（{auth.ROLES[args.role]}）已保存")
    elif args.command == "revoke":
        with db.session("admin", write=True) as s:
            n = auth.revoke_clinic(s, args.code)
        print(f"已撤销 {args.code} 的 {n} 台设备授权；该机构须重新接入")
    elif args.command == "publish-policy":
        publish_policy(db, Path(args.file))
        print(f"政策 {Path(args.file).name} 已发布，村卫生室下次同步时生效")
    elif args.command == "import-catalogue":
        print(import_catalogue(db, Path(args.file)))
    elif args.command == "stats":
        counts = record_counts(db)
        if args.json:
            print(json.dumps(counts, ensure_ascii=False, indent=2, sort_keys=True))
        else:
            for code, kinds in sorted(counts.items()):
                print(code, "  ".join(f"{name} {n}" for name, n in sorted(kinds.items())))
    return 0


def publish_policy(db, path: Path) -> None:
    from clinic.policy.loader import load_policy

    policy = load_policy(path)          # refuses a file the clinics could not load
    with db.session("admin", write=True) as s:
        doc = s.get(PolicyDocument, policy.id)
        if doc is None:
            doc = PolicyDocument(id=policy.id)
            s.add(doc)
        doc.region, doc.effective_from, doc.text = policy.region, policy.effective_from, path.read_text("utf-8")
        s.flush()
        append(s, [("policies", "policy", policy.id, None)])


def import_catalogue(db, path: Path) -> str:
    from clinic.catalogue import import_catalogue as read_into
    from clinic.db.records import to_plain

    with db.session("admin", write=True) as s:
        before = {d.code: {c.key: to_plain(getattr(d, c.key)) for c in Drug.__table__.columns}
                  for d in s.scalars(select(Drug))}
        report = read_into(s, path)
        s.flush()
        changed = [d.code for d in s.scalars(select(Drug))
                   if before.get(d.code) != {c.key: to_plain(getattr(d, c.key)) for c in Drug.__table__.columns}]
        append(s, [("catalogue", "drug", code, None) for code in changed])
    return report.summary()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # one line for the user, never a traceback
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"liangbing-server: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

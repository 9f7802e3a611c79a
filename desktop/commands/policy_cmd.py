"""`liangbing policy list` and `liangbing policy show ID`."""

from __future__ import annotations

from clinic.policy import all_policies
from clinic.policy.model import ENTITLEMENT_RULES, REQUIRED, setting_label


def register(sub) -> None:
    p = sub.add_parser("policy", help="查看政策文件")
    verbs = p.add_subparsers(dest="verb", required=True)
    verbs.add_parser("list", help="列出全部政策").set_defaults(handler=run_list)
    show = verbs.add_parser("show", help="显示一个政策的全部设置")
    show.add_argument("id")
    show.set_defaults(handler=run_show)
    register_set(verbs)


def run_list(args) -> int:
    for policy in all_policies():
        missing = policy.missing_settings()
        state = f"缺 {len(missing)} 项本地设置" if missing else "完整"
        print(f"{policy.id}\t{policy.name}\t生效 {policy.effective_from}\t{state}")
    return 0


def run_show(args) -> int:
    matches = [p for p in all_policies() if args.id in (p.id, p.region)]
    if not matches:
        raise ValueError(f"未知政策：{args.id}")
    for policy in matches:
        print(f"{policy.id}  {policy.name}（{policy.city}）")
        print(f"  生效日期：{policy.effective_from}    来源：seeds/{policy.source}")
        print(f"  待遇资格：{ENTITLEMENT_RULES[policy.entitlement]}")
        for key, value in policy.settings.items():
            shown = "【须本地设置】" if value == REQUIRED else str(value)
            print(f"  {key:38} {shown:12} {setting_label(key)}")
        for note in policy.notes:
            print(f"  注：{note}")
    return 0


def register_set(verbs) -> None:
    p = verbs.add_parser("set", help="管理员填写政策未规定的本地设置")
    p.add_argument("--db", required=True)
    p.add_argument("key")
    p.add_argument("value")
    p.set_defaults(handler=run_set)


def run_set(args) -> int:
    from clinic.db.engine import open_database
    from clinic.profile import local_institution, set_policy_setting

    db = open_database(args.db, create=False)
    try:
        with db.session("admin") as s:
            region = local_institution(s).region
            set_policy_setting(s, region, args.key, args.value)
    finally:
        db.close()
    print(f"已保存：{region} {args.key} = {args.value}")
    return 0

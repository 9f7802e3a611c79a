"""`liangbing settle --policy ID|PATH`: one purchase as JSON on stdin → the settlement as JSON."""

from __future__ import annotations

import json
import sys

from clinic.policy import resolve_policy
from clinic.settlement import settle
from clinic.settlement.contract import parse_purchase, result_to_json


def register(sub) -> None:
    p = sub.add_parser("settle", help="结算一次购药（JSON 从标准输入读入）")
    p.add_argument("--policy", required=True, help="政策编号、地区（按购药日期取生效版本）或政策文件路径")
    p.add_argument("--setting", action="append", default=[], metavar="KEY=VALUE",
                   help="本地设置（政策未规定的数值），可多次给出，如 ratios.resident.1=0.55")
    p.set_defaults(handler=run)


def parse_settings(pairs: list[str]) -> dict[str, str]:
    settings = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"--setting 应写成 KEY=VALUE：{pair}")
        settings[key.strip()] = value.strip()
    return settings


def run(args) -> int:
    purchase = parse_purchase(sys.stdin.read())
    local = parse_settings(args.setting)
    policy = resolve_policy(args.policy, purchase.date, local=None)
    if local:
        policy = resolve_policy(args.policy, purchase.date, local={policy.region: local})
    result = settle(policy, purchase)
    json.dump(result_to_json(result), sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
    return 0

"""What each role may do (医生 / 药师 / 管理员). One table, so the GUI, the command line and the audit
viewer agree. A village doctor is often also the pharmacist: the doctor role may dispense."""

from __future__ import annotations

ACTIONS = {
    "patient.edit": "登记、修改患者",
    "filing.edit": "认定备案、变更备案",
    "prescription.edit": "开具、续开、停用处方",
    "dispense": "配药结算",
    "refund": "退费",
    "followup.edit": "录入随访",
    "stock.edit": "入库、盘点、报损、导入药品目录",
    "report.view": "查看、导出报表",
    "settings.edit": "修改机构信息和政策本地设置",
    "users.manage": "管理用户、重置密码",
    "audit.view": "查看审计日志",
    "opening_balance.import": "导入期初余额",
}

ROLE_ACTIONS = {
    "doctor": {"patient.edit", "filing.edit", "prescription.edit", "dispense", "refund", "followup.edit",
               "report.view"},
    "pharmacist": {"dispense", "refund", "stock.edit", "report.view"},
    "admin": set(ACTIONS),
}


class PermissionDenied(PermissionError):
    pass


def allowed(role: str, action: str) -> bool:
    return action in ROLE_ACTIONS.get(role, set())


def require(role: str, action: str) -> None:
    if not allowed(role, action):
        raise PermissionDenied(f"当前账号无权{ACTIONS.get(action, action)}，请用有权限的账号登录")

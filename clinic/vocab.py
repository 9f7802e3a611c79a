"""The fixed vocabularies of the domain: code values used in the database, JSON and policy files,
with the Chinese words the GUI and the forms show."""

from __future__ import annotations

DISEASES = {"hypertension": "高血压", "diabetes": "糖尿病"}
TIERS = {"ordinary": "普通", "severe": "重症"}
INSURANCES = {"resident": "城乡居民", "employee": "城镇职工", "employee_supplementary": "城镇职工补充"}
CONTRIBUTIONS = {"100": "按100%标准缴费", "80": "按80%标准缴费", "60": "按60%标准缴费", "standalone": "单建统筹"}
LEVELS = {"1": "一级及以下", "2": "二级", "3": "三级"}
INSTITUTION_LEVELS = {**LEVELS, "pharmacy": "定点零售药店"}
DRUG_CLASSES = {"antihypertensive": "降压药", "antidiabetic": "降糖药", "other": "其他"}
# Which disease each 两病 drug class treats; "other" drugs are outside the 两病 scope.
CLASS_DISEASE = {"antihypertensive": "hypertension", "antidiabetic": "diabetes"}
CHANGE_REASONS = {"cured": "痊愈", "progression": "病情进展", "new_disease": "新病种", "medication": "用药改变"}
FILING_STATES = {"draft": "草稿", "submitted": "已提交", "approved": "已通过", "rejected": "已驳回",
                 "superseded": "已变更"}
ROLES = {"doctor": "医生", "pharmacist": "药师", "admin": "管理员"}


def check(vocab: dict[str, str], value: object, what: str) -> str:
    """Return value if it is a known code, else raise ValueError naming the allowed codes."""
    if not isinstance(value, str) or value not in vocab:
        allowed = " / ".join(vocab)
        raise ValueError(f"{what} 无效：{value!r}（可选：{allowed}）")
    return value
